//! `install CLIENT` / `uninstall CLIENT`: put our entry into an MCP client's own
//! config (or take it out) without hand-editing JSON. Only that entry changes; every
//! other entry, key and key order stays, and the write is locked, atomic and private
//! like every config write (`auth::config_file`). The entry carries no token: the
//! server reads the sign-in from the token store (`~/.mcp.json`, or the `--config`
//! recorded in the args), which every client and `login` share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::auth::config_file::{ConfigError, ConfigFile};
use crate::auth::settings::Settings;
use crate::auth::store::LOOP_MCP_STORE;
use crate::cli::clients::{Client, Os, Places, Scope, config_path};
use crate::cli::entry;
use crate::cli::offering::EntryFlags;
use crate::cli::signin::Outcome;
use crate::cli::terminal;

pub struct InstallArgs {
    pub client: Client,
    pub scope: Scope,
    pub read_only: bool,
    pub toolsets: Option<String>,
    pub name: String,
    /// The token store to record (default: LOOP_MCP_CONFIG, else ~/.mcp.json).
    pub config: Option<PathBuf>,
    pub dry_run: bool,
    pub json: bool,
}

const LOCK_WAIT: Duration = Duration::from_secs(20);

/// Where this client's config is, for this OS (the test switch included).
fn target(client: Client, scope: Scope) -> Result<(Os, PathBuf), String> {
    let env = |k: &str| std::env::var(k).ok();
    let os = Os::current(&env);
    let places = Places::from_env(os, &env)?;
    Ok((os, config_path(client, scope, os, &places)?))
}

