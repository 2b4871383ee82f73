//! loopops-mcp: the Loop Operations MCP server, one static binary.

mod auth;
mod catalog;
mod cli;
mod config_file;
mod error;
mod framing;
mod http;
mod jsonrpc;
mod log;
mod okta;
mod pattern;
mod protocol;
mod schema;
mod secret;
mod server;
mod settings;
mod signals;
mod tools;
mod trpc;

fn main() {
    log::init_from_env();
    // Panic text goes to stderr only, scrubbed like every other message.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "loopops-mcp: internal error: {}",
            secret::scrub(&info.to_string())
        );
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cli::run(args));
}
