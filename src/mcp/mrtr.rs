//! Multi round-trip requests (spec/2026-07-28/basic/patterns/mrtr.mdx): the modern
//! era's way for a request to ask the user something. A handler answers
//! [`InputRequired`] (the questions, and a sealed `requestState`); the client asks,
//! then retries the same request with `inputResponses` and that `requestState`,
//! which the handler finds in [`Retry`] and checks with [`StateSeal::open`].
//!
//! `requestState` is attacker-controlled input: [`StateSeal`] binds it with
//! HMAC-SHA256 under a key that never leaves this process, to one purpose (say
//! `tools/call update_deal_stage`), one exact set of arguments, a short expiry, and a
//! single use. A state from another process (a restarted server) fails to open, and
//! says so: the handler then asks again, which the spec prefers to an error.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::mcp::jsonrpc::RpcError;
use crate::sha256;

/// An `input_required` result: at least one of the two is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputRequired {
    /// Key (ours, unique within the request) → `{method, params}` request object.
    pub input_requests: Map<String, Value>,
    pub request_state: Option<String>,
}

impl InputRequired {
    pub fn new() -> InputRequired {
        InputRequired::default()
    }

    /// Ask for a form (`elicitation/create`, mode `form`). `schema` is the flat
    /// `requestedSchema` object (`{"type":"object","properties":{...}}`).
    pub fn elicit_form(mut self, key: &str, message: &str, schema: Value) -> Self {
        self.input_requests.insert(
            key.into(),
            json!({"method": "elicitation/create", "params": {"mode": "form", "message": message, "requestedSchema": schema}}),
        );
        self
    }

    /// Send the user to a URL (`elicitation/create`, mode `url`), e.g. to sign in.
    pub fn elicit_url(mut self, key: &str, message: &str, url: &str) -> Self {
        self.input_requests.insert(
            key.into(),
            json!({"method": "elicitation/create", "params": {"mode": "url", "message": message, "url": url}}),
        );
        self
    }

    pub fn with_state(mut self, state: String) -> Self {
        self.request_state = Some(state);
        self
    }

    /// The result object (without `_meta`; the era adds `serverInfo`). Interim results
    /// carry no caching hints.
    pub fn into_result(self) -> Map<String, Value> {
        assert!(
            !self.input_requests.is_empty() || self.request_state.is_some(),
            "an input_required result needs inputRequests or requestState"
        );
        let mut m = Map::new();
        m.insert("resultType".into(), json!("input_required"));
        if !self.input_requests.is_empty() {
            m.insert("inputRequests".into(), Value::Object(self.input_requests));
        }
        if let Some(state) = self.request_state {
            m.insert("requestState".into(), Value::String(state));
        }
        m
    }
}

/// What a retry brought back: empty on a first attempt (and always in legacy requests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retry {
    pub input_responses: Map<String, Value>,
    pub request_state: Option<String>,
}

/// What the user did with one elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum Elicited {
    Accept(Map<String, Value>),
    Decline,
    Cancel,
}

impl Retry {
    pub fn from_params(params: &Map<String, Value>) -> Result<Retry, RpcError> {
        let input_responses = match params.get("inputResponses") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(RpcError::invalid_params("`inputResponses` must be an object")),
        };
        let request_state = match params.get("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(RpcError::invalid_params("`requestState` must be a string")),
        };
        Ok(Retry {
            input_responses,
            request_state,
        })
    }

    pub fn is_retry(&self) -> bool {
        self.request_state.is_some() || !self.input_responses.is_empty()
    }

    /// The answer to the elicitation asked under `key`: `None` if it is missing (ask
    /// again), `Err` if it is not an `ElicitResult`.
    pub fn elicited(&self, key: &str) -> Result<Option<Elicited>, RpcError> {
        let Some(answer) = self.input_responses.get(key) else {
            return Ok(None);
        };
        let bad = || RpcError::invalid_params(format!("`inputResponses.{key}` is not an elicitation result"));
        match answer.get("action").and_then(Value::as_str) {
            Some("accept") => match answer.get("content") {
                None | Some(Value::Null) => Ok(Some(Elicited::Accept(Map::new()))),
                Some(Value::Object(c)) => Ok(Some(Elicited::Accept(c.clone()))),
                Some(_) => Err(bad()),
            },
            Some("decline") => Ok(Some(Elicited::Decline)),
            Some("cancel") => Ok(Some(Elicited::Cancel)),
            _ => Err(bad()),
        }
    }
}

/// Why a `requestState` was refused. Each is answered by asking again (or, for a
/// replay, by saying it was already used); never by acting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Garbled, or altered (it names our seal but its MAC does not match).
    Invalid,
    /// Sealed by another process, say the server before a restart: the user is asked
    /// again. A state altered to name another seal gets the same: a new question.
    Foreign,
    /// Ours, but for another request or other arguments.
    Mismatch,
    Expired,
    /// Ours and valid, but already used once.
    Replayed,
}

