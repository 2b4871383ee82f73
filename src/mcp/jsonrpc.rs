//! JSON-RPC 2.0 envelopes: classify what came in, build what goes out.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
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

/// Longer lines go the general way at once: a request that fails the fast parse late
/// would otherwise be parsed twice.
const PLAIN_MAX: usize = 64 * 1024;

/// A request as `classify` would take it (`jsonrpc` "2.0", a string or integer `id`,
/// a string `method`, an object or null or no `params`), parsed without building a
/// `Value` tree for its envelope: that tree was a fifteenth of a tool call's
/// instructions. `None` for anything else, which the general path parses, classifies
/// and words the error of: what a line gets never depends on which path read it.
pub fn plain_request(line: &[u8]) -> Option<Incoming> {
    // A batch, or a line that is no object, is left to the general path unparsed.
    let first = line.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' || line.len() > PLAIN_MAX {
        return None;
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    let request = de.deserialize_map(PlainRequest).ok()?;
    de.end().ok()?;
    Some(request)
}

struct PlainRequest;

impl<'de> Visitor<'de> for PlainRequest {
    type Value = Incoming;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plain JSON-RPC request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Incoming, A::Error> {
        let (mut version, mut id, mut method, mut params) = (None, None, None, None);
        // A key twice is taken as the map would (the last one wins). A key with an
        // escape is no borrowed `&str`, and refused; so is any other key: skipping its
        // value would not check it as the general parse does (a lone surrogate).
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "jsonrpc" => version = Some(map.next_value::<&str>()? == "2.0"),
                "id" => id = Some(map.next_value::<Value>()?),
                "method" => method = Some(map.next_value::<String>()?),
                "params" => params = map.next_value::<Option<Map<String, Value>>>()?,
                _ => return Err(not_plain()),
            }
        }
        match (version, id, method) {
            (Some(true), Some(id @ Value::String(_)), Some(method)) => Ok(request(id, method, params)),
            (Some(true), Some(Value::Number(n)), Some(method)) if n.is_i64() || n.is_u64() => {
                Ok(request(Value::Number(n), method, params))
            }
            _ => Err(not_plain()),
        }
    }
}

fn not_plain<E: de::Error>() -> E {
    E::custom("not plain")
}

fn request(id: Value, method: String, params: Option<Map<String, Value>>) -> Incoming {
    Incoming::Request {
        id,
        method,
        params: params.unwrap_or_default(),
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

    /// What the general path makes of a line that is not a batch: parsed, classified.
    fn general(line: &str) -> Option<String> {
        let v: Value = serde_json::from_str(line).ok()?;
        (!v.is_array()).then(|| format!("{:?}", classify(v)))
    }

    fn check_plain(line: &str) -> bool {
        match plain_request(line.as_bytes()) {
            Some(fast) => {
                assert_eq!(Some(format!("{fast:?}")), general(line), "{line}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn a_plain_request_is_what_the_general_path_makes_of_the_line() {
        let taken = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_deal","arguments":{"dealId":"d1"}}}"#,
            r#" {"id":"a","method":"ping","jsonrpc":"2.0"} "#,
            r#"{"jsonrpc":"2.0","id":-3,"method":"x","params":null}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"x","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"id":7,"method":"x"}"#,
            r#"{"jsonrpc":"1.0","jsonrpc":"2.0","id":7,"method":"x","method":"y"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":1},"params":null}"#,
        ];
        for line in taken {
            assert!(check_plain(line), "takes the fast path: {line}");
        }
        let left = [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1e2,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","id":1.5}"#,
            r#"{"jsonrpc":"1.0","id":7,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","jsonrpc":"1.0","id":7,"method":"x"}"#,
            r#"{"jsonrpc":2,"id":7,"method":"x"}"#,
            r#"{"id":7,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":9}"#,
            r#"{"jsonrpc":"2.0","id":7}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","x":"\ud800"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x","params":"p"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x"} {}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x"}x"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"x""#,
            r#"{"jsonrpc":"2.0","\u0069d":7,"method":"x"}"#,
            r#"{"jsonrpc":"\u0032.0","id":7,"method":"x"}"#,
            r#"[{"jsonrpc":"2.0","id":7,"method":"x"}]"#,
            r#"["2.0",7,"x",{}]"#,
            r#""hello""#,
            "",
            "   ",
        ];
        for line in left {
            assert!(!check_plain(line), "left to the general path: {line}");
        }
    }

    #[test]
    fn random_envelopes_read_the_same_on_either_path() {
        let members = [
            r#""jsonrpc":"2.0""#,
            r#""jsonrpc":"1.0""#,
            r#""jsonrpc":null"#,
            r#""id":1"#,
            r#""id":"r-1""#,
            r#""id":-0"#,
            r#""id":2.5"#,
            r#""id":null"#,
            r#""id":{"a":1}"#,
            r#""method":"tools/call""#,
            r#""method":"ping""#,
            r#""method":1"#,
            r#""params":{"name":"get_deal","arguments":{"dealId":"d\"1"}}"#,
            r#""params":{"_meta":{"progressToken":3},"x":[1,2]}"#,
            r#""params":null"#,
            r#""params":[]"#,
            r#""result":{}"#,
            r#""error":{"code":1}"#,
            r#""\u006dethod":"ping""#,
            r#""x":"\ud800""#,
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let (mut fast, total) = (0, 20_000);
        for _ in 0..total {
            // Half the lines start from a good request, so that both paths are taken.
            let mut picked: Vec<&str> = if next(2) == 0 {
                vec![members[0], members[3 + next(3)], members[9 + next(2)]]
            } else {
                Vec::new()
            };
            picked.extend((0..next(4)).map(|_| members[next(members.len())]));
            for i in (1..picked.len()).rev() {
                picked.swap(i, next(i + 1));
            }
            let mut line = format!("{{{}}}", picked.join(","));
            match next(8) {
                0 => line.insert(0, ' '),
                1 => line.push_str(" x"),
                2 => line.push('\n'),
                _ => {}
            }
            fast += usize::from(check_plain(&line));
        }
        // Both paths are exercised, or the comparison proves little.
        assert!(fast > total / 10 && fast < total / 2, "{fast} of {total} fast");
    }

    #[test]
    fn client_responses_are_recognised() {
        let r = classify(json!({"jsonrpc":"2.0","id":4,"result":{}}));
        assert!(matches!(r, Incoming::Response));
    }
}
