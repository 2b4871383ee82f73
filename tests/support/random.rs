//! Deterministic random inputs for the randomized tests (fixed seeds: a failure
//! reproduces). No rand crate: a xorshift64* generator is all they need.
#![allow(dead_code)]

use serde_json::{Value, json};

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() as f64) / 7.0),
        4 => json!(
            rng.pick(&[
                "",
                "x",
                "deal_001",
                "2026-Q3",
                "current_quarter",
                "ü🦀",
                "\u{0}",
                "call"
            ])
            .to_string()
        ),
        5 => json!("a".repeat(rng.below(300) as usize)),
        6 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let keys = [
                "dealId",
                "limit",
                "stage",
                "period",
                "name",
                "arguments",
                "cursor",
                "level",
                "x",
            ];
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                m.insert(rng.pick(&keys).to_string(), value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

const METHODS: [&str; 10] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "logging/setLevel",
    "resources/list",
    "nope",
    "notifications/initialized",
];
const TOOLS: [&str; 6] = [
    "whoami",
    "search_deals",
    "get_deal",
    "log_activity",
    "submit_forecast",
    "bogus",
];

/// One input line (without its newline) and, if it is a well-formed request, the id
/// that must be answered exactly once.
pub fn line(rng: &mut Rng, n: u64) -> (Vec<u8>, Option<String>) {
    match rng.below(4) {
        // A well-formed envelope with random params.
        0 | 1 => {
            let method = *rng.pick(&METHODS);
            let mut params = value(rng, 0);
            if method == "tools/call" && rng.below(2) == 0 {
                params = json!({"name": rng.pick(&TOOLS), "arguments": value(rng, 1)});
            }
            let id = format!("r{n}");
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            (msg.to_string().into_bytes(), Some(id))
        }
        // Random JSON values, including arrays (batches) and notifications.
        2 => (value(rng, 0).to_string().into_bytes(), None),
        // Random bytes, including invalid UTF-8 (never a newline).
        _ => {
            let bytes = (0..rng.below(200))
                .map(|_| match (rng.next() & 0xff) as u8 {
                    b'\n' => b'{',
                    b => b,
                })
                .collect();
            (bytes, None)
        }
    }
}

/// Check one output message; count answers per id in `seen`.
pub fn check_message(m: &Value, seen: &mut std::collections::HashMap<String, usize>) {
    assert_eq!(m["jsonrpc"], "2.0", "{m}");
    if m.get("method").is_some() {
        assert!(m.get("id").is_none(), "a notification we sent has no id: {m}");
        return;
    }
    assert!(m.get("result").is_some() != m.get("error").is_some(), "{m}");
    assert_ne!(m["error"]["code"], -32603, "a handler panicked: {m}");
    if let Some(id) = m["id"].as_str() {
        *seen.entry(id.to_string()).or_insert(0) += 1;
    }
}
