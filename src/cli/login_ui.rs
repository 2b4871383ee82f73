//! What `login` says to the person at the terminal: the code, the link and how long
//! it stays valid (or the same as JSON for a script), the browser it opens, and each
//! Okta failure worded for someone who just typed `login` (not for the model, not
//! as if a session existed). The device flow itself is in `signin`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::auth::okta::{DeviceStart, Endpoints};
use crate::cli::browser;
use crate::cli::terminal;
use crate::error::OktaError;

/// How to present the sign-in.
pub struct Prompt {
    pub json: bool,
    pub no_browser: bool,
}

/// The scopes `login` asks for (`auth::okta::device_authorize`), for the hints.
const SCOPES: &str = "openid profile offline_access";

impl Prompt {
    /// Show the code and the link (opening the browser if we can), and how long the
    /// code is valid.
    pub fn show(&self, start: &DeviceStart) {
        let link = start
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&start.verification_uri);
        let minutes = minutes(Duration::from_secs(start.expires_in));
        if self.json {
            let expires_at = SystemTime::now() + Duration::from_secs(start.expires_in.min(86_400));
            let line = json!({
                "status": "waiting",
                "verificationUri": start.verification_uri,
                "verificationUriComplete": start.verification_uri_complete,
                "userCode": start.user_code,
                "expiresIn": start.expires_in,
                "expiresAt": rfc3339(expires_at),
            });
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", terminal::clean_json(&line));
            let _ = out.flush();
        }
        let opened = if self.no_browser {
            Err("--no-browser".to_string())
        } else {
            browser::open(link)
        };
        let mut err = std::io::stderr().lock();
        let link = terminal::clean(link);
        let code = terminal::clean(&start.user_code);
        match &opened {
            Ok(()) => {
                let _ = writeln!(
                    err,
                    "Opened Okta's sign-in page in your browser. If it did not open, go to:\n\n    {link}\n"
                );
            }
            Err(_) => {
                let _ = writeln!(
                    err,
                    "To sign in to Loop Operations, open this page in a browser:\n\n    {link}\n"
                );
            }
        }
        let _ = writeln!(
            err,
            "Check that the page shows the code {code} (or enter it at {}), then approve.\nThe code is valid for {minutes}. Waiting for approval (Ctrl-C to cancel)…",
            terminal::clean(&start.verification_uri)
        );
    }

    /// Called while polling: on a terminal, keep the time left up to date in place.
    pub fn waiting(&self, left: Duration) {
        let mut err = std::io::stderr();
        if self.json || !err.is_terminal() {
            return;
        }
        let _ = write!(err, "\r{} left… ", minutes(left));
        let _ = err.flush();
    }
}

/// "10 minutes", "1 minute", "less than a minute".
fn minutes(d: Duration) -> String {
    match d.as_secs().div_ceil(60) {
        0 => "less than a minute".into(),
        1 if d.as_secs() < 60 => "less than a minute".into(),
        1 => "1 minute".into(),
        n => format!("{n} minutes"),
    }
}

/// `2026-12-01T10:15:00Z` without a date crate (days to civil date, Hinnant's method).
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Which request of the device flow failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `/v1/device/authorize`: asking for a code.
    Start,
    /// `/v1/token`: waiting for the approval.
    Poll,
}

/// An Okta failure during `login`, for the person who ran it. No session exists
/// yet, so nothing here says "you are still signed in"; the HTTP status is said once.
pub fn failure(e: &OktaError, step: Step, ep: &Endpoints, client_id: &str) -> String {
    let url = match step {
        Step::Start => &ep.device,
        Step::Poll => &ep.token,
    };
    let text = match e {
        OktaError::ClientConfig { error, detail } => match (error.as_str(), step) {
            ("unauthorized_client", _) => format!(
                "Okta does not allow sign-in from a device for this app ({error}: {detail}). In the Okta admin console, enable the Device Authorization grant (and Refresh Token) for the app with client id {client_id}: see `loopops-mcp help okta`."
            ),
            ("invalid_client", _) => format!(
                "Okta does not know the client id {client_id} at this issuer ({error}: {detail}). Check --client-id and --issuer with your Loop Operations admin."
            ),
            ("invalid_scope", _) => format!(
                "Okta refused the scopes {SCOPES} ({error}: {detail}). The authorization server's access policy must grant them to this app: see `loopops-mcp help okta`."
            ),
            ("unsupported_grant_type", _) => format!(
                "Okta does not support the device grant here ({error}: {detail}). Enable the Device Authorization grant for the app and check that --issuer names the right authorization server: see `loopops-mcp help okta`."
            ),
            _ => format!(
                "Okta rejected the sign-in request ({error}: {detail}). Check --issuer and --client-id, and the app's settings (`loopops-mcp help okta`)."
            ),
        },
        OktaError::SignInAgain { detail } => format!(
            "Okta no longer accepts this sign-in code ({}). Run `loopops-mcp login` again.",
            detail.trim_end_matches('.')
        ),
        OktaError::Transient { detail, retry_after } => format!(
            "Okta could not take the request right now ({detail}). Try `loopops-mcp login` again {}.",
            retry_after
                .map(|s| format!("in {s} s"))
                .unwrap_or_else(|| "in a minute".into())
        ),
        OktaError::Timeout { ms } => format!(
            "Okta did not answer within {} s at {url}. Check the network, VPN or proxy (HTTPS_PROXY), then run `loopops-mcp login` again.",
            ms / 1000
        ),
        OktaError::OutcomeUnknown { cause } => format!(
            "Okta's answer was lost at {url} ({cause}). Check the network, VPN or proxy (HTTPS_PROXY), then run `loopops-mcp login` again."
        ),
        OktaError::Network { cause } => format!(
            "Could not reach Okta at {url}: {cause}. Check --issuer, the network, VPN or proxy (HTTPS_PROXY), then run `loopops-mcp login` again."
        ),
        OktaError::Tls { .. } => e.render(),
        OktaError::BadAnswer { status, detail } => {
            // `detail` may itself be "HTTP 404": say the status once.
            let detail = detail.trim();
            let said = if detail.is_empty() || *detail == format!("HTTP {status}") {
                String::new()
            } else {
                format!(" ({detail})")
            };
            let status = if *status == 0 {
                "something unexpected".to_string()
            } else {
                format!("HTTP {status}")
            };
            format!(
                "Okta answered {status} at {url}{said}. Check --issuer: it looks like https://ORG.okta.com/oauth2/default for a custom authorization server, or https://ORG.okta.com for the org server."
            )
        }
    };
    terminal::clean(&text)
}

