//! How the catalog looks on the wire: `tools/list` and `prompts/list` entries with only
//! the fields each protocol version has.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::catalog::{Kind, Prompt, Tool, catalog};
use crate::mcp::protocol::Version;

/// The `tools/list` result for a version, with or without the mutations: built once
/// per process and kept, since clients ask for it often and it never changes.
pub fn tools_list(version: Version, read_only: bool) -> &'static Value {
    static LISTS: OnceLock<Vec<Value>> = OnceLock::new();
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
                all.push(Value::Object(m));
            }
        }
        all
    });
    let index = Version::ALL
        .iter()
        .position(|v| *v == version)
        .expect("a known version");
    &lists[index * 2 + usize::from(read_only)]
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
