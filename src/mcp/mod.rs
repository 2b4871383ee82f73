//! The MCP layer: lines in, JSON-RPC messages, protocol versions, dispatch to tools and
//! prompts, answers out.

pub mod completion;
pub mod confirm;
pub mod era;
pub mod framing;
pub mod jsonrpc;
pub mod limits;
pub mod listing;
pub mod mrtr;
pub mod protocol;
pub mod resources;
pub mod roundtrip;
pub mod server;
pub mod sign_in;
