//! The two eras on one process: modern requests are served statelessly beside a
//! legacy session, and each era's logging rule holds for its own requests.

mod support;

use serde_json::{Value, json};

fn modern(extra: Value) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    for (k, v) in extra.as_object().unwrap() {
        meta[k] = v.clone();
    }
    json!({ "_meta": meta })
}

fn with(mut params: Value, key: &str, value: Value) -> Value {
    params[key] = value;
    params
}

/// Messages sent since the last look, from the lines the session has seen.
fn log_messages(s: &support::Session, from: usize) -> Vec<Value> {
    s.stdout_text()
        .lines()
        .skip(from)
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["method"] == "notifications/message")
        .collect()
}

#[test]
fn modern_log_messages_go_only_to_the_request_that_asked() {
    // Configured, but Okta is unreachable: every call logs a warning about it.
    let port = support::closed_port().to_string();
    let url = format!("http://127.0.0.1:{port}");
    let mut s = support::Session::start(
        &["serve"],
        &[
            ("API_URL", &url),
            ("OKTA_ISSUER", &url),
            ("OKTA_CLIENT_ID", "cid"),
            ("OKTA_REFRESH_TOKEN", "rt-era-test"),
            ("LOOP_MCP_LOG", "error"),
        ],
    );
    let call = |extra: Value| {
        with(
            with(modern(extra), "name", json!("whoami")),
            "arguments",
            json!({}),
        )
    };
    let seen = |s: &support::Session| s.stdout_text().lines().count();

    // A legacy session at debug must not leak into modern requests.
    s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
    );
    s.request("logging/setLevel", json!({"level": "debug"}));

    let before = seen(&s);
    let answer = s.request("tools/call", call(json!({})));
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(log_messages(&s, before).is_empty(), "{}", s.stdout_text());

    let before = seen(&s);
    s.request(
        "tools/call",
        call(json!({"io.modelcontextprotocol/logLevel": "warning"})),
    );
    let got = log_messages(&s, before);
    assert!(!got.is_empty(), "{}", s.stdout_text());
    assert!(got.iter().all(|m| m["params"]["level"] == "warning"), "{got:?}");

    // Above every message's level: none.
    let before = seen(&s);
    s.request(
        "tools/call",
        call(json!({"io.modelcontextprotocol/logLevel": "critical"})),
    );
    assert!(log_messages(&s, before).is_empty(), "{}", s.stdout_text());

    // The legacy session kept its own level (debug) through all that.
    let before = seen(&s);
    s.request("tools/call", json!({"name": "whoami", "arguments": {}}));
    let got = log_messages(&s, before);
    assert!(
        got.iter().any(|m| m["params"]["level"] == "debug"),
        "{}",
        s.stdout_text()
    );
    let out = s.finish();
    support::assert_no_secrets(&out, &["rt-era-test".into()]);
}

#[test]
fn modern_requests_never_take_the_legacy_sessions_capabilities() {
    let mut s = support::Session::start(&["serve"], &[]);
    s.request(
        "initialize",
        json!({"protocolVersion": "2024-11-05", "capabilities": {"extensions": {"io.modelcontextprotocol/skills": {}}}}),
    );
    let legacy = s.request("tools/list", json!({}));
    assert!(legacy["result"]["tools"][0].get("title").is_none());
    assert!(legacy["result"].get("resultType").is_none());
    // Shaped by its own version, with its own (empty) capabilities.
    let d = s.request("server/discover", modern(json!({})));
    assert!(d["result"]["capabilities"].get("extensions").is_none(), "{d}");
    let list = s.request("tools/list", modern(json!({})));
    assert!(list["result"]["tools"][0].get("title").is_some());
    assert_eq!(list["result"]["resultType"], "complete");
    // And the legacy session is still 2024-11-05.
    let legacy = s.request("tools/list", json!({}));
    assert!(legacy["result"]["tools"][0].get("title").is_none());
    s.finish();
}

#[test]
fn skill_digests_match_the_bytes_resources_read_serves() {
    use loopops_mcp::sha256;
    let mut s = support::Session::start(&["serve"], &[]);
    let caps = json!({"extensions": {"io.modelcontextprotocol/skills": {}}});
    let params = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps
    }});
    let list = s.request("skills/list", params.clone());
    let skills = list["result"]["skills"].as_array().unwrap().clone();
    assert_eq!(skills.len(), 4);
    let resources = s.request("resources/list", params.clone());
    assert_eq!(resources["result"]["resources"].as_array().unwrap().len(), 4);
    for skill in skills {
        let uri = skill["uri"].as_str().unwrap();
        let read = s.request("resources/read", with(params.clone(), "uri", json!(uri)));
        let text = read["result"]["contents"][0]["text"].as_str().unwrap();
        assert_eq!(read["result"]["contents"][0]["mimeType"], "text/markdown");
        let digest = format!("sha256:{}", sha256::hex(&sha256::sha256(text.as_bytes())));
        assert_eq!(skill["resources"][0]["digest"], digest.as_str(), "{uri}");
        assert_eq!(skill["resources"][0]["uri"], uri);
        // The frontmatter in the file is the frontmatter in the listing.
        let name = skill["frontmatter"]["name"].as_str().unwrap();
        assert!(text.starts_with(&format!("---\nname: \"{name}\"\n")), "{text}");
        assert!(uri.ends_with(&format!("/{name}/SKILL.md")));
        let got = s.request("skills/get", with(params.clone(), "uri", json!(uri)));
        assert_eq!(got["result"]["skill"], skill);
    }
    s.finish();
}
