//! Okta's OAuth endpoints as Okta derives them from the issuer, the refresh grant
//! with its errors classified (status first, then `error`), the device grant for
//! `login`, and revocation for `logout`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::OktaError;
use crate::net::http::{self, Body, Failure, Http, Reply};
use crate::net::page;
use crate::secret::Secret;

const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub token: String,
    pub device: String,
    pub revoke: String,
}

/// Custom authorization servers (`https://ORG/oauth2/ID`) put endpoints at
/// `{issuer}/v1/...`; the org authorization server (`https://ORG`) at
/// `{issuer}/oauth2/v1/...`. The predecessor got the second wrong.
pub fn endpoints(issuer: &str) -> Endpoints {
    let issuer = issuer.trim().trim_end_matches('/');
    let path = issuer
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').map_or("", |(_, p)| p))
        .unwrap_or("");
    let base = if path.split('/').any(|seg| seg == "oauth2") {
        issuer.to_string()
    } else {
        format!("{issuer}/oauth2")
    };
    Endpoints {
        token: format!("{base}/v1/token"),
        device: format!("{base}/v1/device/authorize"),
        revoke: format!("{base}/v1/revoke"),
    }
}

/// A token endpoint's success. Either token may be missing from a faulty answer;
/// a rotated refresh token must be saved even then (auth-notes rule 10).
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Option<Secret>,
    /// Seconds, clamped to [`MIN_LIFETIME`, `MAX_LIFETIME`].
    pub expires_in: u64,
    pub refresh_token: Option<Secret>,
}

/// Okta issues access tokens for 5 min to 24 h; anything outside is clamped so
/// that no time arithmetic can overflow and no answer makes us refresh in a loop.
pub const MIN_LIFETIME: u64 = 1;
pub const MAX_LIFETIME: u64 = 24 * 3600;
/// Device flow bounds: RFC 8628 polling interval, and Okta's 10 min code validity.
pub const MAX_INTERVAL: u64 = 60;
pub const MAX_DEVICE_VALIDITY: u64 = 30 * 60;

/// A number from Okta, clamped into `[min, max]`; `default` if absent or not a
/// number. Floats, negatives and values beyond u64 are handled, never trusted.
fn clamped(json: Option<&Value>, key: &str, default: u64, min: u64, max: u64) -> u64 {
    let Some(v) = json.and_then(|j| j.get(key)) else {
        return default;
    };
    let n = match (
        v.as_u64(),
        v.as_f64(),
        v.as_str().and_then(|s| s.trim().parse::<f64>().ok()),
    ) {
        (Some(n), _, _) => n as f64,
        (None, Some(f), _) | (None, None, Some(f)) => f,
        _ => return default,
    };
    if n.is_nan() {
        return default;
    }
    (n.max(min as f64).min(max as f64)) as u64
}

/// How a refresh failed, with what to do about it.
#[derive(Debug)]
pub enum RefreshFailure {
    /// The request left but no answer from Okta came (timeout, reset, or a gateway's
    /// 502/503/504): the token may be spent already.
    NoAnswer(OktaError),
    /// The request never left: the token is certainly unspent.
    NotSent(OktaError),
    /// Okta answered no.
    Rejected(OktaError),
}

impl RefreshFailure {
    pub fn into_error(self) -> OktaError {
        match self {
            RefreshFailure::NoAnswer(e) | RefreshFailure::NotSent(e) | RefreshFailure::Rejected(e) => e,
        }
    }
}

pub fn refresh(
    http: &Http,
    ep: &Endpoints,
    client_id: &str,
    refresh_token: &Secret,
) -> Result<Tokens, RefreshFailure> {
    let body = http::form(&[
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", refresh_token.expose()),
    ]);
    let reply = post_form(http, &ep.token, &body)?;
    if from_gateway(&reply) {
        return Err(RefreshFailure::NoAnswer(OktaError::OutcomeUnknown {
            cause: format!("a gateway answered HTTP {} instead of Okta", reply.status),
        }));
    }
    parse_token_reply(&reply).map_err(RefreshFailure::Rejected)
}

/// A 502/503/504 that Okta did not write (Okta's own errors are JSON with `error`
/// or `errorCode`): a proxy or load balancer in front of it, which may have passed
/// the request on and lost the answer.
fn from_gateway(reply: &Reply) -> bool {
    if !matches!(reply.status, 502..=504) {
        return false;
    }
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    !json.is_some_and(|j| j.get("error").is_some() || j.get("errorCode").is_some())
}

fn post_form(http: &Http, url: &str, body: &str) -> Result<Reply, RefreshFailure> {
    let headers = [("accept", "application/json")];
    http.send("POST", url, &headers, Body::Form(body.as_bytes()), MAX_BODY)
        .map_err(|f| classify_failure(f, http.timeout))
}

