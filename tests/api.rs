//! Tool calls against a fake Okta and a fake tRPC API on 127.0.0.1 (loop-api.md):
//! the wire format, token minting and rotation, persistence, and the retry rules,
//! counted in the requests the fake saw. Every test checks that no token leaked.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake::{Fake, Fault, Route};
use support::{Config, assert_no_secrets, is_error, session, setup, text};

fn finish(s: support::Session, fake: &Fake) -> std::process::Output {
    let out = s.finish();
    assert_eq!(out.status.code(), Some(0));
    assert_no_secrets(&out, &fake.issued_secrets());
    out
}

#[test]
fn one_token_serves_many_calls_over_one_connection() {
    let (fake, cfg) = setup("many");
    let mut s = session(&cfg, &[]);
    let me = s.call("whoami", json!({}));
    assert!(!is_error(&me), "{me}");
    assert_eq!(me["structuredContent"]["user"]["id"], "usr_100");
    for i in 0..19 {
        let r = s.call("search_deals", json!({"limit": 2, "query": format!("a{i}")}));
        assert!(!is_error(&r), "{r}");
    }
    finish(s, &fake);
    assert_eq!(fake.requests(Route::Token), 1);
    assert_eq!(fake.requests(Route::AnyApi), 20);
    // Okta and the API share the fake's address here: one kept-alive connection,
    // though Okta's requests have their own timeout (auth-notes rule 9).
    assert_eq!(fake.connections(), 1);
}

/// A kept-alive connection the server closed while it sat in the pool is noticed
/// before the next call is written to it: a write on it would leave that call's
/// outcome unknown (for a mutation, an error the user has to check by hand).
#[test]
fn a_connection_the_server_closed_while_idle_is_not_reused() {
    let (fake, cfg) = setup("closed-idle");
    fake.close_after_each_answer();
    let mut s = session(&cfg, &[("LOOP_MCP_CONFIRM_WRITES", "0")]);
    for i in 0..5 {
        // A pause, as between a model's calls: long enough for the FIN to arrive.
        std::thread::sleep(Duration::from_millis(20));
        let r = s.call(
            "set_deal_next_step",
            json!({"dealId": "deal_002", "nextStep": format!("Step {i}"), "nextStepDate": "2025-06-20"}),
        );
        assert!(!is_error(&r), "call {i}: {r}");
    }
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 5);
    assert_eq!(
        fake.connections(),
        6,
        "the token request and each call on a new connection"
    );
}

