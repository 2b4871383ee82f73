//! Benchmark of the release binary, driven the way an MCP client drives it: spawned
//! with a clean environment and pipes, newline-delimited JSON-RPC on stdin/stdout,
//! tool calls going to the fake Okta + tRPC API of the tests (127.0.0.1 only).
//!
//! ```sh
//! cargo build --release                               # the binary under test
//! cargo run --release --example bench                 # full run (well under 2 minutes)
//! cargo run --release --example bench -- --quick      # 10x smaller counts, a smoke run
//! ```
//!
//! Prints a markdown table: each number, its budget (pass/fail) and the Node
//! predecessor's figure. Every wait is bounded: a watchdog kills a server process that
//! outlives its phase, which turns any blocked read or write into an error.

#[path = "../tests/support/config_doc.rs"]
mod config_doc;
#[path = "../tests/support/fake.rs"]
mod fake;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use fake::{Fake, Route};
use serde_json::{Value, json};

type Res<T> = Result<T, String>;

const PROTOCOL: &str = "2025-11-25";
const DEAL_ARGS: &str = r#"{"dealId":"deal_001"}"#;
/// Requests in flight in the lightly pipelined RSS session.
const RSS_WINDOW: usize = 8;

// Budgets.
const BUDGET_BINARY_BYTES: u64 = 4_000_000;
const BUDGET_INIT_MS: f64 = 5.0;
const BUDGET_RSS_BYTES: u64 = 8_000_000;
const BUDGET_OVERHEAD_MS: f64 = 0.2;
const BUDGET_PINGS_PER_S: f64 = 100_000.0;
/// Spawn → first answer, either era, over the C floor's.
const BUDGET_FLOOR_RATIO: f64 = 1.5;
const BUDGET_CPU_PER_CALL_US: f64 = 60.0;

// The Node predecessor (`@loopops/mcp-server` 2.0.0).
const NODE_INIT_MS: f64 = 250.0;
const NODE_RSS_BYTES: u64 = 105_000_000;
const NODE_OVERHEAD_MS: f64 = 2.5;

struct Counts {
    spawns: usize,
    pings_pipelined: usize,
    pings_sequential: usize,
    lists_pipelined: usize,
    calls_latency: usize,
    calls_rss: usize,
    calls_connections: usize,
    /// Sessions the CPU per call is measured over (the median is reported): one
    /// session's figure moves by ±20% from run to run on a shared machine.
    cpu_sessions: usize,
    warmup: usize,
}

impl Counts {
    fn new(quick: bool) -> Counts {
        let d = if quick { 10 } else { 1 };
        Counts {
            spawns: 200 / d,
            pings_pipelined: 200_000 / d,
            pings_sequential: 20_000 / d,
            lists_pipelined: 20_000 / d,
            calls_latency: 2_000 / d,
            calls_rss: 10_000 / d,
            calls_connections: 1_000 / d,
            cpu_sessions: if quick { 1 } else { 5 },
            warmup: 50 / d,
        }
    }
}