fn classify_failure(f: Failure, timeout: Duration) -> RefreshFailure {
    let ms = timeout.as_millis() as u64;
    match f {
        Failure::NotSent(cause) => RefreshFailure::NotSent(OktaError::Network { cause }),
        Failure::Tls(cause) => RefreshFailure::Rejected(OktaError::Tls { cause }),
        Failure::BadUrl(cause) => RefreshFailure::Rejected(OktaError::BadAnswer {
            status: 0,
            detail: cause,
        }),
        Failure::Timeout => RefreshFailure::NoAnswer(OktaError::OutcomeUnknown {
            cause: format!("no answer within {ms} ms"),
        }),
        Failure::Lost(cause) => RefreshFailure::NoAnswer(OktaError::OutcomeUnknown {
            cause: format!("the connection broke ({cause})"),
        }),
        Failure::TooLarge(n) => RefreshFailure::Rejected(OktaError::BadAnswer {
            status: 200,
            detail: format!("an answer over {n} bytes"),
        }),
    }
}

/// A token endpoint answer: success, or an error classified by status, then `error`.
pub fn parse_token_reply(reply: &Reply) -> Result<Tokens, OktaError> {
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    // An empty string is no value: a blank token is absent, never saved.
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if reply.status == 200 {
        let tokens = Tokens {
            access_token: field("access_token").map(Secret::new),
            expires_in: clamped(json.as_ref(), "expires_in", 3600, MIN_LIFETIME, MAX_LIFETIME),
            refresh_token: field("refresh_token").map(Secret::new),
        };
        if tokens.access_token.is_none() && tokens.refresh_token.is_none() {
            return Err(OktaError::BadAnswer {
                status: 200,
                detail: "no access_token in the answer".into(),
            });
        }
        return Ok(tokens);
    }
    let error = field("error").unwrap_or_default();
    let detail = field("error_description").unwrap_or_else(|| {
        if error.is_empty() {
            format!("HTTP {}", reply.status)
        } else {
            error.clone()
        }
    });
    // 429 can carry an `invalid_grant` body: status decides.
    if reply.status == 429 {
        return Err(OktaError::Transient {
            detail: "rate limited".into(),
            retry_after: reply.rate_limit_reset.map(seconds_until).or(reply.retry_after),
        });
    }
    if reply.status >= 500 {
        return Err(OktaError::Transient {
            detail: format!("HTTP {}", reply.status),
            retry_after: reply.retry_after,
        });
    }
    match error.as_str() {
        "invalid_grant" => Err(OktaError::SignInAgain { detail }),
        "invalid_client"
        | "unauthorized_client"
        | "unsupported_grant_type"
        | "invalid_scope"
        | "invalid_request" => Err(OktaError::ClientConfig { error, detail }),
        "temporarily_unavailable" => Err(OktaError::Transient {
            detail,
            retry_after: None,
        }),
        _ => Err(OktaError::BadAnswer {
            status: reply.status,
            detail: if json.is_some() {
                detail
            } else {
                // A proxy's page is described, never quoted (`page::describe`).
                format!(
                    "{}, not Okta's JSON",
                    page::describe(&reply.content_type, &reply.body)
                )
            },
        }),
    }
}

fn seconds_until(epoch: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    epoch.saturating_sub(now).max(1)
}

// The device grant and revocation serve `login` and `logout`.
/// The start of a device sign-in (RFC 8628 §3.2).
#[derive(Debug)]
pub struct DeviceStart {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
}

pub fn device_authorize(http: &Http, ep: &Endpoints, client_id: &str) -> Result<DeviceStart, OktaError> {
    let body = http::form(&[
        ("client_id", client_id),
        ("scope", "openid profile offline_access"),
    ]);
    let reply = post_form(http, &ep.device, &body).map_err(RefreshFailure::into_error)?;
    let json: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let s = |k: &str| {
        json.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    if reply.status != 200 {
        return Err(parse_token_reply(&reply).err().unwrap_or(OktaError::BadAnswer {
            status: reply.status,
            detail: "unexpected answer".into(),
        }));
    }
    let missing = |k: &str| OktaError::BadAnswer {
        status: 200,
        detail: format!("no {k} in the device authorization answer"),
    };
    Ok(DeviceStart {
        device_code: Secret::new(s("device_code").ok_or_else(|| missing("device_code"))?),
        user_code: s("user_code").ok_or_else(|| missing("user_code"))?,
        verification_uri: s("verification_uri").ok_or_else(|| missing("verification_uri"))?,
        verification_uri_complete: s("verification_uri_complete"),
        expires_in: clamped(Some(&json), "expires_in", 600, 1, MAX_DEVICE_VALIDITY),
        interval: clamped(Some(&json), "interval", 5, 1, MAX_INTERVAL),
    })
}

/// One poll of the device grant.
#[derive(Debug)]
pub enum DevicePoll {
    Approved(Tokens),
    Pending,
    SlowDown,
    Denied,
    Expired,
    Failed(OktaError),
}

pub fn device_poll(http: &Http, ep: &Endpoints, client_id: &str, device_code: &Secret) -> DevicePoll {
    let body = http::form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.expose()),
        ("client_id", client_id),
    ]);
    let reply = match post_form(http, &ep.token, &body) {
        Ok(r) => r,
        // A lost poll is harmless: the next one asks again.
        Err(RefreshFailure::NoAnswer(_) | RefreshFailure::NotSent(_)) => return DevicePoll::Pending,
        Err(RefreshFailure::Rejected(e)) => return DevicePoll::Failed(e),
    };
    if reply.status == 200 {
        return match parse_token_reply(&reply) {
            Ok(t) => DevicePoll::Approved(t),
            Err(e) => DevicePoll::Failed(e),
        };
    }
    let json: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    match json.get("error").and_then(Value::as_str) {
        Some("authorization_pending") => DevicePoll::Pending,
        Some("slow_down") => DevicePoll::SlowDown,
        Some("access_denied") => DevicePoll::Denied,
        Some("expired_token") => DevicePoll::Expired,
        _ => match parse_token_reply(&reply) {
            Err(OktaError::Transient { .. }) => DevicePoll::Pending,
            Err(e) => DevicePoll::Failed(e),
            Ok(t) => DevicePoll::Approved(t),
        },
    }
}

