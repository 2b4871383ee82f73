//! The line handler in-process under tens of thousands of random and broken
//! messages (fixed seed): never a panic (not even a caught one), every request
//! answered exactly once with valid JSON-RPC, and every answer a JSON-RPC message.
//! The binary-level version is `tests/stdio.rs`; `fuzz/` runs the same for longer.

mod support;

use std::collections::HashMap;
use std::io;

use loopops_mcp::mcp::framing::Frame;
use loopops_mcp::mcp::server::{Options, Server, Sink};
use serde_json::Value;
use support::random;

struct Collect(Vec<Value>);

impl Sink for Collect {
    fn send(&mut self, message: &Value) -> io::Result<()> {
        // Every message must survive the wire format: one line of JSON.
        let text = serde_json::to_string(message).unwrap();
        assert!(!text.contains('\n'));
        self.0.push(message.clone());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn forty_thousand_random_messages() {
    for var in ["API_URL", "OKTA_ISSUER", "OKTA_CLIENT_ID", "OKTA_REFRESH_TOKEN"] {
        assert!(
            std::env::var_os(var).is_none(),
            "unset {var} to keep this test offline"
        );
    }
    let mut server = Server::new(Options {
        read_only: false,
        toolsets: None,
        server_name: "loop-operations".into(),
        config: Some("/nonexistent/loopops-randomized/mcp.json".into()),
        confirm: loopops_mcp::mcp::confirm::Asker::Client,
    });
    let mut rng = random::Rng(0x0dd_ba11_5eed);
    let mut out = Collect(Vec::new());
    let mut expected = Vec::new();
    for n in 0..40_000u64 {
        let (line, id) = random::line(&mut rng, n);
        server.handle_frame(Frame::Line(line), &mut out).unwrap();
        expected.extend(id);
    }
    let mut seen = HashMap::new();
    for m in &out.0 {
        match m {
            Value::Array(items) => items.iter().for_each(|i| random::check_message(i, &mut seen)),
            other => random::check_message(other, &mut seen),
        }
    }
    for id in &expected {
        assert_eq!(seen.get(id), Some(&1), "request {id}");
    }
    assert!(expected.len() > 15_000);
}

#[test]
fn the_validator_never_panics_on_random_arguments() {
    let mut rng = random::Rng(0xfeed_f00d);
    let catalog = loopops_mcp::catalog::catalog();
    for _ in 0..30_000 {
        let tool = rng.pick(&catalog.tools);
        let args = random::value(&mut rng, 0);
        let errors = tool.check_arguments(&args);
        if !args.is_object() {
            assert!(!errors.is_empty());
        }
    }
}
