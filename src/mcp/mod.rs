//! The MCP layer: lines in, JSON-RPC messages, protocol versions, dispatch to tools and
//! prompts, answers out.

pub mod framing;
pub mod jsonrpc;
pub mod listing;
pub mod protocol;
pub mod server;
