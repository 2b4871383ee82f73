//! Validates tool arguments against the catalog's JSON Schemas, for the keywords the
//! catalog uses: type, properties, required, additionalProperties, enum, pattern,
//! format (date, date-time), minimum, maximum, minLength, maxLength, items, minItems,
//! maxItems. Messages name the field and the rule so the model can fix its call.
//! Keys starting with `x-` are ours: `x-expected` words a pattern's rule for humans.

use serde_json::{Map, Value};

use crate::catalog::pattern::Pattern;

/// All problems found, in schema order. Empty means valid.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    // A huge bad argument must not make a huge answer.
    if errors.len() > MAX_ERRORS {
        let more = errors.len() - MAX_ERRORS;
        errors.truncate(MAX_ERRORS);
        errors.push(format!("and {more} more"));
    }
    errors
}

const MAX_ERRORS: usize = 10;

/// Up to this many keys, a lookup scans them.
const SCAN_MAX: usize = 16;

/// `map.get(key)`, by a scan when the map is small: a schema node has a handful of
/// keywords, and a scan of them is cheaper than hashing the key (SipHash, on every
/// `get` of a `preserve_order` map); a tool call looks up a dozen.
fn keyword<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= SCAN_MAX {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(types) = keyword(schema, "type")
        && !type_matches(types, value)
    {
        errors.push(format!(
            "{} must be {}, got {}",
            name(path),
            describe_type(schema),
            show(value)
        ));
        return;
    }
    if let Some(Value::Array(allowed)) = keyword(schema, "enum")
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(plain).collect();
        errors.push(format!(
            "{} must be one of {}, got {}",
            name(path),
            list.join(", "),
            show(value)
        ));
        return;
    }
    match value {
        Value::Object(obj) => check_object(schema, obj, path, errors),
        Value::Array(items) => check_array(schema, items, path, errors),
        Value::String(s) => check_string(schema, s, path, errors),
        Value::Number(_) => check_number(schema, value, path, errors),
        _ => {}
    }
}

fn check_object(schema: &Map<String, Value>, obj: &Map<String, Value>, path: &str, errors: &mut Vec<String>) {
    let empty = Map::new();
    let props = keyword(schema, "properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(Value::Array(required)) = keyword(schema, "required") {
        for key in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(key) {
                errors.push(format!("missing required argument {}", name(&join(path, key))));
            }
        }
    }
    for (key, value) in obj {
        match keyword(props, key) {
            Some(sub) => check(sub, value, &join(path, key), errors),
            None if keyword(schema, "additionalProperties") == Some(&Value::Bool(false)) => {
                let known: Vec<&str> = props.keys().map(String::as_str).collect();
                let expected = if known.is_empty() {
                    "this tool takes no arguments".to_string()
                } else {
                    format!("expected one of: {}", known.join(", "))
                };
                errors.push(format!(
                    "unknown argument {} ({expected})",
                    name(&join(path, key))
                ));
            }
            None => {}
        }
    }
}

fn check_array(schema: &Map<String, Value>, items: &[Value], path: &str, errors: &mut Vec<String>) {
    let min = keyword(schema, "minItems").and_then(Value::as_u64);
    let max = keyword(schema, "maxItems").and_then(Value::as_u64);
    let n = items.len() as u64;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        errors.push(format!(
            "{} must have {}, got {n}",
            name(path),
            bounds(min, max, "items")
        ));
        return;
    }
    if let Some(item_schema) = keyword(schema, "items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<String>) {
    let min = keyword(schema, "minLength").and_then(Value::as_u64);
    let max = keyword(schema, "maxLength").and_then(Value::as_u64);
    let n = s.chars().count() as u64;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        errors.push(format!(
            "{} must be {} long, got {n}",
            name(path),
            bounds(min, max, "characters")
        ));
        return;
    }
    if let Some(Value::String(p)) = keyword(schema, "pattern") {
        // Catalog patterns are checked by a test; an invalid one fails closed.
        let ok = Pattern::new(p).map(|p| p.is_match(s)).unwrap_or(false);
        if !ok {
            let rule = match keyword(schema, "x-expected").and_then(Value::as_str) {
                Some(words) => words.to_string(),
                None => format!("match the pattern {p}"),
            };
            errors.push(format!("{} must {rule}, got {}", name(path), show_str(s)));
            return;
        }
    }
    match keyword(schema, "format").and_then(Value::as_str) {
        Some("date") if !is_date(s) => errors.push(format!(
            "{} must be a calendar date YYYY-MM-DD, got {}",
            name(path),
            show_str(s)
        )),
        Some("date-time") if !is_date_time(s) => errors.push(format!(
            "{} must be an ISO 8601 date-time with a time zone, like 2026-11-27T14:30:00Z, got {}",
            name(path),
            show_str(s)
        )),
        _ => {}
    }
}

