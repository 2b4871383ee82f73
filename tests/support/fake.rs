//! Hermetic fake of Okta (custom and org authorization servers) and of the Loop
//! Operations tRPC API, for the integration tests. It follows
//! `/work/shared/loop-api.md` and `/work/shared/auth-notes.md`.
//!
//! Only `std` and `serde_json` are used. Every connection runs on its own thread;
//! HTTP/1.1 with keep-alive, `Content-Length` or chunked request bodies. Only
//! 127.0.0.1 is ever bound.
//!
//! Faults (see [`Fault`]) replace the normal answer of one matching request; apart
//! from `Delay` the normal handler is then not run at all (a faulted mutation is not
//! applied, a faulted refresh does not rotate).
//!
//! The canned data uses a fixed calendar: "today" is [`FAKE_TODAY`] and "now" is
//! [`FAKE_NOW`], so periods such as `current_quarter` always resolve the same way.
#![allow(dead_code)]

use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The fixed "today" of the canned data (calendar quarters, fiscal year starts in January).
pub const FAKE_TODAY: &str = "2025-06-16";
/// The fixed "now" of the canned data; mutations stamp `FAKE_NOW` plus one minute per mutation.
pub const FAKE_NOW: &str = "2025-06-16T15:00:00Z";
/// Id of the signed-in user (`viewer.get`), also listed by `owners.list`.
pub const VIEWER_ID: &str = "usr_100";

const MAX_BODY: usize = 16 * 1024 * 1024;
const MAX_HEAD: u64 = 64 * 1024;
const HANG_MAX: Duration = Duration::from_secs(30);
const WEB: &str = "https://app.loopops.example";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// Which requests a fault or a counter applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// Token endpoint of either issuer.
    Token,
    /// Device authorization endpoint of either issuer.
    Device,
    /// Revocation endpoint of either issuer.
    Revoke,
    /// Discovery documents (`.well-known/...`) of either issuer.
    Discovery,
    /// One tRPC procedure, e.g. `Route::Api("deals.get")`.
    Api(&'static str),
    /// Every tRPC request.
    AnyApi,
}

/// What one poll of the device-code grant answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    Pending,
    SlowDown,
    Approve,
    Deny,
    Expire,
}

/// A canned misbehaviour, consumed by exactly one matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Arbitrary canned answer.
    Status {
        status: u16,
        body: String,
        content_type: &'static str,
        headers: Vec<(String, String)>,
    },
    /// 502 with an HTML proxy page.
    Html502,
    /// That status with an empty body.
    Empty(u16),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Read the request, never answer (socket held until the client closes, the fake
    /// is dropped, or 30 s pass).
    Hang,
    /// Read the request and close the connection without an answer.
    Close,
    /// 200 headers with `content-length: 1000`, 10 bytes of body, then close.
    ResetMidBody,
    /// 200 with a correct content-length; the body is half a JSON document.
    TruncatedJson,
    /// 302 (307 for POST) to that absolute URL.
    Redirect(String),
    /// 200 `application/json` body of exactly that many bytes (valid JSON when n >= 2).
    Oversized(usize),
    /// 401 in the route's error shape even with a valid token.
    Unauthorized,
    /// tRPC v11 error envelope.
    TrpcError {
        code: &'static str,
        http: u16,
        message: String,
    },
    /// Old tRPC shape `{"error":{"message":"..."}}`.
    OldTrpcError { http: u16, message: String },
    /// Batch shape `[{"error":{"json":{...}}}]`.
    BatchTrpcError {
        code: &'static str,
        http: u16,
        message: String,
    },
    /// 429/503 with `Retry-After` (Okta routes also get `X-Rate-Limit-*`).
    RetryAfter { status: u16, secs: u64 },
    /// Okta-style `{"error","error_description"}` answer.
    OktaError {
        status: u16,
        error: &'static str,
        description: String,
    },
    /// Handle the request normally (a refresh rotates), then answer with the inner
    /// fault instead: a gateway that lost Okta's answer.
    AfterHandling(Box<Fault>),
    /// Handle normally, then change members of the JSON answer: `Some(raw)` sets a
    /// member to that raw JSON text, `None` removes it (hostile numbers, blank
    /// tokens, a 200 without `access_token`).
    Rewrite(Vec<(&'static str, Option<&'static str>)>),
}

impl Fault {
    /// A 200 JSON answer with this body, whatever the route.
    pub fn json_200(body: impl Into<String>) -> Fault {
        Fault::Status {
            status: 200,
            body: body.into(),
            content_type: "application/json",
            headers: vec![],
        }
    }
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (undecoded, without `?`).
    pub query: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// First header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_decode(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Decoded value of a form body parameter.
    pub fn form_param(&self, name: &str) -> Option<String> {
        form_decode(&self.body)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// The fake server. Dropping it stops it.
pub struct Fake {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Fake {
    /// The only client id the fake Okta accepts.
    pub const CLIENT_ID: &'static str = "client-test";

    /// Bind 127.0.0.1 on a free port and start serving.
    pub fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake: local_addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(0),
            base,
        });
        let sh = shared.clone();
        let accept = thread::Builder::new()
            .name("fake-accept".into())
            .spawn(move || accept_loop(listener, sh))
            .expect("fake: spawn accept thread");
        Fake {
            shared,
            addr,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        self.shared.base.clone()
    }

    /// `base + "/api/trpc"`
    pub fn api_url(&self) -> String {
        format!("{}/api/trpc", self.shared.base)
    }

    /// Custom authorization server issuer: `base + "/oauth2/default"`.
    pub fn custom_issuer(&self) -> String {
        format!("{}/oauth2/default", self.shared.base)
    }

    /// Org authorization server issuer: `base`.
    pub fn org_issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// Token endpoint of the custom issuer.
    pub fn token_url(&self) -> String {
        format!("{}/v1/token", self.custom_issuer())
    }

    /// Start a new token family and return its first refresh token.
    pub fn new_refresh_token(&self) -> String {
        let mut st = self.shared.lock();
        let fam = st.new_family();
        st.mint_refresh(fam)
    }

    /// `expires_in` of access tokens minted from now on (default 3600).
    pub fn set_access_ttl(&self, secs: u64) {
        self.shared.lock().access_ttl = secs;
    }

    /// Rotation grace period (default 0).
    pub fn set_grace(&self, secs: u64) {
        self.shared.lock().grace = Duration::from_secs(secs);
    }

    /// Rotate on every refresh (default true). When off, the refresh answer has no
    /// `refresh_token` member and the presented token stays valid.
    pub fn set_rotate(&self, on: bool) {
        self.shared.lock().rotate = on;
    }

    /// Newest live refresh token of the most recent family.
    pub fn current_refresh_token(&self) -> Option<String> {
        let st = self.shared.lock();
        let fam = st.families.last()?;
        if fam.revoked {
            return None;
        }
        let rt = fam.refresh.last()?;
        rt.retired.is_none().then(|| rt.token.clone())
    }

    /// Times a retired refresh token was presented after the grace period.
    pub fn reuse_detections(&self) -> usize {
        self.shared.lock().reuse
    }

    /// Every access token, refresh token and device code ever issued.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.lock().issued.clone()
    }

    /// Tokens posted to a revocation endpoint.
    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }

    /// Invalidate every access token minted so far.
    pub fn expire_access_tokens(&self) {
        for at in self.shared.lock().access.iter_mut() {
            at.revoked = true;
        }
    }

    /// `interval` announced by the device authorization endpoint (default 1).
    pub fn set_device_interval(&self, secs: u64) {
        self.shared.lock().device_interval = secs;
    }

    /// Answers of successive device-code polls; the last step repeats. Default `[Approve]`.
    pub fn script_device(&self, steps: Vec<DeviceStep>) {
        let mut st = self.shared.lock();
        st.device_script = if steps.is_empty() {
            vec![DeviceStep::Approve]
        } else {
            steps
        };
        st.device_step = 0;
    }

    /// Delay every token and device-authorization answer (a slow Okta).
    pub fn set_okta_delay(&self, d: Duration) {
        self.shared.lock().okta_delay = d;
    }

    /// Refresh tokens of every family still live (not retired, not revoked).
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        let st = self.shared.lock();
        st.families
            .iter()
            .filter(|f| !f.revoked)
            .flat_map(|f| f.refresh.iter().filter(|r| r.retired.is_none()))
            .map(|r| r.token.clone())
            .collect()
    }

    /// Revoke the family of a refresh token (as an admin or a reuse would).
    pub fn revoke_family_of(&self, token: &str) {
        let mut st = self.shared.lock();
        if let Some((f, _)) = st.find_refresh(token) {
            st.revoke_family(f);
        }
    }

    /// Device codes issued so far, with their user codes, in order.
    pub fn device_codes(&self) -> Vec<(String, String)> {
        let st = self.shared.lock();
        st.device_grants
            .iter()
            .map(|g| (g.code.clone(), g.user_code.clone()))
            .collect()
    }

    /// Decide the device sign-in with this user code: the user approved (`Approve`),
    /// denied (`Deny`) it, or let it expire (`Expire`). Until then polls of that code
    /// answer `authorization_pending` (the script is not used for it).
    pub fn decide_device(&self, user_code: &str, step: DeviceStep) {
        let mut st = self.shared.lock();
        for g in st.device_grants.iter_mut().filter(|g| g.user_code == user_code) {
            g.decision = Some(step.clone());
        }
    }

    /// Close every connection after its answer although the answer said keep-alive,
    /// as a server whose idle timeout fired the moment the client looked away.
    pub fn close_after_each_answer(&self) {
        self.shared.lock().close_after_answer = true;
    }

    /// Give each new device code its own user code, decided by `decide_device`.
    pub fn use_device_decisions(&self) {
        self.shared.lock().device_decisions = true;
    }

    /// Times of device-code polls.
    pub fn device_polls(&self) -> Vec<Instant> {
        self.shared.lock().device_polls.clone()
    }

    /// Queue a fault for the next request of that route (FIFO per route).
    /// An API request takes a fault queued for its own procedure first, else one
    /// queued for `Route::AnyApi`.
    pub fn push_fault(&self, route: Route, fault: Fault) {
        let mut st = self.shared.lock();
        match st.faults.iter_mut().find(|(r, _)| *r == route) {
            Some((_, q)) => q.push_back(fault),
            None => st.faults.push((route, VecDeque::from([fault]))),
        }
    }

    /// Requests seen for that route (faulted ones included).
    pub fn requests(&self, route: Route) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|(k, _)| route_matches(&route, k))
            .count()
    }

    /// Every request, in arrival order.
    pub fn log(&self) -> Vec<Request> {
        self.shared.lock().log.iter().map(|(_, r)| r.clone()).collect()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Mutations applied successfully: (procedure, INPUT).
    pub fn mutations(&self) -> Vec<(String, Value)> {
        self.shared.lock().mutations.clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for (_, s) in self.shared.conns_lock().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the blocking accept() so that the accept thread sees the stop flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(h) = self.accept.take()
            && woke
        {
            let _ = h.join();
        }
    }
}

