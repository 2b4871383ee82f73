//! Corporate networks: a CONNECT proxy on 127.0.0.1 (HTTPS_PROXY / HTTP_PROXY /
//! NO_PROXY), and an HTTPS server whose certificate comes from a private CA that is
//! trusted only through SSL_CERT_FILE or NODE_EXTRA_CA_CERTS, as behind a
//! TLS-inspecting proxy. Errors say what to set.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::fake::Fake;
use support::{Config, assert_no_secrets, is_error, session, text};

/// A CONNECT proxy: counts tunnels, records their targets, pipes bytes both ways.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start(refuse: bool) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || tunnel(client, refuse, &seen));
            }
        });
        ConnectProxy { port, tunnels }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

fn tunnel(client: TcpStream, refuse: bool, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(target.clone());
    let mut client = client;
    if refuse || !target.starts_with("127.0.0.1:") {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
    }
    let Ok(upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let mut upstream = upstream;
    let buffered = reader.buffer().to_vec();
    upstream.write_all(&buffered).unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u2, &mut c2);
    let _ = c2.shutdown(std::net::Shutdown::Write);
}

/// An HTTPS front for the fake: terminates TLS with the test certificate and relays
/// each HTTP/1.1 request (Content-Length framed) to the fake over plain TCP.
struct TlsFront {
    port: u16,
    handshakes: Arc<AtomicUsize>,
}

impl TlsFront {
    fn start(backend_port: u16) -> TlsFront {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = support::fixtures().join("tls");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let count = handshakes.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                let count = count.clone();
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let Ok(mut backend) = TcpStream::connect(("127.0.0.1", backend_port)) else {
                        return;
                    };
                    let mut counted = false;
                    while let Some(request) = read_message(&mut tls) {
                        if !counted {
                            count.fetch_add(1, Ordering::SeqCst);
                            counted = true;
                        }
                        if backend.write_all(&request).is_err() {
                            return;
                        }
                        let Some(response) = read_message(&mut backend) else {
                            return;
                        };
                        if tls.write_all(&response).and_then(|_| tls.flush()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        TlsFront { port, handshakes }
    }

    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// One HTTP/1.1 message (headers and a Content-Length body), or None at EOF/error.
fn read_message(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut msg = Vec::new();
    let mut byte = [0u8; 1];
    while !msg.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte).ok()? == 0 {
            return None;
        }
        msg.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&msg).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    msg.extend_from_slice(&body);
    Some(msg)
}

fn https_config(tag: &str, fake: &Fake, front: &TlsFront) -> Config {
    let rt = fake.new_refresh_token();
    let cfg = Config::new(tag, fake, &format!("{}/oauth2/default", front.base()), &rt);
    cfg.set_var("API_URL", &format!("{}/api/trpc", front.base()));
    cfg
}

fn ca_path() -> String {
    support::fixtures().join("tls/ca.pem").display().to_string()
}

#[test]
fn a_private_ca_is_trusted_only_when_configured() {
    let fake = Fake::start();
    let front = TlsFront::start(fake.base().rsplit(':').next().unwrap().parse().unwrap());
    let cfg = https_config("tls-untrusted", &fake, &front);
    let mut s = session(&cfg, &[]);
    let r = s.call("whoami", json!({}));
    assert!(is_error(&r));
    let t = text(&r);
    assert!(t.starts_with("TLS to Okta failed"), "{t}");
    assert!(t.contains("UnknownIssuer"), "{t}");
    assert!(t.contains("set SSL_CERT_FILE (or NODE_EXTRA_CA_CERTS)"), "{t}");
    s.finish();

    for var in ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] {
        let cfg = https_config("tls-trusted", &fake, &front);
        let ca = ca_path();
        let mut s = session(&cfg, &[(var, ca.as_str())]);
        let r = s.call("get_deal", json!({"dealId": "deal_001"}));
        assert!(!is_error(&r), "{var}: {r}");
        let out = s.finish();
        assert_no_secrets(&out, &fake.issued_secrets());
    }
    assert!(front.handshakes.load(Ordering::SeqCst) >= 2);
}

