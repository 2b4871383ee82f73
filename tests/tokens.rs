//! Never signed out (auth-notes rules 7-10): the token lifecycle across restarts in
//! every documented configuration, and each ordinary failure that used to make Okta's
//! reuse detection revoke the whole token family. The fake Okta has grace period 0
//! and reuse detection unless a test says otherwise.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake::{Fake, Fault, Route};
use support::{BIN, Session, is_error, temp_dir, text};

/// A home directory of its own: `~/.mcp.json` and `~/.loopops-mcp` live here.
struct Home {
    dir: support::TempDir,
}

impl Home {
    fn new(tag: &str) -> Home {
        Home { dir: temp_dir(tag) }
    }

    fn store_file(&self) -> PathBuf {
        self.dir.join(".loopops-mcp/tokens.json")
    }

    fn store_text(&self) -> String {
        std::fs::read_to_string(self.store_file()).unwrap_or_default()
    }

    /// `serve` (plus `args`) as a client spawns it: this home, `env`, nothing else.
    fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(args).env_clear();
        support::set_home(&mut cmd, &self.dir);
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

fn okta_env(fake: &Fake, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("API_URL", fake.api_url()),
        ("OKTA_ISSUER", fake.custom_issuer()),
        ("OKTA_CLIENT_ID", Fake::CLIENT_ID.to_string()),
        ("OKTA_REFRESH_TOKEN", token.to_string()),
    ]
}

/// A client config file with our entry (and another program's) at `path`.
fn write_entry(path: &Path, fake: &Fake, token: &str, args: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let env: serde_json::Map<String, Value> = okta_env(fake, token)
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut all_args = vec!["serve"];
    all_args.extend(args);
    let doc = json!({
        "mcpServers": {
            "github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_not_ours_0000"}},
            "loop-operations": {"command": BIN, "args": all_args, "env": env}
        },
        "globalShortcut": "Ctrl+Space"
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// One start: `whoami`, then EOF. Returns the result and everything printed.
fn one_call(cmd: Command) -> (Value, std::process::Output) {
    let mut s = Session::spawn(cmd);
    let r = s.call("whoami", json!({}));
    let out = s.finish();
    (r, out)
}

/// How each documented configuration starts the server, given the refresh token
/// the client was set up with. The client never restarts: it passes the same
/// environment every time, as Claude Desktop does with its entry's `env`.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// The README's Claude Desktop entry: everything in `env`, no `~/.mcp.json`.
    EnvOnly,
    /// `loopops-mcp login` wrote `~/.mcp.json`; the client's entry has no `env`.
    HomeMcpJson,
    /// `login --config` into the client's own file: the client passes the entry's
    /// `env` (as it read it at its start) and `--config` names the file.
    ClientConfig,
    /// A bundle (.mcpb): the user's settings arrive in `env`, with a timeout, and
    /// `~/.mcp.json` exists for other servers only.
    Bundle,
}

impl Setup {
    fn prepare<'a>(self, home: &'a Home, fake: &Fake, rt: &str) -> Box<dyn Fn() -> Command + 'a> {
        let rt = rt.to_string();
        match self {
            Setup::EnvOnly => {
                let env = okta_env(fake, &rt);
                Box::new(move || home.command(&[], &env))
            }
            Setup::HomeMcpJson => {
                write_entry(&home.dir.join(".mcp.json"), fake, &rt, &[]);
                Box::new(move || home.command(&[], &[]))
            }
            Setup::ClientConfig => {
                let path = home
                    .dir
                    .join("Library/Application Support/Claude/claude_desktop_config.json");
                let p = path.display().to_string();
                write_entry(&path, fake, &rt, &["--config", &p]);
                let env = okta_env(fake, &rt);
                Box::new(move || home.command(&["--config", &p], &env))
            }
            Setup::Bundle => {
                std::fs::write(
                    home.dir.join(".mcp.json"),
                    r#"{"mcpServers":{"github":{"command":"gh-mcp"}}}"#,
                )
                .unwrap();
                let mut env = okta_env(fake, &rt);
                env.push(("API_TIMEOUT_MS", "30000".into()));
                Box::new(move || home.command(&[], &env))
            }
        }
    }
}

