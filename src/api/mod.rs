//! The Loop API layer: the tRPC client and the execution of one tool call.

pub mod bound;
pub mod compact;
pub mod tools;
pub mod trpc;