/// Percent-decode (`%XX`); invalid escapes stay literal; `+` stays `+`.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decode `application/x-www-form-urlencoded` (also query strings): `+` is a space.
pub fn form_decode(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Percent-encode everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Server plumbing
// ---------------------------------------------------------------------------

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    conns: Mutex<Vec<(u64, TcpStream)>>,
    next_conn: AtomicU64,
    base: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns_lock(&self) -> MutexGuard<'_, Vec<(u64, TcpStream)>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleep up to `d`, waking early when the fake stops. Returns false if stopped.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    for conn in listener.incoming() {
        if sh.stopped() {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        sh.lock().connections += 1;
        let id = sh.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            sh.conns_lock().push((id, c));
        }
        let sh2 = sh.clone();
        let spawned = thread::Builder::new().name("fake-conn".into()).spawn(move || {
            handle_conn(&sh2, stream);
            sh2.conns_lock().retain(|(i, _)| *i != id);
        });
        if spawned.is_err() {
            sh.conns_lock().retain(|(i, _)| *i != id);
        }
    }
}

struct Resp {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn json(status: u16, v: &Value) -> Resp {
        Resp::raw(status, "application/json", v.to_string())
    }

    fn with_header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

enum Reply {
    Full(Resp),
    Close,
    Hang,
    Partial(Vec<u8>),
}

enum ReadErr {
    Io,
    Bad(&'static str),
}

struct Incoming {
    req: Request,
    keep_alive: bool,
}

fn handle_conn(sh: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        if sh.stopped() {
            break;
        }
        let inc = match read_request(&mut reader, &mut out) {
            Ok(Some(inc)) => inc,
            Ok(None) | Err(ReadErr::Io) => break,
            Err(ReadErr::Bad(msg)) => {
                let r = Resp::raw(400, "text/plain", msg);
                let _ = write_resp(&mut out, &r, false);
                break;
            }
        };
        let keep = inc.keep_alive;
        match dispatch(sh, inc.req) {
            Reply::Full(r) => {
                if write_resp(&mut out, &r, keep).is_err() || !keep {
                    break;
                }
                if sh.lock().close_after_answer {
                    break;
                }
            }
            Reply::Close => break,
            Reply::Hang => {
                hang(sh, &out);
                break;
            }
            Reply::Partial(bytes) => {
                let _ = out.write_all(&bytes);
                let _ = out.flush();
                break;
            }
        }
    }
    let _ = out.shutdown(Shutdown::Both);
}

fn hang(sh: &Shared, stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let end = Instant::now() + HANG_MAX;
    let mut buf = [0u8; 1024];
    let mut s = stream;
    while Instant::now() < end && !sh.stopped() {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

fn read_line(r: &mut BufReader<TcpStream>, budget: &mut u64) -> Result<Option<String>, ReadErr> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(*budget)
        .read_until(b'\n', &mut buf)
        .map_err(|_| ReadErr::Io)?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget.saturating_sub(n as u64);
    if buf.last() != Some(&b'\n') {
        return if *budget == 0 {
            Err(ReadErr::Bad("request head too large"))
        } else {
            Err(ReadErr::Io)
        };
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn read_request(r: &mut BufReader<TcpStream>, out: &mut TcpStream) -> Result<Option<Incoming>, ReadErr> {
    let mut budget = MAX_HEAD;
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ReadErr::Bad("malformed request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let Some(l) = read_line(r, &mut budget)? else {
            return Err(ReadErr::Io);
        };
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(ReadErr::Bad("malformed header"));
        };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: String::new(),
    };
    let conn = req.header("connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if version.eq_ignore_ascii_case("HTTP/1.0") {
        conn.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !conn.split(',').any(|t| t.trim() == "close")
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let _ = out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(cl) = req.header("content-length") {
        let n: usize = cl
            .trim()
            .parse()
            .map_err(|_| ReadErr::Bad("bad content-length"))?;
        if n > MAX_BODY {
            return Err(ReadErr::Bad("body too large"));
        }
        let mut b = vec![0u8; n];
        r.read_exact(&mut b).map_err(|_| ReadErr::Io)?;
        b
    } else {
        Vec::new()
    };
    req.body = String::from_utf8_lossy(&body).into_owned();
    Ok(Some(Incoming { req, keep_alive }))
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadErr> {
    let mut body = Vec::new();
    loop {
        let mut budget = 4096;
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(ReadErr::Io);
        };
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| ReadErr::Bad("bad chunk size"))?;
        if size == 0 {
            // trailers until the blank line
            let mut budget = MAX_HEAD;
            loop {
                match read_line(r, &mut budget)? {
                    None => return Err(ReadErr::Io),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadErr::Bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).map_err(|_| ReadErr::Io)?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).map_err(|_| ReadErr::Io)?;
        if &crlf != b"\r\n" {
            return Err(ReadErr::Bad("bad chunk terminator"));
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_resp(out: &mut TcpStream, r: &Resp, keep: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    if !r.content_type.is_empty() {
        head.push_str(&format!("Content-Type: {}\r\n", r.content_type));
    }
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    head.push_str(if keep {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut buf = head.into_bytes();
    buf.extend_from_slice(&r.body);
    out.write_all(&buf)?;
    out.flush()
}

// ---------------------------------------------------------------------------
// Routing and faults
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Token,
    Device,
    Revoke,
    Discovery { custom: bool },
    Api(String),
    Other,
}

fn classify(path: &str) -> Kind {
    match path {
        "/oauth2/default/v1/token" | "/oauth2/v1/token" => Kind::Token,
        "/oauth2/default/v1/device/authorize" | "/oauth2/v1/device/authorize" => Kind::Device,
        "/oauth2/default/v1/revoke" | "/oauth2/v1/revoke" => Kind::Revoke,
        "/oauth2/default/.well-known/openid-configuration"
        | "/oauth2/default/.well-known/oauth-authorization-server" => Kind::Discovery { custom: true },
        "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server" => {
            Kind::Discovery { custom: false }
        }
        p => match p.strip_prefix("/api/trpc/") {
            Some(proc_name) if !proc_name.is_empty() => Kind::Api(percent_decode(proc_name)),
            _ => Kind::Other,
        },
    }
}

fn route_matches(route: &Route, kind: &Kind) -> bool {
    match (route, kind) {
        (Route::Token, Kind::Token)
        | (Route::Device, Kind::Device)
        | (Route::Revoke, Kind::Revoke)
        | (Route::Discovery, Kind::Discovery { .. })
        | (Route::AnyApi, Kind::Api(_)) => true,
        (Route::Api(want), Kind::Api(got)) => want == got,
        _ => false,
    }
}

fn dispatch(sh: &Shared, req: Request) -> Reply {
    let kind = classify(&req.path);
    let fault = {
        let mut st = sh.lock();
        st.log.push((kind.clone(), req.clone()));
        st.take_fault(&kind)
    };
    let okta_delay = match kind {
        Kind::Token | Kind::Device => sh.lock().okta_delay,
        _ => Duration::ZERO,
    };
    if !okta_delay.is_zero() && !sh.sleep(okta_delay) {
        return Reply::Close;
    }
    match fault {
        Some(Fault::Delay(d)) if !sh.sleep(d) => return Reply::Close,
        Some(Fault::Delay(_)) | None => {}
        Some(Fault::AfterHandling(inner)) => {
            let _lost = sh.lock().handle(&kind, &req, &sh.base);
            return fault_reply(*inner, &kind, &req);
        }
        Some(Fault::Rewrite(members)) => {
            let resp = sh.lock().handle(&kind, &req, &sh.base);
            return Reply::Full(rewrite(resp, &members));
        }
        Some(f) => return fault_reply(f, &kind, &req),
    }
    let mut st = sh.lock();
    Reply::Full(st.handle(&kind, &req, &sh.base))
}

/// `Fault::Rewrite`: raw JSON members spliced into the answer's object.
fn rewrite(resp: Resp, members: &[(&'static str, Option<&'static str>)]) -> Resp {
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&resp.body) else {
        return resp;
    };
    let mut raw_members = Vec::new();
    for (k, v) in members {
        m.remove(*k);
        if let Some(raw) = v {
            raw_members.push(format!("{}:{raw}", Value::String(k.to_string())));
        }
    }
    // Spliced as text: a number beyond u64 or f64 must reach the client verbatim.
    let mut body = Value::Object(m).to_string();
    body.pop();
    for rm in raw_members {
        if !body.ends_with('{') {
            body.push(',');
        }
        body.push_str(&rm);
    }
    body.push('}');
    Resp {
        body: body.into_bytes(),
        ..resp
    }
}

const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn fault_reply(f: Fault, kind: &Kind, req: &Request) -> Reply {
    let api_path = match kind {
        Kind::Api(p) => Some(p.as_str()),
        _ => None,
    };
    let resp = match f {
        Fault::Status {
            status,
            body,
            content_type,
            headers,
        } => Resp {
            status,
            content_type: content_type.to_string(),
            headers,
            body: body.into_bytes(),
        },
        Fault::Html502 => Resp::raw(502, "text/html", HTML_502),
        Fault::Empty(status) => Resp::raw(status, "", Vec::new()),
        Fault::Delay(_) | Fault::AfterHandling(_) | Fault::Rewrite(_) => {
            unreachable!("handled in dispatch")
        }
        Fault::Hang => return Reply::Hang,
        Fault::Close => return Reply::Close,
        Fault::ResetMidBody => {
            let mut b =
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n".to_vec();
            b.extend_from_slice(br#"{"result":"#);
            return Reply::Partial(b);
        }
        Fault::TruncatedJson => {
            let doc = match api_path {
                Some(_) => json!({"result":{"data":{"json":{
                    "id":"deal_001","name":"Globex Corporation - Platform Expansion",
                    "stage":"proposal","amount":120000,"currency":"USD"}}}}),
                None => json!({"token_type":"Bearer","expires_in":3600,
                    "access_token":"at-truncated-0000000000000000",
                    "refresh_token":"rt-truncated-0000000000000000",
                    "scope":"openid offline_access"}),
            }
            .to_string();
            Resp::raw(200, "application/json", &doc.as_bytes()[..doc.len() / 2])
        }
        Fault::Redirect(url) => {
            let status = if req.method == "GET" || req.method == "HEAD" {
                302
            } else {
                307
            };
            Resp::raw(status, "", Vec::new()).with_header("Location", url)
        }
        Fault::Oversized(n) => Resp::raw(200, "application/json", oversized(n, api_path.is_some())),
        Fault::Unauthorized => match api_path {
            Some(p) => trpc_error(p, "UNAUTHORIZED", 401, "Invalid or expired access token"),
            None => okta_error(
                401,
                "invalid_client",
                "Client authentication failed. Either the client or the client credentials are invalid.",
            ),
        },
        Fault::TrpcError { code, http, message } => trpc_error(api_path.unwrap_or(""), code, http, &message),
        Fault::OldTrpcError { http, message } => Resp::json(http, &json!({"error":{"message":message}})),
        Fault::BatchTrpcError { code, http, message } => Resp::json(
            http,
            &json!([trpc_error_value(api_path.unwrap_or(""), code, http, &message)]),
        ),
        Fault::RetryAfter { status, secs } => match api_path {
            Some(p) => {
                let code = code_for_status(status);
                trpc_error(p, code, status, "Too many requests, retry later")
                    .with_header("Retry-After", secs.to_string())
            }
            None => {
                let reset = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
                    + secs;
                let body = if status == 429 {
                    json!({"errorCode":"E0000047",
                        "errorSummary":"API call exceeded rate limit due to too many requests.",
                        "errorLink":"E0000047","errorId":"oaeFakeRateLimit","errorCauses":[]})
                } else {
                    json!({"error":"temporarily_unavailable",
                        "error_description":"The service is temporarily unavailable."})
                };
                Resp::json(status, &body)
                    .with_header("Retry-After", secs.to_string())
                    .with_header("X-Rate-Limit-Limit", "600")
                    .with_header("X-Rate-Limit-Remaining", "0")
                    .with_header("X-Rate-Limit-Reset", reset.to_string())
            }
        },
        Fault::OktaError {
            status,
            error,
            description,
        } => okta_error(status, error, &description),
    };
    Reply::Full(resp)
}

fn oversized(n: usize, api: bool) -> Vec<u8> {
    let (pre, post): (&[u8], &[u8]) = if api {
        (br#"{"result":{"data":{"json":""#, br#""}}}"#)
    } else {
        (br#"{"padding":""#, br#""}"#)
    };
    let mut b = Vec::with_capacity(n);
    if n >= pre.len() + post.len() {
        b.extend_from_slice(pre);
        b.resize(n - post.len(), b'x');
        b.extend_from_slice(post);
    } else if n >= 2 {
        b.push(b'"');
        b.resize(n - 1, b'x');
        b.push(b'"');
    } else {
        b.resize(n, b' ');
    }
    b
}

fn trpc_json_code(code: &str) -> i64 {
    match code {
        "PARSE_ERROR" => -32700,
        "BAD_REQUEST" => -32600,
        "INTERNAL_SERVER_ERROR" => -32603,
        "NOT_IMPLEMENTED" => -32603,
        "BAD_GATEWAY" => -32603,
        "SERVICE_UNAVAILABLE" => -32603,
        "GATEWAY_TIMEOUT" => -32603,
        "UNAUTHORIZED" => -32001,
        "FORBIDDEN" => -32003,
        "NOT_FOUND" => -32004,
        "METHOD_NOT_SUPPORTED" => -32005,
        "TIMEOUT" => -32008,
        "CONFLICT" => -32009,
        "PRECONDITION_FAILED" => -32012,
        "PAYLOAD_TOO_LARGE" => -32013,
        "UNSUPPORTED_MEDIA_TYPE" => -32015,
        "UNPROCESSABLE_CONTENT" => -32022,
        "TOO_MANY_REQUESTS" => -32029,
        "CLIENT_CLOSED_REQUEST" => -32099,
        _ => -32603,
    }
}

fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_SUPPORTED",
        408 => "TIMEOUT",
        409 => "CONFLICT",
        412 => "PRECONDITION_FAILED",
        413 => "PAYLOAD_TOO_LARGE",
        422 => "UNPROCESSABLE_CONTENT",
        429 => "TOO_MANY_REQUESTS",
        501 => "NOT_IMPLEMENTED",
        502 => "BAD_GATEWAY",
        503 => "SERVICE_UNAVAILABLE",
        504 => "GATEWAY_TIMEOUT",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

fn trpc_error_value(path: &str, code: &str, http: u16, message: &str) -> Value {
    json!({"error":{"json":{
        "message": message,
        "code": trpc_json_code(code),
        "data": {"code": code, "httpStatus": http, "path": path}
    }}})
}

fn trpc_error(path: &str, code: &str, http: u16, message: &str) -> Resp {
    Resp::json(http, &trpc_error_value(path, code, http, message))
}

fn okta_error(status: u16, error: &str, description: &str) -> Resp {
    Resp::json(status, &json!({"error": error, "error_description": description}))
}

fn invalid_grant() -> Resp {
    okta_error(400, "invalid_grant", "The refresh token is invalid or expired.")
}

fn discovery(base: &str, custom: bool) -> Value {
    let issuer = if custom {
        format!("{base}/oauth2/default")
    } else {
        base.to_string()
    };
    let ep = if custom {
        format!("{issuer}/v1")
    } else {
        format!("{base}/oauth2/v1")
    };
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{ep}/authorize"),
        "token_endpoint": format!("{ep}/token"),
        "userinfo_endpoint": format!("{ep}/userinfo"),
        "registration_endpoint": format!("{base}/oauth2/v1/clients"),
        "jwks_uri": format!("{ep}/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "none"],
        "grant_types_supported": [
            "authorization_code", "implicit", "refresh_token", "password",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"
        ],
        "introspection_endpoint": format!("{ep}/introspect"),
        "revocation_endpoint": format!("{ep}/revoke"),
        "end_session_endpoint": format!("{ep}/logout"),
        "device_authorization_endpoint": format!("{ep}/device/authorize"),
        "code_challenge_methods_supported": ["S256"]
    })
}

// ---------------------------------------------------------------------------
// State: Okta
// ---------------------------------------------------------------------------

struct Family {
    refresh: Vec<Rt>,
    revoked: bool,
}

struct Rt {
    token: String,
    retired: Option<Instant>,
}

struct AccessTok {
    token: String,
    family: usize,
    expires: Instant,
    revoked: bool,
}

struct State {
    close_after_answer: bool,
    log: Vec<(Kind, Request)>,
    faults: Vec<(Route, VecDeque<Fault>)>,
    connections: usize,
    access_ttl: u64,
    grace: Duration,
    rotate: bool,
    families: Vec<Family>,
    access: Vec<AccessTok>,
    reuse: usize,
    issued: Vec<String>,
    revoked: Vec<String>,
    device_interval: u64,
    device_script: Vec<DeviceStep>,
    device_step: usize,
    device_polls: Vec<Instant>,
    device_codes: Vec<(String, bool)>,
    mutations: Vec<(String, Value)>,
    data: Data,
    clock: i64,
    okta_delay: Duration,
    device_grants: Vec<DeviceGrant>,
    device_decisions: bool,
}

/// A device code's own answer, once the test decides it (`approve_device`, ...).
struct DeviceGrant {
    code: String,
    user_code: String,
    decision: Option<DeviceStep>,
}

fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut s = String::with_capacity(32);
    for _ in 0..2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(nanos);
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s
}

fn form_get(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

impl State {
    fn new() -> State {
        State {
            log: Vec::new(),
            faults: Vec::new(),
            connections: 0,
            access_ttl: 3600,
            grace: Duration::ZERO,
            rotate: true,
            families: Vec::new(),
            access: Vec::new(),
            reuse: 0,
            issued: Vec::new(),
            revoked: Vec::new(),
            device_interval: 1,
            device_script: vec![DeviceStep::Approve],
            device_step: 0,
            device_polls: Vec::new(),
            device_codes: Vec::new(),
            mutations: Vec::new(),
            data: Data::build(),
            clock: 0,
            okta_delay: Duration::ZERO,
            device_grants: Vec::new(),
            device_decisions: false,
            close_after_answer: false,
        }
    }

    fn take_fault(&mut self, kind: &Kind) -> Option<Fault> {
        let mut pop = |pred: &dyn Fn(&Route) -> bool| {
            self.faults
                .iter_mut()
                .find(|(r, q)| pred(r) && !q.is_empty())
                .and_then(|(_, q)| q.pop_front())
        };
        match kind {
            Kind::Token => pop(&|r| *r == Route::Token),
            Kind::Device => pop(&|r| *r == Route::Device),
            Kind::Revoke => pop(&|r| *r == Route::Revoke),
            Kind::Discovery { .. } => pop(&|r| *r == Route::Discovery),
            Kind::Api(p) => {
                pop(&|r| matches!(r, Route::Api(q) if q == p)).or_else(|| pop(&|r| *r == Route::AnyApi))
            }
            Kind::Other => None,
        }
    }

    fn new_family(&mut self) -> usize {
        self.families.push(Family {
            refresh: Vec::new(),
            revoked: false,
        });
        self.families.len() - 1
    }

    fn mint_refresh(&mut self, fam: usize) -> String {
        let n = self.families[fam].refresh.len();
        let token = format!("rt-{fam}-{n}-{}", random_hex());
        self.families[fam].refresh.push(Rt {
            token: token.clone(),
            retired: None,
        });
        self.issued.push(token.clone());
        token
    }

    fn mint_access(&mut self, fam: usize) -> String {
        let token = format!("at-{fam}-{}-{}", self.access.len(), random_hex());
        self.access.push(AccessTok {
            token: token.clone(),
            family: fam,
            expires: Instant::now() + Duration::from_secs(self.access_ttl),
            revoked: false,
        });
        self.issued.push(token.clone());
        token
    }

    fn revoke_family(&mut self, fam: usize) {
        self.families[fam].revoked = true;
        for at in self.access.iter_mut().filter(|a| a.family == fam) {
            at.revoked = true;
        }
    }

    fn find_refresh(&self, token: &str) -> Option<(usize, usize)> {
        self.families
            .iter()
            .enumerate()
            .find_map(|(f, fam)| fam.refresh.iter().position(|r| r.token == token).map(|i| (f, i)))
    }

    fn access_valid(&self, token: &str) -> bool {
        self.access.iter().any(|a| {
            a.token == token && !a.revoked && !self.families[a.family].revoked && Instant::now() < a.expires
        })
    }

    fn token_answer(&self, access: String, refresh: Option<String>, scope: &str) -> Resp {
        let mut m = Map::new();
        m.insert("token_type".into(), json!("Bearer"));
        m.insert("expires_in".into(), json!(self.access_ttl));
        m.insert("access_token".into(), json!(access));
        if let Some(rt) = refresh {
            m.insert("refresh_token".into(), json!(rt));
        }
        m.insert("scope".into(), json!(scope));
        Resp::json(200, &Value::Object(m))
            .with_header("Cache-Control", "no-store")
            .with_header("Pragma", "no-cache")
    }

    fn handle(&mut self, kind: &Kind, req: &Request, base: &str) -> Resp {
        match kind {
            Kind::Token | Kind::Device | Kind::Revoke if req.method != "POST" => Resp::json(
                405,
                &json!({"errorCode":"E0000022",
                    "errorSummary":"The endpoint does not support the provided HTTP method",
                    "errorLink":"E0000022","errorId":"oaeFake405","errorCauses":[]}),
            )
            .with_header("Allow", "POST"),
            Kind::Token => self.token(req),
            Kind::Device => self.device_authorize(req, base),
            Kind::Revoke => self.revoke(req),
            Kind::Discovery { custom } => {
                if req.method == "GET" {
                    Resp::json(200, &discovery(base, *custom))
                } else {
                    Resp::raw(405, "text/plain", "Method Not Allowed").with_header("Allow", "GET")
                }
            }
            Kind::Api(p) => self.api(p, req),
            Kind::Other => Resp::raw(404, "text/plain", "Not Found"),
        }
    }

    /// Checks `client_id`; `Err` is the answer to send.
    fn check_client(form: &[(String, String)]) -> Result<(), Resp> {
        match form_get(form, "client_id") {
            None => Err(okta_error(
                400,
                "invalid_request",
                "The request is missing a required parameter: client_id.",
            )),
            Some(c) if c != Fake::CLIENT_ID => Err(okta_error(
                401,
                "invalid_client",
                "Client authentication failed. Either the client or the client credentials are invalid.",
            )),
            Some(_) => Ok(()),
        }
    }

    fn token(&mut self, req: &Request) -> Resp {
        let form = form_decode(&req.body);
        let Some(grant) = form_get(&form, "grant_type") else {
            return okta_error(
                400,
                "invalid_request",
                "The request is missing a required parameter: grant_type.",
            );
        };
        if let Err(r) = Self::check_client(&form) {
            return r;
        }
        match grant.as_str() {
            "refresh_token" => self.refresh(&form),
            "urn:ietf:params:oauth:grant-type:device_code" => self.device_poll(&form),
            _ => okta_error(
                400,
                "unsupported_grant_type",
                &format!(
                    "The authorization grant type is not supported by the authorization server. Configured grant types: [refresh_token, urn:ietf:params:oauth:grant-type:device_code]. Got: {grant}"
                ),
            ),
        }
    }

    fn refresh(&mut self, form: &[(String, String)]) -> Resp {
        let Some(rt) = form_get(form, "refresh_token") else {
            return okta_error(
                400,
                "invalid_request",
                "The request is missing a required parameter: refresh_token.",
            );
        };
        let Some((f, i)) = self.find_refresh(&rt) else {
            return invalid_grant();
        };
        if self.families[f].revoked {
            return invalid_grant();
        }
        let scope = "openid offline_access";
        match self.families[f].refresh[i].retired {
            None => {
                let at = self.mint_access(f);
                if self.rotate {
                    let new = self.mint_refresh(f);
                    self.families[f].refresh[i].retired = Some(Instant::now());
                    self.token_answer(at, Some(new), scope)
                } else {
                    self.token_answer(at, None, scope)
                }
            }
            Some(t) if t.elapsed() < self.grace => {
                let at = self.mint_access(f);
                let newest = self.families[f]
                    .refresh
                    .last()
                    .map(|r| r.token.clone())
                    .unwrap_or(rt);
                self.token_answer(at, Some(newest), scope)
            }
            Some(_) => {
                self.reuse += 1;
                self.revoke_family(f);
                invalid_grant()
            }
        }
    }

    fn device_authorize(&mut self, req: &Request, base: &str) -> Resp {
        let form = form_decode(&req.body);
        if let Err(r) = Self::check_client(&form) {
            return r;
        }
        let scope = form_get(&form, "scope").unwrap_or_default();
        let offline = scope.split(' ').any(|s| s == "offline_access");
        let code = format!("dc-{}", random_hex());
        self.issued.push(code.clone());
        self.device_codes.push((code.clone(), offline));
        let user_code = if self.device_decisions {
            format!("WDJB-{:04}", self.device_grants.len() + 1)
        } else {
            "ABCD-EFGH".to_string()
        };
        self.device_grants.push(DeviceGrant {
            code: code.clone(),
            user_code: user_code.clone(),
            decision: None,
        });
        Resp::json(
            200,
            &json!({
                "device_code": code,
                "user_code": user_code,
                "verification_uri": format!("{base}/activate"),
                "verification_uri_complete": format!("{base}/activate?user_code={user_code}"),
                "expires_in": 600,
                "interval": self.device_interval
            }),
        )
    }

    fn device_poll(&mut self, form: &[(String, String)]) -> Resp {
        let Some(code) = form_get(form, "device_code") else {
            return okta_error(
                400,
                "invalid_request",
                "The request is missing a required parameter: device_code.",
            );
        };
        self.device_polls.push(Instant::now());
        let Some(offline) = self
            .device_codes
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, o)| *o)
        else {
            return okta_error(400, "invalid_grant", "The device code is invalid or has expired.");
        };
        let step = if self.device_decisions {
            let grant = self.device_grants.iter_mut().find(|g| g.code == code);
            match grant.map(|g| (g.decision.clone(), &mut g.decision)) {
                Some((None, _)) => DeviceStep::Pending,
                // A device code is used once: approved, it is spent.
                Some((Some(DeviceStep::Approve), d)) => {
                    *d = Some(DeviceStep::Expire);
                    DeviceStep::Approve
                }
                Some((Some(step), _)) => step,
                None => DeviceStep::Expire,
            }
        } else {
            let idx = self.device_step.min(self.device_script.len() - 1);
            self.device_step += 1;
            self.device_script[idx].clone()
        };
        match step {
            DeviceStep::Pending => okta_error(
                400,
                "authorization_pending",
                "The device authorization is pending. Please try again later.",
            ),
            DeviceStep::SlowDown => okta_error(
                400,
                "slow_down",
                "The client is polling too frequently. Increase the polling interval.",
            ),
            DeviceStep::Deny => okta_error(
                400,
                "access_denied",
                "The resource owner or authorization server denied the request.",
            ),
            DeviceStep::Expire => okta_error(400, "expired_token", "The device code has expired."),
            DeviceStep::Approve => {
                let fam = self.new_family();
                let at = self.mint_access(fam);
                let rt = offline.then(|| self.mint_refresh(fam));
                let scope = if offline {
                    "openid profile offline_access"
                } else {
                    "openid profile"
                };
                self.token_answer(at, rt, scope)
            }
        }
    }

    fn revoke(&mut self, req: &Request) -> Resp {
        let form = form_decode(&req.body);
        if let Err(r) = Self::check_client(&form) {
            return r;
        }
        let Some(token) = form_get(&form, "token") else {
            return okta_error(
                400,
                "invalid_request",
                "The request is missing a required parameter: token.",
            );
        };
        self.revoked.push(token.clone());
        if let Some((f, _)) = self.find_refresh(&token) {
            self.revoke_family(f);
        }
        for at in self.access.iter_mut().filter(|a| a.token == token) {
            at.revoked = true;
        }
        Resp::raw(200, "", Vec::new())
    }
}

// ---------------------------------------------------------------------------
// Calendar helpers
// ---------------------------------------------------------------------------

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
}

fn fmt_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn fmt_dt(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        fmt_date(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// ISO 8601 date-time with `Z` or `±HH:MM`; fractions ignored.
fn parse_datetime(s: &str) -> Option<i64> {
    if s.len() < 17 || !s.is_char_boundary(10) || !matches!(&s[10..11], "T" | "t") {
        return None;
    }
    let days = parse_date(&s[..10])?;
    let rest = &s[11..];
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (t, sign * (digits(oh)? * 3600 + digits(om)? * 60))
    };
    let time = time.split('.').next()?;
    let mut it = time.split(':');
    let h = digits(it.next()?)?;
    let mi = digits(it.next()?)?;
    let sec = match it.next() {
        Some(x) => digits(x)?,
        None => 0,
    };
    if it.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days * 86400 + h * 3600 + mi * 60 + sec - offset)
}

fn today() -> i64 {
    parse_date(FAKE_TODAY).expect("FAKE_TODAY is a valid date")
}

fn base_now() -> i64 {
    today() * 86400 + 15 * 3600
}

struct Period {
    key: String,
    label: String,
    start: i64,
    end: i64,
    months: i64,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn quarter(y: i64, q: i64) -> Period {
    let start = days_from_civil(y, 3 * q - 2, 1);
    let end = if q == 4 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, 3 * q + 1, 1)
    } - 1;
    Period {
        key: format!("{y}-Q{q}"),
        label: format!("Q{q} FY{y}"),
        start,
        end,
        months: 3,
    }
}

fn resolve_period(s: &str) -> Option<Period> {
    let (ty, tm, _) = civil_from_days(today());
    let tq = (tm - 1) / 3 + 1;
    match s {
        "current_quarter" => Some(quarter(ty, tq)),
        "next_quarter" => Some(if tq == 4 {
            quarter(ty + 1, 1)
        } else {
            quarter(ty, tq + 1)
        }),
        "previous_quarter" => Some(if tq == 1 {
            quarter(ty - 1, 4)
        } else {
            quarter(ty, tq - 1)
        }),
        "current_month" => Some(Period {
            key: format!("{ty:04}-{tm:02}"),
            label: format!("{} {ty}", MONTHS[(tm - 1) as usize]),
            start: days_from_civil(ty, tm, 1),
            end: days_from_civil(ty, tm, 1) + days_in_month(ty, tm) - 1,
            months: 1,
        }),
        _ => {
            let b = s.as_bytes();
            if b.len() == 7 && &s[4..6] == "-Q" && (b'1'..=b'4').contains(&b[6]) {
                Some(quarter(digits(&s[..4])?, i64::from(b[6] - b'0')))
            } else {
                None
            }
        }
    }
}

fn period_json(p: &Period) -> Value {
    json!({"key": p.key, "label": p.label, "start": fmt_date(p.start), "end": fmt_date(p.end)})
}

// ---------------------------------------------------------------------------
// Canned data
// ---------------------------------------------------------------------------

pub const STAGES: [&str; 7] = [
    "prospecting",
    "qualification",
    "discovery",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
];
const OPEN_STAGES: [&str; 5] = [
    "prospecting",
    "qualification",
    "discovery",
    "proposal",
    "negotiation",
];
const ACT_TYPES: [&str; 4] = ["call", "email", "meeting", "note"];
const STATUSES: [&str; 4] = ["open", "won", "lost", "all"];
const SORTS: [&str; 3] = ["closeDate", "amount", "updatedAt"];

struct Owner {
    id: &'static str,
    name: &'static str,
    email: &'static str,
    team: &'static str,
    title: &'static str,
    quota: i64,
}

const OWNERS: [Owner; 6] = [
    Owner {
        id: "usr_001",
        name: "Ava Chen",
        email: "ava.chen@acme.example",
        team: "Enterprise",
        title: "Account Executive",
        quota: 300_000,
    },
    Owner {
        id: "usr_002",
        name: "Ben Okafor",
        email: "ben.okafor@acme.example",
        team: "Enterprise",
        title: "Senior Account Executive",
        quota: 450_000,
    },
    Owner {
        id: "usr_003",
        name: "Carla Reyes",
        email: "carla.reyes@acme.example",
        team: "Mid-Market",
        title: "Account Executive",
        quota: 200_000,
    },
    Owner {
        id: "usr_004",
        name: "Dev Patel",
        email: "dev.patel@acme.example",
        team: "Mid-Market",
        title: "Account Executive",
        quota: 200_000,
    },
    Owner {
        id: "usr_005",
        name: "Erin Walsh",
        email: "erin.walsh@acme.example",
        team: "Enterprise",
        title: "Sales Director",
        quota: 150_000,
    },
    Owner {
        id: VIEWER_ID,
        name: "Dana Analyst",
        email: "dana.analyst@acme.example",
        team: "Revenue Operations",
        title: "Sales Operations Analyst",
        quota: 0,
    },
];
const VIEWER_IDX: usize = 5;

// (name, domain, industry, employees, owner index, arr)
const ACCOUNTS: [(&str, &str, &str, i64, usize, i64); 8] = [
    (
        "Globex Corporation",
        "globex.example",
        "Manufacturing",
        12000,
        1,
        480_000,
    ),
    ("Initech", "initech.example", "Software", 850, 0, 96_000),
    (
        "Umbrella Health",
        "umbrella-health.example",
        "Healthcare",
        5400,
        1,
        310_000,
    ),
    (
        "Stark Logistics",
        "stark-logistics.example",
        "Logistics",
        2300,
        2,
        150_000,
    ),
    (
        "Wayne Financial",
        "wayne-financial.example",
        "Financial Services",
        9100,
        4,
        720_000,
    ),
    (
        "Müller & Söhne GmbH",
        "mueller-soehne.example",
        "Manufacturing",
        640,
        3,
        42_000,
    ),
    ("Hooli", "hooli.example", "Software", 30000, 0, 0),
    (
        "Vandelay Industries",
        "vandelay.example",
        "Import/Export",
        120,
        2,
        18_000,
    ),
];

const FIRST: [&str; 24] = [
    "Priya", "Marcus", "Sofia", "Liam", "Hannah", "Kenji", "Olivia", "Mateo", "Grace", "Tomas", "Aisha",
    "Noah", "Elena", "Samuel", "Yuki", "Isabel", "Omar", "Chloe", "Lucas", "Nadia", "Felix", "Maya", "Arjun",
    "Zoe",
];
const LAST: [&str; 24] = [
    "Sharma",
    "Lindqvist",
    "Rossi",
    "Murphy",
    "Becker",
    "Tanaka",
    "Nguyen",
    "Garcia",
    "Kim",
    "Novak",
    "Hassan",
    "Fischer",
    "Petrova",
    "Adeyemi",
    "Sato",
    "Moreau",
    "Haddad",
    "Dubois",
    "Silva",
    "Kowalski",
    "Weber",
    "Cohen",
    "Iyer",
    "Brennan",
];
const CONTACT_TITLES: [(&str, &str); 3] = [
    ("VP Operations", "economic_buyer"),
    ("Director of IT", "champion"),
    ("Procurement Manager", "influencer"),
];
const PRODUCTS: [&str; 7] = [
    "Platform Expansion",
    "Annual Renewal",
    "Analytics Add-on",
    "Pilot",
    "Enterprise Upgrade",
    "Security Suite",
    "Data Migration",
];
const NEXT_STEPS: [&str; 6] = [
    "Send revised proposal",
    "Schedule technical deep-dive",
    "Security review with IT",
    "Confirm budget with CFO",
    "Legal redlines on MSA",
    "Executive sponsor call",
];
const STAGE_PATTERN: [&str; 10] = [
    "prospecting",
    "qualification",
    "discovery",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
    "discovery",
    "proposal",
    "negotiation",
];

struct Contact {
    id: String,
    name: String,
    title: &'static str,
    email: String,
    role: &'static str,
}

struct AccountRec {
    id: String,
    name: &'static str,
    domain: &'static str,
    industry: &'static str,
    employees: i64,
    owner: usize,
    arr: i64,
    contacts: Vec<Contact>,
}

struct DealRec {
    id: String,
    name: String,
    account: usize,
    owner: usize,
    stage: &'static str,
    amount: i64,
    close: i64,
    slipped_from: Option<i64>,
    next_step: Option<String>,
    next_step_date: Option<i64>,
    created: i64,
    updated: i64,
    history: Vec<(&'static str, i64)>,
    contacts: usize,
}

struct ActRec {
    id: String,
    kind: &'static str,
    subject: String,
    body: String,
    deal: Option<usize>,
    account: usize,
    owner: usize,
    at: i64,
}

struct Submission {
    key: String,
    commit: f64,
    best_case: f64,
    note: Option<String>,
    at: i64,
}

struct Data {
    accounts: Vec<AccountRec>,
    deals: Vec<DealRec>,
    acts: Vec<ActRec>,
    submissions: Vec<Submission>,
}

fn probability(stage: &str) -> i64 {
    match stage {
        "prospecting" => 10,
        "qualification" => 20,
        "discovery" => 30,
        "proposal" => 50,
        "negotiation" => 70,
        "closed_won" => 100,
        _ => 0,
    }
}

fn status_of(stage: &str) -> &'static str {
    match stage {
        "closed_won" => "won",
        "closed_lost" => "lost",
        _ => "open",
    }
}

fn forecast_category(stage: &str) -> &'static str {
    match stage {
        "closed_won" => "closed",
        "closed_lost" => "omitted",
        "negotiation" => "commit",
        "proposal" => "best_case",
        _ => "pipeline",
    }
}

/// Number as JSON: integral values as integers.
fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl Data {
    fn build() -> Data {
        let now = base_now();
        let accounts: Vec<AccountRec> = ACCOUNTS
            .iter()
            .enumerate()
            .map(|(a, &(name, domain, industry, employees, owner, arr))| {
                let contacts = (0..3)
                    .map(|k| {
                        let j = a * 3 + k;
                        let (first, last) = (FIRST[j], LAST[(j * 7) % 24]);
                        Contact {
                            id: format!("con_{:03}", j + 1),
                            name: format!("{first} {last}"),
                            title: CONTACT_TITLES[k].0,
                            email: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
                            role: CONTACT_TITLES[k].1,
                        }
                    })
                    .collect();
                AccountRec {
                    id: format!("acc_{:03}", a + 1),
                    name,
                    domain,
                    industry,
                    employees,
                    owner,
                    arr,
                    contacts,
                }
            })
            .collect();

        let mut deals = Vec::new();
        for i in 0..30usize {
            let ii = i as i64;
            let account = i % 8;
            let owner = i % 5;
            let stage = STAGE_PATTERN[i % 10];
            let open = status_of(stage) == "open";
            let amount = if i == 12 {
                450_000
            } else {
                5_000 * (2 + (ii * 7) % 23)
            };
            let close = if open {
                today() + (ii * 37) % 150 - 30
            } else {
                today() - ((ii * 13) % 60 + 5)
            };
            let slipped_from = (open && i % 4 == 1).then_some(close - 21);
            let (next_step, next_step_date) = if stage == "closed_lost" || (open && i % 7 == 3) {
                (None, None)
            } else if stage == "closed_won" {
                (
                    Some("Kickoff with implementation team".to_string()),
                    Some(today() + 7),
                )
            } else {
                (Some(NEXT_STEPS[i % 6].to_string()), Some(today() + ii % 9 + 1))
            };
            let created = now - (90 + ii * 4) * 86400 - ii * 3671;
            let entered = now - ((ii * 11) % 60 + 1) * 86400 - ii * 1234;
            let path: Vec<&'static str> = match stage {
                "closed_won" => STAGES[..6].to_vec(),
                "closed_lost" => {
                    let mut p = STAGES[..=(1 + i % 4)].to_vec();
                    p.push("closed_lost");
                    p
                }
                s => {
                    let pos = STAGES.iter().position(|x| *x == s).unwrap_or(0);
                    STAGES[..=pos].to_vec()
                }
            };
            let steps = path.len() as i64;
            let history = path
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let k = k as i64;
                    // First stage at creation, current stage at `entered`, others between.
                    let at = if k == 0 {
                        created
                    } else {
                        created + (entered - created) * k / (steps - 1)
                    };
                    (*s, at)
                })
                .collect();
            deals.push(DealRec {
                id: format!("deal_{:03}", i + 1),
                name: format!("{} - {}", ACCOUNTS[account].0, PRODUCTS[i % 7]),
                account,
                owner,
                stage,
                amount,
                close,
                slipped_from,
                next_step,
                next_step_date,
                created,
                updated: entered,
                history,
                contacts: 1 + i % 3,
            });
        }

        let mut acts = Vec::new();
        for (i, d) in deals.iter().enumerate() {
            let ii = i as i64;
            let product = PRODUCTS[i % 7];
            let contact = &accounts[d.account].contacts[0];
            let first = contact.name.split(' ').next().unwrap_or("");
            for k in 0..2i64 {
                let kind = ACT_TYPES[(i + k as usize) % 4];
                let days_ago = (ii * 5) % 40 + 1 + k * 9;
                let at = now - days_ago * 86400 - (ii * 977 + k * 1800) % 20000;
                let (subject, body) = match kind {
                    "call" => (
                        format!("Call with {first} about {product}"),
                        format!(
                            "Walked {} through pricing tiers; wants a follow-up on rollout timeline.",
                            contact.name
                        ),
                    ),
                    "email" => (
                        format!("Follow-up: {product} proposal"),
                        "Sent the updated quote and the security questionnaire.".to_string(),
                    ),
                    "meeting" => (
                        format!("Meeting: {product} review"),
                        format!(
                            "Met with {} and the project team to review scope and success criteria.",
                            contact.name
                        ),
                    ),
                    _ => (
                        format!("Note on {}", d.name),
                        "Budget approved in principle; procurement involved next quarter.".to_string(),
                    ),
                };
                acts.push(ActRec {
                    id: String::new(),
                    kind,
                    subject,
                    body,
                    deal: Some(i),
                    account: d.account,
                    owner: d.owner,
                    at,
                });
            }
        }
        for (a, acc) in accounts.iter().enumerate() {
            acts.push(ActRec {
                id: String::new(),
                kind: "note",
                subject: format!("Quarterly account review: {}", acc.name),
                body: "Reviewed adoption metrics and renewal risks with the account team.".into(),
                deal: None,
                account: a,
                owner: acc.owner,
                at: now - (a as i64 * 3 + 2) * 86400 - 3600,
            });
        }
        acts.sort_by_key(|a| a.at);
        for (n, a) in acts.iter_mut().enumerate() {
            a.id = format!("act_{:04}", n + 1);
        }
        let mut data = Data {
            accounts,
            deals,
            acts,
            submissions: Vec::new(),
        };
        for i in 0..data.deals.len() {
            if let Some(last) = data.last_activity_deal(i) {
                data.deals[i].updated = data.deals[i].updated.max(last);
            }
        }
        data
    }

