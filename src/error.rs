//! Every way a tool call can fail after its arguments were accepted, as one enum,
//! rendered to the text the model (and through it the user) reads, in one place.
//! The kinds are the predecessor's (timeout, network, HTTP, auth, Okta refresh) plus
//! the ones it lacked.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret;

/// Reading, locking or writing the shared config file.
#[derive(Debug)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    Read {
        path: PathBuf,
        error: io::Error,
    },
    /// The file is not JSON (or not a JSON object): we never overwrite it.
    Invalid {
        path: PathBuf,
        detail: String,
    },
    /// Another process held the lock for longer than we wait.
    LockTimeout {
        path: PathBuf,
        waited: Duration,
    },
    Lock {
        path: PathBuf,
        error: io::Error,
    },
    Write {
        path: PathBuf,
        error: io::Error,
    },
    /// Proving the write path failed before a token was spent (auth-notes rule 7):
    /// nothing was sent, the saved sign-in is intact.
    NotWritable {
        path: PathBuf,
        error: io::Error,
    },
    /// No home directory and no `LOOP_MCP_CONFIG`.
    NoHome,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            ConfigError::Invalid { path, detail } => write!(
                f,
                "{} is not a valid JSON config ({detail}); fix it or point LOOP_MCP_CONFIG elsewhere",
                path.display()
            ),
            ConfigError::LockTimeout { path, waited } => write!(
                f,
                "another loopops-mcp process held the lock on {} for over {} s; try again, or look for a hung process",
                path.display(),
                waited.as_secs()
            ),
            ConfigError::Lock { path, error } => write!(f, "cannot lock {}: {error}", path.display()),
            ConfigError::Write { path, error } => write!(f, "cannot write {}: {error}", path.display()),
            ConfigError::NotWritable { path, error } => write!(
                f,
                "cannot save a renewed sign-in: writing {} failed ({error}). The session was not renewed, so the saved sign-in still works. To fix it, make that directory writable for this user and free some disk space, or set LOOP_MCP_STORE to a writable directory",
                path.display()
            ),
            ConfigError::NoHome => write!(
                f,
                "no home directory found; set LOOP_MCP_CONFIG to the config file's path"
            ),
        }
    }
}

/// An in-chat sign-in waiting for the user (Okta's device flow, started by a tool
/// call because no usable refresh token exists). Each era renders it its own way:
/// an `isError` text, a `-32042` URL elicitation, a 2026 `input_required`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInLink {
    /// Where the user approves: `verification_uri_complete`, else `verification_uri`.
    pub url: String,
    pub verification_uri: String,
    /// Not a secret: the user compares it with the page.
    pub user_code: String,
    /// How long the link stays valid from now.
    pub valid_for: Duration,
    /// Stable for one device flow (a digest of its device code, never the code).
    pub elicitation_id: String,
    /// This call started the flow (else it was already waiting for approval).
    pub started: bool,
    /// Why a sign-in is needed, one sentence ("Signed out: …"), for the first answer.
    pub reason: Option<String>,
}

impl ApiError {
    /// Why no usable sign-in exists, in one sentence, when this error says so.
    pub fn sign_in_reason(&self) -> Option<String> {
        match self {
            ApiError::SignedOut { config } => Some(format!(
                "Signed out: the saved sign-in was removed from {} (`loopops-mcp logout`).",
                config.display()
            )),
            ApiError::Okta(OktaError::SignInAgain { detail }) => Some(format!(
                "Signed out: Okta no longer accepts the saved sign-in ({}).",
                secret::scrub(detail.trim_end_matches('.'))
            )),
            _ => None,
        }
    }
}

impl SignInLink {
    /// The one-line request a client shows next to the link (elicitation `message`).
    pub fn message(&self) -> String {
        format!(
            "Sign in to Loop Operations: approve the sign-in on the page that opens (it shows the code {}), then ask again.",
            self.user_code
        )
    }
}

