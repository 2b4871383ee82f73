//! `loopops-mcp call` on a terminal: an overwriting write asks `[y/N]` there, shows
//! the same one-line question a client would, and writes only on "y". Run in a
//! pseudo-terminal from the C library's `openpty` (no crate).

#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::pty::{Pty, pty};
use support::setup;

/// Run `call` with stdin, stdout and stderr on a fresh terminal, type `typed` once
/// the question is on screen; (exit code, what the terminal showed).
fn call_in_terminal(env: &[(&str, &str)], args: &[&str], typed: &[u8]) -> (Option<i32>, String) {
    let Pty { master, slave } = pty();
    let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut child = support::command(args, env)
        .stdin(io(&slave))
        .stdout(io(&slave))
        .stderr(io(&slave))
        .spawn()
        .unwrap();
    drop(slave);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO once the child is gone.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut writer = master;
    let mut typed_once = false;
    let start = Instant::now();
    let status = loop {
        while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(20)) {
            seen.extend_from_slice(&chunk);
        }
        if !typed_once && String::from_utf8_lossy(&seen).contains("[y/N]") {
            writer.write_all(typed).unwrap();
            typed_once = true;
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "call did not finish; the terminal showed: {}",
                String::from_utf8_lossy(&seen)
            );
        }
    };
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend_from_slice(&chunk);
    }
    (
        status.code(),
        String::from_utf8_lossy(&seen).replace("\r\n", "\n"),
    )
}

#[test]
fn call_asks_on_the_terminal_and_writes_only_on_yes() {
    let (fake, cfg) = setup("confirm-tty");
    let env: Vec<(&str, String)> = cfg.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let change = r#"{"dealId": "deal_002", "stage": "closed_won"}"#;
    let (code, shown) = call_in_terminal(&env, &["call", "update_deal_stage", change], b"n\n");
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains(" to Closed Won? [y/N] "), "{shown}");
    assert!(shown.contains("Move *"), "{shown}");
    assert!(shown.contains("The user declined"), "{shown}");
    assert!(fake.mutations().is_empty());
    let (code, shown) = call_in_terminal(&env, &["call", "update_deal_stage", change], b"y\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("\"closed_won\""), "{shown}");
    assert_eq!(fake.mutations().len(), 1);
}