    fn last_activity_deal(&self, deal: usize) -> Option<i64> {
        self.acts
            .iter()
            .filter(|a| a.deal == Some(deal))
            .map(|a| a.at)
            .max()
    }

    fn last_activity_account(&self, acc: usize) -> Option<i64> {
        self.acts.iter().filter(|a| a.account == acc).map(|a| a.at).max()
    }

    fn deal_idx(&self, id: &str) -> Option<usize> {
        self.deals.iter().position(|d| d.id == id)
    }

    fn account_idx(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }

    fn deal_summary(&self, d: &DealRec) -> Value {
        let acc = &self.accounts[d.account];
        let owner = &OWNERS[d.owner];
        json!({
            "id": d.id,
            "name": d.name,
            "url": format!("{WEB}/deals/{}", d.id),
            "accountId": acc.id,
            "accountName": acc.name,
            "ownerId": owner.id,
            "ownerName": owner.name,
            "stage": d.stage,
            "amount": d.amount,
            "currency": "USD",
            "probability": probability(d.stage),
            "closeDate": fmt_date(d.close),
            "status": status_of(d.stage),
            "forecastCategory": forecast_category(d.stage),
        })
    }

    fn risks(&self, i: usize) -> Vec<(&'static str, String)> {
        let d = &self.deals[i];
        let mut out = Vec::new();
        if status_of(d.stage) != "open" {
            return out;
        }
        let now = base_now();
        let entered = d.history.last().map(|h| h.1).unwrap_or(d.created);
        let in_stage = (now - entered) / 86400;
        if in_stage > 30 {
            out.push(("stalled", format!("In {} for {in_stage} days", d.stage)));
        }
        if d.next_step.is_none() {
            out.push(("no_next_step", "No next step recorded".to_string()));
        }
        if let Some(from) = d.slipped_from {
            out.push((
                "close_date_slipped",
                format!(
                    "Close date moved from {} to {}",
                    fmt_date(from),
                    fmt_date(d.close)
                ),
            ));
        }
        if d.close < today() {
            out.push((
                "close_date_past",
                format!("Close date {} is in the past", fmt_date(d.close)),
            ));
        }
        if d.contacts <= 1 {
            out.push(("single_threaded", "Only one contact engaged".to_string()));
        }
        let last = self.last_activity_deal(i).unwrap_or(d.created);
        let idle = (now - last) / 86400;
        if idle > 14 {
            out.push(("no_recent_activity", format!("No activity for {idle} days")));
        }
        out
    }

