//! The tool catalog and the skills (MCP prompts), declared as data in
//! `src/catalog/tools.json` and `src/catalog/skills.json`, loaded once.
//! Adding a tool is one entry there; `tools/list` is generated from it and pinned
//! by the snapshot test in `tests/snapshot.rs`. How it looks on the wire is
//! `mcp::listing`'s job.

pub mod pattern;
pub mod schema;
pub mod skill_file;
pub mod toolsets;

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
}

/// A cross-field rule that plain JSON Schema would need a top-level `anyOf` for,
/// which Claude's tool schemas do not accept.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// At least one of these arguments must be given.
    AnyOf(Vec<String>),
    /// Argument `.0` must be >= argument `.1` when both are given.
    AtLeast(String, String),
}

#[derive(Debug)]
pub struct Tool {
    pub name: String,
    /// The named group `--toolsets` / `LOOP_MCP_TOOLSETS` enable it by.
    pub toolset: String,
    pub procedure: String,
    pub kind: Kind,
    pub title: String,
    pub description: String,
    /// Input schema with our `x-` keys, for validation.
    pub input: Value,
    /// Input schema as clients see it.
    pub input_public: Value,
    pub output: Value,
    pub destructive: bool,
    pub idempotent: bool,
    pub rules: Vec<Rule>,
}

#[derive(Debug)]
pub struct PromptArg {
    pub name: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    /// The tools' type for this value (`"type": "Period"` in skills.json), so that a
    /// prompt refuses what the tool it leads to would refuse.
    pub schema: Option<Value>,
}

#[derive(Debug)]
pub struct Prompt {
    pub name: String,
    pub title: String,
    pub description: String,
    pub arguments: Vec<PromptArg>,
    pub template: String,
}

/// A named group of tools (`toolsets` in tools.json).
#[derive(Debug)]
pub struct Toolset {
    pub name: String,
    pub description: String,
}

#[derive(Debug)]
pub struct Catalog {
    pub toolsets: Vec<Toolset>,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub instructions: String,
}

/// The catalog, parsed on first use (start-up stays free of it).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| load(include_str!("tools.json"), include_str!("skills.json")))
}

/// The server instructions alone, from `skills.json` only: `initialize` and
/// `server/discover` need nothing else, so a process that only starts up and says
/// who it is never parses the tool catalog.
pub fn instructions() -> &'static str {
    static INSTRUCTIONS: OnceLock<String> = OnceLock::new();
    INSTRUCTIONS.get_or_init(|| {
        let skills: Value =
            serde_json::from_str(include_str!("skills.json")).expect("skills.json is valid JSON");
        lines(&skills["instructions"])
    })
}

impl Catalog {
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn prompt(&self, name: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|p| p.name == name)
    }
}

impl Tool {
    pub fn is_mutation(&self) -> bool {
        self.kind == Kind::Mutation
    }

    /// Every problem with these arguments, schema first, then the cross-field rules.
    pub fn check_arguments(&self, args: &Value) -> Vec<String> {
        let mut errors = schema::validate(&self.input, args);
        if !errors.is_empty() {
            return errors;
        }
        for rule in &self.rules {
            match rule {
                Rule::AnyOf(names) => {
                    if !names.iter().any(|n| args.get(n).is_some()) {
                        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                        errors.push(format!("give at least one of {}", list.join(" or ")));
                    }
                }
                Rule::AtLeast(big, small) => {
                    let (Some(b), Some(s)) = (
                        args.get(big).and_then(Value::as_f64),
                        args.get(small).and_then(Value::as_f64),
                    ) else {
                        continue;
                    };
                    if b < s {
                        errors.push(format!(
                            "`{big}` ({}) must be at least `{small}` ({})",
                            args[big], args[small]
                        ));
                    }
                }
            }
        }
        errors
    }
}

