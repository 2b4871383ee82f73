//! Shared test harness: run the real binary with a clean environment and a time
//! bound, feed it lines, and scan everything it printed for secrets.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_loopops-mcp");

#[path = "../../src/test_dir.rs"]
mod test_dir;
pub use test_dir::TestDir as TempDir;
use test_dir::{PREFIX, remove_all};

/// A fresh directory under the system temp dir, unique per test, removed with the
/// value (`src/test_dir.rs`).
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

/// The sign-in store every process of this test binary shares unless a test sets
/// its own (`LOOP_MCP_STORE`): entries are per issuer, and each fake has its own
/// port, so tests do not see each other's tokens. A static is never dropped, so
/// this one outlives the run; each run first removes the ones whose run has ended.
pub fn shared_store() -> PathBuf {
    static DIR: std::sync::LazyLock<PathBuf> = std::sync::LazyLock::new(|| {
        remove_ended_stores();
        temp_dir("store").keep()
    });
    DIR.clone()
}

/// Shared stores of test processes that no longer run (Linux: no `/proc/<pid>`;
/// elsewhere there is no cheap check, so they are left alone).
fn remove_ended_stores() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let store = format!("{PREFIX}store-");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&store) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            remove_all(&entry.path());
        }
    }
}

/// Make `home` the user's home for `cmd`: `~/.mcp.json` and `~/.loopops-mcp/` there.
/// Unix reads `HOME`. Windows takes the profile from the system whatever the
/// environment says, so there the two paths the product derives from it are set
/// explicitly (to the same places), unless the test sets them itself afterwards.
pub fn set_home(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home);
    if cfg!(windows) {
        cmd.env("USERPROFILE", home);
        cmd.env("LOOP_MCP_CONFIG", home.join(".mcp.json"));
        cmd.env("LOOP_MCP_STORE", home.join(".loopops-mcp"));
    }
}

/// The binary with nothing inherited: no proxies, no tokens, no home config.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", "/nonexistent/loopops-test-home");
    cmd.env("LOOP_MCP_CONFIG", "/nonexistent/loopops-test/mcp.json");
    cmd.env("LOOP_MCP_STORE", shared_store());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Run to completion with `input` on stdin, killing it after `limit`.
pub fn run(args: &[&str], env: &[(&str, &str)], input: &[u8], limit: Duration) -> Output {
    let mut cmd = command(args, env);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(&mut cmd);
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The server may exit before reading everything (that is a failure the
        // assertions will show); ignore EPIPE here.
        let _ = stdin.write_all(&input);
    });
    let out = wait_with_limit(child, limit);
    let _ = writer.join();
    out
}

/// Start `cmd`. Under Wine 8, CreateProcess now and then fails with
/// ERROR_INTERNAL_ERROR (1359) when many tests spawn at once: that alone is retried.
pub fn spawn(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(1359) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("spawn loopops-mcp: {e}"),
        }
    }
}

/// Wait for a child, killing it if it outlives `limit` (the test then fails).
pub fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loopops-mcp did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Every line of stdout parsed as JSON; panics on anything that is not.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l:?}")))
        .collect()
}

/// Assert that none of `secrets` appears in what the process printed.
pub fn assert_no_secrets(out: &Output, secrets: &[String]) {
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(s.as_str()), "a secret leaked to {name}: {text}");
        }
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
pub mod config_doc;
pub mod fake;
#[cfg(unix)]
pub mod pty;
pub mod random;

/// A running `serve` process driven one line at a time, for tests that need to
/// wait between requests or run several processes at once.
pub struct Session {
    child: Option<Child>,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stdout_seen: Vec<String>,
    next_id: u64,
}

impl Session {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Session {
        Session::spawn(command(args, env))
    }

