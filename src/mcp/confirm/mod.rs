//! Write confirmations the model cannot skip. The server instructions ask the model
//! to confirm before a write, but a hostile record can talk a model out of that; for
//! the tools that overwrite (`update_deal_stage`, `submit_forecast`) the user is asked
//! directly, through the client's form elicitation, with one line that names the
//! change. Nothing is written unless the user accepts.
//!
//! - Handshake era (2025-06-18 and 2025-11-25 sessions whose client declared form
//!   elicitation): `elicitation/create` is sent while the call runs
//!   (`crate::mcp::roundtrip`).
//! - 2026-07-28: an `input_required` result carries the question and a `requestState`
//!   sealed to exactly this call (`mcp::mrtr::StateSeal`: tool, canonical arguments,
//!   expiry, single use); the write happens on the retry that carries an accepting
//!   answer with that state. A replayed or altered state is refused.
//! - Clients without elicitation keep the old behaviour; `LOOP_MCP_CONFIRM_WRITES=0`
//!   turns confirmations off; `loopops-mcp call` asks on the terminal (`Asker::Prompt`)
//!   or needs `--yes`.

mod summary;

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::tools;
use crate::catalog::Tool;
use crate::error::{ApiError, CallContext};
use crate::mcp::protocol::Version;

pub use summary::{lookup, question};

/// The environment variable that turns confirmations off (`0`, `false`, `no`, `off`).
pub const ENV: &str = "LOOP_MCP_CONFIRM_WRITES";

/// The key of our one input request in an `input_required` result.
pub const INPUT_KEY: &str = "confirm";

/// How long the user has to answer in the modern era before the state lapses (the
/// retry then asks again).
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// What a sealed state is for: one tool's call (the arguments are bound separately).
pub fn purpose(tool: &Tool) -> String {
    format!("tools/call {}", tool.name)
}

/// The empty form: the answer is the action itself (accept, decline or cancel).
pub fn form_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

/// Whether `LOOP_MCP_CONFIRM_WRITES` (its value, if set) leaves confirmations on.
pub fn enabled_by(value: Option<&str>) -> bool {
    !matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("0" | "false" | "no" | "off")
    )
}

/// Whether calling this tool needs the user's explicit yes: it overwrites a value
/// that others rely on (a stage, a submitted forecast).
pub fn needed(tool: &Tool) -> bool {
    matches!(tool.name.as_str(), "update_deal_stage" | "submit_forecast")
}

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Accept,
    Decline,
    Cancel,
}

/// How this process gets the user's answer.
pub enum Asker {
    /// Confirmations are off (`LOOP_MCP_CONFIRM_WRITES=0`, `call --yes`).
    Off,
    /// Ask the MCP client, when it declared form elicitation; otherwise write as before.
    Client,
    /// Ask someone directly (`loopops-mcp call` on a terminal).
    Prompt(Box<dyn FnMut(&str) -> Choice>),
}

/// Elicitation exists from 2025-06-18; `mode` from 2025-11-25.
pub fn version_has_elicitation(version: Version) -> bool {
    version.has_titles_and_structured_output()
}

/// The `elicitation/create` params: the question, and a form with no fields (the
/// answer is the action itself: accept, decline or cancel).
pub fn elicitation_params(question: &str, with_mode: bool) -> Value {
    let mut params = json!({"message": question, "requestedSchema": form_schema()});
    if with_mode {
        params["mode"] = json!("form");
    }
    params
}

/// The action of an `ElicitResult`.
pub fn parse_answer(result: &Value) -> Result<Choice, String> {
    match result.get("action").and_then(Value::as_str) {
        Some("accept") => Ok(Choice::Accept),
        Some("decline") => Ok(Choice::Decline),
        Some("cancel") => Ok(Choice::Cancel),
        Some(other) => Err(format!(
            "unknown action {:?}",
            other.chars().take(40).collect::<String>()
        )),
        None => Err("no `action`".into()),
    }
}

/// The result when the user said no: nothing was sent.
pub fn declined(question: &str, answer: Choice) -> Value {
    let how = match answer {
        Choice::Cancel => " (closed the confirmation without answering)",
        _ => "",
    };
    tools::failure(format!(
        "The user declined{how}: \"{question}\" Nothing was changed. Do not call the tool again for this change unless the user asks for it."
    ))
}

/// The result when no answer could be had: nothing was sent.
pub fn unanswered(question: &str, why: &str) -> Value {
    tools::failure(format!(
        "The change needs the user's confirmation (\"{question}\"), but {why}. Nothing was changed."
    ))
}

/// The result when a modern retry brings a state that does not admit the write.
pub fn refused(why: &str) -> Value {
    tools::failure(format!(
        "Refused: {why}; nothing was changed. Call the tool again without `requestState` to ask the user."
    ))
}