    fn deal_full(&self, i: usize) -> Value {
        let d = &self.deals[i];
        let mut v = self.deal_summary(d);
        let acc = &self.accounts[d.account];
        let m = v.as_object_mut().expect("object");
        m.insert("nextStep".into(), json!(d.next_step));
        m.insert("nextStepDate".into(), json!(d.next_step_date.map(fmt_date)));
        m.insert("createdAt".into(), json!(fmt_dt(d.created)));
        m.insert("updatedAt".into(), json!(fmt_dt(d.updated)));
        m.insert(
            "lastActivityAt".into(),
            json!(self.last_activity_deal(i).map(fmt_dt)),
        );
        m.insert(
            "contacts".into(),
            Value::Array(
                acc.contacts[..d.contacts.min(acc.contacts.len())]
                    .iter()
                    .map(contact_json)
                    .collect(),
            ),
        );
        m.insert(
            "stageHistory".into(),
            Value::Array(
                d.history
                    .iter()
                    .map(|(s, at)| json!({"stage": s, "enteredAt": fmt_dt(*at)}))
                    .collect(),
            ),
        );
        m.insert(
            "riskFlags".into(),
            Value::Array(self.risks(i).into_iter().map(|(c, _)| json!(c)).collect()),
        );
        v
    }

    fn account_json(&self, a: usize) -> Value {
        let acc = &self.accounts[a];
        let open: Vec<&DealRec> = self
            .deals
            .iter()
            .filter(|d| d.account == a && status_of(d.stage) == "open")
            .collect();
        json!({
            "id": acc.id,
            "name": acc.name,
            "url": format!("{WEB}/accounts/{}", acc.id),
            "domain": acc.domain,
            "industry": acc.industry,
            "employees": acc.employees,
            "ownerId": OWNERS[acc.owner].id,
            "ownerName": OWNERS[acc.owner].name,
            "arr": acc.arr,
            "openDealCount": open.len(),
            "openPipeline": open.iter().map(|d| d.amount).sum::<i64>(),
            "lastActivityAt": self.last_activity_account(a).map(fmt_dt),
        })
    }