impl Prompt {
    /// Fill the template. Argument values are strings (MCP says so); unknown or
    /// missing required arguments are the caller's mistake.
    pub fn render(&self, args: &Map<String, Value>) -> Result<String, String> {
        for (key, value) in args {
            if !self.arguments.iter().any(|a| &a.name == key) {
                let known: Vec<&str> = self.arguments.iter().map(|a| a.name.as_str()).collect();
                return Err(format!(
                    "prompt `{}` has no argument `{key}` (it takes: {})",
                    self.name,
                    known.join(", ")
                ));
            }
            if !value.is_string() {
                return Err(format!("prompt argument `{key}` must be a string"));
            }
        }
        let value_of = |name: &str| {
            args.get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        for a in self.arguments.iter().filter(|a| a.required) {
            if value_of(&a.name).is_none() {
                return Err(format!(
                    "prompt `{}` needs the argument `{}`: {}",
                    self.name, a.name, a.description
                ));
            }
        }
        for a in &self.arguments {
            let (Some(schema), Some(value)) = (&a.schema, value_of(&a.name)) else {
                continue;
            };
            let wrapper = json!({"type": "object", "properties": {a.name.as_str(): schema}});
            let problems = schema::validate(&wrapper, &json!({a.name.as_str(): value}));
            if !problems.is_empty() {
                return Err(format!("prompt `{}`: {}", self.name, problems.join("; ")));
            }
        }
        Ok(self.fill(|name, default| value_of(name).unwrap_or(default).to_string()))
    }

    /// The template with each `{{name|default}}` replaced by `value(name, default)`:
    /// the prompt puts in the user's values, the skill file says where they go.
    pub fn fill(&self, value: impl Fn(&str, &str) -> String) -> String {
        let mut out = String::with_capacity(self.template.len() + 64);
        let mut rest = self.template.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .expect("template placeholders are closed")
                + start;
            let inner = &rest[start + 2..end];
            let (name, default) = inner.split_once('|').unwrap_or((inner, ""));
            out.push_str(&value(name, default));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn load(tools_src: &str, skills_src: &str) -> Catalog {
    let tools_doc: Value = serde_json::from_str(tools_src).expect("tools.json is valid JSON");
    let types = tools_doc["types"].as_object().expect("tools.json has types");
    let toolsets: Vec<Toolset> = tools_doc["toolsets"]
        .as_object()
        .expect("tools.json has toolsets")
        .iter()
        .map(|(name, d)| Toolset {
            name: name.clone(),
            description: d.as_str().expect("a toolset description").to_string(),
        })
        .collect();
    let tools: Vec<Tool> = tools_doc["tools"]
        .as_array()
        .expect("tools.json has tools")
        .iter()
        .map(|t| load_tool(t, types))
        .collect();
    for t in &tools {
        assert!(
            toolsets.iter().any(|s| s.name == t.toolset),
            "tool {} names an undeclared toolset {}",
            t.name,
            t.toolset
        );
    }
    let skills: Value = serde_json::from_str(skills_src).expect("skills.json is valid JSON");
    let prompts = skills["prompts"]
        .as_array()
        .expect("skills.json has prompts")
        .iter()
        .map(|p| load_prompt(p, types))
        .collect();
    Catalog {
        toolsets,
        tools,
        prompts,
        instructions: lines(&skills["instructions"]),
    }
}

fn load_tool(t: &Value, types: &Map<String, Value>) -> Tool {
    let text = |k: &str| {
        t[k].as_str()
            .unwrap_or_else(|| panic!("tool field {k}"))
            .to_string()
    };
    let input = expand(&t["input"], types);
    let rules = t["rules"]
        .as_array()
        .map(|rs| rs.iter().map(load_rule).collect())
        .unwrap_or_default();
    Tool {
        name: text("name"),
        toolset: text("toolset"),
        procedure: text("procedure"),
        kind: match t["kind"].as_str() {
            Some("query") => Kind::Query,
            Some("mutation") => Kind::Mutation,
            other => panic!("tool kind {other:?}"),
        },
        title: text("title"),
        description: text("description"),
        input_public: strip_private(&input),
        input,
        output: strip_private(&expand(&t["output"], types)),
        destructive: t["annotations"]["destructiveHint"].as_bool().unwrap_or(false),
        idempotent: t["annotations"]["idempotentHint"].as_bool().unwrap_or(false),
        rules,
    }
}

fn load_rule(r: &Value) -> Rule {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("rule lists argument names")
            .iter()
            .map(|n| n.as_str().expect("argument name").to_string())
            .collect()
    };
    if let Some(v) = r.get("anyOf") {
        Rule::AnyOf(names(v))
    } else if let Some(v) = r.get("atLeast") {
        let n = names(v);
        Rule::AtLeast(n[0].clone(), n[1].clone())
    } else {
        panic!("unknown rule {r}")
    }
}

fn load_prompt(p: &Value, types: &Map<String, Value>) -> Prompt {
    let text = |v: &Value, k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("prompt field {k}"))
            .to_string()
    };
    Prompt {
        name: text(p, "name"),
        title: text(p, "title"),
        description: text(p, "description"),
        arguments: p["arguments"]
            .as_array()
            .expect("prompt arguments")
            .iter()
            .map(|a| PromptArg {
                name: text(a, "name"),
                title: text(a, "title"),
                description: text(a, "description"),
                required: a["required"].as_bool().unwrap_or(false),
                schema: a["type"]
                    .as_str()
                    .map(|name| expand(&json!({"$type": name}), types)),
            })
            .collect(),
        template: lines(&p["template"]),
    }
}

