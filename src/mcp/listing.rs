//! How the catalog looks on the wire: `tools/list` and `prompts/list` entries with only
//! the fields each protocol version has, our capabilities, and `server/discover`.
//! What never changes is built once per process and kept: clients ask often.

use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

use crate::catalog::toolsets::Selection;
use crate::catalog::{Kind, Prompt, Tool, catalog};
use crate::mcp::era;
use crate::mcp::jsonrpc::RpcError;
use crate::mcp::protocol::Version;

/// The Skills extension's id (spec/skills-extension/).
pub const SKILLS_EXTENSION: &str = "io.modelcontextprotocol/skills";

/// A result that never changes while we run, kept both as a value (for batches and
/// one-shot commands) and serialized (so that answering it is one copy, not a clone
/// and a serialization of some 25 kB).
#[derive(Debug)]
pub struct Prebuilt {
    pub value: Value,
    pub json: String,
}

impl Prebuilt {
    pub fn new(value: Value) -> Prebuilt {
        let json = value.to_string();
        Prebuilt { value, json }
    }
}

/// Our capabilities, in both eras, as `version` defines them. The skills extension is
/// declared only to a client that declares it (it is a draft).
pub fn capabilities(version: Version, skills: bool) -> Value {
    let mut caps = Map::new();
    // 2024-11-05 has `completion/complete` (we answer it) but no capability naming it.
    if version.has_completions_capability() {
        caps.insert("completions".into(), json!({}));
    }
    caps.insert("logging".into(), json!({}));
    for list in ["prompts", "resources", "tools"] {
        caps.insert(list.into(), json!({"listChanged": false}));
    }
    let mut caps = Value::Object(caps);
    if skills {
        caps["extensions"] = json!({ SKILLS_EXTENSION: {} });
    }
    caps
}

/// The `server/discover` result, with or without the skills extension.
pub fn discover(skills: bool) -> &'static Prebuilt {
    static DISCOVER: OnceLock<[Prebuilt; 2]> = OnceLock::new();
    let both = DISCOVER.get_or_init(|| {
        [false, true].map(|skills| {
            let mut m = Map::new();
            m.insert("resultType".into(), json!("complete"));
            m.insert("supportedVersions".into(), json!(Version::SUPPORTED_NEWEST_FIRST));
            m.insert("capabilities".into(), capabilities(Version::V2026_07_28, skills));
            m.insert("instructions".into(), json!(crate::catalog::instructions()));
            era::add_cache_hints(&mut m);
            era::add_server_info(&mut m);
            Prebuilt::new(Value::Object(m))
        })
    });
    &both[usize::from(skills)]
}

/// We answer every list in one page, so any cursor is one we never gave out.
pub fn no_cursor(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(c)) => Err(RpcError::invalid_params(format!("unknown cursor {c:?}"))),
        Some(_) => Err(RpcError::invalid_params("`cursor` must be a string")),
    }
}

/// Modern lists say what they are, how long to keep them and who answered, once, at
/// build time (the era's envelope then leaves them alone).
pub fn finish_list(version: Version, mut result: Value) -> Value {
    if version.is_modern()
        && let Value::Object(m) = &mut result
    {
        m.insert("resultType".into(), json!("complete"));
        era::add_cache_hints(m);
        era::add_server_info(m);
    }
    result
}

/// The `tools/list` result for a version, with or without the mutations.
pub fn tools_list(version: Version, read_only: bool) -> &'static Prebuilt {
    static LISTS: OnceLock<Vec<Prebuilt>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        let mut all = Vec::new();
        for v in Version::ALL {
            for ro in [false, true] {
                let tools = catalog()
                    .tools
                    .iter()
                    .filter(|t| !(ro && t.is_mutation()))
                    .map(|t| tool_json(t, v));
                let mut m = Map::new();
                m.insert("tools".into(), Value::Array(tools.collect()));
                all.push(Prebuilt::new(finish_list(v, Value::Object(m))));
            }
        }
        all
    });
    &lists[version.index() * 2 + usize::from(read_only)]
}

/// The `prompts/list` result for a version.
pub fn prompts_list(version: Version) -> &'static Prebuilt {
    static LISTS: OnceLock<Vec<Prebuilt>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        Version::ALL
            .into_iter()
            .map(|v| {
                let prompts: Vec<Value> = catalog().prompts.iter().map(|p| prompt_json(p, v)).collect();
                Prebuilt::new(finish_list(v, json!({ "prompts": prompts })))
            })
            .collect()
    });
    &lists[version.index()]
}

