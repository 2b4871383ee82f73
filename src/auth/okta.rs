//! Okta's OAuth endpoints as Okta derives them from the issuer, the refresh grant
//! with its errors classified (status first, then `error`), the device grant for
//! `login`, and revocation for `logout`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::OktaError;
use crate::net::http::{self, Body, Failure, Http, Reply};
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

#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    pub expires_in: u64,
    pub refresh_token: Option<Secret>,
}

/// How a refresh failed, with what to do about it.
#[derive(Debug)]
pub enum RefreshFailure {
    /// The request left but no answer came: the token may be spent already.
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
    parse_token_reply(&reply).map_err(RefreshFailure::Rejected)
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
        Failure::Timeout => RefreshFailure::NoAnswer(OktaError::Timeout { ms }),
        Failure::Lost(cause) => RefreshFailure::NoAnswer(OktaError::Network { cause }),
        Failure::TooLarge(n) => RefreshFailure::Rejected(OktaError::BadAnswer {
            status: 200,
            detail: format!("an answer over {n} bytes"),
        }),
    }
}

/// A token endpoint answer: success, or an error classified by status, then `error`.
pub fn parse_token_reply(reply: &Reply) -> Result<Tokens, OktaError> {
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if reply.status == 200 {
        let access = field("access_token").ok_or_else(|| OktaError::BadAnswer {
            status: 200,
            detail: "no access_token in the answer".into(),
        })?;
        let expires_in = json
            .as_ref()
            .and_then(|j| j.get("expires_in"))
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        return Ok(Tokens {
            access_token: Secret::new(access),
            expires_in,
            refresh_token: field("refresh_token").map(Secret::new),
        });
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
                format!("not JSON: {:?}", reply.text_excerpt(80))
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
    let s = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
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
        expires_in: json.get("expires_in").and_then(Value::as_u64).unwrap_or(600),
        interval: json.get("interval").and_then(Value::as_u64).unwrap_or(5),
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
}