    fn activity_json(&self, a: &ActRec) -> Value {
        json!({
            "id": a.id,
            "type": a.kind,
            "subject": a.subject,
            "body": a.body,
            "dealId": a.deal.map(|d| self.deals[d].id.clone()),
            "accountId": self.accounts[a.account].id,
            "ownerId": OWNERS[a.owner].id,
            "occurredAt": fmt_dt(a.at),
        })
    }

    fn owner_set(ids: &Option<Vec<String>>) -> Vec<usize> {
        (0..OWNERS.len())
            .filter(|&o| {
                ids.as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| id == OWNERS[o].id))
            })
            .collect()
    }

    fn forecast_json(&self, p: &Period, owner: Option<usize>) -> Value {
        let owners: Vec<usize> = match owner {
            Some(o) => vec![o],
            None => (0..OWNERS.len()).collect(),
        };
        let quota = owners.iter().map(|&o| OWNERS[o].quota).sum::<i64>() * p.months / 3;
        let in_period = |d: &&DealRec| owners.contains(&d.owner) && d.close >= p.start && d.close <= p.end;
        let sum_cat = |cat: &str| -> i64 {
            self.deals
                .iter()
                .filter(in_period)
                .filter(|d| forecast_category(d.stage) == cat)
                .map(|d| d.amount)
                .sum()
        };
        let closed_won = sum_cat("closed") as f64;
        let mut commit = closed_won + sum_cat("commit") as f64;
        let mut best_case = commit + sum_cat("best_case") as f64;
        let pipeline: i64 = self
            .deals
            .iter()
            .filter(in_period)
            .filter(|d| status_of(d.stage) == "open")
            .map(|d| d.amount)
            .sum();
        let mut submitted_at = Value::Null;
        let mut note = Value::Null;
        if owner.is_none()
            && let Some(s) = self.submissions.iter().find(|s| s.key == p.key)
        {
            commit = s.commit;
            best_case = s.best_case;
            submitted_at = json!(fmt_dt(s.at));
            note = json!(s.note);
        }
        let q = quota as f64;
        let attainment = if quota > 0 {
            round_to(closed_won / q * 100.0, 1)
        } else {
            0.0
        };
        json!({
            "period": period_json(p),
            "ownerId": owner.map(|o| OWNERS[o].id),
            "quota": quota,
            "closedWon": num(closed_won),
            "commit": num(commit),
            "bestCase": num(best_case),
            "pipeline": pipeline,
            "attainmentPct": num(attainment),
            "gapToQuota": num((q - commit).max(0.0)),
            "submittedAt": submitted_at,
            "note": note,
        })
    }
}