fn check_number(schema: &Map<String, Value>, value: &Value, path: &str, errors: &mut Vec<String>) {
    let x = value.as_f64().unwrap_or(f64::NAN);
    if !x.is_finite() {
        errors.push(format!(
            "{} must be a finite number, got {}",
            name(path),
            show(value)
        ));
        return;
    }
    let min = keyword(schema, "minimum").and_then(Value::as_f64);
    let max = keyword(schema, "maximum").and_then(Value::as_f64);
    if min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m) {
        let kind = if is_integer_schema(schema) {
            "an integer"
        } else {
            "a number"
        };
        let range = match (min, max) {
            (Some(lo), Some(hi)) => format!("from {} to {}", num(lo), num(hi)),
            (Some(lo), None) => format!(">= {}", num(lo)),
            (None, Some(hi)) => format!("<= {}", num(hi)),
            (None, None) => unreachable!(),
        };
        errors.push(format!(
            "{} must be {kind} {range}, got {}",
            name(path),
            show(value)
        ));
    }
}

fn type_matches(types: &Value, value: &Value) -> bool {
    match types {
        Value::String(t) => one_type_matches(t, value),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .any(|t| one_type_matches(t, value)),
        _ => true,
    }
}

fn one_type_matches(t: &str, value: &Value) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => false,
        },
        _ => true,
    }
}

fn is_integer_schema(schema: &Map<String, Value>) -> bool {
    keyword(schema, "type") == Some(&Value::String("integer".into()))
}

fn describe_type(schema: &Map<String, Value>) -> String {
    let article = |t: &str| match t {
        "object" | "array" | "integer" => format!("an {t}"),
        "null" => "null".to_string(),
        _ => format!("a {t}"),
    };
    match keyword(schema, "type") {
        Some(Value::String(t)) => article(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(article)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "valid".to_string(),
    }
}

fn bounds(min: Option<u64>, max: Option<u64>, unit: &str) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) if lo == hi => format!("exactly {lo} {unit}"),
        (Some(lo), Some(hi)) => format!("{lo} to {hi} {unit}"),
        (Some(1), None) => format!("at least 1 {}", unit.trim_end_matches('s')),
        (Some(lo), None) => format!("at least {lo} {unit}"),
        (None, Some(hi)) => format!("at most {hi} {unit}"),
        (None, None) => unit.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn name(path: &str) -> String {
    if path.is_empty() {
        "the arguments".to_string()
    } else {
        format!("`{path}`")
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// A value for an error message: short, and typed so "5" and 5 differ.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => show_str(s),
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => {
            let s = other.to_string();
            if s.len() > 40 {
                format!("{}…", &s[..40])
            } else {
                s
            }
        }
    }
}

fn show_str(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    let ellipsis = if short.len() < s.len() { "…" } else { "" };
    format!("{}{ellipsis}", Value::String(short))
}

fn plain(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string())
}

