//! A new user's first run, scripted in a pseudo-terminal as a person would type it:
//! the bare binary, `install claude-desktop`, `login` (the fake Okta approves after a
//! pending poll; a stand-in `xdg-open` plays the browser), `status`, the `call`
//! example from `--help`, and finally what Claude Desktop itself would spawn from
//! the installed entry. What each step prints is asserted, not just its exit code.
//! The pty comes from the C library's `openpty` (no crate).

#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake::{DeviceStep, Fake};
use support::pty::{Pty, pty};

const LIMIT: Duration = Duration::from_secs(60);

/// One machine: a HOME, a stand-in browser, the fake Okta and API.
struct Machine {
    /// Holds the machine's directory for as long as the test uses it.
    _root: support::TempDir,
    home: PathBuf,
    path: String,
    opened: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        use std::os::unix::fs::PermissionsExt;
        let root = support::temp_dir("first-run");
        let home = root.join("home");
        let bin = root.join("bin");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let opened = root.join("browser.log");
        let opener = bin.join("xdg-open");
        std::fs::write(
            &opener,
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", opened.display()),
        )
        .unwrap();
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        Machine {
            _root: root,
            home,
            path,
            opened,
        }
    }

    /// A desktop session's environment: HOME, PATH, a display; nothing configured.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", &self.path)
            .env("DISPLAY", ":0")
            .env("TERM", "xterm")
            .env("LOOP_MCP_TEST_OS", "linux")
            .current_dir(&self.home);
        cmd
    }

    /// Run in a terminal; `typed` is written to it after start. Returns (exit code,
    /// everything the terminal showed, with `\r\n` as `\n`).
    fn type_in(&self, args: &[&str], typed: &[u8]) -> (Option<i32>, String) {
        let Pty { master, slave } = pty();
        let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        let mut child = self
            .command(support::BIN, args)
            .stdin(io(&slave))
            .stdout(io(&slave))
            .stderr(io(&slave))
            .spawn()
            .unwrap();
        drop(slave);
        let mut reader = master.try_clone().unwrap();
        let collected = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            // EIO once the last writer (the child) is gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            all
        });
        let mut writer = master;
        if !typed.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
            writer.write_all(typed).unwrap();
        }
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > LIMIT {
                let _ = child.kill();
                panic!("{args:?} did not finish within {LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(writer);
        let text = String::from_utf8_lossy(&collected.join().unwrap()).replace("\r\n", "\n");
        (status.code(), text)
    }
}

fn contains_all(text: &str, step: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "{step}: {line:?} not in:\n{text}");
    }
}

fn no_secrets(text: &str, fake: &Fake, step: &str) {
    for s in fake.issued_secrets().iter().filter(|s| s.len() >= 8) {
        assert!(!text.contains(s.as_str()), "{step}: a secret was shown:\n{text}");
    }
}