/// The `resources/templates/list` result for a version: we have no templates, but
/// clients poll it whatever we declare.
pub fn templates_list(version: Version) -> &'static Prebuilt {
    static LISTS: OnceLock<Vec<Prebuilt>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        Version::ALL
            .into_iter()
            .map(|v| Prebuilt::new(finish_list(v, json!({"resourceTemplates": []}))))
            .collect()
    });
    &lists[version.index()]
}

/// The `tools/list` result for a selection: the lists above when every toolset is on
/// (the common case); else built on first use and kept too. A process runs with one
/// selection, so the table stays a row or two (one per version asked for).
pub fn tools_list_for(version: Version, selection: &Selection) -> &'static Prebuilt {
    if selection.toolsets.is_none() {
        return tools_list(version, selection.read_only);
    }
    type Built = Vec<(Version, Selection, &'static Prebuilt)>;
    static BUILT: Mutex<Built> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((.., list)) = built.iter().find(|(v, s, _)| *v == version && s == selection) {
        return list;
    }
    let tools: Vec<Value> = selection.tools().map(|t| tool_json(t, version)).collect();
    let mut m = Map::new();
    m.insert("tools".into(), Value::Array(tools));
    // Kept for the life of the process, as the statics above are.
    let list: &'static Prebuilt = Box::leak(Box::new(Prebuilt::new(finish_list(version, Value::Object(m)))));
    built.push((version, selection.clone(), list));
    list
}

/// The `tools/list` entry, with only the fields the negotiated version has.
pub fn tool_json(tool: &Tool, version: Version) -> Value {
    let mut t = Map::new();
    t.insert("name".into(), json!(tool.name));
    if version.has_titles_and_structured_output() {
        t.insert("title".into(), json!(tool.title));
    }
    t.insert("description".into(), json!(tool.description));
    t.insert("inputSchema".into(), tool.input_public.clone());
    if version.has_titles_and_structured_output() {
        t.insert("outputSchema".into(), tool.output.clone());
    }
    if version.has_annotations() {
        let read_only = tool.kind == Kind::Query;
        let mut a = Map::new();
        a.insert("title".into(), json!(tool.title));
        a.insert("readOnlyHint".into(), json!(read_only));
        if !read_only {
            a.insert("destructiveHint".into(), json!(tool.destructive));
        }
        a.insert("idempotentHint".into(), json!(tool.idempotent));
        a.insert("openWorldHint".into(), json!(false));
        t.insert("annotations".into(), Value::Object(a));
    }
    Value::Object(t)
}

pub fn prompt_json(prompt: &Prompt, version: Version) -> Value {
    let titled = version.has_titles_and_structured_output();
    let args: Vec<Value> = prompt
        .arguments
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("name".into(), json!(a.name));
            if titled {
                m.insert("title".into(), json!(a.title));
            }
            m.insert("description".into(), json!(a.description));
            m.insert("required".into(), json!(a.required));
            Value::Object(m)
        })
        .collect();
    let mut p = Map::new();
    p.insert("name".into(), json!(prompt.name));
    if titled {
        p.insert("title".into(), json!(prompt.title));
    }
    p.insert("description".into(), json!(prompt.description));
    p.insert("arguments".into(), Value::Array(args));
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::toolsets;

    fn selection(spec: &str, read_only: bool) -> Selection {
        Selection {
            read_only,
            toolsets: toolsets::parse(spec).unwrap(),
        }
    }

    /// A list for chosen toolsets is built on first use and then served as it is.
    #[test]
    fn a_toolset_list_is_built_once_per_version_and_selection() {
        let deals = selection("deals", false);
        for v in Version::ALL {
            let first = tools_list_for(v, &deals);
            assert!(std::ptr::eq(first, tools_list_for(v, &deals.clone())));
            let names: Vec<&str> = first.value["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            let expected: Vec<&str> = deals.tools().map(|t| t.name.as_str()).collect();
            assert_eq!(names, expected, "{v:?}");
            assert_eq!(first.json, first.value.to_string());
        }
        let (a, b) = (Version::V2025_11_25, Version::V2026_07_28);
        assert!(!std::ptr::eq(
            tools_list_for(a, &deals),
            tools_list_for(b, &deals)
        ));
        let read_only = selection("deals", true);
        assert!(!std::ptr::eq(
            tools_list_for(a, &deals),
            tools_list_for(a, &read_only)
        ));
        // Every toolset on: the one table of full lists.
        let all = Selection::default();
        assert!(std::ptr::eq(tools_list_for(a, &all), tools_list(a, false)));
    }

    #[test]
    fn the_templates_list_is_built_once_per_version() {
        for v in Version::ALL {
            assert!(std::ptr::eq(templates_list(v), templates_list(v)));
            assert_eq!(templates_list(v).value["resourceTemplates"], json!([]));
            assert_eq!(templates_list(v).value.get("ttlMs").is_some(), v.is_modern());
        }
    }
}
