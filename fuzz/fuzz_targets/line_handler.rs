//! Any bytes as one stdin line: the server must not panic (not even a caught panic,
//! which it answers with -32603), and everything it sends must be JSON-RPC.
#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use loopops_mcp::mcp::framing::Frame;
use loopops_mcp::mcp::server::{Options, Server, Sink};
use serde_json::Value;

struct Check;

impl Sink for Check {
    fn send(&mut self, message: &Value) -> io::Result<()> {
        let items = match message {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for m in items {
            assert_eq!(m["jsonrpc"], "2.0");
            assert_ne!(m["error"]["code"], -32603, "a handler panicked: {m}");
        }
        assert!(!serde_json::to_string(message).unwrap().contains('\n'));
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    // Several lines per input exercise state (initialize, then batches, ...).
    let mut server = Server::new(Options {
        read_only: false,
        toolsets: None,
        server_name: "loop-operations".into(),
        config: Some("/nonexistent/loopops-fuzz/mcp.json".into()),
        confirm: loopops_mcp::mcp::confirm::Asker::Client,
    });
    for line in data.split(|&b| b == b'\n') {
        let _ = server.handle_frame(Frame::Line(line.to_vec()), &mut Check);
    }
});
