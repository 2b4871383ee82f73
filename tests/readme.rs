#![cfg(unix)]
//! The README stays true to the binary: every code block fenced ```sh runs offline
//! with nothing configured (a fresh HOME, no settings, no network), and the command
//! table lists exactly the options each command's `--help` has. Blocks that need a
//! sign-in, another OS or placeholder values are fenced ```text (or json, powershell).
//!
//! Inside the blocks `loopops-mcp` is the binary under test, and `cargo` is a stand-in:
//! `cargo run … [-- ARGS]` runs the binary under test with ARGS, and `cargo build` /
//! `cargo test` are recorded, not run (they are what is running this test).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// Fenced code blocks: (language, first line number, text).
fn blocks(markdown: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(lang) = trimmed.strip_prefix("```") {
                    open = Some((lang.trim().to_string(), i + 1, String::new()));
                }
            }
            Some((_, _, text)) => {
                if trimmed.starts_with("```") {
                    out.push(open.take().unwrap());
                } else {
                    // Blocks inside list items are indented; the shell does not care.
                    text.push_str(line.trim_start());
                    text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "README.md has an unclosed code fence");
    out
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

const CARGO_SHIM: &str = r#"#!/bin/sh
# cargo, as the README test stands it in (see tests/readme.rs).
case "$1" in
  run)
    shift
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
    [ "$1" = "--" ] && shift
    exec loopops-mcp "$@" ;;
  build|test)
    echo "cargo $*" >> "$README_TEST_LOG"
    exit 0 ;;
  *)
    echo "cargo stand-in: 'cargo $1' is not something the README may run" >&2
    exit 97 ;;
esac
"#;

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A fresh machine: a HOME, a working directory holding the binary, nothing configured.
fn machine() -> support::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = support::temp_dir("readme");
    let bin_dir = dir.join("shims");
    let home = dir.join("home");
    let work = dir.join("work");
    for d in [&bin_dir, &home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(support::BIN_ABS.as_str(), bin_dir.join("loopops-mcp")).unwrap();
    let cargo = bin_dir.join("cargo");
    std::fs::write(&cargo, CARGO_SHIM).unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    // "The loopops-mcp file from IT" is in the directory the user works in.
    std::fs::copy(support::BIN_ABS.as_str(), work.join("loopops-mcp")).unwrap();
    dir
}

/// Run one block with `sh -e` on that machine.
fn run_block(dir: &Path, text: &str) -> Ran {
    let (bin_dir, home, work) = (dir.join("shims"), dir.join("home"), dir.join("work"));
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new("sh")
        .args(["-e", "-c", text])
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("README_TEST_LOG", dir.join("cargo.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::wait_with_limit(child, LIMIT);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn every_code_block_has_a_language() {
    let allowed = ["sh", "text", "json", "jsonc", "powershell", "toml"];
    for (lang, line, _) in blocks(&readme()) {
        assert!(
            allowed.contains(&lang.as_str()),
            "README.md line {line}: fence the block as one of {allowed:?} (```sh only if it runs offline with nothing configured), not {lang:?}"
        );
    }
}

#[test]
fn every_sh_block_runs_offline_with_nothing_configured() {
    let sh: Vec<_> = blocks(&readme())
        .into_iter()
        .filter(|(lang, _, _)| lang == "sh")
        .collect();
    assert!(sh.len() >= 3, "the README has runnable examples");
    // In order, on one machine, as a reader following the README would.
    let dir = machine();
    for (_, line, text) in &sh {
        let ran = run_block(&dir, text);
        assert_eq!(
            ran.code,
            Some(0),
            "README.md line {line}: the ```sh block failed:\n{text}\nstdout:\n{}\nstderr:\n{}",
            ran.stdout,
            ran.stderr
        );
        // Whatever looks like JSON on stdout is JSON (the server's answers, --json).
        for l in ran
            .stdout
            .lines()
            .filter(|l| l.starts_with('{') && l.ends_with('}'))
        {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("README.md line {line}: stdout line is not JSON ({e}): {l}"));
        }
        assert!(
            !ran.stderr.contains("internal error"),
            "README.md line {line}: {}",
            ran.stderr
        );
    }
}

#[test]
fn the_first_setup_command_answers_every_request() {
    let (_, line, text) = blocks(&readme())
        .into_iter()
        .find(|(lang, _, _)| lang == "sh")
        .unwrap();
    let ran = run_block(&machine(), &text);
    assert_eq!(ran.code, Some(0), "line {line}: {}", ran.stderr);
    let answers = support::json_lines(ran.stdout.as_bytes());
    assert!(answers.len() >= 3, "{}", ran.stdout);
    for a in &answers {
        assert!(a.get("result").is_some(), "line {line}: {a}");
    }
    assert!(
        answers.iter().any(|a| a["result"]["tools"].is_array()),
        "the tool list is among the answers"
    );
}

/// The options in a `loopops-mcp CMD --help` text: every `--flag` it mentions.
fn flags_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if word.len() > 2 && word.starts_with("--") && word.as_bytes()[2].is_ascii_lowercase() {
            out.insert(word.to_string());
        }
    }
    out
}

#[test]
fn the_command_table_matches_each_commands_help() {
    let text = readme();
    let start = text.find("## Command line").expect("a Command line section");
    let section = &text[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut seen = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `loopops-mcp")) {
        let row = row.replace("\\|", "/");
        let cell = row.split('|').nth(1).unwrap();
        for usage in cell.split(" / ") {
            let usage = usage.trim().trim_matches('`');
            let words: Vec<&str> = usage.split_whitespace().collect();
            let Some(command) = words.get(1).filter(|w| !w.starts_with('[')) else {
                continue;
            };
            seen.insert(command.to_string());
            let help = support::run(&[command, "--help"], &[], b"", LIMIT);
            assert_eq!(help.status.code(), Some(0), "{command} --help");
            let help = String::from_utf8_lossy(&help.stdout).into_owned();
            let documented = flags_in(usage);
            let mut offered = flags_in(&help);
            offered.remove("--help");
            assert_eq!(
                documented, offered,
                "README's row for `{command}` and `loopops-mcp {command} --help` disagree"
            );
        }
    }
    let main_help = support::run(&["--help"], &[], b"", LIMIT);
    let main_help = String::from_utf8_lossy(&main_help.stdout).into_owned();
    let commands: BTreeSet<String> = main_help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    assert_eq!(seen, commands, "every command has a row in README's table");
}

#[test]
fn the_toolset_table_matches_the_catalog() {
    let text = readme();
    let start = text.find("### Toolsets").expect("a Toolsets section");
    let rows: Vec<&str> = text[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| toolset"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 6, "one row per toolset");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let set = cells[1].trim_matches('`');
        let documented: Vec<&str> = cells[2].split(", ").map(|t| t.trim_matches('`')).collect();
        let out = support::run(&["tools", "--toolsets", set], &[], b"", LIMIT);
        let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(&format!("[{set}]")))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect();
        assert_eq!(listed, documented, "README's toolset row for {set}");
    }
}
