//! Shared test harness: run the real binary with a clean environment and a time
//! bound, feed it lines, and scan everything it printed for secrets.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_loopops-mcp");

/// A fresh directory under the system temp dir, unique per test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "loopops-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The binary with nothing inherited: no proxies, no tokens, no home config.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", "/nonexistent/loopops-test-home");
    cmd.env("LOOP_MCP_CONFIG", "/nonexistent/loopops-test/mcp.json");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Run to completion with `input` on stdin, killing it after `limit`.
pub fn run(args: &[&str], env: &[(&str, &str)], input: &[u8], limit: Duration) -> Output {
    let mut child = command(args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loopops-mcp");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The server may exit before reading everything (that is a failure the
        // assertions will show); ignore EPIPE here.
        let _ = stdin.write_all(&input);
    });
    let out = wait_with_limit(child, limit);
    let _ = writer.join();
    out
}

/// Wait for a child, killing it if it outlives `limit` (the test then fails).
pub fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loopops-mcp did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Every line of stdout parsed as JSON; panics on anything that is not.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l:?}")))
        .collect()
}

/// Assert that none of `secrets` appears in what the process printed.
pub fn assert_no_secrets(out: &Output, secrets: &[String]) {
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(s.as_str()), "a secret leaked to {name}: {text}");
        }
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
pub mod fake;
