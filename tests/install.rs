//! `install` / `uninstall` through the binary, for every client and every OS path
//! (the OS chosen by LOOP_MCP_TEST_OS, the home and AppData folders pointed into a
//! temp dir): only our entry changes, other entries, keys and their order stay, the
//! file is private, and nothing is written on --dry-run or over a broken file.

#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

struct Machine {
    root: support::TempDir,
    os: &'static str,
}

impl Machine {
    fn new(os: &'static str) -> Machine {
        Machine {
            root: support::temp_dir(&format!("install-{os}")),
            os,
        }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("LOOP_MCP_TEST_OS", self.os.to_string()),
            ("HOME", self.home().display().to_string()),
            // The token store is the default ~/.mcp.json.
            ("LOOP_MCP_CONFIG", String::new()),
            // And the sign-in store is the default one under HOME.
            ("LOOP_MCP_STORE", String::new()),
        ];
        if self.os == "windows" {
            env.push(("USERPROFILE", self.home().display().to_string()));
            env.push(("APPDATA", self.root.join("AppData/Roaming").display().to_string()));
            env.push((
                "LOCALAPPDATA",
                self.root.join("AppData/Local").display().to_string(),
            ));
        }
        env
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let cwd = self.root.join("project");
        std::fs::create_dir_all(&cwd).unwrap();
        let child = support::command(args, &env)
            .current_dir(&cwd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        support::wait_with_limit(child, LIMIT)
    }
}

/// Where each client's user config lives, written out independently of src/.
fn expected(client: &str, os: &str, m: &Machine) -> PathBuf {
    let home = m.home();
    let app_support = home.join("Library/Application Support");
    let roaming = m.root.join("AppData/Roaming");
    match (client, os) {
        ("claude-desktop", "macos") => app_support.join("Claude/claude_desktop_config.json"),
        ("claude-desktop", "windows") => roaming.join("Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux") => home.join(".config/Claude/claude_desktop_config.json"),
        ("claude-code", _) => home.join(".claude.json"),
        ("cursor", _) => home.join(".cursor/mcp.json"),
        ("vscode", "macos") => app_support.join("Code/User/mcp.json"),
        ("vscode", "windows") => roaming.join("Code/User/mcp.json"),
        ("vscode", "linux") => home.join(".config/Code/User/mcp.json"),
        _ => unreachable!(),
    }
}

fn servers_key(client: &str) -> &'static str {
    if client == "vscode" {
        "servers"
    } else {
        "mcpServers"
    }
}

