//! The command line: `serve` (the default) and the one-shot commands around it.
//! Exit codes: 0 success, 1 the command ran and failed, 2 usage error.

pub mod browser;
pub mod clients;
pub mod confirm;
pub mod entry;
pub mod exe_path;
pub mod install;
pub mod login_ui;
pub mod offering;
pub mod okta_help;
pub mod signin;
pub mod status;
pub mod terminal;

use std::io::{self, BufReader, IsTerminal, Write};
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::auth::config_file::DEFAULT_SERVER_NAME;
use crate::catalog;
use crate::catalog::toolsets::Selection;
use crate::error::{self, Audience};
use crate::log;
use crate::mcp::framing::{self, LineReader};
use crate::mcp::jsonrpc;
use crate::mcp::server::{LineSink, Options, Server, Sink};
use crate::signals;
use signin::{LoginArgs, LogoutArgs, Outcome};
use status::StatusArgs;

const VERSION: &str = env!("CARGO_PKG_VERSION");

const USAGE: &str = "\
loopops-mcp: the Loop Operations MCP server

Usage: loopops-mcp [COMMAND] [OPTIONS]

Commands:
  serve              Run the MCP server on stdin/stdout (the default)
  install CLIENT     Add the server to claude-desktop, claude-code, cursor or vscode
  uninstall CLIENT   Remove it from that client's config
  login              Sign in with Okta and save the entry in the MCP config
  logout             Sign out: blank the saved sign-in in the config, revoke it at Okta
  status             Show the configuration; --check also signs in and calls whoami
  tools              List the tools
  call TOOL [JSON]   Call one tool with JSON arguments and print the result
  prompt [NAME K=V]  List the skills (MCP prompts), or print one rendered
  help [okta]        Print this help, or the Okta setup guide for IT

Run `loopops-mcp COMMAND --help` for a command's options.

Options:
  -h, --help         Print help (also after a command)
  -V, --version      Print the version

Exit codes: 0 success, 1 the command ran and failed, 2 usage error. Ctrl-C ends a
command at once (a shell reports 130); `serve` exits 0 on end of input, SIGTERM or Ctrl-C.

Settings come from the environment, else from the `loop-operations` entry of the
MCP config file (LOOP_MCP_CONFIG, else ~/.mcp.json). See README.md.";

const SERVE_USAGE: &str = "\
Run the MCP server: newline-delimited JSON-RPC on stdin, answers on stdout, logs on stderr.

Usage: loopops-mcp serve [--read-only] [--toolsets LIST] [--name NAME] [--config PATH]

Options:
  --read-only        Hide and refuse the four tools that change records (or LOOP_MCP_READ_ONLY=1)
  --toolsets LIST    Offer only these toolsets, comma-separated, or all (or LOOP_MCP_TOOLSETS);
                     `loopops-mcp tools` lists them
  --name NAME        The config entry to read under mcpServers (default: loop-operations)
  --config PATH      The MCP config file (default: LOOP_MCP_CONFIG, else ~/.mcp.json)";

const LOGIN_USAGE: &str = "\
Sign in with Okta: your browser opens Okta's page showing a code; check it and approve.
The sign-in is saved in the `loop-operations` entry of the MCP config (command, args
and the four variables), where every client you added with `install` finds it.
Values already in the entry are the defaults, so signing in again is just `loopops-mcp login`.

Usage: loopops-mcp login [--issuer URL] [--client-id ID] [--api-url URL] [--config PATH]
                         [--name NAME] [--read-only] [--toolsets LIST] [--no-browser] [--json]

Options:
  --issuer URL       Okta issuer: https://ORG/oauth2/default, or https://ORG for the org server
  --client-id ID     The Okta app's client id
  --api-url URL      The Loop API, e.g. https://app.loopops.example/api/trpc
  --config PATH      The MCP config file (default: LOOP_MCP_CONFIG, else ~/.mcp.json)
  --name NAME        The entry under mcpServers (default: loop-operations)
  --read-only        Record read-only mode in the entry (kept when signing in again)
  --toolsets LIST    Record the toolsets in the entry (all removes them)
  --no-browser       Do not open a browser; open the printed link yourself (also when
                     there is no display, or over SSH)
  --json             On stdout, one JSON line with the link, the code and its expiry,
                     then one with the result

