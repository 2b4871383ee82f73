//! What the CLI prints to a terminal. Text from the network (API messages, records,
//! Okta's answers) can hold escape sequences that retitle the window, clear the
//! screen or fake a prompt, and could hold a secret: everything printed goes through
//! here, scrubbed (`secret`) and stripped of control characters.

use serde_json::Value;

use crate::secret::{self, is_unsafe, strip_controls};

/// `text` scrubbed of secrets, with escape sequences and control characters removed
/// (newlines and tabs are kept).
pub fn clean(text: &str) -> String {
    strip_controls(&secret::scrub(text))
}

/// The same for every string of a JSON document printed as JSON: JSON escapes C0
/// controls itself, but not DEL, C1 controls or bidirectional overrides.
pub fn clean_json(value: &Value) -> Value {
    let mut v = value.clone();
    secret::scrub_value(&mut v);
    strip_value(&mut v);
    v
}

fn strip_value(v: &mut Value) {
    match v {
        Value::String(s) if s.chars().any(is_unsafe) => *s = strip_controls(s),
        Value::Array(items) => items.iter_mut().for_each(strip_value),
        Value::Object(map) => map.values_mut().for_each(strip_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed_whole() {
        assert_eq!(strip_controls("a\x1b]0;pwned\x07b"), "ab");
        assert_eq!(strip_controls("a\x1b[2Jb\x1b[31mc"), "abc");
        assert_eq!(
            strip_controls("x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\"),
            "xlink"
        );
        assert_eq!(strip_controls("bell\x07 cr\r nul\0 del\x7f"), "bell cr nul del");
        assert_eq!(strip_controls("keep\nlines\tand tabs"), "keep\nlines\tand tabs");
        assert_eq!(strip_controls("c1\u{9b}2Jx rtl\u{202e}x"), "c1x rtlx");
        assert_eq!(strip_controls("unfinished\x1b[12"), "unfinished");
        assert_eq!(strip_controls("dangling\x1b"), "dangling");
    }
}
