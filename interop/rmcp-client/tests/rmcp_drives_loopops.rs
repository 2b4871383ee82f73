//! A real third-party client: the Rust MCP SDK's client (rmcp 3.11.0, `Auto`
//! lifecycle preferring 2026-07-28) drives the real `loopops-mcp` binary over stdio
//! against the hermetic fake Loop API: discover, list, call, prompt, completion,
//! skills, and confirmations (declined and accepted) in both eras.
//!
//! The binary comes from `LOOPOPS_MCP_BIN`, else `target/debug/loopops-mcp` of this
//! workspace (`.ci/run` builds it first). Every test bounds its own time.

#[path = "../../../tests/support/config_doc.rs"]
mod config_doc;
#[path = "../../../tests/support/fake.rs"]
mod fake;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, GetPromptRequestParams, Implementation, ProtocolVersion,
    ReadResourceRequestParams,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};

use fake::Fake;

const LIMIT: Duration = Duration::from_secs(120);

/// The binary under test.
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LOOPOPS_MCP_BIN") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target
        .join("debug")
        .join(format!("loopops-mcp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build` at the workspace root first, or set LOOPOPS_MCP_BIN",
        bin.display()
    );
    bin
}

/// What the user does with a confirmation, and the questions the client was shown.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    capabilities: Value,
    asked: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn new(action: ElicitationAction) -> User {
        User {
            action,
            capabilities: json!({
                "elicitation": {"form": {}},
                "extensions": {"io.modelcontextprotocol/skills": {}}
            }),
            asked: Arc::default(),
        }
    }

    fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let caps: ClientCapabilities = serde_json::from_value(self.capabilities.clone()).unwrap();
        ClientConfig::new(caps, Implementation::new("rmcp-interop", "1.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        let result = ElicitResult::new(self.action.clone());
        Ok(match self.action {
            ElicitationAction::Accept => result.with_content(json!({})),
            _ => result,
        })
    }
}

/// The fake API and a config whose entry points at it.
struct World {
    fake: Fake,
    dir: PathBuf,
}

impl World {
    fn new(tag: &str) -> World {
        let fake = Fake::start();
        let rt = fake.new_refresh_token();
        let dir = std::env::temp_dir().join(format!("loopops-rmcp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = config_doc::sample_config(
            &binary().display().to_string(),
            &fake.api_url(),
            &fake.custom_issuer(),
            Fake::CLIENT_ID,
            &rt,
        );
        std::fs::write(dir.join("mcp.json"), text).unwrap();
        World { fake, dir }
    }

    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(binary());
        cmd.arg("serve").env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("HOME", self.dir.join("home"));
        cmd.env("LOOP_MCP_CONFIG", self.dir.join("mcp.json"));
        cmd
    }