/// Seals and opens `requestState` values for this process.
pub struct StateSeal {
    key: [u8; 32],
    /// Names this seal in the states it seals (not secret: derived from the key by
    /// HMAC), so that one from another process is told from an altered one.
    id: String,
    /// Nonces of states already opened, and their expiry (pruned as they lapse).
    used: HashSet<[u8; 16]>,
    counter: u64,
}

const PREFIX: &str = "lops1.";

impl Default for StateSeal {
    fn default() -> Self {
        StateSeal::new()
    }
}

impl StateSeal {
    /// A seal with a fresh random key.
    pub fn new() -> StateSeal {
        StateSeal::with_key(random_key())
    }

    pub fn with_key(key: [u8; 32]) -> StateSeal {
        StateSeal {
            key,
            id: sha256::hex(&sha256::hmac(&key, &[b"seal id"])[..8]),
            used: HashSet::new(),
            counter: 0,
        }
    }

    /// A state for `purpose` (e.g. `"tools/call update_deal_stage"`) bound to `bound`
    /// (e.g. the call's arguments; key order does not matter), carrying `data` back to
    /// us, valid for `ttl`.
    pub fn seal(&mut self, purpose: &str, bound: &Value, data: &Value, ttl: Duration) -> String {
        self.seal_at(
            purpose,
            bound,
            data,
            now_ms().saturating_add(ttl.as_millis() as u64),
        )
    }

    fn seal_at(&mut self, purpose: &str, bound: &Value, data: &Value, expires_ms: u64) -> String {
        self.counter += 1;
        let nonce = sha256::hmac(
            &self.key,
            &[b"nonce", &self.counter.to_be_bytes(), &now_ms().to_be_bytes()],
        );
        let payload = json!({
            "k": self.id,
            "p": purpose,
            "b": sha256::hex(&sha256::sha256(canonical(bound).as_bytes())),
            "x": expires_ms,
            "n": sha256::hex(&nonce[..16]),
            "d": data,
        })
        .to_string();
        let mac = sha256::hmac(&self.key, &[payload.as_bytes()]);
        format!(
            "{PREFIX}{}.{}",
            sha256::hex(payload.as_bytes()),
            sha256::hex(&mac)
        )
    }

    /// The `data` of a state we sealed for exactly this purpose and these arguments,
    /// still fresh and never opened before. Opening consumes it.
    pub fn open(&mut self, purpose: &str, bound: &Value, state: &str) -> Result<Value, StateError> {
        self.open_at(purpose, bound, state, now_ms())
    }

    fn open_at(&mut self, purpose: &str, bound: &Value, state: &str, now: u64) -> Result<Value, StateError> {
        let rest = state.strip_prefix(PREFIX).ok_or(StateError::Invalid)?;
        let (payload_hex, mac_hex) = rest.split_once('.').ok_or(StateError::Invalid)?;
        let payload = unhex(payload_hex).ok_or(StateError::Invalid)?;
        let mac = unhex(mac_hex).ok_or(StateError::Invalid)?;
        if !sha256::equal(&sha256::hmac(&self.key, &[&payload]), &mac) {
            let sealer = serde_json::from_slice::<Value>(&payload).ok();
            return Err(match sealer.as_ref().and_then(|d| d["k"].as_str()) {
                Some(k) if k != self.id => StateError::Foreign,
                _ => StateError::Invalid,
            });
        }
        let doc: Value = serde_json::from_slice(&payload).map_err(|_| StateError::Invalid)?;
        let bound_digest = sha256::hex(&sha256::sha256(canonical(bound).as_bytes()));
        if doc["p"] != purpose || doc["b"] != bound_digest.as_str() {
            return Err(StateError::Mismatch);
        }
        if doc["x"].as_u64().is_none_or(|x| now >= x) {
            return Err(StateError::Expired);
        }
        let nonce: [u8; 16] = doc["n"]
            .as_str()
            .and_then(unhex)
            .and_then(|n| n.try_into().ok())
            .ok_or(StateError::Invalid)?;
        if !self.used.insert(nonce) {
            return Err(StateError::Replayed);
        }
        // Bounded: a state lives minutes, and each costs 16 bytes.
        if self.used.len() > 100_000 {
            self.used.clear();
            self.used.insert(nonce);
        }
        Ok(doc["d"].clone())
    }
}

