//! Bounded cost per input line. The line itself is bounded (8 MiB, `framing`); what
//! it turns into is bounded here, before it is parsed: a JSON value costs far more
//! memory than its text when it is made of many small nodes (`[0,0,…]` is 2 bytes of
//! text and ~100 bytes of `Value` per number), and a batch multiplies the work and
//! the answer. One pass over the bytes counts what parsing would build.

/// The most messages in one batch (2025-03-26). Real clients send a handful.
pub const MAX_BATCH: usize = 100;
/// The answers to one batch stop being produced past this many bytes: the requests
/// left are answered with an error instead of being run.
pub const MAX_BATCH_ANSWER: usize = 1024 * 1024;
/// A message may cost this much memory once parsed without question…
const FREE_PARSE: usize = 2 * 1024 * 1024;
/// …and up to this many times its own length beyond that…
const MAX_EXPANSION: usize = 4;
/// …but never more than this.
const MAX_PARSED: usize = 24 * 1024 * 1024;
/// What one parsed node costs besides its text (the `Value`, its slot in a list or
/// map, allocator overhead), measured with `arbitrary_precision` numbers.
const NODE_COST: usize = std::mem::size_of::<serde_json::Value>() + 24;

/// What parsing a line would build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Values, keys included.
    pub nodes: usize,
    /// Entries of a top-level array (a batch), or `None` for anything else.
    pub batch_len: Option<usize>,
}

impl Shape {
    /// Memory the parsed form would take, roughly.
    pub fn parsed_bytes(&self, text_len: usize) -> usize {
        self.nodes.saturating_mul(NODE_COST).saturating_add(text_len)
    }
}

/// Count nodes and batch entries. Not a validator: invalid JSON is counted somehow,
/// and the parser reports it afterwards.
pub fn shape(line: &[u8]) -> Shape {
    let mut nodes = 0usize;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut top_is_array = None;
    let mut top_entries = 0usize;
    let mut top_empty = true;
    // A value starts at a scalar's first byte, a string's quote, `[` or `{`; counting
    // every start in the text also counts keys, which cost a `String` each.
    let mut in_scalar = false;
    for &b in line {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if depth == 1 && top_is_array == Some(true) && !b.is_ascii_whitespace() && b != b']' {
            top_empty = false;
        }
        let starts_value = match b {
            b'"' => {
                in_string = true;
                in_scalar = false;
                true
            }
            b'[' | b'{' => {
                if depth == 0 && top_is_array.is_none() {
                    top_is_array = Some(b == b'[');
                }
                depth += 1;
                in_scalar = false;
                true
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                in_scalar = false;
                false
            }
            b',' | b':' => {
                if b == b',' && depth == 1 {
                    top_entries += 1;
                }
                in_scalar = false;
                false
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                in_scalar = false;
                false
            }
            _ => !std::mem::replace(&mut in_scalar, true),
        };
        nodes += usize::from(starts_value);
    }
    let batch_len = match top_is_array {
        Some(true) if top_empty => Some(0),
        Some(true) => Some(top_entries + 1),
        _ => None,
    };
    Shape { nodes, batch_len }
}

/// Why a line is refused before it is parsed, if it is.
pub fn check(line: &[u8]) -> Result<(), String> {
    if within_limits_whatever_its_shape(line) {
        return Ok(());
    }
    check_shape(line)
}

/// A line too short to hold more values than parsing may cost, and either too short
/// to hold a batch over the limit or no batch at all, passes whatever it holds: the
/// common line is not scanned.
fn within_limits_whatever_its_shape(line: &[u8]) -> bool {
    // Each value the scan counts starts at a byte of its own.
    let most_nodes = line.len();
    let parsed_at_most = most_nodes.saturating_mul(NODE_COST).saturating_add(line.len());
    // The scan counts a batch's entries by its commas, valid JSON or not (`[,,]` is
    // three), after a `[` anywhere outside a string: more than MAX_BATCH entries take
    // a `[` and MAX_BATCH commas.
    let could_be_long_batch = line.len() > MAX_BATCH && line.contains(&b'[');
    parsed_at_most <= FREE_PARSE && !could_be_long_batch
}