#[derive(Debug)]
pub enum ApiError {
    /// No usable refresh token: a device sign-in is waiting for the user.
    SignInNeeded(Box<SignInLink>),
    /// The device sign-in ended without a token: denied in the browser, or the code
    /// expired before approval. The next call starts a new one.
    SignInEnded {
        denied: bool,
    },
    /// The user ran `loopops-mcp logout` while this process was running.
    SignedOut {
        config: PathBuf,
    },
    /// API mode is off: these variables are unset.
    NotSignedIn {
        missing: Vec<&'static str>,
        config: PathBuf,
    },
    /// No answer within `API_TIMEOUT_MS`.
    Timeout {
        ms: u64,
        maybe_applied: bool,
    },
    /// No connection, or the connection broke.
    Network {
        cause: String,
        maybe_applied: bool,
    },
    /// TLS could not be set up (unknown issuer behind an inspecting proxy, ...).
    Tls {
        cause: String,
    },
    /// A non-2xx answer other than auth and rate limiting.
    Http {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        excerpt: String,
        content_type: String,
    },
    /// 401 even after a token refresh, or 403.
    Auth {
        status: u16,
        message: Option<String>,
    },
    /// 429 (or 503) with a wait longer than we are willing to sleep.
    RateLimited {
        retry_after: Option<u64>,
    },
    /// A 2xx or 3xx answer that is not a tRPC result.
    BadAnswer {
        status: u16,
        detail: String,
    },
    /// The answer was over our size bound.
    TooLarge {
        limit: usize,
    },
    /// The API URL or issuer is unusable.
    BadUrl(String),
    /// The Okta refresh failed.
    Okta(OktaError),
    /// Another process held the sign-in store's lock (renewing the session) for
    /// longer than a tool call may wait.
    RenewalBusy {
        waited: Duration,
    },
    Config(ConfigError),
}

#[derive(Debug)]
pub enum OktaError {
    /// The refresh token is invalid, expired or revoked: sign in again.
    SignInAgain {
        detail: String,
    },
    /// `invalid_client` and friends: OKTA_ISSUER / OKTA_CLIENT_ID are wrong.
    ClientConfig {
        error: String,
        detail: String,
    },
    /// Okta is rate limiting or failing; the refresh token is kept.
    Transient {
        detail: String,
        retry_after: Option<u64>,
    },
    Timeout {
        ms: u64,
    },
    Network {
        cause: String,
    },
    /// The refresh was sent and no answer from Okta came back, even after the one
    /// immediate retry: whether the token was spent is unknown (auth-notes rule 9).
    OutcomeUnknown {
        cause: String,
    },
    Tls {
        cause: String,
    },
    BadAnswer {
        status: u16,
        detail: String,
    },
}

/// What the failing call was, to word the advice.
pub struct CallContext<'a> {
    pub tool: &'a str,
    pub procedure: &'a str,
    pub is_mutation: bool,
}

/// Who reads a rendered message: the model (and through it the user) in a tool
/// result, or the person who typed a one-shot command in a terminal. One process
/// has one audience, so the CLI sets it once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Model,
    Terminal,
}

static TERMINAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_audience(audience: Audience) {
    TERMINAL.store(
        audience == Audience::Terminal,
        std::sync::atomic::Ordering::Relaxed,
    );
}

pub fn audience() -> Audience {
    if TERMINAL.load(std::sync::atomic::Ordering::Relaxed) {
        Audience::Terminal
    } else {
        Audience::Model
    }
}

/// How to sign in, worded for who reads it: the person at a terminal is already in
/// one, and a one-shot command needs no client restart.
fn sign_in_advice() -> &'static str {
    match audience() {
        Audience::Model => "run `loopops-mcp login` in a terminal, then restart the MCP client",
        Audience::Terminal => "run `loopops-mcp login`",
    }
}

impl ApiError {
    pub fn render(&self, ctx: &CallContext<'_>) -> String {
        let text = self.render_raw(ctx);
        secret::scrub(&text)
    }