#[test]
fn wire_format_follows_the_trpc_contract() {
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    // A path prefix and a trailing slash on API_URL both work.
    let cfg = Config::new("wire", &fake, &fake.custom_issuer(), &rt);
    cfg.set_var("API_URL", &format!("{}/", fake.api_url()));
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    let deal = s.call("get_deal", json!({"dealId": "deal_001"}));
    assert_eq!(deal["structuredContent"]["id"], "deal_001", "{deal}");
    let updated = s.call(
        "set_deal_next_step",
        json!({"dealId": "deal_001", "nextStep": "Call the CFO & legal"}),
    );
    assert!(!is_error(&updated), "{updated}");
    finish(s, &fake);
    let log: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/trpc"))
        .collect();
    assert_eq!(log[0].path, "/api/trpc/viewer.get");
    assert_eq!(log[0].query, "", "a query without arguments sends no input");
    assert_eq!(log[1].method, "GET");
    assert_eq!(
        log[1].query_param("input").as_deref(),
        Some(r#"{"json":{"dealId":"deal_001"}}"#)
    );
    assert_eq!(log[2].method, "POST");
    assert_eq!(log[2].path, "/api/trpc/deals.setNextStep");
    let body: Value = serde_json::from_str(&log[2].body).unwrap();
    assert_eq!(
        body,
        json!({"json": {"dealId": "deal_001", "nextStep": "Call the CFO & legal"}})
    );
    assert_eq!(log[2].header("content-type"), Some("application/json"));
    for r in &log {
        assert!(r.header("authorization").unwrap().starts_with("Bearer at-"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("loopops-mcp/"));
    }
}

#[test]
fn results_carry_structured_content_and_the_same_json_as_text() {
    let (fake, cfg) = setup("shape");
    let mut s = session(&cfg, &[]);
    let r = s.call("get_pipeline_summary", json!({"period": "current_quarter"}));
    assert!(!is_error(&r), "{r}");
    let from_text: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(from_text, r["structuredContent"]);
    assert!(r["structuredContent"]["byStage"].is_array());
    finish(s, &fake);
}

/// However the API spells an answer (spacing, escapes, repeated keys, exponents), the
/// result is its compact JSON as serde_json writes it: the bytes passed through
/// unparsed when they are already that, else parsed.
#[test]
fn an_answer_in_any_spelling_gives_the_same_result() {
    let (fake, cfg) = setup("spelling");
    let mut s = session(&cfg, &[]);
    let bodies = [
        "{ \"result\" : { \"data\" : { \"json\" : {\n  \"id\" : \"deal_1\",\n\t\"amount\" : 1.50 } } } }",
        r#"{"result":{"data":{"json":{"url":"https:\/\/x"}}}}"#,
        r#"{"result":{"data":{"json":{"name":"Caf\u00e9"}}}}"#,
        r#"{"result":{"data":{"json":{"id":"deal_1","id":"deal_2"}}}}"#,
        r#"{"result":{"data":{"json":{"n":1E5,"m":2e-3}}}}"#,
        r#"[{"result":{"data":{"id":"deal_1","tags":["a","b"]}}}]"#,
    ];
    for body in bodies {
        fake.push_fault(Route::AnyApi, Fault::json_200(body.to_string()));
        let r = s.call("get_deal", json!({"dealId": "deal_1"}));
        assert!(!is_error(&r), "{body}: {r}");
        let doc: Value = serde_json::from_str(body).unwrap();
        let doc = if doc.is_array() { doc[0].clone() } else { doc };
        let data = &doc["result"]["data"];
        let expected = data.get("json").unwrap_or(data);
        assert_eq!(text(&r), serde_json::to_string(expected).unwrap(), "{body}");
        assert_eq!(&r["structuredContent"], expected, "{body}");
    }
    finish(s, &fake);
}

#[test]
fn rotation_is_saved_with_mode_0600_and_everything_else_kept() {
    let (fake, cfg) = setup("rotate");
    let before = cfg.read();
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    finish(s, &fake);
    let after = cfg.read();
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
    let mut expected = before.clone();
    expected["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"] = json!(cfg.stored_token());
    assert_eq!(after, expected);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&after), ["zeta", "mcpServers", "alpha"]);
    assert_eq!(
        keys(&after["mcpServers"]),
        ["github", "loop-operations", "zzz-last"]
    );
    assert_eq!(
        keys(&after["mcpServers"]["loop-operations"]),
        ["command", "args", "env", "unknownField"]
    );
    let raw = std::fs::read_to_string(&cfg.path).unwrap();
    assert!(
        raw.contains("\"alpha\": 1.50"),
        "numbers keep their spelling: {raw}"
    );
    support::assert_private(&cfg.path);
    let names: Vec<_> = std::fs::read_dir(&cfg.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "only the config and its lock: {names:?}");
}

// Windows: making a symlink needs a privilege users lack (and Wine maps it to a
// Unix link, which is the case tested here anyway).
#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink() {
    let (fake, cfg) = setup("symlink");
    let link = cfg.dir.join("link.json");
    std::os::unix::fs::symlink(&cfg.path, &link).unwrap();
    let mut s = support::Session::start(&["serve"], &[("LOOP_MCP_CONFIG", link.to_str().unwrap())]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    finish(s, &fake);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
}