Exit codes: 0 signed in, 1 sign-in failed (denied, expired, Okta error), 2 usage error.";

const INSTALL_USAGE: &str = "\
Add the server to an MCP client's own config: the client's entry gets this binary's
absolute path and the serve arguments; every other entry stays as it is. The entry
holds no token: the server reads the sign-in that `loopops-mcp login` saved.

Usage: loopops-mcp install CLIENT [--scope user|project] [--read-only] [--toolsets LIST]
                                  [--name NAME] [--config PATH] [--dry-run] [--json]

Clients: claude-desktop, claude-code, cursor, vscode

Options:
  --scope SCOPE      user (default: the user's config) or project (a file in the current
                     directory: .mcp.json, .cursor/mcp.json, .vscode/mcp.json)
  --read-only        The client gets no tool that changes records
  --toolsets LIST    The client gets only these toolsets, comma-separated
  --name NAME        The entry's name (default: loop-operations)
  --config PATH      The token store the server should use (default: LOOP_MCP_CONFIG,
                     else ~/.mcp.json); recorded in the args unless it is ~/.mcp.json
  --dry-run          Print what would be written, change nothing
  --json             Print the result as JSON";

const UNINSTALL_USAGE: &str = "\
Remove the server's entry from an MCP client's config; every other entry stays. The
sign-in is untouched (`loopops-mcp logout` signs out).

Usage: loopops-mcp uninstall CLIENT [--scope user|project] [--name NAME] [--dry-run] [--json]

Clients: claude-desktop, claude-code, cursor, vscode

Options:
  --scope SCOPE    user (default) or project
  --name NAME      The entry's name (default: loop-operations)
  --dry-run        Say what would be removed, change nothing
  --json           Print the result as JSON";

const LOGOUT_USAGE: &str = "\
Sign out: blank the saved refresh token in the config entry (a running server sees
the blank and stops using its own copy), then revoke the token at Okta. Works offline:
the token is blanked locally and the failed revocation is reported.

Usage: loopops-mcp logout [--config PATH] [--name NAME] [--json]

Options:
  --config PATH    The MCP config file (default: LOOP_MCP_CONFIG, else ~/.mcp.json)
  --name NAME      The entry under mcpServers (default: loop-operations)
  --json           Print the result as JSON";

const STATUS_USAGE: &str = "\
Show the configuration: config file, entry, API mode or what is missing, the Okta
issuer and its endpoints, the API URL, and where each setting comes from. Never
prints a token.

Usage: loopops-mcp status [--check] [--config PATH] [--name NAME] [--json]

Options:
  --check          Also sign in (saving a rotated token safely) and call whoami; exit 1
                   naming the failing step (settings, okta, api) if it does not work
  --config PATH    The MCP config file (default: LOOP_MCP_CONFIG, else ~/.mcp.json)
  --name NAME      The entry under mcpServers (default: loop-operations)
  --json           Print the status as JSON

Exit codes: 0 configured (and, with --check, working), 1 otherwise.";

const TOOLS_USAGE: &str = "\
List the tools `serve` offers with the same settings (LOOP_MCP_READ_ONLY,
LOOP_MCP_TOOLSETS or the options below), and the toolsets.

Usage: loopops-mcp tools [--read-only] [--toolsets LIST] [--json]

Options:
  --read-only        Leave out the tools that change records
  --toolsets LIST    Only these toolsets, comma-separated, or all
  --json             Print the tools/list result as JSON";

const CALL_USAGE: &str = "\
Call one tool through the same code path as `serve` and print its result.
Exit code 1 if the tool reports an error.

Usage: loopops-mcp call TOOL [JSON] [--yes] [--json] [--read-only] [--name NAME] [--config PATH]

Arguments:
  TOOL    A tool name (see `loopops-mcp tools`)
  JSON    The tool's arguments as a JSON object (default {}); `-` reads them from stdin

Options:
  --yes          Confirm in advance: update_deal_stage and submit_forecast ask on a
                 terminal before they write, and need --yes without one
  --json         Print the whole MCP result (content, structuredContent, isError)
  --read-only    Refuse tools that change records
  --name NAME    The config entry to read under mcpServers (default: loop-operations)
  --config PATH  The MCP config file (default: LOOP_MCP_CONFIG, else ~/.mcp.json)

