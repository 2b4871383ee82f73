//! Sign-in from inside the chat: with the issuer and client id known but no usable
//! refresh token, a tool call starts Okta's device flow and answers with the link and
//! the code; the next call, once the user approved at the (fake) Okta page, finishes
//! the sign-in, stores the token in the sign-in store and runs.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::fake::{DeviceStep, Fake, Route};
use support::{BIN, Session, assert_no_secrets, is_error, temp_dir, text};

/// `serve` as a bundle starts it before the first sign-in: issuer, client id and API
/// URL in `env`, no refresh token anywhere; its own home.
fn unsigned(fake: &Fake, home: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env_clear();
    support::set_home(&mut cmd, home);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("API_URL", fake.api_url())
        .env("OKTA_ISSUER", fake.custom_issuer())
        .env("OKTA_CLIENT_ID", Fake::CLIENT_ID);
    cmd
}

/// A fake Okta that waits for the test to approve or deny, and a home of its own.
fn signing_in(tag: &str) -> (Fake, support::TempDir) {
    let fake = Fake::start();
    fake.use_device_decisions();
    (fake, temp_dir(tag))
}

/// The user code a sign-in answer shows.
fn user_code(answer: &str) -> String {
    let at = answer.find("user_code=").expect("a link with the user code") + "user_code=".len();
    answer[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

fn store_text(home: &std::path::Path) -> String {
    std::fs::read_to_string(home.join(".loopops-mcp/tokens.json")).unwrap_or_default()
}

#[test]
fn a_tool_call_signs_in_through_the_device_flow_and_the_next_one_runs() {
    let (fake, home) = signing_in("sign-in");
    let mut s = Session::spawn(unsigned(&fake, &home));
    let first = s.call("whoami", json!({}));
    assert!(is_error(&first));
    let t = text(&first);
    assert!(t.contains("/activate?user_code=WDJB-0001"), "{t}");
    assert!(t.contains("WDJB-0001"), "{t}");
    assert!(t.contains("valid for 10 minutes"), "{t}");
    assert!(t.contains("then ask you again"), "{t}");
    // Asked again before approving: the same link, still waiting.
    let waiting = s.call("whoami", json!({}));
    assert!(text(&waiting).contains("still waiting"), "{}", text(&waiting));
    assert_eq!(user_code(&text(&waiting)), "WDJB-0001");
    fake.decide_device("WDJB-0001", DeviceStep::Approve);
    let done = s.call("whoami", json!({}));
    assert!(!is_error(&done), "{}", text(&done));
    assert_eq!(done["structuredContent"]["user"]["id"], "usr_100");
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
    assert_eq!(fake.requests(Route::Device), 1, "one device flow");
    // The token is in the store (the device code is gone from it), and the next
    // start uses it without a new sign-in.
    let store = store_text(&home);
    assert!(!store.contains("dc-"), "{store}");
    let (r, _) = {
        let mut s = Session::spawn(unsigned(&fake, &home));
        let r = s.call("get_deal", json!({"dealId": "deal_002"}));
        (r, s.finish())
    };
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.requests(Route::Device), 1);
    assert_eq!(fake.reuse_detections(), 0);
    assert!(store_text(&home).contains(&fake.current_refresh_token().unwrap()));
}

#[test]
fn a_denied_or_expired_sign_in_says_so_and_the_next_call_offers_a_new_link() {
    for step in [DeviceStep::Deny, DeviceStep::Expire] {
        let (fake, home) = signing_in("sign-in-ended");
        let mut s = Session::spawn(unsigned(&fake, &home));
        let first = s.call("whoami", json!({}));
        let code = user_code(&text(&first));
        fake.decide_device(&code, step.clone());
        let ended = s.call("whoami", json!({}));
        assert!(is_error(&ended));
        let t = text(&ended);
        let want = if step == DeviceStep::Deny {
            "denied"
        } else {
            "expired"
        };
        assert!(t.contains(want), "{step:?}: {t}");
        let again = s.call("whoami", json!({}));
        assert!(is_error(&again));
        assert_ne!(user_code(&text(&again)), code, "{step:?}: a new flow");
        let out = s.finish();
        assert_no_secrets(&out, &fake.issued_secrets());
        assert_eq!(fake.requests(Route::Device), 2);
    }
}

#[test]
fn a_client_with_url_elicitation_gets_url_elicitation_required() {
    let (fake, home) = signing_in("sign-in-elicit");
    let mut s = Session::spawn(unsigned(&fake, &home));
    s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"url": {}}},
               "clientInfo": {"name": "t", "version": "1"}}),
    );
    let answer = s.request("tools/call", json!({"name": "whoami", "arguments": {}}));
    let err = &answer["error"];
    assert_eq!(err["code"], json!(-32042), "{answer}");
    let e = &err["data"]["elicitations"][0];
    assert_eq!(e["mode"], "url");
    let url = e["url"].as_str().unwrap();
    assert!(url.ends_with("/activate?user_code=WDJB-0001"), "{url}");
    assert!(
        e["elicitationId"]
            .as_str()
            .unwrap()
            .starts_with("loopops-sign-in-")
    );
    assert!(e["message"].as_str().unwrap().contains("WDJB-0001"));
    fake.decide_device("WDJB-0001", DeviceStep::Approve);
    let done = s.request("tools/call", json!({"name": "whoami", "arguments": {}}));
    assert!(done.get("result").is_some_and(|r| !is_error(r)), "{done}");
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
}

