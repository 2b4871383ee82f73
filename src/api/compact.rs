//! The fast path for the common answer: a small object that needs no cutting. The
//! body is checked and copied in one pass with the whitespace dropped, noting where
//! `result.data` (or `result.data.json`) is, and that part is the answer, when the copy is byte for
//! byte what parsing it (`bound::parse`) and serializing it again would write.
//! Building a `Value` tree, serializing it twice and dropping it was four fifths of
//! the CPU a tool call cost.
//!
//! Whatever the copy might get wrong goes the slow way instead: a body large enough
//! for `bound::parse` to cut, escapes serde_json would write differently (`\/`,
//! `\u00e9`; they could also spell a secret the scrubber would not see), duplicate
//! keys (a map keeps the last), nesting past serde_json's recursion limit. Numbers are
//! copied as written, but for the exponent, which serde_json writes as `e+5` for `E5`.

use std::ops::Range;

use crate::api::bound;

/// Deeper than this, serde_json's own limit (128) could be near: leave it to the parse.
const MAX_DEPTH: usize = 100;

/// An answer passed on unparsed: its compact JSON, and that JSON escaped as the inside
/// of a JSON string, as the text block carries it. Both come from one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact {
    pub json: String,
    pub text: String,
}

/// The compact JSON of the answer's `result.data[.json]`, if it is an object of at most
/// `max` bytes and the copy is exact; `None`: parse the body instead.
pub fn result_json(body: &[u8], max: usize) -> Option<Compact> {
    if !bound::never_cuts(body.len()) {
        return None;
    }
    let (out, esc, found) = compact(body)?;
    // `result.data.json` when `data` has that key (even if it is no object: then the
    // parse says so), else `result.data`; as `trpc::extract_result`.
    let (span, text_span) = if found.data_has_json {
        found.json?
    } else {
        found.data?
    };
    if span.len() > max {
        return None;
    }
    // The pass checks the grammar, not UTF-8 inside strings; this does, over the whole
    // body as the parse would. The escaped copy differs only by ASCII backslashes.
    let json = String::from_utf8(out).ok()?;
    let text = String::from_utf8(esc).ok()?;
    Some(Compact {
        json: cut(json, span),
        text: cut(text, text_span),
    })
}

/// The part of `s` in `range`, in place: the data is most of the body, and copying it
/// out would cost an allocation more.
fn cut(mut s: String, range: Range<usize>) -> String {
    s.truncate(range.end);
    s.drain(..range.start);
    s
}

/// Where a body's data is in its compact copy. Only objects are recorded: an answer
/// of another shape goes the slow way, to be refused there.
#[derive(Default)]
struct Found {
    /// The object `result.data`, in the copy and in the escaped copy.
    data: Option<(Range<usize>, Range<usize>)>,
    /// The object `result.data.json`, likewise.
    json: Option<(Range<usize>, Range<usize>)>,
    /// `result.data` has a `json` key (of any type).
    data_has_json: bool,
}

/// How far down the path to the data an open object is: the answer (or a batch's
/// first answer), its `result`, `result.data`, `result.data.json`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Batch,
    Answer,
    Result,
    Data,
    Json,
    Elsewhere,
}

/// One open object or list: its level, its start in the copy and the escaped copy,
/// where its keys start (objects), whether an item came yet (lists).
struct Open {
    object: bool,
    level: Level,
    start: (usize, usize),
    keys: usize,
    /// A bit per key seen in this object (`key_bit`): a key whose bit is clear is
    /// new, and only the others are compared with the keys before them.
    key_bits: u64,
    items: usize,
}

/// The two copies `compact` writes: the JSON, and the JSON escaped as a string's
/// inside (the text block), so that no second pass escapes it. Both are the source
/// in runs: `out` is flushed only where whitespace is dropped (or an exponent is
/// respelled), `esc` also where a backslash goes in; an API's compact answer is then
/// one copy, not one per token.
struct Copy<'a> {
    src: &'a [u8],
    out: Vec<u8>,
    esc: Vec<u8>,
    /// Where the source not yet written to `out` starts; likewise for `esc`.
    out_from: usize,
    esc_from: usize,
}