Examples:
  loopops-mcp call whoami
  loopops-mcp call search_deals '{\"stages\": [\"negotiation\"], \"limit\": 5}'";

const PROMPT_USAGE: &str = "\
List the skills (MCP prompts), or print one rendered with its arguments. Arguments
are checked with the same rules as the tools they lead to.

Usage: loopops-mcp prompt [NAME [KEY=VALUE ...]]

Examples:
  loopops-mcp prompt
  loopops-mcp prompt pipeline_review period=2026-Q3";

pub fn run(args: Vec<String>) -> i32 {
    let mut args = args.into_iter();
    let Some(command) = args.next() else {
        return serve(ServeArgs::default());
    };
    let rest: Vec<String> = args.collect();
    // `serve` installs its own handler (exit 0); the others exit 128 + signal, but
    // never in the middle of saving a rotated token.
    signals::install(false);
    if command != "serve" && !command.starts_with('-') {
        error::set_audience(Audience::Terminal);
    }
    let result = match command.as_str() {
        "help" if rest.first().map(String::as_str) == Some("okta") => {
            let _ = writeln!(io::stdout().lock(), "{}", okta_help::text());
            return 0;
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return 0;
        }
        "-V" | "--version" => {
            println!("loopops-mcp {VERSION}");
            return 0;
        }
        "serve" => parse_serve(&rest).map(serve),
        "login" => parse_login(&rest).map(login),
        "logout" => parse_logout(&rest).map(logout),
        "install" => parse_install(&rest).map(|a| outcome(install::install(a), INSTALL_USAGE)),
        "uninstall" => parse_uninstall(&rest).map(|a| outcome(install::uninstall(a), UNINSTALL_USAGE)),
        "status" => parse_status(&rest).map(status::status),
        "tools" => parse_tools(&rest).map(tools),
        "call" => parse_call(&rest).map(call),
        "prompt" => parse_prompt(&rest).map(prompt),
        other if other.starts_with('-') => {
            parse_serve(&[command.clone()].into_iter().chain(rest).collect::<Vec<_>>()).map(serve)
        }
        other => Err(Usage::new(format!("unknown command '{other}'"), USAGE)),
    };
    match result {
        Ok(code) => code,
        Err(Usage { message, help: None }) => {
            println!("{message}");
            0
        }
        Err(Usage {
            message,
            help: Some(help),
        }) => {
            eprintln!("error: {message}\n\n{help}");
            2
        }
    }
}

/// A usage error (exit 2), or help that was asked for (`help: None`, exit 0).
struct Usage {
    message: String,
    help: Option<&'static str>,
}

impl Usage {
    fn new(message: String, help: &'static str) -> Usage {
        Usage {
            message,
            help: Some(help),
        }
    }

    fn help(help: &'static str) -> Usage {
        Usage {
            message: help.to_string(),
            help: None,
        }
    }
}

/// Split flags (with their values) from positional arguments.
struct Parsed {
    flags: Map<String, Value>,
    positional: Vec<String>,
}

fn parse(
    args: &[String],
    bool_flags: &[&str],
    value_flags: &[&str],
    help: &'static str,
) -> Result<Parsed, Usage> {
    let mut flags = Map::new();
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            return Err(Usage::help(help));
        }
        if a == "-" || !a.starts_with('-') {
            positional.push(a.clone());
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        if bool_flags.contains(&name) && inline.is_none() {
            flags.insert(name.into(), json!(true));
        } else if value_flags.contains(&name) {
            let v = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| Usage::new(format!("{name} needs a value"), help))?,
            };
            flags.insert(name.into(), json!(v));
        } else {
            return Err(Usage::new(format!("unknown option '{a}'"), help));
        }
    }
    Ok(Parsed { flags, positional })
}

impl Parsed {
    fn flag(&self, name: &str) -> bool {
        self.flags.get(name).is_some_and(|v| v == &json!(true))
    }

    fn value(&self, name: &str) -> Option<String> {
        self.flags.get(name).and_then(Value::as_str).map(str::to_string)
    }
}

