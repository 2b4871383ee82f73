//! The parsers for what the network and other programs wrote (tRPC answers, Okta
//! token answers, the shared config file) under thousands of random and broken
//! inputs, fixed seeds. `fuzz/` runs the same properties for longer.

mod support;

#[path = "support/parsers.rs"]
mod parsers;

use serde_json::{Value, json};
use support::random::{self, Rng};

/// A body: a random value, in a tRPC or Okta envelope or not, maybe cut short or
/// turned into an HTML page.
fn body(rng: &mut Rng, envelope: &dyn Fn(Value) -> Value) -> Vec<u8> {
    let v = random::value(rng, 0);
    let text = match rng.below(6) {
        0 => v.to_string(),
        1 => format!(
            "<!DOCTYPE html><html><head><title>{}</title></head><body>{}</body></html>",
            random::value(rng, 2),
            v
        ),
        2 => {
            let n = 2 + rng.below(1000) as usize;
            let list: Vec<String> = (0..n)
                .map(|i| format!("{{\"id\":{i},\"s\":\"{}\"}}", "x".repeat(rng.below(400) as usize)))
                .collect();
            envelope(json!({"items": "LIST"}))
                .to_string()
                .replace("\"LIST\"", &format!("[{}]", list.join(",")))
        }
        _ => envelope(v).to_string(),
    };
    let mut bytes = text.into_bytes();
    if rng.below(5) == 0 && !bytes.is_empty() {
        let cut = rng.below(bytes.len() as u64) as usize;
        bytes.truncate(cut);
    }
    if rng.below(10) == 0 {
        bytes.extend((0..rng.below(20)).map(|_| rng.next() as u8));
    }
    bytes
}

#[test]
fn random_trpc_answers() {
    let mut rng = Rng(0x7472_7063);
    for _ in 0..1000 {
        let shape = rng.below(4);
        let wrap = move |v: Value| match shape {
            0 => json!({"result": {"data": {"json": v}}}),
            1 => json!([{"result": {"data": v}}]),
            2 => json!({"error": {"json": {"message": v, "data": {"code": "BAD_REQUEST"}}}}),
            _ => v,
        };
        let b = body(&mut rng, &wrap);
        let status = *rng.pick(&parsers::STATUSES);
        let ct = *rng.pick(&parsers::TYPES);
        parsers::check_trpc(status, ct, &b);
    }
}

/// Raw bytes read the way the fuzz targets read them (`parsers::as_answer`).
#[test]
fn random_bytes_as_trpc_and_okta_answers() {
    let mut rng = Rng(0x6279_7465);
    assert!(parsers::as_answer(&[]).is_none());
    for _ in 0..500 {
        let len = rng.below(300) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        if let Some((status, ct, body)) = parsers::as_answer(&data) {
            parsers::check_trpc(status, ct, body);
            parsers::check_okta(status, ct, body);
        }
    }
}

#[test]
fn random_okta_answers() {
    let mut rng = Rng(0x6f6b_7461);
    let numbers = [
        json!(300),
        json!(-1),
        json!(0),
        json!(1e300),
        serde_json::from_str::<Value>("184467440737095516150000").unwrap(),
        json!("3600"),
        Value::Null,
    ];
    for _ in 0..1500 {
        let access = rng
            .pick(&[json!("at-xxxxxxxxxx"), json!(""), json!(7), Value::Null])
            .clone();
        let expires = rng.pick(&numbers).clone();
        let error = rng
            .pick(&[
                json!("invalid_grant"),
                json!("invalid_client"),
                json!(""),
                json!(1),
            ])
            .clone();
        let wrap = move |v: Value| json!({"access_token": access, "expires_in": expires, "refresh_token": v, "error": error, "error_description": "d"});
        let b = body(&mut rng, &wrap);
        let status = *rng.pick(&parsers::STATUSES);
        let ct = *rng.pick(&parsers::TYPES);
        parsers::check_okta(status, ct, &b);
    }
}

#[test]
fn random_config_files() {
    let mut rng = Rng(0x636f_6e66);
    let escapes = [
        "\\ud800",
        "\\udfff",
        "\\udbff\\udc00",
        "\\u0041",
        "\\\\ud800",
        "\\\"",
        "\\ud83d",
    ];
    for _ in 0..1500 {
        let mut doc = json!({"mcpServers": {"other": random::value(&mut rng, 0)}});
        if rng.below(3) == 0 {
            doc["mcpServers"]["loop-operations"] =
                json!({"env": {"OKTA_REFRESH_TOKEN": "rt-old", "X": random::value(&mut rng, 1)}});
        }
        doc["tail"] = random::value(&mut rng, 0);
        let mut text = if rng.below(2) == 0 {
            serde_json::to_string_pretty(&doc).unwrap()
        } else {
            doc.to_string()
        };
        // Escapes, lone surrogates among them, where strings of `a` were.
        for _ in 0..rng.below(4) {
            if let Some(at) = text.find("aaa") {
                let e = *rng.pick(&escapes);
                text.replace_range(at..at + 1, e);
            }
        }
        if rng.below(8) == 0 && !text.is_empty() {
            let cut = rng.below(text.len() as u64) as usize;
            if text.is_char_boundary(cut) {
                text.truncate(cut);
            }
        }
        parsers::check_config(&text);
    }
}
