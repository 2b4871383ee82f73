//! The two eras' envelopes around one request core (spec/2026-07-28/basic/versioning.mdx).
//!
//! A request whose `params._meta` carries `io.modelcontextprotocol/protocolVersion` is
//! served statelessly: its version, client capabilities and log level come from that
//! `_meta`, and its result gets `resultType` and our `serverInfo`. Any other request
//! belongs to the legacy session that `initialize` opened (or, before one, to the
//! latest handshake revision, as scripts piping a `tools/call` expect). The handlers
//! see only an [`Envelope`]: what version shapes the answer, what the client can do.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::log::Level;
use crate::mcp::jsonrpc::{self, RpcError};
use crate::mcp::mrtr::{InputRequired, Retry};
use crate::mcp::protocol::Version;

pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
pub const META_SUBSCRIPTION: &str = "io.modelcontextprotocol/subscriptionId";

pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// How long a client may keep our lists, `server/discover` and skill files: they
/// change only with a new binary, which a client sees as a new process anyway.
pub const TTL_MS: u64 = 3_600_000;

/// What one request is served as.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub version: Version,
    /// Came with modern `_meta`: answered statelessly, whatever the process's session.
    pub stateless: bool,
    /// The client's capabilities: from this request's `_meta` (modern), else from
    /// `initialize` (`{}` before one).
    pub capabilities: Value,
    /// Modern: the request's `logLevel` (none: no `notifications/message` at all).
    /// Legacy: `None`, the session level (`logging/setLevel`) applies.
    pub log_level: Option<Level>,
    /// `inputResponses` and `requestState` of a multi round-trip retry (modern only).
    pub retry: Retry,
}

impl Envelope {
    /// The envelope of a request, or the error that answers it instead.
    /// `session`: the version and capabilities `initialize` chose, if any.
    pub fn of(params: &Map<String, Value>, session: Option<(Version, &Value)>) -> Result<Envelope, RpcError> {
        let meta = params.get("_meta").and_then(Value::as_object);
        let Some(requested) = meta.and_then(|m| m.get(META_VERSION)) else {
            let (version, capabilities) = match session {
                Some((v, c)) => (v, c.clone()),
                None => (Version::LATEST, json!({})),
            };
            return Ok(Envelope {
                version,
                stateless: false,
                capabilities,
                log_level: None,
                retry: Retry::default(),
            });
        };
        let meta = meta.expect("the version came from _meta");
        let Some(requested) = requested.as_str() else {
            return Err(RpcError::invalid_params(format!(
                "`_meta[\"{META_VERSION}\"]` must be a string"
            )));
        };
        let Some(version) = Version::parse(requested) else {
            return Err(unsupported_version(requested));
        };
        let capabilities = match meta.get(META_CAPABILITIES) {
            Some(c @ Value::Object(_)) => c.clone(),
            Some(_) => {
                return Err(RpcError::invalid_params(format!(
                    "`_meta[\"{META_CAPABILITIES}\"]` must be an object"
                )));
            }
            None => {
                return Err(RpcError::invalid_params(format!(
                    "request `_meta` lacks the required `{META_CAPABILITIES}` (use {{}} for none)"
                )));
            }
        };
        let log_level = match meta.get(META_LOG_LEVEL) {
            None => None,
            Some(l) => Some(
                l.as_str()
                    .filter(|l| Level::ALL_NAMES.contains(l))
                    .and_then(Level::parse)
                    .ok_or_else(|| {
                        RpcError::invalid_params(format!(
                            "`_meta[\"{META_LOG_LEVEL}\"]` must be one of {}",
                            Level::ALL_NAMES.join(", ")
                        ))
                    })?,
            ),
        };
        let retry = if version.is_modern() {
            Retry::from_params(params)?
        } else {
            Retry::default()
        };
        Ok(Envelope {
            version,
            stateless: true,
            capabilities,
            log_level,
            retry,
        })
    }

    /// Results carry `resultType` and caching hints; no `ping`, no `logging/setLevel`.
    pub fn modern(&self) -> bool {
        self.version.is_modern()
    }

    /// The client declared this extension (`capabilities.extensions[id]`).
    pub fn has_extension(&self, id: &str) -> bool {
        self.capabilities
            .get("extensions")
            .and_then(|e| e.get(id))
            .is_some_and(Value::is_object)
    }