#[derive(Default)]
struct ServeArgs {
    read_only: bool,
    toolsets: Option<String>,
    name: Option<String>,
    config: Option<PathBuf>,
}

fn no_positional(p: &Parsed, help: &'static str) -> Result<(), Usage> {
    match p.positional.first() {
        Some(extra) => Err(Usage::new(format!("unexpected argument '{extra}'"), help)),
        None => Ok(()),
    }
}

fn parse_serve(args: &[String]) -> Result<ServeArgs, Usage> {
    let p = parse(
        args,
        &["--read-only"],
        &["--toolsets", "--name", "--config"],
        SERVE_USAGE,
    )?;
    no_positional(&p, SERVE_USAGE)?;
    Ok(ServeArgs {
        read_only: p.flag("--read-only"),
        toolsets: p.value("--toolsets"),
        name: p.value("--name"),
        config: p.value("--config").map(PathBuf::from),
    })
}

fn server_name(p: &Parsed) -> String {
    p.value("--name")
        .unwrap_or_else(|| DEFAULT_SERVER_NAME.to_string())
}

fn parse_login(args: &[String]) -> Result<LoginArgs, Usage> {
    let p = parse(
        args,
        &["--json", "--read-only", "--no-browser"],
        &[
            "--issuer",
            "--client-id",
            "--api-url",
            "--config",
            "--name",
            "--toolsets",
        ],
        LOGIN_USAGE,
    )?;
    no_positional(&p, LOGIN_USAGE)?;
    Ok(LoginArgs {
        issuer: p.value("--issuer"),
        client_id: p.value("--client-id"),
        api_url: p.value("--api-url"),
        config: p.value("--config").map(PathBuf::from),
        name: server_name(&p),
        read_only: p.flag("--read-only"),
        toolsets: p.value("--toolsets"),
        no_browser: p.flag("--no-browser"),
        json: p.flag("--json"),
    })
}

fn login(args: LoginArgs) -> i32 {
    let as_json = args.json;
    let result = signin::login(args);
    // A script reading stdout learns of a failure there too (stderr says it in words).
    if let (true, Outcome::Failed(why)) = (as_json, &result) {
        let line = json!({"signedIn": false, "error": why});
        let _ = writeln!(io::stdout().lock(), "{}", terminal::clean_json(&line));
    }
    outcome(result, LOGIN_USAGE)
}

/// The CLIENT argument and `--scope` of install / uninstall.
fn client_and_scope(p: &Parsed, help: &'static str) -> Result<(clients::Client, clients::Scope), Usage> {
    let mut pos = p.positional.iter();
    let name = pos
        .next()
        .ok_or_else(|| Usage::new(format!("missing the client ({})", clients::CLIENT_NAMES), help))?;
    if let Some(extra) = pos.next() {
        return Err(Usage::new(format!("unexpected argument '{extra}'"), help));
    }
    let client = clients::Client::parse(name).ok_or_else(|| {
        Usage::new(
            format!(
                "unknown client '{name}'; the clients are: {}",
                clients::CLIENT_NAMES
            ),
            help,
        )
    })?;
    let scope = match p.value("--scope").as_deref() {
        None | Some("user") => clients::Scope::User,
        Some("project") => clients::Scope::Project,
        Some(other) => {
            return Err(Usage::new(
                format!("--scope must be user or project, not '{other}'"),
                help,
            ));
        }
    };
    Ok((client, scope))
}

fn parse_install(args: &[String]) -> Result<install::InstallArgs, Usage> {
    let p = parse(
        args,
        &["--read-only", "--dry-run", "--json"],
        &["--scope", "--toolsets", "--name", "--config"],
        INSTALL_USAGE,
    )?;
    let (client, scope) = client_and_scope(&p, INSTALL_USAGE)?;
    Ok(install::InstallArgs {
        client,
        scope,
        read_only: p.flag("--read-only"),
        toolsets: p.value("--toolsets"),
        name: server_name(&p),
        config: p.value("--config").map(PathBuf::from),
        dry_run: p.flag("--dry-run"),
        json: p.flag("--json"),
    })
}