fn main() {
    let mut quick = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => quick = true,
            "--calls-only" => {
                // For a profiler: one tool-call session and nothing else.
                if let Err(e) = calls_only() {
                    eprintln!("\nbench failed: {e}");
                    std::process::exit(1);
                }
                return;
            }
            "-h" | "--help" => {
                println!(
                    "Usage: cargo run --release --example bench [-- --quick | --calls-only]\n\n  --quick        10x smaller counts (smoke run)\n  --calls-only   only the 10 000-call session (phase 4), e.g. under `perf record`"
                );
                return;
            }
            other => {
                eprintln!("error: unknown argument '{other}' (try --help)");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = run(quick) {
        eprintln!("\nbench failed: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// Locating the binary
// ---------------------------------------------------------------------------

struct Binaries {
    release: PathBuf,
    musl: PathBuf,
}

/// The release binary sits next to `examples/` (`target[/<triple>]/release/`).
fn locate() -> Res<Binaries> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench executable: {e}"))?;
    let release_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected location of the bench executable: {}", exe.display()))?;
    let release = release_dir.join("loopops-mcp");
    if !release.is_file() {
        return Err(format!(
            "{} does not exist.\nRun `cargo build --release` first (this example does not build the binary), then \
             `cargo run --release --example bench` again.",
            release.display()
        ));
    }
    // The target root: the nearest ancestor holding CACHEDIR.TAG, else `release/..`.
    let root = release_dir
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .unwrap_or_else(|| release_dir.parent().unwrap_or(release_dir))
        .to_path_buf();
    Ok(Binaries {
        release,
        musl: root.join("x86_64-unknown-linux-musl/release/loopops-mcp"),
    })
}

/// Source files newer than the binary (it is not rebuilt by `cargo run --example`).
fn newer_sources(bin: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, since: SystemTime, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, since, out);
            } else if e.metadata().and_then(|m| m.modified()).is_ok_and(|m| m > since) {
                out.push(p);
            }
        }
    }
    let Ok(since) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return Vec::new();
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(&root.join("src"), since, &mut out);
    for f in ["Cargo.toml", "Cargo.lock"] {
        let p = root.join(f);
        if std::fs::metadata(&p)
            .and_then(|m| m.modified())
            .is_ok_and(|m| m > since)
        {
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Watchdog: kills a server process that outlives its deadline
// ---------------------------------------------------------------------------

type SharedChild = Arc<Mutex<Child>>;

enum Cmd {
    Arm(u64, Instant, SharedChild, String),
    Disarm(u64),
}

#[derive(Clone)]
struct Watchdog {
    tx: mpsc::Sender<Cmd>,
    next: Arc<AtomicU64>,
    fired: Arc<Mutex<Vec<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watchdog {
    fn start() -> Watchdog {
        let (tx, rx) = mpsc::channel::<Cmd>();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let fired2 = fired.clone();
        thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                let mut armed: Vec<(u64, Instant, SharedChild, String)> = Vec::new();
                loop {
                    let wait = armed
                        .iter()
                        .map(|a| a.1.saturating_duration_since(Instant::now()))
                        .min()
                        .unwrap_or(Duration::from_secs(3600));
                    match rx.recv_timeout(wait) {
                        Ok(Cmd::Arm(id, deadline, child, what)) => armed.push((id, deadline, child, what)),
                        Ok(Cmd::Disarm(id)) => armed.retain(|a| a.0 != id),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    let now = Instant::now();
                    armed.retain(|(_, deadline, child, what)| {
                        if *deadline > now {
                            return true;
                        }
                        let _ = lock(child).kill();
                        lock(&fired2).push(what.clone());
                        false
                    });
                }
            })
            .expect("spawn the watchdog thread");
        Watchdog {
            tx,
            next: Arc::new(AtomicU64::new(1)),
            fired,
        }
    }

    fn arm(&self, child: SharedChild, limit: Duration, what: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .tx
            .send(Cmd::Arm(id, Instant::now() + limit, child, what.to_string()));
        id
    }

    fn disarm(&self, id: u64) {
        let _ = self.tx.send(Cmd::Disarm(id));
    }

    fn fired_for(&self, what: &str) -> bool {
        lock(&self.fired).iter().any(|w| w == what)
    }
}

// ---------------------------------------------------------------------------
// A server process on pipes
// ---------------------------------------------------------------------------

/// Where the fake and the config files live; removed at the end.
struct Env {
    dir: PathBuf,
    home: PathBuf,
    bin: PathBuf,
    dog: Watchdog,
    spawned: usize,
}

impl Env {
    fn new(bin: PathBuf) -> Res<Env> {
        let dir = std::env::temp_dir().join(format!("loopops-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let home = dir.join("home");
        std::fs::create_dir_all(&home).map_err(|e| format!("cannot create {}: {e}", home.display()))?;
        Ok(Env {
            dir,
            home,
            bin,
            dog: Watchdog::start(),
            spawned: 0,
        })
    }

    /// An MCP config with our entry holding every setting, other programs' entries
    /// around it (the same document as the tests' `Config::new`).
    fn config(&self, tag: &str, fake: &Fake, refresh_token: &str) -> Res<PathBuf> {
        let dir = self.dir.join(format!("cfg-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("mcp.json");
        let bin = self.bin.display().to_string();
        let text = config_doc::sample_config(
            &bin,
            &fake.api_url(),
            &fake.custom_issuer(),
            Fake::CLIENT_ID,
            refresh_token,
        );
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Spawn `serve` with a clean environment, killed by the watchdog after `limit`.
    fn spawn(&mut self, config: &Path, limit: Duration, what: &str) -> Res<Proc> {
        let bin = self.bin.clone();
        self.spawn_program(&bin, &["serve"], Some(config), limit, what)
    }

    /// Spawn a program with a clean environment (PATH, HOME and the config only).
    fn spawn_program(
        &mut self,
        program: &Path,
        args: &[&str],
        config: Option<&Path>,
        limit: Duration,
        what: &str,
    ) -> Res<Proc> {
        self.spawned += 1;
        let stderr_path = self.dir.join(format!("stderr-{}.log", self.spawned));
        let stderr = File::create(&stderr_path)
            .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        if let Some(config) = config {
            cmd.env("LOOP_MCP_CONFIG", config);
        }
        cmd.env("HOME", &self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", program.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("spawned without pipes".into());
        };
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        let what = format!("{what} (pid {pid})");
        let guard = self.dog.arm(child.clone(), limit, &what);
        Ok(Proc {
            child,
            pid,
            stdin: Some(stdin),
            out: BufReader::with_capacity(256 * 1024, stdout),
            stderr_path,
            dog: self.dog.clone(),
            guard,
            what,
            limit,
            notifications: 0,
        })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Proc {
    child: SharedChild,
    pid: u32,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
    stderr_path: PathBuf,
    dog: Watchdog,
    guard: u64,
    what: String,
    limit: Duration,
    notifications: usize,
}

impl Proc {
    /// Why the session broke: timed out, exited, and what it printed on stderr.
    fn failure(&self, doing: &str) -> String {
        let mut msg = if self.dog.fired_for(&self.what) {
            format!(
                "{}: {doing}: no progress within {:?}; killed",
                self.what, self.limit
            )
        } else {
            match lock(&self.child).try_wait() {
                Ok(Some(status)) => format!("{}: {doing}: the server exited ({status})", self.what),
                _ => format!("{}: {doing}: the pipe broke", self.what),
            }
        };
        let err = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: String = err
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !tail.trim().is_empty() {
            msg.push_str(&format!("\n--- its stderr (end) ---\n{}", tail.trim_end()));
        }
        msg
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("stdin is open")
    }

    /// Write one message (with its `\n`): one write(2) on the unbuffered pipe.
    fn send(&mut self, line: &[u8]) -> Res<()> {
        if self.stdin().write_all(line).is_err() {
            return Err(self.failure("writing a request"));
        }
        Ok(())
    }

    fn read_line(&mut self, buf: &mut String) -> Res<()> {
        buf.clear();
        match self.out.read_line(buf) {
            Ok(n) if n > 0 && buf.ends_with('\n') => Ok(()),
            _ => Err(self.failure("reading an answer")),
        }
    }

    /// The next answer line (one with an `id`); notifications on the way are counted.
    fn answer(&mut self, buf: &mut String) -> Res<()> {
        loop {
            self.read_line(buf)?;
            if buf.starts_with("{\"jsonrpc\":\"2.0\",\"id\":") {
                return Ok(());
            }
            let v: Value = serde_json::from_str(buf)
                .map_err(|e| format!("{}: stdout line is not JSON ({e}): {buf}", self.what))?;
            if v.get("id").is_some() {
                return Ok(());
            }
            self.notifications += 1;
        }
    }

    fn request(&mut self, line: &[u8], buf: &mut String) -> Res<()> {
        self.send(line)?;
        self.answer(buf)
    }

    /// `initialize` + `notifications/initialized`, as a client opens a session.
    fn handshake(&mut self) -> Res<()> {
        let mut buf = String::new();
        self.request(initialize_line(0).as_bytes(), &mut buf)?;
        check_result(&buf, "initialize")?;
        self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
    }

    /// `VmHWM` (peak resident set) and `VmRSS` in bytes.
    fn memory(&self) -> Res<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let field = |name: &str| -> Res<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
                .ok_or_else(|| format!("no {name} in {path}"))
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// Close stdin (EOF) and wait, bounded, for exit 0.
    fn finish(mut self, limit: Duration) -> Res<ExitStatus> {
        drop(self.stdin.take());
        let start = Instant::now();
        let mut nap = Duration::from_micros(50);
        loop {
            let polled = lock(&self.child).try_wait();
            match polled {
                Ok(Some(status)) if status.success() => return Ok(status),
                Ok(Some(_)) => return Err(self.failure("exiting after EOF")),
                Ok(None) => {}
                Err(e) => return Err(format!("{}: waiting failed: {e}", self.what)),
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "{}: did not exit within {limit:?} of EOF; killed",
                    self.what
                ));
            }
            thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.dog.disarm(self.guard);
        drop(self.stdin.take());
        let mut child = lock(&self.child);
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

fn initialize_line(id: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"{PROTOCOL}\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"loopops-bench\",\"version\":\"1\"}}}}}}\n"
    )
}

fn ping_line(id: u64) -> String {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\"}}\n")
}

fn list_line(id: u64) -> String {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/list\"}}\n")
}

fn call_line(id: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"get_deal\",\"arguments\":{DEAL_ARGS}}}}}\n"
    )
}

/// The answer is a JSON-RPC result (not an error).
fn check_result(line: &str, what: &str) -> Res<Value> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| format!("{what}: answer is not JSON ({e}): {line}"))?;
    match v.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(format!("{what}: no result: {}", excerpt(line))),
    }
}

/// A `tools/call get_deal` answer: a successful result about deal_001.
fn check_deal(line: &str) -> Res<()> {
    let r = check_result(line, "tools/call get_deal")?;
    let text = r["content"][0]["text"].as_str().unwrap_or_default();
    if r["isError"] == json!(true) || !text.contains("deal_001") {
        return Err(format!("tools/call get_deal failed: {}", excerpt(line)));
    }
    Ok(())
}

fn excerpt(s: &str) -> String {
    let cut: String = s.trim().chars().take(400).collect();
    if cut.len() < s.trim().len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/// Durations in milliseconds, sorted.
struct Stats {
    sorted: Vec<f64>,
}

impl Stats {
    fn new(samples: &[Duration]) -> Stats {
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        Stats { sorted }
    }

    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    fn mean(&self) -> f64 {
        self.sorted.iter().sum::<f64>() / self.sorted.len() as f64
    }
}

// ---------------------------------------------------------------------------
// The phases
// ---------------------------------------------------------------------------

/// CPU time a process has used so far, in ns (all its threads), if the kernel says.
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// CPU time of the calling thread so far, in ns.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// utime + stime of a process, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `getconf CLK_TCK` (100 on Linux), the unit of `cpu_ticks`.
fn clock_ticks_per_s() -> Option<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// Server CPU per operation in µs, from two `cpu_ns` readings.
fn cpu_per_op_us(before: Option<u64>, after: Option<u64>, ops: usize) -> Option<f64> {
    Some(after?.saturating_sub(before?) as f64 / 1e3 / ops as f64)
}

struct SpawnResults {
    init: Stats,
    exit: Stats,
    /// spawn → `server/discover` answered.
    modern: Stats,
    /// spawn → the C floor answered; `None` without a C compiler.
    floor: Option<Stats>,
}

struct StdioResults {
    pings_per_s: f64,
    ping_cpu_us: Option<f64>,
    seq_us: f64,
    /// The same sequential loop against `cat`: what the pipes alone cost.
    cat_us: Option<f64>,
    lists_per_s: f64,
    list_cpu_us: Option<f64>,
    list_bytes: usize,
}

struct LatencyResults {
    ours: Stats,
    direct: Stats,
    /// Direct, with the agent configured like the server's (`timeout_global`).
    direct_global: Stats,
    cpu_us: Option<f64>,
    /// CPU of the direct client's thread per request (the same GET, keep-alive).
    direct_cpu_us: Option<f64>,
    notifications: usize,
}

struct RssResults {
    hwm_init: u64,
    hwm_end: u64,
    rss_end: u64,
    calls_per_s: f64,
    /// Process CPU (utime + stime) per tool call, µs: the median over the sessions.
    cpu_per_call_us: Option<f64>,
    /// The lowest and highest session, and how many, when there were several.
    cpu_range: Option<(f64, f64, usize)>,
    /// Each session's CPU per call over the direct client's CPU per request measured
    /// right after it: the median, lowest and highest.
    floor_ratio: Option<(f64, f64, f64)>,
    notifications: usize,
}

struct ConnResults {
    connections: usize,
    api_requests: usize,
    token_requests: usize,
    notifications: usize,
}

struct Results {
    spawn: SpawnResults,
    stdio: StdioResults,
    latency: LatencyResults,
    rss: RssResults,
    conns: ConnResults,
    /// The static musl binary, the one Linux users get (dist/), when it is built.
    shipped: Option<(SpawnResults, RssResults)>,
}

fn run(quick: bool) -> Res<()> {
    let bins = locate()?;
    let counts = Counts::new(quick);
    let stale = newer_sources(&bins.release);
    let fake = Fake::start();
    let mut env = Env::new(bins.release.clone())?;
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "bench: {} ({} mode, {cores} cores); fake API at {}",
        bins.release.display(),
        if quick { "quick" } else { "full" },
        fake.base()
    );
    if !stale.is_empty() {
        eprintln!(
            "warning: {} is older than {} source file(s) (e.g. {}): run `cargo build --release` to measure the current sources",
            bins.release.display(),
            stale.len(),
            stale[0].display()
        );
    }
    let started = Instant::now();
    let phase = |name: &str| eprintln!("[{:6.1} s] {name}", started.elapsed().as_secs_f64());

    phase("1/5 spawn -> first answer (initialize, server/discover, C floor)");
    let spawn = spawn_to_first_answer(&mut env, &fake, counts.spawns)?;
    phase("2/5 ping and tools/list through the stdio loop");
    let stdio = stdio_loop(&mut env, &fake, &counts)?;
    phase("3/5 tools/call latency vs direct HTTP");
    let latency = call_latency(&mut env, &fake, &counts)?;
    phase("4/5 peak RSS over a tools/call session");
    let rss = cpu_sessions(&mut env, &fake, &counts)?;
    phase("5/5 connections for sequential tool calls");
    let conns = connections(&mut env, &fake, counts.calls_connections)?;
    phase("extra: peak RSS under one hostile input (issue 11)");
    let hostile = hostile_inputs(&mut env, &fake)?;
    // What Linux users run is the static binary of dist/ (no dynamic loader, no
    // libc.so to map): measured the same way when `.ci/build-static` built it.
    let shipped = if bins.musl.is_file() && newer_sources(&bins.musl).is_empty() {
        phase("extra: the static musl binary (spawn, tool calls)");
        let mut env = Env::new(bins.musl.clone())?;
        let spawn = spawn_to_first_answer(&mut env, &fake, counts.spawns)?;
        let rss = cpu_sessions(&mut env, &fake, &counts)?;
        Some((spawn, rss))
    } else {
        eprintln!(
            "note: {} is missing or older than the sources: run `bash .ci/build-static` to measure it too",
            bins.musl.display()
        );
        None
    };
    phase("done");

    let r = Results {
        spawn,
        stdio,
        latency,
        rss,
        conns,
        shipped,
    };
    print_report(
        &bins,
        &counts,
        &r,
        quick,
        cores,
        started.elapsed(),
        !stale.is_empty(),
    );
    print_hostile(&hostile);
    Ok(())
}

fn calls_only() -> Res<()> {
    let bins = locate()?;
    let fake = Fake::start();
    let mut env = Env::new(bins.release.clone())?;
    let rss = peak_rss(&mut env, &fake, Counts::new(false).calls_rss)?;
    let cpu = rss
        .cpu_per_call_us
        .map_or("n/a".to_string(), |us| format!("{us:.1} µs"));
    println!(
        "{}: {:.0} calls/s, process CPU per call {cpu}, VmHWM {} B",
        bins.release.display(),
        rss.calls_per_s,
        rss.hwm_end
    );
    Ok(())
}

/// The floor of spawn → first answer: a tiny C program that answers each line with
/// one fixed line, built here with `cc` (what any process with pipes costs to start).
const FLOOR_C: &str = r#"#include <unistd.h>
int main(void) {
    static const char answer[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n' && write(1, answer, sizeof answer - 1) < 0)
                return 1;
    return 0;
}
"#;

/// Build the floor program with `cc -O2`; `None` (with a note) when there is no compiler.
fn build_floor(env: &Env) -> Option<PathBuf> {
    let src = env.dir.join("floor.c");
    let exe = env.dir.join("floor");
    if let Err(e) = std::fs::write(&src, FLOOR_C) {
        eprintln!("note: no floor ({e})");
        return None;
    }
    match Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
    {
        Ok(s) if s.success() => Some(exe),
        Ok(s) => {
            eprintln!("note: no floor: cc exited with {s}");
            None
        }
        Err(e) => {
            eprintln!("note: no floor: cannot run cc ({e})");
            None
        }
    }
}

fn discover_line(id: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"server/discover\",\"params\":{{\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientInfo\":{{\"name\":\"loopops-bench\",\"version\":\"1\"}},\"io.modelcontextprotocol/clientCapabilities\":{{}}}}}}}}\n"
    )
}

/// Phase 1: spawn, write the first request, read its answer; then EOF and wait for exit.
/// Legacy (`initialize`), modern (`server/discover`) and the floor take turns, so that
/// all three see the same machine load.
fn spawn_to_first_answer(env: &mut Env, fake: &Fake, n: usize) -> Res<SpawnResults> {
    let config = env.config("spawn", fake, &fake.new_refresh_token())?;
    let floor = build_floor(env);
    let bin = env.bin.clone();
    let (legacy_line, modern_line) = (initialize_line(1), discover_line(1));
    let mut buf = String::new();
    let (mut init, mut exit, mut modern, mut floor_t) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // One unmeasured round first, so that the page cache holds the binaries.
    for i in 0..=n {
        let t0 = Instant::now();
        let mut p = env.spawn(&config, Duration::from_secs(10), "spawn->initialize")?;
        p.request(legacy_line.as_bytes(), &mut buf)?;
        let answered = t0.elapsed();
        p.finish(Duration::from_secs(10))?;
        let exited = t0.elapsed();
        check_result(&buf, "initialize")?;

        let t1 = Instant::now();
        let mut p = env.spawn_program(
            &bin,
            &["serve"],
            Some(&config),
            Duration::from_secs(10),
            "spawn->server/discover",
        )?;
        p.request(modern_line.as_bytes(), &mut buf)?;
        let discovered = t1.elapsed();
        p.finish(Duration::from_secs(10))?;
        let r = check_result(&buf, "server/discover")?;
        if r["supportedVersions"][0] != "2026-07-28" || r["ttlMs"].as_u64().is_none() {
            return Err(format!("server/discover: unexpected answer {}", excerpt(&buf)));
        }

        if let Some(floor) = &floor {
            let t2 = Instant::now();
            let mut f = env.spawn_program(floor, &[], None, Duration::from_secs(10), "floor")?;
            f.request(legacy_line.as_bytes(), &mut buf)?;
            let floored = t2.elapsed();
            f.finish(Duration::from_secs(10))?;
            if i > 0 {
                floor_t.push(floored);
            }
        }
        if i > 0 {
            init.push(answered);
            exit.push(exited);
            modern.push(discovered);
        }
    }
    Ok(SpawnResults {
        init: Stats::new(&init),
        exit: Stats::new(&exit),
        modern: Stats::new(&modern),
        floor: floor.map(|_| Stats::new(&floor_t)),
    })
}

/// Write `lines` from a writer thread while this thread counts answer bytes and lines
/// until `n` lines arrived. Returns (elapsed, bytes read).
fn pipelined(p: &mut Proc, lines: Vec<u8>, n: usize) -> Res<(Duration, usize)> {
    let mut stdin = p.stdin.take().expect("stdin is open");
    let t0 = Instant::now();
    let writer = thread::spawn(move || {
        let ok = stdin.write_all(&lines).is_ok();
        (stdin, ok)
    });
    let mut seen = 0usize;
    let mut bytes = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    let mut read_ok = true;
    while seen < n {
        match p.out.read(&mut chunk) {
            Ok(0) | Err(_) => {
                read_ok = false;
                break;
            }
            Ok(k) => {
                bytes += k;
                seen += chunk[..k].iter().filter(|&&b| b == b'\n').count();
            }
        }
    }
    let elapsed = t0.elapsed();
    // The writer finishes once the server has read everything (or died: EPIPE).
    let (stdin, wrote) = writer.join().map_err(|_| "writer thread panicked".to_string())?;
    p.stdin = Some(stdin);
    if !read_ok || !wrote {
        return Err(p.failure("pipelined requests"));
    }
    if seen != n {
        return Err(format!("{}: expected {n} answer lines, got {seen}", p.what));
    }
    Ok((elapsed, bytes))
}

/// `n` sequential ping round trips; µs per round trip.
fn ping_round_trips(p: &mut Proc, first_id: u64, n: usize) -> Res<f64> {
    let lines: Vec<String> = (0..n as u64).map(|i| ping_line(first_id + i)).collect();
    let mut buf = String::new();
    let t0 = Instant::now();
    for line in &lines {
        p.request(line.as_bytes(), &mut buf)?;
    }
    let elapsed = t0.elapsed();
    if !buf.starts_with("{\"jsonrpc\":\"2.0\",\"id\":") {
        return Err(format!("{}: unexpected answer {}", p.what, excerpt(&buf)));
    }
    Ok(elapsed.as_secs_f64() * 1e6 / n as f64)
}

/// Phase 2: Pings (pipelined and sequential) and `tools/list` (pipelined) in one session,
/// and the sequential loop against `cat` for reference.
fn stdio_loop(env: &mut Env, fake: &Fake, c: &Counts) -> Res<StdioResults> {
    let config = env.config("stdio", fake, &fake.new_refresh_token())?;
    let mut p = env.spawn(&config, Duration::from_secs(90), "stdio loop session")?;
    p.handshake()?;
    let mut buf = String::new();

    // (a) pipelined pings; every answer is `{"jsonrpc":"2.0","id":N,"result":{}}`.
    let first = 1_000_000u64;
    let ids = first..first + c.pings_pipelined as u64;
    let lines: Vec<u8> = ids.clone().flat_map(|id| ping_line(id).into_bytes()).collect();
    let expected: usize = ids
        .map(|id| r#"{"jsonrpc":"2.0","id":,"result":{}}"#.len() + digits(id) + 1)
        .sum();
    let cpu0 = cpu_ns(p.pid);
    let (elapsed, bytes) = pipelined(&mut p, lines, c.pings_pipelined)?;
    let ping_cpu_us = cpu_per_op_us(cpu0, cpu_ns(p.pid), c.pings_pipelined);
    if bytes != expected {
        return Err(format!(
            "pipelined pings: {bytes} bytes of answers, expected {expected} (an answer was not a plain result)"
        ));
    }
    let pings_per_s = c.pings_pipelined as f64 / elapsed.as_secs_f64();

    // (b) sequential round trips.
    let seq_us = ping_round_trips(&mut p, first * 2, c.pings_sequential)?;

    // tools/list, pipelined; the answer size is learnt from one sequential call.
    p.request(list_line(1).as_bytes(), &mut buf)?;
    let tools = check_result(&buf, "tools/list")?["tools"]
        .as_array()
        .map_or(0, Vec::len);
    if tools == 0 {
        return Err(format!("tools/list: no tools: {}", excerpt(&buf)));
    }
    let list_bytes = buf.len();
    let ids = first * 3..first * 3 + c.lists_pipelined as u64;
    let lines: Vec<u8> = ids.clone().flat_map(|id| list_line(id).into_bytes()).collect();
    let expected: usize = ids.map(|id| list_bytes - 1 + digits(id)).sum();
    let cpu0 = cpu_ns(p.pid);
    let (elapsed, bytes) = pipelined(&mut p, lines, c.lists_pipelined)?;
    let list_cpu_us = cpu_per_op_us(cpu0, cpu_ns(p.pid), c.lists_pipelined);
    if bytes != expected {
        return Err(format!(
            "pipelined tools/list: {bytes} bytes of answers, expected {expected}"
        ));
    }
    let lists_per_s = c.lists_pipelined as f64 / elapsed.as_secs_f64();
    p.finish(Duration::from_secs(10))?;

    // The floor: `cat` echoes each line back through the same pipes (a reference only).
    let cat_us = env
        .spawn_program(Path::new("cat"), &[], None, Duration::from_secs(60), "cat")
        .and_then(|mut cat| {
            let us = ping_round_trips(&mut cat, 1, c.pings_sequential)?;
            cat.finish(Duration::from_secs(10))?;
            Ok(us)
        })
        .map_err(|e| eprintln!("note: no `cat` reference ({e})"))
        .ok();
    Ok(StdioResults {
        pings_per_s,
        ping_cpu_us,
        seq_us,
        cat_us,
        lists_per_s,
        list_cpu_us,
        list_bytes,
    })
}

/// The plain HTTP client of the comparison: keep-alive, no proxy.
struct Direct {
    agent: ureq::Agent,
    url: String,
    bearer: String,
}

impl Direct {
    /// The plain client. Bounded, but not with `timeout_global`: ureq 3 resolves the host
    /// on every request (before it looks in its pool), and under a resolve-phase timeout
    /// (global or per call) it does so in a new thread. Phase timeouts keep it thread-free.
    fn new(fake: &Fake) -> Res<Direct> {
        let limit = Some(Duration::from_secs(10));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .timeout_connect(limit)
            .timeout_send_request(limit)
            .timeout_send_body(limit)
            .timeout_recv_response(limit)
            .timeout_recv_body(limit)
            .build()
            .into();
        Direct::with_agent(fake, agent)
    }

    /// The same with `timeout_global`, as `src/net/http.rs` configures its agent: one
    /// resolver thread per request. For reference.
    fn with_global_timeout(fake: &Fake) -> Res<Direct> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Direct::with_agent(fake, agent)
    }

    fn with_agent(fake: &Fake, agent: ureq::Agent) -> Res<Direct> {
        let form = format!(
            "grant_type=refresh_token&client_id={}&refresh_token={}",
            fake::percent_encode(Fake::CLIENT_ID),
            fake::percent_encode(&fake.new_refresh_token())
        );
        let mut resp = agent
            .post(&fake.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .send(form.as_bytes())
            .map_err(|e| format!("direct: token request failed: {e}"))?;
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("direct: token answer: {e}"))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("direct: token answer not JSON: {e}"))?;
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| format!("direct: no access_token in {}", excerpt(&text)))?;
        let input = fake::percent_encode(&format!("{{\"json\":{DEAL_ARGS}}}"));
        Ok(Direct {
            agent,
            url: format!("{}/deals.get?input={input}", fake.api_url()),
            bearer: format!("Bearer {token}"),
        })
    }

    fn get(&self) -> Res<usize> {
        let mut resp = self
            .agent
            .get(&self.url)
            .header("authorization", self.bearer.as_str())
            .header("accept", "application/json")
            .call()
            .map_err(|e| format!("direct: deals.get failed: {e}"))?;
        let body = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("direct: deals.get body: {e}"))?;
        Ok(body.len())
    }
}

