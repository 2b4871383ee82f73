//! One blocking HTTP client for the process (keep-alive), and the translation of
//! ureq's outcomes into the distinctions retries need: did the request leave or not.

use std::io;
use std::time::{Duration, Instant};

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;

use ureq::config::Config;
use ureq::http::Response;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Connector, DefaultConnector, NextTimeout};
use ureq::{Agent, Proxy, RequestBuilder};

use crate::log;
use crate::net::lean::LeanConnector;
use crate::net::proxy;

const USER_AGENT: &str = concat!("loopops-mcp/", env!("CARGO_PKG_VERSION"));
/// A body's buffer is sized from its Content-Length up to this; a larger one grows.
const PRESIZE_MAX: usize = 1024 * 1024;

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    /// `Retry-After` in seconds (tRPC 429/503).
    pub retry_after: Option<u64>,
    /// `X-Rate-Limit-Reset`, epoch seconds (Okta).
    pub rate_limit_reset: Option<u64>,
    pub location: Option<String>,
}

impl Reply {
    /// At most `max` characters of the body, scrubbed of secrets before the cut.
    pub fn text_excerpt(&self, max: usize) -> String {
        crate::secret::excerpt(&String::from_utf8_lossy(&self.body), max)
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The request never left this machine: refused, DNS, connect timeout, proxy.
    /// The only failure after which a mutation may be sent again.
    NotSent(String),
    /// TLS setup failed (before anything was sent); retrying will not help.
    Tls(String),
    /// No complete answer within the timeout; the request may have been processed.
    Timeout,
    /// The connection broke after the request was sent.
    Lost(String),
    /// The answer was larger than we accept.
    TooLarge(usize),
    /// The URL cannot be used (bad syntax, or `http://` to a non-loopback host).
    BadUrl(String),
}

/// Agents by proxy URL (`None`: direct), with the timeout each was built with.
type Agents = Vec<(Option<String>, Agent, Duration)>;

/// A proxy URL and the variable that named it (`None`: direct).
type ProxySource = Option<(&'static str, String)>;

/// `scheme://authority` of a URL: what the choice of proxy depends on.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

pub struct Http {
    pub timeout: Duration,
    tls: TlsConfig,
    /// One agent (and connection pool) per proxy choice: direct, or via a proxy.
    /// Shared with the clients `with_timeout` makes, so that Okta and the API use
    /// one kept-alive connection (or tunnel) where they share a host.
    agents: Rc<RefCell<Agents>>,
    /// The proxy chosen for each origin, shared the same way.
    routes: Rc<RefCell<Vec<(String, ProxySource)>>>,
}

pub enum Body<'a> {
    None,
    Json(&'a [u8]),
    Form(&'a [u8]),
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        Http {
            timeout,
            tls: tls_config(&|k| std::env::var(k).ok()),
            agents: Rc::new(RefCell::new(Vec::new())),
            routes: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// The same connections with another timeout (Okta's own, auth-notes rule 9).
    pub fn with_timeout(&self, timeout: Duration) -> Http {
        Http {
            timeout,
            tls: self.tls.clone(),
            agents: self.agents.clone(),
            routes: self.routes.clone(),
        }
    }

    /// The proxy the environment names for `url` and the variable it came from. The
    /// environment does not change while we run: looked up once per origin, not eight
    /// variables read on every call.
    fn proxy_source(&self, url: &str) -> ProxySource {
        let origin = origin(url);
        if let Some((_, source)) = self.routes.borrow().iter().find(|(o, _)| o == origin) {
            return source.clone();
        }
        let source = proxy::proxy_source(url, &|k| std::env::var(k).ok());
        self.routes
            .borrow_mut()
            .push((origin.to_string(), source.clone()));
        source
    }

    /// The agent for `url`: through the proxy the environment names for it, or
    /// direct; with the timeout it was built with, and whether it proxies.
    fn agent_for(&self, url: &str) -> Result<(Agent, Duration, bool), Failure> {
        let source = self.proxy_source(url);
        let proxy_url = source.as_ref().map(|(_, v)| v.clone());
        let proxied = proxy_url.is_some();
        if let Some((_, agent, built_with)) = self.agents.borrow().iter().find(|(p, _, _)| *p == proxy_url) {
            return Ok((agent.clone(), *built_with, proxied));
        }
        if let Some(p) = &proxy_url {
            remember_proxy_credentials(p);
        }
        let proxy = match &proxy_url {
            Some(p) => Some(Proxy::new(p).map_err(|_| {
                // The URL may hold credentials: name the variable, not the value. The
                // request never left, which is what the callers need to know.
                let var = source.as_ref().map_or("HTTPS_PROXY", |(n, _)| *n);
                Failure::NotSent(format!(
                    "the proxy URL in {var} is not valid (expected http://host:port, optionally with user:password@); fix or unset {var}"
                ))
            })?),
            None => None,
        };
        let agent = self.build_agent(proxy);
        self.agents
            .borrow_mut()
            .push((proxy_url, agent.clone(), self.timeout));
        Ok((agent, self.timeout, proxied))
    }

    fn build_agent(&self, proxy: Option<Proxy>) -> Agent {
        let timeout = self.timeout;
        let config = Config::builder()
            .proxy(proxy)
            .tls_config(self.tls.clone())
            .http_status_as_error(false)
            // Redirects are answered, not followed: a redirected call would lose its
            // Authorization header, and a token endpoint should never redirect.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .timeout_global(Some(timeout))
            // Shorter than the global one so that a connect that hangs is reported as
            // such: a request that never connected may be sent again.
            .timeout_connect(Some(connect_timeout(timeout)))
            // Servers close idle connections after ~5 s; reusing one they are closing
            // makes a sent-or-not ambiguity we would rather not have.
            .max_idle_age(Duration::from_secs(4))
            .build();
        let connector = DefaultConnector::new().chain(LeanConnector);
        Agent::with_parts(config, connector, CachingResolver::default())
    }

    /// This client's timeouts and the headers on a request. The agents are shared by
    /// clients with different timeouts; a request overrides its agent's only when they
    /// differ (the override copies the agent's whole configuration).
    fn prepare<B>(
        &self,
        req: RequestBuilder<B>,
        built_with: Duration,
        headers: &[(&str, &str)],
    ) -> RequestBuilder<B> {
        let mut req = if built_with == self.timeout {
            req
        } else {
            req.config()
                .timeout_global(Some(self.timeout))
                .timeout_connect(Some(connect_timeout(self.timeout)))
                .build()
        };
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req
    }

    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        max_body: usize,
    ) -> Result<Reply, Failure> {
        check_url(url)?;
        let started = Instant::now();
        let result = self.exchange(method, url, headers, body, max_body);
        if log::enabled(log::Level::Debug) {
            let outcome = match &result {
                Ok(r) => format!("{} ({} bytes)", r.status, r.body.len()),
                Err(f) => format!("failed: {f:?}"),
            };
            log::debug(&format!(
                "{method} {} -> {outcome} in {} ms",
                redact_query(url),
                started.elapsed().as_millis()
            ));
        }
        result
    }

    fn exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        max_body: usize,
    ) -> Result<Reply, Failure> {
        let (agent, built_with, proxied) = self.agent_for(url)?;
        let response = match (method, body) {
            ("GET", _) => self.prepare(agent.get(url), built_with, headers).call(),
            (_, body) => {
                let req = self.prepare(agent.post(url), built_with, headers);
                match body {
                    Body::None => req.send_empty(),
                    Body::Json(b) => req.header("content-type", "application/json").send(b),
                    Body::Form(b) => req
                        .header("content-type", "application/x-www-form-urlencoded")
                        .send(b),
                }
            }
        };
        let mut response = response.map_err(classify).map_err(|f| match f {
            Failure::NotSent(cause) if proxied => Failure::NotSent(format!(
                "{cause} (through the proxy set in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)"
            )),
            other => other,
        })?;
        let status = response.status().as_u16();
        let header = |r: &Response<ureq::Body>, name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(&response, "content-type").unwrap_or_default();
        let retry_after = header(&response, "retry-after").and_then(|v| v.trim().parse().ok());
        let rate_limit_reset = header(&response, "x-rate-limit-reset").and_then(|v| v.trim().parse().ok());
        let location = header(&response, "location");
        let announced = header(&response, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
        let mut body = Vec::with_capacity(body_capacity(announced, max_body));
        let mut reader = response.body_mut().with_config().limit(max_body as u64).reader();
        std::io::Read::read_to_end(&mut reader, &mut body)
            .map_err(ureq::Error::from)
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge(max_body),
                other => match classify(other) {
                    // Once headers arrived the request was certainly sent.
                    Failure::NotSent(c) => Failure::Lost(c),
                    f => f,
                },
            })?;
        Ok(Reply {
            status,
            body,
            content_type,
            retry_after,
            rate_limit_reset,
            location,
        })
    }
}

/// The room a body is read into: what its Content-Length announces, so that it is read
/// in place rather than in doubling steps, but never more than a bound, since a hostile
/// server's header would otherwise choose our allocation. One byte more lets the read
/// see the end without growing.
fn body_capacity(announced: Option<usize>, max_body: usize) -> usize {
    announced.unwrap_or(0).min(max_body).min(PRESIZE_MAX) + 1
}

/// A proxy URL's `user:password@` is a secret like a token: scrubbed from every text.
fn remember_proxy_credentials(proxy_url: &str) {
    let rest = proxy_url.split_once("://").map_or(proxy_url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return;
    };
    crate::secret::remember(userinfo);
    if let Some((_, password)) = userinfo.split_once(':') {
        crate::secret::remember(password);
        crate::secret::remember(&proxy::percent_decode(password));
    }
}

/// Shorter than the whole exchange's timeout so that a connect that hangs is
/// reported as such: a request that never connected may be sent again.
fn connect_timeout(timeout: Duration) -> Duration {
    (timeout * 9 / 10).min(Duration::from_secs(10))
}

fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as E;
    use ureq::Timeout as T;
    match e {
        E::Timeout(T::Resolve | T::Connect) => Failure::NotSent("could not connect in time".into()),
        E::Timeout(_) => Failure::Timeout,
        E::HostNotFound => Failure::NotSent("host not found (DNS)".into()),
        E::ConnectProxyFailed(m) => Failure::NotSent(format!("the proxy refused the connection: {m}")),
        E::InvalidProxyUrl => {
            Failure::NotSent("the proxy URL in HTTPS_PROXY or ALL_PROXY is not valid; fix or unset it".into())
        }
        E::Tls(m) => Failure::Tls(m.to_string()),
        E::Rustls(e) => Failure::Tls(e.to_string()),
        E::Pem(e) => Failure::Tls(e.to_string()),
        E::BadUri(m) => Failure::BadUrl(m),
        E::Http(e) => Failure::BadUrl(e.to_string()),
        E::BodyExceedsLimit(n) => Failure::TooLarge(n as usize),
        E::Io(io) => classify_io(io),
        E::ConnectionFailed => Failure::NotSent("connection failed".into()),
        other => Failure::Lost(other.to_string()),
    }
}

