//! What a new user meets on the command line: prompts listed and checked like the
//! tools, refusals worded for the person at the terminal, help that says what the
//! command does.

mod support;

use std::time::Duration;

use support::fake::DeviceStep;
use support::run;

const LIMIT: Duration = Duration::from_secs(30);

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    run(args, env, b"", LIMIT)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prompt_without_a_name_lists_the_prompts_and_their_arguments() {
    let out = cli(&["prompt"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "pipeline_review      Pipeline review",
        "loopops-mcp prompt pipeline_review [period=…] [owner=…]",
        "loopops-mcp prompt deal_risk_review deal=…",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let unknown = cli(&["prompt", "nope"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("`loopops-mcp prompt` lists the prompts"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn prompt_arguments_are_checked_like_the_tools_arguments() {
    let out = cli(&["prompt", "pipeline_review", "period=garbage"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        "error: prompt `pipeline_review`: `period` must be current_quarter, next_quarter, previous_quarter, current_month or a fiscal quarter like 2026-Q3, got \"garbage\"\n"
    );
    assert!(stdout(&out).is_empty());
    // The same over MCP: -32602 with the same words.
    let line = br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"forecast_call_prep","arguments":{"period":"Q9"}}}"#;
    let mut input = line.to_vec();
    input.push(b'\n');
    let served = run(&["serve"], &[], &input, LIMIT);
    let answers = support::json_lines(&served.stdout);
    assert_eq!(answers[0]["error"]["code"], -32602);
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`period` must be current_quarter"),
        "{}",
        answers[0]
    );
}

#[test]
fn a_read_only_refusal_speaks_to_the_person_at_the_terminal() {
    let (fake, cfg) = support::setup("cli-read-only");
    let env = [("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())];
    let args = r#"{"dealId":"deal_001","stage":"proposal"}"#;
    let flag = cli(&["call", "update_deal_stage", args, "--read-only"], &env);
    assert_eq!(flag.status.code(), Some(1));
    let e = stderr(&flag);
    assert_eq!(
        e,
        "error: update_deal_stage changes Loop Operations records, and this command runs read-only (--read-only); run it without read-only mode to make the change\n"
    );
    let mut with_env = env.to_vec();
    with_env.push(("LOOP_MCP_READ_ONLY", "1"));
    let by_env = cli(&["call", "update_deal_stage", args], &with_env);
    assert_eq!(by_env.status.code(), Some(1));
    assert!(
        stderr(&by_env).contains("(LOOP_MCP_READ_ONLY is set)"),
        "{}",
        stderr(&by_env)
    );
    for o in [&flag, &by_env] {
        assert!(!stderr(o).contains("Tell the user"), "{}", stderr(o));
    }
    assert!(fake.mutations().is_empty(), "nothing was sent");
}

#[test]
fn terminal_errors_do_not_send_the_user_to_a_terminal() {
    // Not signed in: the tool result tells the model to have the user run login in a
    // terminal and restart the client; the terminal gets the command alone.
    let out = cli(&["call", "whoami"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("To sign in, run `loopops-mcp login`."), "{e}");
    assert!(
        !e.contains("in a terminal") && !e.contains("restart the MCP client"),
        "{e}"
    );
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}\n";
    let served = run(&["serve"], &[], line, LIMIT);
    let answers = support::json_lines(&served.stdout);
    let text = support::text(&answers[0]["result"]);
    assert!(
        text.contains("in a terminal, then restart the MCP client"),
        "{text}"
    );
}

#[test]
fn help_says_what_logout_does_and_how_ctrl_c_ends_a_command() {
    let logout = stdout(&cli(&["logout", "--help"], &[]));
    assert!(logout.contains("blank the saved refresh token"), "{logout}");
    assert!(!logout.contains("remove it from the config"), "{logout}");
    let main = stdout(&cli(&["--help"], &[]));
    assert!(main.contains("(a shell reports 130)"), "{main}");
    assert!(!main.contains("remove it from the config"), "{main}");
}

fn served_tools(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n";
    let out = run(args, env, input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answers = support::json_lines(&out.stdout);
    answers[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn listed_tools(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let out = cli(args, env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn tools_lists_what_serve_offers_in_read_only_mode() {
    let served = served_tools(&["serve"], &[("LOOP_MCP_READ_ONLY", "1")]);
    assert_eq!(served.len(), 10);
    assert_eq!(listed_tools(&["tools"], &[("LOOP_MCP_READ_ONLY", "1")]), served);
    assert_eq!(listed_tools(&["tools", "--read-only"], &[]), served);
    assert_eq!(served_tools(&["serve", "--read-only"], &[]), served);
    let out = cli(&["tools", "--read-only"], &[]);
    assert!(stderr(&out).contains("10 of 14 (read-only)"), "{}", stderr(&out));
}

#[test]
fn toolsets_choose_what_serve_tools_and_status_show() {
    let deals = served_tools(&["serve", "--toolsets", "deals"], &[]);
    assert_eq!(
        deals,
        [
            "whoami",
            "list_owners",
            "search_deals",
            "get_deal",
            "update_deal_stage",
            "set_deal_next_step"
        ]
    );
    assert_eq!(served_tools(&["serve"], &[("LOOP_MCP_TOOLSETS", "deals")]), deals);
    assert_eq!(listed_tools(&["tools", "--toolsets", "deals"], &[]), deals);
    // The flag wins over the variable, and both combine with read-only.
    let both = served_tools(
        &["serve", "--toolsets", "forecasts,deals", "--read-only"],
        &[("LOOP_MCP_TOOLSETS", "accounts")],
    );
    assert_eq!(
        both,
        [
            "whoami",
            "list_owners",
            "search_deals",
            "get_deal",
            "get_forecast"
        ]
    );
    assert_eq!(
        listed_tools(&["tools", "--toolsets", "forecasts,deals", "--read-only"], &[]),
        both
    );
    // The modern era gets the same selection, with its caching fields.
    let modern = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let mut line = modern.to_vec();
    line.push(b'\n');
    let out = run(&["serve", "--toolsets", "deals"], &[], &line, LIMIT);
    let answer = &support::json_lines(&out.stdout)[0]["result"];
    let names: Vec<&str> = answer["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, deals);
    assert!(
        answer["ttlMs"].is_number() && answer["cacheScope"].is_string(),
        "{answer}"
    );
    assert_eq!(answer["resultType"], "complete");
    // `all` and the default are the full catalog, in the same order.
    let all = served_tools(&["serve"], &[]);
    assert_eq!(all.len(), 14);
    assert_eq!(served_tools(&["serve", "--toolsets", "all"], &[]), all);
    assert_eq!(served_tools(&["serve"], &[("LOOP_MCP_TOOLSETS", "all")]), all);

    // A tool outside the toolsets is refused without a request.
    let (fake, cfg) = support::setup("toolsets-call");
    let env = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut s = support::Session::start(&["serve", "--toolsets", "accounts"], &env);
    let r = s.call("get_forecast", serde_json::json!({"period": "2026-Q3"}));
    assert!(support::is_error(&r));
    assert!(
        support::text(&r)
            .starts_with("get_forecast is not enabled: this server runs with the toolsets context, accounts"),
        "{}",
        support::text(&r)
    );
    let ok = s.call("search_accounts", serde_json::json!({}));
    assert!(!support::is_error(&ok), "{}", support::text(&ok));
    drop(s);
    assert_eq!(fake.requests(support::fake::Route::Api("forecast.get")), 0);

    // status shows what a client starting the entry gets.
    let mut doc = cfg.read();
    doc["mcpServers"]["loop-operations"]["args"] =
        serde_json::json!(["serve", "--toolsets", "deals", "--read-only"]);
    std::fs::write(&cfg.path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let st = cli(&["status"], &env);
    let text = stdout(&st);
    assert!(
        text.contains("read-only:     on: the tools that change records are hidden and refused [entry args]"),
        "{text}"
    );
    assert!(
        text.contains("toolsets:      context, deals [entry args]"),
        "{text}"
    );
    assert!(
        text.contains("tools:         4 of 14 (toolsets context, deals; read-only)"),
        "{text}"
    );
    let j = cli(&["status", "--json"], &env);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        v["offered"]["tools"],
        serde_json::json!(["whoami", "list_owners", "search_deals", "get_deal"])
    );
    let by_env = cli(&["status", "--json"], &[env[0], ("LOOP_MCP_READ_ONLY", "1")]);
    let v: serde_json::Value = serde_json::from_slice(&by_env.stdout).unwrap();
    assert_eq!(
        v["offered"]["readOnlySource"], "entry args",
        "the entry's flag is what serve sees first"
    );
}

#[test]
fn an_unknown_toolset_stops_the_server_at_start_with_the_valid_list() {
    let valid = "the toolsets are: context, deals, pipeline, forecasts, accounts, activities, or all";
    let flag = run(&["serve", "--toolsets", "deals,crm"], &[], b"", LIMIT);
    assert_eq!(flag.status.code(), Some(2));
    assert_eq!(
        stderr(&flag),
        format!("error: --toolsets: unknown toolset 'crm'; {valid}\n")
    );
    assert!(flag.stdout.is_empty());
    let env = run(
        &["serve"],
        &[("LOOP_MCP_TOOLSETS", "Pipeline, bogus")],
        b"",
        LIMIT,
    );
    assert_eq!(env.status.code(), Some(2));
    assert_eq!(
        stderr(&env),
        format!("error: LOOP_MCP_TOOLSETS: unknown toolset 'bogus'; {valid}\n")
    );
    let tools = cli(&["tools", "--toolsets", "nope"], &[]);
    assert_eq!(tools.status.code(), Some(2));
    assert!(stderr(&tools).contains(valid), "{}", stderr(&tools));
}

#[test]
fn login_records_read_only_and_toolsets_in_the_entry() {
    let fake = support::fake::Fake::start();
    fake.set_device_interval(0);
    let dir = support::temp_dir("login-flags");
    let path = dir.join("mcp.json");
    let base = [
        "login".to_string(),
        "--issuer".into(),
        fake.custom_issuer(),
        "--client-id".into(),
        support::fake::Fake::CLIENT_ID.into(),
        "--api-url".into(),
        fake.api_url(),
        "--config".into(),
        path.display().to_string(),
    ];
    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.extend(["--read-only", "--toolsets", "Deals,forecasts"]);
    let out = cli(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read =
        || -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap() };
    let p = path.display().to_string();
    assert_eq!(
        read()["mcpServers"]["loop-operations"]["args"],
        serde_json::json!([
            "serve",
            "--read-only",
            "--toolsets",
            "deals,forecasts",
            "--config",
            p
        ])
    );
    // Signing in again keeps them; `--toolsets all` removes the toolsets.
    let again = cli(&["login", "--config", &p], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        read()["mcpServers"]["loop-operations"]["args"],
        serde_json::json!([
            "serve",
            "--read-only",
            "--toolsets",
            "deals,forecasts",
            "--config",
            p
        ])
    );
    let all = cli(&["login", "--config", &p, "--toolsets", "all"], &[]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    assert_eq!(
        read()["mcpServers"]["loop-operations"]["args"],
        serde_json::json!(["serve", "--read-only", "--config", p])
    );
    let bad = cli(&["login", "--config", &p, "--toolsets", "crm"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown toolset 'crm'"), "{}", stderr(&bad));
    for o in [&out, &again, &all] {
        support::assert_no_secrets(o, &fake.issued_secrets());
    }
}

fn login_args(fake: &support::fake::Fake, path: &std::path::Path) -> Vec<String> {
    vec![
        "login".into(),
        "--issuer".into(),
        fake.custom_issuer(),
        "--client-id".into(),
        support::fake::Fake::CLIENT_ID.into(),
        "--api-url".into(),
        fake.api_url(),
        "--config".into(),
        path.display().to_string(),
    ]
}

/// A stand-in `xdg-open` that records the link it was given.
#[cfg(unix)]
fn fake_opener(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("opened.txt");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    (path, log)
}

#[cfg(unix)]
#[test]
fn login_opens_the_browser_at_the_link_and_shows_code_and_minutes() {
    let fake = support::fake::Fake::start();
    fake.set_device_interval(0);
    let dir = support::temp_dir("login-browser");
    let (path, opened) = fake_opener(&dir);
    let cfg = dir.join("mcp.json");
    let args = login_args(&fake, &cfg);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&args, &[("PATH", &path), ("DISPLAY", ":0")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let link = format!("{}/activate?user_code=ABCD-EFGH", fake.base());
    assert_eq!(std::fs::read_to_string(&opened).unwrap(), format!("{link}\n"));
    let e = stderr(&out);
    assert!(e.contains("Opened Okta's sign-in page in your browser"), "{e}");
    assert!(e.contains(&link), "the link is shown too: {e}");
    assert!(e.contains("shows the code ABCD-EFGH"), "{e}");
    assert!(e.contains("The code is valid for 10 minutes."), "{e}");
    let o = stdout(&out);
    assert!(o.contains("Signed in as Dana Analyst"), "{o}");
    assert!(o.contains("loopops-mcp install claude-desktop"), "{o}");
    assert!(!o.contains("--config)"), "no advice to hand-edit: {o}");
    support::assert_no_secrets(&out, &fake.issued_secrets());

    // --no-browser, or no display: nothing is opened, the link is to be opened by hand.
    std::fs::remove_file(&opened).unwrap();
    for extra in [vec![("DISPLAY", ":0")], vec![]] {
        let mut a = args.clone();
        if !extra.is_empty() {
            a.push("--no-browser");
        }
        let mut env = vec![("PATH", path.as_str())];
        env.extend(extra);
        let out = cli(&a, &env);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(!opened.exists(), "{a:?}");
        assert!(
            stderr(&out).contains("open this page in a browser"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn login_json_gives_link_code_and_expiry_on_stdout() {
    let fake = support::fake::Fake::start();
    fake.set_device_interval(0);
    let dir = support::temp_dir("login-json");
    let cfg = dir.join("mcp.json");
    let mut args = login_args(&fake, &cfg);
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = support::json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    let first = &lines[0];
    assert_eq!(first["status"], "waiting");
    assert_eq!(first["userCode"], "ABCD-EFGH");
    assert_eq!(first["verificationUri"], format!("{}/activate", fake.base()));
    assert_eq!(
        first["verificationUriComplete"],
        format!("{}/activate?user_code=ABCD-EFGH", fake.base())
    );
    assert_eq!(first["expiresIn"], 600);
    let at = first["expiresAt"].as_str().unwrap();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );
    assert_eq!(lines[1]["signedIn"], true);
    assert_eq!(lines[1]["user"]["name"], "Dana Analyst");
    support::assert_no_secrets(&out, &fake.issued_secrets());
}

fn okta_answer(status: u16, body: &str, content_type: &'static str) -> support::fake::Fault {
    support::fake::Fault::Status {
        status,
        body: body.into(),
        content_type,
        headers: Vec::new(),
    }
}

#[test]
fn login_failures_say_what_to_fix_without_claiming_a_session() {
    let cases = [
        (
            okta_answer(
                400,
                r#"{"error":"unauthorized_client","error_description":"The client is not authorized to use the provided grant type. Configured grant types: [authorization_code, refresh_token]."}"#,
                "application/json",
            ),
            "enable the Device Authorization grant (and Refresh Token) for the app with client id",
        ),
        (okta_answer(404, "", "text/plain"), "Okta answered HTTP 404 at "),
        (
            okta_answer(400, "<html><body>Bad</body></html>", "text/html"),
            "Check --issuer: it looks like https://ORG.okta.com/oauth2/default",
        ),
        (
            okta_answer(
                400,
                r#"{"error":"invalid_scope","error_description":"One or more scopes are not configured for the authorization server resource."}"#,
                "application/json",
            ),
            "Okta refused the scopes openid profile offline_access",
        ),
    ];
    for (fault, says) in cases {
        let fake = support::fake::Fake::start();
        fake.push_fault(support::fake::Route::Device, fault);
        let dir = support::temp_dir("login-okta-errors");
        let cfg = dir.join("mcp.json");
        let args = login_args(&fake, &cfg);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // An empty HOME: no session anywhere.
        let out = cli(&args, &[("HOME", dir.to_str().unwrap())]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(e.starts_with("error: "), "{e}");
        assert!(e.contains(says), "{says:?} in {e}");
        for wrong in ["still signed in", "in a terminal", "restart the MCP client"] {
            assert!(!e.contains(wrong), "{wrong:?} in {e}");
        }
        assert!(e.matches("HTTP 404").count() <= 1, "{e}");
        assert!(!cfg.exists(), "nothing written");
    }
}

#[test]
fn a_scheme_less_issuer_gets_https_and_bad_schemes_name_the_flag() {
    let fake = support::fake::Fake::start();
    let dir = support::temp_dir("login-scheme");
    let cfg = dir.join("mcp.json");
    let mut args = login_args(&fake, &cfg);
    let typed = fake.custom_issuer().replace("http://", "");
    args[2] = typed.clone();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&a, &[]);
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "note: --issuer (OKTA_ISSUER) has no scheme; using https://{typed}"
        )),
        "{e}"
    );
    // The fake speaks plain HTTP, so TLS fails: at the URL the user typed, with https.
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains(&format!("https://{typed}")) || e.contains("TLS"),
        "{e}"
    );
    for (issuer, says) in [
        (
            "ftp://acme.okta.com",
            "--issuer (OKTA_ISSUER) must be an https:// URL, not ftp://",
        ),
        (
            "http://acme.okta.com/oauth2/default",
            "--issuer (OKTA_ISSUER): http://acme.okta.com/oauth2/default uses http://",
        ),
    ] {
        args[2] = issuer.into();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli(&a, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(!stderr(&out).contains("/v1/token"), "no URL the user never typed");
    }
}

#[test]
fn help_okta_prints_the_readme_guide() {
    let out = cli(&["help", "okta"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains(text.trim_end()), "the same text as README.md");
    assert!(text.starts_with("## For IT: setting up Okta"), "{text}");
    for needed in [
        "Device Authorization",
        "openid profile offline_access",
        "grace period",
        "status --check",
    ] {
        assert!(text.contains(needed), "{needed}");
    }
}

#[test]
fn status_check_says_an_okta_http_status_once() {
    let (fake, cfg) = support::setup("status-404");
    fake.push_fault(
        support::fake::Route::Token,
        okta_answer(404, "{}", "application/json"),
    );
    let env = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = cli(&["status", "--check", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = v["check"]["error"].as_str().unwrap();
    assert_eq!(v["check"]["failedStep"], "okta");
    assert_eq!(e.matches("404").count(), 1, "{e}");
}

#[test]
fn login_json_reports_a_denial_on_stdout_too() {
    let fake = support::fake::Fake::start();
    fake.set_device_interval(0);
    fake.script_device(vec![DeviceStep::Deny]);
    let dir = support::temp_dir("login-json-denied");
    let mut args = login_args(&fake, &dir.join("mcp.json"));
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    let lines = support::json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    assert_eq!(lines[0]["status"], "waiting");
    assert_eq!(lines[1]["signedIn"], false);
    assert!(
        lines[1]["error"].as_str().unwrap().contains("denied"),
        "{}",
        lines[1]
    );
    assert!(
        stderr(&out).contains("error: sign-in was denied"),
        "{}",
        stderr(&out)
    );
    support::assert_no_secrets(&out, &fake.issued_secrets());
}