impl Copy<'_> {
    /// Write the source up to `i` to both copies.
    fn flush(&mut self, i: usize) {
        self.out.extend_from_slice(&self.src[self.out_from..i]);
        self.esc.extend_from_slice(&self.src[self.esc_from..i]);
        (self.out_from, self.esc_from) = (i, i);
    }

    /// Drop the source from `i` to `to` (whitespace) from both copies.
    fn skip(&mut self, i: usize, to: usize) {
        self.flush(i);
        (self.out_from, self.esc_from) = (to, to);
    }

    /// The quote or backslash at `i` is escaped in the text block.
    fn backslash_before(&mut self, i: usize) {
        self.esc.extend_from_slice(&self.src[self.esc_from..i]);
        self.esc.push(b'\\');
        self.esc_from = i;
    }

    /// Write `bytes` to both copies in place of the source from `i` to `to`.
    fn replace(&mut self, i: usize, to: usize, bytes: &[u8]) {
        self.skip(i, to);
        self.out.extend_from_slice(bytes);
        self.esc.extend_from_slice(bytes);
    }

    /// Where the source's byte `i` is in the two copies.
    fn at(&self, i: usize) -> (usize, usize) {
        (
            self.out.len() + (i - self.out_from),
            self.esc.len() + (i - self.esc_from),
        )
    }

    fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        self.flush(self.src.len());
        (self.out, self.esc)
    }
}

/// What may come next in `compact`'s pass.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A value: at the start, after `:`, after `,` in a list.
    Value,
    /// A value or `]`: just after `[`.
    ValueOrClose,
    /// A key or `}`: just after `{`.
    KeyOrClose,
    /// A key: after `,` in an object.
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the end of the enclosing object or list; at the top, only the end.
    CommaOrClose,
}

/// The body without whitespace (and its escaped copy), and where its data is; `None`
/// if it is not valid JSON, or holds anything serde_json would not write back the
/// same. It checks the grammar as it goes (the parse says what is wrong with a body
/// it refuses).
fn compact(src: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Found)> {
    let mut w = Copy {
        src,
        out: Vec::with_capacity(src.len()),
        // A quote in every few bytes.
        esc: Vec::with_capacity(src.len() + src.len() / 4),
        out_from: 0,
        esc_from: 0,
    };
    let mut found = Found::default();
    // Room for a usual answer's nesting and keys, so that neither grows on the way.
    let mut open: Vec<Open> = Vec::with_capacity(16);
    // The keys of every open object, innermost last: one seen twice is refused.
    let mut keys: Vec<&[u8]> = Vec::with_capacity(64);
    let mut next = Next::Value;
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        match (next, c) {
            (_, b' ' | b'\t' | b'\n' | b'\r') => {
                let mut to = i + 1;
                while src
                    .get(to)
                    .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                {
                    to += 1;
                }
                w.skip(i, to);
                i = to;
                continue;
            }
            (Next::KeyOrClose | Next::Key, b'"') => {
                let end = string_end(&mut w, i)?;
                let key = &src[i..end];
                let top = open.last_mut()?;
                let bit = key_bit(key);
                if top.key_bits & bit != 0 && keys[top.keys..].contains(&key) {
                    return None;
                }
                top.key_bits |= bit;
                if top.level == Level::Data && key == b"\"json\"" {
                    found.data_has_json = true;
                }
                keys.push(key);
                next = Next::Colon;
                i = end;
                continue;
            }
            (Next::Colon, b':') => {
                next = Next::Value;
                i += 1;
                continue;
            }
            (Next::CommaOrClose, b',') => {
                let top = open.last_mut()?;
                top.items += 1;
                next = if top.object { Next::Key } else { Next::Value };
                i += 1;
                continue;
            }
            (Next::KeyOrClose | Next::CommaOrClose, b'}')
            | (Next::ValueOrClose | Next::CommaOrClose, b']') => {
                let top = open.pop()?;
                if top.object != (c == b'}') {
                    return None;
                }
                keys.truncate(top.keys);
                let (out, esc) = w.at(i + 1);
                let spans = Some((top.start.0..out, top.start.1..esc));
                match top.level {
                    Level::Data => found.data = spans,
                    Level::Json => found.json = spans,
                    _ => {}
                }
                i += 1;
            }
            (Next::Value | Next::ValueOrClose, b'{' | b'[') => {
                if open.len() >= MAX_DEPTH {
                    return None;
                }
                let level = match open.last() {
                    None if c == b'[' => Level::Batch,
                    None => Level::Answer,
                    Some(p) if p.level == Level::Batch && p.items == 0 && c == b'{' => Level::Answer,
                    Some(p) if p.object && c == b'{' => {
                        let key = keys.last().copied().unwrap_or_default();
                        match (p.level, key) {
                            (Level::Answer, b"\"result\"") => Level::Result,
                            (Level::Result, b"\"data\"") => Level::Data,
                            (Level::Data, b"\"json\"") => Level::Json,
                            _ => Level::Elsewhere,
                        }
                    }
                    Some(_) => Level::Elsewhere,
                };
                open.push(Open {
                    object: c == b'{',
                    level,
                    start: w.at(i),
                    keys: keys.len(),
                    key_bits: 0,
                    items: 0,
                });
                next = if c == b'{' {
                    Next::KeyOrClose
                } else {
                    Next::ValueOrClose
                };
                i += 1;
                continue;
            }
            (Next::Value | Next::ValueOrClose, b'"') => i = string_end(&mut w, i)?,
            (Next::Value | Next::ValueOrClose, b'-' | b'0'..=b'9') => i = number_end(&mut w, i)?,
            (Next::Value | Next::ValueOrClose, b't' | b'f' | b'n') => {
                let word: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !src[i..].starts_with(word) {
                    return None;
                }
                i += word.len();
            }
            _ => return None,
        }
        // A value ended: a `,` or a close may follow; at the top, nothing.
        next = Next::CommaOrClose;
    }
    let (out, esc) = w.finish();
    (next == Next::CommaOrClose && open.is_empty()).then_some((out, esc, found))
}

