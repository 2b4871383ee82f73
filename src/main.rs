//! loopops-mcp: the Loop Operations MCP server, one static binary.

use loopops_mcp::{cli, log, secret};

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