#[test]
fn settings_from_the_environment_with_no_config_file() {
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let api = fake.api_url();
    let issuer = fake.custom_issuer();
    let env = [
        ("API_URL", api.as_str()),
        ("OKTA_ISSUER", issuer.as_str()),
        ("OKTA_CLIENT_ID", Fake::CLIENT_ID),
        ("OKTA_REFRESH_TOKEN", rt.as_str()),
        ("LOOP_MCP_CONFIG", "/nonexistent/loopops/mcp.json"),
    ];
    let mut s = support::Session::start(&["serve"], &env);
    s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
    );
    assert!(!is_error(&s.call("whoami", json!({}))));
    // The rotated token went to the sign-in store: a forced re-auth later works,
    // and so does the next start with the same (now spent) token in the environment.
    fake.expire_access_tokens();
    let r = s.call("get_deal", json!({"dealId": "deal_002"}));
    assert!(!is_error(&r), "{r}");
    let out = finish(s, &fake);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("could not be saved"), "{stderr}");
    assert!(!stderr.contains("memory"), "{stderr}");
    let mut again = support::Session::start(&["serve"], &env);
    assert!(!is_error(&again.call("whoami", json!({}))));
    finish(again, &fake);
    assert_eq!(fake.reuse_detections(), 0);
}