/// A config another program wrote: entries before and after ours, a top-level key
/// on each side, a number spelled in a way a re-serialization would change.
fn seed(path: &Path, key: &str) -> String {
    let text = format!(
        r#"{{
  "first": {{"keep": [3, 2, 1]}},
  "{key}": {{
    "github": {{"command": "gh-mcp", "args": ["--stdio"], "env": {{"GITHUB_TOKEN": "ghp_not_ours_0000"}}}},
    "loop-operations": {{"command": "/old/path", "args": ["serve"], "env": {{"API_TIMEOUT_MS": "5000"}}}},
    "zzz-last": {{"command": "z"}}
  }},
  "big": 12345678901234567890123,
  "alpha": 1.50
}}
"#
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &text).unwrap();
    text
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn install_and_uninstall_for_every_client_on_every_os_keep_other_entries() {
    use std::os::unix::fs::PermissionsExt;
    for os in ["macos", "windows", "linux"] {
        for client in ["claude-desktop", "claude-code", "cursor", "vscode"] {
            let m = Machine::new(os);
            let path = expected(client, os, &m);
            let key = servers_key(client);
            seed(&path, key);
            let before = read(&path);
            let o = m.run(&["install", client, "--read-only", "--toolsets", "deals,accounts"]);
            assert_eq!(o.status.code(), Some(0), "{client} on {os}: {}", out(&o));
            assert!(
                out(&o).contains(&path.display().to_string()),
                "{client} on {os} names the file: {}",
                out(&o)
            );
            let after = read(&path);
            let entry = &after[key]["loop-operations"];
            assert_eq!(entry["command"], support::BIN_ABS.as_str(), "{client} on {os}");
            assert_eq!(
                entry["args"],
                json!(["serve", "--read-only", "--toolsets", "deals,accounts"]),
                "{client} on {os}"
            );
            let wants_type = client == "claude-code" || client == "vscode";
            assert_eq!(entry.get("type").is_some(), wants_type, "{client}: {entry}");
            assert_eq!(
                entry["env"],
                json!({"API_TIMEOUT_MS": "5000"}),
                "the user's env stays"
            );
            for k in ["github", "zzz-last"] {
                assert_eq!(after[key][k], before[key][k], "{client} on {os}: {k}");
            }
            let order: Vec<&String> = after[key].as_object().unwrap().keys().collect();
            assert_eq!(
                order,
                ["github", "loop-operations", "zzz-last"],
                "{client} on {os}"
            );
            let top: Vec<&String> = after.as_object().unwrap().keys().collect();
            assert_eq!(top, ["first", key, "big", "alpha"]);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains("12345678901234567890123") && text.contains("1.50"),
                "{text}"
            );
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{client} on {os}");
            let leftovers: Vec<String> = std::fs::read_dir(path.parent().unwrap())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp."))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");

            let u = m.run(&["uninstall", client]);
            assert_eq!(u.status.code(), Some(0), "{}", out(&u));
            let gone = read(&path);
            assert!(gone[key].get("loop-operations").is_none(), "{client} on {os}");
            let order: Vec<&String> = gone[key].as_object().unwrap().keys().collect();
            assert_eq!(order, ["github", "zzz-last"]);
            assert_eq!(gone["first"], before["first"]);
            let again = m.run(&["uninstall", client]);
            assert_eq!(again.status.code(), Some(0));
            assert!(out(&again).contains("Nothing to remove"), "{}", out(&again));
        }
    }
}

#[test]
fn install_creates_a_missing_config_and_its_folder() {
    for os in ["macos", "windows", "linux"] {
        for client in ["claude-desktop", "claude-code", "cursor", "vscode"] {
            let m = Machine::new(os);
            let path = expected(client, os, &m);
            let o = m.run(&["install", client]);
            assert_eq!(o.status.code(), Some(0), "{client} on {os}: {}", out(&o));
            let doc = read(&path);
            let entry = &doc[servers_key(client)]["loop-operations"];
            assert_eq!(entry["args"], json!(["serve"]), "{client} on {os}: {doc}");
            assert!(out(&o).contains("Not signed in yet"), "{}", out(&o));
        }
    }
}

