//! HTTP transport: one agent with timeouts, bounded bodies, proxies and extra root CAs.

pub mod http;
pub mod page;
pub mod proxy;