#[test]
fn org_and_custom_issuers_use_okta_endpoints() {
    for (issuer_of, path) in [
        (Fake::org_issuer as fn(&Fake) -> String, "/oauth2/v1/token"),
        (Fake::custom_issuer, "/oauth2/default/v1/token"),
    ] {
        let fake = Fake::start();
        let rt = fake.new_refresh_token();
        let cfg = Config::new("issuer", &fake, &issuer_of(&fake), &rt);
        let mut s = session(&cfg, &[]);
        let r = s.call("whoami", json!({}));
        assert!(!is_error(&r), "{r}");
        finish(s, &fake);
        let token_req = fake
            .log()
            .into_iter()
            .find(|r| r.path.ends_with("/token"))
            .unwrap();
        assert_eq!(token_req.path, path);
        assert_eq!(
            token_req.form_param("grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            token_req.form_param("client_id").as_deref(),
            Some(Fake::CLIENT_ID)
        );
    }
}

#[test]
fn early_refresh_before_expiry() {
    let (fake, cfg) = setup("early");
    // 2 s tokens: refreshed 1 s (half the lifetime) before they expire.
    fake.set_access_ttl(2);
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    assert!(!is_error(&s.call("whoami", json!({}))));
    assert_eq!(fake.requests(Route::Token), 1, "a fresh token is reused");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(!is_error(&s.call("whoami", json!({}))));
    assert_eq!(fake.requests(Route::Token), 2, "refreshed before expiry");
    finish(s, &fake);
    assert_eq!(fake.reuse_detections(), 0);
    // No call ever met an expired token.
    assert_eq!(fake.requests(Route::AnyApi), 3);
}

#[test]
fn unauthorized_refreshes_once_and_retries() {
    for tool in ["get_deal", "set_deal_next_step"] {
        let (fake, cfg) = setup("401");
        let mut s = session(&cfg, &[]);
        assert!(!is_error(&s.call("whoami", json!({}))));
        fake.push_fault(Route::AnyApi, Fault::Unauthorized);
        let args = json!({"dealId": "deal_003", "nextStep": "Send MSA"});
        let args = if tool == "get_deal" {
            json!({"dealId": "deal_003"})
        } else {
            args
        };
        let r = s.call(tool, args);
        assert!(!is_error(&r), "{tool}: {r}");
        finish(s, &fake);
        assert_eq!(fake.requests(Route::Token), 2, "{tool}");
        assert_eq!(fake.requests(Route::AnyApi), 3, "{tool}");
    }
}

#[test]
fn unauthorized_twice_is_an_auth_error() {
    let (fake, cfg) = setup("401x2");
    let mut s = session(&cfg, &[]);
    fake.push_fault(Route::AnyApi, Fault::Unauthorized);
    fake.push_fault(Route::AnyApi, Fault::Unauthorized);
    let r = s.call("get_deal", json!({"dealId": "deal_003"}));
    assert!(is_error(&r));
    assert!(
        text(&r).contains("rejected the access token (HTTP 401) even after a refresh"),
        "{}",
        text(&r)
    );
    assert!(text(&r).contains("loopops-mcp login"));
    assert_eq!(fake.requests(Route::AnyApi), 2);
    assert_eq!(fake.requests(Route::Token), 2);
    // The next call works.
    assert!(!is_error(&s.call("get_deal", json!({"dealId": "deal_003"}))));
    finish(s, &fake);
}

#[test]
fn invalid_grant_says_sign_in_again_and_keeps_the_stored_token() {
    let fake = Fake::start();
    let cfg = Config::new(
        "grant",
        &fake,
        &fake.custom_issuer(),
        "rt-revoked-or-unknown-0000",
    );
    let mut s = session(&cfg, &[]);
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    assert!(
        text(&r).starts_with("Signed out: Okta no longer accepts the saved sign-in"),
        "{}",
        text(&r)
    );
    // In a chat there is no terminal: the answer offers the in-chat sign-in link.
    assert!(text(&r).contains("/activate?user_code="), "{}", text(&r));
    finish(s, &fake);
    assert_eq!(cfg.stored_token(), "rt-revoked-or-unknown-0000");
    assert_eq!(fake.requests(Route::AnyApi), 0);
}

/// Refresh out of band, as another program would, and store the new token.
fn refresh_elsewhere(fake: &Fake, cfg: &Config) {
    let body = format!(
        "grant_type=refresh_token&client_id={}&refresh_token={}",
        Fake::CLIENT_ID,
        cfg.stored_token()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let mut resp = agent
        .post(fake.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .send(body.as_bytes())
        .unwrap();
    let tokens: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    cfg.set_var("OKTA_REFRESH_TOKEN", tokens["refresh_token"].as_str().unwrap());
}

#[test]
fn a_token_another_process_stored_is_adopted() {
    let (fake, cfg) = setup("adopt");
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    // Another process rotates the token; ours, in memory, is now spent.
    refresh_elsewhere(&fake, &cfg);
    fake.expire_access_tokens();
    let r = s.call("whoami", json!({}));
    assert!(!is_error(&r), "{r}");
    finish(s, &fake);
    assert_eq!(fake.reuse_detections(), 0);
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
}

#[test]
fn okta_rate_limits_and_outages_keep_the_token() {
    let cases = [
        Fault::OktaError {
            status: 429,
            error: "invalid_grant",
            description: "rate limited".into(),
        },
        Fault::RetryAfter {
            status: 429,
            secs: 30,
        },
        // Okta's own 503 (JSON): the request was not processed.
        Fault::RetryAfter {
            status: 503,
            secs: 30,
        },
    ];
    for fault in cases {
        let (fake, cfg) = setup("okta-transient");
        let rt = cfg.stored_token();
        let mut s = session(&cfg, &[]);
        fake.push_fault(Route::Token, fault.clone());
        let r = s.call("whoami", json!({}));
        assert!(is_error(&r), "{fault:?}");
        assert!(
            text(&r).contains("you are still signed in"),
            "{fault:?}: {}",
            text(&r)
        );
        assert_eq!(cfg.stored_token(), rt, "{fault:?}");
        // Once Okta is back, the same token works.
        assert!(!is_error(&s.call("whoami", json!({}))), "{fault:?}");
        finish(s, &fake);
        assert_eq!(fake.reuse_detections(), 0);
    }
}

#[test]
fn okta_client_errors_point_at_the_configuration() {
    let (fake, cfg) = setup("client");
    cfg.set_var("OKTA_CLIENT_ID", "wrong-client");
    let mut s = session(&cfg, &[]);
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    assert!(text(&r).contains("invalid_client"), "{}", text(&r));
    assert!(text(&r).contains("OKTA_CLIENT_ID"), "{}", text(&r));
    finish(s, &fake);
}

#[test]
fn a_lost_refresh_answer_is_retried_at_once_with_the_same_token() {
    let (fake, cfg) = setup("lost-refresh");
    fake.set_grace(30);
    let mut s = session(&cfg, &[]);
    fake.push_fault(Route::Token, Fault::Close);
    let r = s.call("whoami", json!({}));
    assert!(!is_error(&r), "{r}");
    finish(s, &fake);
    let tokens: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("/token"))
        .map(|r| r.form_param("refresh_token").unwrap())
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0], tokens[1]);
}