fn parse_uninstall(args: &[String]) -> Result<install::UninstallArgs, Usage> {
    let p = parse(
        args,
        &["--dry-run", "--json"],
        &["--scope", "--name"],
        UNINSTALL_USAGE,
    )?;
    let (client, scope) = client_and_scope(&p, UNINSTALL_USAGE)?;
    Ok(install::UninstallArgs {
        client,
        scope,
        name: server_name(&p),
        dry_run: p.flag("--dry-run"),
        json: p.flag("--json"),
    })
}

fn parse_logout(args: &[String]) -> Result<LogoutArgs, Usage> {
    let p = parse(args, &["--json"], &["--config", "--name"], LOGOUT_USAGE)?;
    no_positional(&p, LOGOUT_USAGE)?;
    Ok(LogoutArgs {
        config: p.value("--config").map(PathBuf::from),
        name: server_name(&p),
        json: p.flag("--json"),
    })
}

fn logout(args: LogoutArgs) -> i32 {
    outcome(signin::logout(args), LOGOUT_USAGE)
}

fn outcome(o: Outcome, help: &str) -> i32 {
    match o {
        Outcome::Done => 0,
        Outcome::Failed(why) => {
            eprintln!("error: {}", terminal::clean(&why));
            1
        }
        Outcome::Usage(why) => {
            eprintln!("error: {why}\n\n{help}");
            2
        }
    }
}

fn parse_status(args: &[String]) -> Result<StatusArgs, Usage> {
    let p = parse(
        args,
        &["--check", "--json"],
        &["--config", "--name"],
        STATUS_USAGE,
    )?;
    no_positional(&p, STATUS_USAGE)?;
    Ok(StatusArgs {
        config: p.value("--config").map(PathBuf::from),
        name: server_name(&p),
        check: p.flag("--check"),
        json: p.flag("--json"),
    })
}

/// What `serve` would offer with these flags in this environment.
fn selection(read_only: bool, toolsets: Option<&str>) -> Result<Selection, String> {
    Selection::from_flags_and_env(read_only, toolsets, &|k| std::env::var(k).ok())
}

fn options(selection: Selection, name: Option<String>, config: Option<PathBuf>) -> Options {
    Options {
        read_only: selection.read_only,
        toolsets: selection.toolsets,
        server_name: name.unwrap_or_else(|| DEFAULT_SERVER_NAME.to_string()),
        config,
        confirm: confirm::asker_for_serve(),
    }
}

/// Said once on stderr when a person starts the server by hand.
const TERMINAL_HINT: &str = "loopops-mcp: this is the MCP server, waiting for JSON-RPC from an MCP client on stdin (Ctrl-D or Ctrl-C quits). To add it to a client: `loopops-mcp install CLIENT`; all commands: `loopops-mcp help`.";

fn serve(args: ServeArgs) -> i32 {
    signals::install(true);
    let selection = match selection(args.read_only, args.toolsets.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if io::stdin().is_terminal() {
        eprintln!("{TERMINAL_HINT}");
    }
    let mut server = Server::new(options(selection, args.name, args.config));
    let stdin = io::stdin().lock();
    let reader = LineReader::new(BufReader::with_capacity(64 * 1024, stdin), framing::MAX_LINE);
    // The server reads its input itself: mid-call, it waits for the client's answer.
    server.attach_input(Box::new(reader));
    // Unbuffered beyond one message: each answer is one write(2) as soon as it is
    // ready, so nothing is pending when SIGTERM ends the process at once.
    let mut out = LineSink::new(io::stdout().lock());
    loop {
        let frame = match server.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                log::log(log::Level::Error, &format!("reading stdin failed: {e}"));
                break;
            }
        };
        if server.handle_frame(frame, &mut out).is_err() {
            // stdout is gone (EPIPE): nobody is listening any more.
            return 0;
        }
    }
    // Open subscriptions get their graceful end; then everything is out.
    let _ = server.shutdown(&mut out);
    0
}

struct ToolsArgs {
    json: bool,
    selection: Selection,
}

