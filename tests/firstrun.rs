//! What a new user meets on the command line: prompts listed and checked like the
//! tools, refusals worded for the person at the terminal, help that says what the
//! command does.

mod support;

use std::time::Duration;

use support::run;

const LIMIT: Duration = Duration::from_secs(30);

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    run(args, env, b"", LIMIT)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prompt_without_a_name_lists_the_prompts_and_their_arguments() {
    let out = cli(&["prompt"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "pipeline_review      Pipeline review",
        "loopops-mcp prompt pipeline_review [period=…] [owner=…]",
        "loopops-mcp prompt deal_risk_review deal=…",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let unknown = cli(&["prompt", "nope"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("`loopops-mcp prompt` lists the prompts"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn prompt_arguments_are_checked_like_the_tools_arguments() {
    let out = cli(&["prompt", "pipeline_review", "period=garbage"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        "error: prompt `pipeline_review`: `period` must be current_quarter, next_quarter, previous_quarter, current_month or a fiscal quarter like 2026-Q3, got \"garbage\"\n"
    );
    assert!(stdout(&out).is_empty());
    // The same over MCP: -32602 with the same words.
    let line = br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"forecast_call_prep","arguments":{"period":"Q9"}}}"#;
    let mut input = line.to_vec();
    input.push(b'\n');
    let served = run(&["serve"], &[], &input, LIMIT);
    let answers = support::json_lines(&served.stdout);
    assert_eq!(answers[0]["error"]["code"], -32602);
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`period` must be current_quarter"),
        "{}",
        answers[0]
    );
}

#[test]
fn a_read_only_refusal_speaks_to_the_person_at_the_terminal() {
    let (fake, cfg) = support::setup("cli-read-only");
    let env = [("LOOP_MCP_CONFIG", cfg.path.to_str().unwrap())];
    let args = r#"{"dealId":"deal_001","stage":"proposal"}"#;
    let flag = cli(&["call", "update_deal_stage", args, "--read-only"], &env);
    assert_eq!(flag.status.code(), Some(1));
    let e = stderr(&flag);
    assert_eq!(
        e,
        "error: update_deal_stage changes Loop Operations records, and this command runs read-only (--read-only); run it without read-only mode to make the change\n"
    );
    let mut with_env = env.to_vec();
    with_env.push(("LOOP_MCP_READ_ONLY", "1"));
    let by_env = cli(&["call", "update_deal_stage", args], &with_env);
    assert_eq!(by_env.status.code(), Some(1));
    assert!(
        stderr(&by_env).contains("(LOOP_MCP_READ_ONLY is set)"),
        "{}",
        stderr(&by_env)
    );
    for o in [&flag, &by_env] {
        assert!(!stderr(o).contains("Tell the user"), "{}", stderr(o));
    }
    assert!(fake.mutations().is_empty(), "nothing was sent");
}

#[test]
fn terminal_errors_do_not_send_the_user_to_a_terminal() {
    // Not signed in: the tool result tells the model to have the user run login in a
    // terminal and restart the client; the terminal gets the command alone.
    let out = cli(&["call", "whoami"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("To sign in, run `loopops-mcp login`."), "{e}");
    assert!(
        !e.contains("in a terminal") && !e.contains("restart the MCP client"),
        "{e}"
    );
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}\n";
    let served = run(&["serve"], &[], line, LIMIT);
    let answers = support::json_lines(&served.stdout);
    let text = support::text(&answers[0]["result"]);
    assert!(
        text.contains("in a terminal, then restart the MCP client"),
        "{text}"
    );
}

#[test]
fn help_says_what_logout_does_and_how_ctrl_c_ends_a_command() {
    let logout = stdout(&cli(&["logout", "--help"], &[]));
    assert!(logout.contains("blank the saved refresh token"), "{logout}");
    assert!(!logout.contains("remove it from the config"), "{logout}");
    let main = stdout(&cli(&["--help"], &[]));
    assert!(main.contains("(a shell reports 130)"), "{main}");
    assert!(!main.contains("remove it from the config"), "{main}");
}