fn lines(v: &Value) -> String {
    let parts: Vec<&str> = v
        .as_array()
        .expect("an array of lines")
        .iter()
        .map(|l| l.as_str().expect("a line"))
        .collect();
    parts.join("\n")
}

/// Replace `{"$type": "Name", ...}` by the named type (siblings override its keys)
/// and `{"$list": "Name"}` by a page of that type. Clients reject `$ref`, so the
/// schemas they see are fully inlined.
fn expand(v: &Value, types: &Map<String, Value>) -> Value {
    match v {
        Value::Object(obj) => {
            if let Some(name) = obj.get("$type").and_then(Value::as_str) {
                let base = types.get(name).unwrap_or_else(|| panic!("unknown type {name}"));
                let mut out = match expand(base, types) {
                    Value::Object(m) => m,
                    _ => panic!("type {name} is not an object"),
                };
                for (k, val) in obj.iter().filter(|(k, _)| *k != "$type") {
                    out.insert(k.clone(), expand(val, types));
                }
                return Value::Object(out);
            }
            if let Some(name) = obj.get("$list").and_then(Value::as_str) {
                let page = json!({
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$type": name}},
                        "nextCursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last page."},
                        "total": {"type": ["integer", "null"], "description": "How many records match in all."}
                    },
                    "required": ["items"]
                });
                return expand(&page, types);
            }
            Value::Object(
                obj.iter()
                    .map(|(k, val)| (k.clone(), expand(val, types)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| expand(i, types)).collect()),
        other => other.clone(),
    }
}