pub fn install(args: InstallArgs) -> Outcome {
    let (os, path) = match target(args.client, args.scope) {
        Ok(t) => t,
        Err(e) => return Outcome::Usage(e),
    };
    let toolsets = match entry::toolsets_flag(args.toolsets.as_deref()) {
        Ok(t) => t,
        Err(e) => return Outcome::Usage(e),
    };
    let store = match ConfigFile::locate(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let flags = EntryFlags {
        read_only: args.read_only,
        toolsets,
    };
    let command = entry::command();
    let serve_args = entry::serve_args(&flags, &args.name, &store);
    let mut ours = Map::new();
    if args.client.wants_type() {
        ours.insert("type".into(), json!("stdio"));
    }
    ours.insert("command".into(), json!(command));
    ours.insert("args".into(), Value::Array(serve_args.clone()));
    // A moved sign-in store must be moved for the client too: it starts the server
    // without this shell's environment.
    let store_dir = std::env::var(LOOP_MCP_STORE)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| std::path::absolute(&v).unwrap_or_else(|_| PathBuf::from(&v)));
    if let Some(dir) = &store_dir {
        ours.insert("env".into(), json!({ LOOP_MCP_STORE: dir.display().to_string() }));
    }
    let file = ConfigFile::new(&path);
    let key = args.client.servers_key();
    let existing = match file.read() {
        Ok(doc) => doc,
        Err(e) => return Outcome::Failed(unreadable(args.client, &e)),
    };
    let replaced = existing
        .as_ref()
        .is_some_and(|d| d[key].get(&args.name).is_some());
    if !args.dry_run {
        let written = edit(&file, |doc| {
            let servers = servers_mut(doc, key).ok_or_else(|| not_an_object(&path, key))?;
            let slot = servers
                .entry(args.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(entry) = slot.as_object_mut() else {
                return Err(not_an_object(&path, &format!("{key}.{}", args.name)));
            };
            // Our keys are set; anything else the user put there (other env
            // variables, disabled) stays.
            for (k, v) in &ours {
                match (entry.get_mut(k), v) {
                    (Some(Value::Object(theirs)), Value::Object(add)) => {
                        theirs.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    _ => {
                        entry.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            return Outcome::Failed(e);
        }
    }
    let signed_in = Settings::load(&args.name, Some(&store.path))
        .map(|s| s.missing().is_empty())
        .unwrap_or(false);
    if args.json {
        let out = json!({
            "client": client_id(args.client),
            "path": path.display().to_string(),
            "name": args.name,
            "entry": Value::Object(ours),
            "replaced": replaced,
            "dryRun": args.dry_run,
            "tokenStore": store.path.display().to_string(),
            "signedIn": signed_in,
        });
        println!("{}", terminal::clean_json(&out));
        return Outcome::Done;
    }
    let entry_text =
        serde_json::to_string_pretty(&json!({ args.name.clone(): Value::Object(ours) })).unwrap_or_default();
    let mut out = String::new();
    if args.dry_run {
        out.push_str(&format!(
            "Would {} the `{}` entry under `{key}` in {}'s config (other entries stay as they are):\n  {}\n\n{entry_text}\n",
            if replaced { "replace" } else { "add" },
            args.name,
            args.client.title(),
            path.display()
        ));
    } else {
        out.push_str(&format!(
            "{} the `{}` entry in {}'s config (other entries kept):\n  {}\n\n{entry_text}\n\n{}\n",
            if replaced { "Updated" } else { "Added" },
            args.name,
            args.client.title(),
            path.display(),
            args.client.reload_hint()
        ));
    }
    if args.client == Client::ClaudeCode && args.scope == Scope::User {
        out.push_str(&format!(
            "\nOr let Claude Code write it itself:\n  claude mcp add --scope user {} -- {}\n",
            args.name,
            shell_words(os, &command, &serve_args)
        ));
    }
    if args.client == Client::VsCode && args.scope == Scope::User {
        let spec = json!({"name": args.name, "command": command, "args": serve_args});
        out.push_str(&format!(
            "\nOr let VS Code add it itself:\n  code --add-mcp {}\n",
            quote(os, &spec.to_string())
        ));
    }
    if signed_in {
        out.push_str(&format!(
            "\nThe server reads your sign-in from {}.\n",
            store.path.display()
        ));
    } else {
        out.push_str(&format!(
            "\nNot signed in yet: run `loopops-mcp login --issuer URL --client-id ID --api-url URL` with the values from your Loop Operations admin (the sign-in is saved in {}, where this entry looks for it).\n",
            store.path.display()
        ));
    }
    print!("{}", terminal::clean(&out));
    Outcome::Done
}

pub struct UninstallArgs {
    pub client: Client,
    pub scope: Scope,
    pub name: String,
    pub dry_run: bool,
    pub json: bool,
}

pub fn uninstall(args: UninstallArgs) -> Outcome {
    let (_, path) = match target(args.client, args.scope) {
        Ok(t) => t,
        Err(e) => return Outcome::Usage(e),
    };
    let file = ConfigFile::new(&path);
    let key = args.client.servers_key();
    let present = match file.read() {
        Ok(doc) => doc.is_some_and(|d| d[key].get(&args.name).is_some()),
        Err(e) => return Outcome::Failed(unreadable(args.client, &e)),
    };
    if present && !args.dry_run {
        let removed = edit(&file, |doc| {
            if let Some(servers) = doc.get_mut(key).and_then(Value::as_object_mut) {
                // `shift_remove` keeps the order of the entries around it.
                servers.shift_remove(&args.name);
            }
            Ok(())
        });
        if let Err(e) = removed {
            return Outcome::Failed(e);
        }
    }
    if args.json {
        let out = json!({
            "client": client_id(args.client),
            "path": path.display().to_string(),
            "name": args.name,
            "removed": present,
            "dryRun": args.dry_run,
        });
        println!("{}", terminal::clean_json(&out));
        return Outcome::Done;
    }
    let text = match (present, args.dry_run) {
        (false, _) => format!(
            "Nothing to remove: {}'s config ({}) has no `{}` entry.",
            args.client.title(),
            path.display(),
            args.name
        ),
        (true, true) => format!(
            "Would remove the `{}` entry from {} (other entries stay as they are).",
            args.name,
            path.display()
        ),
        (true, false) => format!(
            "Removed the `{}` entry from {}'s config ({}); other entries kept. {}\nThe sign-in itself is untouched: `loopops-mcp logout` signs out.",
            args.name,
            args.client.title(),
            path.display(),
            args.client.reload_hint()
        ),
    };
    println!("{}", terminal::clean(&text));
    Outcome::Done
}

/// Change the file under its lock, re-reading it first; create it (and its
/// directory) if missing.
fn edit(file: &ConfigFile, change: impl FnOnce(&mut Value) -> Result<(), String>) -> Result<(), String> {
    if let Some(dir) = file.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    file.with_lock(LOCK_WAIT, || {
        let mut doc = file
            .read()
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| json!({}));
        change(&mut doc)?;
        file.write(&doc).map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())?
}

/// The server map, created if missing; `None` if something else is in the way.
fn servers_mut<'a>(doc: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    doc.as_object_mut()?
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn not_an_object(path: &Path, what: &str) -> String {
    format!(
        "`{what}` in {} is not a JSON object, so it was left alone; fix the file, then run this again",
        path.display()
    )
}

fn unreadable(client: Client, e: &ConfigError) -> String {
    let mut s = format!("{e}; nothing was changed");
    if client == Client::VsCode && matches!(e, ConfigError::Invalid { .. }) {
        s.push_str(
            " (VS Code allows comments in mcp.json: remove them, or add the entry with `code --add-mcp`)",
        );
    }
    s
}

fn client_id(c: Client) -> &'static str {
    match c {
        Client::ClaudeDesktop => "claude-desktop",
        Client::ClaudeCode => "claude-code",
        Client::Cursor => "cursor",
        Client::VsCode => "vscode",
    }
}

/// The command line, quoted for the OS's usual shell (POSIX sh, or PowerShell).
fn shell_words(os: Os, command: &str, args: &[Value]) -> String {
    let mut words = vec![quote(os, command)];
    words.extend(args.iter().filter_map(Value::as_str).map(|a| quote(os, a)));
    words.join(" ")
}

fn quote(os: Os, word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain && !word.is_empty() {
        return word.to_string();
    }
    // Single quotes work in both; inside them only `'` needs care.
    match os {
        Os::Windows => format!("'{}'", word.replace('\'', "''")),
        _ => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_each_shell() {
        assert_eq!(quote(Os::Linux, "/usr/bin/x"), "/usr/bin/x");
        assert_eq!(quote(Os::MacOs, "/Users/a b/it's"), r"'/Users/a b/it'\''s'");
        assert_eq!(quote(Os::Windows, r"C:\Program Files\x"), r"'C:\Program Files\x'");
        assert_eq!(quote(Os::Windows, "it's"), "'it''s'");
    }
}