#[test]
fn not_found_tells_the_model_how_to_find_the_id() {
    let (fake, cfg) = setup("404");
    let mut s = session(&cfg, &[]);
    let r = s.call("get_deal", json!({"dealId": "deal_xyz"}));
    assert!(is_error(&r));
    assert_eq!(
        text(&r),
        "No such record. The Loop API said: \"Deal deal_xyz not found\". Use search_deals to find the deal's id."
    );
    let r = s.call("get_account", json!({"accountId": "acc_nope"}));
    assert!(
        text(&r).ends_with("Use search_accounts to find the account's id."),
        "{}",
        text(&r)
    );
    let r = s.call(
        "update_deal_stage",
        json!({"dealId": "deal_006", "stage": "proposal"}),
    );
    assert!(is_error(&r));
    assert!(
        text(&r).starts_with("The Loop API refused the change. The Loop API said: \""),
        "{}",
        text(&r)
    );
    finish(s, &fake);
}

#[test]
fn large_results_are_cut_with_a_note() {
    let (fake, cfg) = setup("big");
    let items: Vec<Value> = (0..3000)
        .map(|i| json!({"id": format!("deal_{i:04}"), "name": format!("Deal number {i} with a long descriptive name"), "stage": "proposal", "amount": 1000 + i}))
        .collect();
    let body = json!({"result": {"data": {"json": {"items": items, "nextCursor": "c3000", "total": 9000}}}});
    fake.push_fault(Route::Api("deals.list"), Fault::json_200(body.to_string()));
    let mut s = session(&cfg, &[]);
    let r = s.call("search_deals", json!({"limit": 100}));
    assert!(!is_error(&r));
    assert!(text(&r).len() <= 100_000);
    let kept = r["structuredContent"]["items"].as_array().unwrap().len();
    assert!(kept < 3000);
    let note = r["content"][1]["text"].as_str().unwrap();
    assert!(
        note.starts_with(&format!("Showing the first {kept} of 3000 `items`")),
        "{note}"
    );
    assert!(note.contains("smaller `limit`"), "{note}");
    assert_eq!(
        r["structuredContent"]["nextCursor"],
        Value::Null,
        "the API's cursor would skip the cut items"
    );
    finish(s, &fake);
}

#[test]
fn http_to_a_remote_host_is_refused_before_any_token_is_sent() {
    let (fake, cfg) = setup("cleartext");
    cfg.set_var("API_URL", "http://app.loopops.example/api/trpc");
    let mut s = session(&cfg, &[]);
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    assert!(
        text(&r).contains("uses http://, which would send the token in clear"),
        "{}",
        text(&r)
    );
    finish(s, &fake);
    assert_eq!(fake.requests(Route::Token), 0);
}

