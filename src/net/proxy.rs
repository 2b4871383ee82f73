//! Which proxy a request goes through, the way curl and Node users expect:
//! `HTTPS_PROXY`/`https_proxy`, else `ALL_PROXY`/`all_proxy`. Plain `http://` URLs
//! are allowed only to this machine (a token must not travel in clear), so they are
//! never proxied and `HTTP_PROXY` plays no part. `NO_PROXY`/`no_proxy` lists hosts that go
//! direct: comma-separated, spaces trimmed, `*` for all, exact hosts or domain
//! suffixes (`example.com` and `.example.com` both match `api.example.com`), an
//! optional `:port`, and IPv4 CIDR blocks (`10.0.0.0/8`).

use std::net::Ipv4Addr;

/// The proxy URL for `url`, if any. `env` looks up a variable.
pub fn proxy_for(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    proxy_source(url, env).map(|(_, v)| v)
}

/// The same, with the variable it came from (to name it when the URL is unusable).
pub fn proxy_source(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    let get = |names: &[&'static str]| {
        names.iter().find_map(|n| {
            env(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (*n, v))
        })
    };
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority, scheme);
    if let Some((_, list)) = get(&["NO_PROXY", "no_proxy"])
        && bypasses(&list, &host, port)
    {
        return None;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => get(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
        _ => None,
    }
}

/// `%XX` escapes decoded (a proxy password is written percent-encoded in its URL).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_host_port(authority: &str, scheme: &str) -> (String, u16) {
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        let port = after
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(default);
        return (host.to_ascii_lowercase(), port);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_ascii_lowercase(), p.parse().unwrap_or(default)),
        _ => (authority.to_ascii_lowercase(), default),
    }
}

/// Does the `NO_PROXY` list send `host:port` direct?
pub fn bypasses(list: &str, host: &str, port: u16) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            let (pattern, entry_port) = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
                    (h.to_string(), p.parse::<u16>().ok())
                }
                _ => (entry.trim_matches(['[', ']']).to_string(), None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            if let Some((net, bits)) = pattern.split_once('/') {
                return in_cidr(host, net, bits);
            }
            let pattern = pattern.trim_start_matches("*.").trim_start_matches('.');
            host == pattern || host.ends_with(&format!(".{pattern}"))
        })
}

fn in_cidr(host: &str, net: &str, bits: &str) -> bool {
    let (Ok(ip), Ok(net), Ok(bits)) = (
        host.parse::<Ipv4Addr>(),
        net.parse::<Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(ip) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(url: &str, vars: &[(&str, &str)]) -> Option<String> {
        let m: HashMap<&str, &str> = vars.iter().copied().collect();
        proxy_for(url, &|k| m.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn scheme_specific_then_all_proxy() {
        let vars = [
            ("HTTPS_PROXY", "http://p:3128"),
            ("http_proxy", "http://q:8080"),
            ("ALL_PROXY", "http://r:1"),
        ];
        assert_eq!(
            pick("https://api.example.com/x", &vars).as_deref(),
            Some("http://p:3128")
        );
        assert_eq!(
            pick("http://127.0.0.1:8080/x", &vars),
            None,
            "cleartext is never proxied"
        );
        assert_eq!(
            pick("https://a.b/x", &[("https_proxy", " http://low:1 ")]).as_deref(),
            Some("http://low:1")
        );
        assert_eq!(
            pick("https://a.b/x", &[("ALL_PROXY", "socks5://s:1080")]).as_deref(),
            Some("socks5://s:1080")
        );
        assert_eq!(pick("https://a.b/x", &[("HTTPS_PROXY", "  ")]), None);
        assert_eq!(pick("https://a.b/x", &[]), None);
    }

    #[test]
    fn no_proxy_rules() {
        let p = [("HTTPS_PROXY", "http://p:3128")];
        fn with<'a>(p: &[(&'a str, &'a str)], list: &'a str) -> Vec<(&'a str, &'a str)> {
            let mut v = p.to_vec();
            v.push(("NO_PROXY", list));
            v
        }
        assert_eq!(
            pick("https://acme.okta.com/x", &with(&p, " foo.com , okta.com ")),
            None,
            "trimmed suffix"
        );
        assert_eq!(
            pick("https://okta.com/x", &with(&p, ".okta.com")),
            None,
            "leading dot matches the domain itself"
        );
        assert!(
            pick("https://notokta.com/x", &with(&p, "okta.com")).is_some(),
            "suffix means a label boundary"
        );
        assert_eq!(pick("https://x.y/z", &with(&p, "*")), None);
        assert_eq!(pick("https://10.1.2.3/z", &with(&p, "10.0.0.0/8")), None);
        assert!(pick("https://11.1.2.3/z", &with(&p, "10.0.0.0/8")).is_some());
        assert_eq!(
            pick(
                "https://api.example.com:8443/z",
                &with(&p, "api.example.com:8443")
            ),
            None
        );
        assert!(pick("https://api.example.com/z", &with(&p, "api.example.com:8443")).is_some());
        assert_eq!(pick("https://[::1]:9/z", &with(&p, "::1")), None);
        assert_eq!(pick("https://u:p@internal.corp/z", &with(&p, "*.corp")), None);
        let lower = [("HTTPS_PROXY", "http://p:3128"), ("no_proxy", "example.com")];
        assert_eq!(pick("https://example.com/", &lower), None);
    }
}
