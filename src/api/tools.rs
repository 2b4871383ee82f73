//! Running a tool: connect to the API on first use, call the tool's procedure, and
//! shape the answer for the model (bounded in size) or the failure into one text.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::api::trpc::Client;
use crate::auth::Auth;
use crate::auth::settings::Settings;
use crate::catalog::Tool;
use crate::error::{ApiError, CallContext};
use crate::net::http::Http;

/// A result's text is kept under this many bytes; past it, list items are dropped.
pub const MAX_RESULT_TEXT: usize = 100_000;

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
    ) -> Result<Value, ApiError> {
        let client = match &mut self.client {
            Some(c) => c,
            // Not connected yet, or not configured last time: settings are read again
            // so that a `login` in a terminal takes effect without a restart.
            None => {
                let settings =
                    Settings::load(&self.server_name, self.config.as_deref()).map_err(ApiError::Config)?;
                self.client.insert(client_for(&settings, &self.server_name)?)
            }
        };
        client.call(&tool.procedure, tool.kind, Some(args), on_retry)
    }
}

/// A client for these settings, or why there cannot be one.
pub fn client_for(settings: &Settings, server_name: &str) -> Result<Client, ApiError> {
    let missing = settings.missing();
    let (Some(api_url), Some(issuer), Some(client_id), Some(refresh_token)) = (
        settings.api_url.as_deref(),
        settings.issuer.as_deref(),
        settings.client_id.as_deref(),
        settings.refresh_token.clone(),
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
    let auth = Auth::new(
        issuer,
        client_id,
        refresh_token,
        settings.config.clone(),
        server_name,
        settings.timeout,
    );
    Ok(Client::new(Http::new(settings.timeout), api_url, auth))
}

/// A successful `tools/call` result. `structured` adds `structuredContent`.
/// `pageable`: the tool takes `limit` and `cursor`.
pub fn success(mut value: Value, structured: bool, pageable: bool) -> Value {
    // An API that echoes a token in a record must not put it before the model.
    crate::secret::scrub_value(&mut value);
    let (value, note) = fit(value, MAX_RESULT_TEXT, pageable);
    let text_block = |text: String| {
        let mut m = Map::new();
        m.insert("type".into(), Value::String("text".into()));
        m.insert("text".into(), Value::String(text));
        Value::Object(m)
    };
    let mut content = vec![text_block(value.to_string())];
    content.extend(note.map(text_block));
    let mut result = Map::new();
    result.insert("content".into(), Value::Array(content));
    if structured {
        result.insert("structuredContent".into(), value);
    }
    Value::Object(result)
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

/// Keep a result's JSON under `max` bytes by dropping items from its largest list,
/// so that the model's context is not flooded. Says what was left out.
fn fit(mut value: Value, max: usize, pageable: bool) -> (Value, Option<String>) {
    let size = value.to_string().len();
    if size <= max {
        return (value, None);
    }
    let Some(key) = largest_array(&value) else {
        return (value, None);
    };
    let items = value[&key].as_array_mut().expect("largest_array found an array");
    let total = items.len();
    // Binary search the longest prefix that fits.
    let all = std::mem::take(items);
    let (mut lo, mut hi) = (0usize, total);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        value[&key] = Value::Array(all[..mid].to_vec());
        if value.to_string().len() <= max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    value[&key] = Value::Array(all[..lo].to_vec());
    let left_out = format!(
        "Showing the first {lo} of {total} `{key}` ({} left out to keep this answer under {} kB).",
        total - lo,
        max / 1000
    );
    let note = if lo == 0 {
        // Not even one fits: keep the cursor so that paging can move past this page.
        format!(
            "{left_out} The first alone is larger than that; continue with `nextCursor`, or ask for something narrower."
        )
    } else if pageable && value.get("nextCursor").is_some() {
        // The API's cursor points past the items left out: following it would skip them.
        value["nextCursor"] = Value::Null;
        format!(
            "{left_out} To see them, call again with the same arguments and a smaller `limit` (for example {}), then page with the `nextCursor` of that answer.",
            lo.max(1)
        )
    } else {
        format!("{left_out} Ask for something narrower to see the rest.")
    };
    (value, Some(note))
}

fn largest_array(value: &Value) -> Option<String> {
    value
        .as_object()?
        .iter()
        .filter_map(|(k, v)| v.as_array().map(|a| (k, v.to_string().len(), a.len())))
        .filter(|(_, _, n)| *n > 0)
        .max_by_key(|(_, size, _)| *size)
        .map(|(k, _, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_are_untouched() {
        let r = success(json!({"items": [1, 2], "nextCursor": null}), true, true);
        assert_eq!(r["content"].as_array().unwrap().len(), 1);
        assert_eq!(r["structuredContent"]["items"], json!([1, 2]));
        assert_eq!(r["content"][0]["text"], r#"{"items":[1,2],"nextCursor":null}"#);
        assert!(
            success(json!({"a": 1}), false, false)
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
            json!({"items": items, "nextCursor": "c", "total": 5000}),
            true,
            true,
        );
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.len() <= MAX_RESULT_TEXT, "{}", text.len());
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
        assert!(more.to_string().len() > MAX_RESULT_TEXT);
    }
}
