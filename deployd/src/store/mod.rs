//! The state of deployd behind one trait, a module per engine: SQLite (one process),
//! MySQL/MariaDB and PostgreSQL (several replicas sharing the database).

pub mod beats;
pub mod dialect;
pub mod direct;
pub mod estate;
pub mod held;
pub mod mysql;
pub mod postgres;
pub mod rows;
pub mod sql;
pub mod sqlite;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::check::{CheckReport, Reporter, StoredCheckReport};
use protocol::failure::FailureCode;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;

use crate::settings::{DatabaseSettings, Settings};

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
    /// From the connection SQLite's busy writes run on (`direct.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// The version the runner's agent sent (`0.1.0 (2657bbe)`), if any.
    pub agent_version: Option<String>,
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

/// What deployd knows of an app when a job for it arrives: its owner (the app run's user,
/// else its newest job's) and the payload to redeploy from (its newest job that names a
/// repository, else its newest job).
#[derive(Debug, Clone, Default)]
pub struct KnownApp {
    pub owner: Option<String>,
    pub last: Option<JobPayload>,
}

/// A report as stored.
#[derive(Debug, Clone)]
pub struct Reported {
    pub job: Job,
    /// The job had already finished with this report (a runner's retry): nothing changed.
    pub repeat: bool,
}

/// A node heartbeat as stored.
#[derive(Debug, Clone)]
pub struct NodeUpsert {
    pub node: RuntimeNode,
    /// The node was unknown or stale before this heartbeat: jobs waiting for a placement
    /// may now be claimable.
    pub came_up: bool,
}

/// A change made through another deployd replica sharing the database, as the store's
/// change feed reports it; deployd turns it into wake-ups of long-polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Jobs may have become claimable (requeued, a node came up or changed): every
    /// waiting claim should look.
    Jobs,
    /// Jobs were created (or became pending): as many waiting claims should look.
    Created(u32),
    /// These jobs' logs grew or their states changed (none named: any job's).
    Logs(Vec<i64>),
    /// The feed lost track (a reconnect): anything may have changed.
    Everything,
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
    /// `sqlite`, `mysql` or `postgres`.
    fn engine(&self) -> &'static str;

    async fn ping(&self) -> StoreResult<()>;

    /// Follows changes that other replicas make, until `shutdown`. `None` for an engine
    /// that one process owns (SQLite): the in-process wake-ups are all there is.
    fn change_feed(
        &self,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Option<tokio::sync::mpsc::Receiver<Change>> {
        let _ = shutdown;
        None
    }

    /// A job of the estate's replaced service by its string id, read-only, as job JSON
    /// (`estate::job`): only where its tables were put aside on this database.
    async fn estate_job(&self, id: &str) -> StoreResult<estate::EstateJob> {
        let _ = id;
        Ok(estate::EstateJob::NoEstate)
    }

    // jobs
    async fn create_job(&self, payload: &JobPayload, now: i64) -> StoreResult<Job>;
    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>>;
    async fn list_jobs(
        &self,
        app_id: Option<&str>,
        status: Option<JobStatus>,
        limit: i64,
    ) -> StoreResult<Vec<Job>>;

    /// Jobs kept, by state (for metrics). Engines may answer it with one query.
    async fn count_jobs(&self) -> StoreResult<Vec<(JobStatus, i64)>> {
        let mut out = Vec::new();
        for st in JobStatus::ALL {
            let n = self.list_jobs(None, Some(st), i64::MAX).await?.len() as i64;
            out.push((st, n));
        }
        Ok(out)
    }
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
    async fn report(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Reported>;
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
    ) -> StoreResult<NodeUpsert>;
    /// Writes the node beats answered from memory since the last flush (`beats.rs`);
    /// answers how many nodes were written. Called every `nodes.heartbeat_flush_ms` and at
    /// shutdown; reads of nodes in this process flush first.
    async fn flush_beats(&self) -> StoreResult<u64> {
        Ok(0)
    }
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
    async fn known_app(&self, app_id: &str) -> StoreResult<KnownApp>;
    /// Compares the apps a node says it holds with the app runs recorded on it: fills an
    /// image a report lacked, marks READY an app reported FAILED whose new container serves,
    /// STOPPED one whose container is gone. Answers what it corrected, in words.
    async fn reconcile_node_apps(
        &self,
        node: &str,
        apps: &[protocol::node::NodeApp],
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// The routes admins chose for apps (app id, base path), from each app's newest job.
    async fn base_path_overrides(&self) -> StoreResult<Vec<(String, String)>>;
    /// Gives the app to another user (its run, placement and jobs); the rows changed.
    async fn set_app_owner(&self, app_id: &str, user_id: &str, now: i64) -> StoreResult<u64>;

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

    // connectivity checks
    /// Keeps `report` as the latest check of `name`, replacing the one before.
    async fn save_check_report(
        &self,
        reporter: Reporter,
        name: &str,
        remote_addr: Option<&str>,
        report: &CheckReport,
        now: i64,
    ) -> StoreResult<()>;
    /// The latest check of every host that sent one, by reporter kind and name.
    async fn list_check_reports(&self) -> StoreResult<Vec<StoredCheckReport>>;

    // replicas sharing the database
    /// Records that replica `id` is alive at `url`.
    async fn replica_seen(&self, id: &str, url: &str, now: i64) -> StoreResult<()>;
    /// The replicas seen since `since`.
    async fn list_replicas(&self, since: i64) -> StoreResult<Vec<ReplicaRow>>;
    async fn remove_replica(&self, id: &str) -> StoreResult<()>;

    /// Every other replica is woken directly after this one's commits: the change feed's
    /// notifications of log changes and created jobs may be left out.
    fn set_peers_woken(&self, yes: bool) {
        let _ = yes;
    }
}

/// A deployd replica as its table holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplicaRow {
    pub replica_id: String,
    pub internal_url: String,
    pub last_seen_at: i64,
}