    /// Drive a process started by `cmd` (which should end up running the binary).
    pub fn spawn(mut cmd: Command) -> Session {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Session {
            stdin: child.stdin.take(),
            child: Some(child),
            lines: rx,
            stderr,
            stdout_seen: Vec::new(),
            next_id: 1,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Send a request without waiting for its answer; returns its id.
    pub fn send(&mut self, method: &str, params: serde_json::Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
        id
    }

    /// Wait for the process to exit on its own (bounded) and return what it printed.
    pub fn wait_exit(mut self) -> Output {
        let mut child = self.child.take().unwrap();
        let out = wait_with_limit_keep_pipes(&mut child, Duration::from_secs(30));
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.stdout_seen.push(line);
        }
        Output {
            status: out,
            stdout: self.stdout_text().into_bytes(),
            stderr: self.stderr_text().into_bytes(),
        }
    }

    /// Send a request and wait (bounded) for its answer; notifications seen on the
    /// way are kept in `stdout_seen`.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.send(method, params);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no answer to {method} within 60 s; stderr: {}",
                    self.stderr_text()
                )
            });
            self.stdout_seen.push(line.clone());
            let v: serde_json::Value = serde_json::from_str(&line).expect("stdout line is JSON");
            if v["id"] == serde_json::json!(id) {
                return v;
            }
        }
    }

    /// Send any message as one line (a response to the server, a notification).
    pub fn send_message(&mut self, msg: &serde_json::Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line the server writes, as JSON (bounded wait: 60 s).
    pub fn next_message(&mut self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no message within 60 s; stderr: {}", self.stderr_text()));
        self.stdout_seen.push(line.clone());
        serde_json::from_str(&line).expect("stdout line is JSON")
    }

    /// Whether the server writes nothing more within `wait`.
    pub fn quiet_for(&mut self, wait: Duration) -> bool {
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.stdout_seen.push(line);
                false
            }
            Err(_) => true,
        }
    }

    /// Close stdin without waiting for the exit.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// `tools/call`, returning the result object.
    pub fn call(&mut self, tool: &str, args: serde_json::Value) -> serde_json::Value {
        let answer = self.request("tools/call", serde_json::json!({"name": tool, "arguments": args}));
        answer
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("tools/call failed: {answer}"))
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn stdout_text(&self) -> String {
        self.stdout_seen.join("\n")
    }

    /// Close stdin, wait for exit 0, and return everything printed.
    pub fn finish(mut self) -> Output {
        drop(self.stdin.take());
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("session did not exit after EOF");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.stdout_seen.push(line);
        }
        std::thread::sleep(Duration::from_millis(20));
        Output {
            status,
            stdout: self.stdout_text().into_bytes(),
            stderr: self.stderr_text().into_bytes(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_with_limit_keep_pipes(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The text of a tool result's first content block.
pub fn text(result: &serde_json::Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn is_error(result: &serde_json::Value) -> bool {
    result["isError"] == serde_json::json!(true)
}

/// A config file in a fresh directory, with other programs' entries around ours.
pub struct Config {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl Config {
    /// Our entry holds all settings; `mcpServers` also has another program's entry,
    /// and top-level keys before and after it.
    pub fn new(tag: &str, fake: &fake::Fake, issuer: &str, refresh_token: &str) -> Config {
        let dir = temp_dir(tag);
        let path = dir.join("mcp.json");
        let text =
            config_doc::sample_config(BIN, &fake.api_url(), issuer, fake::Fake::CLIENT_ID, refresh_token);
        std::fs::write(&path, text).unwrap();
        Config { dir, path }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("LOOP_MCP_CONFIG", self.path.display().to_string())]
    }

    pub fn read(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.path).unwrap()).unwrap()
    }

    pub fn stored_token(&self) -> String {
        self.read()["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn set_var(&self, key: &str, value: &str) {
        let mut doc = self.read();
        doc["mcpServers"]["loop-operations"]["env"][key] = serde_json::json!(value);
        std::fs::write(&self.path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}

/// Start `serve` against a config.
pub fn session(cfg: &Config, extra: &[(&str, &str)]) -> Session {
    let mut env: Vec<(&str, String)> = cfg.env();
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Session::start(&["serve"], &env_ref)
}

/// The binary's canonical absolute path, as `login` records it.
pub static BIN_ABS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let real = std::fs::canonicalize(BIN).unwrap();
    // Windows: canonicalize gives a `\\?\` path, which login must not record.
    loopops_mcp::cli::exe_path::without_verbatim_prefix(&real)
        .display()
        .to_string()
});

/// A fake Okta/API with one token family, and a config whose entry points at it.
pub fn setup(tag: &str) -> (fake::Fake, Config) {
    let fake = fake::Fake::start();
    let rt = fake.new_refresh_token();
    let cfg = Config::new(tag, &fake, &fake.custom_issuer(), &rt);
    (fake, cfg)
}

/// A port on 127.0.0.1 that nobody listens on (bound, noted, closed).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The token store file is private: mode 0600 on Unix; on Windows an owner-only,
/// protected DACL (nothing inherited from the folder).
pub fn assert_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    #[cfg(windows)]
    {
        use loopops_mcp::auth::replace::win32;
        let dacl = win32::dacl_summary(path).unwrap();
        let owner_only = dacl.protected && dacl.only_current_user && dacl.aces == 1;
        // Wine keeps only what Unix permission bits express (see replace.rs tests).
        assert!(
            !dacl.others_allowed && (owner_only || win32::is_wine()),
            "{}: {dacl:?}",
            path.display()
        );
    }
}

/// Send a signal (`"-TERM"`, `"-INT"`) to a process.
#[cfg(unix)]
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Poll `cond` every few milliseconds until it holds; false after `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}