    async fn connect(&self, user: User, lifecycle: ClientLifecycleMode) -> RunningService<RoleClient, User> {
        let transport = TokioChildProcess::new(self.command()).expect("spawn loopops-mcp");
        user.serve_with_lifecycle(transport, lifecycle)
            .await
            .expect("the client starts a session")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn auto() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

fn bounded<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(LIMIT, f).await.expect("bounded by LIMIT") })
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn text_of(result: &rmcp::model::CallToolResult) -> String {
    let v = serde_json::to_value(result).unwrap();
    v["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

#[test]
fn auto_lifecycle_discovers_2026_07_28_and_serves_every_feature() {
    let world = World::new("modern");
    bounded(async {
        let client = world.connect(User::new(ElicitationAction::Decline), auto()).await;
        // Discover: the modern era was chosen, not the legacy fallback.
        let info = client.peer_info().expect("server info");
        assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
        assert_eq!(
            info.server_info.as_ref().map(|i| i.name.as_str()),
            Some("loopops-mcp")
        );

        // List.
        let tools = client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names.len(), 14, "{names:?}");
        assert!(names.contains(&"update_deal_stage") && names.contains(&"whoami"));
        let prompts = client.list_all_prompts().await.expect("prompts/list");
        assert!(prompts.iter().any(|p| p.name == "pipeline_review"));

        // Call, against the fake API.
        let r = client
            .call_tool(
                CallToolRequestParams::new("get_deal").with_arguments(args(json!({"dealId": "deal_002"}))),
            )
            .await
            .expect("tools/call");
        assert_ne!(r.is_error, Some(true), "{r:?}");
        let deal = r.structured_content.clone().expect("structuredContent");
        assert_eq!(deal["id"], "deal_002");

        // Prompt.
        let p = client
            .get_prompt(
                GetPromptRequestParams::new("pipeline_review")
                    .with_arguments(args(json!({"period": "2026-Q3"}))),
            )
            .await
            .expect("prompts/get");
        let text = serde_json::to_value(&p.messages[0]).unwrap()["content"]["text"].clone();
        assert!(text.as_str().unwrap().contains("2026-Q3"), "{text}");

        // Completion.
        let values = client
            .complete_prompt_simple("pipeline_review", "period", "cur")
            .await
            .expect("completion/complete");
        assert!(values.iter().any(|v| v == "current_quarter"), "{values:?}");

        // Skills: the extension, and the same files as resources.
        let skills = client.list_all_skills().await.expect("skills/list");
        let uris: Vec<&str> = skills.iter().map(|s| s.uri.as_str()).collect();
        assert!(uris.iter().any(|u| u.starts_with("skill://loopops/")), "{uris:?}");
        let resources = client.list_all_resources().await.expect("resources/list");
        let skill_md = resources
            .iter()
            .find(|r| r.uri.ends_with("/SKILL.md"))
            .expect("a SKILL.md resource")
            .uri
            .clone();
        let read = client
            .read_resource(ReadResourceRequestParams::new(skill_md))
            .await
            .expect("resources/read");
        let body = serde_json::to_value(&read).unwrap()["contents"][0]["text"].clone();
        assert!(body.as_str().unwrap().starts_with("---\nname: "), "{body}");

        client.cancel().await.expect("close");
    });
    assert!(world.fake.mutations().is_empty());
}

#[test]
fn modern_a_declined_confirmation_writes_nothing_and_an_accepted_one_writes() {
    let world = World::new("modern-confirm");
    bounded(async {
        let user = User::new(ElicitationAction::Decline);
        let client = world.connect(user.clone(), auto()).await;
        assert_eq!(
            client.peer_info().unwrap().protocol_version,
            ProtocolVersion::V_2026_07_28
        );
        let change = args(json!({"dealId": "deal_002", "stage": "closed_won"}));
        // rmcp answers the input_required round through create_elicitation and retries.
        let r = client
            .call_tool(CallToolRequestParams::new("update_deal_stage").with_arguments(change.clone()))
            .await
            .expect("tools/call");
        assert_eq!(r.is_error, Some(true), "{r:?}");
        assert!(text_of(&r).starts_with("The user declined"), "{}", text_of(&r));
        let asked = user.questions();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(
            asked[0].starts_with("Move *") && asked[0].ends_with(" to Closed Won?"),
            "{asked:?}"
        );
        client.cancel().await.expect("close");
    });
    assert!(world.fake.mutations().is_empty(), "a declined write was sent");
    bounded(async {
        let client = world.connect(User::new(ElicitationAction::Accept), auto()).await;
        let change = args(json!({"dealId": "deal_002", "stage": "closed_won"}));
        let r = client
            .call_tool(CallToolRequestParams::new("update_deal_stage").with_arguments(change))
            .await
            .expect("tools/call");
        assert_ne!(r.is_error, Some(true), "{r:?}");
        assert_eq!(r.structured_content.unwrap()["stage"], "closed_won");
        client.cancel().await.expect("close");
    });
    assert_eq!(world.fake.mutations().len(), 1);
}

#[test]
fn legacy_session_a_declined_confirmation_mid_call_writes_nothing() {
    let world = World::new("legacy-confirm");
    bounded(async {
        let user = User::new(ElicitationAction::Decline);
        let client = world.connect(user.clone(), ClientLifecycleMode::Initialize).await;
        assert_eq!(
            client.peer_info().unwrap().protocol_version,
            ProtocolVersion::V_2025_11_25
        );
        let forecast = args(json!({"period": "current_quarter", "commit": 100000, "bestCase": 150000}));
        // The server sends elicitation/create while the call runs; rmcp answers it.
        let r = client
            .call_tool(CallToolRequestParams::new("submit_forecast").with_arguments(forecast))
            .await
            .expect("tools/call");
        assert_eq!(r.is_error, Some(true), "{r:?}");
        assert!(text_of(&r).starts_with("The user declined"), "{}", text_of(&r));
        let asked = user.questions();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(
            asked[0].contains("commit 100,000, best case 150,000"),
            "{asked:?}"
        );
        // The session goes on.
        let me = client
            .call_tool(CallToolRequestParams::new("whoami"))
            .await
            .expect("tools/call");
        assert_ne!(me.is_error, Some(true), "{me:?}");
        client.cancel().await.expect("close");
    });
    assert!(world.fake.mutations().is_empty(), "a declined write was sent");
}
