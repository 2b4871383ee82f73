//! The tRPC client for the hosted API (loop-api.md §3): wire format, answer and
//! error envelopes, and the retry rules.
//!
//! Retries, the predecessor's intent done right: a query is sent at most twice on a
//! timeout, network failure, 5xx or 429; a mutation is sent once, and again only if
//! the connection was never made; any call answered 401 gets one token refresh and
//! is sent once more.

use std::time::Duration;

use serde_json::Value;

use crate::api::bound::{self, Bounded, Seg};
use crate::api::compact::{self, Compact};
use crate::auth::Auth;
use crate::catalog::Kind;
use crate::error::ApiError;
use crate::log;
use crate::net::http::{self, Body, Failure, Http, Reply};
use crate::net::page;
use crate::secret;

/// The largest answer we read (a page of 100 full deals is well under 1 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// The longest `Retry-After` we wait out before retrying; longer ones are reported.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// A procedure's output, as a tool result uses it.
#[derive(Debug)]
pub enum Output {
    /// An object's compact JSON, exactly as parsing and serializing it would write it.
    Compact(Compact),
    /// Parsed, and bounded in memory.
    Tree(Bounded),
}

impl Output {
    /// As a tree, for code that reads the answer.
    pub fn into_tree(self) -> Bounded {
        match self {
            Output::Tree(b) => b,
            Output::Compact(c) => Bounded::whole(serde_json::from_str(&c.json).expect("compact JSON parses")),
        }
    }
}

pub struct Client {
    http: Http,
    api_url: String,
    auth: Auth,
}

impl Client {
    pub fn new(http: Http, api_url: &str, auth: Auth) -> Client {
        Client {
            http,
            api_url: api_url.trim().trim_end_matches('/').to_string(),
            auth,
        }
    }

    /// Make sure there is a usable access token (refreshing if needed).
    pub fn authenticate(&mut self) -> Result<(), ApiError> {
        self.auth.access_token(&self.http).map(|_| ())
    }

    /// Call a procedure; `input` of `None` (or an empty object for a query) sends none.
    /// `on_retry` hears why a call is being sent again.
    pub fn call(
        &mut self,
        procedure: &str,
        kind: Kind,
        input: Option<&Value>,
        on_retry: &mut dyn FnMut(&str),
    ) -> Result<Bounded, ApiError> {
        interpret_bounded(self.send(procedure, kind, input, on_retry)?)
    }

    /// The same for a tool's answer, which is passed on whole when it can be: as its
    /// compact JSON if that is an object of at most `max` bytes with no secret in it.
    pub fn call_for_result(
        &mut self,
        procedure: &str,
        kind: Kind,
        input: Option<&Value>,
        max: usize,
        on_retry: &mut dyn FnMut(&str),
    ) -> Result<Output, ApiError> {
        let reply = self.send(procedure, kind, input, on_retry)?;
        if (200..300).contains(&reply.status)
            && let Some(c) = compact::result_json(&reply.body, max)
            // One that echoes a token is scrubbed on the slow path.
            && !secret::contains_known(&c.json)
        {
            return Ok(Output::Compact(c));
        }
        interpret_bounded(reply).map(Output::Tree)
    }

    /// Send the call with the retry rules; the last answer, whatever its status.
    fn send(
        &mut self,
        procedure: &str,
        kind: Kind,
        input: Option<&Value>,
        on_retry: &mut dyn FnMut(&str),
    ) -> Result<Reply, ApiError> {
        let (url, body) = self.request_parts(procedure, kind, input);
        let method = if kind == Kind::Query { "GET" } else { "POST" };
        let ms = self.http.timeout.as_millis() as u64;
        let mut retry_left = true;
        let mut reauth_left = true;
        loop {
            let token = self.auth.access_token(&self.http)?;
            let bearer = concat(&["Bearer ", token.expose()]);
            let headers = [("authorization", bearer.as_str()), ("accept", "application/json")];
            let sent = self.http.send(
                method,
                &url,
                &headers,
                body.as_deref().map_or(Body::None, Body::Json),
                MAX_BODY,
            );
            let reply = match sent {
                Ok(reply) => reply,
                Err(Failure::NotSent(cause)) if retry_left => {
                    retry_left = false;
                    on_retry(&format!("could not connect ({cause}); trying again"));
                    std::thread::sleep(RETRY_PAUSE);
                    continue;
                }
                Err(Failure::Timeout | Failure::Lost(_)) if retry_left && kind == Kind::Query => {
                    retry_left = false;
                    on_retry("no answer from the Loop API; trying again");
                    continue;
                }
                Err(f) => return Err(failure_error(f, kind, ms)),
            };
            if reply.status == 401 && reauth_left {
                reauth_left = false;
                log::info(&format!("{procedure}: access token rejected; refreshing it"));
                self.auth.refresh_after_rejection(&self.http)?;
                continue;
            }
            let transient = reply.status == 429 || reply.status >= 500;
            if transient && retry_left && kind == Kind::Query {
                let wait = reply.retry_after.map(Duration::from_secs).unwrap_or(RETRY_PAUSE);
                if wait <= MAX_RETRY_WAIT {
                    retry_left = false;
                    on_retry(&format!(
                        "the Loop API answered HTTP {}; trying again in {} ms",
                        reply.status,
                        wait.as_millis()
                    ));
                    std::thread::sleep(wait);
                    continue;
                }
            }
            return Ok(reply);
        }
    }

