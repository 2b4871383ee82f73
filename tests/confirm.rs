//! Write confirmations in the handshake era: `update_deal_stage` and
//! `submit_forecast` ask the user through `elicitation/create` while the call runs,
//! and write only on "accept". Driven through the real binary and the fake API.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake::{Fake, Route};
use support::{Session, assert_no_secrets, is_error, session, setup, text};

const FORM: &str = r#"{"elicitation": {"form": {}}}"#;

fn start(cfg: &support::Config, version: &str, capabilities: &str, env: &[(&str, &str)]) -> Session {
    let mut s = session(cfg, env);
    let caps: Value = serde_json::from_str(capabilities).unwrap();
    let init = s.request(
        "initialize",
        json!({"protocolVersion": version, "capabilities": caps, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert!(init.get("result").is_some(), "{init}");
    s
}

fn finish(s: Session, fake: &Fake) {
    let out = s.finish();
    assert_eq!(out.status.code(), Some(0));
    assert_no_secrets(&out, &fake.issued_secrets());
}

fn stage_update() -> Value {
    json!({"name": "update_deal_stage", "arguments": {"dealId": "deal_002", "stage": "closed_won"}})
}

/// The deal's name and stage label, as the question should show them.
fn deal_002(cfg: &support::Config) -> (String, String) {
    let mut s = session(cfg, &[]);
    let d = s.call("get_deal", json!({"dealId": "deal_002"}));
    drop(s);
    let name = d["structuredContent"]["name"].as_str().unwrap().to_string();
    let stage = d["structuredContent"]["stage"].as_str().unwrap().to_string();
    (name, stage)
}

fn label(stage: &str) -> String {
    stage
        .split('_')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The server's `elicitation/create` request (the next message it writes).
fn expect_elicitation(s: &mut Session) -> Value {
    let m = s.next_message();
    assert_eq!(m["method"], "elicitation/create", "{m}");
    assert!(m["id"].is_string() || m["id"].is_u64(), "{m}");
    m
}

fn answer(s: &mut Session, request: &Value, result: Value) {
    s.send_message(&json!({"jsonrpc": "2.0", "id": request["id"], "result": result}));
}

/// Read messages until the response to `id`.
fn response_to(s: &mut Session, id: u64) -> Value {
    loop {
        let m = s.next_message();
        if m["id"] == json!(id) && m.get("method").is_none() {
            return m;
        }
    }
}

#[test]
fn accept_writes_after_asking_with_the_deal_name_and_both_stages() {
    let (fake, cfg) = setup("confirm-accept");
    let (name, stage) = deal_002(&cfg);
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let call = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    assert_eq!(
        ask["params"]["message"],
        format!("Move *{name}* from {} to Closed Won?", label(&stage))
    );
    assert_eq!(ask["params"]["mode"], "form");
    assert_eq!(
        ask["params"]["requestedSchema"],
        json!({"type": "object", "properties": {}})
    );
    // Asked before anything was written.
    assert!(fake.mutations().is_empty());
    answer(&mut s, &ask, json!({"action": "accept", "content": {}}));
    let r = response_to(&mut s, call);
    assert!(!is_error(&r["result"]), "{r}");
    assert_eq!(r["result"]["structuredContent"]["stage"], "closed_won");
    finish(s, &fake);
    let applied = fake.mutations();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].0, "deals.updateStage");
}

#[test]
fn decline_and_cancel_write_nothing() {
    let (fake, cfg) = setup("confirm-decline");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    for action in ["decline", "cancel"] {
        let call = s.send("tools/call", stage_update());
        let ask = expect_elicitation(&mut s);
        answer(&mut s, &ask, json!({"action": action}));
        let r = response_to(&mut s, call);
        assert!(is_error(&r["result"]), "{r}");
        assert!(text(&r["result"]).starts_with("The user declined"), "{r}");
        assert!(text(&r["result"]).contains("Nothing was changed"), "{r}");
    }
    finish(s, &fake);
    assert!(fake.mutations().is_empty());
    assert_eq!(fake.requests(Route::Api("deals.updateStage")), 0);
}

#[test]
fn forecast_submission_names_the_period_and_the_numbers() {
    let (fake, cfg) = setup("confirm-forecast");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let call = s.send(
        "tools/call",
        json!({"name": "submit_forecast", "arguments": {"period": "current_quarter", "commit": 1200000, "bestCase": 1500000}}),
    );
    let ask = expect_elicitation(&mut s);
    let message = ask["params"]["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("Submit your "), "{message}");
    assert!(
        message.contains("forecast: commit 1,200,000, best case 1,500,000"),
        "{message}"
    );
    answer(&mut s, &ask, json!({"action": "accept", "content": {}}));
    let r = response_to(&mut s, call);
    assert!(!is_error(&r["result"]), "{r}");
    // A second submission says what it replaces.
    let call = s.send(
        "tools/call",
        json!({"name": "submit_forecast", "arguments": {"period": "current_quarter", "commit": 1300000, "bestCase": 1500000}}),
    );
    let ask = expect_elicitation(&mut s);
    let message = ask["params"]["message"].as_str().unwrap();
    assert!(
        message.contains(", replacing commit 1,200,000, best case 1,500,000 (submitted "),
        "{message}"
    );
    answer(&mut s, &ask, json!({"action": "decline"}));
    assert!(is_error(&response_to(&mut s, call)["result"]));
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 1);
}

#[test]
fn clients_without_form_elicitation_and_the_off_switch_keep_the_old_behaviour() {
    let (fake, cfg) = setup("confirm-off");
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case; 5] = [
        ("2025-11-25", "{}", &[]),
        ("2025-11-25", r#"{"elicitation": {"url": {}}}"#, &[]),
        // Elicitation did not exist in 2025-03-26, whatever the client says.
        ("2025-03-26", FORM, &[]),
        ("2025-11-25", FORM, &[("LOOP_MCP_CONFIRM_WRITES", "0")]),
        ("2025-11-25", FORM, &[("LOOP_MCP_CONFIRM_WRITES", "off")]),
    ];
    for (n, (version, caps, env)) in cases.into_iter().enumerate() {
        let mut s = start(&cfg, version, caps, env);
        let stage = if n % 2 == 0 { "negotiation" } else { "proposal" };
        let r = s.call("update_deal_stage", json!({"dealId": "deal_002", "stage": stage}));
        assert!(!is_error(&r), "{version} {caps} {env:?}: {r}");
        let out = s.finish();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("elicitation/create"),
            "{version} {caps} {env:?}"
        );
        assert_eq!(fake.mutations().len(), n + 1, "{version} {caps} {env:?}");
    }
    // No lookup either: exactly one API call per write.
    assert_eq!(fake.requests(Route::Api("deals.get")), 0);
}

#[test]
fn version_2025_06_18_gets_no_mode_field() {
    let (fake, cfg) = setup("confirm-0618");
    let mut s = start(&cfg, "2025-06-18", r#"{"elicitation": {}}"#, &[]);
    let call = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    assert!(ask["params"].get("mode").is_none(), "{ask}");
    answer(&mut s, &ask, json!({"action": "accept", "content": {}}));
    assert!(!is_error(&response_to(&mut s, call)["result"]));
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 1);
}

#[test]
fn while_the_user_thinks_other_requests_are_served_and_a_second_write_waits_its_turn() {
    let (fake, cfg) = setup("confirm-meanwhile");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let first = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    // A ping and a read are answered at once.
    let ping = s.send("ping", json!({}));
    assert_eq!(
        s.next_message(),
        json!({"jsonrpc": "2.0", "id": ping, "result": {}})
    );
    let read = s.send("tools/call", json!({"name": "whoami", "arguments": {}}));
    let r = s.next_message();
    assert_eq!(r["id"], json!(read), "{r}");
    assert!(!is_error(&r["result"]), "{r}");
    // A second confirmed write waits until the first question is answered.
    let second = s.send(
        "tools/call",
        json!({"name": "update_deal_stage", "arguments": {"dealId": "deal_003", "stage": "proposal"}}),
    );
    let list = s.send("tools/list", json!({}));
    assert_eq!(s.next_message()["id"], json!(list));
    assert!(s.quiet_for(Duration::from_millis(300)));
    // An answer to a request we never sent, and one with our id's value as a number,
    // are ignored; the question is still open.
    s.send_message(&json!({"jsonrpc": "2.0", "id": "loopops-999", "result": {"action": "accept"}}));
    s.send_message(&json!({"jsonrpc": "2.0", "id": 424242, "result": {"action": "accept"}}));
    assert!(s.quiet_for(Duration::from_millis(300)));
    assert!(fake.mutations().is_empty());
    answer(&mut s, &ask, json!({"action": "accept", "content": {}}));
    let r = s.next_message();
    assert_eq!(r["id"], json!(first), "{r}");
    assert!(!is_error(&r["result"]), "{r}");
    // Now the second call asks.
    let ask2 = expect_elicitation(&mut s);
    assert_ne!(ask2["id"], ask["id"]);
    answer(&mut s, &ask2, json!({"action": "decline"}));
    let r = s.next_message();
    assert_eq!(r["id"], json!(second), "{r}");
    assert!(is_error(&r["result"]));
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 1);
}

