//! Tokens never reach a log, an error text or a panic message. A `Secret` does not
//! print itself, and every secret value seen is remembered so that any text leaving
//! the process (logs, tool errors) can be scrubbed of it as a second line of defence.

use std::fmt;
use std::sync::Mutex;

static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Tokens rotate for as long as the server runs; the oldest are forgotten past this.
const MAX_KNOWN: usize = 1024;

/// Shorter values are not scrubbed: they could be ordinary words.
const MIN_SCRUB_LEN: usize = 8;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        if value.len() >= MIN_SCRUB_LEN {
            let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
            if !known.contains(&value) {
                if known.len() >= MAX_KNOWN {
                    known.remove(0);
                }
                known.push(value.clone());
            }
        }
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

/// Replace every secret this process has seen by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in known.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
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
}
