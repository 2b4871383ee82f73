//! Several processes (Claude Desktop and Claude Code at once) share one config and
//! one rotating refresh token, with access tokens so short-lived that they refresh
//! constantly. Okta's strict rotation would revoke the whole token family on any
//! reuse; the lock/re-read/adopt cycle must make that never happen.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::fake::{Fake, Route};
use support::{Config, assert_no_secrets, is_error, session, text};

#[test]
fn processes_sharing_one_config_never_lose_the_token_race() {
    let fake = Fake::start();
    fake.set_grace(0);
    // 1 s tokens: each process refreshes every half second.
    fake.set_access_ttl(1);
    let rt = fake.new_refresh_token();
    let cfg = std::sync::Arc::new(Config::new("shared", &fake, &fake.custom_issuer(), &rt));
    let run_for = Duration::from_secs(4);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let mut s = session(&cfg, &[]);
                let start = Instant::now();
                let (mut ok, mut failed) = (0usize, Vec::new());
                while start.elapsed() < run_for {
                    let r = if w % 2 == 0 {
                        s.call("search_deals", json!({"limit": 3}))
                    } else {
                        s.call("get_deal", json!({"dealId": "deal_005"}))
                    };
                    if is_error(&r) {
                        failed.push(text(&r));
                    } else {
                        ok += 1;
                    }
                    std::thread::sleep(Duration::from_millis(40));
                }
                (ok, failed, s.finish())
            })
        })
        .collect();
    let mut total_ok = 0;
    for w in workers {
        let (ok, failed, out) = w.join().unwrap();
        assert!(failed.is_empty(), "failed calls: {failed:?}");
        assert_eq!(out.status.code(), Some(0));
        assert_no_secrets(&out, &fake.issued_secrets());
        total_ok += ok;
    }
    assert_eq!(fake.reuse_detections(), 0);
    let refreshes = fake.requests(Route::Token);
    assert!(
        refreshes >= 8,
        "tokens were really refreshed concurrently ({refreshes})"
    );
    assert!(total_ok >= 40, "{total_ok} calls");
    // The file holds the family's newest token, so the next process starts fine.
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
    eprintln!("{total_ok} calls, {refreshes} refreshes, 0 reuse detections");
}