fn classify_io(io: io::Error) -> Failure {
    use io::ErrorKind as K;
    match io.kind() {
        // Only errors that can happen solely while connecting prove that nothing was
        // sent; an unreachable host can also be reported mid-exchange.
        K::ConnectionRefused | K::AddrNotAvailable | K::AddrInUse => Failure::NotSent(io.to_string()),
        K::TimedOut | K::WouldBlock => Failure::Timeout,
        _ => {
            // ureq reports DNS and rustls failures as Io errors of kind Other/NotFound;
            // both happen before the request is written.
            let text = io.to_string();
            if text.contains("peer certificate") || text.contains("received fatal alert") {
                Failure::Tls(text)
            } else if text.contains("failed to lookup address") || text.contains("Name or service not known")
            {
                Failure::NotSent(format!("host not found (DNS): {text}"))
            } else {
                Failure::Lost(text)
            }
        }
    }
}

/// Tokens must not cross a network in clear: `https://` everywhere, `http://` only
/// to this machine (tests, local proxies of the API).
pub fn check_url(url: &str) -> Result<(), Failure> {
    // The scheme in any case, without lowercasing the whole URL on every request.
    let scheme = |s: &str| url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s));
    if scheme("https://") {
        return Ok(());
    }
    if !scheme("http://") {
        return Err(Failure::BadUrl(format!("{url} is not an http(s) URL")));
    }
    let rest = &url["http://".len()..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(Failure::BadUrl(format!(
            "{url} has credentials before the host; they are not supported"
        )));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback_ip = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if host.eq_ignore_ascii_case("localhost") || loopback_ip {
        Ok(())
    } else {
        Err(Failure::BadUrl(format!(
            "{url} uses http://, which would send the token in clear; use https:// (http:// is allowed only for localhost)"
        )))
    }
}