#[test]
fn a_cancelled_call_gets_no_answer_withdraws_its_question_and_writes_nothing() {
    let (fake, cfg) = setup("confirm-cancelled");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let call = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    s.send_message(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": call, "reason": "user pressed Esc"}}));
    let withdrawn = s.next_message();
    assert_eq!(withdrawn["method"], "notifications/cancelled", "{withdrawn}");
    assert_eq!(withdrawn["params"]["requestId"], ask["id"]);
    // A late answer changes nothing, and the session goes on.
    answer(&mut s, &ask, json!({"action": "accept", "content": {}}));
    let ping = s.send("ping", json!({}));
    assert_eq!(
        s.next_message(),
        json!({"jsonrpc": "2.0", "id": ping, "result": {}})
    );
    let out = s.finish();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&format!("\"id\":{call},")),
        "the cancelled call was answered"
    );
    assert!(fake.mutations().is_empty());
}

#[test]
fn a_client_error_or_a_nonsense_answer_writes_nothing() {
    let (fake, cfg) = setup("confirm-client-error");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let call = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    s.send_message(
        &json!({"jsonrpc": "2.0", "id": ask["id"], "error": {"code": -32601, "message": "Method not found"}}),
    );
    let r = response_to(&mut s, call);
    assert!(is_error(&r["result"]));
    assert!(
        text(&r["result"]).contains("the client could not ask the user (Method not found)"),
        "{r}"
    );
    let call = s.send("tools/call", stage_update());
    let ask = expect_elicitation(&mut s);
    answer(&mut s, &ask, json!({"action": "yes please"}));
    let r = response_to(&mut s, call);
    assert!(is_error(&r["result"]));
    assert!(text(&r["result"]).contains("could not be understood"), "{r}");
    finish(s, &fake);
    assert!(fake.mutations().is_empty());
}