#[test]
fn restart_matrix_every_documented_setup_survives_50_restarts() {
    const STARTS: usize = 50;
    let mut report = Vec::new();
    for setup in [
        Setup::EnvOnly,
        Setup::HomeMcpJson,
        Setup::ClientConfig,
        Setup::Bundle,
    ] {
        let fake = Fake::start();
        fake.set_grace(0);
        fake.set_access_ttl(1);
        let rt = fake.new_refresh_token();
        let home = Home::new(&format!("matrix-{setup:?}"));
        let start = setup.prepare(&home, &fake, &rt);
        let mut failed = Vec::new();
        for n in 0..STARTS {
            let (r, out) = one_call(start());
            if is_error(&r) {
                failed.push(format!("start {n}: {}", text(&r)));
            }
            support::assert_no_secrets(&out, &fake.issued_secrets());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("memory"), "{setup:?}: {stderr}");
        }
        assert_eq!(failed, Vec::<String>::new(), "{setup:?}");
        assert_eq!(fake.reuse_detections(), 0, "{setup:?}");
        let newest = fake.current_refresh_token().expect("the family is alive");
        assert_eq!(
            fake.requests(Route::Token),
            STARTS,
            "{setup:?}: one refresh per start"
        );
        let store = home.store_text();
        assert_eq!(
            store.matches(&newest).count(),
            1,
            "{setup:?}: newest stored once: {store}"
        );
        for old in fake
            .issued_secrets()
            .iter()
            .filter(|t| t.starts_with("rt-") && **t != newest)
        {
            assert!(
                !store.contains(old.as_str()),
                "{setup:?}: a spent token in the store"
            );
        }
        report.push(format!(
            "{setup:?}: {STARTS} starts, 0 failed, 0 reuse detections"
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// Issue 10 case 4: a revoked or blank token in the config file must not beat a
/// fresh token in the environment.
#[test]
fn a_stale_file_token_never_masks_a_fresh_env_token() {
    for stale in ["", "revoked"] {
        let fake = Fake::start();
        let old = fake.new_refresh_token();
        fake.revoke_family_of(&old);
        let fresh = fake.new_refresh_token();
        let home = Home::new("stale-file");
        let file_token = if stale.is_empty() { "" } else { old.as_str() };
        write_entry(&home.dir.join(".mcp.json"), &fake, file_token, &[]);
        let env = okta_env(&fake, &fresh);
        let (r, out) = one_call(home.command(&[], &env));
        assert!(!is_error(&r), "file token {stale:?}: {}", text(&r));
        support::assert_no_secrets(&out, &fake.issued_secrets());
        // And the next start, with the same (now spent) env token, still works.
        let (r, _) = one_call(home.command(&[], &env));
        assert!(!is_error(&r), "file token {stale:?}, restart: {}", text(&r));
        assert_eq!(fake.reuse_detections(), 0);
    }
}

/// Issue 10 case 3: `API_TIMEOUT_MS=30` (meant as seconds) with an Okta that takes
/// longer than that: the Okta request has its own timeout.
#[test]
fn a_short_api_timeout_does_not_cut_a_slow_okta_short() {
    let fake = Fake::start();
    fake.set_okta_delay(Duration::from_millis(150));
    let rt = fake.new_refresh_token();
    let home = Home::new("short-timeout");
    let mut env = okta_env(&fake, &rt);
    env.push(("API_TIMEOUT_MS", "30".into()));
    let mut s = Session::spawn(home.command(&[], &env));
    for _ in 0..3 {
        let r = s.call("whoami", json!({}));
        assert!(!is_error(&r), "{}", text(&r));
        fake.expire_access_tokens();
    }
    s.finish();
    assert_eq!(fake.reuse_detections(), 0);
    assert_eq!(fake.requests(Route::Token), 3, "no retries needed");
}

/// Issue 10 (rule 9): a gateway in front of Okta answers 502 after Okta rotated.
/// The same token is sent again at once, inside the grace period, and the answer
/// Okta gives then is saved; no one is signed out.
#[test]
fn a_gateway_502_after_okta_rotated_is_retried_with_the_same_token() {
    let fake = Fake::start();
    fake.set_grace(5);
    let rt = fake.new_refresh_token();
    let home = Home::new("gateway-502");
    let env = okta_env(&fake, &rt);
    fake.push_fault(Route::Token, Fault::AfterHandling(Box::new(Fault::Html502)));
    let (r, _) = one_call(home.command(&[], &env));
    assert!(!is_error(&r), "{}", text(&r));
    let sent: Vec<String> = fake
        .log()
        .iter()
        .filter_map(|r| r.form_param("refresh_token"))
        .collect();
    assert_eq!(sent, vec![rt.clone(), rt.clone()], "the same token, twice");
    let newest = fake.current_refresh_token().unwrap();
    assert!(home.store_text().contains(&newest));
    // Past the grace period, the next start uses the saved token, not the spent one.
    std::thread::sleep(Duration::from_millis(5200));
    let (r, _) = one_call(home.command(&[], &env));
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.reuse_detections(), 0);
}

/// When the outcome stays unknown (the retry gets a gateway error too), the answer
/// never claims "you are still signed in".
#[test]
fn an_unknown_outcome_never_claims_the_user_is_still_signed_in() {
    for fault in [Fault::Empty(504), Fault::Html502, Fault::Close] {
        let fake = Fake::start();
        fake.set_grace(5);
        let rt = fake.new_refresh_token();
        let home = Home::new("unknown-outcome");
        let env = okta_env(&fake, &rt);
        fake.push_fault(Route::Token, Fault::AfterHandling(Box::new(fault.clone())));
        fake.push_fault(Route::Token, fault.clone());
        let (r, _) = one_call(home.command(&[], &env));
        assert!(is_error(&r), "{fault:?}");
        let t = text(&r);
        assert!(!t.contains("still signed in"), "{fault:?}: {t}");
        assert!(t.contains("not known whether"), "{fault:?}: {t}");
        assert_eq!(fake.requests(Route::Token), 2, "{fault:?}: retried once");
    }
}

/// Issue 10 case 5: hostile numbers and blank tokens from Okta.
#[test]
fn hostile_numbers_and_blank_tokens_from_okta() {
    // expires_in at 2^64-1 (it panicked every call and spent a refresh each time),
    // beyond u64, negative, zero and fractional.
    for raw in ["18446744073709551615", "1e400", "-7", "0", "0.5"] {
        let fake = Fake::start();
        let rt = fake.new_refresh_token();
        let home = Home::new("hostile-expiry");
        let env = okta_env(&fake, &rt);
        fake.push_fault(Route::Token, Fault::Rewrite(vec![("expires_in", Some(raw))]));
        let mut s = Session::spawn(home.command(&[], &env));
        for _ in 0..3 {
            let r = s.call("whoami", json!({}));
            assert!(!is_error(&r), "expires_in {raw}: {}", text(&r));
        }
        let out = s.finish();
        assert_eq!(out.status.code(), Some(0), "expires_in {raw}");
        let refreshes = fake.requests(Route::Token);
        if raw.starts_with('1') {
            assert_eq!(refreshes, 1, "expires_in {raw}: the token is reused");
        } else {
            assert!(refreshes <= 3, "expires_in {raw}: {refreshes} refreshes");
        }
        assert_eq!(fake.reuse_detections(), 0, "expires_in {raw}");
    }

    // `refresh_token: ""` is absent, never saved.
    let fake = Fake::start();
    fake.set_rotate(false);
    let rt = fake.new_refresh_token();
    let home = Home::new("blank-rotation");
    write_entry(&home.dir.join(".mcp.json"), &fake, &rt, &[]);
    fake.push_fault(
        Route::Token,
        Fault::Rewrite(vec![("refresh_token", Some("\"\""))]),
    );
    let (r, _) = one_call(home.command(&[], &[]));
    assert!(!is_error(&r), "{}", text(&r));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(home.dir.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
        json!(rt)
    );
    let (r, _) = one_call(home.command(&[], &[]));
    assert!(!is_error(&r), "{}", text(&r));

    // A 200 without `access_token` still carries the rotated refresh token: it is
    // saved, so the next call does not send the spent one.
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let home = Home::new("no-access-token");
    let env = okta_env(&fake, &rt);
    fake.push_fault(Route::Token, Fault::Rewrite(vec![("access_token", None)]));
    let mut s = Session::spawn(home.command(&[], &env));
    let first = s.call("whoami", json!({}));
    assert!(is_error(&first));
    let second = s.call("whoami", json!({}));
    assert!(!is_error(&second), "{}", text(&second));
    s.finish();
    let (r, _) = one_call(home.command(&[], &env));
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.reuse_detections(), 0);
}

/// `login` with `interval: 0` polls once a second, not continuously.
#[test]
fn login_with_interval_zero_does_not_poll_continuously() {
    let fake = Fake::start();
    fake.script_device(vec![
        support::fake::DeviceStep::Pending,
        support::fake::DeviceStep::Pending,
        support::fake::DeviceStep::Approve,
    ]);
    fake.push_fault(Route::Device, Fault::Rewrite(vec![("interval", Some("0"))]));
    let dir = temp_dir("login-interval");
    let cfg = dir.join("mcp.json");
    let started = Instant::now();
    let out = support::run(
        &[
            "login",
            "--issuer",
            &fake.custom_issuer(),
            "--client-id",
            Fake::CLIENT_ID,
            "--api-url",
            &fake.api_url(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let polls = fake.device_polls();
    assert_eq!(polls.len(), 3);
    for pair in polls.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(900),
            "{:?}",
            pair[1] - pair[0]
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
}

/// Whether `cmd --help`-style probing shows a tool can run here; else the reason.
fn can_run(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`{program} {}` failed here: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("`{program}` is not available: {e}")),
    }
}

fn skip(test: &str, why: &str) {
    // Printed, never silent (run with --nocapture to see it in the log).
    eprintln!("SKIPPED {test}: {why}");
    println!("SKIPPED {test}: {why}");
}

/// Checks shared by the not-writable and disk-full cases: the call failed before
/// any token was sent, saying where, why and what to do; the token still works.
fn assert_refused_before_spending(r: &Value, fake: &Fake, os_error: &str, path_part: &str) {
    assert!(is_error(r));
    let t = text(r);
    assert!(t.contains(path_part), "names the path: {t}");
    assert!(t.contains(os_error), "names the OS error: {t}");
    assert!(t.contains("LOOP_MCP_STORE"), "says what to do: {t}");
    assert!(t.contains("still works"), "{t}");
    assert_eq!(fake.requests(Route::Token), 0, "no token was spent");
}

/// Issue 10 case 2: the store's directory is not writable (a non-root user whose
/// home is not theirs to write). No refresh happens; once fixed, the same token works.
// Unix only: Unix permissions and another uid (chown, setpriv).
#[cfg(unix)]
#[test]
fn a_store_that_cannot_be_written_is_never_a_reason_to_spend_the_token() {
    if let Err(why) = can_run(
        "setpriv",
        &["--reuid=65534", "--regid=65534", "--clear-groups", "true"],
    ) {
        return skip("not-writable", &format!("cannot run as a non-root user: {why}"));
    }
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let home = Home::new("not-writable");
    let env = okta_env(&fake, &rt);
    let as_nobody = |home: &Home| {
        let mut cmd = home.command(&[], &env);
        let prog = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = Command::new("setpriv");
        wrapped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(prog)
            .args(args);
        wrapped.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        cmd = wrapped;
        cmd
    };
    // The home (and so ~/.loopops-mcp) belongs to root, mode 0755.
    let (r, out) = one_call(as_nobody(&home));
    assert_refused_before_spending(&r, &fake, "Permission denied", ".loopops-mcp");
    support::assert_no_secrets(&out, &fake.issued_secrets());
    // `status --check` (it exited 0 before) fails, naming the step, and spends nothing.
    let mut check = Command::new("setpriv");
    check
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(BIN)
        .args(["status", "--check", "--json"])
        .env_clear()
        .env("HOME", &home.dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let checked = support::wait_with_limit(
        check
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(
        checked.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let v: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(v["check"]["failedStep"], "okta", "{v}");
    assert!(
        v["check"]["error"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{v}"
    );
    assert_eq!(fake.requests(Route::Token), 0);
    // Fixed: the same token was never spent, so it works.
    std::os::unix::fs::chown(&home.dir, Some(65534), Some(65534)).unwrap();
    let (r, _) = one_call(as_nobody(&home));
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.reuse_detections(), 0);
}

/// Issue 10 case 2: the disk is full (a small tmpfs in a private mount namespace).
#[test]
fn a_full_disk_is_never_a_reason_to_spend_the_token() {
    if let Err(why) = can_run("unshare", &["-m", "true"]) {
        return skip("disk-full", &format!("no private mount namespace: {why}"));
    }
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let home = Home::new("disk-full");
    let env = okta_env(&fake, &rt);
    let cmd = home.command(&[], &env);
    let mut wrapped = Command::new("unshare");
    wrapped.args([
        "-m",
        "sh",
        "-c",
        r#"mount -t tmpfs -o size=64k tmpfs "$HOME" && mkdir -p "$HOME/.loopops-mcp" && (head -c 1048576 /dev/zero > "$HOME/.loopops-mcp/fill" 2>/dev/null; true) && exec "$0" serve"#,
        BIN,
    ]);
    wrapped.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let (r, out) = one_call(wrapped);
    if text(&r).contains("mount") || String::from_utf8_lossy(&out.stderr).contains("mount:") {
        return skip("disk-full", "mounting a tmpfs is not permitted here");
    }
    assert_refused_before_spending(&r, &fake, "No space left on device", ".loopops-mcp");
    // The token was not spent: a start with room to save works.
    let (r, _) = one_call(home.command(&[], &env));
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(fake.reuse_detections(), 0);
}

/// A process that holds the store's lock and is stopped makes other processes'
/// tool calls wait at most 20 s, with a message that says what is going on.
#[test]
fn a_stopped_lock_holder_delays_a_tool_call_at_most_20_seconds() {
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let home = Home::new("lock-wait");
    let store_dir = home.dir.join(".loopops-mcp");
    std::fs::create_dir_all(&store_dir).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store_dir.join("tokens.json.lock"))
        .unwrap();
    let mut lock = fd_lock::RwLock::new(lock);
    let _held = lock.write().unwrap();
    let started = Instant::now();
    let (r, _) = one_call(home.command(&[], &okta_env(&fake, &rt)));
    let waited = started.elapsed();
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("Another loopops-mcp process is renewing the sign-in"),
        "{t}"
    );
    assert!(t.contains("Nothing is lost"), "{t}");
    assert!(waited < Duration::from_secs(40), "{waited:?}");
    assert!(waited >= Duration::from_secs(19), "{waited:?}");
    assert_eq!(fake.requests(Route::Token), 0);
}

/// The lock sidecar is never opened through a symlink, never blocks on a FIFO.
// Unix only: symlinks and FIFOs as the sidecar.
#[cfg(unix)]
#[test]
fn a_hostile_lock_sidecar_is_refused_without_hanging() {
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    for kind in ["fifo", "symlink"] {
        let home = Home::new("hostile-lock");
        let store_dir = home.dir.join(".loopops-mcp");
        std::fs::create_dir_all(&store_dir).unwrap();
        let lock = store_dir.join("tokens.json.lock");
        match kind {
            "fifo" => assert!(Command::new("mkfifo").arg(&lock).status().unwrap().success()),
            _ => std::os::unix::fs::symlink(home.dir.join("elsewhere"), &lock).unwrap(),
        }
        let started = Instant::now();
        let (r, _) = one_call(home.command(&[], &okta_env(&fake, &rt)));
        assert!(is_error(&r), "{kind}");
        let t = text(&r);
        assert!(t.contains("tokens.json.lock"), "{kind}: {t}");
        assert!(started.elapsed() < Duration::from_secs(20), "{kind}");
        assert!(!home.dir.join("elsewhere").exists(), "{kind}: followed the link");
    }
    assert_eq!(fake.requests(Route::Token), 0);
}

/// The store's directory is 0700 and its file 0600 whatever the umask.
// Unix only: umask; Windows' counterpart is the DACL check in assert_private.
#[cfg(unix)]
#[test]
fn the_store_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    for umask in ["000", "077", "777"] {
        let fake = Fake::start();
        let rt = fake.new_refresh_token();
        let home = Home::new("umask");
        let cmd = home.command(&[], &okta_env(&fake, &rt));
        let mut wrapped = Command::new("sh");
        wrapped.args(["-c", &format!("umask {umask} && exec \"$0\" serve"), BIN]);
        wrapped.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        let (r, _) = one_call(wrapped);
        assert!(!is_error(&r), "umask {umask}: {}", text(&r));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.dir.join(".loopops-mcp")), 0o700, "umask {umask}");
        assert_eq!(mode(&home.store_file()), 0o600, "umask {umask}");
    }
}

/// `sudo loopops-mcp ...` over a user's config keeps that user as the owner of the
/// config, the store and its lock, so the user is never locked out.
// Unix only: root and uids.
#[cfg(unix)]
#[test]
fn a_rotation_run_as_root_keeps_the_users_files_theirs() {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(temp_dir("whoami")).unwrap().uid();
    if me != 0 {
        return skip("root-owner", "the tests do not run as root");
    }
    let fake = Fake::start();
    let rt = fake.new_refresh_token();
    let home = Home::new("root-owner");
    let config = home.dir.join(".mcp.json");
    write_entry(&config, &fake, &rt, &[]);
    for p in [&*home.dir, config.as_path()] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let (r, _) = one_call(home.command(&[], &[]));
    assert!(!is_error(&r), "{}", text(&r));
    let owner = |p: &Path| std::fs::metadata(p).unwrap().uid();
    let store_dir = home.dir.join(".loopops-mcp");
    for p in [
        config.clone(),
        home.dir.join(".mcp.json.lock"),
        store_dir.clone(),
        home.store_file(),
        store_dir.join("tokens.json.lock"),
    ] {
        assert_eq!(owner(&p), 65534, "{}", p.display());
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
        json!(fake.current_refresh_token().unwrap())
    );
}