#[test]
fn login_in_another_terminal_takes_effect_without_a_restart() {
    let fake = Fake::start();
    let dir = support::temp_dir("late-login");
    let path = dir.join("mcp.json");
    std::fs::write(&path, r#"{"mcpServers":{}}"#).unwrap();
    let mut s = support::Session::start(&["serve"], &[("LOOP_MCP_CONFIG", path.to_str().unwrap())]);
    let r = s.call("whoami", json!({}));
    assert!(
        text(&r).starts_with("Loop Operations is not signed in"),
        "{}",
        text(&r)
    );
    let rt = fake.new_refresh_token();
    let cfg = Config::new("late-login-2", &fake, &fake.custom_issuer(), &rt);
    std::fs::copy(&cfg.path, &path).unwrap();
    let r = s.call("whoami", json!({}));
    assert!(!is_error(&r), "{r}");
    finish(s, &fake);
}

/// Every tool, called with valid arguments, answers with `structuredContent` that
/// matches its published `outputSchema` (clients reject results that do not).
#[test]
fn every_tool_answers_within_its_output_schema() {
    let (fake, cfg) = setup("schemas");
    let calls = [
        ("whoami", json!({})),
        ("list_owners", json!({"limit": 3})),
        (
            "search_deals",
            json!({"stages": ["proposal", "negotiation"], "sort": "amount"}),
        ),
        ("get_deal", json!({"dealId": "deal_001"})),
        ("get_pipeline_summary", json!({"period": "current_quarter"})),
        ("get_forecast", json!({"period": "current_quarter"})),
        ("find_deal_risks", json!({"limit": 5})),
        ("search_accounts", json!({"query": "a"})),
        ("get_account", json!({"accountId": "acc_006"})),
        (
            "list_activities",
            json!({"dealId": "deal_001", "types": ["call", "email"]}),
        ),
        (
            "update_deal_stage",
            json!({"dealId": "deal_002", "stage": "negotiation", "note": "Verbal yes"}),
        ),
        (
            "set_deal_next_step",
            json!({"dealId": "deal_002", "nextStep": "Send order form", "nextStepDate": "2025-06-20"}),
        ),
        (
            "log_activity",
            json!({"type": "call", "subject": "Pricing call", "dealId": "deal_002", "occurredAt": "2025-06-16T14:00:00Z"}),
        ),
        (
            "submit_forecast",
            json!({"period": "current_quarter", "commit": 100000, "bestCase": 150000, "note": "Two deals at risk"}),
        ),
    ];
    let mut s = session(&cfg, &[]);
    s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
    );
    let list = s.request("tools/list", json!({}));
    assert_eq!(calls.len(), list["result"]["tools"].as_array().unwrap().len());
    for (tool, args) in calls {
        let schema = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .unwrap()["outputSchema"]
            .clone();
        let r = s.call(tool, args);
        assert!(!is_error(&r), "{tool}: {r}");
        let problems = loopops_mcp::catalog::schema::validate(&schema, &r["structuredContent"]);
        assert!(problems.is_empty(), "{tool}: {problems:?}");
    }
    finish(s, &fake);
    let applied: Vec<String> = fake.mutations().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        applied,
        [
            "deals.updateStage",
            "deals.setNextStep",
            "activities.log",
            "forecast.submit"
        ]
    );
}

#[test]
fn debug_log_shows_requests_and_timings_without_tokens() {
    let (fake, cfg) = setup("debug");
    let mut s = session(&cfg, &[("LOOP_MCP_LOG", "debug")]);
    assert!(!is_error(&s.call("get_deal", json!({"dealId": "deal_004"}))));
    fake.push_fault(Route::AnyApi, Fault::Unauthorized);
    assert!(!is_error(&s.call("get_deal", json!({"dealId": "deal_004"}))));
    let out = finish(s, &fake);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let token_line = format!("POST {}/v1/token -> 200", fake.custom_issuer());
    assert!(stderr.contains(&token_line), "{stderr}");
    assert!(
        stderr.contains(&format!("GET {}/deals.get -> 200", fake.api_url())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("GET {}/deals.get -> 401", fake.api_url())),
        "{stderr}"
    );
    assert!(stderr.contains(" ms"), "{stderr}");
    assert!(
        stderr.contains("access token rejected; refreshing it"),
        "{stderr}"
    );
    // `finish` already checked that no token the fake issued appears anywhere.
}

/// A temp name already taken in a shared directory (here by a directory) is
/// skipped, never a reason to lose a rotation: every refresh is saved.
#[cfg(unix)]
#[test]
fn a_taken_temp_name_never_leads_to_reusing_the_spent_token() {
    let (fake, cfg) = setup("save-fails");
    let mut s = blocked_save_session(&cfg, &[]);
    for _ in 0..30 {
        fake.expire_access_tokens();
        let r = s.call("whoami", json!({}));
        assert!(!is_error(&r), "{r}");
    }
    let out = finish(s, &fake);
    assert_eq!(fake.reuse_detections(), 0);
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("could not"), "{stderr}");
}