/// The result when the read that words the question failed: nothing was sent.
pub fn lookup_failed(read: &Tool, err: &ApiError) -> Value {
    let ctx = CallContext {
        tool: &read.name,
        procedure: &read.procedure,
        is_mutation: false,
    };
    tools::failure(format!(
        "Nothing was changed: looking up the record to ask the user for confirmation failed. {}",
        err.render(&ctx)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn the_variable_turns_confirmations_off_only_when_it_says_so() {
        for off in ["0", "false", "NO", " off "] {
            assert!(!enabled_by(Some(off)), "{off}");
        }
        for on in [None, Some("1"), Some(""), Some("yes"), Some("true")] {
            assert!(enabled_by(on), "{on:?}");
        }
    }

    #[test]
    fn only_overwriting_writes_are_confirmed() {
        let confirmed: Vec<&str> = catalog::catalog()
            .tools
            .iter()
            .filter(|t| needed(t))
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(confirmed, ["update_deal_stage", "submit_forecast"]);
        for t in catalog::catalog().tools.iter().filter(|t| needed(t)) {
            assert!(t.is_mutation(), "{}", t.name);
            assert!(lookup(t, &json!({})).is_some(), "{}", t.name);
        }
    }

    #[test]
    fn a_sealed_confirmation_admits_exactly_its_own_call() {
        use crate::mcp::mrtr::{StateError, StateSeal};
        let cat = catalog::catalog();
        let (stage, forecast) = (
            cat.tool("update_deal_stage").unwrap(),
            cat.tool("submit_forecast").unwrap(),
        );
        let args: Value =
            serde_json::from_str(r#"{"period": "2026-Q3", "commit": 1000, "bestCase": 1500, "note": "ok"}"#)
                .unwrap();
        let q = json!({"q": "Submit?"});
        // Another tool with the same arguments, every changed or added or dropped
        // argument, and another spelling of a number: refused, and not used up.
        let mut others: Vec<(&Tool, Value)> = vec![(stage, args.clone())];
        for (k, v) in [
            ("commit", json!(1001)),
            ("bestCase", json!(1500.5)),
            ("note", json!("OK")),
            ("period", json!("2026-Q4")),
            ("x", json!(1)),
        ] {
            let mut a = args.clone();
            a[k] = v;
            others.push((forecast, a));
        }
        let mut dropped = args.clone();
        dropped.as_object_mut().unwrap().remove("note");
        others.push((forecast, dropped));
        others.push((
            forecast,
            serde_json::from_str(r#"{"period": "2026-Q3", "commit": 1e3, "bestCase": 1500, "note": "ok"}"#)
                .unwrap(),
        ));
        let mut seal = StateSeal::with_key([3; 32]);
        let state = seal_for(&mut seal, forecast, &args, &q);
        for (tool, other) in &others {
            assert_eq!(
                seal.open(&purpose(tool), other, &state),
                Err(StateError::Mismatch),
                "{} {other}",
                tool.name
            );
        }
        // The same call with its keys in another order opens it, once.
        let reordered: Value =
            serde_json::from_str(r#"{"note": "ok", "bestCase": 1500, "commit": 1000, "period": "2026-Q3"}"#)
                .unwrap();
        assert_eq!(seal.open(&purpose(forecast), &reordered, &state), Ok(q.clone()));
        assert_eq!(
            seal.open(&purpose(forecast), &args, &state),
            Err(StateError::Replayed)
        );
    }

    fn seal_for(seal: &mut crate::mcp::mrtr::StateSeal, tool: &Tool, args: &Value, data: &Value) -> String {
        seal.seal(&purpose(tool), args, data, STATE_TTL)
    }

    #[test]
    fn answers_parse() {
        assert_eq!(
            parse_answer(&json!({"action": "accept", "content": {}})),
            Ok(Choice::Accept)
        );
        assert_eq!(parse_answer(&json!({"action": "decline"})), Ok(Choice::Decline));
        assert_eq!(parse_answer(&json!({"action": "cancel"})), Ok(Choice::Cancel));
        assert!(parse_answer(&json!({"action": "yes"})).is_err());
        assert!(parse_answer(&json!({})).is_err());
        assert!(parse_answer(&json!("accept")).is_err());
    }

    #[test]
    fn params_follow_the_version() {
        let p = elicitation_params("Move?", true);
        assert_eq!(p["mode"], "form");
        assert_eq!(p["requestedSchema"], json!({"type": "object", "properties": {}}));
        assert!(elicitation_params("Move?", false).get("mode").is_none());
        assert!(!version_has_elicitation(Version::V2025_03_26));
        assert!(version_has_elicitation(Version::V2025_06_18));
        assert!(version_has_elicitation(Version::V2025_11_25));
    }
}