/// A key's bit among 64, from its length and its first and last bytes: cheap, and
/// different for most keys of one object.
fn key_bit(key: &[u8]) -> u64 {
    let inner = |k: usize| key.get(k).copied().map_or(0, usize::from);
    let n = key.len();
    1 << ((n * 7 + inner(1) * 3 + inner(n.saturating_sub(2))) % 64)
}

/// Just past the number at `i`, which serde_json writes back as it is
/// (`arbitrary_precision` keeps its digits) but for the exponent: `e`, with its sign.
/// `None` if it is not a JSON number.
fn number_end(w: &mut Copy, i: usize) -> Option<usize> {
    let src = w.src;
    let digits = |mut j: usize| {
        let from = j;
        while src.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > from).then_some(j)
    };
    let mut j = i + usize::from(src[i] == b'-');
    j = match src.get(j) {
        Some(b'0') => j + 1,
        Some(b'1'..=b'9') => digits(j)?,
        _ => return None,
    };
    if src.get(j) == Some(&b'.') {
        j = digits(j + 1)?;
    }
    if let Some(&e @ (b'e' | b'E')) = src.get(j) {
        let signed = matches!(src.get(j + 1), Some(b'+' | b'-'));
        match (e, signed) {
            (b'e', true) => {}
            (b'e', false) => w.replace(j, j + 1, b"e+"),
            (_, true) => w.replace(j, j + 1, b"e"),
            (_, false) => w.replace(j, j + 1, b"e+"),
        }
        j = digits(j + 1 + usize::from(signed))?;
    }
    Some(j)
}

/// Just past the string at `i`, its quotes and backslashes marked for the escaped
/// copy; `None` at an escape serde_json would write differently.
fn string_end(w: &mut Copy, i: usize) -> Option<usize> {
    let src = w.src;
    w.backslash_before(i);
    let mut j = i + 1;
    loop {
        j = plain_end(src, j);
        match *src.get(j)? {
            b'"' => break,
            b'\\' => {
                w.backslash_before(j);
                let len = match *src.get(j + 1)? {
                    b'"' | b'\\' => {
                        w.backslash_before(j + 1);
                        2
                    }
                    b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if canonical_control_escape(src.get(j + 2..j + 6)?) => 6,
                    _ => return None,
                };
                j += len;
            }
            // A raw control character: not JSON.
            _ => return None,
        }
    }
    w.backslash_before(j);
    Some(j + 1)
}

