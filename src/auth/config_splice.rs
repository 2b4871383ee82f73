//! Other programs' entries in the shared config may hold JSON that Node accepts and
//! serde_json refuses: a lone surrogate escape (`"\ud800"`). Such a file is read
//! leniently (each lone surrogate escape read as U+FFFD, same length, so byte offsets
//! stay true), and written by splicing: only the bytes of the values we changed are
//! replaced, every other byte of the file is kept as it was.

use serde_json::{Map, Value};

/// `text` with every lone surrogate escape (`\uD800`–`\uDFFF` not forming a pair)
/// replaced by `\uFFFD`; `None` if there is none.
pub fn lenient_text(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        match b[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let unit = |at: usize| {
                    (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u'))
                        .then(|| std::str::from_utf8(b.get(at + 2..at + 6)?).ok())
                        .flatten()
                        .and_then(|h| u16::from_str_radix(h, 16).ok())
                };
                match unit(i) {
                    Some(hi @ 0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => {
                        let _ = hi;
                        i += 12;
                        continue;
                    }
                    Some(0xD800..=0xDFFF) => {
                        out.get_or_insert_with(|| b.to_vec())[i + 2..i + 6].copy_from_slice(b"FFFD");
                        i += 6;
                        continue;
                    }
                    _ => i += 1, // skip the escaped character
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.map(|v| String::from_utf8(v).expect("ASCII replaced by ASCII"))
}

/// Where a value sits in the text; objects with their entries.
#[derive(Debug)]
struct Node {
    start: usize,
    end: usize,
    entries: Option<Vec<Entry>>,
}

#[derive(Debug)]
struct Entry {
    key: String,
    key_start: usize,
    value: Node,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn string_end(&mut self) -> Option<usize> {
        // At the opening quote.
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(self.i);
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn value(&mut self, lenient: &str) -> Option<Node> {
        self.ws();
        let start = self.i;
        match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b'}' => {
                            self.i += 1;
                            break;
                        }
                        b',' => self.i += 1,
                        b'"' => {
                            let key_start = self.i;
                            let key_end = self.string_end()?;
                            let key: String = serde_json::from_str(&lenient[key_start..key_end]).ok()?;
                            self.ws();
                            if self.b.get(self.i) != Some(&b':') {
                                return None;
                            }
                            self.i += 1;
                            let value = self.value(lenient)?;
                            entries.push(Entry {
                                key,
                                key_start,
                                value,
                            });
                        }
                        _ => return None,
                    }
                }
                Some(Node {
                    start,
                    end: self.i,
                    entries: Some(entries),
                })
            }
            b'[' => {
                self.i += 1;
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        b',' => self.i += 1,
                        _ => {
                            self.value(lenient)?;
                        }
                    }
                }
                Some(Node {
                    start,
                    end: self.i,
                    entries: None,
                })
            }
            b'"' => {
                let end = self.string_end()?;
                Some(Node {
                    start,
                    end,
                    entries: None,
                })
            }
            _ => {
                while self.i < self.b.len() && !b",]} \t\r\n".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                (self.i > start).then_some(Node {
                    start,
                    end: self.i,
                    entries: None,
                })
            }
        }
    }
}

/// The file's text with `old` (what was read from it, leniently) changed into `new`,
/// touching only the bytes of what differs. `None` if the text cannot be mapped.
pub fn splice(text: &str, old: &Value, new: &Value) -> Option<String> {
    let lenient = lenient_text(text).unwrap_or_else(|| text.to_string());
    let mut scanner = Scanner {
        b: lenient.as_bytes(),
        i: 0,
    };
    let root = scanner.value(&lenient)?;
    let mut edits = Vec::new();
    diff(text, &root, old, new, &mut edits)?;
    // Apply from the end so that earlier offsets stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, with) in edits {
        out.replace_range(start..end, &with);
    }
    Some(out)
}

type Edit = (usize, usize, String);