#[test]
fn two_processes_asking_at_once_share_one_device_flow() {
    let (fake, home) = signing_in("sign-in-two");
    let mut a = Session::spawn(unsigned(&fake, &home));
    let mut b = Session::spawn(unsigned(&fake, &home));
    let (ra, rb) = std::thread::scope(|sc| {
        let ta = sc.spawn(|| a.call("whoami", json!({})));
        let tb = sc.spawn(|| b.call("whoami", json!({})));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let (ca, cb) = (user_code(&text(&ra)), user_code(&text(&rb)));
    assert_eq!(ca, cb, "one link for both");
    assert_eq!(fake.requests(Route::Device), 1);
    fake.decide_device(&ca, DeviceStep::Approve);
    let (ra, rb) = std::thread::scope(|sc| {
        let ta = sc.spawn(|| a.call("whoami", json!({})));
        let tb = sc.spawn(|| b.call("whoami", json!({})));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert!(!is_error(&ra), "{}", text(&ra));
    assert!(!is_error(&rb), "{}", text(&rb));
    for s in [a, b] {
        assert_no_secrets(&s.finish(), &fake.issued_secrets());
    }
    assert_eq!(fake.reuse_detections(), 0);
    // The device code was redeemed once; the other process refreshed the stored token.
    let store: Value = serde_json::from_str(&store_text(&home)).unwrap();
    assert!(store.to_string().contains(&fake.current_refresh_token().unwrap()));
}

#[test]
fn a_modern_client_with_url_elicitation_gets_input_required_and_its_retry_signs_in() {
    let (fake, home) = signing_in("sign-in-modern");
    let mut s = Session::spawn(unsigned(&fake, &home));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}}
    });
    let answer = s.request(
        "tools/call",
        json!({"_meta": meta, "name": "whoami", "arguments": {}}),
    );
    let r = &answer["result"];
    assert_eq!(r["resultType"], "input_required", "{answer}");
    let ask = &r["inputRequests"]["loopops_sign_in"];
    assert_eq!(ask["method"], "elicitation/create");
    assert_eq!(ask["params"]["mode"], "url");
    let url = ask["params"]["url"].as_str().unwrap();
    assert!(url.contains("user_code="), "{url}");
    assert!(r.get("ttlMs").is_none());
    // Without URL elicitation: the text with the link, as before.
    let plain = s.request(
        "tools/call",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "io.modelcontextprotocol/clientCapabilities": {}},
               "name": "whoami", "arguments": {}}),
    );
    assert!(is_error(&plain["result"]), "{plain}");
    fake.decide_device(&user_code(url), DeviceStep::Approve);
    let retry = s.request(
        "tools/call",
        json!({"_meta": meta, "name": "whoami", "arguments": {},
               "inputResponses": {"loopops_sign_in": {"action": "accept"}}}),
    );
    assert_eq!(retry["result"]["resultType"], "complete", "{retry}");
    assert!(!is_error(&retry["result"]), "{retry}");
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
}
