//! Tokens never reach a log, an error text, a tool result or a panic message, whole or
//! in part. A `Secret` does not print itself, and every secret value seen (tokens
//! issued, device codes, proxy credentials) is remembered, so that every text leaving
//! the process can be scrubbed of it. This module is the one place that does it: the
//! protocol sink, the log, the CLI's terminal output and the panic hook all call here.
//!
//! Order matters: a text is scrubbed whole *before* it is cut, so that a secret
//! straddling the cut is still recognised; after the cut, a fragment of a secret left
//! at the cut edge (the text ends with a secret's first characters) is blanked too.

use std::fmt;
use std::sync::Mutex;

use serde_json::Value;

struct Known {
    /// The value as it appears in plain text.
    raw: String,
    /// The value as it appears inside a JSON string, when that differs.
    escaped: Option<String>,
}

static KNOWN: Mutex<Vec<Known>> = Mutex::new(Vec::new());

/// Tokens rotate for as long as the server runs; the oldest are forgotten past this.
const MAX_KNOWN: usize = 1024;

/// Shorter values are not scrubbed: they could be ordinary words.
const MIN_SCRUB_LEN: usize = 8;

/// A fragment of a secret at a cut edge is blanked from this length on: shorter ones
/// give nothing away and would blank ordinary word endings.
const MIN_FRAGMENT: usize = 4;

pub const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        remember(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Remember a secret that is not held as a `Secret` (a proxy password, say).
pub fn remember(value: &str) {
    if value.len() < MIN_SCRUB_LEN {
        return;
    }
    let mut known = lock();
    if known.iter().any(|k| k.raw == value) {
        return;
    }
    if known.len() >= MAX_KNOWN {
        known.remove(0);
    }
    let json = Value::String(value.to_string()).to_string();
    let inner = &json[1..json.len() - 1];
    known.push(Known {
        raw: value.to_string(),
        escaped: (inner != value).then(|| inner.to_string()),
    });
    // Longest first: a secret that contains another is replaced whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.raw.len()));
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Known>> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Replace every secret this process has seen by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let known = lock();
    scrub_with(&known, text)
}

fn scrub_with(known: &[Known], text: &str) -> String {
    let mut out: Option<String> = None;
    for k in known {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(k.raw.as_str()) {
            out = Some(current.replace(k.raw.as_str(), REDACTED));
        }
    }
    out.unwrap_or_else(|| text.to_string())
}

/// Does serialized JSON (or plain text) contain a known secret in either form?
pub fn contains_known(text: &str) -> bool {
    lock()
        .iter()
        .any(|k| occurs(text, &k.raw) || k.escaped.as_deref().is_some_and(|e| occurs(text, e)))
}

/// How many first bytes of a secret are looked for before the whole of it.
const PROBE: usize = 32;

/// `text.contains(needle)`, sooner: std finds a needle of up to 32 bytes with SIMD,
/// but a longer one (an Okta JWT is ~1 kB) costs a Two-Way setup over all of it on
/// every call, more than the search itself. A secret's start rarely occurs.
fn occurs(text: &str, needle: &str) -> bool {
    let mut end = needle.len().min(PROBE);
    while !needle.is_char_boundary(end) {
        end -= 1;
    }
    text.contains(&needle[..end]) && text.contains(needle)
}

/// Scrub every string (and key) of a JSON value in place.
pub fn scrub_value(value: &mut Value) {
    let known = lock();
    if known.is_empty() {
        return;
    }
    scrub_value_with(&known, value);
}

fn scrub_value_with(known: &[Known], value: &mut Value) {
    match value {
        Value::String(s) if known.iter().any(|k| s.contains(k.raw.as_str())) => *s = scrub_with(known, s),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value_with(known, v)),
        Value::Object(map) => {
            if map
                .keys()
                .any(|key| known.iter().any(|k| key.contains(k.raw.as_str())))
            {
                let old = std::mem::take(map);
                for (key, v) in old {
                    map.insert(scrub_with(known, &key), v);
                }
            }
            map.values_mut().for_each(|v| scrub_value_with(known, v));
        }
        _ => {}
    }
}

/// At most `max_chars` characters of `text` (trimmed), scrubbed before the cut, with
/// `…` where it was cut and no fragment of a secret left at the edge.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = scrub(text.trim());
    let end = text.char_indices().nth(max_chars).map_or(text.len(), |(i, _)| i);
    if end == text.len() {
        return text;
    }
    let mut cut = blank_edge(&text[..end]);
    cut.push('…');
    cut
}

/// Another party's words made safe to put between double quotes in our own text:
/// scrubbed, on one line (whitespace runs and control characters become one space),
/// double quotes turned single, at most `max` characters.
pub fn quote_safe(text: &str, max: usize) -> String {
    let text = strip_controls(&scrub(text));
    let mut line = String::with_capacity(text.len().min(4096));
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if space && !line.is_empty() {
            line.push(' ');
        }
        space = false;
        line.push(if c == '"' { '\'' } else { c });
    }
    excerpt(&line, max)
}

