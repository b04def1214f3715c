//! The runtime role: app containers through the Docker API, redeploy without downtime,
//! the gateway's routes, adoption of running apps at start, heartbeats to deployd.
//!
//! A deploy reads in `deploy` (its steps), `flight` (one change of an app at a time; a deploy
//! runs in a task of its own, joined by the same deploy asked again), `health` (the wait),
//! `book` (the routes kept on disk), `owner` (a base path belongs to one app); `adopt` runs
//! at start, `heartbeat` and `metrics` report.

mod adopt;
pub mod api;
mod book;
mod deploy;
mod entry;
mod events;
mod flight;
mod health;
mod heartbeat;
mod labels;
mod metrics;
mod owner;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::agent::{
    AppDatabase, AppStatusAnswer, DeleteAppAnswer, DeletedImages, LogStream, StopAppAnswer,
};
use protocol::check::CheckReport;
use protocol::client::DeployClient;
use protocol::failure::FailureCode;
use tokio::sync::Notify;

use crate::docker::{ContainerInfo, DockerError, Engine};
use crate::gateway::Gateway;
use crate::settings::RuntimeSettings;
use book::RouteBook;
pub use labels::*;
pub use metrics::RuntimeMetrics;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A field of the request refused: `loc` the field's path in the request (`["env",
    /// "A-B"]`), `msg` the sentence, naming the field.
    #[error("{msg}")]
    BadInput { loc: Vec<String>, msg: String },
    #[error("{0}")]
    NotFound(String),
    #[error("a deploy of app {0} is already in flight")]
    InFlight(String),
    /// The base path of a deploy is, or overlaps, the route of another app of this node.
    #[error("{}", owner::taken_message(.path, .holder, .held, *.deploying))]
    PathTaken {
        /// The base path asked for.
        path: String,
        /// The app that holds `held`.
        holder: String,
        held: String,
        /// `holder` is being deployed at `held` right now (not yet routed).
        deploying: bool,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{1}")]
    Unhealthy(FailureCode, String),
    /// A pull the registry refused, with what to do on this node.
    #[error("{1}")]
    Registry(FailureCode, String),
    #[error("{0}")]
    Internal(String),
}

impl RuntimeError {
    /// `field` (a path: `env.A-B` is `["env", "A-B"]`) refused for `problem`.
    pub fn bad_input(field: &[&str], problem: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::BadInput {
            loc: field.iter().map(|f| f.to_string()).collect(),
            msg: format!("{}: {problem}", field.join(".")),
        }
    }

    /// The failure code callers get beside the message.
    pub fn code(&self) -> FailureCode {
        match self {
            RuntimeError::BadInput { .. } => FailureCode::BadRequest,
            RuntimeError::NotFound(_) => FailureCode::NotFound,
            RuntimeError::InFlight(_) => FailureCode::DeployInFlight,
            // The caller's mistake, and not DEPLOY_IN_FLIGHT: waiting does not free the path.
            RuntimeError::PathTaken { .. } => FailureCode::BadRequest,
            RuntimeError::Docker(d) => d.code(),
            RuntimeError::Unhealthy(code, _) | RuntimeError::Registry(code, _) => *code,
            RuntimeError::Internal(_) => FailureCode::Internal,
        }
    }
}

pub struct Runtime {
    pub settings: RuntimeSettings,
    pub metrics: RuntimeMetrics,
    engine: Engine,
    /// The engine's kind and versions as checked at start, for the heartbeat.
    engine_info: crate::docker::EngineInfo,
    pub gateway: Arc<Gateway>,
    /// Apps with a deploy, stop or delete in flight.
    flights: flight::Flights,
    book: tokio::sync::Mutex<RouteBook>,
    deployd: Option<DeployClient>,
    beat_now: Notify,
    http: reqwest::Client,
    /// The latest connectivity check not yet delivered with a heartbeat.
    checks: Mutex<Option<CheckReport>>,
}

