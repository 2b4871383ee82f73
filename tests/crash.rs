//! Crash safety of token persistence: processes that rotate the shared refresh token
//! are SIGKILLed at random moments (over a hundred times) while another thread reads
//! the config in a loop. The file must always parse, always hold the newest token
//! Okta issued or the one before it, keep every other entry, and collect no temp files.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fake::Fake;
use support::random::Rng;
use support::{Config, command};

/// The sequence number in the fake's `rt-<family>-<n>-<hex>` tokens.
fn seq(token: &str) -> usize {
    token
        .split('-')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a fake refresh token")
}

fn without_token(mut doc: Value) -> Value {
    doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"] = Value::Null;
    doc
}

#[test]
fn kills_in_the_middle_of_persisting_never_corrupt_or_lose_the_config() {
    let fake = Fake::start();
    // Okta's grace period lets the next process use the previous token once if a
    // kill landed after Okta rotated but before the new token reached the disk.
    fake.set_grace(60);
    let rt = fake.new_refresh_token();
    let cfg = Config::new("crash", &fake, &fake.custom_issuer(), &rt);
    let template = without_token(cfg.read());
    let config_env = cfg.path.display().to_string();
    let store_dir = support::temp_dir("crash-store");
    let store_file = store_dir.join("tokens.json");
    let store_env = store_dir.display().to_string();
    let check = |wait: Option<Duration>| -> bool {
        let mut child = command(
            &["status", "--check", "--json"],
            &[
                ("LOOP_MCP_CONFIG", config_env.as_str()),
                ("LOOP_MCP_STORE", store_env.as_str()),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        if let Some(wait) = wait {
            std::thread::sleep(wait);
            if child.try_wait().unwrap().is_none() {
                let _ = child.kill(); // SIGKILL
                let _ = child.wait();
                return true;
            }
        }
        // Bounded: a run that hangs fails the test, saying so, instead of hanging it.
        let status = support::wait_with_limit(child, Duration::from_secs(60)).status;
        assert!(wait.is_some() || status.success(), "a full run must succeed");
        false
    };
    // How long one full refresh-and-persist run takes here.
    let start = Instant::now();
    for _ in 0..5 {
        check(None);
    }
    let run = start.elapsed() / 5;

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = {
            let stop = &stop;
            let path = cfg.path.clone();
            let store_file = store_file.clone();
            let fake = &fake;
            let fake_current = move || seq(&fake.current_refresh_token().unwrap());
            let template = template.clone();
            scope.spawn(move || {
                let mut reads = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let newest_before = fake_current();
                    // The sign-in store is written first: it holds the newest token
                    // or, between Okta's answer and the write, the one before.
                    let text = std::fs::read_to_string(&store_file).expect("the store exists");
                    let store: Value =
                        serde_json::from_str(&text).unwrap_or_else(|e| panic!("torn store ({e}): {text}"));
                    let token = store_token(&store);
                    assert!(
                        seq(&token) + 1 >= newest_before,
                        "stale token {token} (newest was #{newest_before})"
                    );
                    // The config entry's copy may lag; the file must stay whole.
                    let text = std::fs::read_to_string(&path).expect("the config always exists");
                    let doc: Value =
                        serde_json::from_str(&text).unwrap_or_else(|e| panic!("torn config ({e}): {text}"));
                    assert_eq!(without_token(doc), template, "other entries changed");
                    reads += 1;
                }
                reads
            })
        };

        let mut rng = Rng(0xC0FFEE_u64 ^ 0x1234_5678_9abc);
        let (mut kills, mut attempts) = (0, 0);
        let span = (run.as_micros() as u64 * 12 / 10).max(1);
        let deadline = Instant::now() + Duration::from_secs(90);
        // Under Wine a process start costs ~100× more: fewer kills fit the deadline
        // (93 seen on a loaded machine).
        let (goal, enough) = if cfg!(windows) { (60, 40) } else { (120, 100) };
        while kills < goal && Instant::now() < deadline {
            attempts += 1;
            if check(Some(Duration::from_micros(rng.below(span)))) {
                kills += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().expect("the reader saw a bad config");
        assert!(kills >= enough, "only {kills} kills in {attempts} attempts");
        assert!(reads > 100, "the reader read {reads} times");
        eprintln!("{kills} kills in {attempts} attempts (one run: {run:?}), {reads} reads, all consistent");
    });

    // The survivors' token still works, and a full run cleans up after the dead.
    check(None);
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
    assert_eq!(fake.reuse_detections(), 0);
    let mut names: Vec<String> = std::fs::read_dir(&cfg.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["mcp.json", "mcp.json.lock"]);
    let mut names: Vec<String> = std::fs::read_dir(&store_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["tokens.json", "tokens.json.lock"]);
    let store: Value = serde_json::from_str(&std::fs::read_to_string(&store_file).unwrap()).unwrap();
    assert_eq!(store_token(&store), fake.current_refresh_token().unwrap());
}

/// The one refresh token the store holds (there is one issuer here).
fn store_token(store: &Value) -> String {
    let entries = store["entries"].as_object().expect("the store has entries");
    assert_eq!(entries.len(), 1);
    let entry = entries.values().next().unwrap();
    entry["refreshToken"]
        .as_str()
        .expect("a current token")
        .to_string()
}