#[test]
fn a_first_run_in_a_terminal() {
    let fake = Fake::start();
    fake.set_device_interval(1);
    fake.script_device(vec![DeviceStep::Pending, DeviceStep::Approve]);
    let m = Machine::new();

    // 1. The binary alone, by hand: it says what it is instead of waiting silently.
    let (code, text) = m.type_in(&[], b"\x04");
    assert_eq!(code, Some(0), "{text}");
    contains_all(
        &text,
        "bare binary",
        &[
            "loopops-mcp: this is the MCP server, waiting for JSON-RPC from an MCP client on stdin (Ctrl-D or Ctrl-C quits).",
            "`loopops-mcp install CLIENT`",
        ],
    );

    // 2. Into Claude Desktop.
    let (code, text) = m.type_in(&["install", "claude-desktop"], b"");
    assert_eq!(code, Some(0), "{text}");
    let desktop = m.home.join(".config/Claude/claude_desktop_config.json");
    contains_all(
        &text,
        "install",
        &[
            "Added the `loop-operations` entry in Claude Desktop's config (other entries kept):",
            &desktop.display().to_string(),
            "Quit Claude Desktop completely",
            "Not signed in yet: run `loopops-mcp login --issuer URL --client-id ID --api-url URL`",
        ],
    );

    // 3. Sign in: the browser opens at the link, the code and the time left are shown.
    let issuer = fake.custom_issuer();
    let api = fake.api_url();
    let (code, text) = m.type_in(
        &[
            "login",
            "--issuer",
            &issuer,
            "--client-id",
            Fake::CLIENT_ID,
            "--api-url",
            &api,
        ],
        b"",
    );
    assert_eq!(code, Some(0), "{text}");
    let link = format!("{}/activate?user_code=ABCD-EFGH", fake.base());
    assert_eq!(std::fs::read_to_string(&m.opened).unwrap(), format!("{link}\n"));
    contains_all(
        &text,
        "login",
        &[
            "Opened Okta's sign-in page in your browser. If it did not open, go to:",
            &format!("    {link}"),
            "Check that the page shows the code ABCD-EFGH",
            "The code is valid for 10 minutes. Waiting for approval (Ctrl-C to cancel)…",
            "minutes left…",
            "Signed in as Dana Analyst (dana.analyst@acme.example) to Acme Corp.",
            &format!(
                "Saved the sign-in in the `loop-operations` entry of {}",
                m.home.join(".mcp.json").display()
            ),
        ],
    );
    no_secrets(&text, &fake, "login");

    // 4. status: configured, everything offered.
    let (code, text) = m.type_in(&["status"], b"");
    assert_eq!(code, Some(0), "{text}");
    contains_all(
        &text,
        "status",
        &[
            &format!("config:        {}", m.home.join(".mcp.json").display()),
            "API mode:      on",
            &format!("Okta issuer:   {issuer} [config]"),
            "refresh token: set [config]",
            "read-only:     off [default]",
            "tools:         14 of 14 (all toolsets, read and write)",
        ],
    );
    no_secrets(&text, &fake, "status");

    // 5. The examples from `call --help`.
    let (code, help) = m.type_in(&["call", "--help"], b"");
    assert_eq!(code, Some(0));
    let example = help
        .lines()
        .find(|l| l.trim_start().starts_with("loopops-mcp call search_deals"))
        .expect("a search_deals example");
    let json_arg = example.split_once('\'').unwrap().1.trim_end_matches('\'');
    let (code, text) = m.type_in(&["call", "search_deals", json_arg], b"");
    assert_eq!(code, Some(0), "{text}");
    let start = text.find('{').unwrap();
    let v: Value = serde_json::from_str(text[start..].trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty(), "the example finds deals: {text}");
    assert!(items.iter().all(|d| d["stage"] == "negotiation"), "{text}");
    let (code, text) = m.type_in(&["call", "whoami"], b"");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("\"name\": \"Dana Analyst\""), "{text}");
    no_secrets(&text, &fake, "call");

    // 6. What Claude Desktop spawns from the installed entry, with no terminal and no
    //    settings in its environment, works from the sign-in alone.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&desktop).unwrap()).unwrap();
    let entry = &doc["mcpServers"]["loop-operations"];
    let args: Vec<&str> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mut spawned = m.command(entry["command"].as_str().unwrap(), &args);
    spawned.env_remove("DISPLAY").env_remove("TERM");
    let mut session = support::Session::spawn(spawned);
    let init = session.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "claude-ai", "version": "1"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    let me = session.call("whoami", json!({}));
    assert!(!support::is_error(&me), "{}", support::text(&me));
    assert_eq!(me["structuredContent"]["user"]["name"], "Dana Analyst");
    let out = session.finish();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("this is the MCP server"),
        "no hint without a terminal"
    );
    support::assert_no_secrets(&out, &fake.issued_secrets());
    assert_eq!(fake.reuse_detections(), 0);
}