#[test]
fn stdin_closing_during_the_question_ends_cleanly_with_nothing_written() {
    let (fake, cfg) = setup("confirm-eof");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let call = s.send("tools/call", stage_update());
    expect_elicitation(&mut s);
    s.close_stdin();
    let r = response_to(&mut s, call);
    assert!(is_error(&r["result"]));
    assert!(
        text(&r["result"]).contains("the client closed the connection first"),
        "{r}"
    );
    let out = s.wait_exit();
    assert_eq!(out.status.code(), Some(0));
    assert!(fake.mutations().is_empty());
}

#[test]
fn a_failed_lookup_is_reported_and_nothing_is_written() {
    let (fake, cfg) = setup("confirm-lookup");
    let mut s = start(&cfg, "2025-11-25", FORM, &[]);
    let r = s.call(
        "update_deal_stage",
        json!({"dealId": "deal_nope", "stage": "closed_won"}),
    );
    assert!(is_error(&r));
    assert!(
        text(&r).starts_with("Nothing was changed: looking up the record"),
        "{r}"
    );
    assert!(text(&r).contains("Deal deal_nope not found"), "{r}");
    finish(s, &fake);
    assert_eq!(fake.requests(Route::Api("deals.updateStage")), 0);
}

#[test]
fn call_needs_yes_without_a_terminal() {
    let (fake, cfg) = setup("confirm-cli");
    let env: Vec<(&str, String)> = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = r#"{"dealId": "deal_002", "stage": "negotiation"}"#;
    let out = support::run(
        &["call", "update_deal_stage", args],
        &env,
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass --yes to confirm in advance"), "{err}");
    assert_eq!(fake.requests(Route::AnyApi), 0);
    let out = support::run(
        &["call", "update_deal_stage", args, "--yes"],
        &env,
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The off switch does as much; tools that do not overwrite never need it.
    let mut off = env.clone();
    off.push(("LOOP_MCP_CONFIRM_WRITES", "0"));
    let out = support::run(
        &["call", "update_deal_stage", args],
        &off,
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = support::run(
        &[
            "call",
            "set_deal_next_step",
            r#"{"dealId": "deal_002", "nextStep": "Call"}"#,
        ],
        &env,
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fake.mutations().len(), 3);
}

// ---------------------------------------------------------------------------
// 2026-07-28: input_required with a requestState sealed to the call.
// ---------------------------------------------------------------------------

/// A modern `tools/call` params object, optionally a retry.
fn modern_call(args: Value, caps: Value, retry: Option<(Value, Value)>) -> Value {
    let mut p = json!({
        "name": "update_deal_stage",
        "arguments": args,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}
        }
    });
    if let Some((responses, state)) = retry {
        p["inputResponses"] = responses;
        p["requestState"] = state;
    }
    p
}

fn form() -> Value {
    json!({"elicitation": {"form": {}}})
}

fn won() -> Value {
    json!({"dealId": "deal_002", "stage": "closed_won"})
}

fn accept() -> Value {
    json!({"confirm": {"action": "accept", "content": {}}})
}

/// First round: the question and its state.
fn ask_modern(s: &mut Session, args: Value) -> (Value, Value) {
    let r = s.request("tools/call", modern_call(args, form(), None));
    let result = &r["result"];
    assert_eq!(result["resultType"], "input_required", "{r}");
    let ask = result["inputRequests"]["confirm"].clone();
    assert_eq!(ask["method"], "elicitation/create", "{r}");
    assert_eq!(ask["params"]["mode"], "form");
    let state = result["requestState"].clone();
    assert!(state.is_string(), "{r}");
    (ask, state)
}

#[test]
fn modern_the_write_happens_only_on_the_retry_that_accepts() {
    let (fake, cfg) = setup("confirm-modern-accept");
    let (name, stage) = deal_002(&cfg);
    let mut s = session(&cfg, &[]);
    let (ask, state) = ask_modern(&mut s, won());
    assert_eq!(
        ask["params"]["message"],
        format!("Move *{name}* from {} to Closed Won?", label(&stage))
    );
    // The server wrote no request of its own (stdio, modern era), and nothing yet.
    let requests = s
        .stdout_text()
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["method"] == "elicitation/create")
        .count();
    assert_eq!(requests, 0);
    assert!(fake.mutations().is_empty());
    let r = s.request("tools/call", modern_call(won(), form(), Some((accept(), state))));
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    assert!(!is_error(&r["result"]), "{r}");
    assert_eq!(r["result"]["structuredContent"]["stage"], "closed_won");
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 1);
}

