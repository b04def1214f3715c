//! The embedded gateway: an HTTP reverse proxy routing `{basePath}/...` to the app's current
//! container with the prefix stripped. A route switch is atomic, and every request holds its
//! backend until its response body is sent, so an old container is drained before removal.
//! Hop-by-hop headers stop here in both directions; the forwarding headers an app builds its
//! URLs from are set on every request, believed only from `trusted_proxies`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One app container the gateway sends requests to.
#[derive(Debug)]
pub struct Backend {
    pub app_id: String,
    pub container: String,
    pub addr: SocketAddr,
    inflight: AtomicUsize,
    idle: Notify,
}

impl Backend {
    pub fn new(app_id: &str, container: &str, addr: SocketAddr) -> Arc<Backend> {
        Arc::new(Backend {
            app_id: app_id.to_string(),
            container: container.to_string(),
            addr,
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
        })
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Waits until no request is in flight on this backend, or `limit` passes. True when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inflight() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inflight() == 0;
            }
        }
    }
}

/// Held by a request for as long as it uses its backend.
struct InflightGuard(Arc<Backend>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The response body, holding the backend until the last byte is sent.
struct GuardedBody {
    inner: Incoming,
    _guard: InflightGuard,
}

impl hyper::body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Debug, Default)]
pub struct GatewayCounters {
    pub requests: AtomicU64,
    pub not_found: AtomicU64,
    pub errors: AtomicU64,
}

/// What the gateway counts per app: answers by status class (1xx..5xx; a backend that did
/// not answer counts as a 5xx) and the time to the answer's head.
#[derive(Debug, Default)]
pub struct AppTraffic {
    pub by_class: [AtomicU64; 5],
    pub latency: protocol::metrics::Histogram,
}

impl AppTraffic {
    fn answered(&self, status: StatusCode, took: Duration) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(took.as_secs_f64());
    }
}

pub struct Gateway {
    routes: RwLock<HashMap<String, Arc<Backend>>>,
    client: Client<HttpConnector, Body>,
    pub counters: GatewayCounters,
    traffic: RwLock<HashMap<String, Arc<AppTraffic>>>,
}

