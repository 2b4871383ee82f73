//! loopops-mcp as a library: the binary is `src/main.rs`; tests, benchmarks and the
//! fuzz targets use these modules directly.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config_file;
pub mod error;
pub mod framing;
pub mod http;
pub mod jsonrpc;
pub mod log;
pub mod okta;
pub mod pattern;
pub mod protocol;
pub mod proxy;
pub mod schema;
pub mod secret;
pub mod server;
pub mod settings;
pub mod signals;
pub mod signin;
pub mod status;
pub mod tools;
pub mod trpc;