/// The first quote, backslash or control byte at or after `j` (or the end), eight
/// bytes at a time: most of a body is the text of its strings.
fn plain_end(src: &[u8], mut j: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte that is zero in `x`: exact for the lowest such byte,
    // which is the only one used.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = src.get(j..j + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
        let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let stops = quote | backslash | control;
        if stops != 0 {
            return j + (stops.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < src.len() && !matches!(src[j], b'"' | b'\\' | 0..0x20) {
        j += 1;
    }
    j
}

/// `\u00XX` exactly as serde_json writes a control character: lowercase hex, and not
/// one of those it writes as `\b`, `\t`, `\n`, `\f` or `\r`.
fn canonical_control_escape(hex: &[u8]) -> bool {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    match hex {
        [b'0', b'0', hi, lo] => match (digit(*hi), digit(*lo)) {
            (Some(hi), Some(lo)) => hi < 2 && !matches!(hi * 16 + lo, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IgnoredAny;
    use serde_json::Value;

    /// What the slow path writes for the same body: parse, take the data, serialize.
    fn slow(body: &str) -> Option<String> {
        let b = bound::parse(body.as_bytes(), bound::PARSE_BUDGET).ok()?;
        let mut v = b.value;
        if let Value::Array(items) = v {
            v = items.into_iter().next()?;
        }
        let data = v.get_mut("result")?.get_mut("data")?.take();
        let data = match data.get("json") {
            Some(_) => data["json"].clone(),
            None => data,
        };
        data.is_object().then(|| serde_json::to_string(&data).unwrap())
    }

    /// The fast path's JSON, after checking its text is that JSON escaped as serde_json
    /// escapes a string.
    fn fast(body: &str) -> Option<String> {
        let c = result_json(body.as_bytes(), 100_000)?;
        let quoted = serde_json::to_string(&c.json).unwrap();
        assert_eq!(c.text, quoted[1..quoted.len() - 1], "{body}");
        Some(c.json)
    }

    /// Every body the fast path takes, it copies exactly as the slow path writes it.
    #[test]
    fn the_copy_is_what_parsing_and_serializing_would_write() {
        let bodies = [
            r#"{"result":{"data":{"json":{"a":1},"meta":{"values":{}}}}}"#,
            "{ \"result\" : { \"data\" : { \"json\" : { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } } } } }",
            r#"[{"result":{"data":{"b":2}}},{"result":{"data":{"c":3}}}]"#,
            r#"{"result":{"data":{"n":[-0,1.0,1E5,1e5,1e+5,1E-7,1.5e3,-1.5E-0,1e05,1e400,123456789012345678901234567890,0.10,-0.0]}}}"#,
            r#"{"result":{"data":{"s":"tab\tq\"b\\s\n\r\b\f\u0001\u001fé€😀 ","t":true,"f":false,"z":null}}}"#,
            r#"{"result":{"data":{"json":{"k":{"k":{"k":[{"k":1},{"k":2}]}}}}}}"#,
            r#"{"result":{"data":{"json":{"same":1},"other":2}}}"#,
        ];
        for body in bodies {
            let f = fast(body);
            assert!(f.is_some(), "the fast path should take {body}");
            assert_eq!(f, slow(body), "{body}");
        }
    }

    /// Forms the copy could get wrong go the slow way.
    #[test]
    fn anything_the_copy_could_get_wrong_is_left_to_the_parse() {
        let deep = format!(
            r#"{{"result":{{"data":{}1{}}}}}"#,
            "{\"a\":[".repeat(60),
            "]}".repeat(60)
        );
        let cases = [
            r#"{"result":{"data":{"url":"a\/b"}}}"#,
            r#"{"result":{"data":{"s":"\u00e9"}}}"#,
            r#"{"result":{"data":{"s":"\u0041"}}}"#,
            r#"{"result":{"data":{"s":"\u001F"}}}"#,
            r#"{"result":{"data":{"s":"\u000a"}}}"#,
            r#"{"result":{"data":{"s":"\ud83d\ude00"}}}"#,
            r#"{"result":{"data":{"a":1,"b":2,"a":3}}}"#,
            r#"{"result":{"data":{"json":{"x":1}}},"result":{"data":{"json":{"y":2}}}}"#,
            r#"{"result":{"data":{"k\u0073":1}}}"#,
            r#"{"result":{"d\u0061ta":{"a":1}}}"#,
            r#"{"result":{"data":[1,2]}}"#,
            r#"{"result":{"data":{"json":"text"}}}"#,
            r#"{"result":{"data":{"a":1}}} trailing"#,
            r#"{"result":{"data":{"a":1}}}}"#,
            r#"{"result":{"data":{"a":1}"#,
            r#"{"result":{"data":{"a":01}}}"#,
            r#"{"result":{"data":{"a":1.}}}"#,
            r#"{"result":{"data":{"a":.5}}}"#,
            r#"{"result":{"data":{"a":1e}}}"#,
            r#"{"result":{"data":{"a":-}}}"#,
            r#"{"result":{"data":{"a":tru}}}"#,
            r#"{"result":{"data":{"a":nul,"b":1}}}"#,
            r#"{"result":{"data":{"a":1,}}}"#,
            r#"{"result":{"data":{"a":[1,]}}}"#,
            r#"{"result":{"data":{"a" 1}}}"#,
            r#"{"result":{"data":{"a":1 "b":2}}}"#,
            r#"{"result":{"data":{"a":[1}}}"#,
            r#"{"result":{"data":{1:2}}}"#,
            r#"{"result":{"data":{"a":"x}}}"#,
            r#"{"result":{"data":{"a":1}}},"#,
            "{\"result\":{\"data\":{\"a\":\"raw\u{1}control\"}}}",
            r#"{"error":{"json":{"message":"no"}}}"#,
            "",
            deep.as_str(),
        ];
        for body in cases {
            assert_eq!(fast(body), None, "{body}");
        }
        // Invalid UTF-8 inside a string, beside the data.
        assert_eq!(
            result_json(b"{\"result\":{\"data\":{\"a\":1},\"meta\":\"\xff\"}}", 1000),
            None
        );
        // And in it.
        assert_eq!(
            result_json(b"{\"result\":{\"data\":{\"a\":\"\xff\"}}}", 1000),
            None
        );
        // A duplicate key in one object is not a duplicate in another.
        assert!(fast(r#"{"result":{"data":{"a":{"a":1},"b":{"a":2}}}}"#).is_some());
    }

    #[test]
    fn only_answers_under_the_limit_and_under_the_parse_budget() {
        let body = r#"{"result":{"data":{"json":{"items":[1,2,3]}}}}"#;
        assert_eq!(
            result_json(body.as_bytes(), 17).map(|c| c.json).as_deref(),
            Some(r#"{"items":[1,2,3]}"#)
        );
        assert_eq!(result_json(body.as_bytes(), 16), None);
        let big = format!(
            r#"{{"result":{{"data":{{"items":[{}0]}}}}}}"#,
            "0,".repeat(bound::PARSE_BUDGET)
        );
        assert_eq!(result_json(big.as_bytes(), usize::MAX), None);
    }

    /// A random document in random spacing, with the escapes, numbers and repeated
    /// keys an API could send.
    /// xorshift64 from a fixed seed, so that a failure repeats.
    fn next(rng: &mut u64, n: u64) -> u64 {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng % n
    }

    fn random_value(rng: &mut u64, depth: usize, out: &mut String) {
        const SPACE: [&str; 4] = ["", " ", "\n  ", "\t"];
        const STRINGS: [&str; 10] = [
            "plain",
            "q\\\"uote",
            "\\n\\t\\r",
            "\\u0001\\u001f",
            "\\u001F",
            "\\/",
            "é😀",
            "\\u00e9",
            "\\b\\f",
            "",
        ];
        const NUMBERS: [&str; 8] = [
            "0",
            "-0",
            "1.50",
            "1E5",
            "2e-3",
            "12345678901234567890123",
            "-7",
            "3.0e+2",
        ];
        const KEYS: [&str; 5] = ["id", "name", "a", "json", "data"];
        let sp = SPACE[next(rng, 4) as usize];
        out.push_str(sp);
        match next(rng, if depth > 4 { 4 } else { 7 }) {
            0 => out.push_str(["true", "false", "null"][next(rng, 3) as usize]),
            1 => out.push_str(NUMBERS[next(rng, 8) as usize]),
            2 | 3 => {
                out.push('"');
                out.push_str(STRINGS[next(rng, 10) as usize]);
                out.push('"');
            }
            4 => {
                out.push('[');
                for i in 0..next(rng, 4) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_value(rng, depth + 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..next(rng, 4) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{sp}\"{}\"{sp}:", KEYS[next(rng, 5) as usize]));
                    random_value(rng, depth + 1, out);
                }
                out.push('}');
            }
        }
        out.push_str(sp);
    }

    /// Broken documents: whatever the copy takes, serde_json takes too, and reads the
    /// same. Bodies cut, with a byte dropped, doubled or replaced by one that matters
    /// to the grammar.
    #[test]
    fn a_broken_document_is_never_taken_for_a_valid_one() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        const BYTES: &[u8] = b"{}[]:,\"\\ 0123456789-+.eEtrufalsn\x01\xff";
        let mut taken = 0;
        for _ in 0..20_000 {
            let mut data = String::from(r#"{"v":"#);
            random_value(&mut rng, 0, &mut data);
            data.push('}');
            let mut body = format!(r#"{{"result":{{"data":{{"json":{data}}}}}}}"#).into_bytes();
            let at = next(&mut rng, body.len() as u64) as usize;
            match next(&mut rng, 4) {
                0 => body.truncate(at),
                1 => {
                    body.remove(at);
                }
                2 => body.insert(at, body[at]),
                _ => body[at] = BYTES[next(&mut rng, BYTES.len() as u64) as usize],
            }
            let text = String::from_utf8_lossy(&body);
            if result_json(&body, 100_000).is_none() {
                continue;
            }
            let f = fast(&text).expect("valid UTF-8, as it was taken");
            taken += 1;
            assert!(
                serde_json::from_slice::<IgnoredAny>(&body).is_ok(),
                "taken, but invalid: {text}"
            );
            assert_eq!(Some(f), slow(&text), "{text}");
        }
        assert!(taken > 1000, "{taken}");
    }

    /// The eight-at-a-time scan stops where a byte-at-a-time one would, whatever the
    /// bytes around the stop (high bytes and bytes next to the stop values included).
    #[test]
    fn the_scan_for_a_string_end_stops_at_the_first_stop_byte() {
        let naive = |src: &[u8], j: usize| {
            (j..src.len())
                .find(|&k| matches!(src[k], b'"' | b'\\' | 0..0x20))
                .unwrap_or(src.len())
        };
        let bytes = [
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff,
        ];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50_000 {
            let len = next(&mut rng, 40) as usize;
            // Mostly plain text, with a few of the others anywhere.
            let src: Vec<u8> = (0..len)
                .map(|_| match next(&mut rng, 8) {
                    0 => bytes[next(&mut rng, bytes.len() as u64) as usize],
                    _ => b'a' + next(&mut rng, 26) as u8,
                })
                .collect();
            let from = next(&mut rng, len as u64 + 1) as usize;
            assert_eq!(plain_end(&src, from), naive(&src, from), "{src:?} from {from}");
        }
    }

    #[test]
    fn random_documents_copy_exactly_or_go_the_slow_way() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let (mut taken, mut total) = (0, 0);
        for _ in 0..3000 {
            // An object, as a tool's answer is; random within.
            let mut data = String::from(r#"{"v":"#);
            random_value(&mut rng, 0, &mut data);
            data.push('}');
            for body in [
                format!(r#"{{"result":{{"data":{{"json":{data},"meta":{{}}}}}}}}"#),
                format!(r#"[{{"result":{{"data":{data}}}}}]"#),
            ] {
                assert!(serde_json::from_str::<IgnoredAny>(&body).is_ok(), "{body}");
                total += 1;
                if let Some(f) = fast(&body) {
                    taken += 1;
                    assert_eq!(Some(f), slow(&body), "{body}");
                }
            }
        }
        // Not a test of nothing: most objects are copied.
        assert!(taken * 5 > total, "{taken} of {total}");
    }
}
