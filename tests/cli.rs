//! The command line: login (device flow), logout, status, tools, call, prompt, and
//! usage errors, against the fake Okta/API. No command ever prints a token.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake::{DeviceStep, Fake, Route};
use support::{Config, assert_no_secrets, run};

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

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn login_flags(fake: &Fake) -> Vec<String> {
    vec![
        "login".into(),
        "--issuer".into(),
        fake.custom_issuer(),
        "--client-id".into(),
        Fake::CLIENT_ID.into(),
        "--api-url".into(),
        fake.api_url(),
    ]
}

#[test]
fn login_creates_the_entry_after_pending_and_slow_down() {
    let fake = Fake::start();
    fake.set_device_interval(0);
    fake.script_device(vec![
        DeviceStep::Pending,
        DeviceStep::SlowDown,
        DeviceStep::Approve,
    ]);
    let dir = support::temp_dir("login-new");
    let path = dir.join("sub/mcp.json");
    let mut args = login_flags(&fake);
    args.extend(["--config".into(), path.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ABCD-EFGH"),
        "shows the user code: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("Signed in as Dana Analyst"),
        "{}",
        stdout(&out)
    );
    assert_no_secrets(&out, &fake.issued_secrets());
    // slow_down added 5 s to the interval for the rest of the flow.
    let polls = fake.device_polls();
    assert_eq!(polls.len(), 3);
    assert!(polls[2] - polls[1] >= Duration::from_secs(5));
    let doc = read(&path);
    let entry = &doc["mcpServers"]["loop-operations"];
    assert_eq!(entry["command"], support::BIN_ABS.as_str());
    let command = entry["command"].as_str().unwrap();
    assert!(
        std::path::Path::new(command).is_absolute() && !command.starts_with(r"\\?\"),
        "a path every client can spawn: {command}"
    );
    // Absolute and in the platform's own separators (Windows: `sub\mcp.json`).
    let recorded = std::path::absolute(&path).unwrap();
    assert_eq!(
        entry["args"],
        json!(["serve", "--config", recorded.display().to_string()])
    );
    assert_eq!(
        entry["env"]["OKTA_REFRESH_TOKEN"],
        fake.current_refresh_token().unwrap().as_str()
    );
    assert_eq!(entry["env"]["API_URL"], fake.api_url().as_str());
    support::assert_private(&path);
    // `call` works right after `login`, from the config alone.
    let c = cli(&["call", "whoami", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    let me: Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(me["user"]["name"], "Dana Analyst");
    assert_no_secrets(&c, &fake.issued_secrets());
}

#[test]
fn relogin_updates_only_our_entry_and_reuses_its_values() {
    let fake = Fake::start();
    fake.set_device_interval(0);
    let cfg = Config::new("relogin", &fake, &fake.custom_issuer(), "rt-old-token-00000000");
    let mut doc = cfg.read();
    doc["mcpServers"]["loop-operations"]["args"] = json!(["serve", "--read-only"]);
    std::fs::write(&cfg.path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let before = cfg.read();
    let out = cli(&["login"], &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_secrets(&out, &fake.issued_secrets());
    let after = cfg.read();
    assert_eq!(after["mcpServers"]["github"], before["mcpServers"]["github"]);
    assert_eq!(after["zeta"], before["zeta"]);
    let env = &after["mcpServers"]["loop-operations"]["env"];
    assert_eq!(env["API_TIMEOUT_MS"], "5000", "other variables stay");
    let args = after["mcpServers"]["loop-operations"]["args"].as_array().unwrap();
    assert_eq!(args[0], "serve");
    assert!(
        args.contains(&json!("--read-only")),
        "a read-only entry stays read-only: {args:?}"
    );
    assert!(
        args.contains(&json!("--config")),
        "a non-default config is recorded: {args:?}"
    );
    assert_eq!(
        env["OKTA_REFRESH_TOKEN"],
        fake.current_refresh_token().unwrap().as_str()
    );
    assert_eq!(
        after["mcpServers"]["loop-operations"]["unknownField"],
        json!({"x": null})
    );
    let keys: Vec<_> = after["mcpServers"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["github", "loop-operations", "zzz-last"]);
}

#[test]
fn login_denied_or_expired_fails_and_writes_nothing() {
    for (step, says) in [(DeviceStep::Deny, "denied"), (DeviceStep::Expire, "expired")] {
        let fake = Fake::start();
        fake.set_device_interval(0);
        fake.script_device(vec![DeviceStep::Pending, step]);
        let dir = support::temp_dir("login-fail");
        let path = dir.join("mcp.json");
        let mut args = login_flags(&fake);
        args.extend(["--config".into(), path.display().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli(&args, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(!path.exists());
    }
}

#[test]
fn login_without_settings_is_a_usage_error() {
    let out = cli(&["login", "--config", "/nonexistent/loopops/x.json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("missing --issuer URL, --client-id ID, --api-url URL"),
        "{e}"
    );
    assert!(e.contains("Usage: loopops-mcp login"), "{e}");
}

#[test]
fn logout_revokes_and_removes_the_token() {
    let (fake, cfg) = support::setup("logout");
    let rt = cfg.stored_token();
    let out = cli(&["logout"], &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Okta revoked it"), "{}", stdout(&out));
    assert_eq!(fake.revoked(), vec![rt.clone()]);
    let doc = cfg.read();
    assert_eq!(
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"], "",
        "blanked"
    );
    assert_eq!(
        doc["mcpServers"]["loop-operations"]["env"]["API_URL"],
        fake.api_url().as_str()
    );
    assert_no_secrets(&out, &[rt]);
}

#[test]
fn logout_offline_still_removes_the_token_and_says_revocation_failed() {
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let port = support::closed_port();
    let cfg = Config::new(
        "logout-offline",
        &fake,
        &format!("http://127.0.0.1:{port}/oauth2/default"),
        &rt,
    );
    let out = cli(
        &["logout", "--json"],
        &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signedOut"], true);
    assert_eq!(v["revoked"], false);
    assert_eq!(
        cfg.read()["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
        "",
        "blanked"
    );
    assert_no_secrets(&out, &[rt]);
    // Logging out again is harmless.
    let again = cli(&["logout"], &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("Not signed in"));
}

#[test]
fn status_shows_settings_and_their_sources_without_the_token() {
    let none = cli(&["status"], &[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stdout(&none)
            .contains("API mode:      off: API_URL, OKTA_ISSUER, OKTA_CLIENT_ID, OKTA_REFRESH_TOKEN not set"),
        "{}",
        stdout(&none)
    );

    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let cfg = Config::new("status", &fake, &fake.org_issuer(), &rt);
    let env = [
        ("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap()),
        ("API_TIMEOUT_MS", "1234"),
    ];
    let out = cli(&["status", "--json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["apiMode"], true);
    assert_eq!(
        v["endpoints"]["token"],
        format!("{}/oauth2/v1/token", fake.base())
    );
    assert_eq!(v["sources"]["API_TIMEOUT_MS"], "environment");
    assert_eq!(v["sources"]["OKTA_REFRESH_TOKEN"], "config");
    assert_eq!(v["timeoutMs"], 1234);
    assert_no_secrets(&out, &[rt]);
    assert_eq!(fake.requests(Route::Token), 0, "plain status makes no request");
}

#[test]
fn status_check_signs_in_or_names_the_failing_step() {
    let (fake, cfg) = support::setup("check");
    let env = [("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())];
    let ok = cli(&["status", "--check"], &env);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(
        stdout(&ok).contains("check:         ok: signed in as Dana Analyst"),
        "{}",
        stdout(&ok)
    );
    assert_eq!(
        cfg.stored_token(),
        fake.current_refresh_token().unwrap(),
        "the rotation was saved"
    );
    assert_no_secrets(&ok, &fake.issued_secrets());

    let port = support::closed_port();
    cfg.set_var("API_URL", &format!("http://127.0.0.1:{port}/api/trpc"));
    let api = cli(&["status", "--check"], &env);
    assert_eq!(api.status.code(), Some(1));
    assert!(stdout(&api).contains("FAILED at step `api`"), "{}", stdout(&api));

    // A token Okta does not know, and no sign-in store to fall back on.
    cfg.set_var("OKTA_REFRESH_TOKEN", "rt-not-a-real-token-000");
    let empty_store = support::temp_dir("check-store");
    let okta = cli(
        &["status", "--check", "--json"],
        &[env[0], ("LOOP_MCP_STORE", empty_store.to_str().unwrap())],
    );
    assert_eq!(okta.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&okta.stdout).unwrap();
    assert_eq!(v["check"]["failedStep"], "okta");
    assert!(v["check"]["error"].as_str().unwrap().starts_with("Signed out"));
    assert_no_secrets(&okta, &fake.issued_secrets());
}

#[test]
fn call_exit_codes() {
    let (fake, cfg) = support::setup("call");
    let env = [("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())];
    let ok = cli(&["call", "get_deal", r#"{"dealId":"deal_001"}"#], &env);
    assert_eq!(ok.status.code(), Some(0));
    let missing = cli(&["call", "get_deal", r#"{"dealId":"deal_zzz"}"#], &env);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("Use search_deals"),
        "{}",
        stderr(&missing)
    );
    let invalid = cli(&["call", "get_deal", r#"{"dealId":5}"#], &env);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(
        stderr(&invalid).contains("`dealId` must be a string"),
        "{}",
        stderr(&invalid)
    );
    let whole = cli(&["call", "get_deal", r#"{"dealId":"deal_001"}"#, "--json"], &env);
    let v: Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert!(v["structuredContent"].is_object() && v["content"].is_array());
    assert_eq!(cli(&["call", "nope"], &env).status.code(), Some(2));
    assert_eq!(cli(&["call", "whoami", "{not json"], &env).status.code(), Some(2));
    assert_eq!(cli(&["call", "whoami", "[1]"], &env).status.code(), Some(2));
    let piped = run(
        &["call", "get_deal", "-"],
        &env,
        br#"{"dealId":"deal_002"}"#,
        LIMIT,
    );
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    for o in [&ok, &missing, &whole, &piped] {
        assert_no_secrets(o, &fake.issued_secrets());
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &["frobnicate"][..],
        &["serve", "--bogus"],
        &["status", "extra"],
        &["login", "--issuer"],
    ] {
        let out = cli(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with("error: "), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("Usage: loopops-mcp"), "{args:?}");
    }
    for args in [
        &["--help"][..],
        &["help"],
        &["login", "--help"],
        &["status", "-h"],
        &["call", "--help"],
        &["serve", "--help"],
    ] {
        let out = cli(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(stdout(&out).contains("Usage: loopops-mcp"), "{args:?}");
    }
    let v = cli(&["--version"], &[]);
    assert_eq!(stdout(&v), format!("loopops-mcp {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn tools_and_prompt_commands() {
    let t = cli(&["tools"], &[]);
    assert_eq!(t.status.code(), Some(0));
    assert_eq!(stdout(&t).lines().count(), 14);
    assert!(stdout(&t).contains("update_deal_stage      write  Update a deal's stage"));
    let j = cli(&["tools", "--json"], &[]);
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["tools"].as_array().unwrap().len(), 14);
    let p = cli(&["prompt", "pipeline_review", "period=2026-Q3"], &[]);
    assert_eq!(p.status.code(), Some(0));
    assert!(stdout(&p).starts_with("Run a pipeline review for 2026-Q3"));
    let bad = cli(&["prompt", "deal_risk_review"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("needs the argument `deal`"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_login_writes_nothing() {
    let fake = Fake::start();
    fake.set_device_interval(1);
    fake.script_device(vec![DeviceStep::Pending]);
    let dir = support::temp_dir("login-ctrl-c");
    let path = dir.join("mcp.json");
    std::fs::write(&path, r#"{"mcpServers":{"other":{"command":"x"}}}"#).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut args = login_flags(&fake);
    args.extend(["--config".into(), path.display().to_string()]);
    let child = support::command(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is polling, then interrupt it.
    assert!(support::wait_for(LIMIT, || !fake.device_polls().is_empty()));
    support::send_signal(child.id(), "-INT");
    let out = support::wait_with_limit(child, LIMIT);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&path).unwrap(), before, "the config is untouched");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp or lock file: {names:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_refresh_dies_of_sigint_after_saving_the_new_token() {
    use std::os::unix::process::ExitStatusExt;
    let (fake, cfg) = support::setup("ctrl-c-refresh");
    fake.push_fault(
        Route::Token,
        support::fake::Fault::Delay(Duration::from_millis(700)),
    );
    let child = support::command(
        &["status", "--check"],
        &[("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    assert!(support::wait_for(LIMIT, || fake.requests(Route::Token) > 0));
    support::send_signal(child.id(), "-INT");
    let out = support::wait_with_limit(child, LIMIT);
    assert_eq!(
        out.status.signal(),
        Some(2),
        "dies of SIGINT, as shells expect: {:?}",
        out.status
    );
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        cfg.stored_token(),
        fake.current_refresh_token().unwrap(),
        "the rotated token was saved first"
    );
}