    fn request_parts(&self, procedure: &str, kind: Kind, input: Option<&Value>) -> (String, Option<Vec<u8>>) {
        let base = concat(&[&self.api_url, "/", procedure]);
        let input = input.filter(|v| v.as_object().is_none_or(|o| !o.is_empty()));
        // `{"json":…}` written around the input's JSON: `json!` would deep-copy it first.
        let wrapped = |v: Option<&Value>| {
            let mut out = b"{\"json\":".to_vec();
            match v {
                Some(v) => serde_json::to_writer(&mut out, v).expect("a Value always serializes"),
                None => out.extend_from_slice(b"{}"),
            }
            out.push(b'}');
            out
        };
        match kind {
            Kind::Query => match input {
                Some(v) => {
                    let json = String::from_utf8(wrapped(Some(v))).expect("serde_json writes UTF-8");
                    (concat(&[&base, "?input=", &http::percent_encode(&json)]), None)
                }
                None => (base, None),
            },
            Kind::Mutation => (base, Some(wrapped(input))),
        }
    }
}

/// The parts joined, in one allocation: `format!` costs several times more, and
/// every call builds three of these.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

fn failure_error(f: Failure, kind: Kind, ms: u64) -> ApiError {
    let mutation = kind == Kind::Mutation;
    match f {
        Failure::NotSent(cause) => ApiError::Network {
            cause,
            maybe_applied: false,
        },
        Failure::Timeout => ApiError::Timeout {
            ms,
            maybe_applied: mutation,
        },
        Failure::Lost(cause) => ApiError::Network {
            cause,
            maybe_applied: mutation,
        },
        Failure::Tls(cause) => ApiError::Tls { cause },
        Failure::TooLarge(limit) => ApiError::TooLarge { limit },
        Failure::BadUrl(m) => ApiError::BadUrl(m),
    }
}

/// Turn an answer into the procedure's output or a typed error.
pub fn interpret(reply: Reply) -> Result<Value, ApiError> {
    interpret_bounded(reply).map(|b| b.value)
}

/// The same, the output bounded in memory (`bound::parse`) with what was cut.
pub fn interpret_bounded(reply: Reply) -> Result<Bounded, ApiError> {
    let parsed: Option<Bounded> = bound::parse(&reply.body, bound::PARSE_BUDGET).ok();
    if (200..300).contains(&reply.status) {
        let Some(doc) = parsed else {
            return Err(ApiError::BadAnswer {
                status: reply.status,
                detail: if reply.body.is_empty() {
                    "an empty body".into()
                } else {
                    format!(
                        "{}, which is not valid JSON",
                        page::describe(&reply.content_type, &reply.body)
                    )
                },
            });
        };
        return extract_result(doc).ok_or_else(|| ApiError::BadAnswer {
            status: reply.status,
            detail: "JSON without result.data".into(),
        });
    }
    if (300..400).contains(&reply.status) {
        return Err(ApiError::BadAnswer {
            status: reply.status,
            detail: format!(
                "a redirect to {}, which is not followed so that the token is not sent elsewhere",
                reply.location.as_deref().unwrap_or("nowhere")
            ),
        });
    }
    let (message, code) = parsed
        .as_ref()
        .map(|b| extract_error(&b.value))
        .unwrap_or((None, None));
    match reply.status {
        401 | 403 => Err(ApiError::Auth {
            status: reply.status,
            message,
        }),
        429 => Err(ApiError::RateLimited {
            retry_after: reply.retry_after,
        }),
        503 if reply.retry_after.is_some_and(|s| s > MAX_RETRY_WAIT.as_secs()) => {
            Err(ApiError::RateLimited {
                retry_after: reply.retry_after,
            })
        }
        status => Err(ApiError::Http {
            status,
            code,
            message,
            excerpt: if parsed.is_some() {
                String::new()
            } else {
                page::describe(&reply.content_type, &reply.body)
            },
            content_type: reply.content_type.clone(),
        }),
    }
}