#[test]
fn an_unusable_ca_file_is_reported_and_ignored() {
    let (_fake, cfg) = support::setup("bad-ca");
    let mut s = session(
        &cfg,
        &[
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("NODE_EXTRA_CA_CERTS", "/etc/hostname"),
        ],
    );
    assert!(!is_error(&s.call("whoami", json!({}))));
    let out = s.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SSL_CERT_FILE=/nonexistent/ca.pem cannot be read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NODE_EXTRA_CA_CERTS=/etc/hostname holds no PEM certificate"),
        "{stderr}"
    );
}

#[test]
fn https_proxy_tunnels_okta_and_the_api() {
    let fake = Fake::start();
    let front = TlsFront::start(fake.base().rsplit(':').next().unwrap().parse().unwrap());
    let proxy = ConnectProxy::start(false);
    let cfg = https_config("proxy", &fake, &front);
    let ca = ca_path();
    let purl = proxy.url();
    let mut s = session(
        &cfg,
        &[("SSL_CERT_FILE", ca.as_str()), ("HTTPS_PROXY", purl.as_str())],
    );
    for _ in 0..3 {
        assert!(!is_error(&s.call("whoami", json!({}))));
    }
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
    let tunnels = proxy.tunnels();
    assert_eq!(
        tunnels,
        vec![format!("127.0.0.1:{}", front.port)],
        "one kept-alive tunnel for all calls"
    );
}

#[test]
fn lower_case_https_proxy_and_no_proxy_with_spaces() {
    let fake = Fake::start();
    let front = TlsFront::start(fake.base().rsplit(':').next().unwrap().parse().unwrap());
    let cfg = https_config("no-proxy", &fake, &front);
    let proxy = ConnectProxy::start(false);
    let (purl, ca) = (proxy.url(), ca_path());
    let cases: [(&[(&str, &str)], usize); 3] = [
        (&[("https_proxy", purl.as_str())], 1),
        // Trimmed entries, exact match: direct.
        (
            &[
                ("HTTPS_PROXY", purl.as_str()),
                ("NO_PROXY", " corp.example , 127.0.0.1 "),
            ],
            1,
        ),
        (&[("HTTPS_PROXY", purl.as_str()), ("no_proxy", "*")], 1),
    ];
    for (env, tunnels) in cases {
        let mut env = env.to_vec();
        env.push(("SSL_CERT_FILE", ca.as_str()));
        let mut s = session(&cfg, &env);
        assert!(!is_error(&s.call("whoami", json!({}))), "{env:?}");
        s.finish();
        assert_eq!(proxy.tunnels().len(), tunnels, "{env:?}");
    }
}

#[test]
fn cleartext_to_this_machine_is_never_proxied() {
    let (fake, cfg) = support::setup("cleartext-proxy");
    let proxy = ConnectProxy::start(false);
    let purl = proxy.url();
    let env = [
        ("HTTP_PROXY", purl.as_str()),
        ("HTTPS_PROXY", purl.as_str()),
        ("ALL_PROXY", purl.as_str()),
    ];
    let mut s = session(&cfg, &env);
    assert!(!is_error(&s.call("whoami", json!({}))));
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
    assert!(
        proxy.tunnels().is_empty(),
        "a token in clear went to a proxy: {:?}",
        proxy.tunnels()
    );
}

#[test]
fn a_refusing_or_absent_proxy_says_what_to_check() {
    let fake = Fake::start();
    let front = TlsFront::start(fake.base().rsplit(':').next().unwrap().parse().unwrap());
    let cfg = https_config("proxy-refused", &fake, &front);
    let refusing = ConnectProxy::start(true);
    let absent = format!("http://127.0.0.1:{}", support::closed_port());
    let ca = ca_path();
    for (purl, says) in [
        (refusing.url(), "the proxy refused the connection"),
        (absent, "Connection refused"),
    ] {
        let mut s = session(
            &cfg,
            &[("HTTPS_PROXY", purl.as_str()), ("SSL_CERT_FILE", ca.as_str())],
        );
        let r = s.call("whoami", json!({}));
        assert!(is_error(&r));
        assert!(text(&r).contains(says), "{}", text(&r));
        assert!(
            text(&r).contains("through the proxy set in HTTPS_PROXY"),
            "{}",
            text(&r)
        );
        s.finish();
    }
}
