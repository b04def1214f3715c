//! The runtime role: app containers through the Docker API, redeploy without downtime,
//! the gateway's routes, adoption of running apps at start, heartbeats to deployd.

pub mod api;
mod labels;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::agent::{AppStatusAnswer, DeployAppAnswer, DeployAppRequest};
use protocol::check::CheckReport;
use protocol::client::DeployClient;
use protocol::failure::FailureCode;
use protocol::node::NodeHeartbeat;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::docker::{ContainerInfo, ContainerSpec, DockerError, Engine, RegistryAuth};
use crate::gateway::{Backend, Gateway};
use crate::settings::{PullPolicy, RuntimeSettings};
pub use labels::*;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("a deploy of app {0} is already in flight")]
    InFlight(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{1}")]
    Unhealthy(FailureCode, String),
    #[error("{0}")]
    Internal(String),
}

impl RuntimeError {
    /// The failure code callers get beside the message; none for a refused request.
    pub fn code(&self) -> Option<FailureCode> {
        match self {
            RuntimeError::BadInput(_) | RuntimeError::NotFound(_) | RuntimeError::InFlight(_) => {
                None
            }
            RuntimeError::Docker(d) => Some(d.code()),
            RuntimeError::Unhealthy(code, _) => Some(*code),
            RuntimeError::Internal(_) => Some(FailureCode::Internal),
        }
    }
}

/// What agentd remembers across restarts: the container each app is routed to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Book {
    apps: BTreeMap<String, BookEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BookEntry {
    container: String,
    stopped: bool,
}

/// What the runtime counts for `/metrics`.
#[derive(Debug, Default)]
pub struct RuntimeMetrics {
    pub deploys_ok: std::sync::atomic::AtomicU64,
    pub deploys_failed: std::sync::atomic::AtomicU64,
    /// From the deploy call to the switch of the route.
    pub deploy_duration: protocol::metrics::Histogram,
}

pub struct Runtime {
    pub settings: RuntimeSettings,
    pub metrics: RuntimeMetrics,
    engine: Engine,
    pub gateway: Arc<Gateway>,
    in_flight: Mutex<HashSet<String>>,
    book: tokio::sync::Mutex<Book>,
    book_path: PathBuf,
    deployd: Option<DeployClient>,
    beat_now: Notify,
    http: reqwest::Client,
    /// The latest connectivity check not yet delivered with a heartbeat.
    checks: Mutex<Option<CheckReport>>,
}

/// Releases an app's in-flight mark when a deploy ends, however it ends.
struct FlightGuard<'a> {
    set: &'a Mutex<HashSet<String>>,
    app: String,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.app);
    }
}

fn short_id() -> String {
    use rand::Rng;
    let n: u32 = rand::rng().random();
    format!("{n:08x}")
}

impl Runtime {
    /// Connects to Docker, ensures the network, adopts the app containers of this node.
    pub async fn start(
        settings: RuntimeSettings,
        deployd: Option<DeployClient>,
    ) -> Result<Arc<Runtime>, RuntimeError> {
        let engine = Engine::connect(&settings.docker_host).await?;
        engine.ensure_network(&settings.network).await?;
        let data_dir = PathBuf::from(&settings.data_dir);
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            RuntimeError::Internal(format!(
                "cannot create data_dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let book_path = data_dir.join(format!("agentd-routes-{}.json", settings.node_name));
        let book = match std::fs::read(&book_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %book_path.display(), error = %e, "route book unreadable; rebuilding from containers");
                Book::default()
            }),
            Err(_) => Book::default(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        let rt = Arc::new(Runtime {
            settings,
            metrics: RuntimeMetrics::default(),
            engine,
            gateway: Gateway::new(),
            in_flight: Mutex::new(HashSet::new()),
            book: tokio::sync::Mutex::new(book),
            book_path,
            deployd,
            beat_now: Notify::new(),
            http,
            checks: Mutex::new(None),
        });
        rt.adopt().await?;
        Ok(rt)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn node_filter(&self) -> String {
        format!("{LABEL_NODE}={}", self.settings.node_name)
    }

    async fn containers(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Ok(self
            .engine
            .list_by_label(&self.node_filter(), &self.settings.network)
            .await?
            .into_iter()
            .filter(|c| c.labels.contains_key(LABEL_APP))
            .collect())
    }

    async fn app_containers(&self, app_id: &str) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut v: Vec<ContainerInfo> = self
            .containers()
            .await?
            .into_iter()
            .filter(|c| c.labels.get(LABEL_APP).map(String::as_str) == Some(app_id))
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(created_ms(c)));
        Ok(v)
    }