/// `result.data.json` (superjson), or `result.data` from a server without it. A
/// batch-style array answers with its first element.
fn extract_result(doc: Bounded) -> Option<Bounded> {
    let mut path = Vec::new();
    let mut node = &doc.value;
    if let Value::Array(items) = node {
        node = items.first()?;
        path.push(Seg::Index(0));
    }
    let data = node.get("result")?.get("data")?;
    path.extend([Seg::Key("result".into()), Seg::Key("data".into())]);
    if data.get("json").is_some() {
        path.push(Seg::Key("json".into()));
    }
    doc.take(&path)
}

/// The server's message and `data.code` from every error envelope shape seen:
/// `{error:{json:{message,data:{code}}}}`, `{error:{message}}`, and arrays of either.
pub fn extract_error(doc: &Value) -> (Option<String>, Option<String>) {
    let doc = match doc {
        Value::Array(items) => match items.iter().find(|i| i.get("error").is_some()) {
            Some(first) => first,
            None => return (None, None),
        },
        other => other,
    };
    let Some(err) = doc.get("error") else {
        return (None, None);
    };
    let node = err.get("json").unwrap_or(err);
    let message = node
        .get("message")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let code = node
        .get("data")
        .and_then(|d| d.get("code"))
        .and_then(Value::as_str)
        .map(str::to_string);
    (message, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(status: u16, body: &str, ct: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            content_type: ct.into(),
            retry_after: None,
            rate_limit_reset: None,
            location: None,
        }
    }

    #[test]
    fn results_with_and_without_superjson() {
        let r = interpret(reply(
            200,
            r#"{"result":{"data":{"json":{"a":1},"meta":{"values":{}}}}}"#,
            "application/json",
        ));
        assert_eq!(r.unwrap(), json!({"a": 1}));
        let r = interpret(reply(200, r#"[{"result":{"data":{"b":2}}}]"#, "application/json"));
        assert_eq!(r.unwrap(), json!({"b": 2}));
        let r = interpret(reply(
            200,
            r#"{"result":{"data":{"json":null}}}"#,
            "application/json",
        ));
        assert_eq!(r.unwrap(), Value::Null);
    }

    #[test]
    fn every_error_envelope() {
        let v11 = json!({"error":{"json":{"message":"Deal x not found","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404}}}});
        assert_eq!(
            extract_error(&v11),
            (Some("Deal x not found".into()), Some("NOT_FOUND".into()))
        );
        let old = json!({"error":{"message":"old style"}});
        assert_eq!(extract_error(&old), (Some("old style".into()), None));
        let batch = json!([{"error":{"json":{"message":"in batch","data":{"code":"BAD_REQUEST"}}}}]);
        assert_eq!(
            extract_error(&batch),
            (Some("in batch".into()), Some("BAD_REQUEST".into()))
        );
        assert_eq!(extract_error(&json!({"error":{"message":"  "}})), (None, None));
    }

    #[test]
    fn proxies_and_odd_answers() {
        let html = interpret(reply(502, "<html><body>Bad Gateway</body></html>", "text/html")).unwrap_err();
        assert!(
            matches!(html, ApiError::Http { status: 502, ref excerpt, .. } if excerpt == "an HTML page without a title")
        );
        let empty = interpret(reply(200, "", "")).unwrap_err();
        assert!(matches!(empty, ApiError::BadAnswer { .. }));
        let cut = interpret(reply(200, r#"{"result":{"da"#, "application/json")).unwrap_err();
        assert!(matches!(cut, ApiError::BadAnswer { .. }));
        let forbidden = interpret(reply(
            403,
            r#"{"error":{"json":{"message":"nope"}}}"#,
            "application/json",
        ))
        .unwrap_err();
        assert!(matches!(forbidden, ApiError::Auth { status: 403, .. }));
    }
}