fn contact_json(c: &Contact) -> Value {
    json!({"id": c.id, "name": c.name, "title": c.title, "email": c.email, "role": c.role})
}

// ---------------------------------------------------------------------------
// tRPC API
// ---------------------------------------------------------------------------

/// (procedure, is_mutation)
const PROCEDURES: [(&str, bool); 15] = [
    ("viewer.get", false),
    ("owners.list", false),
    ("deals.list", false),
    ("deals.get", false),
    ("pipeline.summary", false),
    ("forecast.get", false),
    ("insights.dealRisks", false),
    ("accounts.list", false),
    ("accounts.get", false),
    ("activities.list", false),
    ("deals.updateStage", true),
    ("deals.setNextStep", true),
    ("activities.log", true),
    ("forecast.submit", true),
    ("test.big", false),
];

struct ApiErr {
    code: &'static str,
    http: u16,
    message: String,
}

type ApiResult = Result<Value, ApiErr>;

fn bad(message: impl Into<String>) -> ApiErr {
    ApiErr {
        code: "BAD_REQUEST",
        http: 400,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> ApiErr {
    ApiErr {
        code: "NOT_FOUND",
        http: 404,
        message: message.into(),
    }
}

type Input = Map<String, Value>;

fn opt_str(m: &Input, k: &str) -> Result<Option<String>, ApiErr> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{k}: Expected string"))),
    }
}

fn req_str(m: &Input, k: &str) -> Result<String, ApiErr> {
    opt_str(m, k)?.ok_or_else(|| bad(format!("{k}: Required")))
}

fn opt_str_list(m: &Input, k: &str) -> Result<Option<Vec<String>>, ApiErr> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("{k}: Expected array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(format!("{k}: Expected array"))),
    }
}