/// Phase 3: `tools/call get_deal` through the server next to the same request made directly;
/// the two are interleaved call by call, so both see the same machine load.
fn call_latency(env: &mut Env, fake: &Fake, c: &Counts) -> Res<LatencyResults> {
    let config = env.config("latency", fake, &fake.new_refresh_token())?;
    let mut p = env.spawn(&config, Duration::from_secs(90), "tools/call latency session")?;
    p.handshake()?;
    let direct = Direct::new(fake)?;
    let global = Direct::with_global_timeout(fake)?;
    let mut buf = String::new();
    let mut id = 100u64;
    // Warm-up: the first call mints the access token (and saves the rotated refresh token).
    for _ in 0..=c.warmup {
        id += 1;
        p.request(call_line(id).as_bytes(), &mut buf)?;
        check_deal(&buf)?;
        direct.get()?;
        global.get()?;
    }
    let lines: Vec<String> = (0..c.calls_latency as u64)
        .map(|i| call_line(10_000 + i))
        .collect();
    let mut ours = Vec::with_capacity(lines.len());
    let mut theirs = Vec::with_capacity(lines.len());
    let mut threaded = Vec::with_capacity(lines.len());
    let cpu0 = cpu_ns(p.pid);
    for line in &lines {
        let t0 = Instant::now();
        p.request(line.as_bytes(), &mut buf)?;
        ours.push(t0.elapsed());
        let t1 = Instant::now();
        let n = direct.get()?;
        theirs.push(t1.elapsed());
        let t2 = Instant::now();
        global.get()?;
        threaded.push(t2.elapsed());
        check_deal(&buf)?;
        if n == 0 {
            return Err("direct: empty deals.get answer".into());
        }
    }
    let cpu_us = cpu_per_op_us(cpu0, cpu_ns(p.pid), lines.len());
    // What the HTTP exchange alone costs a client process: the same request made
    // directly, this thread's CPU over as many calls (on loopback the sender also pays
    // for the receiver's packet processing, so this is a floor for any client).
    let own0 = thread_cpu_ns();
    for _ in &lines {
        direct.get()?;
    }
    let direct_cpu_us = cpu_per_op_us(own0, thread_cpu_ns(), lines.len());
    let notifications = p.notifications;
    p.finish(Duration::from_secs(10))?;
    Ok(LatencyResults {
        ours: Stats::new(&ours),
        direct: Stats::new(&theirs),
        direct_global: Stats::new(&threaded),
        cpu_us,
        direct_cpu_us,
        notifications,
    })
}