/// A URL typed without a scheme (`acme.okta.com/oauth2/default`) gets `https://`,
/// said on stderr; any other scheme than http(s) is refused naming the flag.
pub fn with_scheme(value: &str, what: &str) -> Result<String, String> {
    let v = value.trim();
    match v.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") => {
            Ok(v.to_string())
        }
        Some((scheme, _)) => Err(format!("{what} must be an https:// URL, not {scheme}:// ({v})")),
        None if v.is_empty() || v.starts_with('/') => Err(format!(
            "{what} must be an https:// URL like https://acme.okta.com/oauth2/default, not '{v}'"
        )),
        None => {
            let fixed = format!("https://{v}");
            eprintln!("note: {what} has no scheme; using {fixed}");
            Ok(fixed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::okta;

    #[test]
    fn minutes_and_dates() {
        assert_eq!(minutes(Duration::from_secs(600)), "10 minutes");
        assert_eq!(minutes(Duration::from_secs(61)), "2 minutes");
        assert_eq!(minutes(Duration::from_secs(60)), "1 minute");
        assert_eq!(minutes(Duration::from_secs(59)), "less than a minute");
        assert_eq!(minutes(Duration::ZERO), "less than a minute");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_947_300)),
            "2026-11-29T10:15:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn every_okta_failure_is_worded_for_the_terminal() {
        let ep = okta::endpoints("https://acme.okta.com/oauth2/default");
        let unauthorized = OktaError::ClientConfig {
            error: "unauthorized_client".into(),
            detail: "The client is not authorized to use the provided grant type.".into(),
        };
        let t = failure(&unauthorized, Step::Start, &ep, "0oa1");
        assert!(t.contains("enable the Device Authorization grant"), "{t}");
        assert!(t.contains("0oa1"), "{t}");
        let not_found = OktaError::BadAnswer {
            status: 404,
            detail: "HTTP 404".into(),
        };
        let t = failure(&not_found, Step::Start, &ep, "0oa1");
        assert_eq!(t.matches("404").count(), 1, "{t}");
        assert!(
            t.contains("https://acme.okta.com/oauth2/default/v1/device/authorize"),
            "{t}"
        );
        let all = [
            unauthorized,
            not_found,
            OktaError::ClientConfig {
                error: "invalid_client".into(),
                detail: "x".into(),
            },
            OktaError::ClientConfig {
                error: "invalid_scope".into(),
                detail: "x".into(),
            },
            OktaError::SignInAgain { detail: "x".into() },
            OktaError::Transient {
                detail: "HTTP 503".into(),
                retry_after: Some(3),
            },
            OktaError::Timeout { ms: 30_000 },
            OktaError::Network {
                cause: "Connection refused".into(),
            },
            OktaError::BadAnswer {
                status: 0,
                detail: "odd".into(),
            },
        ];
        for e in &all {
            for step in [Step::Start, Step::Poll] {
                let t = failure(e, step, &ep, "0oa1");
                assert!(!t.contains("still signed in"), "{t}");
                assert!(!t.contains("restart the MCP client"), "{t}");
                assert!(!t.contains("in a terminal"), "{t}");
            }
        }
    }

    #[test]
    fn a_missing_scheme_gets_https() {
        assert_eq!(
            with_scheme("acme.okta.com/oauth2/default", "--issuer").unwrap(),
            "https://acme.okta.com/oauth2/default"
        );
        assert_eq!(with_scheme(" https://a.b ", "--issuer").unwrap(), "https://a.b");
        assert!(
            with_scheme("ftp://a.b", "--issuer")
                .unwrap_err()
                .contains("not ftp://")
        );
        assert!(with_scheme("/oauth2", "--issuer").is_err());
    }
}