fn pick(allowed: &[&'static str], v: &str) -> Option<&'static str> {
    allowed.iter().copied().find(|a| *a == v)
}

fn opt_enum(m: &Input, k: &str, allowed: &[&'static str]) -> Result<Option<&'static str>, ApiErr> {
    match opt_str(m, k)? {
        None => Ok(None),
        Some(s) => pick(allowed, &s).map(Some).ok_or_else(|| {
            bad(format!(
                "{k}: Invalid enum value. Expected {}, received '{s}'",
                allowed
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ))
        }),
    }
}

fn opt_enum_list(m: &Input, k: &str, allowed: &[&'static str]) -> Result<Option<Vec<&'static str>>, ApiErr> {
    match opt_str_list(m, k)? {
        None => Ok(None),
        Some(list) => list
            .iter()
            .map(|s| pick(allowed, s).ok_or_else(|| bad(format!("{k}: Invalid enum value '{s}'"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn opt_num(m: &Input, k: &str) -> Result<Option<f64>, ApiErr> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(bad(format!("{k}: Expected number"))),
    }
}

fn opt_date(m: &Input, k: &str) -> Result<Option<i64>, ApiErr> {
    match opt_str(m, k)? {
        None => Ok(None),
        Some(s) => parse_date(&s)
            .map(Some)
            .ok_or_else(|| bad(format!("{k}: Invalid date '{s}', expected YYYY-MM-DD"))),
    }
}

fn opt_datetime(m: &Input, k: &str) -> Result<Option<i64>, ApiErr> {
    match opt_str(m, k)? {
        None => Ok(None),
        Some(s) => parse_datetime(&s)
            .map(Some)
            .ok_or_else(|| bad(format!("{k}: Invalid datetime '{s}'"))),
    }
}

fn check_len(k: &str, s: &str, min: usize, max: usize) -> Result<(), ApiErr> {
    let n = s.chars().count();
    if n < min {
        return Err(bad(format!(
            "{k}: String must contain at least {min} character(s)"
        )));
    }
    if n > max {
        return Err(bad(format!(
            "{k}: String must contain at most {max} character(s)"
        )));
    }
    Ok(())
}

fn opt_limit(m: &Input, default: usize) -> Result<usize, ApiErr> {
    match m.get("limit") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => Ok(n as usize),
            _ => Err(bad("limit: must be an integer from 1 to 100")),
        },
    }
}

fn page_params(m: &Input) -> Result<(usize, usize), ApiErr> {
    let limit = opt_limit(m, 25)?;
    let offset = match opt_str(m, "cursor")? {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| bad(format!("cursor: invalid cursor '{c}'")))?,
    };
    Ok((offset, limit))
}

fn list_page(items: Vec<Value>, offset: usize, limit: usize) -> Value {
    let total = items.len();
    let end = (offset + limit).min(total);
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .collect();
    let next = (offset + limit < total).then(|| (offset + limit).to_string());
    json!({"items": page, "nextCursor": next, "total": total})
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn req_period(m: &Input) -> Result<Period, ApiErr> {
    let s = req_str(m, "period")?;
    resolve_period(&s).ok_or_else(|| {
        bad(format!(
            "period: Invalid period '{s}'. Expected current_quarter, next_quarter, previous_quarter, current_month or YYYY-Qn"
        ))
    })
}

impl State {
    fn api(&mut self, proc_name: &str, req: &Request) -> Resp {
        let Some(&(_, is_mutation)) = PROCEDURES.iter().find(|(p, _)| *p == proc_name) else {
            return trpc_error(
                proc_name,
                "NOT_FOUND",
                404,
                &format!("No procedure found on path \"{proc_name}\""),
            );
        };
        let method_ok = if is_mutation {
            req.method == "POST"
        } else {
            req.method == "GET"
        };
        if !method_ok {
            let kind = if is_mutation { "mutation" } else { "query" };
            return trpc_error(
                proc_name,
                "METHOD_NOT_SUPPORTED",
                405,
                &format!(
                    "Unsupported {}-request to {kind} procedure at path \"{proc_name}\"",
                    req.method
                ),
            );
        }
        let token = req
            .header("authorization")
            .and_then(|h| {
                let (scheme, tok) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim())
            })
            .filter(|t| !t.is_empty());
        let auth_msg = match token {
            None => Some("Missing bearer token"),
            Some(t) if !self.access_valid(t) => Some("Invalid or expired access token"),
            Some(_) => None,
        };
        if let Some(msg) = auth_msg {
            return trpc_error(proc_name, "UNAUTHORIZED", 401, msg)
                .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        }
        let raw = if is_mutation {
            if req.body.trim().is_empty() {
                None
            } else {
                Some(req.body.clone())
            }
        } else {
            req.query_param("input")
        };
        let input = match raw {
            None => Value::Null,
            Some(s) => match serde_json::from_str::<Value>(&s) {
                Ok(env) => env.get("json").cloned().unwrap_or(Value::Null),
                Err(e) => {
                    return trpc_error(proc_name, "BAD_REQUEST", 400, &format!("Invalid JSON input: {e}"));
                }
            },
        };
        let map = match &input {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                let t = match other {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    _ => "boolean",
                };
                return trpc_error(
                    proc_name,
                    "BAD_REQUEST",
                    400,
                    &format!("Expected object, received {t}"),
                );
            }
        };
        match self.call(proc_name, &map) {
            Ok(out) => {
                if is_mutation {
                    self.mutations.push((proc_name.to_string(), input));
                }
                let mut data = Map::new();
                data.insert("json".into(), out);
                if proc_name == "deals.get" {
                    data.insert(
                        "meta".into(),
                        json!({"values":{"createdAt":["Date"],"updatedAt":["Date"],"lastActivityAt":["Date"]},"v":1}),
                    );
                }
                Resp::json(200, &json!({"result": {"data": Value::Object(data)}}))
            }
            Err(e) => trpc_error(proc_name, e.code, e.http, &e.message),
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        base_now() + self.clock * 60
    }

    fn call(&mut self, proc_name: &str, m: &Input) -> ApiResult {
        let d = &self.data;
        match proc_name {
            "viewer.get" => Ok(json!({
                "user": {"id": VIEWER_ID, "name": "Dana Analyst", "email": "dana.analyst@acme.example", "role": "analyst"},
                "org": {"id": "org_acme", "name": "Acme Corp", "currency": "USD", "fiscalYearStartMonth": 1},
                "permissions": ["deals:read", "deals:write", "accounts:read", "activities:read",
                    "activities:write", "forecast:read", "forecast:submit", "insights:read"],
            })),
            "owners.list" => {
                let query = opt_str(m, "query")?;
                let team = opt_str(m, "team")?;
                let (off, lim) = page_params(m)?;
                let items = OWNERS
                    .iter()
                    .filter(|o| {
                        query
                            .as_ref()
                            .is_none_or(|q| contains_ci(o.name, q) || contains_ci(o.email, q))
                    })
                    .filter(|o| team.as_ref().is_none_or(|t| o.team.eq_ignore_ascii_case(t)))
                    .map(|o| json!({"id": o.id, "name": o.name, "email": o.email, "team": o.team, "title": o.title}))
                    .collect();
                Ok(list_page(items, off, lim))
            }
            "deals.list" => {
                let query = opt_str(m, "query")?;
                let stages = opt_enum_list(m, "stages", &STAGES)?;
                let owners = opt_str_list(m, "ownerIds")?;
                let account = opt_str(m, "accountId")?;
                let status = opt_enum(m, "status", &STATUSES)?.unwrap_or("open");
                let from = opt_date(m, "closeDateFrom")?;
                let to = opt_date(m, "closeDateTo")?;
                let min_amount = opt_num(m, "minAmount")?;
                let sort = opt_enum(m, "sort", &SORTS)?.unwrap_or("closeDate");
                let (off, lim) = page_params(m)?;
                let mut hits: Vec<&DealRec> = d
                    .deals
                    .iter()
                    .filter(|x| {
                        query.as_ref().is_none_or(|q| {
                            contains_ci(&x.name, q) || contains_ci(d.accounts[x.account].name, q)
                        })
                    })
                    .filter(|x| stages.as_ref().is_none_or(|s| s.contains(&x.stage)))
                    .filter(|x| {
                        owners
                            .as_ref()
                            .is_none_or(|o| o.iter().any(|id| id == OWNERS[x.owner].id))
                    })
                    .filter(|x| account.as_ref().is_none_or(|a| *a == d.accounts[x.account].id))
                    .filter(|x| status == "all" || status_of(x.stage) == status)
                    .filter(|x| from.is_none_or(|f| x.close >= f))
                    .filter(|x| to.is_none_or(|t| x.close <= t))
                    .filter(|x| min_amount.is_none_or(|a| x.amount as f64 >= a))
                    .collect();
                match sort {
                    "amount" => hits.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.id.cmp(&b.id))),
                    "updatedAt" => hits.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.id.cmp(&b.id))),
                    _ => hits.sort_by(|a, b| a.close.cmp(&b.close).then(a.id.cmp(&b.id))),
                }
                let items = hits.into_iter().map(|x| d.deal_summary(x)).collect();
                Ok(list_page(items, off, lim))
            }
            "deals.get" => {
                let id = req_str(m, "dealId")?;
                let i = d
                    .deal_idx(&id)
                    .ok_or_else(|| not_found(format!("Deal {id} not found")))?;
                Ok(d.deal_full(i))
            }
            "pipeline.summary" => {
                let p = req_period(m)?;
                let owners = Data::owner_set(&opt_str_list(m, "ownerIds")?);
                let deals: Vec<&DealRec> = d
                    .deals
                    .iter()
                    .filter(|x| {
                        owners.contains(&x.owner)
                            && status_of(x.stage) == "open"
                            && x.close >= p.start
                            && x.close <= p.end
                    })
                    .collect();
                let mut by_stage = Vec::new();
                let (mut count, mut amount, mut weighted) = (0usize, 0i64, 0i64);
                for s in OPEN_STAGES {
                    let in_stage: Vec<&&DealRec> = deals.iter().filter(|x| x.stage == s).collect();
                    let a: i64 = in_stage.iter().map(|x| x.amount).sum();
                    let w: i64 = in_stage.iter().map(|x| x.amount * probability(s) / 100).sum();
                    count += in_stage.len();
                    amount += a;
                    weighted += w;
                    by_stage
                        .push(json!({"stage": s, "count": in_stage.len(), "amount": a, "weightedAmount": w}));
                }
                let quota = owners.iter().map(|&o| OWNERS[o].quota).sum::<i64>() * p.months / 3;
                let coverage = if quota > 0 {
                    round_to(amount as f64 / quota as f64, 2)
                } else {
                    0.0
                };
                Ok(json!({
                    "period": period_json(&p),
                    "currency": "USD",
                    "byStage": by_stage,
                    "totals": {"count": count, "amount": amount, "weightedAmount": weighted},
                    "quota": quota,
                    "coverageRatio": num(coverage),
                }))
            }
            "forecast.get" => {
                let p = req_period(m)?;
                let owner = match opt_str(m, "ownerId")? {
                    None => None,
                    Some(id) => Some(
                        OWNERS
                            .iter()
                            .position(|o| o.id == id)
                            .ok_or_else(|| not_found(format!("Owner {id} not found")))?,
                    ),
                };
                Ok(d.forecast_json(&p, owner))
            }
            "insights.dealRisks" => {
                let period = match opt_str(m, "period")? {
                    None => None,
                    Some(_) => Some(req_period(m)?),
                };
                let owners = Data::owner_set(&opt_str_list(m, "ownerIds")?);
                let limit = opt_limit(m, 10)?;
                let mut items: Vec<(usize, i64, Value)> = (0..d.deals.len())
                    .filter(|&i| owners.contains(&d.deals[i].owner))
                    .filter(|&i| {
                        period
                            .as_ref()
                            .is_none_or(|p| d.deals[i].close >= p.start && d.deals[i].close <= p.end)
                    })
                    .filter_map(|i| {
                        let risks = d.risks(i);
                        (!risks.is_empty()).then(|| {
                            let r: Vec<Value> = risks
                                .iter()
                                .map(|(c, detail)| json!({"code": c, "detail": detail}))
                                .collect();
                            (
                                risks.len(),
                                d.deals[i].amount,
                                json!({"deal": d.deal_summary(&d.deals[i]), "risks": r}),
                            )
                        })
                    })
                    .collect();
                items.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
                let items: Vec<Value> = items.into_iter().take(limit).map(|x| x.2).collect();
                Ok(json!({"items": items}))
            }
            "accounts.list" => {
                let query = opt_str(m, "query")?;
                let owners = opt_str_list(m, "ownerIds")?;
                let (off, lim) = page_params(m)?;
                let mut idx: Vec<usize> = (0..d.accounts.len())
                    .filter(|&a| {
                        query.as_ref().is_none_or(|q| {
                            contains_ci(d.accounts[a].name, q) || contains_ci(d.accounts[a].domain, q)
                        })
                    })
                    .filter(|&a| {
                        owners
                            .as_ref()
                            .is_none_or(|o| o.iter().any(|id| id == OWNERS[d.accounts[a].owner].id))
                    })
                    .collect();
                idx.sort_by(|&a, &b| d.accounts[a].name.cmp(d.accounts[b].name));
                let items = idx.into_iter().map(|a| d.account_json(a)).collect();
                Ok(list_page(items, off, lim))
            }
            "accounts.get" => {
                let id = req_str(m, "accountId")?;
                let a = d
                    .account_idx(&id)
                    .ok_or_else(|| not_found(format!("Account {id} not found")))?;
                let mut v = d.account_json(a);
                let mut recent: Vec<&ActRec> = d.acts.iter().filter(|x| x.account == a).collect();
                recent.sort_by(|x, y| y.at.cmp(&x.at).then(y.id.cmp(&x.id)));
                let obj = v.as_object_mut().expect("object");
                obj.insert(
                    "contacts".into(),
                    Value::Array(d.accounts[a].contacts.iter().map(contact_json).collect()),
                );
                obj.insert(
                    "openDeals".into(),
                    Value::Array(
                        d.deals
                            .iter()
                            .filter(|x| x.account == a && status_of(x.stage) == "open")
                            .map(|x| d.deal_summary(x))
                            .collect(),
                    ),
                );
                obj.insert(
                    "recentActivities".into(),
                    Value::Array(recent.iter().take(5).map(|x| d.activity_json(x)).collect()),
                );
                Ok(v)
            }
            "activities.list" => {
                let deal = opt_str(m, "dealId")?;
                let account = opt_str(m, "accountId")?;
                if deal.is_none() && account.is_none() {
                    return Err(bad("Provide at least one of dealId or accountId"));
                }
                let types = opt_enum_list(m, "types", &ACT_TYPES)?;
                let since = opt_datetime(m, "since")?;
                let (off, lim) = page_params(m)?;
                let deal_i = match &deal {
                    None => None,
                    Some(id) => Some(
                        d.deal_idx(id)
                            .ok_or_else(|| not_found(format!("Deal {id} not found")))?,
                    ),
                };
                let acc_i = match &account {
                    None => None,
                    Some(id) => Some(
                        d.account_idx(id)
                            .ok_or_else(|| not_found(format!("Account {id} not found")))?,
                    ),
                };
                let mut hits: Vec<&ActRec> = d
                    .acts
                    .iter()
                    .filter(|x| deal_i.is_none_or(|i| x.deal == Some(i)))
                    .filter(|x| acc_i.is_none_or(|a| x.account == a))
                    .filter(|x| types.as_ref().is_none_or(|t| t.contains(&x.kind)))
                    .filter(|x| since.is_none_or(|s| x.at >= s))
                    .collect();
                hits.sort_by(|x, y| y.at.cmp(&x.at).then(y.id.cmp(&x.id)));
                let items = hits.into_iter().map(|x| d.activity_json(x)).collect();
                Ok(list_page(items, off, lim))
            }
            "test.big" => {
                let items: Vec<Value> = (0..5000)
                    .map(|n| {
                        let mut v = d.deal_summary(&d.deals[n % d.deals.len()]);
                        let id = format!("deal_big_{:04}", n + 1);
                        v["url"] = json!(format!("{WEB}/deals/{id}"));
                        v["id"] = json!(id);
                        v
                    })
                    .collect();
                Ok(json!({"items": items, "nextCursor": "x", "total": 5000}))
            }
            "deals.updateStage" => {
                let id = req_str(m, "dealId")?;
                let stage = opt_enum(m, "stage", &STAGES)?.ok_or_else(|| bad("stage: Required"))?;
                if let Some(note) = opt_str(m, "note")? {
                    check_len("note", &note, 0, 1000)?;
                }
                let i = d
                    .deal_idx(&id)
                    .ok_or_else(|| not_found(format!("Deal {id} not found")))?;
                let cur = d.deals[i].stage;
                if cur.starts_with("closed_") && stage != cur {
                    return Err(ApiErr {
                        code: "PRECONDITION_FAILED",
                        http: 412,
                        message: format!("Deal {id} is {cur}: the stage of a closed deal cannot be changed"),
                    });
                }
                if stage != cur {
                    let now = self.tick();
                    let deal = &mut self.data.deals[i];
                    deal.stage = stage;
                    deal.history.push((stage, now));
                    deal.updated = now;
                }
                Ok(self.data.deal_full(i))
            }
            "deals.setNextStep" => {
                let id = req_str(m, "dealId")?;
                let step = req_str(m, "nextStep")?;
                check_len("nextStep", &step, 1, 500)?;
                if step.trim().is_empty() {
                    return Err(bad("nextStep: must not be blank"));
                }
                let date = opt_date(m, "nextStepDate")?;
                let i = d
                    .deal_idx(&id)
                    .ok_or_else(|| not_found(format!("Deal {id} not found")))?;
                let now = self.tick();
                let deal = &mut self.data.deals[i];
                deal.next_step = Some(step);
                deal.next_step_date = date;
                deal.updated = now;
                Ok(self.data.deal_full(i))
            }
            "activities.log" => {
                let kind = opt_enum(m, "type", &ACT_TYPES)?.ok_or_else(|| bad("type: Required"))?;
                let subject = req_str(m, "subject")?;
                check_len("subject", &subject, 1, 200)?;
                let body = opt_str(m, "body")?.unwrap_or_default();
                check_len("body", &body, 0, 10000)?;
                let deal = opt_str(m, "dealId")?;
                let account = opt_str(m, "accountId")?;
                let at = opt_datetime(m, "occurredAt")?;
                if deal.is_none() && account.is_none() {
                    return Err(bad("Provide at least one of dealId or accountId"));
                }
                let deal_i = match &deal {
                    None => None,
                    Some(id) => Some(
                        d.deal_idx(id)
                            .ok_or_else(|| not_found(format!("Deal {id} not found")))?,
                    ),
                };
                let acc_i = match (&account, deal_i) {
                    (Some(id), _) => d
                        .account_idx(id)
                        .ok_or_else(|| not_found(format!("Account {id} not found")))?,
                    (None, Some(di)) => d.deals[di].account,
                    (None, None) => unreachable!("checked above"),
                };
                if let Some(di) = deal_i
                    && d.deals[di].account != acc_i
                {
                    return Err(bad(format!(
                        "dealId: deal {} does not belong to account {}",
                        d.deals[di].id, d.accounts[acc_i].id
                    )));
                }
                let now = self.tick();
                let id = format!("act_{:04}", self.data.acts.len() + 1);
                let rec = ActRec {
                    id,
                    kind,
                    subject,
                    body,
                    deal: deal_i,
                    account: acc_i,
                    owner: VIEWER_IDX,
                    at: at.unwrap_or(now),
                };
                let v = self.data.activity_json(&rec);
                self.data.acts.push(rec);
                if let Some(di) = deal_i {
                    self.data.deals[di].updated = now;
                }
                Ok(v)
            }
            "forecast.submit" => {
                let p = req_period(m)?;
                let commit = opt_num(m, "commit")?.ok_or_else(|| bad("commit: Required"))?;
                let best = opt_num(m, "bestCase")?.ok_or_else(|| bad("bestCase: Required"))?;
                let note = opt_str(m, "note")?;
                if commit < 0.0 {
                    return Err(bad("commit: Number must be greater than or equal to 0"));
                }
                if best < commit {
                    return Err(bad("bestCase: must be greater than or equal to commit"));
                }
                if let Some(n) = &note {
                    check_len("note", n, 0, 1000)?;
                }
                let now = self.tick();
                let subs = &mut self.data.submissions;
                subs.retain(|s| s.key != p.key);
                subs.push(Submission {
                    key: p.key.clone(),
                    commit,
                    best_case: best,
                    note,
                    at: now,
                });
                Ok(self.data.forecast_json(&p, None))
            }
            other => Err(not_found(format!("No procedure found on path \"{other}\""))),
        }
    }
}