impl Gateway {
    pub fn new() -> Arc<Gateway> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Arc::new(Gateway {
            routes: RwLock::new(HashMap::new()),
            client,
            counters: GatewayCounters::default(),
            traffic: RwLock::new(HashMap::new()),
        })
    }

    /// The traffic counted for `app` (created on its first request).
    fn traffic_of(&self, app: &str) -> Arc<AppTraffic> {
        if let Some(t) = self
            .traffic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)
        {
            return t.clone();
        }
        self.traffic
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(app.to_string())
            .or_default()
            .clone()
    }

    /// Every app's traffic, by app id.
    pub fn traffic(&self) -> Vec<(String, Arc<AppTraffic>)> {
        let mut v: Vec<_> = self
            .traffic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(a, t)| (a.clone(), t.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Points `base_path` at `backend` atomically; answers the backend it replaced.
    pub fn set_route(&self, base_path: &str, backend: Arc<Backend>) -> Option<Arc<Backend>> {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.insert(base_path.to_string(), backend)
    }

    pub fn remove_route(&self, base_path: &str) -> Option<Arc<Backend>> {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.remove(base_path)
    }

    /// Routes `app_id` at `base_path` to `backend` and drops its other routes, all under one
    /// lock: no request finds the app unrouted in between. Answers the replaced backends.
    pub fn switch_app(
        &self,
        app_id: &str,
        base_path: &str,
        backend: Arc<Backend>,
    ) -> Vec<Arc<Backend>> {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<String> = routes
            .iter()
            .filter(|(k, b)| b.app_id == app_id && k.as_str() != base_path)
            .map(|(k, _)| k.clone())
            .collect();
        let mut old: Vec<Arc<Backend>> = keys.iter().filter_map(|k| routes.remove(k)).collect();
        old.extend(routes.insert(base_path.to_string(), backend));
        old
    }

    /// Removes every route of `app_id`; answers the removed backends.
    pub fn remove_app(&self, app_id: &str) -> Vec<Arc<Backend>> {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<String> = routes
            .iter()
            .filter(|(_, b)| b.app_id == app_id)
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().filter_map(|k| routes.remove(k)).collect()
    }

    pub fn routes(&self) -> Vec<(String, Arc<Backend>)> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = routes.iter().map(|(k, b)| (k.clone(), b.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn route_of(&self, app_id: &str) -> Option<(String, Arc<Backend>)> {
        self.routes().into_iter().find(|(_, b)| b.app_id == app_id)
    }

    /// The longest base path that `path` equals or lies under, with its backend already
    /// counted in flight (under the same lock a switch takes, so a drain never misses it).
    fn pick(&self, path: &str) -> Option<(String, InflightGuard)> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let mut candidate = path.trim_end_matches('/');
        loop {
            if candidate.is_empty() {
                return None;
            }
            if let Some(b) = routes.get(candidate) {
                b.inflight.fetch_add(1, Ordering::SeqCst);
                return Some((candidate.to_string(), InflightGuard(b.clone())));
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                None => return None,
            }
        }
    }

    /// Serves the routes on `listener`, believing the forwarding headers of `trusted` peers.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        trusted: TrustedProxies,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let app = axum::Router::new()
            .fallback(proxy)
            .with_state((self, Arc::new(trusted)));
        daemon::serve(listener, app, shutdown, Default::default()).await
    }
}

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

fn strip_hop_by_hop(headers: &mut HeaderMap) {
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

fn first_of(list: &str) -> &str {
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
fn set_forwarding(
    headers: &mut HeaderMap,
    peer: IpAddr,
    trusted: bool,
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
    let proto = proto.unwrap_or_else(|| "http".into());
    set("x-forwarded-proto", Some(&proto));
    let client_host = fwd_host.or_else(|| host.map(str::to_string));
    set("x-forwarded-host", client_host.as_deref());
    // A trusted proxy that mounted the gateway below a prefix of its own said so.
    let prefix = match prefix {
        Some(p) => format!("{}{base}", first_of(&p).trim_end_matches('/')),
        None => base.to_string(),
    };
    set("x-forwarded-prefix", Some(&prefix));
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

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

async fn proxy(
    State((gw, trusted)): State<(Arc<Gateway>, Arc<TrustedProxies>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    gw.counters.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let Some((base, guard)) = gw.pick(&path) else {
        gw.counters.not_found.fetch_add(1, Ordering::Relaxed);
        return plain(StatusCode::NOT_FOUND, "no app is routed at this path");
    };
    let started = std::time::Instant::now();
    let traffic = gw.traffic_of(&guard.0.app_id);
    let rest = &path[base.len()..];
    let rest = if rest.is_empty() { "/" } else { rest };
    let (mut parts, body) = req.into_parts();
    let pq = match &query {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    strip_hop_by_hop(&mut parts.headers);
    let trusted = trusted.contains(peer.ip());
    set_forwarding(
        &mut parts.headers,
        peer.ip(),
        trusted,
        host.as_deref(),
        &base,
    );
    let uri: Uri = match format!("http://{}{pq}", guard.0.addr).parse() {
        Ok(u) => u,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "malformed request path"),
    };
    parts.uri = uri;
    let req = Request::from_parts(parts, body);
    match gw.client.request(req).await {
        Ok(resp) => {
            traffic.answered(resp.status(), started.elapsed());
            let (mut parts, inner) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(
                parts,
                Body::new(GuardedBody {
                    inner,
                    _guard: guard,
                }),
            )
        }
        Err(e) => {
            traffic.answered(StatusCode::BAD_GATEWAY, started.elapsed());
            gw.counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(app = %guard.0.app_id, container = %guard.0.container, error = %e, "backend request failed");
            plain(
                StatusCode::BAD_GATEWAY,
                &format!("app {} did not answer", guard.0.app_id),
            )
        }
    }
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
        set_forwarding(&mut h, peer, false, Some("gw.test:8080"), "/runtime/7");
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
        set_forwarding(&mut h, peer, true, Some("10.0.0.4"), "/runtime/7");
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.2, 10.0.0.3");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "apps.example");
        assert_eq!(h["x-forwarded-prefix"], "/apps/runtime/7");
        assert_eq!(h["forwarded"], "for=10.0.0.3;proto=https;host=apps.example");
    }
}