/// ureq resolves the host before every request, even one that reuses a pooled
/// connection, and with a timeout set it does so on a new thread: a DNS query and a
/// thread per tool call. Answers are kept for a while instead.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<Vec<Resolved>>,
}

/// One cached answer: host, port, when it was resolved, the addresses.
#[derive(Debug)]
struct Resolved {
    host: String,
    port: Option<u16>,
    at: Instant,
    addrs: ResolvedSocketAddrs,
}

const DNS_CACHE_TTL: Duration = Duration::from_secs(60);

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // Compared in place: no key is formatted on every tool call.
        let (host, port) = (uri.host().unwrap_or(""), uri.port_u16());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|r| r.at.elapsed() < DNS_CACHE_TTL);
        if let Some(r) = cache.iter().find(|r| r.host == host && r.port == port) {
            return Ok(r.addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        cache.push(Resolved {
            host: host.to_string(),
            port,
            at: Instant::now(),
            addrs: addrs.clone(),
        });
        Ok(addrs)
    }
}

/// Built-in (Mozilla) roots, plus the certificates in `SSL_CERT_FILE` and
/// `NODE_EXTRA_CA_CERTS` (what users behind TLS-inspecting proxies already set for
/// curl and for the Node predecessor). A file that cannot be used is reported, not fatal.
fn tls_config(env: &dyn Fn(&str) -> Option<String>) -> TlsConfig {
    let mut extra: Vec<Certificate<'static>> = Vec::new();
    for var in ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] {
        let Some(path) = env(var).filter(|p| !p.trim().is_empty()) else {
            continue;
        };
        match std::fs::read(path.trim()) {
            Ok(pem) => {
                let before = extra.len();
                extra.extend(ureq::tls::parse_pem(&pem).filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                }));
                if extra.len() == before {
                    log::warn(&format!("{var}={path} holds no PEM certificate; it is ignored"));
                }
            }
            Err(e) => log::warn(&format!("{var}={path} cannot be read ({e}); it is ignored")),
        }
    }
    if extra.is_empty() {
        return TlsConfig::default();
    }
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    roots.extend(extra);
    TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .build()
}

