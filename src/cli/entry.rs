//! The `command` and `args` an MCP client runs us with, written by `login` (into the
//! token store's entry) and `install` (into a client's own config). The client spawns
//! `serve` without our shell's environment, so whatever it needs is in the args.

use std::path::Path;

use serde_json::{Value, json};

use crate::auth::config_file::{ConfigFile, DEFAULT_SERVER_NAME};
use crate::catalog::toolsets;
use crate::cli::offering::EntryFlags;

/// This binary's absolute path, never a `\\?\` verbatim one: what a client should
/// spawn (`exe_path.rs`).
pub fn command() -> String {
    super::exe_path::current()
}

/// `serve` and the flags that make it behave as asked: read-only, toolsets, a
/// non-default entry name, and the token store unless it is the default
/// `~/.mcp.json` (so the server saves rotated tokens where `login` put them).
pub fn serve_args(flags: &EntryFlags, name: &str, store: &ConfigFile) -> Vec<Value> {
    let mut args = vec![json!("serve")];
    if flags.read_only {
        args.push(json!("--read-only"));
    }
    if let Some(sets) = &flags.toolsets {
        args.extend([json!("--toolsets"), json!(sets)]);
    }
    if name != DEFAULT_SERVER_NAME {
        args.extend([json!("--name"), json!(name)]);
    }
    if let Some(path) = non_default_store(&store.path) {
        args.extend([json!("--config"), json!(path)]);
    }
    args
}

/// The store's absolute path, unless it is the default `~/.mcp.json`.
fn non_default_store(path: &Path) -> Option<String> {
    let default_path = dirs::home_dir().map(|h| h.join(".mcp.json"));
    if Some(path) == default_path.as_deref() {
        return None;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Some(absolute.display().to_string())
}

/// Normalize a `--toolsets` value for the args: `None` for all, the canonical list
/// otherwise; an unknown name is an error listing the valid ones.
pub fn toolsets_flag(spec: Option<&str>) -> Result<Option<String>, String> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let parsed = toolsets::parse(spec).map_err(|e| format!("--toolsets: {e}"))?;
    Ok(toolsets::Selection {
        read_only: false,
        toolsets: parsed,
    }
    .toolsets_arg())
}