/// JSON with object keys sorted at every level: the same arguments in another key
/// order are the same arguments.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 32 bytes from the standard library's OS-seeded hasher keys (no new dependency,
/// and no file to open): each `RandomState` carries 128 random bits.
fn random_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut key = [0u8; 32];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u64(now_ms());
        h.write_u32(std::process::id());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "tools/call update_deal_stage";

    fn seal() -> StateSeal {
        StateSeal::with_key([7; 32])
    }

    #[test]
    fn a_state_opens_once_for_the_same_arguments_in_any_key_order() {
        let mut s = seal();
        let state = s.seal(
            P,
            &json!({"dealId": "d1", "stage": "closed_won"}),
            &json!({"from": "negotiation"}),
            Duration::from_secs(60),
        );
        let got = s
            .open(P, &json!({"stage": "closed_won", "dealId": "d1"}), &state)
            .unwrap();
        assert_eq!(got, json!({"from": "negotiation"}));
        assert_eq!(
            s.open(P, &json!({"stage": "closed_won", "dealId": "d1"}), &state),
            Err(StateError::Replayed)
        );
    }

    #[test]
    fn other_arguments_or_purpose_are_refused() {
        let mut s = seal();
        let args = json!({"dealId": "d1", "stage": "closed_won"});
        let state = s.seal(P, &args, &Value::Null, Duration::from_secs(60));
        assert_eq!(
            s.open(P, &json!({"dealId": "d2", "stage": "closed_won"}), &state),
            Err(StateError::Mismatch)
        );
        assert_eq!(
            s.open("tools/call submit_forecast", &args, &state),
            Err(StateError::Mismatch)
        );
        // Refusals do not consume it.
        assert!(s.open(P, &args, &state).is_ok());
    }

    #[test]
    fn altered_foreign_and_garbled_states_are_refused() {
        let mut s = seal();
        let args = json!({"dealId": "d1"});
        let state = s.seal(P, &args, &json!({"ok": true}), Duration::from_secs(60));
        let mac_at = state.rfind('.').unwrap();
        // Flip one hex digit anywhere: the MAC no longer matches. In the MAC the state
        // still names this seal: altered. In the payload the digit may have renamed
        // the seal, which asks again: never opened either way.
        for i in PREFIX.len()..state.len() {
            let mut bytes = state.clone().into_bytes();
            if bytes[i] == b'.' {
                continue;
            }
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).unwrap();
            let got = s.open(P, &args, &altered);
            if i > mac_at {
                assert_eq!(got, Err(StateError::Invalid), "at {i}");
            } else {
                assert!(
                    matches!(got, Err(StateError::Invalid | StateError::Foreign)),
                    "at {i}: {got:?}"
                );
            }
        }
        // Another process (another key) cannot open it, and knows it is not its own.
        assert_eq!(
            StateSeal::with_key([8; 32]).open(P, &args, &state),
            Err(StateError::Foreign)
        );
        for junk in ["", "lops1.", "lops1.zz.zz", "lops1.00", "hello", "lops1.abc.def"] {
            assert_eq!(s.open(P, &args, junk), Err(StateError::Invalid), "{junk:?}");
        }
        assert!(s.open(P, &args, &state).is_ok());
    }

    #[test]
    fn expired_states_are_refused() {
        let mut s = seal();
        let args = json!({});
        let state = s.seal_at(P, &args, &Value::Null, 1_000);
        assert_eq!(s.open_at(P, &args, &state, 999), Ok(Value::Null));
        let state = s.seal_at(P, &args, &Value::Null, 1_000);
        assert_eq!(s.open_at(P, &args, &state, 1_000), Err(StateError::Expired));
    }

    #[test]
    fn fresh_keys_differ() {
        assert_ne!(random_key(), random_key());
    }

    #[test]
    fn input_required_results_and_retries() {
        let r = InputRequired::new()
            .elicit_form("confirm", "Move it?", json!({"type": "object", "properties": {}}))
            .with_state("s".into())
            .into_result();
        assert_eq!(r["resultType"], "input_required");
        assert_eq!(r["inputRequests"]["confirm"]["method"], "elicitation/create");
        assert_eq!(r["inputRequests"]["confirm"]["params"]["mode"], "form");
        assert_eq!(r["requestState"], "s");
        assert!(r.get("ttlMs").is_none());

        let p = json!({"inputResponses": {"confirm": {"action": "accept", "content": {"ok": true}}, "other": {"action": "decline"}}, "requestState": "s"});
        let retry = Retry::from_params(p.as_object().unwrap()).unwrap();
        assert!(retry.is_retry());
        let mut content = Map::new();
        content.insert("ok".into(), json!(true));
        assert_eq!(
            retry.elicited("confirm").unwrap(),
            Some(Elicited::Accept(content))
        );
        assert_eq!(retry.elicited("other").unwrap(), Some(Elicited::Decline));
        assert_eq!(retry.elicited("missing").unwrap(), None);
        let bad = json!({"inputResponses": {"confirm": {"action": "maybe"}}});
        assert!(
            Retry::from_params(bad.as_object().unwrap())
                .unwrap()
                .elicited("confirm")
                .is_err()
        );
        assert!(Retry::from_params(json!({"requestState": 5}).as_object().unwrap()).is_err());
        assert!(!Retry::from_params(&Map::new()).unwrap().is_retry());
    }
}
