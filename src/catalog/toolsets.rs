//! Which tools a server offers. `--toolsets deals,accounts` / `LOOP_MCP_TOOLSETS` pick
//! named groups of the catalog (as github-mcp-server users know them), read-only
//! mode drops the tools that change records. One `Selection` answers for
//! `tools/list`, `tools/call`, `loopops-mcp tools` and `status`, so they cannot
//! disagree.

use crate::catalog::{Tool, catalog};

/// The toolset every selection includes: `whoami` gives the currency and fiscal
/// calendar every other answer depends on, `list_owners` the ids they filter by.
pub const ALWAYS_ON: &str = "context";

/// The value that selects every toolset.
pub const ALL: &str = "all";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub read_only: bool,
    /// The toolsets chosen, in catalog order and including `context`; `None`: all.
    pub toolsets: Option<Vec<String>>,
}

/// Every toolset name, in catalog order.
pub fn names() -> Vec<&'static str> {
    catalog().toolsets.iter().map(|t| t.name.as_str()).collect()
}

/// Parse a `--toolsets` / `LOOP_MCP_TOOLSETS` value: comma-separated toolset names
/// or `all`, case and spaces ignored. `None` means all. An unknown name is an error
/// that lists the valid ones.
pub fn parse(spec: &str) -> Result<Option<Vec<String>>, String> {
    let valid = names();
    let mut chosen = vec![ALWAYS_ON.to_string()];
    let mut any = false;
    for item in spec.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        if item.is_empty() {
            continue;
        }
        any = true;
        if item == ALL {
            return Ok(None);
        }
        if !valid.contains(&item.as_str()) {
            return Err(format!(
                "unknown toolset '{item}'; the toolsets are: {}, or {ALL}",
                valid.join(", ")
            ));
        }
        if !chosen.contains(&item) {
            chosen.push(item);
        }
    }
    if !any {
        return Err(format!(
            "no toolset given; the toolsets are: {}, or {ALL}",
            valid.join(", ")
        ));
    }
    if chosen.len() == valid.len() {
        return Ok(None);
    }
    chosen.sort_by_key(|c| valid.iter().position(|v| v == c));
    Ok(Some(chosen))
}

impl Selection {
    /// Read-only from the flag or `LOOP_MCP_READ_ONLY`; toolsets from the flag, else
    /// `LOOP_MCP_TOOLSETS`. `Err` names the bad value and where it came from.
    pub fn from_flags_and_env(
        read_only_flag: bool,
        toolsets_flag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Selection, String> {
        let read_only = read_only_flag || env("LOOP_MCP_READ_ONLY").is_some_and(|v| is_true(&v));
        let toolsets = match toolsets_flag {
            Some(spec) => parse(spec).map_err(|e| format!("--toolsets: {e}"))?,
            None => match env("LOOP_MCP_TOOLSETS").filter(|v| !v.trim().is_empty()) {
                Some(spec) => parse(&spec).map_err(|e| format!("LOOP_MCP_TOOLSETS: {e}"))?,
                None => None,
            },
        };
        Ok(Selection { read_only, toolsets })
    }

    /// Nothing hidden: the full catalog.
    pub fn is_everything(&self) -> bool {
        !self.read_only && self.toolsets.is_none()
    }

    pub fn has_toolset(&self, tool: &Tool) -> bool {
        self.toolsets
            .as_ref()
            .is_none_or(|sets| sets.contains(&tool.toolset))
    }

    /// Whether the server lists and runs this tool.
    pub fn offers(&self, tool: &Tool) -> bool {
        self.has_toolset(tool) && !(self.read_only && tool.is_mutation())
    }

    /// The tools offered, in catalog order.
    pub fn tools(&self) -> impl Iterator<Item = &'static Tool> + '_ {
        catalog().tools.iter().filter(|t| self.offers(t))
    }

    /// The enabled toolsets' names, in catalog order.
    pub fn enabled(&self) -> Vec<String> {
        match &self.toolsets {
            Some(sets) => sets.clone(),
            None => names().into_iter().map(str::to_string).collect(),
        }
    }

    /// The `--toolsets` value that recreates this selection (`None`: all).
    pub fn toolsets_arg(&self) -> Option<String> {
        self.toolsets.as_ref().map(|sets| {
            let named: Vec<&str> = sets
                .iter()
                .map(String::as_str)
                .filter(|s| *s != ALWAYS_ON)
                .collect();
            if named.is_empty() {
                ALWAYS_ON.to_string()
            } else {
                named.join(",")
            }
        })
    }
}

/// `1`, `true`, `yes`, `on` (any case): how the boolean variables are read.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_toolset_has_tools_and_context_is_always_on() {
        for name in names() {
            assert!(
                catalog().tools.iter().any(|t| t.toolset == name),
                "toolset {name} is empty"
            );
        }
        let s = Selection {
            read_only: false,
            toolsets: parse(" Deals , accounts,deals").unwrap(),
        };
        assert_eq!(s.enabled(), ["context", "deals", "accounts"]);
        let tools: Vec<&str> = s.tools().map(|t| t.name.as_str()).collect();
        assert_eq!(
            tools,
            [
                "whoami",
                "list_owners",
                "search_deals",
                "get_deal",
                "search_accounts",
                "get_account",
                "update_deal_stage",
                "set_deal_next_step"
            ]
        );
        assert_eq!(s.toolsets_arg().as_deref(), Some("deals,accounts"));
        let only = Selection {
            read_only: false,
            toolsets: parse("context").unwrap(),
        };
        assert_eq!(only.toolsets_arg().as_deref(), Some("context"));
    }

    #[test]
    fn all_and_unknown_names() {
        assert_eq!(parse("all").unwrap(), None);
        assert_eq!(parse("deals,ALL").unwrap(), None);
        assert_eq!(
            parse("context,deals,pipeline,forecasts,accounts,activities").unwrap(),
            None
        );
        let e = parse("deals,crm").unwrap_err();
        assert_eq!(
            e,
            "unknown toolset 'crm'; the toolsets are: context, deals, pipeline, forecasts, accounts, activities, or all"
        );
        assert!(parse(" , ").unwrap_err().starts_with("no toolset given"));
    }

    #[test]
    fn read_only_combines_with_toolsets() {
        let env = |k: &str| match k {
            "LOOP_MCP_READ_ONLY" => Some("yes".to_string()),
            "LOOP_MCP_TOOLSETS" => Some("forecasts".to_string()),
            _ => None,
        };
        let s = Selection::from_flags_and_env(false, None, &env).unwrap();
        let tools: Vec<&str> = s.tools().map(|t| t.name.as_str()).collect();
        assert_eq!(tools, ["whoami", "list_owners", "get_forecast"]);
        // The flag wins over the variable.
        let flag = Selection::from_flags_and_env(false, Some("activities"), &env).unwrap();
        assert_eq!(flag.enabled(), ["context", "activities"]);
        let bad = Selection::from_flags_and_env(false, None, &|k| {
            (k == "LOOP_MCP_TOOLSETS").then(|| "nope".to_string())
        });
        assert!(
            bad.unwrap_err()
                .starts_with("LOOP_MCP_TOOLSETS: unknown toolset 'nope'")
        );
        assert!(Selection::default().is_everything());
    }
}
