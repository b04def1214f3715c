//! The state of deployd behind one trait, a module per engine.

pub mod sqlite;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;

use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// A log append whose start disagrees with what the server holds.
    #[error("log offset mismatch: deployd holds {length} bytes")]
    LogRange { length: i64 },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The rules the store applies, taken from the settings once.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_attempts: i64,
    pub keep_per_app: i64,
    pub log_cap_bytes: i64,
    pub max_active_apps_per_user: i64,
    pub recent_images: i64,
    pub node_stale_ms: i64,
    pub runner_stale_ms: i64,
    pub disk_free_min_pct: f64,
}

impl Policy {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            max_attempts: s.jobs.max_attempts,
            keep_per_app: s.jobs.keep_per_app,
            log_cap_bytes: s.jobs.log_cap_bytes,
            max_active_apps_per_user: s.jobs.max_active_apps_per_user,
            recent_images: s.jobs.recent_images,
            node_stale_ms: s.nodes.heartbeat_stale_seconds * 1000,
            runner_stale_ms: s.nodes.runner_stale_seconds * 1000,
            disk_free_min_pct: s.nodes.disk_free_min_pct,
        }
    }
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct ClaimParams {
    pub runner_id: String,
    pub lease_ms: i64,
    pub remote_addr: Option<String>,
    pub legacy: bool,
}

/// Bytes of a job log from an offset.
#[derive(Debug, Clone)]
pub struct LogRead {
    pub data: Vec<u8>,
    pub stored: i64,
    pub truncated: bool,
    pub status: JobStatus,
}

/// What one sweep changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepOutcome {
    pub requeued: Vec<i64>,
    pub failed: Vec<i64>,
    pub cancelled: Vec<i64>,
}

impl SweepOutcome {
    pub fn is_empty(&self) -> bool {
        self.requeued.is_empty() && self.failed.is_empty() && self.cancelled.is_empty()
    }
}

/// Flags an operator sets on a node.
#[derive(Debug, Clone, Copy)]
pub enum NodeFlag {
    Drain,
    Undrain,
    Enable,
    Disable,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;

    // jobs
    async fn create_job(&self, payload: &JobPayload, now: i64) -> StoreResult<Job>;
    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>>;
    async fn list_jobs(
        &self,
        app_id: Option<&str>,
        status: Option<JobStatus>,
        limit: i64,
    ) -> StoreResult<Vec<Job>>;
    async fn cancel_job(&self, id: i64, now: i64) -> StoreResult<Job>;
    async fn append_log(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64>;
    async fn read_log(&self, id: i64, offset: i64, max: usize) -> StoreResult<LogRead>;

    // runner protocol
    async fn claim(&self, p: &ClaimParams, now: i64) -> StoreResult<Option<Job>>;
    async fn heartbeat(
        &self,
        id: i64,
        runner_id: &str,
        extend_ms: i64,
        phase: Option<&str>,
        phase_message: Option<&str>,
        now: i64,
    ) -> StoreResult<HeartbeatAnswer>;
    async fn report(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Job>;
    async fn sweep(&self, now: i64) -> StoreResult<SweepOutcome>;
    async fn touch_runner(
        &self,
        runner_id: &str,
        remote_addr: Option<&str>,
        legacy: bool,
        now: i64,
    ) -> StoreResult<()>;
    async fn list_runners(&self, now: i64) -> StoreResult<Vec<Runner>>;

    // runtime nodes and placement
    async fn upsert_node(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<RuntimeNode>;
    async fn list_nodes(&self, now: i64) -> StoreResult<Vec<RuntimeNode>>;
    async fn get_node(&self, name: &str, now: i64) -> StoreResult<Option<RuntimeNode>>;
    async fn set_node_flag(&self, name: &str, flag: NodeFlag, now: i64)
    -> StoreResult<RuntimeNode>;
    async fn remove_node(&self, name: &str, force: bool) -> StoreResult<i64>;
    async fn list_placements(&self, node: Option<&str>) -> StoreResult<Vec<Placement>>;
    async fn reassign(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement>;

    // apps
    async fn list_app_runs(&self) -> StoreResult<Vec<AppRun>>;
    async fn get_app_run(&self, app_id: &str) -> StoreResult<Option<AppRun>>;
    async fn mark_app_stopped(&self, app_id: &str, now: i64) -> StoreResult<()>;
    async fn purge_app(&self, app_id: &str) -> StoreResult<PurgeAnswer>;

    // audit
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

/// Opens the store the database URL names.
pub async fn open(database_url: &str, policy: Policy) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        let store = sqlite::SqliteStore::open(database_url, policy).await?;
        return Ok(std::sync::Arc::new(store));
    }
    let scheme = database_url.split(':').next().unwrap_or_default();
    anyhow::bail!(
        "database_url scheme {scheme:?} is not supported by this build: use sqlite:///path/to/deployd.db"
    )
}