/// Remove our `x-` keys (validator hints) from what clients see.
fn strip_private(v: &Value) -> Value {
    match v {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .filter(|(k, _)| !k.starts_with("x-"))
                .map(|(k, val)| (k.clone(), strip_private(val)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_private).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::pattern::Pattern;

    fn walk(v: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
        match v {
            Value::Object(m) => {
                f(m);
                m.values().for_each(|x| walk(x, f));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
            _ => {}
        }
    }

    #[test]
    fn every_tool_is_well_formed() {
        let c = catalog();
        assert_eq!(c.tools.len(), 14);
        let name_rule = Pattern::new("^[a-zA-Z0-9_-]{1,64}$").unwrap();
        for t in &c.tools {
            assert!(name_rule.is_match(&t.name), "{}", t.name);
            for schema in [&t.input_public, &t.output] {
                assert_eq!(schema["type"], "object", "{}", t.name);
                assert!(schema["properties"].is_object(), "{}", t.name);
                walk(schema, &mut |m| {
                    assert!(
                        !m.keys().any(|k| k.starts_with('$') || k.starts_with("x-")),
                        "{}: {m:?}",
                        t.name
                    );
                });
            }
            assert_eq!(t.input["additionalProperties"], false, "{}", t.name);
            walk(&t.input, &mut |m| {
                if let Some(p) = m.get("pattern").and_then(Value::as_str) {
                    Pattern::new(p).unwrap_or_else(|e| panic!("{}: {e}", t.name));
                }
            });
            for rule in &t.rules {
                let names = match rule {
                    Rule::AnyOf(n) => n.clone(),
                    Rule::AtLeast(a, b) => vec![a.clone(), b.clone()],
                };
                for n in names {
                    assert!(
                        t.input["properties"].get(&n).is_some(),
                        "{}: rule names {n}",
                        t.name
                    );
                }
            }
        }
    }

    #[test]
    fn rules_are_enforced() {
        let c = catalog();
        let log = c.tool("log_activity").unwrap();
        assert_eq!(
            log.check_arguments(&json!({"type": "call", "subject": "x"})),
            vec!["give at least one of `dealId` or `accountId`"]
        );
        assert!(
            log.check_arguments(&json!({"type": "call", "subject": "x", "accountId": "a"}))
                .is_empty()
        );
        let f = c.tool("submit_forecast").unwrap();
        assert_eq!(
            f.check_arguments(&json!({"period": "2026-Q3", "commit": 200, "bestCase": 100})),
            vec!["`bestCase` (100) must be at least `commit` (200)"]
        );
        assert_eq!(
            f.check_arguments(&json!({"period": "Q3", "commit": 1, "bestCase": 2})),
            vec![
                "`period` must be current_quarter, next_quarter, previous_quarter, current_month or a fiscal quarter like 2026-Q3, got \"Q3\""
            ]
        );
    }

    #[test]
    fn the_instructions_alone_are_the_catalogs() {
        assert_eq!(instructions(), catalog().instructions);
    }

    #[test]
    fn prompts_render_with_defaults_and_reject_bad_arguments() {
        let c = catalog();
        assert_eq!(c.prompts.len(), 4);
        let p = c.prompt("pipeline_review").unwrap();
        let text = p.render(&Map::new()).unwrap();
        assert!(
            text.starts_with("Run a pipeline review for current_quarter, scope: everyone I can see."),
            "{text}"
        );
        assert!(!text.contains("{{"));
        let mut args = Map::new();
        args.insert("period".into(), json!("2026-Q4"));
        assert!(p.render(&args).unwrap().contains("for 2026-Q4,"));
        args.insert("bogus".into(), json!("x"));
        assert!(p.render(&args).is_err());
        let d = c.prompt("deal_risk_review").unwrap();
        assert!(
            d.render(&Map::new())
                .unwrap_err()
                .contains("needs the argument `deal`")
        );
        let mut bad = Map::new();
        bad.insert("deal".into(), json!(5));
        assert!(d.render(&bad).is_err());
    }

    #[test]
    fn prompt_arguments_follow_the_tools_rules() {
        let c = catalog();
        let tool_rule = c
            .tool("get_forecast")
            .unwrap()
            .check_arguments(&json!({"period": "garbage"}));
        for name in ["pipeline_review", "forecast_call_prep"] {
            let mut args = Map::new();
            args.insert("period".into(), json!("garbage"));
            let err = c.prompt(name).unwrap().render(&args).unwrap_err();
            assert_eq!(err, format!("prompt `{name}`: {}", tool_rule[0]));
            args.insert("period".into(), json!("2026-Q3"));
            assert!(c.prompt(name).unwrap().render(&args).is_ok());
        }
    }
}