/// `YYYY-MM-DD` naming a real day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn is_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once(['T', 't']) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let (clock, zone) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, None)
    } else if let Some(i) = time.rfind(['+', '-']) {
        (&time[..i], Some(&time[i + 1..]))
    } else {
        return false;
    };
    let two = |p: &str, max: u32| {
        p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|v| v <= max)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let clock_ok = parts.len() == 3 && two(parts[0], 23) && two(parts[1], 59) && two(parts[2], 60);
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()));
    let zone_ok = zone.is_none_or(|z| matches!(z.split_once(':'), Some((h, m)) if two(h, 23) && two(m, 59)));
    clock_ok && frac_ok && zone_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "dealId": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "minAmount": {"type": "number", "minimum": 0},
                "stages": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
                "period": {"type": "string", "pattern": "^[0-9]{4}-Q[1-4]$", "x-expected": "be a fiscal quarter like 2026-Q3"},
                "day": {"type": "string", "format": "date"},
                "at": {"type": "string", "format": "date-time"},
                "note": {"type": "string", "maxLength": 5},
                "flag": {"type": "boolean"}
            },
            "required": ["dealId"],
            "additionalProperties": false
        })
    }

    fn errs(v: Value) -> Vec<String> {
        validate(&schema(), &v)
    }

    #[test]
    fn valid_arguments_pass() {
        let v = json!({"dealId": "d1", "limit": 100, "minAmount": 0.5, "stages": ["a", "b"],
            "period": "2026-Q3", "day": "2024-02-29", "at": "2026-11-27T10:00:00.123+01:00",
            "note": "héllo", "flag": true});
        assert_eq!(errs(v), Vec::<String>::new());
    }

    #[test]
    fn messages_name_the_field_and_the_rule() {
        assert_eq!(
            errs(json!({"dealId": "d", "limit": 500})),
            vec!["`limit` must be an integer from 1 to 100, got 500"]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "limit": "5"})),
            vec!["`limit` must be an integer, got \"5\""]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "limit": 2.5})),
            vec!["`limit` must be an integer, got 2.5"]
        );
        assert_eq!(errs(json!({})), vec!["missing required argument `dealId`"]);
        assert_eq!(
            errs(json!({"dealId": "d", "bogus": 1})),
            vec![
                "unknown argument `bogus` (expected one of: dealId, limit, minAmount, stages, period, day, at, note, flag)"
            ]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "stages": ["a", "c"]})),
            vec!["`stages[1]` must be one of a, b, got \"c\""]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "stages": ["a", "a", "b"]})),
            vec!["`stages` must have at most 2 items, got 3"]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "period": "Q3"})),
            vec!["`period` must be a fiscal quarter like 2026-Q3, got \"Q3\""]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "day": "2023-02-29"})),
            vec!["`day` must be a calendar date YYYY-MM-DD, got \"2023-02-29\""]
        );
        assert_eq!(
            errs(json!({"dealId": ""})),
            vec!["`dealId` must be at least 1 character long, got 0"]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "note": "toolong"})),
            vec!["`note` must be at most 5 characters long, got 7"]
        );
        assert_eq!(
            errs(json!({"dealId": "d", "minAmount": -1})),
            vec!["`minAmount` must be a number >= 0, got -1"]
        );
        assert_eq!(
            errs(json!([1])),
            vec!["the arguments must be an object, got an array"]
        );
    }

    #[test]
    fn huge_or_infinite_input_gets_a_short_answer() {
        let many: Vec<Value> = (0..100_000).map(|_| json!("zzz")).collect();
        let e = errs(json!({"dealId": "d", "stages": many}));
        assert_eq!(e, vec!["`stages` must have at most 2 items, got 100000"]);
        let s =
            json!({"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}});
        let e = validate(&s, &json!({"xs": vec!["a"; 50]}));
        assert_eq!(e.len(), 11);
        assert_eq!(e[10], "and 40 more");
        let big: Value = serde_json::from_str(r#"{"dealId": "d", "minAmount": -1e400}"#).unwrap();
        assert_eq!(errs(big).len(), 1);
    }

    #[test]
    fn all_errors_are_reported() {
        let e = errs(json!({"limit": 0, "flag": "yes"}));
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn date_time_forms() {
        for ok in [
            "2026-01-01T00:00:00Z",
            "2026-01-01t23:59:60z",
            "2026-01-01T10:00:00-05:30",
            "2026-01-01T10:00:00.5Z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2026-01-01",
            "2026-01-01T10:00:00",
            "2026-01-01T24:00:00Z",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00:00.Z",
            "x",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn nullable_types() {
        let s = json!({"type": ["string", "null"]});
        assert!(validate(&s, &Value::Null).is_empty());
        assert_eq!(
            validate(&s, &json!(3)),
            vec!["the arguments must be a string or null, got 3"]
        );
    }
}