fn parse_tools(args: &[String]) -> Result<ToolsArgs, Usage> {
    let p = parse(args, &["--json", "--read-only"], &["--toolsets"], TOOLS_USAGE)?;
    no_positional(&p, TOOLS_USAGE)?;
    let selection = selection(p.flag("--read-only"), p.value("--toolsets").as_deref())
        .map_err(|e| Usage::new(e, TOOLS_USAGE))?;
    Ok(ToolsArgs {
        json: p.flag("--json"),
        selection,
    })
}

fn tools(args: ToolsArgs) -> i32 {
    let mut stdout = io::stdout().lock();
    if args.json {
        let mut server = Server::new(options(args.selection, None, None));
        let answer = request(&mut server, "tools/list", json!({}));
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&answer["result"]).unwrap_or_default()
        );
        return 0;
    }
    for t in args.selection.tools() {
        let kind = if t.is_mutation() { "write" } else { "read " };
        let _ = writeln!(stdout, "{:<22} {kind}  {}  [{}]", t.name, t.title, t.toolset);
    }
    // What is left out, and the toolsets, on stderr: stdout stays one tool a line.
    let _ = stdout.flush();
    eprintln!("\n{}", offering::describe(&args.selection));
    eprintln!("toolsets (--toolsets / LOOP_MCP_TOOLSETS, comma-separated, or all):");
    for set in &catalog::catalog().toolsets {
        let on = if args.selection.enabled().contains(&set.name) {
            "on "
        } else {
            "off"
        };
        eprintln!("  {:<11} {on}  {}", set.name, set.description);
    }
    0
}

struct CallArgs {
    tool: String,
    json: String,
    yes: bool,
    whole: bool,
    read_only: bool,
    name: Option<String>,
    config: Option<PathBuf>,
}

fn parse_call(args: &[String]) -> Result<CallArgs, Usage> {
    let p = parse(
        args,
        &["--json", "--read-only", "--yes"],
        &["--name", "--config"],
        CALL_USAGE,
    )?;
    let mut pos = p.positional.iter();
    let tool = pos
        .next()
        .ok_or_else(|| Usage::new("missing the tool name".into(), CALL_USAGE))?
        .clone();
    let json_arg = pos.next().cloned().unwrap_or_else(|| "{}".into());
    if let Some(extra) = pos.next() {
        return Err(Usage::new(
            format!("unexpected argument '{extra}' (quote the JSON as one argument)"),
            CALL_USAGE,
        ));
    }
    Ok(CallArgs {
        tool,
        json: json_arg,
        yes: p.flag("--yes"),
        whole: p.flag("--json"),
        read_only: p.flag("--read-only"),
        name: p.value("--name"),
        config: p.value("--config").map(PathBuf::from),
    })
}

fn call(args: CallArgs) -> i32 {
    let text = if args.json == "-" {
        let mut s = String::new();
        if let Err(e) = io::Read::read_to_string(&mut io::stdin(), &mut s) {
            eprintln!("error: cannot read the arguments from stdin: {e}");
            return 2;
        }
        s
    } else {
        args.json.clone()
    };
    let arguments: Value = match serde_json::from_str(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            eprintln!("error: the arguments must be a JSON object, like '{{\"dealId\": \"deal_123\"}}'");
            return 2;
        }
        Err(e) => {
            eprintln!("error: the arguments are not valid JSON: {e}");
            return 2;
        }
    };
    let Some(tool) = catalog::catalog().tool(&args.tool) else {
        eprintln!(
            "error: unknown tool '{}'; `loopops-mcp tools` lists them",
            args.tool
        );
        return 2;
    };
    let selection = match selection(args.read_only, None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if !selection.has_toolset(tool) {
        eprintln!(
            "error: {} is in the toolset `{}`, which LOOP_MCP_TOOLSETS leaves out (it enables {}); unset it or add `{}` to run this tool",
            tool.name,
            tool.toolset,
            selection.enabled().join(", "),
            tool.toolset
        );
        return 1;
    }
    let mut opts = options(selection, args.name, args.config);
    if opts.read_only && tool.is_mutation() {
        let why = if args.read_only {
            "--read-only"
        } else {
            "LOOP_MCP_READ_ONLY is set"
        };
        eprintln!(
            "error: {} changes Loop Operations records, and this command runs read-only ({why}); run it without read-only mode to make the change",
            tool.name
        );
        return 1;
    }
    opts.confirm = match confirm::asker_for_call(tool, args.yes) {
        Ok(asker) => asker,
        Err(why) => {
            eprintln!("error: {}", terminal::clean(&why));
            return 2;
        }
    };
    let mut server = Server::new(opts);
    let answer = request(
        &mut server,
        "tools/call",
        json!({"name": args.tool, "arguments": arguments}),
    );
    let Some(result) = answer.get("result") else {
        let message = answer["error"]["message"].as_str().unwrap_or("unknown error");
        eprintln!("error: {}", terminal::clean(message));
        return 2;
    };
    let is_error = result["isError"] == json!(true);
    let mut stdout = io::stdout().lock();
    if args.whole {
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&terminal::clean_json(result)).unwrap_or_default()
        );
    } else if is_error {
        eprintln!(
            "error: {}",
            terminal::clean(result["content"][0]["text"].as_str().unwrap_or(""))
        );
    } else {
        let shown = terminal::clean_json(result.get("structuredContent").unwrap_or(&Value::Null));
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
        for note in result["content"].as_array().into_iter().flatten().skip(1) {
            eprintln!("note: {}", terminal::clean(note["text"].as_str().unwrap_or("")));
        }
    }
    i32::from(is_error)
}

