//! How the catalog looks on the wire: `tools/list` and `prompts/list` entries with only
//! the fields each protocol version has, our capabilities, and `server/discover`.
//! What never changes is built once per process and kept: clients ask often.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::catalog::toolsets::Selection;
use crate::catalog::{Kind, Prompt, Tool, catalog};
use crate::mcp::era::{self, Envelope};
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

/// A list result in the request's era: modern ones carry the caching hints.
pub fn cacheable(env: &Envelope, result: Value) -> Value {
    finish_list(env.version, result)
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

/// The `tools/list` result for a selection: the cached lists when every toolset is
/// on (the common case), else built for it.
pub fn tools_list_for(version: Version, selection: &Selection) -> Value {
    if selection.toolsets.is_none() {
        return tools_list(version, selection.read_only).value.clone();
    }
    let tools: Vec<Value> = selection.tools().map(|t| tool_json(t, version)).collect();
    let mut m = Map::new();
    m.insert("tools".into(), Value::Array(tools));
    finish_list(version, Value::Object(m))
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
