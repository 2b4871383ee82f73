//! Which tools an MCP client gets: read-only mode and toolsets as `serve` resolves
//! them (its flags, which a client passes from the entry's `args`, then
//! `LOOP_MCP_READ_ONLY` / `LOOP_MCP_TOOLSETS`), for `status` and `tools`.

use serde_json::{Value, json};

use crate::catalog::catalog;
use crate::catalog::toolsets::{Selection, is_true};

/// `--read-only` and `--toolsets X` as they appear in an entry's `args`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EntryFlags {
    pub read_only: bool,
    pub toolsets: Option<String>,
}

impl EntryFlags {
    pub fn from_args(args: &[Value]) -> EntryFlags {
        let words: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
        let mut flags = EntryFlags::default();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            if *w == "--read-only" {
                flags.read_only = true;
            } else if *w == "--toolsets" {
                flags.toolsets = it.next().map(|s| s.to_string());
            } else if let Some(v) = w.strip_prefix("--toolsets=") {
                flags.toolsets = Some(v.to_string());
            }
        }
        flags
    }

    /// The entry `mcpServers.<name>` of a config document.
    pub fn of_entry(doc: Option<&Value>, name: &str) -> EntryFlags {
        doc.and_then(|d| d["mcpServers"][name]["args"].as_array())
            .map(|a| EntryFlags::from_args(a))
            .unwrap_or_default()
    }
}

/// What a client starting the entry in this environment gets, as JSON.
pub fn report(doc: Option<&Value>, name: &str) -> Value {
    let flags = EntryFlags::of_entry(doc, name);
    let env = |k: &str| std::env::var(k).ok();
    let read_only_source = if flags.read_only {
        "entry args"
    } else if env("LOOP_MCP_READ_ONLY").is_some_and(|v| is_true(&v)) {
        "environment"
    } else {
        "default"
    };
    let toolsets_source = if flags.toolsets.is_some() {
        "entry args"
    } else if env("LOOP_MCP_TOOLSETS").is_some_and(|v| !v.trim().is_empty()) {
        "environment"
    } else {
        "default"
    };
    match Selection::from_flags_and_env(flags.read_only, flags.toolsets.as_deref(), &env) {
        Ok(s) => json!({
            "readOnly": s.read_only,
            "readOnlySource": read_only_source,
            "toolsets": s.enabled(),
            "toolsetsSource": toolsets_source,
            "tools": s.tools().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            "summary": describe(&s),
        }),
        Err(e) => {
            json!({"error": format!("{e} (the server will not start)"), "toolsetsSource": toolsets_source})
        }
    }
}

/// The lines `status` prints for a `report`.
pub fn human_lines(r: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    if let Some(e) = r.get("error") {
        return vec![format!(
            "toolsets:      ERROR: {} [{}]",
            s(e),
            s(&r["toolsetsSource"])
        )];
    }
    let read_only = if r["readOnly"] == json!(true) {
        "on: the tools that change records are hidden and refused"
    } else {
        "off"
    };
    let sets: Vec<String> = r["toolsets"].as_array().into_iter().flatten().map(s).collect();
    vec![
        format!("read-only:     {read_only} [{}]", s(&r["readOnlySource"])),
        format!("toolsets:      {} [{}]", sets.join(", "), s(&r["toolsetsSource"])),
        format!("tools:         {}", s(&r["summary"])),
    ]
}

/// One line: how many tools are offered and why the others are not.
pub fn describe(s: &Selection) -> String {
    let offered = s.tools().count();
    let total = catalog().tools.len();
    let mut why = Vec::new();
    if s.toolsets.is_some() {
        why.push(format!("toolsets {}", s.enabled().join(", ")));
    }
    if s.read_only {
        why.push("read-only".to_string());
    }
    if why.is_empty() {
        format!("{offered} of {total} (all toolsets, read and write)")
    } else {
        format!("{offered} of {total} ({})", why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_from_an_entrys_args() {
        let args = json!(["serve", "--read-only", "--toolsets", "deals", "--config", "/x"]);
        let f = EntryFlags::from_args(args.as_array().unwrap());
        assert_eq!(
            f,
            EntryFlags {
                read_only: true,
                toolsets: Some("deals".into())
            }
        );
        let eq = json!(["serve", "--toolsets=accounts"]);
        assert_eq!(
            EntryFlags::from_args(eq.as_array().unwrap()).toolsets.as_deref(),
            Some("accounts")
        );
        assert_eq!(EntryFlags::of_entry(None, "x"), EntryFlags::default());
    }
}
