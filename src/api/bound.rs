//! One bound for what the API sends, of any shape, in two steps:
//!
//! 1. `parse` reads a body into a *bounded* `Value`: past a memory budget, list items
//!    and object entries are counted, not kept, and long strings are cut. A 16 MB
//!    answer of small numbers would otherwise become a gigabyte of `Value`s (with
//!    `arbitrary_precision` every number is a heap `String`).
//! 2. `fit` trims that value until the tool result (its text and `structuredContent`
//!    together) stays under the result budget, cutting the largest list wherever it is
//!    nested, or the longest string, and records every cut so that the note can say
//!    what was left out.
//!
//! Strings are scrubbed of secrets before they are cut (`secret::truncate_bytes`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::secret;

/// What parsing keeps, in estimated bytes of memory; past it, lists stop growing, and
/// past twice that, objects too.
pub const PARSE_BUDGET: usize = 4 * 1024 * 1024;
/// A string is never kept longer than this (the whole result is smaller anyway).
const MAX_STRING: usize = 256 * 1024;
/// Once the budget is spent, strings are kept this long.
const SHORT_STRING: usize = 256;
/// What one node costs besides its text (the `Value`, its slot, allocator overhead).
const NODE_COST: usize = std::mem::size_of::<Value>() + 16;
/// A string is never cut shorter than this by `fit`.
const MIN_STRING: usize = 64;

/// `serde_json`'s private marker for an arbitrary-precision number.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutKind {
    /// A list: the first `kept` of `total` items remain.
    Items,
    /// An object: the first `kept` of `total` entries remain.
    Entries,
    /// A string: `kept` of `total` bytes remain.
    Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub path: Vec<Seg>,
    pub kind: CutKind,
    pub kept: usize,
    pub total: usize,
}

/// A path as the model would write it: `items`, `data.items[0].notes`, `(the answer)`.
pub struct PathName<'a>(pub &'a [Seg]);

impl fmt::Display for PathName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(the answer)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A value and the cuts made to it.
#[derive(Debug)]
pub struct Bounded {
    pub value: Value,
    pub cuts: Vec<Cut>,
}

impl Bounded {
    pub fn whole(value: Value) -> Bounded {
        Bounded {
            value,
            cuts: Vec::new(),
        }
    }

    /// The part at `path`, with the cuts inside it re-rooted there.
    pub fn take(mut self, path: &[Seg]) -> Option<Bounded> {
        let mut node = &mut self.value;
        for seg in path {
            node = match (seg, node) {
                (Seg::Key(k), Value::Object(m)) => m.get_mut(k)?,
                (Seg::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        let value = std::mem::take(node);
        let cuts = self
            .cuts
            .into_iter()
            .filter_map(|mut c| {
                c.path.starts_with(path).then(|| {
                    c.path.drain(..path.len());
                    c
                })
            })
            .collect();
        Some(Bounded { value, cuts })
    }
}

/// Whether `parse` keeps any body of `len` bytes whole, whatever its shape: every node
/// takes at least a byte of the text, so it cannot cost more than this.
pub fn never_cuts(len: usize) -> bool {
    len.saturating_mul(NODE_COST + 1) < PARSE_BUDGET
}

/// Parse JSON into a value that never costs much more than `budget` bytes of memory.
pub fn parse(bytes: &[u8], budget: usize) -> Result<Bounded, serde_json::Error> {
    let mut state = State {
        soft_left: budget as isize,
        hard_left: (budget * 2) as isize,
        path: Vec::new(),
        cuts: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed(&mut state).deserialize(&mut de)?;
    de.end()?;
    Ok(Bounded {
        value,
        cuts: state.cuts,
    })
}

struct State {
    soft_left: isize,
    hard_left: isize,
    path: Vec<Seg>,
    cuts: Vec<Cut>,
}

impl State {
    fn charge(&mut self, n: usize) {
        self.soft_left -= n as isize;
        self.hard_left -= n as isize;
    }

    fn string(&mut self, s: &str) -> Value {
        let cap = if self.soft_left > 0 {
            MAX_STRING
        } else {
            SHORT_STRING
        };
        if s.len() <= cap {
            self.charge(NODE_COST + s.len());
            return Value::String(s.to_string());
        }
        let kept = secret::truncate_bytes(s, cap).unwrap_or_default();
        self.charge(NODE_COST + kept.len());
        self.cuts.push(Cut {
            path: self.path.clone(),
            kind: CutKind::Bytes,
            kept: kept.len(),
            total: s.len(),
        });
        Value::String(kept)
    }
}

struct Seed<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.charge(NODE_COST);
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.0.charge(NODE_COST);
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.0.charge(NODE_COST);
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        self.0.charge(NODE_COST);
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(self.0.string(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.charge(NODE_COST);
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let state = self.0;
        state.charge(NODE_COST);
        let mut items = Vec::new();
        let mut dropped = 0usize;
        loop {
            if state.soft_left <= 0 {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => dropped += 1,
                    None => break,
                }
                continue;
            }
            state.path.push(Seg::Index(items.len()));
            let item = seq.next_element_seed(Seed(state));
            state.path.pop();
            match item? {
                Some(v) => items.push(v),
                None => break,
            }
        }
        if dropped > 0 {
            state.cuts.push(Cut {
                path: state.path.clone(),
                kind: CutKind::Items,
                kept: items.len(),
                total: items.len() + dropped,
            });
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let state = self.0;
        let mut out = Map::new();
        let mut dropped = 0usize;
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if first && key == NUMBER_TOKEN {
                let digits: String = map.next_value()?;
                state.charge(NODE_COST + digits.len());
                return Number::from_str(&digits)
                    .map(Value::Number)
                    .map_err(de::Error::custom);
            }
            if first {
                state.charge(NODE_COST);
                first = false;
            }
            if state.hard_left <= 0 {
                map.next_value::<IgnoredAny>()?;
                dropped += 1;
                continue;
            }
            state.charge(NODE_COST + key.len());
            // The key lives on the path while its value is parsed (a cut there names
            // it), then moves into the map: no copy of every key.
            state.path.push(Seg::Key(key));
            let value = map.next_value_seed(Seed(state));
            let Some(Seg::Key(key)) = state.path.pop() else {
                unreachable!("the path ends with the key pushed above");
            };
            out.insert(key, value?);
        }
        if first {
            state.charge(NODE_COST);
        }
        if dropped > 0 {
            state.cuts.push(Cut {
                path: state.path.clone(),
                kind: CutKind::Entries,
                kept: out.len(),
                total: out.len() + dropped,
            });
        }
        Ok(Value::Object(out))
    }
}

/// The length of `value` serialized compactly, computed without serializing it.
pub fn json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => string_len(s),
        Value::Array(items) => 2 + items.iter().map(json_len).sum::<usize>() + items.len().saturating_sub(1),
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, v)| string_len(k) + 1 + json_len(v))
                .sum::<usize>()
                + m.len().saturating_sub(1)
        }
    }
}

