//! The sample MCP config the tests and the benchmark write: our entry holding every
//! setting, with other programs' entries and top-level keys around it.

/// The file's text. `alpha` is spelled `1.50` on purpose: writes must keep it.
pub fn sample_config(
    command: &str,
    api_url: &str,
    issuer: &str,
    client_id: &str,
    refresh_token: &str,
) -> String {
    let doc = serde_json::json!({
        "zeta": {"keep": [3, 2, 1], "big": 12345678901234567890123u128.to_string()},
        "mcpServers": {
            "github": {"command": "gh-mcp", "args": ["--stdio"], "env": {"GITHUB_TOKEN": "ghp_not_ours_0000"}},
            "loop-operations": {
                "command": command,
                "args": ["serve"],
                "env": {
                    "API_URL": api_url,
                    "OKTA_ISSUER": issuer,
                    "OKTA_CLIENT_ID": client_id,
                    "OKTA_REFRESH_TOKEN": refresh_token,
                    "API_TIMEOUT_MS": "5000"
                },
                "unknownField": {"x": null}
            },
            "zzz-last": {"command": "z"}
        },
        "alpha": 1.50
    });
    serde_json::to_string_pretty(&doc)
        .expect("a JSON value serializes")
        .replace("\"alpha\": 1.5", "\"alpha\": 1.50")
}
