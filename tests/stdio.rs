//! The stdio loop under the inputs users and scripts really send: huge lines,
//! broken bytes, CRLF, EOF mid-line, signals, a reader that goes away, and a
//! randomized flood of malformed messages.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

fn answers(input: &[u8]) -> Vec<Value> {
    let out = support::run(&["serve"], &[], input, LIMIT);
    assert!(out.status.success(), "exit {:?}", out.status);
    support::json_lines(&out.stdout)
}

#[test]
fn over_long_line_is_answered_without_buffering_and_the_loop_goes_on() {
    let mut input = Vec::with_capacity(9 << 20);
    input.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""#);
    input.resize(9 << 20, b'x');
    input.extend_from_slice(b"\"}}\n");
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    let got = answers(&input);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["error"]["code"], -32600);
    assert_eq!(got[0]["id"], Value::Null);
    assert!(got[0]["error"]["message"].as_str().unwrap().contains("8 MiB"));
    assert_eq!(got[1], json!({"jsonrpc":"2.0","id":2,"result":{}}));
}

#[test]
fn a_line_just_under_the_limit_is_served() {
    let mut input = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""#.to_vec();
    input.resize((8 << 20) - 4, b'y');
    input.extend_from_slice(b"\"}}\n");
    let got = answers(&input);
    assert_eq!(got, vec![json!({"jsonrpc":"2.0","id":1,"result":{}})]);
}

#[test]
fn invalid_utf8_crlf_blank_lines_and_a_last_line_without_newline() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\",\"method\":\"ping\"}\n");
    input.extend_from_slice(b"\r\n\n   \n");
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n");
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    let got = answers(&input);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["error"]["code"], -32700);
    assert!(
        got[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid UTF-8")
    );
    assert_eq!(got[1]["id"], 1);
    assert_eq!(got[2]["id"], 2);
}

#[test]
fn ids_are_echoed_exactly() {
    let input = concat!(
        r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":"ü \" \\ 🦀","method":"ping"}"#,
        "\n"
    );
    let out = support::run(&["serve"], &[], input.as_bytes(), LIMIT);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains(r#""id":18446744073709551615"#), "{}", lines[0]);
    assert!(lines[1].contains(r#""id":-9223372036854775808"#), "{}", lines[1]);
    assert!(lines[2].contains(r#""id":"ü \" \\ 🦀""#), "{}", lines[2]);
}

#[test]
fn sigterm_exits_zero() {
    let mut child = support::command(&["serve"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"ping"}}"#).unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = support::wait_with_limit(child, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    drop(stdin);
}

#[test]
fn a_closed_stdout_ends_the_process_quietly() {
    let mut child = support::command(&["serve"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // Keep writing until the server notices nobody reads its answers.
    let writer = std::thread::spawn(move || {
        for i in 0..20_000 {
            let line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"tools/list\"}}\n");
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let out = support::wait_with_limit(child, LIMIT);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panic"), "{stderr}");
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
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
        6 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
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
                m.insert(rng.pick(&keys).to_string(), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Thousands of random and broken lines: every request with an id is answered exactly
/// once, every line of stdout is a JSON-RPC message, and the process exits 0 at EOF.
#[test]
fn randomized_flood_never_kills_the_loop() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let methods = [
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
    let tools = [
        "whoami",
        "search_deals",
        "get_deal",
        "log_activity",
        "submit_forecast",
        "bogus",
    ];
    let mut input = Vec::new();
    let mut expected_ids = Vec::new();
    for i in 0..6000u64 {
        match rng.below(4) {
            // A well-formed envelope with random params: must be answered with its id.
            0 | 1 => {
                let method = *rng.pick(&methods);
                let mut params = random_value(&mut rng, 0);
                if method == "tools/call" && rng.below(2) == 0 {
                    params = json!({"name": rng.pick(&tools), "arguments": random_value(&mut rng, 1)});
                }
                let id = format!("r{i}");
                let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                input.extend_from_slice(msg.to_string().as_bytes());
                expected_ids.push(id);
            }
            // Random JSON values, including arrays (batches) and notifications.
            2 => input.extend_from_slice(random_value(&mut rng, 0).to_string().as_bytes()),
            // Random bytes, including invalid UTF-8 (never a newline).
            _ => {
                for _ in 0..rng.below(200) {
                    let b = (rng.next() & 0xff) as u8;
                    input.push(if b == b'\n' { b'{' } else { b });
                }
            }
        }
        input.push(b'\n');
    }
    let out = support::run(&["serve"], &[], &input, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = support::json_lines(&out.stdout);
    let mut seen = std::collections::HashMap::new();
    let mut check = |m: &Value| {
        assert_eq!(m["jsonrpc"], "2.0", "{m}");
        if m.get("method").is_some() {
            return; // a notification we sent
        }
        assert!(m.get("result").is_some() != m.get("error").is_some(), "{m}");
        if let Some(id) = m["id"].as_str() {
            *seen.entry(id.to_string()).or_insert(0) += 1;
        }
    };
    for line in &lines {
        match line {
            Value::Array(items) => items.iter().for_each(&mut check),
            other => check(other),
        }
    }
    for id in &expected_ids {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "request {id} answered {:?} times",
            seen.get(id)
        );
    }
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panic"));
}