    /// The client can show a form (`elicitation: {}` means form mode too).
    pub fn has_form_elicitation(&self) -> bool {
        match self.capabilities.get("elicitation") {
            Some(Value::Object(e)) => e.is_empty() || e.get("form").is_some_and(Value::is_object),
            _ => false,
        }
    }

    /// The client can send the user to a URL (`elicitation.url`).
    pub fn has_url_elicitation(&self) -> bool {
        self.capabilities
            .get("elicitation")
            .and_then(|e| e.get("url"))
            .is_some_and(Value::is_object)
    }

    /// A finished result in this era's envelope: modern results say `resultType` and
    /// who answered. Prebuilt results that already say so pass through unchanged.
    pub fn complete(&self, mut result: Value) -> Value {
        if self.modern()
            && let Value::Object(m) = &mut result
            && !m.contains_key("resultType")
        {
            mark_complete(m);
        }
        result
    }

    /// `complete` for a result already serialized (a JSON object of ours, without
    /// `resultType` or `_meta`): the modern fields are spliced in before its end.
    pub fn complete_json(&self, mut result: String) -> String {
        if self.modern() {
            static TAIL: OnceLock<String> = OnceLock::new();
            let tail = TAIL.get_or_init(|| {
                let mut m = Map::new();
                m.insert("resultType".into(), Value::String("complete".into()));
                add_server_info(&mut m);
                let json = Value::Object(m).to_string();
                format!(",{}", &json[1..json.len() - 1])
            });
            debug_assert!(result.ends_with('}') && result.len() > 2);
            result.insert_str(result.len() - 1, tail);
        }
        result
    }

    /// An `input_required` result, or for a legacy request, the bug it would be to
    /// send one (legacy clients have no way to retry with input).
    pub fn input_required(&self, ir: InputRequired) -> Result<Value, RpcError> {
        if !self.modern() {
            return Err(RpcError::new(
                jsonrpc::INTERNAL_ERROR,
                format!(
                    "internal error: this request needs input, which protocol version {} cannot ask for",
                    self.version.as_str()
                ),
            ));
        }
        let mut m = ir.into_result();
        add_server_info(&mut m);
        Ok(Value::Object(m))
    }
}

/// `-32022`, with what we speak and what was asked for.
pub fn unsupported_version(requested: &str) -> RpcError {
    RpcError::with_data(
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        json!({"supported": Version::SUPPORTED_NEWEST_FIRST, "requested": requested}),
    )
}

/// `-32021`: this request needs a client capability it did not declare.
pub fn missing_capability(what: &str, required: Value) -> RpcError {
    RpcError::with_data(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("Missing required client capability: {what}"),
        json!({"requiredCapabilities": required}),
    )
}

/// Our identity, as modern results and legacy `initialize` carry it.
pub fn server_info(version: Version) -> Value {
    let mut info = Map::new();
    info.insert("name".into(), json!("loopops-mcp"));
    info.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    if version.has_titles_and_structured_output() {
        info.insert("title".into(), json!("Loop Operations"));
    }
    Value::Object(info)
}

/// A modern result's `resultType` and `_meta.serverInfo`, as `complete` adds them;
/// also for results built once.
pub fn mark_complete(result: &mut Map<String, Value>) {
    result.insert("resultType".into(), Value::String("complete".into()));
    add_server_info(result);
}

/// `_meta.serverInfo` on a modern result, next to any `_meta` it already has.
pub fn add_server_info(result: &mut Map<String, Value>) {
    let meta = result.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(META_SERVER_INFO.into(), server_info(Version::V2026_07_28));
    }
}