fn redact_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Percent-encode for a query value or a form field (RFC 3986 unreserved kept).
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // The most it can take: growing it on the way would copy it again.
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            // Not `format!`: a query of JSON is mostly escapes, one allocation each.
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded` body from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_sized_from_its_length_but_no_header_chooses_a_large_allocation() {
        assert_eq!(body_capacity(Some(900), 16 << 20), 901);
        assert_eq!(body_capacity(None, 16 << 20), 1);
        // A hostile or lying Content-Length: bounded by the call's limit and by 1 MiB.
        assert_eq!(body_capacity(Some(usize::MAX), 16 << 20), PRESIZE_MAX + 1);
        assert_eq!(body_capacity(Some(10_000), 100), 101);
    }

    /// Okta's client shares the API client's agents but not its timeout: a request
    /// through an agent built with another timeout must still time out at its own.
    #[test]
    fn a_shared_agent_keeps_each_clients_own_timeout() {
        use std::io::{Read, Write};
        use std::net::TcpListener;
        // One server that answers at once, one that accepts and never answers.
        let quick = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let quick_url = format!("http://{}/ok", quick.local_addr().unwrap());
        let silent_url = format!("http://{}/slow", silent.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut c, _) = quick.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        });
        std::thread::spawn(move || {
            let held = silent.accept();
            std::thread::sleep(Duration::from_secs(15));
            drop(held);
        });
        let api = Http::new(Duration::from_secs(10));
        // The API client builds the direct agent, with its 10 s.
        let reply = api.send("GET", &quick_url, &[], Body::None, 1024).unwrap();
        assert_eq!(reply.status, 200);
        let okta = api.with_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let failed = okta.send("POST", &silent_url, &[], Body::Form(b"a=b"), 1024);
        assert_eq!(failed.unwrap_err(), Failure::Timeout);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn origin_is_scheme_and_authority() {
        assert_eq!(
            origin("https://api.example.com/api/trpc/deals.get?input=1"),
            "https://api.example.com"
        );
        assert_eq!(origin("http://127.0.0.1:8080?x=/y"), "http://127.0.0.1:8080");
        assert_eq!(origin("https://u:p@h:1#f"), "https://u:p@h:1");
        assert_eq!(origin("https://h"), "https://h");
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://app.loopops.example/api").is_ok());
        assert!(check_url("http://127.0.0.1:8080/api").is_ok());
        assert!(check_url("http://localhost/api").is_ok());
        assert!(check_url("http://[::1]:9/x").is_ok());
        assert!(check_url("http://app.loopops.example/api").is_err());
        assert!(check_url("http://127.0.0.1.evil.example/api").is_err());
        assert!(check_url("http://localhost:9@okta.invalid/x").is_err());
        assert!(check_url("ftp://x").is_err());
        // The scheme and the host in any case; a URL cut inside a character is no URL.
        assert!(check_url("HTTPS://APP.LOOPOPS.EXAMPLE/api").is_ok());
        assert!(check_url("Http://LocalHost:9/x").is_ok());
        assert!(check_url("HTTP://[0:0:0:0:0:0:0:1]/x").is_ok());
        assert!(check_url("HTTP://APP.LOOPOPS.EXAMPLE/api").is_err());
        assert!(check_url("httpé://x").is_err());
        assert!(check_url("é").is_err());
    }

    #[test]
    fn io_errors_say_whether_the_request_left() {
        use io::{Error, ErrorKind as K};
        assert!(matches!(
            classify_io(Error::from(K::ConnectionRefused)),
            Failure::NotSent(_)
        ));
        let dns = Error::other("failed to lookup address information: Name or service not known");
        assert!(matches!(classify_io(dns), Failure::NotSent(c) if c.starts_with("host not found (DNS)")));
        assert!(matches!(
            classify_io(Error::from(K::HostUnreachable)),
            Failure::Lost(_)
        ));
        assert!(matches!(
            classify_io(Error::from(K::ConnectionReset)),
            Failure::Lost(_)
        ));
        assert!(matches!(classify_io(Error::from(K::TimedOut)), Failure::Timeout));
        let tls = Error::other("invalid peer certificate: UnknownIssuer");
        assert!(matches!(classify_io(tls), Failure::Tls(_)));
        assert!(matches!(classify(ureq::Error::HostNotFound), Failure::NotSent(_)));
        assert!(matches!(
            classify(ureq::Error::Timeout(ureq::Timeout::Connect)),
            Failure::NotSent(_)
        ));
        assert!(matches!(
            classify(ureq::Error::Timeout(ureq::Timeout::RecvResponse)),
            Failure::Timeout
        ));
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            form(&[("grant_type", "refresh_token"), ("x", "1+1")]),
            "grant_type=refresh_token&x=1%2B1"
        );
    }
}
