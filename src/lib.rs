//! loopops-mcp as a library: the binary is `src/main.rs`; tests, benchmarks and the
//! fuzz targets use these modules directly.
//!
//! Layers, top to bottom (an import never runs upward): `cli` over `mcp` (framing,
//! JSON-RPC, versions, dispatch) over `api` (tRPC client, tool execution) over `auth`
//! (Okta, token store, settings) over `net` (HTTP, proxies). Beside them, used by all:
//! `catalog` (tools, skills, schema validator) and the shared `error`, `secret`, `log`
//! and `signals` modules.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod log;
pub mod mcp;
pub mod net;
pub mod secret;
pub mod sha256;
pub mod signals;
// Shared with the integration tests (tests/support), which use all of it.
#[cfg(test)]
#[allow(dead_code)]
mod test_dir;
