//! The skills as resources, for every client: `resources/list` and `resources/read`
//! of `skill://loopops/<name>/SKILL.md`; and the Skills extension's `skills/list` and
//! `skills/get` (with `sha256:` digests) for a client that declares the extension.
//! Everything here is built once per process from the catalog.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::catalog::catalog;
use crate::catalog::skill_file::{self, SkillFile};
use crate::mcp::era::{self, Envelope};
use crate::mcp::jsonrpc::{self, RpcError};
use crate::mcp::listing::{self, Prebuilt, SKILLS_EXTENSION};
use crate::mcp::protocol::Version;
use crate::sha256;

const MIME: &str = "text/markdown";

/// Legacy revisions' "resource not found" (2026-07-28 uses -32602).
const RESOURCE_NOT_FOUND: i64 = -32002;

struct Served {
    file: SkillFile,
    digest: String,
}

fn served() -> &'static [Served] {
    static SERVED: OnceLock<Vec<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        catalog()
            .prompts
            .iter()
            .map(|p| {
                let file = skill_file::render(p);
                let digest = format!("sha256:{}", sha256::hex(&sha256::sha256(file.text.as_bytes())));
                Served { file, digest }
            })
            .collect()
    })
}

fn find(uri: &str) -> Option<&'static Served> {
    served().iter().find(|s| s.file.uri == uri)
}

/// `resources/list`: one `SKILL.md` per skill, with the fields the version has.
pub fn list(env: &Envelope) -> &'static Prebuilt {
    static LISTS: OnceLock<Vec<Prebuilt>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        Version::ALL
            .into_iter()
            .map(|v| {
                let resources: Vec<Value> = served()
                    .iter()
                    .map(|s| {
                        let mut r = Map::new();
                        r.insert("uri".into(), json!(s.file.uri));
                        r.insert("name".into(), json!(s.file.name));
                        if v.has_titles_and_structured_output() {
                            r.insert("title".into(), json!(s.file.title));
                        }
                        r.insert("description".into(), s.file.frontmatter["description"].clone());
                        r.insert("mimeType".into(), json!(MIME));
                        r.insert("size".into(), json!(s.file.text.len()));
                        Value::Object(r)
                    })
                    .collect();
                Prebuilt::new(listing::finish_list(v, json!({ "resources": resources })))
            })
            .collect()
    });
    &lists[env.version.index()]
}

/// `resources/read {uri}`.
pub fn read(env: &Envelope, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let uri = uri_param(params)?;
    let Some(s) = find(uri) else {
        let code = if env.modern() {
            jsonrpc::INVALID_PARAMS
        } else {
            RESOURCE_NOT_FOUND
        };
        return Err(RpcError::with_data(
            code,
            "Resource not found",
            json!({"uri": uri}),
        ));
    };
    let mut m = Map::new();
    m.insert(
        "contents".into(),
        json!([{"uri": s.file.uri, "mimeType": MIME, "text": s.file.text}]),
    );
    if env.modern() {
        era::add_cache_hints(&mut m);
    }
    Ok(Value::Object(m))
}

/// `skills/list`: every skill, with the digest of each of its files (one: SKILL.md).
pub fn skills_list(env: &Envelope, params: &Map<String, Value>) -> Result<&'static Prebuilt, RpcError> {
    require_extension(env, "skills/list")?;
    listing::no_cursor(params)?;
    static LISTS: OnceLock<[Prebuilt; 2]> = OnceLock::new();
    let [legacy, modern] = LISTS.get_or_init(|| {
        [false, true].map(|modern| {
            let skills: Vec<Value> = served().iter().map(entry).collect();
            let mut m = Map::new();
            m.insert("skills".into(), Value::Array(skills));
            if modern {
                era::add_cache_hints(&mut m);
                era::mark_complete(&mut m);
            }
            Prebuilt::new(Value::Object(m))
        })
    });
    Ok(if env.modern() { modern } else { legacy })
}

/// `skills/get {uri}`: one skill's entry; `-32602` for a URI that is not a skill's.
pub fn skills_get(env: &Envelope, params: &Map<String, Value>) -> Result<Value, RpcError> {
    require_extension(env, "skills/get")?;
    let uri = uri_param(params)?;
    let s = find(uri).ok_or_else(|| {
        RpcError::with_data(
            jsonrpc::INVALID_PARAMS,
            format!("Not a skill this server serves: {uri}"),
            json!({"uri": uri}),
        )
    })?;
    Ok(json!({ "skill": entry(s) }))
}

fn entry(s: &Served) -> Value {
    json!({
        "uri": s.file.uri,
        "frontmatter": s.file.frontmatter,
        // `size` (bytes) is not in the SEP draft we follow, but the Rust SDK (rmcp 3.11)
        // requires it and rejects the whole listing without it; other clients ignore it.
        "resources": [{"uri": s.file.uri, "digest": s.digest, "size": s.file.text.len()}],
    })
}

/// The extension is a draft: only a client that declared it gets its methods. A
/// modern client learns which capability it lacks (`-32021`); a legacy session was
/// never told the methods exist (`-32601`).
fn require_extension(env: &Envelope, method: &str) -> Result<(), RpcError> {
    if env.has_extension(SKILLS_EXTENSION) {
        return Ok(());
    }
    if env.modern() {
        Err(era::missing_capability(
            &format!("extensions.{SKILLS_EXTENSION} (for {method})"),
            json!({"extensions": { SKILLS_EXTENSION: {} }}),
        ))
    } else {
        Err(RpcError::new(
            jsonrpc::METHOD_NOT_FOUND,
            format!(
                "Method not found: {method} (declare the {SKILLS_EXTENSION} extension in initialize to use it)"
            ),
        ))
    }
}

fn uri_param(params: &Map<String, Value>) -> Result<&str, RpcError> {
    match params.get("uri") {
        Some(Value::String(u)) => Ok(u),
        Some(_) => Err(RpcError::invalid_params("`uri` must be a string")),
        None => Err(RpcError::invalid_params("missing `uri`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_of_the_bytes_served() {
        for s in served() {
            assert_eq!(
                s.digest,
                format!("sha256:{}", sha256::hex(&sha256::sha256(s.file.text.as_bytes())))
            );
            assert_eq!(s.digest.len(), "sha256:".len() + 64);
        }
        assert_eq!(served().len(), catalog().prompts.len());
    }
}