impl Runtime {
    /// Connects to Docker, ensures the network, adopts the app containers of this node.
    pub async fn start(
        settings: RuntimeSettings,
        deployd: Option<DeployClient>,
    ) -> Result<Arc<Runtime>, RuntimeError> {
        let engine = Engine::connect(&settings.docker_host).await?;
        let engine_info = engine.check_needs(true, settings.init).await?;
        tracing::info!(engine = %engine_info.kind, version = %engine_info.version, api = %engine_info.api_version, "runtime: container engine");
        engine.ensure_network(&settings.network).await?;
        let data_dir = PathBuf::from(&settings.data_dir);
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            RuntimeError::Internal(format!(
                "cannot create data_dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let book_path = data_dir.join(format!("agentd-routes-{}.json", settings.node_name));
        let book = RouteBook::open(book_path);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RuntimeError::Internal(e.to_string()))?;
        let rt = Arc::new(Runtime {
            settings,
            metrics: RuntimeMetrics::default(),
            engine,
            engine_info,
            gateway: Gateway::new(),
            flights: flight::Flights::default(),
            book: tokio::sync::Mutex::new(book),
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

    /// The engine's kind and versions as checked at start.
    pub fn engine_info(&self) -> &crate::docker::EngineInfo {
        &self.engine_info
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

    /// Holds the app for a stop or delete: refused while a change of it is in flight, or,
    /// with `stop_waits_for_deploy`, once that change has ended.
    async fn hold_for_stop(&self, app_id: &str) -> Result<flight::FlightGuard, RuntimeError> {
        if self.settings.stop_waits_for_deploy {
            Ok(self.flights.hold_when_free(app_id).await)
        } else {
            self.flights.hold(app_id)
        }
    }

    /// Unroutes the app and forgets its entry in the route book, for an app that has no
    /// container left (removed behind agentd's back, or never here).
    async fn forget_app(&self, app_id: &str) {
        self.gateway.remove_app(app_id);
        let mut book = self.book.lock().await;
        if book.get(app_id).is_some() {
            book.forget(app_id);
            book.save();
        }
    }

    /// Unroutes the app (its requests in flight finish, up to `drain_timeout_seconds`) and
    /// stops its containers, which are kept. An app the node does not hold is stopped already:
    /// answered as such, as the old agent did.
    pub async fn stop(&self, user_id: &str, app_id: &str) -> Result<StopAppAnswer, RuntimeError> {
        check_ids(user_id, app_id)?;
        let _flight = self.hold_for_stop(app_id).await?;
        let cs = self.app_containers(app_id).await?;
        if cs.is_empty() {
            self.forget_app(app_id).await;
            return Ok(StopAppAnswer {
                app_id: app_id.to_string(),
                status: "STOPPED".into(),
                held: false,
                container_name: None,
                message: Some(format!(
                    "app {app_id} has no container on this node: nothing to stop"
                )),
            });
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
            book.set(app_id, &cs[0].name, true);
            book.save();
        }
        self.beat_soon();
        Ok(StopAppAnswer {
            app_id: app_id.to_string(),
            status: "STOPPED".into(),
            held: true,
            container_name: Some(cs[0].name.clone()),
            message: None,
        })
    }

    /// Removes the app's containers and the images they ran (best effort: an image another
    /// container uses, or that the engine does not remove, is kept and said so), and says what
    /// became of its database. An app the node does not hold is deleted already: answered as
    /// such, as the old agent did.
    pub async fn delete(
        &self,
        user_id: &str,
        app_id: &str,
    ) -> Result<DeleteAppAnswer, RuntimeError> {
        check_ids(user_id, app_id)?;
        let _flight = self.hold_for_stop(app_id).await?;
        let cs = self.app_containers(app_id).await?;
        let mongo = self.app_database(user_id, app_id);
        if cs.is_empty() {
            self.forget_app(app_id).await;
            return Ok(DeleteAppAnswer {
                app_id: app_id.to_string(),
                status: "DELETED".into(),
                held: false,
                message: Some(format!(
                    "app {app_id} has no container on this node: nothing to delete"
                )),
                images: DeletedImages::default(),
                mongo,
                removed_containers: Vec::new(),
                removed_images: Vec::new(),
            });
        }
        self.gateway.remove_app(app_id);
        let mut images = Vec::new();
        for c in &cs {
            self.engine.remove(&c.name).await?;
            if !images.contains(&c.image) {
                images.push(c.image.clone());
            }
        }
        {
            let mut book = self.book.lock().await;
            book.forget(app_id);
            book.save();
        }
        self.beat_soon();
        // The containers are gone: the delete stands whatever the images do.
        let mut done = DeletedImages::default();
        for img in images {
            let kept = match self.engine.remove_image(&img).await {
                Ok(true) => false,
                // In use by another container, or gone already.
                Ok(false) => self.engine.has_image(&img).await.unwrap_or(true),
                Err(e) => {
                    tracing::warn!(app = %app_id, image = %img, error = %e, "delete: the image is kept");
                    true
                }
            };
            if kept {
                done.kept.push(img);
            } else if !done.removed.contains(&img) {
                done.removed.push(img);
            }
        }
        Ok(DeleteAppAnswer {
            app_id: app_id.to_string(),
            status: "DELETED".into(),
            held: true,
            message: None,
            removed_images: done.removed.clone(),
            images: done,
            mongo,
            removed_containers: cs.into_iter().map(|c| c.name).collect(),
        })
    }

    /// What a delete does to the app's Mongo database: nothing. agentd gives apps a database
    /// name and never drops one (it holds no Mongo client); the answer says so, and which.
    fn app_database(&self, user_id: &str, app_id: &str) -> AppDatabase {
        match &self.settings.mongo {
            Some(_) => {
                let db = mongo_db_name(user_id, app_id);
                AppDatabase {
                    enabled: false,
                    dropped: false,
                    reason: Some(format!(
                        "agentd does not drop app databases: {db} and its data stay in Mongo; drop it there if they are no longer wanted"
                    )),
                    db_name: Some(db),
                }
            }
            None => AppDatabase {
                enabled: false,
                dropped: false,
                db_name: None,
                reason: Some("this node gives apps no database (no [runtime.mongo])".into()),
            },
        }
    }

    pub async fn status(
        &self,
        user_id: &str,
        app_id: &str,
    ) -> Result<AppStatusAnswer, RuntimeError> {
        check_ids(user_id, app_id)?;
        let Some(listed) = self.serving_container(app_id).await? else {
            return Ok(AppStatusAnswer {
                app_id: app_id.to_string(),
                container_name: Some(container_prefix(user_id, app_id)),
                exists: false,
                running: false,
                stopped: false,
                image: None,
                port: None,
                state: None,
                restart_count: None,
                started_at: None,
                last_exit_code: None,
                last_exit_at: None,
                oom_killed: None,
                base_path: None,
            });
        };
        // A listing does not tell restarts and exits; an inspect does. Gone in between:
        // what the listing said.
        let c = self
            .engine
            .inspect(&listed.name, &self.settings.network)
            .await?
            .unwrap_or(listed);
        // While it runs the engine reports exit code 0 whatever the last exit was.
        let exited = !c.running && c.finished_at.is_some();
        // Put aside by a stop (the old agent removed the container: it no longer existed);
        // one that exited by itself still exists, as on the old agent.
        let stopped = !c.running
            && self
                .book
                .lock()
                .await
                .get(app_id)
                .is_some_and(|e| e.stopped && e.container == c.name);
        Ok(AppStatusAnswer {
            app_id: app_id.to_string(),
            container_name: Some(c.name.clone()),
            exists: !stopped,
            running: c.running,
            stopped,
            image: Some(c.image.clone()),
            port: c.labels.get(LABEL_PORT).and_then(|p| p.parse().ok()),
            state: Some(c.status.clone()).filter(|s| !s.is_empty()),
            restart_count: Some(c.restart_count),
            started_at: c.started_at,
            last_exit_code: c.exit_code.filter(|_| exited),
            last_exit_at: c.finished_at,
            oom_killed: c.oom_killed.filter(|_| exited),
            base_path: c.labels.get(LABEL_BASE_PATH).cloned(),
        })
    }

    /// The app's container that serves (the routed one), else its newest.
    async fn serving_container(&self, app_id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        let routed = self
            .gateway
            .route_of(app_id)
            .map(|(_, b)| b.container.clone());
        let mut cs = self.app_containers(app_id).await?;
        let at = routed
            .and_then(|n| cs.iter().position(|c| c.name == n))
            .unwrap_or(0);
        Ok((at < cs.len()).then(|| cs.swap_remove(at)))
    }

    /// The output of the app's serving container as the engine streams it (see
    /// [`Engine::logs_stream`]), and the container's name.
    pub async fn logs(
        &self,
        app_id: &str,
        tail: Option<u64>,
        since: Option<i64>,
        follow: bool,
    ) -> Result<
        (
            String,
            impl futures_util::Stream<Item = Result<(LogStream, bytes::Bytes), DockerError>>
            + Send
            + use<>,
        ),
        RuntimeError,
    > {
        protocol::validate::id(app_id).map_err(|m| RuntimeError::bad_input(&["appId"], m))?;
        let c = self.serving_container(app_id).await?.ok_or_else(|| {
            RuntimeError::NotFound(format!("app {app_id} has no container on this node"))
        })?;
        let stream = self.engine.logs_stream(&c.name, tail, since, follow);
        Ok((c.name, stream))
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
}

fn created_ms(c: &ContainerInfo) -> i64 {
    c.labels
        .get(LABEL_CREATED_MS)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn check_ids(user_id: &str, app_id: &str) -> Result<(), RuntimeError> {
    protocol::validate::id(user_id).map_err(|m| RuntimeError::bad_input(&["userId"], m))?;
    protocol::validate::id(app_id).map_err(|m| RuntimeError::bad_input(&["appId"], m))?;
    Ok(())
}

/// `rt-u-{userId}-{appId}`: the name the old agent gave the app's container, and the start
/// of ours (`-{shortId}` follows, so that the new one and the old one can run together).
pub fn container_prefix(user_id: &str, app_id: &str) -> String {
    format!("rt-u-{user_id}-{app_id}")
}

/// The app's database in Mongo (`[runtime.mongo]`), as the estate names it.
fn mongo_db_name(user_id: &str, app_id: &str) -> String {
    format!("db_u{user_id}_a{app_id}")
}