    async fn save_book(&self, book: &Book) {
        let tmp = self.book_path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(book).unwrap_or_default();
        let res = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &self.book_path));
        if let Err(e) = res {
            tracing::error!(path = %self.book_path.display(), error = %e, "cannot save the route book");
        }
    }

    fn backend_for(&self, c: &ContainerInfo) -> Option<(String, Arc<Backend>)> {
        let app = c.labels.get(LABEL_APP)?;
        let port: u16 = c.labels.get(LABEL_PORT)?.parse().ok()?;
        let base = c.labels.get(LABEL_BASE_PATH)?.clone();
        let ip: std::net::IpAddr = c.ip.as_ref()?.parse().ok()?;
        Some((base, Backend::new(app, &c.name, SocketAddr::new(ip, port))))
    }

    /// Routes the containers that were serving before a restart and removes what an
    /// interrupted deploy left behind.
    async fn adopt(&self) -> Result<(), RuntimeError> {
        let all = self.containers().await?;
        let mut by_app: HashMap<String, Vec<ContainerInfo>> = HashMap::new();
        for c in all {
            if let Some(app) = c.labels.get(LABEL_APP).cloned() {
                by_app.entry(app).or_default().push(c);
            }
        }
        let mut book = self.book.lock().await;
        for (app, mut cs) in by_app {
            cs.sort_by_key(|c| std::cmp::Reverse(created_ms(c)));
            let entry = book.apps.get(&app).cloned();
            let keep = match &entry {
                Some(e) => cs.iter().find(|c| c.name == e.container).cloned(),
                None => None,
            }
            .or_else(|| cs.iter().find(|c| c.running).cloned());
            let Some(keep) = keep else {
                continue;
            };
            for c in cs.iter().filter(|c| c.name != keep.name) {
                tracing::info!(app = %app, container = %c.name, "removing a leftover of an interrupted deploy");
                self.engine.remove(&c.name).await?;
            }
            let stopped = entry
                .as_ref()
                .is_some_and(|e| e.stopped && e.container == keep.name)
                || !keep.running;
            if !stopped {
                // The address may not be known from a listing; ask the engine.
                let fresh = self
                    .engine
                    .inspect(&keep.name, &self.settings.network)
                    .await?
                    .unwrap_or(keep.clone());
                match self.backend_for(&fresh) {
                    Some((base, backend)) => {
                        tracing::info!(app = %app, container = %keep.name, base = %base, "adopted");
                        self.gateway.set_route(&base, backend);
                    }
                    None => {
                        tracing::warn!(app = %app, container = %keep.name, "cannot route: no address or labels")
                    }
                }
            }
            book.apps.insert(
                app,
                BookEntry {
                    container: keep.name.clone(),
                    stopped,
                },
            );
        }
        let existing: HashSet<String> = self
            .containers()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        book.apps.retain(|_, e| existing.contains(&e.container));
        self.save_book(&book).await;
        Ok(())
    }

    fn mark_in_flight(&self, app: &str) -> Result<FlightGuard<'_>, RuntimeError> {
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(app.to_string()) {
            return Err(RuntimeError::InFlight(app.to_string()));
        }
        Ok(FlightGuard {
            set: &self.in_flight,
            app: app.to_string(),
        })
    }

    fn registry_auth(&self, image: &str) -> Option<RegistryAuth> {
        let s = &self.settings;
        if s.registry_username.is_empty() {
            return None;
        }
        let parsed = protocol::validate::ImageRef::parse(image).ok()?;
        (parsed.registry.as_deref() == Some(s.registry.as_str())).then(|| RegistryAuth {
            server: s.registry.clone(),
            username: s.registry_username.clone(),
            password: s.registry_password.clone(),
        })
    }

    /// Pull, start new, wait healthy, switch, drain old, remove old; counted for `/metrics`.
    pub async fn deploy(&self, req: DeployAppRequest) -> Result<DeployAppAnswer, RuntimeError> {
        use std::sync::atomic::Ordering;
        let t0 = Instant::now();
        let r = self.deploy_steps(req).await;
        match &r {
            Ok(_) => {
                self.metrics.deploys_ok.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .deploy_duration
                    .observe(t0.elapsed().as_secs_f64());
            }
            Err(RuntimeError::InFlight(_)) | Err(RuntimeError::BadInput(_)) => {}
            Err(_) => {
                self.metrics.deploys_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    async fn deploy_steps(&self, req: DeployAppRequest) -> Result<DeployAppAnswer, RuntimeError> {
        let plan = validate_deploy(&req)?;
        let _flight = self.mark_in_flight(&req.app_id)?;
        let started = Instant::now();
        if self.settings.pull == PullPolicy::IfMissing && self.engine.has_image(&req.image).await? {
            tracing::info!(app = %req.app_id, image = %req.image, "deploy: image present, no pull");
        } else {
            tracing::info!(app = %req.app_id, image = %req.image, "deploy: pull");
            self.engine
                .pull(&req.image, self.registry_auth(&req.image).as_ref())
                .await?;
        }

        let name = format!("rt-u-{}-{}-{}", req.user_id, req.app_id, short_id());
        let spec = ContainerSpec {
            name: name.clone(),
            image: req.image.clone(),
            env: self.container_env(&req),
            labels: container_labels(
                &self.settings.node_name,
                &self.settings.network,
                &req,
                &plan.base_path,
            ),
            network: self.settings.network.clone(),
            nano_cpus: (self.settings.cpus > 0.0).then_some((self.settings.cpus * 1e9) as i64),
            memory_bytes: (self.settings.memory_mb > 0)
                .then(|| self.settings.memory_mb * 1024 * 1024),
            pids_limit: (self.settings.pids_limit > 0).then_some(self.settings.pids_limit),
            restart_policy: self.settings.restart_policy,
            init: self.settings.init,
        };
        tracing::info!(app = %req.app_id, container = %name, "deploy: start new");
        self.engine.create_and_start(&spec).await?;

        tracing::info!(app = %req.app_id, container = %name, "deploy: wait healthy");
        let addr = match self
            .wait_healthy(&name, plan.port, req.health_path.as_deref())
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(app = %req.app_id, container = %name, error = %e, "deploy: new container unhealthy, removing it; the old one keeps serving");
                if let Err(rm) = self.engine.remove(&name).await {
                    tracing::error!(container = %name, error = %rm, "cannot remove the unhealthy container");
                }
                return Err(e);
            }
        };

        tracing::info!(app = %req.app_id, container = %name, "deploy: switch route");
        let backend = Backend::new(&req.app_id, &name, addr);
        let old_backends = self
            .gateway
            .switch_app(&req.app_id, &plan.base_path, backend);
        {
            let mut book = self.book.lock().await;
            book.apps.insert(
                req.app_id.clone(),
                BookEntry {
                    container: name.clone(),
                    stopped: false,
                },
            );
            self.save_book(&book).await;
        }

        let drain = Duration::from_secs(self.settings.drain_timeout_seconds);
        for old in &old_backends {
            if old.container == name {
                continue;
            }
            tracing::info!(app = %req.app_id, container = %old.container, inflight = old.inflight(), "deploy: drain old");
            if !old.wait_idle(drain).await {
                tracing::warn!(container = %old.container, inflight = old.inflight(), "drain deadline passed");
            }
        }
        for c in self.app_containers(&req.app_id).await? {
            if c.name != name {
                tracing::info!(app = %req.app_id, container = %c.name, "deploy: remove old");
                self.engine
                    .stop(&c.name, self.settings.stop_grace_seconds as i32)
                    .await?;
                self.engine.remove(&c.name).await?;
            }
        }
        self.beat_now.notify_one();
        tracing::info!(app = %req.app_id, container = %name, elapsed_ms = started.elapsed().as_millis() as u64, "deployed");
        Ok(DeployAppAnswer {
            app_id: req.app_id.clone(),
            container_name: name,
            status: "DEPLOYED".into(),
            preview_url: format!(
                "{}{}/",
                self.settings.gateway_base_url.trim_end_matches('/'),
                plan.base_path
            ),
        })
    }

    fn container_env(&self, req: &DeployAppRequest) -> Vec<String> {
        let mut env: BTreeMap<String, String> = req.env.clone().unwrap_or_default();
        env.insert("PORT".into(), req.container_port.to_string());
        if let Some(m) = &self.settings.mongo {
            let db = format!("db_u{}_a{}", req.user_id, req.app_id);
            let base = m.url.expose().trim_end_matches('/');
            let uri = if m.options.is_empty() {
                format!("{base}/{db}")
            } else {
                format!("{base}/{db}?{}", m.options)
            };
            env.insert("MONGODB_URI".into(), uri.clone());
            env.insert("MONGO_URL".into(), uri);
            env.insert("FUNAI_MONGO_DB_NAME".into(), db);
        }
        env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Healthy: running, TCP open on the port, and a 2xx/3xx on `health_path` when set.
    /// A container that exits fails at once with its last lines.
    async fn wait_healthy(
        &self,
        name: &str,
        port: u16,
        health_path: Option<&str>,
    ) -> Result<SocketAddr, RuntimeError> {
        let limit = Duration::from_secs(self.settings.health_timeout_seconds);
        let deadline = tokio::time::Instant::now() + limit;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = String::from("no address on the network yet");
        loop {
            tick.tick().await;
            let info = self
                .engine
                .inspect(name, &self.settings.network)
                .await?
                .ok_or_else(|| {
                    RuntimeError::Unhealthy(
                        FailureCode::ContainerExited,
                        format!("container {name} disappeared while starting"),
                    )
                })?;
            if !info.running || info.restart_count > 0 || info.status == "restarting" {
                let tail = self.engine.logs_tail(name, 20).await.unwrap_or_default();
                return Err(RuntimeError::Unhealthy(
                    FailureCode::ContainerExited,
                    format!(
                        "container {name} exited{} before becoming healthy; its last lines:\n{}",
                        info.exit_code
                            .filter(|c| *c != 0)
                            .map(|c| format!(" with code {c}"))
                            .unwrap_or_default(),
                        tail.trim_end()
                    ),
                ));
            }
            if let Some(ip) = info
                .ip
                .as_ref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            {
                let addr = SocketAddr::new(ip, port);
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
                {
                    Ok(Ok(_)) => match health_path {
                        None => return Ok(addr),
                        Some(path) => {
                            let url = format!("http://{addr}{path}");
                            match self.http.get(&url).send().await {
                                Ok(r) if r.status().is_success() || r.status().is_redirection() => {
                                    return Ok(addr);
                                }
                                Ok(r) => last = format!("GET {path} answered {}", r.status()),
                                Err(e) => last = format!("GET {path} failed: {e}"),
                            }
                        }
                    },
                    Ok(Err(e)) => last = format!("TCP {addr}: {e}"),
                    Err(_) => last = format!("TCP {addr}: no answer within 1 s"),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::Unhealthy(
                    FailureCode::PortNotListening,
                    format!(
                        "the app never became healthy on port {port} within {} s ({last})",
                        limit.as_secs()
                    ),
                ));
            }
        }
    }

    pub async fn stop(&self, user_id: &str, app_id: &str) -> Result<(), RuntimeError> {
        check_ids(user_id, app_id)?;
        let _flight = self.mark_in_flight(app_id)?;
        let cs = self.app_containers(app_id).await?;
        if cs.is_empty() {
            return Err(RuntimeError::NotFound(format!(
                "app {app_id} has no container on this node"
            )));
        }
        for b in self.gateway.remove_app(app_id) {
            b.wait_idle(Duration::from_secs(self.settings.drain_timeout_seconds))
                .await;
        }
        for c in &cs {
            self.engine
                .stop(&c.name, self.settings.stop_grace_seconds as i32)
                .await?;
        }
        {
            let mut book = self.book.lock().await;
            book.apps.insert(
                app_id.to_string(),
                BookEntry {
                    container: cs[0].name.clone(),
                    stopped: true,
                },
            );
            self.save_book(&book).await;
        }
        self.beat_now.notify_one();
        Ok(())
    }

    /// Removes the app's containers and the images they ran.
    pub async fn delete(
        &self,
        user_id: &str,
        app_id: &str,
    ) -> Result<serde_json::Value, RuntimeError> {
        check_ids(user_id, app_id)?;
        let _flight = self.mark_in_flight(app_id)?;
        let cs = self.app_containers(app_id).await?;
        if cs.is_empty() {
            return Err(RuntimeError::NotFound(format!(
                "app {app_id} has no container on this node"
            )));
        }
        self.gateway.remove_app(app_id);
        let mut images = Vec::new();
        for c in &cs {
            self.engine.remove(&c.name).await?;
            if !images.contains(&c.image) {
                images.push(c.image.clone());
            }
        }
        let mut removed = Vec::new();
        for img in &images {
            if self.engine.remove_image(img).await? {
                removed.push(img.clone());
            }
        }
        {
            let mut book = self.book.lock().await;
            book.apps.remove(app_id);
            self.save_book(&book).await;
        }
        self.beat_now.notify_one();
        Ok(serde_json::json!({
            "appId": app_id,
            "status": "DELETED",
            "removedContainers": cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "removedImages": removed,
        }))
    }

    pub async fn status(
        &self,
        user_id: &str,
        app_id: &str,
    ) -> Result<AppStatusAnswer, RuntimeError> {
        check_ids(user_id, app_id)?;
        let routed = self
            .gateway
            .route_of(app_id)
            .map(|(_, b)| b.container.clone());
        let cs = self.app_containers(app_id).await?;
        let current = routed
            .and_then(|n| cs.iter().find(|c| c.name == n))
            .or_else(|| cs.first());
        Ok(match current {
            Some(c) => AppStatusAnswer {
                app_id: app_id.to_string(),
                container_name: Some(c.name.clone()),
                exists: true,
                running: c.running,
                image: Some(c.image.clone()),
                port: c.labels.get(LABEL_PORT).and_then(|p| p.parse().ok()),
            },
            None => AppStatusAnswer {
                app_id: app_id.to_string(),
                container_name: None,
                exists: false,
                running: false,
                image: None,
                port: None,
            },
        })
    }

    pub async fn logs(&self, app_id: &str, tail: u32) -> Result<serde_json::Value, RuntimeError> {
        protocol::validate::id(app_id).map_err(|m| RuntimeError::BadInput(format!("appId {m}")))?;
        let routed = self
            .gateway
            .route_of(app_id)
            .map(|(_, b)| b.container.clone());
        let cs = self.app_containers(app_id).await?;
        let c = routed
            .and_then(|n| cs.iter().find(|c| c.name == n).cloned())
            .or_else(|| cs.first().cloned())
            .ok_or_else(|| {
                RuntimeError::NotFound(format!("app {app_id} has no container on this node"))
            })?;
        let text = self.engine.logs_tail(&c.name, tail).await?;
        Ok(serde_json::json!({ "appId": app_id, "containerName": c.name, "logs": text }))
    }

    /// Prometheus text: deploys, their durations, the gateway's requests and errors, routes
    /// and running app containers.
    pub async fn render_metrics(&self) -> String {
        use protocol::metrics::{counter, gauge};
        use std::sync::atomic::Ordering;
        let mut out = String::new();
        let m = &self.metrics;
        let _ = std::fmt::Write::write_str(
            &mut out,
            &format!(
                "# HELP agentd_deploys_total Deploys of app containers, by result.\n# TYPE agentd_deploys_total counter\nagentd_deploys_total{{result=\"ok\"}} {}\nagentd_deploys_total{{result=\"failed\"}} {}\n",
                m.deploys_ok.load(Ordering::Relaxed),
                m.deploys_failed.load(Ordering::Relaxed)
            ),
        );
        m.deploy_duration.render(
            &mut out,
            "agentd_deploy_duration_seconds",
            "From the deploy call to the switch of the route.",
        );
        let g = &self.gateway.counters;
        counter(
            &mut out,
            "agentd_gateway_requests_total",
            "Requests the gateway received.",
            g.requests.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "agentd_gateway_not_found_total",
            "Requests for a path no app is routed at.",
            g.not_found.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "agentd_gateway_errors_total",
            "Requests whose app did not answer.",
            g.errors.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "agentd_routes",
            "Apps the gateway routes.",
            self.gateway.routes().len() as f64,
        );
        match self.container_count().await {
            Ok(n) => gauge(
                &mut out,
                "agentd_app_containers_running",
                "Running app containers of this node.",
                n as f64,
            ),
            Err(_) => gauge(
                &mut out,
                "agentd_docker_up",
                "Whether the Docker engine answered this scrape.",
                0.0,
            ),
        }
        out
    }

    /// Running app containers of this node.
    pub async fn container_count(&self) -> Result<i64, RuntimeError> {
        Ok(self
            .containers()
            .await?
            .iter()
            .filter(|c| c.running)
            .count() as i64)
    }

    pub async fn heartbeat(&self) -> Result<NodeHeartbeat, RuntimeError> {
        let s = &self.settings;
        let stats = fs4::statvfs(&s.data_dir).map_err(|e| {
            RuntimeError::Internal(format!("cannot measure disk free of {}: {e}", s.data_dir))
        })?;
        let total = stats.total_space().max(1);
        let free = stats.available_space();
        Ok(NodeHeartbeat {
            node_name: s.node_name.clone(),
            agent_base_url: s.agent_base_url.clone(),
            gateway_base_url: s.gateway_base_url.clone(),
            disk_free_pct: (free as f64 * 100.0 / total as f64 * 10.0).round() / 10.0,
            disk_free_bytes: free as i64,
            container_count: self.container_count().await?,
            checks: self
                .checks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        })
    }

    /// Sends `report` with the next heartbeat, at once.
    pub fn deliver_checks(&self, report: CheckReport) {
        *self.checks.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        self.beat_now.notify_one();
    }

    /// Beats every `heartbeat_seconds` and right after each deploy, stop or delete.
    pub async fn heartbeat_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(client) = self.deployd.clone() else {
            return;
        };
        let period = Duration::from_secs(self.settings.heartbeat_seconds.max(1));
        loop {
            match self.heartbeat().await {
                Ok(hb) => match client.node_heartbeat(&hb).await {
                    Ok(_) => {
                        // Delivered: later beats carry no check until the next round.
                        if let Some(sent) = &hb.checks {
                            let mut pending = self.checks.lock().unwrap_or_else(|p| p.into_inner());
                            if pending.as_ref().map(|c| c.probed_at) == Some(sent.probed_at) {
                                *pending = None;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "node heartbeat to deployd failed"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot build the node heartbeat"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
                _ = self.beat_now.notified() => {}
            }
        }
    }
}

fn created_ms(c: &ContainerInfo) -> i64 {
    c.labels
        .get(LABEL_CREATED_MS)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn check_ids(user_id: &str, app_id: &str) -> Result<(), RuntimeError> {
    protocol::validate::id(user_id).map_err(|m| RuntimeError::BadInput(format!("userId {m}")))?;
    protocol::validate::id(app_id).map_err(|m| RuntimeError::BadInput(format!("appId {m}")))?;
    Ok(())
}

struct DeployPlan {
    port: u16,
    base_path: String,
}

fn validate_deploy(req: &DeployAppRequest) -> Result<DeployPlan, RuntimeError> {
    let bad = |f: &str, m: String| RuntimeError::BadInput(format!("{f}: {m}"));
    check_ids(&req.user_id, &req.app_id)?;
    protocol::validate::ImageRef::parse(&req.image).map_err(|m| bad("image", m))?;
    let port = protocol::validate::port(req.container_port).map_err(|m| bad("containerPort", m))?;
    let base_path = req
        .base_path
        .clone()
        .unwrap_or_else(|| format!("/runtime/{}", req.app_id));
    protocol::validate::base_path(&base_path).map_err(|m| bad("basePath", m))?;
    if let Some(p) = &req.health_path
        && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(bad(
            "healthPath",
            "must start with '/' and contain no spaces".into(),
        ));
    }
    if let Some(env) = &req.env {
        for (k, v) in env {
            let ok = !k.is_empty()
                && k.len() <= 128
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(bad(
                    &format!("env.{k}"),
                    "a variable name is letters, digits and '_'".into(),
                ));
            }
            if v.contains('\0') {
                return Err(bad(&format!("env.{k}"), "must not contain NUL".into()));
            }
        }
    }
    Ok(DeployPlan { port, base_path })
}
