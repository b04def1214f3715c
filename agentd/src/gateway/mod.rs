//! The embedded gateway: an HTTP reverse proxy routing `{basePath}/...` to the app's current
//! container with the prefix stripped. A route switch is atomic, and every request holds its
//! backend until its response body is sent, so an old container is drained before removal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
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

pub struct Gateway {
    routes: RwLock<HashMap<String, Arc<Backend>>>,
    client: Client<HttpConnector, Body>,
    pub counters: GatewayCounters,
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
        })
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

    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let app = axum::Router::new().fallback(proxy).with_state(self);
        daemon::serve(listener, app, shutdown, Default::default()).await
    }
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

async fn proxy(
    State(gw): State<Arc<Gateway>>,
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
    let rest = &path[base.len()..];
    let rest = if rest.is_empty() { "/" } else { rest };
    let (mut parts, body) = req.into_parts();
    let pq = match &query {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let host = parts.headers.get(header::HOST).cloned();
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    let set = |headers: &mut axum::http::HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut parts.headers, "x-forwarded-prefix", &base);
    set(&mut parts.headers, "x-forwarded-proto", "http");
    if let Some(h) = host.as_ref().and_then(|h| h.to_str().ok()) {
        set(&mut parts.headers, "x-forwarded-host", h);
    }
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    set(&mut parts.headers, "x-forwarded-for", &xff);
    let uri: Uri = match format!("http://{}{pq}", guard.0.addr).parse() {
        Ok(u) => u,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "malformed request path"),
    };
    parts.uri = uri;
    let req = Request::from_parts(parts, body);
    match gw.client.request(req).await {
        Ok(resp) => {
            let (mut parts, inner) = resp.into_parts();
            for h in HOP_BY_HOP {
                parts.headers.remove(h);
            }
            Response::from_parts(
                parts,
                Body::new(GuardedBody {
                    inner,
                    _guard: guard,
                }),
            )
        }
        Err(e) => {
            gw.counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(app = %guard.0.app_id, container = %guard.0.container, error = %e, "backend request failed");
            plain(
                StatusCode::BAD_GATEWAY,
                &format!("app {} did not answer", guard.0.app_id),
            )
        }
    }
}
