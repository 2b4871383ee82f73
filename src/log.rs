//! Logging. Every line goes to stderr (never stdout: that is the protocol channel)
//! when at or above `LOOP_MCP_LOG` (default `info`), and is queued for the MCP client
//! as `notifications/message` when at or above the level it set with
//! `logging/setLevel` (default `warning`). Text is scrubbed of secrets first.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::secret;

/// RFC 5424 severities, as MCP names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Level {
    const ALL: [Level; 8] = [
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warning,
        Level::Error,
        Level::Critical,
        Level::Alert,
        Level::Emergency,
    ];

    /// The names MCP accepts in `logging/setLevel`, exactly.
    pub const ALL_NAMES: [&'static str; 8] = [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];

    pub fn parse(s: &str) -> Option<Level> {
        let s = s.trim().to_ascii_lowercase();
        let s = if s == "warn" { "warning" } else { s.as_str() };
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
            Level::Alert => "alert",
            Level::Emergency => "emergency",
        }
    }

    fn from_u8(v: u8) -> Level {
        Level::ALL[usize::from(v).min(7)]
    }
}

static STDERR_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static CLIENT_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);
static PENDING: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

/// Read `LOOP_MCP_LOG` once at start.
pub fn init_from_env() {
    if let Some(level) = std::env::var("LOOP_MCP_LOG")
        .ok()
        .as_deref()
        .and_then(Level::parse)
    {
        STDERR_LEVEL.store(level as u8, Ordering::Relaxed);
    }
}

/// `CLIENT_LEVEL` when nothing goes to the client.
const CLIENT_OFF: u8 = u8::MAX;

pub fn set_client_level(level: Level) {
    CLIENT_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level at and above which messages go to the client; `None`: none do. A modern
/// request sets its own for its duration (`_meta` `logLevel`, absent means none) and
/// puts the session's back afterwards.
pub fn client_threshold() -> Option<Level> {
    let v = CLIENT_LEVEL.load(Ordering::Relaxed);
    (v != CLIENT_OFF).then(|| Level::from_u8(v))
}

pub fn set_client_threshold(level: Option<Level>) {
    CLIENT_LEVEL.store(level.map_or(CLIENT_OFF, |l| l as u8), Ordering::Relaxed);
}

fn to_client(level: Level) -> bool {
    client_threshold().is_some_and(|t| level >= t)
}

pub fn enabled(level: Level) -> bool {
    level >= Level::from_u8(STDERR_LEVEL.load(Ordering::Relaxed)) || to_client(level)
}

pub fn log(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    let text = secret::scrub(message);
    if level >= Level::from_u8(STDERR_LEVEL.load(Ordering::Relaxed)) {
        // A failed write to stderr has nowhere to be reported.
        let _ = writeln!(
            std::io::stderr().lock(),
            "loopops-mcp: {}: {text}",
            level.as_str()
        );
    }
    if to_client(level) {
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((level, text));
    }
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warning, message);
}

/// Messages queued for the MCP client since the last call.
pub fn take_pending() -> Vec<(Level, String)> {
    std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()))
}
