//! JSON-RPC 2.0 envelopes: classify what came in, build what goes out.

use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// A protocol-level error: becomes a JSON-RPC `error` member.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// The error's `data` member (`-32021`/`-32022` carry one).
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(code: i64, message: impl Into<String>, data: Value) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: Some(data),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }
}

/// One incoming message, classified.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    /// Nothing to answer (`notifications/cancelled` may end a subscription).
    Notification {
        method: String,
        params: Map<String, Value>,
    },
    /// A response from the client. We never send requests, so it is ignored.
    Response,
    /// Not a valid message; answer with this error (id is `null` when unknown).
    Invalid { id: Value, error: RpcError },
}

/// Classify one JSON value that is not a batch.
pub fn classify(msg: Value) -> Incoming {
    let Value::Object(mut obj) = msg else {
        return invalid(Value::Null, "a JSON-RPC message must be a JSON object");
    };
    // The id is echoed back whenever it is usable, even if the rest is not.
    let id = match obj.remove("id") {
        None => None,
        Some(id @ Value::String(_)) => Some(id),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        Some(_) => {
            return invalid(
                Value::Null,
                "`id` must be a string or an integer (null and other types are not allowed)",
            );
        }
    };
    let echo = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return invalid(echo, "`jsonrpc` must be exactly \"2.0\"");
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return invalid(echo, "`method` must be a string"),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            return Incoming::Response;
        }
        None => return invalid(echo, "missing `method`"),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return match id {
                Some(id) => Incoming::Invalid {
                    id,
                    error: RpcError::invalid_params("`params` must be an object"),
                },
                // A notification cannot be answered; treat it as one with no params.
                None => Incoming::Notification {
                    method,
                    params: Map::new(),
                },
            };
        }
    };
    match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    }
}

fn invalid(id: Value, message: &str) -> Incoming {
    Incoming::Invalid {
        id,
        error: RpcError::new(INVALID_REQUEST, message),
    }
}

// These move their parts into place: `json!` would deep-copy a `Value` argument
// through `to_value`, which costs more than serializing it.
pub fn result(id: Value, result: Value) -> Value {
    envelope([("id", id), ("result", result)])
}

pub fn error(id: Value, err: &RpcError) -> Value {
    let mut e = json!({"code": err.code, "message": err.message});
    if let Some(data) = &err.data {
        e["data"] = data.clone();
    }
    envelope([("id", id), ("error", e)])
}

pub fn notification(method: &str, params: Value) -> Value {
    envelope([("method", Value::String(method.into())), ("params", params)])
}

fn envelope<const N: usize>(parts: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N + 1);
    m.insert("jsonrpc".into(), Value::String("2.0".into()));
    for (k, v) in parts {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(v: Value) -> (Value, i64) {
        match classify(v) {
            Incoming::Invalid { id, error } => (id, error.code),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn requests_and_notifications() {
        let r = classify(json!({"jsonrpc":"2.0","id":7,"method":"ping"}));
        assert!(matches!(r, Incoming::Request { ref method, .. } if method == "ping"));
        let n = classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        assert!(matches!(n, Incoming::Notification { .. }));
    }

    #[test]
    fn ids_are_strings_or_integers() {
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":null,"method":"ping"})),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":1.5,"method":"ping"})),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":[1],"method":"ping"})),
            (Value::Null, INVALID_REQUEST)
        );
        let r = classify(json!({"jsonrpc":"2.0","id":"a","method":"x"}));
        assert!(matches!(
            r,
            Incoming::Request {
                id: Value::String(_),
                ..
            }
        ));
        let r = classify(json!({"jsonrpc":"2.0","id":-3,"method":"x"}));
        assert!(matches!(r, Incoming::Request { .. }));
    }

    #[test]
    fn envelope_errors_echo_a_good_id() {
        assert_eq!(
            code_of(json!({"jsonrpc":"1.0","id":4,"method":"ping"})),
            (json!(4), INVALID_REQUEST)
        );
        assert_eq!(
            code_of(json!({"id":4,"method":"ping"})),
            (json!(4), INVALID_REQUEST)
        );
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":4,"method":9})),
            (json!(4), INVALID_REQUEST)
        );
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":4})),
            (json!(4), INVALID_REQUEST)
        );
        assert_eq!(code_of(json!("hello")), (Value::Null, INVALID_REQUEST));
        assert_eq!(
            code_of(json!({"jsonrpc":"2.0","id":4,"method":"x","params":[1]})),
            (json!(4), INVALID_PARAMS)
        );
    }

    #[test]
    fn client_responses_are_recognised() {
        let r = classify(json!({"jsonrpc":"2.0","id":4,"result":{}}));
        assert!(matches!(r, Incoming::Response));
    }
}
