//! HTTP transport: one agent with timeouts, bounded bodies, proxies and extra root CAs.

pub mod http;
mod lean;
pub mod page;
pub mod proxy;