    fn render_raw(&self, ctx: &CallContext<'_>) -> String {
        let sign_in = sign_in_advice();
        let maybe = "The change may or may not have been applied: check the record (e.g. with get_deal or list_activities) before trying again.";
        match self {
            ApiError::SignInNeeded(link) => {
                let minutes = link.valid_for.as_secs().div_ceil(60).max(1);
                let lead = match (&link.reason, link.started) {
                    (Some(why), true) => format!("{why} Loop Operations needs the user to sign in again."),
                    (None, true) => "Loop Operations needs the user to sign in.".to_string(),
                    (_, false) => "Loop Operations is still waiting for the user to approve the sign-in.".to_string(),
                };
                format!(
                    "{lead} Give the user this link to open and approve: {} (the page shows the code {}; or enter that code at {}). The link is valid for {minutes} minute{}. Ask the user to approve, then ask you again; the next call finishes the sign-in and runs. Do not retry before they say they approved.",
                    link.url,
                    link.user_code,
                    link.verification_uri,
                    if minutes == 1 { "" } else { "s" }
                )
            }
            ApiError::SignInEnded { denied: true } => "The sign-in was denied on the Okta page, so Loop Operations is still not signed in. If the user wants to sign in, ask again: the next call gives a new link.".to_string(),
            ApiError::SignInEnded { denied: false } => "The sign-in link expired before it was approved. Ask again: the next call gives a new link.".to_string(),
            ApiError::NotSignedIn { missing, config } => format!(
                "Loop Operations is not signed in: {} {} not set (in the environment or the `env` of the `loop-operations` entry in {}). To sign in, {sign_in}. `loopops-mcp status` shows what is configured.",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" },
                config.display()
            ),
            ApiError::SignedOut { config } => format!(
                "Signed out: the saved sign-in was removed from {} (`loopops-mcp logout`). To sign in again, {sign_in}.",
                config.display()
            ),
            ApiError::Timeout { ms, maybe_applied } => {
                let mut s = format!("The Loop API did not answer within {ms} ms.");
                if *maybe_applied {
                    let _ = write!(s, " {maybe}");
                } else {
                    s.push_str(
                        " It may be slow or unreachable: try again in a moment, or raise API_TIMEOUT_MS.",
                    );
                }
                s
            }
            ApiError::Network { cause, maybe_applied } => {
                let mut s = format!("Could not reach the Loop API: {cause}.");
                if *maybe_applied {
                    let _ = write!(s, " The connection broke after the request was sent. {maybe}");
                } else {
                    s.push_str(" Check the network connection, VPN or proxy settings (HTTPS_PROXY, NO_PROXY), then try again.");
                }
                s
            }
            ApiError::Tls { cause } => format!(
                "TLS to the Loop API failed: {cause}. Behind a TLS-inspecting proxy, set SSL_CERT_FILE (or NODE_EXTRA_CA_CERTS) to a PEM file with your organization's root certificate."
            ),
            ApiError::Http {
                status,
                code,
                message,
                excerpt,
                content_type,
            } => render_http(
                *status,
                code.as_deref(),
                message.as_deref(),
                excerpt,
                content_type,
                ctx,
            ),
            ApiError::Auth { status: 403, message } => format!(
                "You are signed in but not allowed to do this.{} Ask a Loop Operations admin for access; retrying will not help.",
                api_said(message.as_deref())
            ),
            ApiError::Auth { status, message } => format!(
                "The Loop API rejected the access token (HTTP {status}) even after a refresh.{} To sign in again, {sign_in}.",
                api_said(message.as_deref())
            ),
            ApiError::RateLimited { retry_after } => match retry_after {
                Some(s) => format!("The Loop API is rate limiting requests: try again in {s} s."),
                None => "The Loop API is rate limiting requests: try again in a minute.".to_string(),
            },
            ApiError::BadAnswer { status, detail } => format!(
                "The Loop API answered HTTP {status} with something that is not a tRPC result ({detail}). Check API_URL (it should end in /api/trpc) and any proxy in between."
            ),
            ApiError::TooLarge { limit } => format!(
                "The Loop API's answer was larger than {} MB, so it was not read. Ask for fewer records (a smaller `limit`).",
                limit / (1024 * 1024)
            ),
            ApiError::BadUrl(m) => format!(
                "The configuration is not usable: {m}. Fix API_URL or OKTA_ISSUER (`loopops-mcp status` shows them)."
            ),
            ApiError::Okta(e) => e.render(),
            ApiError::RenewalBusy { waited } => format!(
                "Another loopops-mcp process is renewing the sign-in and did not finish within {} s. Nothing is lost: try again in a moment. If this keeps happening, look for a stopped or hung loopops-mcp process.",
                waited.as_secs()
            ),
            ApiError::Config(e) => format!("The MCP config file is not usable: {e}."),
        }
    }
}

impl OktaError {
    /// The full message, scrubbed of secrets (Okta's own answer can be quoted in it).
    pub fn render(&self) -> String {
        secret::scrub(&self.render_raw())
    }

    /// What went wrong, without advice: for callers that word their own.
    pub fn cause(&self) -> String {
        let text = match self {
            OktaError::SignInAgain { detail } => detail.clone(),
            OktaError::ClientConfig { error, detail } => format!("{error}: {detail}"),
            OktaError::Transient { detail, .. } => detail.clone(),
            OktaError::Timeout { ms } => format!("no answer within {ms} ms"),
            OktaError::OutcomeUnknown { cause } => cause.clone(),
            OktaError::Network { cause } | OktaError::Tls { cause } => cause.clone(),
            OktaError::BadAnswer { status, detail } => format!("HTTP {status}: {detail}"),
        };
        secret::scrub(&text)
    }