fn check_shape(line: &[u8]) -> Result<(), String> {
    let shape = shape(line);
    if let Some(n) = shape.batch_len
        && n > MAX_BATCH
    {
        return Err(format!(
            "batch of {n} messages exceeds the limit of {MAX_BATCH}; send them in smaller batches or one per line"
        ));
    }
    let parsed = shape.parsed_bytes(line.len());
    let allowed = line
        .len()
        .saturating_mul(MAX_EXPANSION)
        .clamp(FREE_PARSE, MAX_PARSED);
    if parsed > allowed {
        return Err(format!(
            "message of {} bytes holds {} JSON values, which would take about {} MB to parse; it was refused (the limit is {} MB)",
            line.len(),
            shape.nodes,
            parsed / (1024 * 1024) + 1,
            allowed / (1024 * 1024)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_and_batch_entries() {
        let s = shape(br#"{"a":[1,2,"x,y"],"b":{"c":null}}"#);
        assert_eq!(s.nodes, 10); // object, a, array, 1, 2, "x,y", b, object, c, null: keys too
        assert_eq!(s.batch_len, None);
        assert_eq!(shape(b"[]").batch_len, Some(0));
        assert_eq!(shape(b" [ ] ").batch_len, Some(0));
        assert_eq!(shape(br#"[{"id":1},{"id":2}]"#).batch_len, Some(2));
        assert_eq!(shape(br#"["a\"],[", 1]"#).batch_len, Some(2));
    }

    #[test]
    fn lines_passed_unscanned_are_lines_the_scan_passes() {
        // The shortest batch over the limit, and lines around the unscanned bound.
        let batch = format!("[{}1]", "1,".repeat(MAX_BATCH));
        assert_eq!(shape(batch.as_bytes()).batch_len, Some(MAX_BATCH + 1));
        assert!(!within_limits_whatever_its_shape(batch.as_bytes()));
        assert!(check(batch.as_bytes()).is_err());
        // Not JSON, but counted as a batch all the same: refused by the scan as before.
        for line in [
            format!("[{}", ",".repeat(MAX_BATCH)),
            format!("[{}]", ",".repeat(MAX_BATCH)),
            format!("1[{}]", ",".repeat(MAX_BATCH)),
            format!("\"x\" [{}]", ",".repeat(MAX_BATCH)),
        ] {
            assert!(check_shape(line.as_bytes()).is_err(), "{line}");
            assert!(check(line.as_bytes()).is_err(), "{line}");
        }
        // Short enough, or no `[` at all: not scanned.
        let shorter = format!("[{}]", ",".repeat(MAX_BATCH - 2));
        assert!(within_limits_whatever_its_shape(shorter.as_bytes()));
        assert!(check_shape(shorter.as_bytes()).is_ok());
        let call = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"get_deal","arguments":{{"dealId":"{}"}}}}}}"#,
            "D".repeat(300)
        );
        assert!(within_limits_whatever_its_shape(call.as_bytes()));
        // Past the node bound every line is scanned, batch or not.
        let bound = FREE_PARSE / (NODE_COST + 1);
        for len in [bound - 1, bound, bound + 1] {
            let line = format!("{{\"x\":[{}0]}}", "0,".repeat(len / 2));
            let unscanned = within_limits_whatever_its_shape(line.as_bytes());
            assert_eq!(unscanned, line.len() <= bound, "{}", line.len());
        }
        // Random short lines of JSON punctuation: whatever passes unscanned, the scan
        // passes too.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = (rng % 400) as usize;
            let line: Vec<u8> = (0..len)
                .map(|k| b"[]{},:\"1 a\\"[((rng >> (k % 50)) as usize + k) % 11])
                .collect();
            if within_limits_whatever_its_shape(&line) {
                assert!(check_shape(&line).is_ok(), "{}", String::from_utf8_lossy(&line));
            }
        }
    }

    #[test]
    fn small_numbers_by_the_million_are_refused_long_strings_are_not() {
        let numbers = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":[{}0]}}}}"#,
            "0,".repeat(4_000_000)
        );
        let err = check(numbers.as_bytes()).unwrap_err();
        assert!(err.contains("would take about"), "{err}");
        let string = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
            "a".repeat(8_000_000)
        );
        assert!(check(string.as_bytes()).is_ok());
        let small = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2,3]}}}"#;
        assert!(check(small).is_ok());
        let batch = format!(
            "[{}]",
            vec![r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#; 101].join(",")
        );
        assert!(
            check(batch.as_bytes())
                .unwrap_err()
                .contains("batch of 101 messages")
        );
    }
}