/// Control characters and bidirectional overrides: never shown as they are.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Remove ESC sequences whole (CSI `ESC [ … final`, OSC `ESC ] … BEL/ST`, two-byte
/// `ESC x`), C1 CSI/OSC likewise, and every other control character but `\n`, `\t`.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let kind = match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    'c'
                }
                Some(']' | 'P' | '_' | '^' | 'X') => {
                    chars.next();
                    'o'
                }
                Some(_) => {
                    chars.next();
                    continue;
                }
                None => continue,
            },
            '\u{9b}' => 'c',
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}' => 'o',
            c if is_unsafe(c) => continue,
            c => {
                out.push(c);
                continue;
            }
        };
        if kind == 'c' {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) || !(' '..='?').contains(&c) {
                    break;
                }
            }
        } else {
            // A string sequence ends at BEL, ST (ESC \ or U+9C), or the end.
            while let Some(c) = chars.next() {
                if c == '\u{7}' || c == '\u{9c}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
    }
    out
}

/// The first `max_bytes` bytes of `text` (at a character boundary), scrubbed before
/// the cut and without a secret's fragment at the edge; `None` if it fits whole.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> Option<String> {
    let text = scrub(text);
    if text.len() <= max_bytes {
        return None;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(blank_edge(&text[..end]))
}

/// If `kept` ends with the start of a known secret (at least `MIN_FRAGMENT` bytes of
/// it), replace that start by `[redacted]`.
pub fn blank_edge(kept: &str) -> String {
    let known = lock();
    let mut longest = 0usize;
    for k in known.iter() {
        longest = longest.max(fragment_at_end(kept, &k.raw));
        if let Some(e) = &k.escaped {
            longest = longest.max(fragment_at_end(kept, e));
        }
    }
    if longest == 0 {
        return kept.to_string();
    }
    let mut start = kept.len() - longest;
    while !kept.is_char_boundary(start) {
        start -= 1;
    }
    format!("{}{REDACTED}", &kept[..start])
}

/// The length of the longest proper prefix of `secret` (>= `MIN_FRAGMENT`) that `kept`
/// ends with, or 0.
fn fragment_at_end(kept: &str, secret: &str) -> usize {
    let (kept, secret) = (kept.as_bytes(), secret.as_bytes());
    if kept.len() < MIN_FRAGMENT {
        return 0;
    }
    let tail = &kept[kept.len() - MIN_FRAGMENT..];
    let mut best = 0;
    // Every place the last bytes of `kept` occur in the secret ends a candidate prefix.
    for end in MIN_FRAGMENT..secret.len() {
        if &secret[end - MIN_FRAGMENT..end] == tail && kept.ends_with(&secret[..end]) {
            best = end;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_scrub_hide_the_value() {
        let s = Secret::new("rt-very-secret-value");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(scrub("got rt-very-secret-value back"), "got [redacted] back");
        assert_eq!(s.expose(), "rt-very-secret-value");
    }

    #[test]
    fn a_secret_straddling_any_cut_is_never_shown_in_part() {
        let secret = "at-0123456789abcdefghijklmnopqrstuv";
        let _s = Secret::new(secret);
        for pad in 0..60 {
            let text = format!("{}Bearer {secret} and more text after it", "x".repeat(pad));
            for max in 1..text.len() + 2 {
                let got = excerpt(&text, max);
                for n in MIN_FRAGMENT..=secret.len() {
                    assert!(
                        !got.contains(&secret[..n]) && !got.contains(&secret[secret.len() - n..]),
                        "pad {pad} max {max}: {got}"
                    );
                }
                if let Some(t) = truncate_bytes(&text, max) {
                    assert!(!t.contains(&secret[..MIN_FRAGMENT]), "pad {pad} max {max}: {t}");
                }
            }
        }
    }

    #[test]
    fn a_long_secret_is_found_only_whole() {
        // A JWT's length, and characters of several bytes across the probe's edge.
        let long = format!("eyJ{}é€{}", "a1".repeat(14), "b2".repeat(500));
        let _s = Secret::new(long.clone());
        assert!(contains_known(&format!("x{long}y")));
        assert!(contains_known(&long));
        // Its first 32 bytes and more, but not the whole.
        assert!(!contains_known(&format!("x{}y", &long[..long.len() - 1])));
        assert!(!contains_known(&long[..40]));
        assert!(occurs("abcé", "cé") && !occurs("abc", "cé"));
    }

    #[test]
    fn json_escaped_secrets_and_values() {
        remember("pa\"ss\\word-123");
        assert!(contains_known(
            &Value::String("x pa\"ss\\word-123 y".into()).to_string()
        ));
        let mut v = serde_json::json!({"a": ["x pa\"ss\\word-123"], "pa\"ss\\word-123": 1});
        scrub_value(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["x [redacted]"], "[redacted]": 1}));
    }
}
