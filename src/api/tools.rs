//! Running a tool: connect to the API on first use, call the tool's procedure, and
//! shape the answer for the model (bounded in size) or the failure into one text.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::api::bound::{self, Bounded, CutKind};
use crate::api::compact::Compact;
use crate::api::trpc::{Client, Output};
use crate::auth::Auth;
use crate::auth::settings::Settings;
use crate::catalog::Tool;
use crate::error::{ApiError, CallContext};
use crate::net::http::Http;

/// A result's text (and `structuredContent` with it) is kept under this many bytes.
pub const MAX_RESULT_TEXT: usize = 100_000;
/// Kept free for the note that says what was cut.
const NOTE_ROOM: usize = 2_000;

pub struct Executor {
    server_name: String,
    config: Option<PathBuf>,
    client: Option<Client>,
}

impl Executor {
    pub fn new(server_name: &str, config: Option<PathBuf>) -> Executor {
        Executor {
            server_name: server_name.to_string(),
            config,
            client: None,
        }
    }

    /// Call the tool's procedure with already validated arguments.
    pub fn call(
        &mut self,
        tool: &Tool,
        args: &Value,
        on_retry: &mut dyn FnMut(&str),
    ) -> Result<Bounded, ApiError> {
        self.client()?
            .call(&tool.procedure, tool.kind, Some(args), on_retry)
    }

    /// The same for a tool result: an answer that fits it whole (`structured`: its
    /// JSON is there twice) is passed on as compact JSON, unparsed.
    pub fn call_for_result(
        &mut self,
        tool: &Tool,
        args: &Value,
        structured: bool,
        on_retry: &mut dyn FnMut(&str),
    ) -> Result<Output, ApiError> {
        let max = MAX_RESULT_TEXT / copies(structured);
        self.client()?
            .call_for_result(&tool.procedure, tool.kind, Some(args), max, on_retry)
    }

    fn client(&mut self) -> Result<&mut Client, ApiError> {
        // Not connected yet, or not configured last time: settings are read again so
        // that a `login` in a terminal takes effect without a restart.
        if self.client.is_none() {
            let settings =
                Settings::load(&self.server_name, self.config.as_deref()).map_err(ApiError::Config)?;
            self.client = Some(client_for(&settings, &self.server_name)?);
        }
        Ok(self.client.as_mut().expect("connected just above"))
    }
}

/// A client for these settings, or why there cannot be one.
pub fn client_for(settings: &Settings, server_name: &str) -> Result<Client, ApiError> {
    let missing = settings.missing();
    // The refresh token may be missing here: the sign-in store can hold one.
    let (Some(api_url), Some(issuer), Some(client_id)) = (
        settings.api_url.as_deref(),
        settings.issuer.as_deref(),
        settings.client_id.as_deref(),
    ) else {
        return Err(ApiError::NotSignedIn {
            missing,
            config: settings.config.path.clone(),
        });
    };
    // Refuse a URL that would send a token in clear before any token is minted.
    for url in [api_url.to_string(), crate::auth::okta::endpoints(issuer).token] {
        if let Err(crate::net::http::Failure::BadUrl(why)) = crate::net::http::check_url(&url) {
            return Err(ApiError::BadUrl(why));
        }
    }
    let mut auth = Auth::new(
        issuer,
        client_id,
        settings.env_refresh_token.clone(),
        settings.config.clone(),
        server_name,
        settings.okta_timeout,
    );
    // In a chat there is no terminal to run `login` in: a tool call signs in.
    auth.offer_sign_in(crate::error::audience() == crate::error::Audience::Model);
    Ok(Client::new(Http::new(settings.timeout), api_url, auth))
}

/// A successful `tools/call` result. `structured` adds `structuredContent`.
/// `pageable`: the tool takes `limit` and `cursor`.
pub fn success(answer: Bounded, structured: bool, pageable: bool) -> Value {
    let (value, text, note) = fit(answer, MAX_RESULT_TEXT, structured, pageable);
    let text_block = |text: String| {
        let mut m = Map::new();
        m.insert("type".into(), Value::String("text".into()));
        m.insert("text".into(), Value::String(text));
        Value::Object(m)
    };
    let mut content = vec![text_block(text)];
    content.extend(note.map(text_block));
    let mut result = Map::new();
    result.insert("content".into(), Value::Array(content));
    if structured {
        result.insert("structuredContent".into(), value);
    }
    Value::Object(result)
}