/// The engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Mysql,
    Postgres,
}

impl Engine {
    pub fn of_url(database_url: &str) -> Option<Engine> {
        let scheme = database_url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Engine::Sqlite),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            _ => None,
        }
    }
}

/// The URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let tail = redact_query(tail);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => format!("{scheme}://{userinfo}@{host}{tail}"),
        },
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// The URL's password taken out of `text` (an error a driver wrote may quote the URL).
pub fn scrub_password(text: &str, url: &str) -> String {
    let password = userinfo(url).and_then(|(_, p)| p).unwrap_or_default();
    if password.is_empty() {
        return text.to_string();
    }
    text.replace(url, &redact_url(url)).replace(password, "***")
}

/// The user and password of a URL's authority (`scheme://user:password@host/...`).
fn userinfo(url: &str) -> Option<(&str, Option<&str>)> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (info, _) = authority.rsplit_once('@')?;
    Some(match info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (info, None),
    })
}

/// Why deployd cannot connect to its database, with the failure code and what to do: the
/// database refusing this host (MySQL 1130, the estate's first-day error), the user or
/// password, or no answer at all. `None` for anything else.
pub fn connect_failure(e: &sqlx::Error, url: &str) -> Option<(FailureCode, String)> {
    let user = userinfo(url).map_or("USER", |(u, _)| u);
    let db = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| {
            path.split(['?', '#'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "DB".into());
    match e {
        sqlx::Error::Database(d) => {
            if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return match m.number() {
                    1130 => {
                        // "Host '10.0.0.100' is not allowed to connect to this MariaDB server"
                        let host = m
                            .message()
                            .split('\'')
                            .nth(1)
                            .unwrap_or("DEPLOYD_HOST")
                            .to_string();
                        Some((
                            FailureCode::DbHostNotAllowed,
                            format!(
                                "the database refuses connections from this host {host} (MySQL error 1130): on the database run CREATE USER '{user}'@'{host}' IDENTIFIED BY '...'; GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'{host}'; (or the user's existing host pattern must match {host})"
                            ),
                        ))
                    }
                    1045 => Some((
                        FailureCode::DbAuth,
                        format!(
                            "the database refused user {user} (MySQL error 1045): check the password in database_url and the user's grants"
                        ),
                    )),
                    _ => None,
                };
            }
            matches!(d.code().as_deref(), Some("28P01" | "28000")).then(|| {
                (
                    FailureCode::DbAuth,
                    format!(
                        "the database refused user {user}: check the password in database_url and pg_hba.conf for deployd's host"
                    ),
                )
            })
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => Some((
            FailureCode::DbUnreachable,
            "the database does not answer: check that it runs and that deploy→database is open in the security groups".into(),
        )),
        _ => None,
    }
}

/// The message of a failed connection: the code and fix where known, the driver's words
/// (password taken out) always.
pub fn connect_error(engine: &str, shown: &str, e: &sqlx::Error, url: &str) -> anyhow::Error {
    let words = scrub_password(&e.to_string(), url);
    match connect_failure(e, url) {
        Some((code, what)) => {
            anyhow::anyhow!("cannot connect to {engine} at {shown}: [{code}] {what} ({words})")
        }
        None => anyhow::anyhow!("cannot connect to {engine} at {shown}: {words}"),
    }
}

/// An id for this process, to tell its own change notifications from other replicas'.
pub fn replica_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_i64(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    format!("{:016x}", h.finish())
}

/// `password=` in a query string is a password too.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// Retries a write transaction that the engine aborted to break a deadlock or a lock wait:
/// with row locks taken by several replicas, that is expected now and then.
macro_rules! retry_tx {
    ($e:expr) => {{
        let mut tries = 0u32;
        loop {
            match $e.await {
                Err($crate::store::StoreError::Db(err))
                    if tries < 8 && $crate::store::is_transient(&err) =>
                {
                    tries += 1;
                    tracing::debug!(error = %err, tries, "transaction retried");
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries) * 3))
                        .await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry_tx;

/// A deadlock or lock-wait timeout (MySQL 1213, 1205) or a serialization failure or
/// deadlock (PostgreSQL 40001, 40P01): the transaction was rolled back and may be retried.
pub fn is_transient(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(m.number(), 1213 | 1205);
    }
    matches!(d.code().as_deref(), Some("40001" | "40P01"))
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Opens the store the database URL names and brings its schema up to date.
pub async fn open(
    database_url: &str,
    policy: Policy,
    db: &DatabaseSettings,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    match Engine::of_url(database_url) {
        Some(Engine::Sqlite) => Ok(std::sync::Arc::new(
            sqlite::open(database_url, policy).await?,
        )),
        Some(Engine::Mysql) => Ok(std::sync::Arc::new(
            mysql::open(database_url, policy, db).await?,
        )),
        Some(Engine::Postgres) => Ok(std::sync::Arc::new(
            postgres::open(database_url, policy, db).await?,
        )),
        None => {
            let scheme = database_url.split(':').next().unwrap_or_default();
            anyhow::bail!(
                "database_url scheme {scheme:?} is not supported: use sqlite:///path/to/deployd.db, mysql://user:pass@host:3306/db or postgres://user:pass@host:5432/db"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Engine, redact_url};

    #[test]
    fn passwords_never_leave_a_url() {
        assert_eq!(
            redact_url("mysql://funai:s3cret@127.0.0.1:3306/deployd"),
            "mysql://funai:***@127.0.0.1:3306/deployd"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@db/x?sslmode=require&password=s3cret"),
            "postgres://u:***@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/funai/deployd.db"),
            "sqlite:///var/lib/funai/deployd.db"
        );
        assert_eq!(redact_url("postgres://db:5432"), "postgres://db:5432");
        assert!(!redact_url("mysql://a:b@c@h/d").contains('b'));
    }

    #[test]
    fn a_driver_error_quoting_the_password_is_scrubbed() {
        let url = "mysql://funai:hunter22@127.0.0.1/x";
        let text = format!("error connecting to {url}: password hunter22 refused");
        let out = super::scrub_password(&text, url);
        assert!(!out.contains("hunter22"), "{out}");
        assert!(out.contains("mysql://funai:***@127.0.0.1/x"), "{out}");
    }

    #[test]
    fn the_scheme_names_the_engine() {
        assert_eq!(Engine::of_url("sqlite::memory:"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("mariadb://h/d"), Some(Engine::Mysql));
        assert_eq!(Engine::of_url("MYSQL://h/d"), Some(Engine::Mysql));
        assert_eq!(Engine::of_url("postgresql://h/d"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("redis://h"), None);
    }
}
