//! `tools/list` is pinned: one snapshot per protocol version in `fixtures/snapshots/`,
//! so every schema or description change shows up as a reviewed diff.
//! `UPDATE_SNAPSHOTS=1 cargo test --test snapshot` rewrites them.

mod support;

use std::time::Duration;

use serde_json::{Value, json};

const VERSIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// Legacy versions through `initialize`; 2026-07-28 statelessly, as its clients ask.
fn tools_list(version: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let input = if version >= "2026-07-28" {
        format!(
            "{}\n",
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {}
            }}})
        )
    } else {
        format!(
            "{}\n{}\n",
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":version,"capabilities":{}}}),
            json!({"jsonrpc":"2.0","id":2,"method":"tools/list"})
        )
    };
    let out = support::run(args, env, input.as_bytes(), Duration::from_secs(10));
    let lines = support::json_lines(&out.stdout);
    lines.last().expect("an answer")["result"].clone()
}

#[test]
fn tools_list_matches_the_snapshots() {
    let updating = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for version in VERSIONS {
        let path = support::fixtures().join(format!("snapshots/tools_list.{version}.json"));
        let actual = serde_json::to_string_pretty(&tools_list(version, &["serve"], &[])).unwrap() + "\n";
        if updating {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_SNAPSHOTS=1", path.display()));
        assert!(
            actual == expected,
            "tools/list for {version} differs from {}; if the change is intended, run UPDATE_SNAPSHOTS=1 cargo test --test snapshot and review the diff",
            path.display()
        );
    }
}

#[test]
fn versions_get_only_their_fields() {
    for version in VERSIONS {
        let list = tools_list(version, &["serve"], &[]);
        let tools = list["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 14);
        for t in tools {
            let has = |k: &str| t.get(k).is_some();
            assert_eq!(has("annotations"), version >= "2025-03-26", "{version}");
            assert_eq!(has("title"), version >= "2025-06-18", "{version}");
            assert_eq!(has("outputSchema"), version >= "2025-06-18", "{version}");
            assert_eq!(t["inputSchema"]["type"], "object");
        }
        // The modern era's envelope: never without every required field.
        let modern = version >= "2026-07-28";
        assert_eq!(list.get("resultType").is_some(), modern, "{version}");
        assert_eq!(list.get("ttlMs").is_some(), modern, "{version}");
        assert_eq!(list.get("cacheScope").is_some(), modern, "{version}");
        if modern {
            assert_eq!(list["resultType"], "complete");
            assert!(list["ttlMs"].as_u64().is_some());
            assert_eq!(list["cacheScope"], "public");
            assert_eq!(
                list["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
                "loopops-mcp"
            );
        }
    }
}

#[test]
fn annotations_say_what_each_tool_does() {
    let list = tools_list("2025-11-25", &["serve"], &[]);
    let by_name = |n: &str| {
        list["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .unwrap()
            .clone()
    };
    let stage = by_name("update_deal_stage")["annotations"].clone();
    assert_eq!(stage["readOnlyHint"], false);
    assert_eq!(stage["destructiveHint"], true);
    assert_eq!(by_name("submit_forecast")["annotations"]["destructiveHint"], true);
    assert_eq!(by_name("log_activity")["annotations"]["destructiveHint"], false);
    assert_eq!(by_name("log_activity")["annotations"]["idempotentHint"], false);
    assert_eq!(
        by_name("set_deal_next_step")["annotations"]["destructiveHint"],
        false
    );
    let deals = by_name("search_deals")["annotations"].clone();
    assert_eq!(deals["readOnlyHint"], true);
    assert_eq!(deals["openWorldHint"], false);
    assert!(deals.get("destructiveHint").is_none());
}

#[test]
fn read_only_hides_the_mutations() {
    let flag: (&[&str], &[(&str, &str)]) = (&["serve", "--read-only"], &[]);
    let env: (&[&str], &[(&str, &str)]) = (&["serve"], &[("LOOP_MCP_READ_ONLY", "1")]);
    for (args, env) in [flag, env] {
        let list = tools_list("2025-11-25", args, env);
        let names: Vec<&str> = list["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "whoami",
                "list_owners",
                "search_deals",
                "get_deal",
                "get_pipeline_summary",
                "get_forecast",
                "find_deal_risks",
                "search_accounts",
                "get_account",
                "list_activities"
            ]
        );
    }
}
