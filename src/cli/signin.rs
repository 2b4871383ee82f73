//! `login` and `logout`: put a refresh token into the config entry, or take it out,
//! without Node. Writes use the same lock and atomic replace as token rotation.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::api::trpc;
use crate::auth::config_file::{self, ConfigError, ConfigFile};
use crate::auth::okta::{self, DevicePoll, Endpoints};
use crate::auth::settings::{API_URL, DEFAULT_TIMEOUT_MS, OKTA_CLIENT_ID, OKTA_ISSUER, OKTA_REFRESH_TOKEN};
use crate::auth::store::{self, Store};
use crate::cli::entry;
use crate::cli::login_ui;
use crate::cli::offering::EntryFlags;
use crate::cli::terminal;
use crate::net::http::{self, Http};
use crate::secret::Secret;

pub struct LoginArgs {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub api_url: Option<String>,
    pub config: Option<PathBuf>,
    pub name: String,
    /// Record `--read-only` in the entry (kept if it is there already).
    pub read_only: bool,
    /// Record `--toolsets` in the entry (`all` removes it; kept if not given).
    pub toolsets: Option<String>,
    /// Print the link instead of opening the browser.
    pub no_browser: bool,
    pub json: bool,
}

/// How a command ended, for the exit code: 0, 1 (failed), 2 (usage).
pub enum Outcome {
    Done,
    Failed(String),
    Usage(String),
}

const LOCK_WAIT: Duration = Duration::from_secs(65);

/// The config file these commands work on, and its contents if it exists.
fn open_config(given: Option<&std::path::Path>) -> Result<(ConfigFile, Option<Value>), Outcome> {
    let failed = |e: ConfigError| Outcome::Failed(e.to_string());
    let config = ConfigFile::locate(given).map_err(failed)?;
    let doc = config.read().map_err(failed)?;
    Ok((config, doc))
}

