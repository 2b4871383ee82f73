//! `loopops-mcp call` and write confirmations: on a terminal it asks, like the MCP
//! client would; without one, an overwriting write needs `--yes`, so that a script
//! states its intent instead of writing silently or hanging on a question.

use std::io::{self, BufRead, IsTerminal, Write};

use crate::catalog::Tool;
use crate::mcp::confirm::{self, Asker, Choice};

/// How `call` confirms this tool, or why it cannot run as asked.
pub fn asker_for_call(tool: &Tool, yes: bool) -> Result<Asker, String> {
    let enabled = confirm::enabled_by(std::env::var(confirm::ENV).ok().as_deref());
    if yes || !enabled || !confirm::needed(tool) {
        return Ok(Asker::Off);
    }
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        return Ok(Asker::Prompt(Box::new(ask_on_terminal)));
    }
    Err(format!(
        "{} changes a record others rely on, so it asks for confirmation first, and there is no terminal to ask on; pass --yes to confirm in advance (or set {}=0)",
        tool.name,
        confirm::ENV
    ))
}

/// The asker for `serve`: the MCP client, unless turned off.
pub fn asker_for_serve() -> Asker {
    if confirm::enabled_by(std::env::var(confirm::ENV).ok().as_deref()) {
        Asker::Client
    } else {
        Asker::Off
    }
}

fn ask_on_terminal(question: &str) -> Choice {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            let _ = writeln!(err);
            Choice::Cancel
        }
        Ok(_) => answer_of(&line),
    }
}

fn answer_of(line: &str) -> Choice {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Choice::Accept,
        _ => Choice::Decline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_accepts() {
        assert_eq!(answer_of("y\n"), Choice::Accept);
        assert_eq!(answer_of(" YES \r\n"), Choice::Accept);
        for no in ["\n", "n\n", "no", "sure", "yy"] {
            assert_eq!(answer_of(no), Choice::Decline, "{no:?}");
        }
    }
}