/// Phase 4: Peak RSS over a long tool-call session, lightly pipelined (a window of requests
/// in flight).
fn peak_rss(env: &mut Env, fake: &Fake, n: usize) -> Res<RssResults> {
    let config = env.config("rss", fake, &fake.new_refresh_token())?;
    let mut p = env.spawn(&config, Duration::from_secs(90), "peak RSS session")?;
    p.handshake()?;
    let (hwm_init, _) = p.memory()?;
    let mut buf = String::new();
    // First call (token minting) on its own, then the window.
    p.request(call_line(1).as_bytes(), &mut buf)?;
    check_deal(&buf)?;
    let t0 = Instant::now();
    let ticks0 = cpu_ticks(p.pid);
    let mut sent = 0usize;
    let mut answered = 0usize;
    while sent < RSS_WINDOW.min(n) {
        p.send(call_line(100 + sent as u64).as_bytes())?;
        sent += 1;
    }
    while answered < n {
        p.answer(&mut buf)?;
        answered += 1;
        if !buf.contains("\"result\"") || buf.contains("\"isError\":true") {
            return Err(format!("tools/call get_deal failed: {}", excerpt(&buf)));
        }
        if sent < n {
            p.send(call_line(100 + sent as u64).as_bytes())?;
            sent += 1;
        }
    }
    let calls_per_s = n as f64 / t0.elapsed().as_secs_f64();
    let cpu_per_call_us = match (ticks0, cpu_ticks(p.pid), clock_ticks_per_s()) {
        (Some(a), Some(b), Some(hz)) => Some((b - a) as f64 * 1e6 / hz / n as f64),
        _ => None,
    };
    let (hwm_end, rss_end) = p.memory()?;
    let notifications = p.notifications;
    p.finish(Duration::from_secs(10))?;
    Ok(RssResults {
        hwm_init,
        hwm_end,
        rss_end,
        calls_per_s,
        cpu_per_call_us,
        cpu_range: None,
        floor_ratio: None,
        notifications,
    })
}