pub fn login(args: LoginArgs) -> Outcome {
    let (config, existing) = match open_config(args.config.as_deref()) {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    // Flags first, then what the entry already has, then the environment.
    let default = |flag: &Option<String>, key: &str| {
        flag.clone()
            .or_else(|| {
                existing
                    .as_ref()
                    .and_then(|d| config_file::stanza_var(d, &args.name, key))
            })
            .or_else(|| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
            .map(|v| v.trim().to_string())
    };
    let (issuer, client_id, api_url) = (
        default(&args.issuer, OKTA_ISSUER),
        default(&args.client_id, OKTA_CLIENT_ID),
        default(&args.api_url, API_URL),
    );
    let (Some(issuer), Some(client_id), Some(api_url)) = (issuer, client_id, api_url) else {
        let mut missing = Vec::new();
        if default(&args.issuer, OKTA_ISSUER).is_none() {
            missing.push("--issuer URL");
        }
        if default(&args.client_id, OKTA_CLIENT_ID).is_none() {
            missing.push("--client-id ID");
        }
        if default(&args.api_url, API_URL).is_none() {
            missing.push("--api-url URL");
        }
        return Outcome::Usage(format!(
            "missing {} (not given, and not in the `{}` entry of {})",
            missing.join(", "),
            args.name,
            config.path.display()
        ));
    };
    let toolsets_given = match entry::toolsets_flag(args.toolsets.as_deref()) {
        Ok(t) => t,
        Err(e) => return Outcome::Usage(e),
    };
    // Check the URLs the user gave, by the names they gave them.
    let mut urls: Vec<String> = Vec::new();
    for (value, what) in [
        (&issuer, "--issuer (OKTA_ISSUER)"),
        (&api_url, "--api-url (API_URL)"),
    ] {
        match login_ui::with_scheme(value, what) {
            Ok(url) => match http::check_url(&url) {
                Err(http::Failure::BadUrl(why)) => return Outcome::Usage(format!("{what}: {why}")),
                _ => urls.push(url),
            },
            Err(e) => return Outcome::Usage(e),
        }
    }
    let (issuer, api_url) = (urls[0].clone(), urls[1].clone());
    let endpoints = okta::endpoints(&issuer);
    let http = Http::new(Duration::from_millis(DEFAULT_TIMEOUT_MS));
    let prompt = login_ui::Prompt {
        json: args.json,
        no_browser: args.no_browser,
    };
    let refresh_token = match device_sign_in(&http, &endpoints, &client_id, &prompt) {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(e),
    };
    let exe = entry::command();
    // What the entry had stays unless the flags change it: a read-only entry stays
    // read-only when the user signs in again.
    let before = EntryFlags::of_entry(existing.as_ref(), &args.name);
    let flags = EntryFlags {
        read_only: args.read_only || before.read_only,
        toolsets: match &args.toolsets {
            Some(_) => toolsets_given.clone(),
            None => before.toolsets,
        },
    };
    let serve_args = entry::serve_args(&flags, &args.name, &config);
    let vars = [
        (API_URL, api_url.as_str()),
        (OKTA_ISSUER, issuer.as_str()),
        (OKTA_CLIENT_ID, client_id.as_str()),
        (OKTA_REFRESH_TOKEN, refresh_token.1.expose()),
    ];
    let written = update_entry(&config, &args.name, |stanza| {
        stanza.insert("command".into(), json!(exe));
        stanza.insert("args".into(), Value::Array(serve_args.clone()));
        let env = stanza.entry("env").or_insert_with(|| Value::Object(Map::new()));
        if !env.is_object() {
            *env = Value::Object(Map::new());
        }
        let env = env.as_object_mut().expect("just made an object");
        for (k, v) in vars {
            env.insert(k.into(), json!(v));
        }
    });
    if let Err(e) = written {
        return Outcome::Failed(format!("signed in, but the config could not be written: {e}"));
    }
    // The store learns the fresh token too, so that every source's older token is
    // spent from now on (auth-notes rule 8).
    if let Err(e) = Store::locate().and_then(|st| {
        st.update(&store::key(&endpoints.token, &client_id), LOCK_WAIT, |l| {
            l.set_current(Some(&refresh_token.1))
        })
    }) {
        eprintln!(
            "{}",
            terminal::clean(&format!(
                "warning: the sign-in store could not record the new sign-in: {e}"
            ))
        );
    }
    let who = match &refresh_token.0 {
        Some(access) => whoami(&http, &api_url, access),
        None => Err("Okta's answer had no access token".into()),
    };
    if args.json {
        let mut out =
            json!({"signedIn": true, "config": config.path.display().to_string(), "name": args.name});
        if let Ok(v) = &who {
            out["user"] = v["user"].clone();
            out["org"] = v["org"].clone();
        }
        println!("{}", terminal::clean_json(&out));
    } else {
        match &who {
            Ok(v) => println!(
                "Signed in as {} ({}) to {}.",
                terminal::clean(v["user"]["name"].as_str().unwrap_or("?")),
                terminal::clean(v["user"]["email"].as_str().unwrap_or("?")),
                terminal::clean(v["org"]["name"].as_str().unwrap_or("Loop Operations"))
            ),
            Err(e) => println!("Signed in. (Checking the API failed: {})", terminal::clean(e)),
        }
        println!(
            "Saved the sign-in in the `{}` entry of {}. MCP clients you added with `loopops-mcp install` use it once restarted; to add one: `loopops-mcp install claude-desktop` (or claude-code, cursor, vscode).",
            args.name,
            config.path.display()
        );
    }
    Outcome::Done
}

/// The device grant (RFC 8628): show the code, poll until approved, denied or expired.
/// Returns (access token, refresh token).
fn device_sign_in(
    http: &Http,
    ep: &Endpoints,
    client_id: &str,
    prompt: &login_ui::Prompt,
) -> Result<(Option<Secret>, Secret), String> {
    let start = okta::device_authorize(http, ep, client_id)
        .map_err(|e| login_ui::failure(&e, login_ui::Step::Start, ep, client_id))?;
    prompt.show(&start);
    let deadline = Instant::now() + Duration::from_secs(start.expires_in);
    let mut interval = Duration::from_secs(start.interval);
    loop {
        if Instant::now() >= deadline {
            return Err(
                "the sign-in code expired before it was approved; run `loopops-mcp login` again".into(),
            );
        }
        std::thread::sleep(interval);
        prompt.waiting(deadline.saturating_duration_since(Instant::now()));
        match okta::device_poll(http, ep, client_id, &start.device_code) {
            DevicePoll::Pending => {}
            // RFC 8628 §3.5: the slower interval stays for the rest of the flow.
            DevicePoll::SlowDown => {
                interval = (interval + Duration::from_secs(5)).min(Duration::from_secs(okta::MAX_INTERVAL))
            }
            DevicePoll::Denied => return Err("sign-in was denied in the browser".into()),
            DevicePoll::Expired => {
                return Err(
                    "the sign-in code expired before it was approved; run `loopops-mcp login` again".into(),
                );
            }
            DevicePoll::Failed(e) => return Err(login_ui::failure(&e, login_ui::Step::Poll, ep, client_id)),
            DevicePoll::Approved(tokens) => {
                return match tokens.refresh_token {
                    Some(rt) => Ok((tokens.access_token, rt)),
                    None => Err("Okta approved the sign-in but issued no refresh token: the Okta app needs the Refresh Token grant and the offline_access scope".into()),
                };
            }
        }
    }
}

fn whoami(http: &Http, api_url: &str, access: &Secret) -> Result<Value, String> {
    let url = format!("{}/viewer.get", api_url.trim_end_matches('/'));
    let bearer = format!("Bearer {}", access.expose());
    let reply = http
        .send(
            "GET",
            &url,
            &[("authorization", &bearer), ("accept", "application/json")],
            http::Body::None,
            trpc::MAX_BODY,
        )
        .map_err(|f| format!("{f:?}"))?;
    trpc::interpret(reply).map_err(|e| {
        e.render(&crate::error::CallContext {
            tool: "whoami",
            procedure: "viewer.get",
            is_mutation: false,
        })
    })
}

/// Change our entry under the lock, re-reading the file first; create it if missing.
pub fn update_entry(
    config: &ConfigFile,
    name: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) -> Result<(), ConfigError> {
    if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        config_file::create_private_dir_all(dir).map_err(|error| ConfigError::Write {
            path: dir.to_path_buf(),
            error,
        })?;
    }
    config.with_lock(LOCK_WAIT, || {
        let mut doc = config.read()?.unwrap_or_else(|| json!({}));
        let stanza = config_file::stanza_mut(&mut doc, name).ok_or_else(|| ConfigError::Invalid {
            path: config.path.clone(),
            detail: format!("`mcpServers` or `mcpServers.{name}` is not an object"),
        })?;
        change(stanza);
        config.write(&doc)
    })?
}

pub struct LogoutArgs {
    pub config: Option<PathBuf>,
    pub name: String,
    pub json: bool,
}

pub fn logout(args: LogoutArgs) -> Outcome {
    let (config, doc) = match open_config(args.config.as_deref()) {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    let var = |k: &str| {
        doc.as_ref()
            .and_then(|d| config_file::stanza_var(d, &args.name, k))
    };
    let not_signed_in = || {
        report(
            args.json,
            json!({"signedOut": true, "revoked": false, "wasSignedIn": false}),
            &format!(
                "Not signed in: the `{}` entry of {} holds no refresh token.",
                args.name,
                config.path.display()
            ),
        );
        Outcome::Done
    };
    if var(OKTA_REFRESH_TOKEN).is_none() {
        return not_signed_in();
    }
    // Blank the token under the lock, so that the one revoked is the one stored at
    // that moment (a running server may have just rotated it). Removing it locally
    // must happen whatever the network does.
    let mut taken: Option<Secret> = None;
    if let Err(e) = update_entry(&config, &args.name, |stanza| {
        if let Some(env) = stanza.get_mut("env").and_then(Value::as_object_mut) {
            // Blanked rather than removed: a running server then knows the user
            // signed out, and must not write its own token back.
            taken = env
                .insert(OKTA_REFRESH_TOKEN.into(), Value::String(String::new()))
                .and_then(|v| v.as_str().filter(|t| !t.is_empty()).map(Secret::new));
        }
    }) {
        return Outcome::Failed(format!(
            "could not remove the token from {}: {e}",
            config.path.display()
        ));
    }
    let Some(token) = taken else {
        return not_signed_in();
    };
    let revoked = match (var(OKTA_ISSUER), var(OKTA_CLIENT_ID)) {
        (Some(issuer), Some(client_id)) => {
            let endpoints = okta::endpoints(&issuer);
            // Every process must see this sign-in as spent, whatever source gave it
            // the token; the store's newest (maybe newer than the file's) goes too.
            let newest = Store::locate()
                .and_then(|st| {
                    st.update(&store::key(&endpoints.token, &client_id), LOCK_WAIT, |l| {
                        let newest = l.current();
                        l.retire(token.expose());
                        l.set_current(None);
                        newest
                    })
                })
                .unwrap_or_else(|e| {
                    eprintln!(
                        "{}",
                        terminal::clean(&format!(
                            "warning: the sign-in store could not record the sign-out: {e}"
                        ))
                    );
                    None
                });
            let http = Http::new(Duration::from_secs(10));
            let mut result = okta::revoke(&http, &endpoints, &client_id, &token).map_err(|e| e.cause());
            if let Some(newest) = newest.filter(|n| *n != token) {
                result =
                    result.and(okta::revoke(&http, &endpoints, &client_id, &newest).map_err(|e| e.cause()));
            }
            result
        }
        _ => Err("OKTA_ISSUER or OKTA_CLIENT_ID is not in the entry".into()),
    };
    let local = format!(
        "Signed out: removed the refresh token from {}.",
        config.path.display()
    );
    match revoked {
        Ok(()) => report(
            args.json,
            json!({"signedOut": true, "revoked": true}),
            &format!("{local} Okta revoked it."),
        ),
        Err(why) => report(
            args.json,
            json!({"signedOut": true, "revoked": false, "revokeError": why}),
            &format!(
                "{local}\nwarning: revoking it at Okta failed, so it stays valid until it expires: {why}"
            ),
        ),
    }
    Outcome::Done
}

fn report(json_out: bool, value: Value, human: &str) {
    if json_out {
        println!("{}", terminal::clean_json(&value));
    } else {
        println!("{}", terminal::clean(human));
    }
}
