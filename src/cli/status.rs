//! `status [--check]`: what is configured and where it comes from; with `--check`,
//! sign in for real (persisting a rotation safely) and call `whoami`, naming the step
//! that fails. Never prints a token.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::api::tools;
use crate::auth::okta;
use crate::auth::settings::{
    API_TIMEOUT_MS, API_URL, OKTA_CLIENT_ID, OKTA_ISSUER, OKTA_REFRESH_TOKEN, Settings,
};
use crate::cli::terminal;
use crate::error::CallContext;

pub struct StatusArgs {
    pub config: Option<PathBuf>,
    pub name: String,
    pub check: bool,
    pub json: bool,
}

/// Exit code: 0 fine, 1 not signed in or a check failed.
pub fn status(args: StatusArgs) -> i32 {
    let settings = match Settings::load(&args.name, args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let config_doc = settings.config.read().ok().flatten();
    let source = |key: &str| -> &'static str {
        if std::env::var(key).is_ok_and(|v| !v.trim().is_empty()) {
            "environment"
        } else if config_doc
            .as_ref()
            .and_then(|d| crate::auth::config_file::stanza_var(d, &args.name, key))
            .is_some()
        {
            "config"
        } else {
            "unset"
        }
    };
    let missing = settings.missing();
    let endpoints = settings.issuer.as_deref().map(okta::endpoints);
    let mut report = json!({
        "config": settings.config.path.display().to_string(),
        "configExists": config_doc.is_some(),
        "name": args.name,
        "apiMode": missing.is_empty(),
        "missing": missing,
        "apiUrl": settings.api_url,
        "issuer": settings.issuer,
        "clientId": settings.client_id,
        "refreshToken": if settings.refresh_token.is_some() { "set" } else { "unset" },
        "timeoutMs": settings.timeout.as_millis() as u64,
        "sources": {
            API_URL: source(API_URL),
            OKTA_ISSUER: source(OKTA_ISSUER),
            OKTA_CLIENT_ID: source(OKTA_CLIENT_ID),
            OKTA_REFRESH_TOKEN: source(OKTA_REFRESH_TOKEN),
            API_TIMEOUT_MS: source(API_TIMEOUT_MS),
        },
    });
    report["offered"] = super::offering::report(config_doc.as_ref(), &args.name);
    if let Some(ep) = &endpoints {
        report["endpoints"] = json!({"token": ep.token, "device": ep.device, "revoke": ep.revoke});
    }
    let mut code = i32::from(!missing.is_empty());
    if args.check {
        let check = run_check(&settings, &args.name);
        code = i32::from(check.get("failedStep").is_some());
        report["check"] = check;
    }
    if args.json {
        println!("{}", terminal::clean_json(&report));
    } else {
        print_human(&report);
    }
    code
}

fn run_check(settings: &Settings, name: &str) -> Value {
    let fail = |step: &str, message: String| json!({"ok": false, "failedStep": step, "error": message});
    let mut client = match tools::client_for(settings, name) {
        Ok(c) => c,
        Err(e) => return fail("settings", e.render(&ctx())),
    };
    if let Err(e) = client.authenticate() {
        return fail("okta", e.render(&ctx()));
    }
    match client.call("viewer.get", crate::catalog::Kind::Query, None, &mut |_| {}) {
        Ok(b) => json!({"ok": true, "user": b.value["user"], "org": b.value["org"]}),
        Err(e) => fail("api", e.render(&ctx())),
    }
}

fn ctx() -> CallContext<'static> {
    CallContext {
        tool: "whoami",
        procedure: "viewer.get",
        is_mutation: false,
    }
}

fn print_human(r: &Value) {
    // Values here come from the config, Okta and the API: shown, never obeyed.
    let s = |v: &Value| {
        v.as_str()
            .map(terminal::clean)
            .unwrap_or_else(|| "(unset)".into())
    };
    let exists = if r["configExists"] == json!(true) {
        ""
    } else {
        " (does not exist)"
    };
    println!("config:        {}{exists}", s(&r["config"]));
    println!("entry:         mcpServers.{}", s(&r["name"]));
    if r["apiMode"] == json!(true) {
        println!("API mode:      on");
    } else {
        let missing: Vec<String> = r["missing"].as_array().into_iter().flatten().map(s).collect();
        println!(
            "API mode:      off: {} not set (run `loopops-mcp login`)",
            missing.join(", ")
        );
    }
    let src = |k: &str| s(&r["sources"][k]);
    println!("API URL:       {} [{}]", s(&r["apiUrl"]), src(API_URL));
    println!("Okta issuer:   {} [{}]", s(&r["issuer"]), src(OKTA_ISSUER));
    if let Some(ep) = r.get("endpoints") {
        println!("  token:       {}", s(&ep["token"]));
        println!("  device:      {}", s(&ep["device"]));
        println!("  revoke:      {}", s(&ep["revoke"]));
    }
    println!("client id:     {} [{}]", s(&r["clientId"]), src(OKTA_CLIENT_ID));
    println!(
        "refresh token: {} [{}]",
        s(&r["refreshToken"]),
        src(OKTA_REFRESH_TOKEN)
    );
    let timeout_src = match src(API_TIMEOUT_MS).as_str() {
        "unset" => "default".to_string(),
        other => other.to_string(),
    };
    println!("timeout:       {} ms [{timeout_src}]", r["timeoutMs"]);
    for line in super::offering::human_lines(&r["offered"]) {
        println!("{line}");
    }
    if let Some(c) = r.get("check") {
        if c["ok"] == json!(true) {
            println!(
                "check:         ok: signed in as {} <{}>, org {} ({})",
                s(&c["user"]["name"]),
                s(&c["user"]["email"]),
                s(&c["org"]["name"]),
                s(&c["org"]["currency"])
            );
        } else {
            println!(
                "check:         FAILED at step `{}`: {}",
                s(&c["failedStep"]),
                s(&c["error"])
            );
        }
    }
}