    fn render_raw(&self) -> String {
        let sign_in = sign_in_advice();
        match self {
            OktaError::SignInAgain { detail } => format!(
                "Signed out: Okta no longer accepts the saved sign-in ({}). To sign in again, {sign_in}.",
                detail.trim_end_matches('.')
            ),
            OktaError::ClientConfig { error, detail } => format!(
                "Okta rejected this app's configuration ({error}: {detail}). Check OKTA_ISSUER and OKTA_CLIENT_ID (`loopops-mcp status`), then {sign_in}."
            ),
            OktaError::Transient { detail, retry_after } => format!(
                "Okta could not renew the session right now ({detail}); you are still signed in. Try again {}.",
                retry_after
                    .map(|s| format!("in {s} s"))
                    .unwrap_or_else(|| "in a minute".into())
            ),
            OktaError::Timeout { ms } => format!(
                "Okta did not answer within {ms} ms while renewing the session; you are still signed in. Try again in a moment."
            ),
            OktaError::OutcomeUnknown { cause } => format!(
                "Okta's answer to renewing the session was lost ({cause}), even after an immediate retry, so it is not known whether the saved sign-in was renewed. Try again in a moment; if Okta then says the sign-in is no longer valid, {sign_in}."
            ),
            OktaError::Network { cause } => format!(
                "Could not reach Okta to renew the session: {cause}. You are still signed in; check the network, VPN or proxy (HTTPS_PROXY) and try again."
            ),
            OktaError::Tls { cause } => format!(
                "TLS to Okta failed: {cause}. Behind a TLS-inspecting proxy, set SSL_CERT_FILE (or NODE_EXTRA_CA_CERTS) to a PEM file with your organization's root certificate."
            ),
            OktaError::BadAnswer { status, detail } => {
                // The detail is often just "HTTP 404": say the status once.
                let said = if detail.trim() == format!("HTTP {status}") {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                format!(
                    "Okta answered HTTP {status} with something unexpected{said}. Check OKTA_ISSUER; you are still signed in."
                )
            }
        }
    }
}

fn render_http(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    excerpt: &str,
    content_type: &str,
    ctx: &CallContext<'_>,
) -> String {
    // The API's own words are quoted as data, apart from our advice: a record or a
    // message cannot pass itself off as this server speaking.
    let said = api_said(message);
    match (status, code) {
        (_, Some("NOT_FOUND")) | (404, None) => {
            let what = if message.is_some() {
                format!("No such record.{said}")
            } else {
                format!(
                    "The Loop API has no such record (or no procedure {}).",
                    ctx.procedure
                )
            };
            let hint = match ctx.tool {
                "get_deal" | "update_deal_stage" | "set_deal_next_step" => {
                    " Use search_deals to find the deal's id."
                }
                "get_account" => " Use search_accounts to find the account's id.",
                "list_activities" | "log_activity" => " Use search_deals or search_accounts to find the id.",
                "get_forecast" => " Use list_owners to find the owner's id.",
                _ => "",
            };
            format!("{what}{hint}")
        }
        (_, Some("BAD_REQUEST")) | (400, None) => format!(
            "The Loop API rejected the arguments{}.{said} Fix them and call {} again.",
            if message.is_none() {
                " (no reason given)"
            } else {
                ""
            },
            ctx.tool
        ),
        (_, Some("PRECONDITION_FAILED")) | (412, None) => format!(
            "The Loop API refused the change.{said} The record's current state does not allow it; {}",
            match audience() {
                Audience::Model => "read it again (get_deal) and tell the user.",
                Audience::Terminal => "see its current state with `loopops-mcp call get_deal`.",
            }
        ),
        _ => {
            let mut s = format!("The Loop API failed (HTTP {status}");
            if let Some(c) = code {
                let _ = write!(s, " {c}");
            }
            s.push(')');
            s.push('.');
            if message.is_some() {
                s.push_str(&said);
            } else if !content_type.contains("json") && !excerpt.is_empty() {
                // `excerpt` describes the page (`page::describe`), it does not quote it.
                let _ = write!(
                    s,
                    " The answer was {excerpt}: most likely from a proxy or gateway between you and Loop Operations, not from Loop Operations itself."
                );
            }
            if status >= 500 {
                if ctx.is_mutation {
                    s.push_str(
                        " The change was probably not applied, but check the record before trying again.",
                    );
                } else {
                    s.push_str(" This is usually temporary: try again in a minute.");
                }
            }
            s
        }
    }
}

// Quoting what others said.

/// The longest quote of another party's words in one of our messages.
const MAX_QUOTE: usize = 300;

/// ` The Loop API said: "…".` for a message from the API, or nothing.
fn api_said(message: Option<&str>) -> String {
    message
        .map(|m| format!(" The Loop API said: {}.", quote(m)))
        .unwrap_or_default()
}

/// Another party's words as data: in double quotes, on one line, scrubbed of secrets,
/// without control characters or double quotes of their own, and bounded.
pub fn quote(text: &str) -> String {
    format!(
        "\"{}\"",
        secret::quote_safe(text.trim().trim_end_matches('.'), MAX_QUOTE)
    )
}
