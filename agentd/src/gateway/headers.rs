//! The headers a proxied message carries: hop-by-hop ones removed (RFC 9110 §7.6.1) except
//! the `Upgrade` a WebSocket needs, and the forwarding headers an app builds its URLs from,
//! set on every request and believed only from `trusted_proxies`.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// Hop-by-hop headers (RFC 9110 §7.6.1), removed in both directions with every header that
/// the message's own `Connection` names.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The headers in which proxies tell where a request came from; only a trusted peer's are kept.
const FORWARDING: [&str; 7] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-real-ip",
];

pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        // The Host header is the request's own, never a connection option.
        .filter(|name| *name != header::HOST)
        .collect();
    for name in named {
        headers.remove(name);
    }
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
}

/// `[runtime.gateway] trusted_proxies`: the peers whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads CIDRs (`10.0.0.0/8`, `::1/128`) or bare addresses; says which entry is wrong.
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::with_capacity(list.len());
        for entry in list {
            let e = entry.trim();
            let (addr, len) = match e.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (e, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{entry:?} is not an address or a CIDR like 10.0.0.0/8"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => match l.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => {
                        return Err(format!(
                            "{entry:?}: the prefix length must be a number 0..={max}"
                        ));
                    }
                },
            };
            nets.push((addr.to_canonical(), len));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

/// The values of every line of `name`, joined as one list (RFC 9110 §5.3).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

pub(super) fn first_of(list: &str) -> &str {
    list.split(',').next().unwrap_or("").trim()
}

/// A `Forwarded` parameter value: a token as it is, anything else as a quoted string.
fn forwarded_value(v: &str) -> String {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !v.is_empty() && v.chars().all(tchar) {
        v.to_string()
    } else {
        let escaped: String = v
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

/// Sets the forwarding headers of a proxied request. From a trusted peer what came is kept
/// and appended to; from any other it is dropped and replaced by what the gateway sees.
pub(super) fn set_forwarding(
    headers: &mut HeaderMap,
    peer: IpAddr,
    trusted: bool,
    scheme: &str,
    host: Option<&str>,
    base: &str,
) {
    let came = |name: &str| if trusted { joined(headers, name) } else { None };
    let xff = came("x-forwarded-for");
    let proto = came("x-forwarded-proto");
    let fwd_host = came("x-forwarded-host");
    let prefix = came("x-forwarded-prefix");
    let forwarded = came("forwarded");
    if !trusted {
        for h in FORWARDING {
            headers.remove(h);
        }
    }
    let peer = peer.to_canonical();
    // A value that cannot be a header (obs-text from a trusted peer) leaves the header out.
    let mut set = |name: &'static str, value: Option<&str>| {
        match value.and_then(|v| HeaderValue::from_str(v).ok()) {
            Some(v) => headers.insert(HeaderName::from_static(name), v),
            None => headers.remove(name),
        };
    };
    set(
        "x-forwarded-for",
        Some(&match &xff {
            Some(prev) => format!("{prev}, {peer}"),
            None => peer.to_string(),
        }),
    );
    // The scheme and host the client used, as far as a trusted chain tells, else ours.
    let proto = proto.unwrap_or_else(|| scheme.to_string());
    set("x-forwarded-proto", Some(&proto));
    let client_host = fwd_host.or_else(|| host.map(str::to_string));
    set("x-forwarded-host", client_host.as_deref());
    // A trusted proxy that mounted the gateway below a prefix of its own said so.
    // A gateway passing the whole path on to another node's adds no prefix of its own.
    let prefix = match prefix {
        Some(p) => Some(format!("{}{base}", first_of(&p).trim_end_matches('/'))),
        None => Some(base.to_string()).filter(|b| !b.is_empty()),
    };
    set("x-forwarded-prefix", prefix.as_deref());
    let node = match peer {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let mut element = format!(
        "for={};proto={}",
        forwarded_value(&node),
        forwarded_value(first_of(&proto))
    );
    if let Some(h) = &client_host {
        element.push_str(&format!(";host={}", forwarded_value(first_of(h))));
    }
    set(
        "forwarded",
        Some(&match forwarded {
            Some(prev) => format!("{prev}, {element}"),
            None => element,
        }),
    );
}

/// Whether the message asks to switch protocols: `Connection: upgrade` and an `Upgrade`.
pub(super) fn upgrade_of(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// Puts back, after the hop-by-hop headers went, the protocol switch the message asked for.
pub(super) fn keep_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, upgrade);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn trusted_proxies_match_their_networks_only() {
        let t = TrustedProxies::parse(&list(&["10.0.0.0/8", "192.168.1.7", "fd00::/8"])).unwrap();
        for ip in ["10.1.2.3", "192.168.1.7", "fd12::1", "::ffff:10.9.9.9"] {
            assert!(t.contains(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["11.0.0.1", "192.168.1.8", "fe80::1", "127.0.0.1"] {
            assert!(!t.contains(ip.parse().unwrap()), "{ip}");
        }
        let all = TrustedProxies::parse(&list(&["0.0.0.0/0"])).unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert!(!TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_trusted_proxy_that_is_not_a_cidr_is_refused_naming_it() {
        for bad in ["10.0.0.0/33", "::/129", "localhost", "10.0.0.0/", "1.2.3/8"] {
            let err = TrustedProxies::parse(&list(&[bad])).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn headers_named_in_connection_go_with_the_hop_by_hop_ones() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "close, X-Secret-Hop, host"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("host", "example.test"),
            ("x-kept", "yes"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["host", "x-kept"]);
    }

    #[test]
    fn forwarded_values_are_tokens_or_quoted_strings() {
        assert_eq!(forwarded_value("192.0.2.1"), "192.0.2.1");
        assert_eq!(forwarded_value("[2001:db8::1]"), "\"[2001:db8::1]\"");
        assert_eq!(forwarded_value("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn an_untrusted_peer_gets_only_what_the_gateway_sees() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        h.insert("forwarded", HeaderValue::from_static("for=1.2.3.4"));
        h.insert("x-forwarded-port", HeaderValue::from_static("443"));
        let peer: IpAddr = "::1".parse().unwrap();
        set_forwarding(
            &mut h,
            peer,
            false,
            "http",
            Some("gw.test:8080"),
            "/runtime/7",
        );
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-for"], "::1");
        assert_eq!(h["x-forwarded-host"], "gw.test:8080");
        assert_eq!(h["x-forwarded-prefix"], "/runtime/7");
        assert_eq!(
            h["forwarded"],
            "for=\"[::1]\";proto=http;host=\"gw.test:8080\""
        );
        assert!(h.get("x-forwarded-port").is_none());
    }

    #[test]
    fn a_trusted_peer_keeps_its_chain_and_prefix() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-host", HeaderValue::from_static("apps.example"));
        h.insert("x-forwarded-prefix", HeaderValue::from_static("/apps/"));
        let peer: IpAddr = "10.0.0.3".parse().unwrap();
        set_forwarding(&mut h, peer, true, "http", Some("10.0.0.4"), "/runtime/7");
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.2, 10.0.0.3");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "apps.example");
        assert_eq!(h["x-forwarded-prefix"], "/apps/runtime/7");
        assert_eq!(h["forwarded"], "for=10.0.0.3;proto=https;host=apps.example");
    }
}
