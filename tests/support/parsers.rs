//! Properties of the parsers that read what the network and other programs wrote,
//! shared by the randomized tests (`tests/hostile_random.rs`, fixed seeds) and the
//! fuzz targets (`fuzz/fuzz_targets/{trpc_answer,okta_answer,config_reader}.rs`).
#![allow(dead_code)]

use loopops_mcp::api::{bound, tools, trpc};
use loopops_mcp::auth::{config_splice, okta};
use loopops_mcp::error::CallContext;
use loopops_mcp::net::http::Reply;
use serde_json::Value;

pub const STATUSES: [u16; 9] = [200, 201, 302, 400, 401, 404, 429, 500, 502];
pub const TYPES: [&str; 4] = ["application/json", "text/html", "", "text/plain; charset=utf-8"];

/// A fuzz input as an HTTP answer: its first byte picks the status and the content
/// type, the rest is the body. `None` for an empty input.
pub fn as_answer(data: &[u8]) -> Option<(u16, &'static str, &[u8])> {
    let (&pick, body) = data.split_first()?;
    let status = STATUSES[usize::from(pick) % STATUSES.len()];
    let content_type = TYPES[usize::from(pick >> 4) % TYPES.len()];
    Some((status, content_type, body))
}

pub fn reply(status: u16, content_type: &str, body: &[u8]) -> Reply {
    Reply {
        status,
        body: body.to_vec(),
        content_type: content_type.into(),
        retry_after: None,
        rate_limit_reset: None,
        location: None,
    }
}

/// Any tRPC answer: no panic; a success becomes a result within the bound; a
/// failure becomes one bounded line of text without markup from an HTML page.
pub fn check_trpc(status: u16, content_type: &str, body: &[u8]) {
    let ctx = CallContext {
        tool: "get_deal",
        procedure: "deals.get",
        is_mutation: false,
    };
    match trpc::interpret_bounded(reply(status, content_type, body)) {
        Ok(answer) => {
            let is_object = answer.value.is_object();
            let r = tools::success(answer, true, true);
            let text = r["content"][0]["text"].as_str().unwrap();
            let both = text.len() + bound::json_len(&r["structuredContent"]);
            assert!(
                !is_object || both <= tools::MAX_RESULT_TEXT,
                "{both} bytes from a {}-byte body",
                body.len()
            );
        }
        Err(e) => {
            let text = e.render(&ctx);
            assert!(text.len() < 2_000, "{} bytes: {text}", text.len());
            if content_type.contains("html") {
                assert!(!text.contains("</"), "markup quoted: {text}");
            }
        }
    }
}

/// Any token endpoint answer: no panic, and a failure renders.
pub fn check_okta(status: u16, content_type: &str, body: &[u8]) {
    if let Err(e) = okta::parse_token_reply(&reply(status, content_type, body)) {
        let _ = e.render();
    }
}

/// Any config text: no panic; what serde_json reads, the lenient reader reads the
/// same; a change spliced in reads back as the change, and the rest is kept.
pub fn check_config(text: &str) {
    let strict = serde_json::from_str::<Value>(text).ok();
    let lenient = config_splice::lenient_text(text);
    if let (Some(s), Some(l)) = (&strict, &lenient) {
        panic!("strict JSON {s} also needed leniency: {l}");
    }
    let read = lenient
        .as_deref()
        .map_or(strict, |t| serde_json::from_str::<Value>(t).ok());
    let Some(old @ Value::Object(_)) = read else {
        return;
    };
    let mut new = old.clone();
    new["mcpServers"] = match new.get("mcpServers") {
        Some(Value::Object(m)) => {
            let mut m = m.clone();
            m.insert(
                "loop-operations".into(),
                serde_json::json!({"env": {"OKTA_REFRESH_TOKEN": "rt-new"}}),
            );
            Value::Object(m)
        }
        _ => serde_json::json!({"loop-operations": {"env": {}}}),
    };
    let Some(out) = config_splice::splice(text, &old, &new) else {
        return;
    };
    let back_text = config_splice::lenient_text(&out).unwrap_or_else(|| out.clone());
    let back: Value = serde_json::from_str(&back_text)
        .unwrap_or_else(|e| panic!("splice broke the file ({e}): {text:?} -> {out:?}"));
    assert_eq!(back, new, "{text:?} -> {out:?}");
}
