//! How an answer that is not JSON is shown to the user: an HTML page is described
//! (its `<title>`), never quoted as markup the model has to read around; anything
//! else becomes a short quoted excerpt. Both are scrubbed of secrets before the cut.

use crate::secret;

/// The longest title or excerpt shown.
const MAX_SHOWN: usize = 100;
/// Only the start of a body is looked at: a title is near the top.
const LOOK_AT: usize = 64 * 1024;

/// `an HTML page titled "502 Bad Gateway"`, or `a text/plain answer: "…"`.
pub fn describe(content_type: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(LOOK_AT)]);
    let text = text.trim_start_matches('\u{feff}').trim();
    if is_html(content_type, text) {
        return match title(text) {
            Some(t) => format!("an HTML page titled \"{t}\""),
            None => "an HTML page without a title".into(),
        };
    }
    let kind = if content_type.is_empty() {
        "a non-JSON answer".to_string()
    } else {
        format!(
            "an answer of type {}",
            secret::quote_safe(content_type.split(';').next().unwrap_or(""), 60)
        )
    };
    if text.is_empty() {
        return format!("{kind} with an empty body");
    }
    format!("{kind}: \"{}\"", secret::quote_safe(text, MAX_SHOWN))
}

fn is_html(content_type: &str, text: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("html") {
        return true;
    }
    let head: String = text.chars().take(64).collect::<String>().to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

fn title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    // The title ends at the next tag (`</title>`, or whatever a cut page has there).
    let end = start + lower[start..].find('<').unwrap_or(lower.len() - start);
    let raw = decode_entities(&text[start..end]);
    let shown = secret::quote_safe(&raw, MAX_SHOWN);
    (!shown.is_empty()).then_some(shown)
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "'")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_described_by_its_title() {
        let page = b"<!DOCTYPE html>\n<html>\n<head><title>502 Bad\n Gateway</title></head><body><h1>x</h1></body></html>";
        assert_eq!(
            describe("text/html", page),
            "an HTML page titled \"502 Bad Gateway\""
        );
        assert_eq!(
            describe("", b"<html><body>no title"),
            "an HTML page without a title"
        );
        assert_eq!(
            describe("text/html; charset=utf-8", b"<TITLE>A &amp; B \"q\"</TITLE>"),
            "an HTML page titled \"A & B 'q'\""
        );
        assert_eq!(
            describe("text/plain", b"upstream\x1b[2J timed out"),
            "an answer of type text/plain: \"upstream timed out\""
        );
        assert_eq!(describe("", b""), "a non-JSON answer with an empty body");
        assert!(describe("text/plain", &[b'x'; 500]).ends_with("…\""));
    }
}
