//! The stdio loop under the inputs users and scripts really send: huge lines,
//! broken bytes, CRLF, EOF mid-line, signals, a reader that goes away, and a
//! randomized flood of malformed messages.

mod support;

use support::random;

use std::io::Write;
#[cfg(unix)]
use std::io::{BufRead, BufReader};
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

#[cfg(unix)]
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
    support::send_signal(child.id(), "-TERM");
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

/// Thousands of random and broken lines: every request with an id is answered exactly
/// once, every line of stdout is a JSON-RPC message, and the process exits 0 at EOF.
#[test]
fn randomized_flood_never_kills_the_loop() {
    let mut rng = random::Rng(0x5eed_1234_abcd_0001);
    let mut input = Vec::new();
    let mut expected_ids = Vec::new();
    for i in 0..6000u64 {
        let (line, id) = random::line(&mut rng, i);
        input.extend_from_slice(&line);
        input.push(b'\n');
        expected_ids.extend(id);
    }
    let out = support::run(&["serve"], &[], &input, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = std::collections::HashMap::new();
    for line in support::json_lines(&out.stdout) {
        match line {
            Value::Array(items) => items.iter().for_each(|m| random::check_message(m, &mut seen)),
            other => random::check_message(&other, &mut seen),
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

/// Start-up and the MCP methods that need no API touch no file and no network:
/// no config read, no DNS, no socket, until a tool call needs them. Checked with
/// strace (installed by .ci/run); skipped with a note where strace is missing.
#[test]
fn start_up_does_no_io_beyond_the_environment() {
    if std::process::Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace not installed: skipping start_up_does_no_io_beyond_the_environment");
        return;
    }
    let dir = support::temp_dir("no-io");
    let config = dir.join("mcp.json");
    std::fs::write(&config, "{}").unwrap();
    let trace = dir.join("trace");
    let input = concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"account_brief","arguments":{"account":"x"}}}"#,
        "\n"
    );
    let mut child = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%file,%network", "-o"])
        .arg(&trace)
        .arg(support::BIN)
        .env_clear()
        .env("HOME", &dir)
        .env("LOOP_MCP_CONFIG", &config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = support::wait_with_limit(child, LIMIT);
    assert_eq!(support::json_lines(&out.stdout).len(), 3);
    let calls = std::fs::read_to_string(&trace).unwrap();
    let ours: Vec<&str> = calls
        .lines()
        .filter(|l| !l.contains("/etc/ld.so") && !l.contains("/lib/") && !l.contains("/proc/self/"))
        // The loader's fstat of files it opened above.
        .filter(|l| !l.contains("execve(") && !l.contains("AT_EMPTY_PATH"))
        .collect();
    assert!(ours.is_empty(), "unexpected I/O at start-up: {ours:#?}");
}