/// Phase 4 over `counts.cpu_sessions` fresh processes: the first one's memory, the
/// median of their CPU per call, and its range.
fn cpu_sessions(env: &mut Env, fake: &Fake, counts: &Counts) -> Res<RssResults> {
    // The floor is measured again after every session: the machine's speed moves
    // between sessions (±20% here), and a ratio of two neighbours moves less.
    let direct = Direct::new(fake)?;
    for _ in 0..=counts.warmup {
        direct.get()?;
    }
    let floor = |n: usize| -> Res<Option<f64>> {
        let t0 = thread_cpu_ns();
        for _ in 0..n {
            direct.get()?;
        }
        Ok(cpu_per_op_us(t0, thread_cpu_ns(), n))
    };
    let mut first = peak_rss(env, fake, counts.calls_rss)?;
    let mut cpu: Vec<f64> = first.cpu_per_call_us.into_iter().collect();
    let mut ratios: Vec<f64> = Vec::new();
    if let (Some(us), Some(f)) = (first.cpu_per_call_us, floor(counts.calls_rss)?) {
        ratios.push(us / f);
    }
    for _ in 1..counts.cpu_sessions {
        let session = peak_rss(env, fake, counts.calls_rss)?.cpu_per_call_us;
        cpu.extend(session);
        if let (Some(us), Some(f)) = (session, floor(counts.calls_rss)?) {
            ratios.push(us / f);
        }
    }
    cpu.sort_by(f64::total_cmp);
    ratios.sort_by(f64::total_cmp);
    if cpu.len() > 1 {
        first.cpu_per_call_us = Some(cpu[cpu.len() / 2]);
        first.cpu_range = Some((cpu[0], cpu[cpu.len() - 1], cpu.len()));
    }
    if let (Some(lo), Some(hi)) = (ratios.first(), ratios.last()) {
        first.floor_ratio = Some((ratios[ratios.len() / 2], *lo, *hi));
    }
    Ok(first)
}