/// The caching hints every modern list, `server/discover` and `resources/read` need.
pub fn add_cache_hints(result: &mut Map<String, Value>) {
    result.insert("ttlMs".into(), json!(TTL_MS));
    result.insert("cacheScope".into(), json!("public"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn modern_meta(extra: Value) -> Map<String, Value> {
        let mut meta = json!({META_VERSION: "2026-07-28", META_CAPABILITIES: {}});
        for (k, v) in extra.as_object().unwrap() {
            meta[k] = v.clone();
        }
        params(json!({ "_meta": meta }))
    }

    #[test]
    fn legacy_requests_take_the_session() {
        let e = Envelope::of(&Map::new(), None).unwrap();
        assert_eq!(e.version, Version::LATEST);
        assert!(!e.stateless && !e.modern());
        let caps = json!({"elicitation": {}});
        let e = Envelope::of(&Map::new(), Some((Version::V2025_03_26, &caps))).unwrap();
        assert_eq!(e.version, Version::V2025_03_26);
        assert!(e.has_form_elicitation());
        // `_meta` without the version key is still legacy.
        let e = Envelope::of(&params(json!({"_meta": {"progressToken": 1}})), None).unwrap();
        assert!(!e.stateless);
    }

    #[test]
    fn modern_requests_are_stateless() {
        let caps = json!({"elicitation": {"form": {}}});
        let e = Envelope::of(&modern_meta(json!({})), Some((Version::V2024_11_05, &caps))).unwrap();
        assert!(e.stateless && e.modern());
        // Capabilities are never inferred from the session.
        assert!(!e.has_form_elicitation());
        assert_eq!(e.log_level, None);
        let e = Envelope::of(&modern_meta(json!({META_LOG_LEVEL: "info"})), None).unwrap();
        assert_eq!(e.log_level, Some(Level::Info));
    }

    #[test]
    fn bad_modern_meta_is_refused() {
        let err = Envelope::of(&modern_meta(json!({META_VERSION: "2030-01-01"})), None).unwrap_err();
        assert_eq!(err.code, UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(err.data.as_ref().unwrap()["requested"], "2030-01-01");
        assert_eq!(err.data.as_ref().unwrap()["supported"][0], "2026-07-28");
        let err = Envelope::of(&modern_meta(json!({META_VERSION: 5})), None).unwrap_err();
        assert_eq!(err.code, jsonrpc::INVALID_PARAMS);
        let no_caps = params(json!({"_meta": {META_VERSION: "2026-07-28"}}));
        assert_eq!(
            Envelope::of(&no_caps, None).unwrap_err().code,
            jsonrpc::INVALID_PARAMS
        );
        let err = Envelope::of(&modern_meta(json!({META_LOG_LEVEL: "loud"})), None).unwrap_err();
        assert_eq!(err.code, jsonrpc::INVALID_PARAMS);
        let err = Envelope::of(&modern_meta(json!({META_LOG_LEVEL: "WARN"})), None).unwrap_err();
        assert_eq!(err.code, jsonrpc::INVALID_PARAMS);
    }

    #[test]
    fn capability_checks() {
        let e = |caps: Value| Envelope {
            version: Version::V2026_07_28,
            stateless: true,
            capabilities: caps,
            log_level: None,
            retry: Retry::default(),
        };
        assert!(e(json!({"elicitation": {}})).has_form_elicitation());
        assert!(!e(json!({"elicitation": {"url": {}}})).has_form_elicitation());
        assert!(e(json!({"elicitation": {"url": {}}})).has_url_elicitation());
        assert!(
            e(json!({"extensions": {"io.modelcontextprotocol/skills": {}}}))
                .has_extension("io.modelcontextprotocol/skills")
        );
        assert!(
            !e(json!({"extensions": {"io.modelcontextprotocol/skills": true}}))
                .has_extension("io.modelcontextprotocol/skills")
        );
    }

    #[test]
    fn modern_results_say_what_they_are() {
        let e = Envelope::of(&modern_meta(json!({})), None).unwrap();
        let r = e.complete(json!({"tools": []}));
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "loopops-mcp");
        let legacy = Envelope::of(&Map::new(), None).unwrap();
        assert_eq!(legacy.complete(json!({"tools": []})), json!({"tools": []}));
    }

    #[test]
    fn input_required_only_in_the_modern_era() {
        let ir = || InputRequired::new().with_state("s".into());
        let modern = Envelope::of(&modern_meta(json!({})), None).unwrap();
        let r = modern.input_required(ir()).unwrap();
        assert_eq!(r["resultType"], "input_required");
        assert_eq!(r["requestState"], "s");
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "loopops-mcp");
        assert!(r.get("ttlMs").is_none());
        let legacy = Envelope::of(&Map::new(), None).unwrap();
        assert_eq!(
            legacy.input_required(ir()).unwrap_err().code,
            jsonrpc::INTERNAL_ERROR
        );
        // A retry's fields reach the handler through the envelope.
        let mut p = modern_meta(json!({}));
        p.insert("requestState".into(), json!("abc"));
        p.insert("inputResponses".into(), json!({"k": {"action": "cancel"}}));
        let e = Envelope::of(&p, None).unwrap();
        assert_eq!(e.retry.request_state.as_deref(), Some("abc"));
        assert!(e.retry.is_retry());
    }
}