struct PromptArgs {
    /// `None`: list the prompts.
    name: Option<String>,
    arguments: Map<String, Value>,
}

fn parse_prompt(args: &[String]) -> Result<PromptArgs, Usage> {
    let p = parse(args, &[], &[], PROMPT_USAGE)?;
    let mut pos = p.positional.iter();
    let name = pos.next().cloned();
    let mut arguments = Map::new();
    for kv in pos {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Usage::new(format!("'{kv}' is not KEY=VALUE"), PROMPT_USAGE))?;
        arguments.insert(k.to_string(), json!(v));
    }
    Ok(PromptArgs { name, arguments })
}

fn list_prompts() -> i32 {
    let mut stdout = io::stdout().lock();
    for p in &catalog::catalog().prompts {
        let args: Vec<String> = p
            .arguments
            .iter()
            .map(|a| {
                if a.required {
                    format!("{}=…", a.name)
                } else {
                    format!("[{}=…]", a.name)
                }
            })
            .collect();
        let _ = writeln!(stdout, "{:<20} {}", p.name, p.title);
        let _ = writeln!(
            stdout,
            "{:<20} loopops-mcp prompt {} {}",
            "",
            p.name,
            args.join(" ")
        );
    }
    0
}

fn prompt(args: PromptArgs) -> i32 {
    let Some(name) = args.name else {
        return list_prompts();
    };
    let mut server = Server::new(options(Selection::default(), None, None));
    let answer = request(
        &mut server,
        "prompts/get",
        json!({"name": name, "arguments": args.arguments}),
    );
    match answer.get("result") {
        Some(result) => {
            // `| head` closing the pipe early is not an error.
            let _ = writeln!(
                io::stdout().lock(),
                "{}",
                result["messages"][0]["content"]["text"].as_str().unwrap_or("")
            );
            0
        }
        None => {
            let message = answer["error"]["message"].as_str().unwrap_or("unknown error");
            if catalog::catalog().prompt(&name).is_some() {
                eprintln!("error: {message}");
            } else {
                eprintln!("error: {message}; `loopops-mcp prompt` lists the prompts and their arguments");
            }
            2
        }
    }
}

/// Collects what the server sends, for one-shot commands.
struct Capture(Vec<Value>);

impl Sink for Capture {
    fn send(&mut self, message: &Value) -> io::Result<()> {
        self.0.push(message.clone());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Send one request through the server, as `serve` would, and return its answer.
fn request(server: &mut Server, method: &str, params: Value) -> Value {
    let line = jsonrpc::notification(method, params);
    let mut line = line;
    line["id"] = json!(1);
    let mut capture = Capture(Vec::new());
    let bytes = serde_json::to_vec(&line).expect("a request serializes");
    // Errors cannot happen: Capture never fails.
    let _ = server.handle_frame(framing::Frame::Line(bytes), &mut capture);
    capture
        .0
        .into_iter()
        .rev()
        .find(|m| m.get("id").is_some())
        .unwrap_or(Value::Null)
}
