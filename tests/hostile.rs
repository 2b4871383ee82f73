//! A hostile or broken peer (Okta, the API, a proxy, the MCP client, another program's
//! config entry) cannot make the server leak a secret, run out of memory, flood the
//! model's context or mislead the user. Everything runs through the binary.

mod support;

use std::time::Duration;

use serde_json::json;
use support::fake::{Fake, Fault, Route};
use support::{assert_no_secrets, is_error, run, session, setup, text};

/// No run of `min` or more characters of `secret` appears in `haystack`.
fn assert_no_fragment(haystack: &str, secret: &str, min: usize, what: &str) {
    for start in 0..=secret.len().saturating_sub(min) {
        let part = &secret[start..start + min];
        assert!(
            !haystack.contains(part),
            "{what}: {min} characters of a secret ({part:?}) leaked: {haystack}"
        );
    }
}

fn html(status: u16, body: String) -> Fault {
    Fault::Status {
        status,
        body,
        content_type: "text/html",
        headers: vec![],
    }
}

fn access_token(fake: &Fake) -> String {
    fake.issued_secrets()
        .into_iter()
        .rfind(|s| s.starts_with("at-"))
        .expect("an access token was issued")
}

/// Okta's 400 page quoting the refresh token after padding that moves it across
/// every cut position: no part of the token reaches the tool result.
#[test]
fn okta_page_quoting_the_refresh_token_is_scrubbed_at_every_offset() {
    let (fake, cfg) = setup("okta-cut");
    let rt = cfg.stored_token();
    let mut s = session(&cfg, &[]);
    for pad in (0..100).step_by(3) {
        fake.push_fault(
            Route::Token,
            html(
                400,
                format!("{}refresh_token={rt}&grant_type=refresh_token", "p".repeat(pad)),
            ),
        );
        let r = s.call("whoami", json!({}));
        assert!(is_error(&r), "{r}");
        assert_no_fragment(&r.to_string(), &rt, 6, &format!("pad {pad}"));
    }
    let out = s.finish();
    assert_no_fragment(&String::from_utf8_lossy(&out.stdout), &rt, 6, "stdout");
    assert_no_fragment(&String::from_utf8_lossy(&out.stderr), &rt, 6, "stderr");
}

/// The same through `status --check --json`, around the cut.
#[test]
fn status_check_does_not_show_part_of_a_token() {
    let (fake, cfg) = setup("status-cut");
    let rt = cfg.stored_token();
    let env: Vec<(&str, String)> = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for pad in [40, 50, 60, 70, 75, 78, 80] {
        fake.push_fault(Route::Token, html(400, format!("{}{rt}", "p".repeat(pad))));
        let out = run(
            &["status", "--check", "--json"],
            &env,
            b"",
            Duration::from_secs(30),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("failedStep"), "{stdout}");
        assert_no_fragment(&stdout, &rt, 6, &format!("status pad {pad}"));
        assert_no_fragment(&String::from_utf8_lossy(&out.stderr), &rt, 6, "stderr");
    }
}

/// A proxy's 502 page echoing `Authorization: Bearer …`, at every offset.
#[test]
fn proxy_page_echoing_the_bearer_token_is_scrubbed_at_every_offset() {
    let (fake, cfg) = setup("proxy-cut");
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    let at = access_token(&fake);
    for pad in (0..140).step_by(4) {
        let page = format!(
            "<p>{}</p><pre>Authorization: Bearer {at}\r\nHost: api</pre>",
            "x".repeat(pad)
        );
        // A mutation is sent once: one fault per call.
        fake.push_fault(Route::AnyApi, html(502, page));
        let r = s.call(
            "set_deal_next_step",
            json!({"dealId": "deal_1", "nextStep": "call"}),
        );
        assert!(is_error(&r), "{r}");
        assert_no_fragment(&r.to_string(), &at, 6, &format!("pad {pad}"));
    }
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
    assert_no_fragment(&String::from_utf8_lossy(&out.stdout), &at, 6, "stdout");
}

/// A successful answer that echoes the bearer token in a record.
#[test]
fn a_successful_result_echoing_the_token_is_scrubbed() {
    let (fake, cfg) = setup("echo-ok");
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    let at = access_token(&fake);
    let rt = cfg.stored_token();
    let body = json!({"result": {"data": {"json": {
        "items": [{"id": "deal_1", "name": format!("Bearer {at}"), "notes": {at.clone(): rt}}],
        "nextCursor": null
    }}}});
    fake.push_fault(
        Route::AnyApi,
        Fault::Status {
            status: 200,
            body: body.to_string(),
            content_type: "application/json",
            headers: vec![],
        },
    );
    let r = s.call("search_deals", json!({"query": "x"}));
    assert!(!is_error(&r), "{r}");
    assert!(text(&r).contains("[redacted]"), "{r}");
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
    assert_no_fragment(&String::from_utf8_lossy(&out.stdout), &at, 6, "stdout");
}

/// `call` prints API text to a terminal: no escape sequence gets through, and no token.
#[test]
fn call_strips_terminal_escapes_from_api_text() {
    let (fake, cfg) = setup("escapes");
    fake.push_fault(
        Route::AnyApi,
        Fault::TrpcError {
            code: "BAD_REQUEST",
            http: 400,
            message: "bad\x1b]0;owned\x07 input\x1b[2J\u{9b}31m here".into(),
        },
    );
    let env: Vec<(&str, String)> = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(
        &["call", "get_deal", r#"{"dealId":"deal_1"}"#],
        &env,
        b"",
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad input here"), "{err}");
    for c in err.chars() {
        assert!(!c.is_control() || c == '\n', "control character {c:?} in {err:?}");
    }
    assert_no_secrets(&out, &fake.issued_secrets());
}