/// Revoke a refresh token. Okta answers 200 even for unknown tokens.
pub fn revoke(http: &Http, ep: &Endpoints, client_id: &str, token: &Secret) -> Result<(), OktaError> {
    let body = http::form(&[
        ("token", token.expose()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id),
    ]);
    let reply = post_form(http, &ep.revoke, &body).map_err(RefreshFailure::into_error)?;
    if reply.status == 200 {
        Ok(())
    } else {
        Err(parse_token_reply(&reply).err().unwrap_or(OktaError::BadAnswer {
            status: reply.status,
            detail: "unexpected answer".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_and_org_issuers() {
        let c = endpoints("https://acme.okta.com/oauth2/default/");
        assert_eq!(c.token, "https://acme.okta.com/oauth2/default/v1/token");
        assert_eq!(
            c.device,
            "https://acme.okta.com/oauth2/default/v1/device/authorize"
        );
        let o = endpoints("https://acme.okta.com");
        assert_eq!(o.token, "https://acme.okta.com/oauth2/v1/token");
        assert_eq!(o.revoke, "https://acme.okta.com/oauth2/v1/revoke");
        let odd = endpoints("https://acme.okta.com/oauth2x");
        assert_eq!(odd.token, "https://acme.okta.com/oauth2x/oauth2/v1/token");
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "application/json".into(),
            retry_after: None,
            rate_limit_reset: None,
            location: None,
        }
    }

    #[test]
    fn classification_by_status_then_error() {
        let grant =
            r#"{"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}"#;
        assert!(matches!(
            parse_token_reply(&reply(400, grant)),
            Err(OktaError::SignInAgain { .. })
        ));
        assert!(matches!(
            parse_token_reply(&reply(429, grant)),
            Err(OktaError::Transient { .. })
        ));
        assert!(matches!(
            parse_token_reply(&reply(503, "<html>")),
            Err(OktaError::Transient { .. })
        ));
        let client = r#"{"error":"invalid_client","error_description":"bad"}"#;
        assert!(matches!(
            parse_token_reply(&reply(401, client)),
            Err(OktaError::ClientConfig { .. })
        ));
        assert!(matches!(
            parse_token_reply(&reply(400, "<html>")),
            Err(OktaError::BadAnswer { .. })
        ));
        let ok = r#"{"token_type":"Bearer","expires_in":300,"access_token":"at-abcdefgh","refresh_token":"rt-abcdefgh"}"#;
        let t = parse_token_reply(&reply(200, ok)).unwrap();
        assert_eq!(t.expires_in, 300);
        assert_eq!(t.refresh_token.unwrap().expose(), "rt-abcdefgh");
    }

    #[test]
    fn hostile_numbers_are_clamped_and_blank_tokens_absent() {
        for (raw, want) in [
            ("18446744073709551615", MAX_LIFETIME),
            ("1e300", MAX_LIFETIME),
            ("-5", MIN_LIFETIME),
            ("0", MIN_LIFETIME),
            ("12.7", 12),
            ("\"90\"", 90),
            ("null", 3600),
            ("99999999999999999999999999999", MAX_LIFETIME),
        ] {
            let body = format!(r#"{{"access_token":"at-abcdefgh","expires_in":{raw},"refresh_token":""}}"#);
            let t = parse_token_reply(&reply(200, &body)).unwrap();
            assert_eq!(t.expires_in, want, "{raw}");
            assert!(t.refresh_token.is_none(), "a blank token is absent");
        }
        // No access token, but a rotated refresh token: it must reach the caller.
        let t = parse_token_reply(&reply(200, r#"{"refresh_token":"rt-rotated-1"}"#)).unwrap();
        assert!(t.access_token.is_none());
        assert_eq!(t.refresh_token.unwrap().expose(), "rt-rotated-1");
        assert!(parse_token_reply(&reply(200, r#"{"access_token":""}"#)).is_err());
    }

    #[test]
    fn gateway_errors_are_told_from_okta_errors() {
        assert!(from_gateway(&reply(502, "<html>bad gateway</html>")));
        assert!(from_gateway(&reply(504, "")));
        assert!(!from_gateway(&reply(
            503,
            r#"{"error":"temporarily_unavailable"}"#
        )));
        assert!(!from_gateway(&reply(500, "<html>")));
        assert!(!from_gateway(&reply(429, "")));
    }
}