#[test]
fn modern_decline_replay_and_altered_states_write_nothing() {
    let (fake, cfg) = setup("confirm-modern-refuse");
    let mut s = session(&cfg, &[]);
    // Decline.
    let (_, state) = ask_modern(&mut s, won());
    let declined = json!({"confirm": {"action": "decline"}});
    let r = s.request(
        "tools/call",
        modern_call(won(), form(), Some((declined, state.clone()))),
    );
    assert!(is_error(&r["result"]), "{r}");
    assert!(text(&r["result"]).starts_with("The user declined"), "{r}");
    // The same state again, now with "accept": replayed, refused.
    let r = s.request("tools/call", modern_call(won(), form(), Some((accept(), state))));
    assert!(is_error(&r["result"]), "{r}");
    assert!(text(&r["result"]).contains("already used"), "{r}");
    // Accepted for one stage, retried with another: refused.
    let (_, state) = ask_modern(&mut s, won());
    let lost = json!({"dealId": "deal_002", "stage": "closed_lost"});
    let r = s.request(
        "tools/call",
        modern_call(lost.clone(), form(), Some((accept(), state.clone()))),
    );
    assert!(is_error(&r["result"]), "{r}");
    assert!(text(&r["result"]).contains("different arguments"), "{r}");
    // An altered state (one digit changed): refused.
    let mut altered = state.as_str().unwrap().to_string().into_bytes();
    let i = altered.len() - 3;
    altered[i] = if altered[i] == b'0' { b'1' } else { b'0' };
    let altered = json!(String::from_utf8(altered).unwrap());
    let r = s.request(
        "tools/call",
        modern_call(won(), form(), Some((accept(), altered))),
    );
    assert!(is_error(&r["result"]), "{r}");
    assert!(text(&r["result"]).contains("altered"), "{r}");
    // A made-up "accept" without any state is no confirmation: it asks.
    let r = s.request(
        "tools/call",
        modern_call(won(), form(), Some((accept(), Value::Null))),
    );
    assert_eq!(r["result"]["resultType"], "input_required", "{r}");
    finish(s, &fake);
    assert!(fake.mutations().is_empty());
    assert_eq!(fake.requests(Route::Api("deals.updateStage")), 0);
}