/// Windows: another program (an editor, an antivirus scan) holds the config open
/// without delete sharing, so the rename that saves a rotation fails after its
/// bounded retry. As on Unix, the spent token in the file is never adopted back.
#[cfg(windows)]
#[test]
fn a_save_blocked_by_another_handle_never_reuses_the_spent_token() {
    use std::os::windows::fs::OpenOptionsExt;
    let (fake, cfg) = setup("save-blocked-win");
    const FILE_SHARE_READ: u32 = 1;
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(&cfg.path)
        .unwrap();
    let before = cfg.stored_token();
    let mut s = session(&cfg, &[]);
    for _ in 0..4 {
        fake.expire_access_tokens();
        let r = s.call("whoami", json!({}));
        assert!(!is_error(&r), "{r}");
    }
    let out = finish(s, &fake);
    drop(holder);
    assert_eq!(fake.reuse_detections(), 0);
    // Whole, and either the old token or a newer one (the rotation lives in the
    // sign-in store, which nothing blocked): never a torn file.
    let now = cfg.stored_token();
    assert!(now == before || fake.current_refresh_token().unwrap() == now);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("signed out"), "{err}");
}

/// A profile folder with spaces and non-ASCII letters (a Windows user "Jörg Müller",
/// a OneDrive "My Files"): the rotation is saved there and read back.
#[test]
fn a_config_path_with_spaces_and_non_ascii_letters() {
    let (fake, cfg) = setup("names");
    let dir = cfg.dir.join("Jörg Müller").join("My Files (客户)");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mcp config.json");
    std::fs::rename(&cfg.path, &path).unwrap();
    // The directory stays the test's own (removed with it); only the file moved.
    let cfg = Config { dir: cfg.dir, path };
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    finish(s, &fake);
    assert_eq!(cfg.stored_token(), fake.current_refresh_token().unwrap());
    support::assert_private(&cfg.path);
}

/// `serve` whose first temp name is taken: it has the server's pid, so a directory
/// is put in its place before the binary starts (exec keeps the pid).
#[cfg(unix)]
fn blocked_save_session(cfg: &Config, env: &[(&str, &str)]) -> support::Session {
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        r#"mkdir -p "$DIR/.mcp.json.tmp.$$/keep" && exec "$BIN" serve"#,
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("DIR", &cfg.dir)
    .env("BIN", support::BIN)
    .env("LOOP_MCP_STORE", support::shared_store())
    .env("LOOP_MCP_CONFIG", &cfg.path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::Session::spawn(cmd)
}

#[cfg(unix)]
#[test]
fn a_failed_save_of_a_token_from_the_environment_is_not_mistaken_for_a_logout() {
    let (fake, cfg) = setup("save-fails-env");
    let rt = cfg.stored_token();
    let mut doc = cfg.read();
    doc["mcpServers"]["loop-operations"]["env"]
        .as_object_mut()
        .unwrap()
        .remove("OKTA_REFRESH_TOKEN");
    std::fs::write(&cfg.path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let mut s = blocked_save_session(&cfg, &[("OKTA_REFRESH_TOKEN", rt.as_str())]);
    for _ in 0..3 {
        fake.expire_access_tokens();
        let r = s.call("whoami", json!({}));
        assert!(!is_error(&r), "{r}");
    }
    finish(s, &fake);
}

#[test]
fn logout_before_the_first_refresh_is_respected_even_if_revocation_failed() {
    let (fake, cfg) = setup("logout-early");
    let rt = cfg.stored_token();
    // The client passes the entry's env, so the server starts with the token in env.
    let mut s = session(&cfg, &[("OKTA_REFRESH_TOKEN", rt.as_str())]);
    s.request("ping", json!({}));
    fake.push_fault(Route::Revoke, Fault::Empty(503));
    let out = support::run(
        &["logout"],
        &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())],
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0));
    let r = s.call("whoami", json!({}));
    assert!(
        text(&r).starts_with("Signed out: the saved sign-in was removed"),
        "{}",
        text(&r)
    );
    finish(s, &fake);
    assert_eq!(
        cfg.read()["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
        "",
        "not written back"
    );
    assert_eq!(
        fake.requests(Route::Token),
        0,
        "the signed-out token was not used"
    );
}