/// Phase 5: TCP connections the fake accepted for `n` sequential calls of one process.
fn connections(env: &mut Env, fake: &Fake, n: usize) -> Res<ConnResults> {
    let config = env.config("conns", fake, &fake.new_refresh_token())?;
    let (c0, a0, t0) = (
        fake.connections(),
        fake.requests(Route::AnyApi),
        fake.requests(Route::Token),
    );
    let mut p = env.spawn(&config, Duration::from_secs(90), "connections session")?;
    p.handshake()?;
    let mut buf = String::new();
    for i in 0..n as u64 {
        p.request(call_line(i + 1).as_bytes(), &mut buf)?;
        check_deal(&buf)?;
    }
    let notifications = p.notifications;
    p.finish(Duration::from_secs(10))?;
    Ok(ConnResults {
        connections: fake.connections() - c0,
        api_requests: fake.requests(Route::AnyApi) - a0,
        token_requests: fake.requests(Route::Token) - t0,
        notifications,
    })
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

/// "68.0 µs", or with several sessions "median 68.0 µs (61.0–77.0, 5 sessions)".
fn cpu_text(us: f64, range: Option<(f64, f64, usize)>) -> String {
    match range {
        Some((lo, hi, k)) => format!("median {us:.1} µs ({lo:.1}–{hi:.1}, {k} sessions)"),
        None => format!("{us:.1} µs"),
    }
}

/// The row under a CPU-per-call row: its sessions over the direct client's floor.
fn floor_ratio_row(ratio: Option<(f64, f64, f64)>) -> Option<Row> {
    ratio.map(|(median, lo, hi)| {
        row(
            "↳ ÷ the direct client's CPU per request, measured after each session",
            format!("median {median:.2}× ({lo:.2}–{hi:.2}×)"),
        )
    })
}

struct Row {
    metric: String,
    ours: String,
    budget: String,
    pass: Option<bool>,
    node: String,
    ratio: String,
}

fn row(metric: impl Into<String>, ours: impl Into<String>) -> Row {
    Row {
        metric: metric.into(),
        ours: ours.into(),
        budget: "—".into(),
        pass: None,
        node: "—".into(),
        ratio: "—".into(),
    }
}

impl Row {
    fn budget(mut self, budget: impl Into<String>, pass: bool) -> Row {
        self.budget = budget.into();
        self.pass = Some(pass);
        self
    }

    fn node(mut self, node: impl Into<String>, ours: f64, theirs: f64) -> Row {
        self.node = node.into();
        self.ratio = ratio(ours, theirs);
        self
    }
}

/// "0.004× (250× less)"
fn ratio(ours: f64, theirs: f64) -> String {
    if ours <= 0.0 {
        return "≈ 0× (within noise)".into();
    }
    let r = ours / theirs;
    if r < 1.0 {
        format!("{r:.3}× ({:.0}× less)", 1.0 / r)
    } else {
        format!("{r:.2}×")
    }
}

fn ms(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.3} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

fn binary_row(label: &str, path: &Path) -> Row {
    match std::fs::metadata(path) {
        Ok(m) => row(
            format!("binary size, {label}"),
            format!("{} ({} B)", mb(m.len()), thousands(m.len() as f64)),
        )
        .budget("≤ 4 MB", m.len() <= BUDGET_BINARY_BYTES),
        Err(_) => row(format!("binary size, {label}"), "not built"),
    }
}

fn print_report(
    bins: &Binaries,
    c: &Counts,
    r: &Results,
    quick: bool,
    cores: usize,
    took: Duration,
    stale: bool,
) {
    let n = |v: usize| thousands(v as f64);
    let (init, exit) = (&r.spawn.init, &r.spawn.exit);
    let s = &r.stdio;
    let (ours, direct) = (&r.latency.ours, &r.latency.direct);
    let overhead_p50 = ours.pct(50.0) - direct.pct(50.0);
    let overhead_mean = ours.mean() - direct.mean();
    let cpu = |v: Option<f64>, unit: &str| match v {
        Some(us) => format!("; server CPU {us:.1} µs/{unit}"),
        None => String::new(),
    };
    let mut rows = vec![
        binary_row("target/release", &bins.release),
        binary_row("x86_64-unknown-linux-musl", &bins.musl),
        row(
            format!("spawn → `initialize` answered, median ({} spawns)", n(c.spawns)),
            ms(init.pct(50.0)),
        )
        .budget("≤ 5 ms", init.pct(50.0) <= BUDGET_INIT_MS)
        .node("~250 ms", init.pct(50.0), NODE_INIT_MS),
        row("spawn → `initialize` answered, p95", ms(init.pct(95.0))),
        row(
            "spawn → `server/discover` (2026-07-28) answered, median",
            ms(r.spawn.modern.pct(50.0)),
        )
        .budget("≤ 5 ms", r.spawn.modern.pct(50.0) <= BUDGET_INIT_MS),
        row("spawn → exit after EOF, median", ms(exit.pct(50.0))),
        row(
            format!("`ping` pipelined ({} written at once)", n(c.pings_pipelined)),
            format!(
                "{} pings/s{}",
                thousands(s.pings_per_s),
                cpu(s.ping_cpu_us, "ping")
            ),
        )
        .budget("≥ 100 000/s", s.pings_per_s >= BUDGET_PINGS_PER_S),
        row(
            format!("`ping` sequential round trip ({})", n(c.pings_sequential)),
            format!("{:.1} µs ({} /s)", s.seq_us, thousands(1e6 / s.seq_us)),
        ),
    ];
    if let Some(floor) = &r.spawn.floor {
        let f = floor.pct(50.0);
        rows.push(row(
            "↳ floor: spawn → answer of a C program that answers one line, median",
            ms(f),
        ));
        for (era, t) in [
            ("`initialize`", init.pct(50.0)),
            ("`server/discover`", r.spawn.modern.pct(50.0)),
        ] {
            rows.push(
                row(
                    format!("spawn → {era} answered ÷ floor"),
                    format!("{:.2}×", t / f),
                )
                .budget("≤ 1.5×", t / f <= BUDGET_FLOOR_RATIO),
            );
        }
    }
    if let Some((spawn, rss)) = &r.shipped {
        let floor = spawn.floor.as_ref().map(|f| f.pct(50.0));
        for (era, t) in [
            ("`initialize`", spawn.init.pct(50.0)),
            ("`server/discover`", spawn.modern.pct(50.0)),
        ] {
            let mut line = row(
                format!("static musl binary (Linux dist/): spawn → {era} answered, median"),
                match floor {
                    Some(f) => format!("{} ({:.2}× its floor run)", ms(t), t / f),
                    None => ms(t),
                },
            );
            if let Some(f) = floor {
                line = line.budget("≤ 1.5×", t / f <= BUDGET_FLOOR_RATIO);
            }
            rows.push(line);
        }
        if let Some(us) = rss.cpu_per_call_us {
            rows.push(
                row(
                    "static musl binary: process CPU per `tools/call`",
                    cpu_text(us, rss.cpu_range),
                )
                .budget("≤ 60 µs", us <= BUDGET_CPU_PER_CALL_US),
            );
        }
        rows.extend(floor_ratio_row(rss.floor_ratio));
    }
    if let Some(cat) = s.cat_us {
        rows.push(row(
            "↳ reference: same round trip against `cat` (pipes + wakeups only)",
            format!("{cat:.1} µs ({} /s)", thousands(1e6 / cat)),
        ));
    }
    rows.extend([
        row(
            format!(
                "`tools/list` pipelined ({}, {} kB each)",
                n(c.lists_pipelined),
                s.list_bytes / 1000
            ),
            format!(
                "{} lists/s ({:.0} MB/s){}",
                thousands(s.lists_per_s),
                s.lists_per_s * s.list_bytes as f64 / 1e6,
                cpu(s.list_cpu_us, "list")
            ),
        ),
        row(
            format!(
                "`tools/call get_deal` via server, p50 / p99 / mean ({})",
                n(c.calls_latency)
            ),
            format!(
                "{} / {} / {}",
                ms(ours.pct(50.0)),
                ms(ours.pct(99.0)),
                ms(ours.mean())
            ),
        ),
        row(
            "same request by direct HTTP (ureq keep-alive), p50 / p99 / mean",
            format!(
                "{} / {} / {}",
                ms(direct.pct(50.0)),
                ms(direct.pct(99.0)),
                ms(direct.mean())
            ),
        ),
        row("overhead the server adds, p50", ms(overhead_p50))
            .budget("≤ 0.2 ms", overhead_p50 <= BUDGET_OVERHEAD_MS)
            .node("~2.5 ms", overhead_p50, NODE_OVERHEAD_MS),
        row("overhead the server adds, mean", ms(overhead_mean)).node(
            "~2.5 ms",
            overhead_mean,
            NODE_OVERHEAD_MS,
        ),
    ]);
    let g = &r.latency.direct_global;
    rows.push(row(
        "↳ reference: direct HTTP, agent with `timeout_global` as in src/net/http.rs",
        format!("{} / {} / {}", ms(g.pct(50.0)), ms(g.pct(99.0)), ms(g.mean())),
    ));
    if let Some(us) = r.latency.cpu_us {
        rows.push(row(
            "↳ server CPU per `tools/call` (JSON-RPC, validation, HTTP, result)",
            format!("{us:.1} µs"),
        ));
    }
    if let Some(us) = r.rss.cpu_per_call_us {
        rows.push(
            row(
                format!(
                    "process CPU per `tools/call` (utime + stime over {} calls)",
                    n(c.calls_rss)
                ),
                cpu_text(us, r.rss.cpu_range),
            )
            .budget("≤ 60 µs", us <= BUDGET_CPU_PER_CALL_US),
        );
    }
    rows.extend(floor_ratio_row(r.rss.floor_ratio));
    if let Some(us) = r.latency.direct_cpu_us {
        rows.push(row(
            "↳ floor: CPU per request of the direct HTTP client alone (its thread)",
            format!("{us:.1} µs"),
        ));
    }
    rows.extend([
        row(
            "`tools/call` throughput, sequential (1 / mean)",
            format!("{} calls/s", thousands(1e3 / ours.mean())),
        ),
        row(
            format!(
                "`tools/call` throughput, {RSS_WINDOW} in flight ({})",
                n(c.calls_rss)
            ),
            format!("{} calls/s", thousands(r.rss.calls_per_s)),
        ),
        row("VmHWM after `initialize`", mb(r.rss.hwm_init)),
        row(
            format!("peak RSS (VmHWM) after {} tool calls", n(c.calls_rss)),
            format!("{} (VmRSS {})", mb(r.rss.hwm_end), mb(r.rss.rss_end)),
        )
        .budget("≤ 8 MB", r.rss.hwm_end <= BUDGET_RSS_BYTES)
        .node("~105 MB", r.rss.hwm_end as f64, NODE_RSS_BYTES as f64),
        row(
            format!(
                "TCP connections for {} sequential tool calls",
                n(c.calls_connections)
            ),
            format!(
                "{} ({} API + {} token requests)",
                r.conns.connections, r.conns.api_requests, r.conns.token_requests
            ),
        )
        .budget("= 1", r.conns.connections == 1),
    ]);
    let headers = [
        "metric",
        "ours",
        "budget",
        "pass",
        "Node predecessor",
        "ours ÷ Node",
    ];
    let cells: Vec<[String; 6]> = rows
        .into_iter()
        .map(|r| {
            let pass = match r.pass {
                Some(true) => "PASS".to_string(),
                Some(false) => "FAIL".to_string(),
                None => "—".to_string(),
            };
            [r.metric, r.ours, r.budget, pass, r.node, r.ratio]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::from("|");
        for (c, w) in cols.iter().zip(widths) {
            s.push_str(&format!(" {c}{} |", " ".repeat(w - c.chars().count())));
        }
        s
    };
    println!();
    println!(
        "loopops-mcp benchmark ({} mode, {cores} cores, {:.1} s): {}",
        if quick { "quick" } else { "full" },
        took.as_secs_f64(),
        bins.release.display()
    );
    if stale {
        println!("WARNING: the binary is older than the sources (see stderr); run `cargo build --release`.");
    }
    println!();
    println!("{}", line(&headers.map(String::from)));
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in &cells {
        println!("{}", line(c));
    }
    println!();
    println!(
        "MB = 10^6 bytes. Latencies are end to end at the client; server and direct calls are interleaved call by call."
    );
    println!(
        "Direct HTTP: one ureq agent, keep-alive, no proxy, per-phase timeouts (no global timeout, so no resolver thread per request)."
    );
    println!(
        "Server CPU: /proc/<pid>/task/*/schedstat of the server's live threads over the measured calls; process CPU: utime + stime from /proc/<pid>/stat."
    );
    println!(
        "Floor: a C program (built with cc -O2 by the benchmark) that answers one fixed line per line read; spawns of the three alternate."
    );
    println!(
        "Connections are counted at the fake, which serves both the Okta token endpoint and the API on one address."
    );
    let notes = r.latency.notifications + r.rss.notifications + r.conns.notifications;
    if notes > 0 {
        println!("Note: the server sent {notes} notifications during the tool-call sessions.");
    }
}

// ---------------------------------------------------------------------------
// Hostile inputs (issue 11): peak RSS under one 8 MiB line or one 16 MB answer
// ---------------------------------------------------------------------------

/// The budget for the whole process under any single input line.
const BUDGET_HOSTILE_RSS_BYTES: u64 = 64 * 1024 * 1024;

/// One fresh session per input (peak RSS never goes down): initialize (2025-03-26,
/// where batches exist), the input, a ping that must be answered, then `VmHWM`.
fn hostile_inputs(env: &mut Env, fake: &Fake) -> Res<Vec<(String, u64)>> {
    let line_max = 8 * 1024 * 1024 - 64;
    let zeros = "0,".repeat((line_max - 100) / 2);
    let one = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#;
    let batch_n = line_max / (one.len() + 1);
    let keys: Vec<String> = (0..(line_max - 100) / 52)
        .map(|i| format!("\"k{i:07}\":\"{}\"", "v".repeat(40)))
        .collect();
    let cases: Vec<(String, String)> = vec![
        (
            "8 MiB line of small numbers in `params`".into(),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":[{zeros}0]}}}}"#),
        ),
        (
            format!("8 MiB batch of {} `tools/list`", thousands(batch_n as f64)),
            format!("[{}]", vec![one; batch_n].join(",")),
        ),
        (
            "8 MiB line: one object of 160 000 keys".into(),
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{{}}}}}"#,
                keys.join(",")
            ),
        ),
        (
            "8 MiB line: one string argument of `tools/call`".into(),
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"log_activity","arguments":{{"dealId":"deal_001","type":"note","subject":"{}"}}}}}}"#,
                "s".repeat(line_max - 200)
            ),
        ),
        (
            "batch of 100 `tools/list` (answers bounded at 1 MiB)".into(),
            format!("[{}]", vec![one; 100].join(",")),
        ),
    ];
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let mut out = Vec::new();
    let mut buf = String::new();
    for (what, line) in cases {
        let config = env.config("hostile", fake, &fake.new_refresh_token())?;
        let mut p = env.spawn(&config, Duration::from_secs(60), &what)?;
        p.request(format!("{init}\n").as_bytes(), &mut buf)?;
        // One answer line, whatever its shape (an error, a batch's array).
        p.send(format!("{line}\n").as_bytes())?;
        p.read_line(&mut buf)?;
        p.request(ping_line(99).as_bytes(), &mut buf)?;
        check_result(&buf, "ping after a hostile line")?;
        out.push((what, p.memory()?.0));
        p.finish(Duration::from_secs(10))?;
    }
    // A 16 MB answer of small numbers from the API, through `search_deals`.
    let config = env.config("hostile-answer", fake, &fake.new_refresh_token())?;
    let n = 8_000_000;
    fake.push_fault(
        Route::Api("deals.list"),
        fake::Fault::Status {
            status: 200,
            body: format!(
                r#"{{"result":{{"data":{{"json":{{"items":[{}0],"nextCursor":"c"}}}}}}}}"#,
                "0,".repeat(n - 1)
            ),
            content_type: "application/json",
            headers: vec![],
        },
    );
    let mut p = env.spawn(&config, Duration::from_secs(60), "16 MB answer")?;
    p.handshake()?;
    let call = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_deals","arguments":{"limit":100}}}"#;
    p.request(format!("{call}\n").as_bytes(), &mut buf)?;
    check_result(&buf, "search_deals over a 16 MB answer")?;
    out.push((
        "16 MB API answer of 8 000 000 small numbers".into(),
        p.memory()?.0,
    ));
    p.finish(Duration::from_secs(10))?;
    Ok(out)
}

fn print_hostile(rows: &[(String, u64)]) {
    println!("\n| hostile input (one per fresh process) | peak RSS | budget ≤ 64 MB |");
    println!("|---|---|---|");
    for (what, hwm) in rows {
        let pass = if *hwm <= BUDGET_HOSTILE_RSS_BYTES {
            "pass"
        } else {
            "FAIL"
        };
        println!("| {what} | {} | {pass} |", mb(*hwm));
    }
}
