//! The embedded gateway: an HTTP reverse proxy routing `{basePath}/...` to the app's current
//! container with the prefix stripped, over plain HTTP and, with `[runtime.gateway.tls]`,
//! HTTPS. A route switch is atomic, and every request, streamed body and WebSocket holds its
//! backend until it ends, so an old container is drained before removal. A backend whose
//! container died is answered 502 at once until the engine starts it again.

mod access_log;
mod headers;
mod proxy;
mod serve;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::uri::Authority;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use access_log::AccessLog;
pub use headers::TrustedProxies;
pub use serve::{Listeners, ServeOptions};

/// One app container the gateway sends requests to.
#[derive(Debug)]
pub struct Backend {
    pub app_id: String,
    pub container: String,
    pub addr: SocketAddr,
    authority: Authority,
    inflight: AtomicUsize,
    idle: Notify,
    /// Cancelled when the container died or the drain deadline passed: what is still open on
    /// it (a request waiting for its answer, a WebSocket) is cut.
    gone: CancellationToken,
    down: OnceLock<String>,
    traffic: OnceLock<Arc<AppTraffic>>,
    /// The gateway of another node (named) that holds the apps routed here: the whole path
    /// goes to it, as to the entry it stands in for.
    pub remote: Option<String>,
}

impl Backend {
    pub fn new(app_id: &str, container: &str, addr: SocketAddr) -> Arc<Backend> {
        let authority = Authority::try_from(addr.to_string().as_str())
            .unwrap_or_else(|_| Authority::from_static("127.0.0.1"));
        Arc::new(Backend {
            app_id: app_id.to_string(),
            container: container.to_string(),
            addr,
            authority,
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            gone: CancellationToken::new(),
            down: OnceLock::new(),
            traffic: OnceLock::new(),
            remote: None,
        })
    }