#[test]
fn claude_desktop_from_the_microsoft_store_gets_its_redirected_file() {
    let m = Machine::new("windows");
    let package = m.root.join("AppData/Local/Packages/Claude_pzs8sxrjxfjjc");
    std::fs::create_dir_all(&package).unwrap();
    let o = m.run(&["install", "claude-desktop"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let path = package.join("LocalCache/Roaming/Claude/claude_desktop_config.json");
    assert_eq!(
        read(&path)["mcpServers"]["loop-operations"]["command"],
        support::BIN_ABS.as_str()
    );
    assert!(
        !m.root.join("AppData/Roaming/Claude").exists(),
        "not the unpackaged path"
    );
}

#[test]
fn project_scope_writes_into_the_current_directory() {
    let m = Machine::new("linux");
    for (client, file) in [
        ("claude-code", ".mcp.json"),
        ("cursor", ".cursor/mcp.json"),
        ("vscode", ".vscode/mcp.json"),
    ] {
        let o = m.run(&["install", client, "--scope", "project"]);
        assert_eq!(o.status.code(), Some(0), "{}", out(&o));
        let doc = read(&m.root.join("project").join(file));
        assert!(doc[servers_key(client)]["loop-operations"].is_object(), "{doc}");
    }
    let desktop = m.run(&["install", "claude-desktop", "--scope", "project"]);
    assert_eq!(desktop.status.code(), Some(2));
    assert!(out(&desktop).contains("Claude Desktop has no project config"));
}

#[test]
fn dry_run_prints_the_entry_and_writes_nothing() {
    let m = Machine::new("macos");
    let path = expected("claude-desktop", "macos", &m);
    let text = seed(&path, "mcpServers");
    let o = m.run(&["install", "claude-desktop", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let printed = out(&o);
    assert!(
        printed.contains("Would replace the `loop-operations` entry"),
        "{printed}"
    );
    assert!(printed.contains(support::BIN_ABS.as_str()), "{printed}");
    assert!(
        !printed.contains("ghp_not_ours_0000"),
        "other entries are not printed: {printed}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "unchanged");
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(names.len(), 1, "no lock or temp file either");
    let u = m.run(&["uninstall", "claude-desktop", "--dry-run", "--json"]);
    let v: Value = serde_json::from_slice(&u.stdout).unwrap();
    assert_eq!(v["removed"], true);
    assert_eq!(v["dryRun"], true);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "unchanged");
}

#[test]
fn a_broken_or_odd_config_is_never_overwritten() {
    let m = Machine::new("linux");
    let path = expected("vscode", "linux", &m);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let jsonc = "{\n  // VS Code allows comments\n  \"servers\": {}\n}\n";
    std::fs::write(&path, jsonc).unwrap();
    let o = m.run(&["install", "vscode"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("VS Code allows comments in mcp.json"),
        "{}",
        out(&o)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), jsonc);
    std::fs::write(&path, r#"{"servers": ["not", "an", "object"]}"#).unwrap();
    let o = m.run(&["install", "vscode"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("`servers`"), "{}", out(&o));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"servers": ["not", "an", "object"]}"#
    );
}

#[test]
fn the_token_store_and_name_are_recorded_and_claude_code_gets_its_own_command() {
    let m = Machine::new("linux");
    let store = m.root.join("store dir/mcp.json");
    let env = m.env();
    let mut env: Vec<(&str, String)> = env.into_iter().filter(|(k, _)| *k != "LOOP_MCP_CONFIG").collect();
    env.push(("LOOP_MCP_CONFIG", store.display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = support::run(&["install", "claude-code", "--name", "loop-eu"], &env, b"", LIMIT);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let doc = read(&m.home().join(".claude.json"));
    assert_eq!(
        doc["mcpServers"]["loop-eu"]["args"],
        json!([
            "serve",
            "--name",
            "loop-eu",
            "--config",
            store.display().to_string()
        ])
    );
    let printed = out(&o);
    assert!(
        printed.contains(&format!(
            "claude mcp add --scope user loop-eu -- {} serve --name loop-eu --config '{}'",
            support::BIN_ABS.as_str(),
            store.display()
        )),
        "{printed}"
    );
    // A moved sign-in store goes into the entry's env, next to the user's variables.
    let moved = m.root.join("signin");
    let mut with_store = env.clone();
    let moved_text = moved.display().to_string();
    with_store.push(("LOOP_MCP_STORE", &moved_text));
    let desktop = m.home().join(".config/Claude/claude_desktop_config.json");
    seed(&desktop, "mcpServers");
    let o = support::run(&["install", "claude-desktop"], &with_store, b"", LIMIT);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(
        read(&desktop)["mcpServers"]["loop-operations"]["env"],
        json!({"API_TIMEOUT_MS": "5000", "LOOP_MCP_STORE": moved_text})
    );
    let j = support::run(&["install", "cursor", "--json", "--dry-run"], &env, b"", LIMIT);
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["client"], "cursor");
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["tokenStore"], store.display().to_string());
    assert!(!m.home().join(".cursor").exists());
}

#[test]
fn usage_errors_name_the_clients() {
    let m = Machine::new("linux");
    for args in [&["install"][..], &["install", "emacs"], &["uninstall", "zed"]] {
        let o = m.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            out(&o).contains("claude-desktop, claude-code, cursor, vscode"),
            "{args:?}: {}",
            out(&o)
        );
    }
    let o = m.run(&["install", "cursor", "--toolsets", "crm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("unknown toolset 'crm'"));
    assert!(!m.home().join(".cursor").exists());
}