#[test]
fn logout_while_serving_signs_the_server_out_and_is_not_undone() {
    let (fake, cfg) = setup("logout-live");
    let mut s = session(&cfg, &[]);
    assert!(!is_error(&s.call("whoami", json!({}))));
    let out = support::run(
        &["logout"],
        &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())],
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0));
    fake.expire_access_tokens();
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    assert!(
        text(&r).starts_with("Signed out: the saved sign-in was removed"),
        "{}",
        text(&r)
    );
    finish(s, &fake);
    let doc = cfg.read();
    assert_eq!(
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"], "",
        "blanked"
    );
}

#[test]
fn an_entry_for_another_issuer_is_neither_adopted_nor_overwritten() {
    let fake = Fake::start();
    let ours = fake.new_refresh_token();
    let theirs = fake.new_refresh_token();
    // The file's entry is for the org authorization server; the environment uses the
    // custom one with its own token.
    let cfg = Config::new("other-issuer", &fake, &fake.org_issuer(), &theirs);
    let api = fake.api_url();
    let issuer = fake.custom_issuer();
    let mut s = session(
        &cfg,
        &[
            ("API_URL", api.as_str()),
            ("OKTA_ISSUER", issuer.as_str()),
            ("OKTA_REFRESH_TOKEN", ours.as_str()),
        ],
    );
    let r = s.call("whoami", json!({}));
    assert!(!is_error(&r), "{r}");
    let out = finish(s, &fake);
    assert_eq!(cfg.stored_token(), theirs, "the other entry is untouched");
    let sent: Vec<_> = fake
        .log()
        .into_iter()
        .filter_map(|r| r.form_param("refresh_token"))
        .collect();
    assert_eq!(sent, vec![ours]);
    // The rotation went to the sign-in store instead, without a warning.
    let store = std::fs::read_to_string(support::shared_store().join("tokens.json")).unwrap();
    assert!(store.contains("\"rt-0-1-"), "our family's rotated token: {store}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could not be saved"));
}

// No SIGTERM on Windows: a client there closes stdin or kills the process, and the
// save is crash-safe by construction (tests/crash.rs runs on both).
#[cfg(unix)]
#[test]
fn sigterm_during_a_refresh_waits_until_the_new_token_is_saved() {
    let (fake, cfg) = setup("sigterm-refresh");
    fake.push_fault(Route::Token, Fault::Delay(Duration::from_millis(800)));
    let mut s = session(&cfg, &[]);
    s.send("tools/call", json!({"name": "whoami", "arguments": {}}));
    assert!(support::wait_for(Duration::from_secs(10), || fake
        .requests(Route::Token)
        > 0));
    std::thread::sleep(Duration::from_millis(100));
    support::send_signal(s.pid(), "-TERM");
    let out = s.wait_exit();
    assert_eq!(out.status.code(), Some(0));
    // Let the fake finish the (delayed) refresh whatever the server did.
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(
        cfg.stored_token(),
        fake.current_refresh_token().unwrap(),
        "the rotated token reached the disk"
    );
    assert_no_secrets(&out, &fake.issued_secrets());
}

#[test]
fn a_broken_config_file_is_reported_and_never_overwritten() {
    let dir = support::temp_dir("broken-config");
    let path = dir.join("mcp.json");
    let broken = "{\"mcpServers\": {\"loop-operations\": {\"env\": {\"API_URL\": \"x\"}}},, }";
    std::fs::write(&path, broken).unwrap();
    let mut s = support::Session::start(&["serve"], &[("LOOP_MCP_CONFIG", path.to_str().unwrap())]);
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    let t = text(&r);
    assert!(t.starts_with("The MCP config file is not usable:"), "{t}");
    assert!(t.contains("is not a valid JSON config (line 1"), "{t}");
    assert!(t.contains("fix it or point LOOP_MCP_CONFIG elsewhere"), "{t}");
    s.finish();
    let login = support::run(
        &["login", "--config", path.to_str().unwrap()],
        &[],
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(login.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken, "untouched");
}