    /// The gateway of node `node` at `addr`, for the apps that node holds.
    pub fn remote(node: &str, addr: SocketAddr) -> Arc<Backend> {
        let mut b = Arc::into_inner(Backend::new(
            &format!("(node {node})"),
            &format!("gateway of {node}"),
            addr,
        ))
        .unwrap_or_else(|| unreachable!("a new Arc has one owner"));
        b.remote = Some(node.to_string());
        Arc::new(b)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Waits until no request or socket is open on this backend, or `limit` passes. True
    /// when idle.
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

    /// Its container died or went behind agentd's back: requests get 502 at once from now,
    /// and what is open on it is cut.
    pub fn mark_down(&self, why: &str) {
        let _ = self.down.set(why.to_string());
        self.gone.cancel();
    }

    /// Why the backend is down; `None` while it serves.
    pub fn down(&self) -> Option<&str> {
        self.down.get().map(String::as_str)
    }

    /// The drain deadline passed: cuts the requests and sockets still open on it.
    pub fn cut(&self) {
        self.gone.cancel();
    }
}

/// Held by a request (or a WebSocket) for as long as it uses its backend.
struct InflightGuard(Arc<Backend>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[derive(Debug, Default)]
pub struct GatewayCounters {
    pub requests: AtomicU64,
    /// Requests for apps of other nodes, passed to their gateways.
    pub forwarded: AtomicU64,
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
    /// The base paths other nodes serve, from deployd's route table.
    remote: RwLock<HashMap<String, Arc<Backend>>>,
    /// How the route table is kept fresh: read again at once on a miss.
    table: RemoteTable,
    pub counters: GatewayCounters,
    traffic: RwLock<HashMap<String, Arc<AppTraffic>>>,
    /// The certificate of the HTTPS listener, when there is one (reloaded on SIGHUP).
    certs: OnceLock<Arc<tls::Certs>>,
    access_log: OnceLock<AccessLog>,
}

impl Gateway {
    pub fn new() -> Arc<Gateway> {
        Arc::new(Gateway {
            routes: RwLock::new(HashMap::new()),
            remote: RwLock::new(HashMap::new()),
            table: RemoteTable::default(),
            counters: GatewayCounters::default(),
            traffic: RwLock::new(HashMap::new()),
            certs: OnceLock::new(),
            access_log: OnceLock::new(),
        })
    }

    /// SIGHUP: reads the certificate and key files again (connections already open keep the
    /// old one; a bad pair is said and the old one kept) and reopens the access log files.
    pub fn reload(&self) -> Result<(), String> {
        if let Some(log) = self.access_log.get() {
            log.reopen();
        }
        match self.certs.get() {
            Some(c) => c.reload(),
            None => Ok(()),
        }
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

    /// The traffic of the app `backend` serves, found once per backend.
    fn traffic_for(&self, backend: &Backend) -> Arc<AppTraffic> {
        backend
            .traffic
            .get_or_init(|| self.traffic_of(&backend.app_id))
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

    /// The routed backend whose container is `container`, if any.
    pub fn backend_of_container(&self, container: &str) -> Option<Arc<Backend>> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        routes.values().find(|b| b.container == container).cloned()
    }

    /// Replaces the base paths other nodes serve (deployd's route table); answers how many.
    pub fn set_remote(&self, routes: HashMap<String, Arc<Backend>>) -> usize {
        let n = routes.len();
        *self.remote.write().unwrap_or_else(|p| p.into_inner()) = routes;
        self.table_tried();
        n
    }

    /// A read of the route table ended, read or not: requests waiting on it look again.
    pub fn table_tried(&self) {
        *self.table.read_at.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now());
        self.table.generation.send_modify(|g| *g += 1);
    }

    /// Called by the loop that reads the route table, before its first read: from then on
    /// a miss may ask it to read again at once.
    pub fn table_kept(&self) {
        self.table.kept.store(true, Ordering::SeqCst);
    }

    /// Waits until the loop that reads the route table is asked to read it now (a path no
    /// route matched), or `period` passes.
    pub async fn table_wanted(&self, period: Duration) {
        let _ = tokio::time::timeout(period, self.table.wanted.notified()).await;
    }

    /// After a miss: reads deployd's route table again now and answers true once the read
    /// ended, unless no table is kept, or it was read less than [`TABLE_READ_GAP`] ago (the
    /// miss is then real: a flood of unknown paths asks deployd at most once per gap), or
    /// the read takes longer than [`TABLE_READ_WAIT`]. Misses at once share one read.
    async fn read_table_again(&self) -> bool {
        if !self.table.kept.load(Ordering::SeqCst) {
            return false;
        }
        let mut rx = self.table.generation.subscribe();
        rx.borrow_and_update();
        let recent = self
            .table
            .read_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < TABLE_READ_GAP);
        if recent {
            return false;
        }
        self.table.wanted.notify_one();
        matches!(
            tokio::time::timeout(TABLE_READ_WAIT, rx.changed()).await,
            Ok(Ok(()))
        )
    }

    /// The gateway of another node for `path`, as deployd's route table last said.
    pub fn remote_of(&self, path: &str) -> Option<Arc<Backend>> {
        let remote = self.remote.read().unwrap_or_else(|p| p.into_inner());
        longest(&remote, path).map(|(_, b)| b.clone())
    }

    /// The longest base path that `path` equals or lies under (its length), with its backend
    /// already counted in flight (under the same lock a switch takes, so a drain never
    /// misses it). With `forward`, a path no app of this node holds goes to the node that
    /// holds it (the whole path: length 0).
    fn pick(&self, path: &str, forward: bool) -> Option<(usize, InflightGuard)> {
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            if let Some((len, b)) = longest(&routes, path) {
                b.inflight.fetch_add(1, Ordering::SeqCst);
                return Some((len, InflightGuard(b.clone())));
            }
        }
        if !forward {
            return None;
        }
        let b = self.remote_of(path)?;
        b.inflight.fetch_add(1, Ordering::SeqCst);
        Some((0, InflightGuard(b)))
    }
}

/// A miss reads the route table again only when it was read longer ago than this.
pub const TABLE_READ_GAP: Duration = Duration::from_secs(1);
/// How long a request that missed waits for the route table to be read again.
const TABLE_READ_WAIT: Duration = Duration::from_secs(2);

/// deployd's route table as this gateway keeps it.
struct RemoteTable {
    /// True once a loop reads it (a node with deployd to ask).
    kept: std::sync::atomic::AtomicBool,
    /// When it was last read, or a read failed.
    read_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// Counts the reads; a request that missed waits for the next.
    generation: tokio::sync::watch::Sender<u64>,
    /// Asks the loop to read it now.
    wanted: Notify,
}

impl Default for RemoteTable {
    fn default() -> Self {
        RemoteTable {
            kept: Default::default(),
            read_at: Default::default(),
            generation: tokio::sync::watch::Sender::new(0),
            wanted: Notify::new(),
        }
    }
}

/// The entry of `routes` whose base path `path` equals or lies under, the longest.
fn longest<'a>(
    routes: &'a HashMap<String, Arc<Backend>>,
    path: &str,
) -> Option<(usize, &'a Arc<Backend>)> {
    let mut candidate = path.trim_end_matches('/');
    loop {
        if candidate.is_empty() {
            return None;
        }
        if let Some(b) = routes.get(candidate) {
            return Some((candidate.len(), b));
        }
        match candidate.rfind('/') {
            Some(i) => candidate = &candidate[..i],
            None => return None,
        }
    }
}
