//! Any JSON as a tool's arguments, for every tool: the validator must not panic,
//! and a non-object is always rejected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(args) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for tool in &loopops_mcp::catalog::catalog().tools {
        let errors = tool.check_arguments(&args);
        assert!(args.is_object() || !errors.is_empty());
    }
});