/// The same for an answer passed on as its compact JSON (`Output::Compact`), written
/// as `success` would write it: the text block, then `structuredContent`.
pub fn success_json(answer: &Compact, structured: bool) -> String {
    let (json, text) = (&answer.json, &answer.text);
    let mut out = String::with_capacity(text.len() + json.len() * (copies(structured) - 1) + 64);
    out.push_str(r#"{"content":[{"type":"text","text":""#);
    out.push_str(text);
    out.push_str(r#""}]"#);
    if structured {
        out.push_str(r#","structuredContent":"#);
        out.push_str(json);
    }
    out.push('}');
    out
}

/// The text block is the compact JSON; `structuredContent` repeats it.
fn copies(structured: bool) -> usize {
    if structured { 2 } else { 1 }
}

/// A failed `tools/call` result: `isError` with one text that says what to do.
pub fn failure(text: String) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

pub fn api_failure(tool: &Tool, err: &ApiError) -> Value {
    let ctx = CallContext {
        tool: &tool.name,
        procedure: &tool.procedure,
        is_mutation: tool.is_mutation(),
    };
    failure(err.render(&ctx))
}

/// The compact JSON of a result, scrubbed: an API that echoes a token in a record must
/// not put it before the model. One scan of the text finds a secret in any string or
/// key; the value is walked only when there is one.
fn scrubbed_text(value: &mut Value) -> String {
    // `to_string`, not `Value`'s `Display`: no formatter in between.
    let text = serde_json::to_string(value).expect("a Value always serializes");
    if !crate::secret::contains_known(&text) {
        return text;
    }
    crate::secret::scrub_value(value);
    serde_json::to_string(value).expect("a Value always serializes")
}

/// Keep a result under `max` bytes of text (its text and `structuredContent`
/// together), whatever its shape, so that the model's context is not flooded.
/// Says what was left out and how to narrow the request. Returns the value, its
/// compact JSON (the text block) and the note.
fn fit(mut answer: Bounded, max: usize, structured: bool, pageable: bool) -> (Value, String, Option<String>) {
    // The note itself takes a little room.
    let copies = copies(structured);
    let text = scrubbed_text(&mut answer.value);
    if answer.cuts.is_empty() && text.len() <= max / copies {
        return (answer.value, text, None);
    }
    if !bound::fit(&mut answer, max.saturating_sub(NOTE_ROOM) / copies) {
        answer.value = Value::Object(Map::new());
    }
    let mut value = answer.value;
    let parts: Vec<String> = answer
        .cuts
        .iter()
        .map(|c| {
            let path = bound::PathName(&c.path);
            match c.kind {
                CutKind::Items => format!("the first {} of {} `{path}`", c.kept, c.total),
                CutKind::Entries => format!("the first {} of {} fields of `{path}`", c.kept, c.total),
                CutKind::Bytes => format!("the first {} of {} bytes of `{path}`", c.kept, c.total),
            }
        })
        .collect();
    let left_out = format!(
        "Showing {} (the rest was left out to keep this answer under {} kB).",
        parts.join(", "),
        max / 1000
    );
    // A list of the answer's own, cut: the API's cursor points past what was left out.
    let page_cut = answer
        .cuts
        .iter()
        .find(|c| c.kind == CutKind::Items && c.path.len() == 1);
    let note = match page_cut {
        Some(c) if c.kept == 0 => format!(
            "{left_out} The first alone is larger than that; continue with `nextCursor`, or ask for something narrower."
        ),
        Some(c) if pageable && value.get("nextCursor").is_some() => {
            value["nextCursor"] = Value::Null;
            format!(
                "{left_out} To see them, call again with the same arguments and a smaller `limit` (for example {}), then page with the `nextCursor` of that answer.",
                c.kept.max(1)
            )
        }
        _ => format!(
            "{left_out} Ask for something narrower (fewer records, a filter or a smaller `limit`) to see the rest."
        ),
    };
    let text = scrubbed_text(&mut value);
    (value, text, Some(crate::secret::scrub(&note)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_are_untouched() {
        let r = success(
            Bounded::whole(json!({"items": [1, 2], "nextCursor": null})),
            true,
            true,
        );
        assert_eq!(r["content"].as_array().unwrap().len(), 1);
        assert_eq!(r["structuredContent"]["items"], json!([1, 2]));
        assert_eq!(r["content"][0]["text"], r#"{"items":[1,2],"nextCursor":null}"#);
        assert!(
            success(Bounded::whole(json!({"a": 1})), false, false)
                .get("structuredContent")
                .is_none()
        );
    }

    #[test]
    fn large_lists_are_cut_to_fit_with_a_note() {
        let items: Vec<Value> = (0..5000)
            .map(|i| json!({"id": format!("deal_{i}"), "name": "x".repeat(150)}))
            .collect();
        let r = success(
            Bounded::whole(json!({"items": items, "nextCursor": "c", "total": 5000})),
            true,
            true,
        );
        let text = r["content"][0]["text"].as_str().unwrap();
        // Text and structuredContent together.
        let both = text.len() + r["structuredContent"].to_string().len();
        assert!(both <= MAX_RESULT_TEXT, "{both}");
        let kept = r["structuredContent"]["items"].as_array().unwrap().len();
        assert!(kept > 100 && kept < 5000, "{kept}");
        let note = r["content"][1]["text"].as_str().unwrap();
        assert!(
            note.starts_with(&format!("Showing the first {kept} of 5000 `items`")),
            "{note}"
        );
        // One more item would not have fit.
        let mut more = r["structuredContent"].clone();
        more["items"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "deal_x", "name": "x".repeat(150)}));
        assert!(2 * more.to_string().len() > MAX_RESULT_TEXT - NOTE_ROOM);
        assert_eq!(r["structuredContent"]["nextCursor"], Value::Null);
    }
}