fn string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Trim `b` until its compact JSON is at most `max` bytes. Returns false if even the
/// smallest form (every list empty, every string short) does not fit.
pub fn fit(b: &mut Bounded, max: usize) -> bool {
    // Every round cuts at least one node; the bound on rounds is a safety net.
    for _ in 0..256 {
        let size = json_len(&b.value);
        if size <= max {
            return true;
        }
        let mut path = Vec::new();
        if !reduce(&mut b.value, size - max, &mut path, &mut b.cuts) {
            return false;
        }
    }
    json_len(&b.value) <= max
}

/// Make `v` smaller by `excess` bytes if possible (at least a little), cutting the
/// node that holds most of its size. False if nothing in it can be cut.
fn reduce(v: &mut Value, excess: usize, path: &mut Vec<Seg>, cuts: &mut Vec<Cut>) -> bool {
    let size = json_len(v);
    match v {
        Value::String(s) if s.len() > MIN_STRING => {
            // A string cut before is cut again from its text, not its `…`.
            let text = s.strip_suffix('…').unwrap_or(s);
            // Quotes and the `…` take 5 bytes; escapes are caught in the next round.
            let target = size.saturating_sub(excess + 5).max(MIN_STRING);
            let kept = secret::truncate_bytes(text, target.min(text.len() - 1)).unwrap_or_default();
            let total = cuts
                .iter()
                .find(|c| c.path == *path && c.kind == CutKind::Bytes)
                .map_or(s.len(), |c| c.total);
            *s = format!("{kept}…");
            record(cuts, path, CutKind::Bytes, kept.len(), total);
            true
        }
        Value::Array(items) if !items.is_empty() => {
            // One item holding most of the list: cut inside it, keep the list.
            if let Some((i, big)) = largest(items.iter().map(json_len)) {
                path.push(Seg::Index(i));
                let inner = big * 2 > size && reduce(&mut items[i], excess, path, cuts);
                path.pop();
                if inner {
                    return true;
                }
            }
            let budget = size.saturating_sub(excess);
            let mut used = 2;
            let mut keep = 0;
            for (i, item) in items.iter().enumerate() {
                let add = json_len(item) + usize::from(i > 0);
                if used + add > budget {
                    break;
                }
                used += add;
                keep = i + 1;
            }
            let total = items.len();
            items.truncate(keep.min(total - 1));
            record(cuts, path, CutKind::Items, items.len(), total);
            true
        }
        Value::Object(m) if !m.is_empty() => {
            let sizes: Vec<usize> = m.values().map(json_len).collect();
            // Largest child first, then the next ones: lists and strings are cut
            // before whole entries are dropped.
            let mut order: Vec<usize> = (0..sizes.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
            for i in order.into_iter().take(8) {
                let (key, child) = m.iter_mut().nth(i).expect("index in range");
                path.push(Seg::Key(key.clone()));
                let done = reduce(child, excess, path, cuts);
                path.pop();
                if done {
                    return true;
                }
            }
            // Only scalars left: drop trailing entries.
            let total = m.len();
            let budget = size.saturating_sub(excess);
            let mut used = 2;
            let mut keep = 0;
            for (i, (k, v)) in m.iter().enumerate() {
                let add = string_len(k) + 1 + json_len(v) + usize::from(i > 0);
                if used + add > budget {
                    break;
                }
                used += add;
                keep = i + 1;
            }
            let keep = keep.min(total - 1);
            let mut n = 0;
            m.retain(|_, _| {
                n += 1;
                n <= keep
            });
            record(cuts, path, CutKind::Entries, m.len(), total);
            true
        }
        _ => false,
    }
}

fn largest(sizes: impl Iterator<Item = usize>) -> Option<(usize, usize)> {
    sizes.enumerate().max_by_key(|&(_, s)| s)
}

/// Note a cut; a node cut twice (at parse time, then to fit) keeps its first total.
fn record(cuts: &mut Vec<Cut>, path: &[Seg], kind: CutKind, kept: usize, total: usize) {
    match cuts.iter_mut().find(|c| c.path == path && c.kind == kind) {
        Some(c) => c.kept = kept,
        None => cuts.push(Cut {
            path: path.to_vec(),
            kind,
            kept,
            total,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_documents_parse_whole() {
        let text = r#"{"a":[1,2.5,-3e400,"x"],"b":{"c":null,"d":true},"big":123456789012345678901234567890}"#;
        let b = parse(text.as_bytes(), PARSE_BUDGET).unwrap();
        assert!(b.cuts.is_empty());
        assert_eq!(b.value, serde_json::from_str::<Value>(text).unwrap());
        assert!(parse(b"[1,2", PARSE_BUDGET).is_err());
        assert!(parse(b"[1] x", PARSE_BUDGET).is_err());
    }

    #[test]
    fn a_huge_list_of_small_numbers_is_counted_not_kept() {
        let body = format!("{{\"items\":[{}0],\"nextCursor\":\"c\"}}", "0,".repeat(1_000_000));
        let b = parse(body.as_bytes(), 64 * 1024).unwrap();
        let kept = b.value["items"].as_array().unwrap().len();
        assert!(kept < 1000, "{kept}");
        assert_eq!(b.value["nextCursor"], "c", "later small fields are kept");
        assert_eq!(
            b.cuts,
            vec![Cut {
                path: vec![Seg::Key("items".into())],
                kind: CutKind::Items,
                kept,
                total: 1_000_001
            }]
        );
    }

    #[test]
    fn fit_cuts_nested_lists_and_long_strings() {
        let items: Vec<Value> = (0..2000).map(|i| json!({"id": i, "tags": ["a", "b"]})).collect();
        let mut b = Bounded::whole(json!({"data": {"items": items}, "n": 1}));
        assert!(fit(&mut b, 10_000));
        assert!(json_len(&b.value) <= 10_000);
        assert_eq!(PathName(&b.cuts[0].path).to_string(), "data.items");
        assert_eq!(b.cuts[0].total, 2000);

        let mut s = Bounded::whole(json!({"items": [{"id": 1, "notes": "x".repeat(1_000_000)}]}));
        assert!(fit(&mut s, 10_000));
        assert!(json_len(&s.value) <= 10_000);
        assert_eq!(
            s.value["items"][0]["id"], 1,
            "the record stays; its string is cut"
        );
        assert_eq!(PathName(&s.cuts[0].path).to_string(), "items[0].notes");
        assert_eq!(s.cuts[0].kind, CutKind::Bytes);

        let wide: Map<String, Value> = (0..5000).map(|i| (format!("k{i}"), json!(i))).collect();
        let mut w = Bounded::whole(Value::Object(wide));
        assert!(fit(&mut w, 1000));
        assert!(json_len(&w.value) <= 1000);
        assert_eq!(w.cuts[0].kind, CutKind::Entries);
    }

    #[test]
    fn json_len_matches_serde() {
        let v = json!({"a\"b": ["\n\u{1}é", 1.5, null, true, false, {}], "": []});
        assert_eq!(json_len(&v), v.to_string().len());
    }
}