/// The server restarted between the question and the answer: the answer is to a
/// question this process never asked, so it asks again (the spec prefers that to an
/// error), and writes only once that new question is accepted.
#[test]
fn modern_a_state_from_another_process_asks_again() {
    let (fake, cfg) = setup("confirm-modern-restart");
    let mut first = session(&cfg, &[]);
    let (_, state) = ask_modern(&mut first, won());
    drop(first);
    let mut second = session(&cfg, &[]);
    let r = second.request(
        "tools/call",
        modern_call(won(), form(), Some((accept(), state.clone()))),
    );
    assert_eq!(r["result"]["resultType"], "input_required", "{r}");
    let fresh = r["result"]["requestState"].clone();
    assert!(fresh.is_string() && fresh != state, "{r}");
    assert!(fake.mutations().is_empty());
    let r = second.request("tools/call", modern_call(won(), form(), Some((accept(), fresh))));
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    assert!(!is_error(&r["result"]), "{r}");
    finish(second, &fake);
    assert_eq!(fake.mutations().len(), 1);
}

#[test]
fn modern_a_retry_without_the_answer_asks_again() {
    let (fake, cfg) = setup("confirm-modern-again");
    let mut s = session(&cfg, &[]);
    let (_, state) = ask_modern(&mut s, won());
    let r = s.request(
        "tools/call",
        modern_call(won(), form(), Some((json!({}), state.clone()))),
    );
    assert_eq!(r["result"]["resultType"], "input_required", "{r}");
    assert_ne!(r["result"]["requestState"], state);
    // A malformed answer is a protocol error.
    let state = r["result"]["requestState"].clone();
    let bad = json!({"confirm": {"action": "maybe"}});
    let r = s.request("tools/call", modern_call(won(), form(), Some((bad, state))));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    finish(s, &fake);
    assert!(fake.mutations().is_empty());
}

#[test]
fn modern_clients_without_form_elicitation_and_the_off_switch_write_at_once() {
    let (fake, cfg) = setup("confirm-modern-off");
    let mut s = session(&cfg, &[]);
    let r = s.request("tools/call", modern_call(won(), json!({}), None));
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    assert!(!is_error(&r["result"]), "{r}");
    finish(s, &fake);
    let mut s = session(&cfg, &[("LOOP_MCP_CONFIRM_WRITES", "0")]);
    let proposal = json!({"dealId": "deal_003", "stage": "proposal"});
    let r = s.request("tools/call", modern_call(proposal, form(), None));
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    finish(s, &fake);
    assert_eq!(fake.mutations().len(), 2);
}