fn diff(text: &str, node: &Node, old: &Value, new: &Value, edits: &mut Vec<Edit>) -> Option<()> {
    if old == new {
        return Some(());
    }
    let (Some(entries), Value::Object(old_map), Value::Object(new_map)) = (&node.entries, old, new) else {
        edits.push((node.start, node.end, render(new, indent_at(text, node.start))));
        return Some(());
    };
    // Entries that went away.
    for (n, e) in entries.iter().enumerate() {
        if new_map.contains_key(&e.key) {
            continue;
        }
        let (start, end) = if n > 0 {
            (entries[n - 1].value.end, e.value.end)
        } else if let Some(next) = entries.get(1) {
            (e.key_start, next.key_start)
        } else {
            (node.start + 1, node.end - 1)
        };
        edits.push((start, end, String::new()));
    }
    // Entries that changed.
    for e in entries {
        if let (Some(o), Some(n)) = (old_map.get(&e.key), new_map.get(&e.key)) {
            diff(text, &e.value, o, n, edits)?;
        }
    }
    // Entries that are new, after the last entry kept (or inside an empty object).
    let added: Map<String, Value> = new_map
        .iter()
        .filter(|(k, _)| !old_map.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if added.is_empty() {
        return Some(());
    }
    let kept_last = entries.iter().rev().find(|e| new_map.contains_key(&e.key));
    let (at, indent, lead) = match kept_last {
        Some(e) => (e.value.end, indent_at(text, e.key_start), ","),
        None => (node.start + 1, format!("{}  ", indent_at(text, node.start)), ""),
    };
    let mut add = String::from(lead);
    for (i, (k, v)) in added.iter().enumerate() {
        if i > 0 {
            add.push(',');
        }
        add.push('\n');
        add.push_str(&indent);
        add.push_str(&Value::String(k.clone()).to_string());
        add.push_str(": ");
        add.push_str(&render(v, indent.clone()));
    }
    if kept_last.is_none() {
        add.push('\n');
        add.push_str(&indent_at(text, node.start));
    }
    edits.push((at, at, add));
    Some(())
}

/// The whitespace that starts the line holding `pos`.
fn indent_at(text: &str, pos: usize) -> String {
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// Pretty JSON whose continuation lines carry `indent`.
fn render(v: &Value, indent: String) -> String {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    pretty.replace('\n', &format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = "{\n  \"mcpServers\": {\n    \"other\": {\"command\": \"x\", \"env\": {\"NAME\": \"\\ud800 lone\", \"OK\": \"\\ud83d\\ude00\"}},\n    \"loop-operations\": {\n      \"env\": {\n        \"OKTA_REFRESH_TOKEN\": \"old\",\n        \"B\": \"1\"\n      }\n    }\n  },\n  \"tail\":   [1,2 ,3]\n}\n";

    #[test]
    fn lone_surrogates_are_read_leniently() {
        assert!(serde_json::from_str::<Value>(FILE).is_err());
        let lenient = lenient_text(FILE).unwrap();
        assert_eq!(lenient.len(), FILE.len());
        let v: Value = serde_json::from_str(&lenient).unwrap();
        assert_eq!(v["mcpServers"]["other"]["env"]["NAME"], "\u{fffd} lone");
        assert_eq!(v["mcpServers"]["other"]["env"]["OK"], "😀", "pairs are kept");
        assert!(
            lenient_text(r#"{"a":"\\ud800"}"#).is_none(),
            "an escaped backslash"
        );
    }

    #[test]
    fn only_changed_bytes_are_rewritten() {
        let old: Value = serde_json::from_str(&lenient_text(FILE).unwrap()).unwrap();
        let mut new = old.clone();
        new["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"] = json!("new");
        new["mcpServers"]["loop-operations"]["env"]["C"] = json!("added");
        new["mcpServers"]["loop-operations"]["env"]
            .as_object_mut()
            .unwrap()
            .remove("B");
        let out = splice(FILE, &old, &new).unwrap();
        assert_eq!(
            out,
            FILE.replace(
                "\"old\",\n        \"B\": \"1\"",
                "\"new\",\n        \"C\": \"added\""
            )
        );
        let mut fresh = old.clone();
        fresh["mcpServers"]["new-one"] = json!({"env": {}});
        let out = splice(FILE, &old, &fresh).unwrap();
        assert!(out.contains("\\ud800 lone"), "{out}");
        let back: Value = serde_json::from_str(&lenient_text(&out).unwrap()).unwrap();
        assert_eq!(back, fresh);
        let empty = splice("{}", &json!({}), &json!({"a": 1})).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&empty).unwrap(), json!({"a": 1}));
    }
}
