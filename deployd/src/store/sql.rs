//! The store, written once for every engine: each statement in one neutral spelling
//! (`dialect.rs` says how each engine writes it), the rules of the lifecycle from `rows.rs`.
//!
//! Claims and the sweeper lock the rows they move (`{skip_locked}`: rows another replica's
//! transaction holds are passed over); on SQLite one writer holds the whole file instead
//! (`BEGIN IMMEDIATE`, and writes serialised in this process), and the busy writes of a
//! file (create, claim, job heartbeat, log append, report) run the same statements on a
//! connection of their own, on the thread that holds the write lock (`direct.rs`). One
//! active job per app is a unique index on every engine, the per-user limit is serialised
//! by a lock row per user.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::check::{CheckReport, Reporter, StoredCheckReport};
use protocol::failure::FailureCode;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;
use sqlx::Pool;
use tokio::sync::{Mutex, MutexGuard, mpsc};
use tokio_util::sync::CancellationToken;

use super::beats::{self, Beats};
use super::dialect::{Arg, Conn, Dialect, Engine, Rowed, args};
use super::direct::{self, Direct};
use super::held::{Conns, Tx, noted};
use super::rows::{
    self, AppRunRow, AppRunWrite, AuditRow, CANCELLED_BEFORE_CLAIM, CancelAction, CheckReportRow,
    CheckReportWrite, ChosenNode, JobRow, NodeRow, Outcome, PlacementRow, ReportAction, RunBeside,
    RunnerRow, SweepAction, app_run_on_finish, healthy_since, is_stale, node_select, ts,
};
use super::{
    Change, ClaimParams, KnownApp, LogRead, NodeFlag, NodeUpsert, Policy, ReplicaRow, Reported,
    StoreError, StoreResult, SweepOutcome, is_unique_violation, retry_tx,
};

/// The placement query: the healthy, enabled, not draining node above the disk threshold
/// with the largest free share of its disk (the estate's rule; then free bytes, then fewer
/// containers). One row read through
/// `idx_node_choice`, whatever the node count.
pub const BEST_NODE: &str = "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
     WHERE enabled = 1 AND draining = 0 AND last_heartbeat_at >= ? AND disk_free_pct >= ? \
     ORDER BY disk_free_pct DESC, disk_free_bytes DESC, container_count ASC, node_name ASC LIMIT 1";

const JOB: &str = "SELECT * FROM fun_ai_deploy_job WHERE id = ?";
const JOB_LOCKED: &str = "SELECT * FROM fun_ai_deploy_job WHERE id = ?{for_update}";
const ACTIVE_JOB: &str = "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? \
     AND status IN ('PENDING','RUNNING') LIMIT 1";
/// Records a runner's claim: seen now, from where, running which agent version, and one
/// more job claimed if the fourth value is 1 (0 for a claim that found nothing).
const TOUCH_RUNNER: &str = "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, \
       last_seen_at, created_at, agent_version) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (runner_id) DO UPDATE SET \
       remote_addr = excluded.remote_addr, legacy = excluded.legacy, last_seen_at = excluded.last_seen_at, \
       agent_version = excluded.agent_version, \
       jobs_claimed = fun_ai_deploy_runner.jobs_claimed + excluded.jobs_claimed";
/// One node as the API shows it.
const NODE_BY_NAME: &str = concat!(node_select!(), " WHERE n.node_name = ?");
/// The claim's read where one writer holds the whole database, or where the job row can be
/// locked inside the join (PostgreSQL; rows another claim holds are skipped): the oldest
/// pending job, its sticky node if usable (whatever its disk) and the best node
/// (`BEST_NODE`). Each
/// part is an indexed lookup: the placement and its node by key, the best node through
/// `idx_node_choice` (a test reads the plan).
pub const PENDING_WITH_NODES: &str = "SELECT j.*, s.node_name AS sticky_name, s.agent_base_url AS sticky_agent, \
     s.gateway_base_url AS sticky_gateway, b.node_name AS best_name, b.agent_base_url AS best_agent, \
     b.gateway_base_url AS best_gateway \
     FROM (SELECT * FROM fun_ai_deploy_job WHERE status = 'PENDING' ORDER BY id LIMIT 1{skip_locked}) j \
     LEFT JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
     LEFT JOIN fun_ai_deploy_runtime_node s ON s.node_name = p.node_name AND s.enabled = 1 AND s.draining = 0 \
       AND s.last_heartbeat_at >= ? \
     LEFT JOIN (SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
       WHERE enabled = 1 AND draining = 0 AND last_heartbeat_at >= ? AND disk_free_pct >= ? \
       ORDER BY disk_free_pct DESC, disk_free_bytes DESC, container_count ASC, node_name ASC LIMIT 1) b ON 1 = 1";

/// Where SQLite's busy writes run apart (`direct.rs`), with no best node: the oldest pending
/// job whose sticky node is usable, with that node.
const STICKY_FIRST: &str = "SELECT j.*, n.node_name AS sticky_name, n.agent_base_url AS sticky_agent, \
     n.gateway_base_url AS sticky_gateway FROM fun_ai_deploy_job j \
     JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
     JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
     WHERE j.status = 'PENDING' AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= ? \
     ORDER BY j.id LIMIT 1";

/// The values of [`TOUCH_RUNNER`] for claim `$p` at `$now`, `$claimed` jobs more.
macro_rules! touch {
    ($p:expr, $now:expr, $claimed:expr) => {
        args![
            &$p.runner_id,
            &$p.remote_addr,
            $p.legacy,
            $claimed,
            $now,
            $now,
            &$p.agent_version
        ]
    };
}

/// What a claim writes of job `$row` placed on `$node` ([`Claim`] `$c`), as `$stmts`: the
/// job (its row is locked, or the one writer holds the database: the update cannot miss),
/// the placement, the app's run and the runner. The moment of a move is decided before
/// node_name changes (MySQL assigns left to right, each assignment seeing the ones before).
macro_rules! claim_writes {
    ($p:expr, $now:expr, $row:ident, $node:ident, $c:ident, $stmts:ident) => {
        let lease = $now + $p.lease_ms;
        let job = args![&$p.runner_id, lease, &$c.node_json, &$c.deploy_url, $now, $now, $row.id];
        let place = args![&$row.app_id, &$row.user_id, &$node.node_name, $now, $now];
        let run = args![&$row.app_id, &$row.user_id, &$node.node_name, $row.id, &$c.deploy_url, $now];
        let runner = touch!($p, $now, 1i64);
        let $stmts: &[(&'static str, &[Arg<'_>], Option<u64>)] = &[
            (
                "UPDATE fun_ai_deploy_job SET status = 'RUNNING', runner_id = ?, lease_expire_at = ?, \
                 phase = 'CLAIMED', phase_message = NULL, runtime_node = ?, deploy_url = ?, \
                 started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ? AND status = 'PENDING'",
                job,
                Some(1),
            ),
            (
                "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET \
                 updated_at = CASE WHEN fun_ai_deploy_runtime_placement.node_name = excluded.node_name \
                   THEN fun_ai_deploy_runtime_placement.updated_at ELSE excluded.updated_at END, \
                 user_id = COALESCE(excluded.user_id, fun_ai_deploy_runtime_placement.user_id), \
                 node_name = excluded.node_name",
                place,
                None,
            ),
            (
                "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
                   deploy_url, recent_images_json, updated_at) VALUES (?, ?, ?, ?, 'RUNNING', 'DEPLOYING', ?, '[]', ?) \
                 ON CONFLICT (app_id) DO UPDATE SET \
                   user_id = COALESCE(excluded.user_id, fun_ai_deploy_app_run.user_id), \
                   node_name = excluded.node_name, last_job_id = excluded.last_job_id, last_job_status = 'RUNNING', \
                   status = 'DEPLOYING', error_message = NULL, updated_at = excluded.updated_at",
                run,
                None,
            ),
            (TOUCH_RUNNER, runner, None),
        ];
    };
}

/// What a claim writes of where its job goes.
struct Claim {
    deploy_url: String,
    node_json: String,
}

impl Claim {
    fn of(row: &JobRow, node: &ChosenNode) -> StoreResult<Self> {
        Ok(Claim {
            deploy_url: node.deploy_url(&row.payload()?),
            node_json: node.node_json(),
        })
    }
}

/// A row of [`PENDING_WITH_NODES`].
#[derive(sqlx::FromRow)]
struct PendingRead {
    #[sqlx(flatten)]
    job: JobRow,
    sticky_name: Option<String>,
    sticky_agent: Option<String>,
    sticky_gateway: Option<String>,
    best_name: Option<String>,
    best_agent: Option<String>,
    best_gateway: Option<String>,
}

impl PendingRead {
    /// The job, its usable sticky node, the best node.
    fn split(self) -> (JobRow, Option<ChosenNode>, Option<ChosenNode>) {
        let node = |n: Option<String>, a: Option<String>, g: Option<String>| {
            Some(ChosenNode {
                node_name: n?,
                agent_base_url: a?,
                gateway_base_url: g?,
            })
        };
        (
            self.job,
            node(self.sticky_name, self.sticky_agent, self.sticky_gateway),
            node(self.best_name, self.best_agent, self.best_gateway),
        )
    }
}

/// A job and its app's run, in one read, both rows locked where rows are: the columns and
/// the join, `FROM` on.
macro_rules! job_with_run {
    ($from:literal) => {
        concat!(
            "SELECT j.*, r.app_id AS run_app_id, r.user_id AS run_user_id, \
             r.node_name AS run_node_name, r.last_job_id AS run_last_job_id, \
             r.last_job_status AS run_last_job_status, r.status AS run_status, r.image AS run_image, \
             r.commit_sha AS run_commit_sha, r.deploy_url AS run_deploy_url, \
             r.error_message AS run_error_message, r.recent_images_json AS run_recent_images_json, \
             r.updated_at AS run_updated_at, r.serving_node AS run_serving_node FROM ",
            $from
        )
    };
}
/// SQLite (its one writer holds the whole database) and MySQL/MariaDB (a locking read locks
/// every row it reads: the job's, then its run's).
const JOB_WITH_RUN: &str = job_with_run!(
    "fun_ai_deploy_job j LEFT JOIN fun_ai_deploy_app_run r ON r.app_id = j.app_id WHERE j.id = ?{for_update}"
);
/// PostgreSQL: a lock cannot reach the missing side of an outer join, so the run is read and
/// locked in a subquery of its own, after the job.
const JOB_WITH_RUN_LATERAL: &str = job_with_run!(
    "fun_ai_deploy_job j LEFT JOIN LATERAL (SELECT * FROM fun_ai_deploy_app_run \
     WHERE app_id = j.app_id FOR UPDATE) r ON 1 = 1 WHERE j.id = ? FOR UPDATE OF j"
);

/// A row of [`JOB_WITH_RUN`].
#[derive(sqlx::FromRow)]
struct JobWithRun {
    #[sqlx(flatten)]
    job: JobRow,
    #[sqlx(flatten)]
    run: RunBeside,
}

impl JobWithRun {
    /// The job, and its app's run if it has one.
    fn split(self) -> (JobRow, Option<AppRunRow>) {
        (self.job, self.run.into_run())
    }
}

/// A user's apps with an active job or a DEPLOYING/READY/DOWN run.
const USER_ACTIVE_APPS: &str = "SELECT app_id FROM fun_ai_deploy_job WHERE user_id = ? AND status IN ('PENDING','RUNNING') \
     UNION SELECT app_id FROM fun_ai_deploy_app_run WHERE user_id = ? AND status IN ('DEPLOYING','READY','DOWN') \
     ORDER BY app_id";
const RUNNER_SEEN: &str = "UPDATE fun_ai_deploy_runner SET last_seen_at = ? WHERE runner_id = ?";

/// An app run as a finished job leaves it (`rows::app_run_on_finish`).
const APP_RUN_WRITE: &str = "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
       image, commit_sha, deploy_url, error_message, recent_images_json, updated_at, serving_node) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (app_id) DO UPDATE SET \
       user_id = COALESCE(excluded.user_id, fun_ai_deploy_app_run.user_id), \
       node_name = COALESCE(excluded.node_name, fun_ai_deploy_app_run.node_name), \
       last_job_id = excluded.last_job_id, last_job_status = excluded.last_job_status, \
       status = excluded.status, image = excluded.image, commit_sha = excluded.commit_sha, \
       deploy_url = excluded.deploy_url, error_message = excluded.error_message, \
       recent_images_json = excluded.recent_images_json, updated_at = excluded.updated_at, \
       serving_node = excluded.serving_node";

/// The values of [`APP_RUN_WRITE`].
macro_rules! app_run_args {
    ($w:expr) => {
        args![
            &$w.app_id,
            &$w.user_id,
            &$w.node_name,
            $w.last_job_id,
            $w.last_job_status,
            $w.status,
            &$w.image,
            &$w.commit_sha,
            &$w.deploy_url,
            &$w.error_message,
            &$w.recent_images_json,
            $w.updated_at,
            &$w.serving_node,
        ]
    };
}

/// A runner's `last_seen_at` is written at most this often per process.
const RUNNER_SEEN_EVERY_MS: i64 = 1000;

/// What this process last wrote of a runner's row.
struct Seen {
    at: i64,
    agent_version: Option<String>,
}

/// How a report finishes its job (see [`SqlStore::finish`]).
struct Finish {
    image: Option<String>,
    error: Option<String>,
    code: Option<String>,
    run: AppRunWrite,
    /// The runner's `last_seen_at` is written too.
    seen: bool,
}

impl Reported {
    /// A report the job had already finished with: nothing changed.
    fn repeat(row: JobRow) -> StoreResult<Self> {
        Ok(Reported {
            job: row.into_job()?,
            repeat: true,
        })
    }

    /// The job as the report's update left it: no second read.
    fn finished(mut row: JobRow, f: Finish, req: &ReportRequest, now: i64) -> StoreResult<Self> {
        row.status = req.status.as_str().to_string();
        row.error_message = f.error;
        row.error_code = f.code;
        row.image = f.image.or(row.image);
        row.commit_sha = req.commit_sha.clone().or(row.commit_sha);
        row.lease_expire_at = None;
        row.finished_at = Some(now);
        row.updated_at = now;
        Ok(Reported {
            job: row.into_job()?,
            repeat: false,
        })
    }
}

pub struct SqlStore<D: Dialect> {
    conns: Conns<D>,
    dialect: D,
    policy: Policy,
    /// Serialises writes in this process where the engine has one writer (SQLite).
    write: Mutex<()>,
    /// When this process last wrote each runner's `last_seen_at`, and the agent version
    /// its last claim wrote.
    seen: std::sync::Mutex<HashMap<String, Seen>>,
    /// Every other replica is woken directly after this one's commits (`replicas.rs`).
    peers_woken: std::sync::atomic::AtomicBool,
    /// Node beats answered from memory, written at the next flush (`beats.rs`).
    beats: std::sync::Mutex<Beats>,
    /// Held while a flush writes the beats it took from memory.
    flushing: Mutex<()>,
    /// The last claim here found nothing to claim.
    claims_idle: std::sync::atomic::AtomicBool,
    /// SQLite in a file: the busy writes run here, on the thread holding the write lock.
    direct: Option<Direct>,
}

async fn exec<D: Dialect>(
    conn: &mut Conn<D>,
    sql: &'static str,
    args: &[Arg<'_>],
) -> StoreResult<u64> {
    D::Db::execute(conn, D::SPELLING.sql(sql), args)
        .await
        .map_err(noted)
}

async fn all<D: Dialect, T: Rowed>(
    conn: &mut Conn<D>,
    sql: &'static str,
    args: &[Arg<'_>],
) -> StoreResult<Vec<T>> {
    D::Db::fetch_all(conn, D::SPELLING.sql(sql), args)
        .await
        .map_err(noted)
}

async fn one<D: Dialect, T: Rowed>(
    conn: &mut Conn<D>,
    sql: &'static str,
    args: &[Arg<'_>],
) -> StoreResult<Option<T>> {
    D::Db::fetch_optional(conn, D::SPELLING.sql(sql), args)
        .await
        .map_err(noted)
}

async fn job_row<D: Dialect>(conn: &mut Conn<D>, id: i64) -> StoreResult<Option<JobRow>> {
    one::<D, JobRow>(conn, JOB, args![id]).await
}

async fn job_row_locked<D: Dialect>(conn: &mut Conn<D>, id: i64) -> StoreResult<JobRow> {
    one::<D, JobRow>(conn, JOB_LOCKED, args![id])
        .await?
        .ok_or_else(|| job_not_found(id))
}

/// A job's row read outside a transaction.
async fn job_row_of<D: Dialect>(store: &SqlStore<D>, id: i64) -> StoreResult<Option<JobRow>> {
    store.read_one::<JobRow>(JOB, args![id]).await
}

/// A job as its create inserted it.
fn pending_row(
    id: i64,
    payload: &JobPayload,
    payload_json: &str,
    max_attempts: i64,
    now: i64,
) -> StoreResult<Job> {
    JobRow {
        id,
        status: JobStatus::Pending.as_str().to_string(),
        app_id: payload.app_id.clone(),
        user_id: payload.user_id.clone(),
        payload_json: payload_json.to_string(),
        runner_id: None,
        lease_expire_at: None,
        attempt: 1,
        max_attempts,
        phase: None,
        phase_message: None,
        error_message: None,
        error_code: None,
        image: None,
        commit_sha: None,
        runtime_node: None,
        deploy_url: None,
        cancel_requested: 0,
        log_stored: 0,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
    }
    .into_job()
}

fn job_not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("job {id} not found"))
}

/// The engine a heartbeat names, as the JSON the `engine_info` column keeps.
fn engine_json(hb: &NodeHeartbeat) -> Option<String> {
    hb.engine
        .as_ref()
        .and_then(|e| serde_json::to_string(e).ok())
}

fn node_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("runtime node {name} not found"))
}

/// The node must exist; `locked` holds its row until the transaction ends.
async fn node_exists<D: Dialect>(conn: &mut Conn<D>, name: &str, locked: bool) -> StoreResult<()> {
    let sql = if locked {
        "SELECT node_name FROM fun_ai_deploy_runtime_node WHERE node_name = ?{for_update}"
    } else {
        "SELECT node_name FROM fun_ai_deploy_runtime_node WHERE node_name = ?"
    };
    match one::<D, (String,)>(conn, sql, args![name]).await? {
        Some(_) => Ok(()),
        None => Err(node_not_found(name)),
    }
}

impl<D: Dialect> SqlStore<D> {
    /// `max` connections at most are held at once (the pool may open one more for a
    /// connection it replaces).
    pub fn new(pool: Pool<D::Db>, max: usize, dialect: D, policy: Policy) -> Self {
        Self {
            conns: Conns::new(pool, max, D::SPELLING.engine != "sqlite"),
            dialect,
            policy,
            write: Mutex::new(()),
            seen: Default::default(),
            peers_woken: Default::default(),
            beats: Default::default(),
            flushing: Mutex::new(()),
            claims_idle: Default::default(),
            direct: None,
        }
    }

    /// The busy writes run on `direct` (SQLite in a file), under the write lock.
    pub fn with_direct(mut self, direct: Direct) -> Self {
        self.direct = Some(direct);
        self
    }

    pub fn pool(&self) -> &Pool<D::Db> {
        self.conns.pool()
    }

    /// Taken before every write where the engine has one writer.
    async fn writing(&self) -> Option<MutexGuard<'_, ()>> {
        if D::ONE_WRITER {
            Some(self.write.lock().await)
        } else {
            None
        }
    }

    fn beats(&self) -> std::sync::MutexGuard<'_, Beats> {
        self.beats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read of nodes here shows the beats held here, those a flush under way took from
    /// memory too (the flusher, another read): it is waited for.
    async fn flush_held(&self) -> StoreResult<()> {
        if self.beats().pending() || self.flushing.try_lock().is_err() {
            self.flush_beats_now().await?;
        }
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Tx<'_, D>> {
        self.conns.begin().await
    }

    async fn notify(&self, conn: &mut Conn<D>, change: Change) -> StoreResult<()> {
        let carried = matches!(change, Change::Logs(_) | Change::Created(_));
        if carried && self.peers_woken.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        Ok(self.dialect.notify(conn, change).await?)
    }

    /// A statement outside a transaction.
    async fn write_once(&self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let _w = self.writing().await;
        let mut conn = self.conns.get().await?;
        exec::<D>(&mut conn, sql, args).await
    }

    async fn read_all<T: Rowed>(&self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        let mut conn = self.conns.get().await?;
        all::<D, T>(&mut conn, sql, args).await
    }

    async fn read_one<T: Rowed>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<T>> {
        let mut conn = self.conns.get().await?;
        one::<D, T>(&mut conn, sql, args).await
    }

    /// The app's sticky node, when it has one and it is usable (whatever its disk): one
    /// read of the placement joined to its node.
    async fn sticky_node(
        &self,
        conn: &mut Conn<D>,
        app_id: &str,
        now: i64,
    ) -> StoreResult<Option<ChosenNode>> {
        let since = healthy_since(now, self.policy.node_stale_ms);
        one::<D, ChosenNode>(
            conn,
            "SELECT n.node_name, n.agent_base_url, n.gateway_base_url FROM fun_ai_deploy_runtime_placement p \
             JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
             WHERE p.app_id = ? AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= ?",
            args![app_id, since],
        )
        .await
    }

    /// [`Self::pending_on_sticky_node`] with the job's row.
    async fn pending_on_sticky_node_row(
        &self,
        conn: &mut Conn<D>,
        now: i64,
    ) -> StoreResult<Option<(JobRow, ChosenNode)>> {
        match self.pending_on_sticky_node(conn, now).await? {
            Some((id, node)) => {
                let row = job_row::<D>(conn, id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("job {id} vanished during claim"))
                })?;
                Ok(Some((row, node)))
            }
            None => Ok(None),
        }
    }

    /// The oldest pending job whose sticky node is usable, locked; for when no node takes
    /// new apps. Candidates are read first and locked one by one: MariaDB has no
    /// `FOR UPDATE OF`, and locking the join would lock node rows that heartbeats update.
    async fn pending_on_sticky_node(
        &self,
        conn: &mut Conn<D>,
        now: i64,
    ) -> StoreResult<Option<(i64, ChosenNode)>> {
        #[derive(sqlx::FromRow)]
        struct Candidate {
            id: i64,
            #[sqlx(flatten)]
            node: ChosenNode,
        }
        let since = healthy_since(now, self.policy.node_stale_ms);
        let candidates = all::<D, Candidate>(
            conn,
            "SELECT j.id, n.node_name, n.agent_base_url, n.gateway_base_url FROM fun_ai_deploy_job j \
             JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
             JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
             WHERE j.status = 'PENDING' AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= ? \
             ORDER BY j.id LIMIT 32",
            args![since],
        )
        .await?;
        for c in candidates {
            let locked = one::<D, (i64,)>(
                conn,
                "SELECT id FROM fun_ai_deploy_job WHERE id = ? AND status = 'PENDING'{skip_locked}",
                args![c.id],
            )
            .await?;
            if locked.is_some() {
                return Ok(Some((c.id, c.node)));
            }
        }
        Ok(None)
    }

    /// The id below which the app's finished jobs go (its newest `keep` stay), if any.
    async fn trim_cutoff(conn: &mut Conn<D>, app_id: &str, keep: i64) -> StoreResult<Option<i64>> {
        Ok(one::<D, (i64,)>(
            conn,
            "SELECT id FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            args![app_id, keep - 1],
        )
        .await?
        .map(|(id,)| id))
    }

    /// What the app run becomes with the outcome of `job` (its row read, and locked where
    /// the engine locks rows).
    async fn app_run_after(
        &self,
        conn: &mut Conn<D>,
        job: &JobRow,
        outcome: Outcome<'_>,
        now: i64,
    ) -> StoreResult<AppRunWrite> {
        let existing = one::<D, AppRunRow>(
            conn,
            "SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ?{for_update}",
            args![&job.app_id],
        )
        .await?;
        Ok(app_run_on_finish(
            existing.as_ref(),
            job,
            outcome,
            self.policy.recent_images,
            now,
        ))
    }

    /// Records the outcome of a job on its app run.
    async fn update_app_run_on_finish(
        &self,
        conn: &mut Conn<D>,
        job: &JobRow,
        outcome: Outcome<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let w = self.app_run_after(conn, job, outcome, now).await?;
        exec::<D>(conn, APP_RUN_WRITE, app_run_args!(w)).await?;
        Ok(())
    }

    /// What a create that met the app's active job (the unique index) answers: a conflict
    /// naming that job.
    async fn active_job_conflict(&self, app_id: &str) -> StoreResult<StoreError> {
        let active = self
            .read_one::<(i64, String)>(ACTIVE_JOB, args![app_id])
            .await?;
        Ok(rows::active_job_conflict(app_id, active))
    }

    async fn create_job_tx(
        &self,
        payload: &JobPayload,
        payload_json: &str,
        now: i64,
    ) -> StoreResult<Job> {
        macro_rules! insert {
            () => {
                "INSERT INTO fun_ai_deploy_job (type, status, app_id, user_id, payload_json, attempt, \
                 max_attempts, created_at, updated_at) \
                 VALUES ('BUILD_AND_DEPLOY', 'PENDING', ?, ?, ?, 1, ?, ?, ?)"
            };
        }
        const INSERT: &str = concat!(insert!(), "{returning_id}");
        let values = args![
            &payload.app_id,
            &payload.user_id,
            payload_json,
            self.policy.max_attempts,
            now,
            now
        ];
        // The app's finished jobs older than its newest `keep_per_app` go, logs first, the
        // cutoff read in each delete (after the insert: values app, app, keep_per_app - 1).
        const TRIM_LOGS: &str = "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job \
             WHERE app_id = ? AND id < (SELECT id FROM fun_ai_deploy_job WHERE app_id = ? \
             ORDER BY id DESC LIMIT 1 OFFSET ?) AND status NOT IN ('PENDING','RUNNING'))";
        const TRIM_JOBS: &str = "DELETE FROM fun_ai_deploy_job WHERE app_id = ? AND id < (SELECT id \
             FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?) \
             AND status NOT IN ('PENDING','RUNNING')";
        let _w = self.writing().await;
        if let Some(d) = &self.direct {
            let app = &payload.app_id;
            let keep = self.policy.keep_per_app - 1;
            let inserted = d.write(|tx| {
                if let Some(user) = &payload.user_id {
                    let apps = direct::all(tx, USER_ACTIVE_APPS, args![user, user], |r| r.get(0))?;
                    let limit = self.policy.max_active_apps_per_user;
                    rows::check_user_limit(user, &apps, app, limit)?;
                }
                let id = match direct::one(tx, INSERT, values, |r| r.get::<_, i64>(0)) {
                    Ok(id) => {
                        id.ok_or_else(|| StoreError::Corrupt("the insert answered nothing".into()))?
                    }
                    Err(e) if direct::is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let trim = args![app, app, keep];
                direct::write_all(tx, &[(TRIM_LOGS, trim, None), (TRIM_JOBS, trim, None)])?;
                Ok(Some(id))
            })?;
            return match inserted {
                Some(id) => pending_row(id, payload, payload_json, self.policy.max_attempts, now),
                None => Err(self.active_job_conflict(app).await?),
            };
        }
        // One active job per app is a unique index: the insert below tells (and only then
        // is the active job read, to say which).
        let mut tx = match &payload.user_id {
            Some(user) => {
                // The per-user limit is a read: job creation is serialised per user across
                // replicas by an exclusive lock on the user's row, new or not (where one
                // writer holds the whole database, its transaction is that lock).
                let (tx, apps) = if D::ONE_WRITER {
                    self.conns
                        .begin_then_all::<(String,)>(USER_ACTIVE_APPS, args![user, user])
                        .await?
                } else {
                    let (mut tx, _) = self
                        .conns
                        .begin_then_exec(
                            "INSERT INTO fun_ai_deploy_user_lock (user_id) VALUES (?) \
                             ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id",
                            args![user],
                        )
                        .await?;
                    let apps =
                        all::<D, (String,)>(&mut tx, USER_ACTIVE_APPS, args![user, user]).await?;
                    (tx, apps)
                };
                let apps: Vec<String> = apps.into_iter().map(|(a,)| a).collect();
                rows::check_user_limit(
                    user,
                    &apps,
                    &payload.app_id,
                    self.policy.max_active_apps_per_user,
                )?;
                tx
            }
            None => self.begin().await?,
        };
        self.notify(&mut tx, Change::Created(1)).await?;
        let id = if D::ONE_STATEMENT_WRITES && self.policy.keep_per_app >= 2 {
            // PostgreSQL: the insert and the trim in one statement. Its deletes do not see
            // the new row: of the app's jobs before it, the newest `keep_per_app - 1` stay.
            const INSERT_AND_TRIM: &str = concat!(
                "WITH ins AS (",
                insert!(),
                " RETURNING id), \
                 cut AS (SELECT id FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?), \
                 logs AS (DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job \
                   WHERE app_id = ? AND id < (SELECT id FROM cut) AND status NOT IN ('PENDING','RUNNING'))), \
                 jobs AS (DELETE FROM fun_ai_deploy_job WHERE app_id = ? AND id < (SELECT id FROM cut) \
                   AND status NOT IN ('PENDING','RUNNING')) \
                 SELECT id FROM ins"
            );
            let app = &payload.app_id;
            let values: Vec<Arg<'_>> = values
                .iter()
                .copied()
                .chain(
                    args![app, self.policy.keep_per_app - 2, app, app]
                        .iter()
                        .copied(),
                )
                .collect();
            let id =
                match D::Db::insert_id(&mut tx, D::SPELLING.sql(INSERT_AND_TRIM), &values).await {
                    Ok(id) => id,
                    Err(e) if is_unique_violation(&e) => {
                        tx.rollback().await?;
                        return Err(self.active_job_conflict(&payload.app_id).await?);
                    }
                    Err(e) => return Err(e.into()),
                };
            tx.commit().await?;
            id
        } else {
            // The insert answers the id; the trim reads its cutoff first.
            let id = match D::Db::insert_id(&mut tx, D::SPELLING.sql(INSERT), values).await {
                Ok(id) => id,
                Err(e) if is_unique_violation(&e) => {
                    // Another replica created one in between; say which.
                    tx.rollback().await?;
                    return Err(self.active_job_conflict(&payload.app_id).await?);
                }
                Err(e) => return Err(e.into()),
            };
            let cutoff =
                Self::trim_cutoff(&mut tx, &payload.app_id, self.policy.keep_per_app).await?;
            match cutoff {
                // The app's finished jobs older than its newest `keep_per_app` go, logs first.
                Some(cutoff) => {
                    tx.commit_with(&[
                        (
                            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job \
                             WHERE app_id = ? AND id < ? AND status NOT IN ('PENDING','RUNNING'))",
                            args![&payload.app_id, cutoff],
                            None,
                        ),
                        (
                            "DELETE FROM fun_ai_deploy_job WHERE app_id = ? AND id < ? \
                             AND status NOT IN ('PENDING','RUNNING')",
                            args![&payload.app_id, cutoff],
                            None,
                        ),
                    ])
                    .await?;
                }
                None => tx.commit().await?,
            }
            id
        };
        // The answer is the row as inserted: no second read.
        pending_row(id, payload, payload_json, self.policy.max_attempts, now)
    }

    async fn cancel_job_tx(&self, id: i64, now: i64) -> StoreResult<Job> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let row = job_row_locked::<D>(&mut tx, id).await?;
        match rows::cancel_action(id, row.status()?)? {
            CancelAction::Now => {
                exec::<D>(
                    &mut tx,
                    "UPDATE fun_ai_deploy_job SET status = 'CANCELLED', cancel_requested = 1, \
                     error_message = ?, error_code = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                    args![CANCELLED_BEFORE_CLAIM, FailureCode::Cancelled.as_str(), now, now, id],
                )
                .await?;
            }
            CancelAction::Request => {
                exec::<D>(
                    &mut tx,
                    "UPDATE fun_ai_deploy_job SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                    args![now, id],
                )
                .await?;
            }
        }
        self.notify(&mut tx, Change::Logs(vec![id])).await?;
        let row = job_row::<D>(&mut tx, id)
            .await?
            .ok_or_else(|| job_not_found(id))?;
        tx.commit().await?;
        row.into_job()
    }

    async fn append_log_tx(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64> {
        let _w = self.writing().await;
        // The usual append: at the end of a log that is under its cap, so kept whole (and
        // below the cap, bytes stored are bytes received): one update, no read first.
        let len = data.len() as i64;
        macro_rules! at_the_end {
            () => {
                "UPDATE fun_ai_deploy_job SET log_received = log_received + ?, \
                 log_stored = log_stored + ?, updated_at = ? WHERE id = ? AND log_received = ? \
                 AND log_stored = ? AND log_truncated = 0 AND log_stored + ? <= ?"
            };
        }
        const AT_THE_END: &str = at_the_end!();
        let at_the_end = args![
            len,
            len,
            now,
            id,
            start,
            start,
            len,
            self.policy.log_cap_bytes
        ];
        const COUNTS: &str = "SELECT log_received, log_stored, log_truncated FROM fun_ai_deploy_job \
             WHERE id = ?{for_update}";
        const CHUNK: &str =
            "INSERT INTO fun_ai_deploy_job_log (job_id, \"offset\", data) VALUES (?, ?, ?)";
        const NEW_COUNTS: &str = "UPDATE fun_ai_deploy_job SET log_received = ?, log_stored = ?, \
             log_truncated = ?, updated_at = ? WHERE id = ?";
        if let Some(d) = &self.direct {
            return d.write(|tx| {
                if len > 0 && direct::exec(tx, AT_THE_END, at_the_end)? == 1 {
                    direct::exec(tx, CHUNK, args![id, start, data])?;
                    return Ok(start + len);
                }
                let (received, stored, truncated) = direct::one(tx, COUNTS, args![id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .ok_or_else(|| job_not_found(id))?;
                let cap = self.policy.log_cap_bytes;
                let Some(plan) =
                    rows::plan_log_append(received, stored, truncated, start, data, cap)?
                else {
                    return Ok(received);
                };
                if let Some(chunk) = &plan.chunk {
                    let at = plan.stored - chunk.len() as i64;
                    direct::exec(tx, CHUNK, args![id, at, chunk.as_slice()])?;
                }
                let counts = args![plan.received, plan.stored, plan.truncated, now, id];
                direct::exec(tx, NEW_COUNTS, counts)?;
                Ok(plan.received)
            });
        }
        let mut tx = if len > 0 && D::ONE_STATEMENT_WRITES {
            // The update and the chunk (only if the update took) in one statement, which
            // commits on its own.
            let mut conn = self.conns.get().await?;
            let values: Vec<Arg<'_>> = at_the_end
                .iter()
                .copied()
                .chain([Arg::from(start), Arg::from(data)])
                .collect();
            let n = exec::<D>(
                &mut conn,
                concat!(
                    "WITH took AS (",
                    at_the_end!(),
                    " RETURNING id) INSERT INTO fun_ai_deploy_job_log (job_id, \"offset\", data) \
                     SELECT id, ?, ? FROM took"
                ),
                &values,
            )
            .await?;
            if n == 1 {
                self.notify(&mut conn, Change::Logs(vec![id])).await?;
                return Ok(start + len);
            }
            drop(conn);
            self.begin().await?
        } else if len > 0 {
            let (mut tx, n) = self.conns.begin_then_exec(AT_THE_END, at_the_end).await?;
            if n == 1 {
                self.notify(&mut tx, Change::Logs(vec![id])).await?;
                tx.commit_with(&[(
                    "INSERT INTO fun_ai_deploy_job_log (job_id, \"offset\", data) VALUES (?, ?, ?)",
                    args![id, start, data],
                    None,
                )])
                .await?;
                return Ok(start + len);
            }
            tx
        } else {
            self.begin().await?
        };
        let (received, stored, truncated) = one::<D, (i64, i64, i64)>(&mut tx, COUNTS, args![id])
            .await?
            .ok_or_else(|| job_not_found(id))?;
        let Some(plan) = rows::plan_log_append(
            received,
            stored,
            truncated,
            start,
            data,
            self.policy.log_cap_bytes,
        )?
        else {
            return Ok(received);
        };
        if let Some(chunk) = &plan.chunk {
            let at = plan.stored - chunk.len() as i64;
            exec::<D>(&mut tx, CHUNK, args![id, at, chunk.as_slice()]).await?;
        }
        let counts = args![plan.received, plan.stored, plan.truncated, now, id];
        exec::<D>(&mut tx, NEW_COUNTS, counts).await?;
        self.notify(&mut tx, Change::Logs(vec![id])).await?;
        tx.commit().await?;
        Ok(plan.received)
    }

    async fn claim_tx(&self, p: &ClaimParams, now: i64) -> StoreResult<Option<Job>> {
        // After a claim that found nothing, the usual answer to an idle runner's poll is
        // nothing again: where one writer holds the whole database, one indexed read then
        // comes before the write lock (a busy queue skips it: each claim finds a job).
        let nothing_pending = D::ONE_WRITER
            && self.claims_idle.load(std::sync::atomic::Ordering::Relaxed)
            && self
                .read_one::<(i64,)>(
                    "SELECT id FROM fun_ai_deploy_job WHERE status = 'PENDING' LIMIT 1",
                    args![],
                )
                .await?
                .is_none();
        if nothing_pending {
            if self.claim_due(p, now) {
                self.write_once(
                    TOUCH_RUNNER,
                    args![
                        &p.runner_id,
                        &p.remote_addr,
                        p.legacy,
                        0i64,
                        now,
                        now,
                        &p.agent_version
                    ],
                )
                .await?;
            }
            return Ok(None);
        }
        // Placement here reads what the nodes last told this process.
        self.flush_held().await?;
        let _w = self.writing().await;
        if let Some(d) = &self.direct {
            return match self.claim_direct(d, p, now)? {
                Some((row, node, claim)) => Ok(Some(self.claimed(row, node, claim, p, now)?)),
                None => Ok(None),
            };
        }
        let since = healthy_since(now, self.policy.node_stale_ms);
        // The oldest pending job goes to its sticky node if usable, else to the best node;
        // with no best node, only a job whose sticky node is usable can go.
        let (mut tx, chosen) = if D::ONE_WRITER || D::ONE_STATEMENT_WRITES {
            // The oldest pending job (locked, where rows are), its sticky node and the best
            // node in one read.
            let (mut tx, read) = self
                .conns
                .begin_then_one::<PendingRead>(
                    PENDING_WITH_NODES,
                    args![since, since, self.policy.disk_free_min_pct],
                )
                .await?;
            let chosen = match read.map(PendingRead::split) {
                None => None,
                Some((row, Some(node), _)) | Some((row, None, Some(node))) => Some((row, node)),
                Some((_, None, None)) => self.pending_on_sticky_node_row(&mut tx, now).await?,
            };
            (tx, chosen)
        } else {
            let (mut tx, best) = self
                .conns
                .begin_then_one::<ChosenNode>(
                    BEST_NODE,
                    args![since, self.policy.disk_free_min_pct],
                )
                .await?;
            // The job row is locked, and rows that another replica's claim holds are
            // skipped.
            let chosen = match best {
                Some(best) => {
                    let first = one::<D, JobRow>(
                        &mut tx,
                        "SELECT * FROM fun_ai_deploy_job WHERE status = 'PENDING' \
                         ORDER BY id LIMIT 1{skip_locked}",
                        args![],
                    )
                    .await?;
                    match first {
                        Some(row) => {
                            let sticky = self.sticky_node(&mut tx, &row.app_id, now).await?;
                            Some((row, sticky.unwrap_or(best)))
                        }
                        None => None,
                    }
                }
                None => self.pending_on_sticky_node_row(&mut tx, now).await?,
            };
            (tx, chosen)
        };
        self.claims_idle
            .store(chosen.is_none(), std::sync::atomic::Ordering::Relaxed);
        let Some((row, node)) = chosen else {
            if self.claim_due(p, now) {
                exec::<D>(&mut tx, TOUCH_RUNNER, touch!(p, now, 0i64)).await?;
            }
            tx.commit().await?;
            return Ok(None);
        };
        let claim = Claim::of(&row, &node)?;
        self.notify(&mut tx, Change::Logs(vec![row.id])).await?;
        claim_writes!(p, now, row, node, claim, stmts);
        tx.commit_with(stmts).await?;
        Ok(Some(self.claimed(row, node, claim, p, now)?))
    }

    /// The job as a claim's update left it (no second read); the node's next beat is read
    /// afresh, its placements changed (a node an app moved away from shows one too many
    /// until its next full beat).
    fn claimed(
        &self,
        mut row: JobRow,
        node: ChosenNode,
        claim: Claim,
        p: &ClaimParams,
        now: i64,
    ) -> StoreResult<Job> {
        self.beats().forget(&node.node_name);
        row.status = JobStatus::Running.as_str().to_string();
        row.runner_id = Some(p.runner_id.clone());
        row.lease_expire_at = Some(now + p.lease_ms);
        row.phase = Some("CLAIMED".to_string());
        row.phase_message = None;
        row.runtime_node = Some(claim.node_json);
        row.deploy_url = Some(claim.deploy_url);
        row.started_at = Some(row.started_at.unwrap_or(now));
        row.updated_at = now;
        row.into_job()
    }

    /// [`Self::claim_tx`] on the connection of SQLite's busy writes.
    fn claim_direct(
        &self,
        d: &Direct,
        p: &ClaimParams,
        now: i64,
    ) -> StoreResult<Option<(JobRow, ChosenNode, Claim)>> {
        let since = healthy_since(now, self.policy.node_stale_ms);
        let pct = self.policy.disk_free_min_pct;
        d.write(|tx| {
            let read = direct::one(tx, PENDING_WITH_NODES, args![since, since, pct], |r| {
                Ok((
                    direct::job_row(r)?,
                    direct::node_at(r, ["sticky_name", "sticky_agent", "sticky_gateway"])?,
                    direct::node_at(r, ["best_name", "best_agent", "best_gateway"])?,
                ))
            })?;
            let chosen = match read {
                None => None,
                Some((row, Some(node), _)) | Some((row, None, Some(node))) => Some((row, node)),
                Some((_, None, None)) => {
                    let first = direct::one(tx, STICKY_FIRST, args![since], |r| {
                        Ok((
                            direct::job_row(r)?,
                            direct::node_at(r, ["sticky_name", "sticky_agent", "sticky_gateway"])?,
                        ))
                    })?;
                    first.and_then(|(row, node)| Some((row, node?)))
                }
            };
            self.claims_idle
                .store(chosen.is_none(), std::sync::atomic::Ordering::Relaxed);
            let Some((row, node)) = chosen else {
                if self.claim_due(p, now) {
                    direct::exec(tx, TOUCH_RUNNER, touch!(p, now, 0i64))?;
                }
                return Ok(None);
            };
            let claim = Claim::of(&row, &node)?;
            claim_writes!(p, now, row, node, claim, stmts);
            direct::write_all(tx, stmts)?;
            Ok(Some((row, node, claim)))
        })
    }

    /// One statement when the lease holds (the usual beat); the job is read only to say
    /// why a beat is refused.
    async fn heartbeat_tx(
        &self,
        id: i64,
        runner_id: &str,
        extend_ms: i64,
        phase: Option<&str>,
        phase_message: Option<&str>,
        now: i64,
    ) -> StoreResult<HeartbeatAnswer> {
        const BEAT: &str = "UPDATE fun_ai_deploy_job SET lease_expire_at = ?, phase = COALESCE(?, phase), \
             phase_message = CASE WHEN ? IS NULL THEN phase_message ELSE ? END, updated_at = ? \
             WHERE id = ? AND status = 'RUNNING' AND runner_id = ? AND cancel_requested = 0";
        let lease = now + extend_ms;
        let beat = args![
            lease,
            phase,
            phase_message,
            phase_message,
            now,
            id,
            runner_id
        ];
        let answer = HeartbeatAnswer {
            job_id: id,
            lease_expire_at: ts(lease),
            cancel_requested: false,
            status: Some(JobStatus::Running),
        };
        let _w = self.writing().await;
        if let Some(d) = &self.direct {
            let seen = self.seen_due(runner_id, now);
            d.write(|tx| {
                if direct::exec(tx, BEAT, beat)? != 1 {
                    let row = direct::one(tx, JOB, args![id], direct::job_row)?
                        .ok_or_else(|| job_not_found(id))?;
                    rows::check_heartbeat(&row, runner_id)?;
                }
                if seen {
                    direct::exec(tx, RUNNER_SEEN, args![now, runner_id])?;
                }
                Ok(())
            })?;
            return Ok(answer);
        }
        let mut conn = self.conns.get().await?;
        let n = exec::<D>(&mut conn, BEAT, beat).await?;
        if n != 1 {
            // Refused, or (MySQL counts changed rows) the same beat twice in one millisecond.
            let row = job_row::<D>(&mut conn, id)
                .await?
                .ok_or_else(|| job_not_found(id))?;
            rows::check_heartbeat(&row, runner_id)?;
        }
        if phase.is_some() {
            self.notify(&mut conn, Change::Logs(vec![id])).await?;
        }
        self.runner_seen(&mut conn, runner_id, now).await?;
        Ok(answer)
    }

    /// Records that a runner was seen, at most once a second per runner and process: a
    /// runner's liveness is read in seconds, and its every call need not write it.
    async fn runner_seen(&self, conn: &mut Conn<D>, runner_id: &str, now: i64) -> StoreResult<()> {
        if self.seen_due(runner_id, now) {
            exec::<D>(conn, RUNNER_SEEN, args![now, runner_id]).await?;
        }
        Ok(())
    }

    /// Whether this process should write that `runner_id` was seen `now`; if so, it is
    /// taken as written.
    fn seen_due(&self, runner_id: &str, now: i64) -> bool {
        self.due(runner_id, now, None)
    }

    /// Like [`Self::seen_due`] for a claim, which also writes the agent version: a version
    /// other than the one last written is due at once (an agent restarted on a new build).
    fn claim_due(&self, p: &ClaimParams, now: i64) -> bool {
        self.due(&p.runner_id, now, Some(p.agent_version.as_deref()))
    }

    fn due(&self, runner_id: &str, now: i64, version: Option<Option<&str>>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get_mut(runner_id) {
            Some(s)
                if now >= s.at
                    && now - s.at < RUNNER_SEEN_EVERY_MS
                    && version.is_none_or(|v| v == s.agent_version.as_deref()) =>
            {
                false
            }
            Some(s) => {
                s.at = now;
                if let Some(v) = version {
                    s.agent_version = v.map(str::to_string);
                }
                true
            }
            None => {
                if seen.len() >= 100_000 {
                    seen.clear();
                }
                let seen_now = Seen {
                    at: now,
                    agent_version: version.flatten().map(str::to_string),
                };
                seen.insert(runner_id.to_string(), seen_now);
                true
            }
        }
    }

    /// What a report does to its job, read with its app's run: `None` if the job had already
    /// finished with this report (a runner's retry).
    fn finish(
        &self,
        row: &JobRow,
        run: Option<&AppRunRow>,
        req: &ReportRequest,
        now: i64,
    ) -> StoreResult<Option<Finish>> {
        let (image, error, code) = match rows::decide_report(row, req)? {
            ReportAction::Repeat => return Ok(None),
            ReportAction::Finish { image, error, code } => (image, error, code),
        };
        let outcome = Outcome {
            status: req.status,
            image: image.as_deref(),
            commit: req.commit_sha.as_deref(),
            error: error.as_deref(),
        };
        let run = app_run_on_finish(run, row, outcome, self.policy.recent_images, now);
        Ok(Some(Finish {
            image,
            error,
            code,
            run,
            seen: self.seen_due(&req.runner_id, now),
        }))
    }

    async fn report_tx(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Reported> {
        // The job row is locked: the update cannot miss.
        const FINISHED: &str = "UPDATE fun_ai_deploy_job SET status = ?, error_message = ?, error_code = ?, \
             image = COALESCE(?, image), commit_sha = COALESCE(?, commit_sha), lease_expire_at = NULL, \
             finished_at = ?, updated_at = ? WHERE id = ?";
        // The writes of finish `$f`, as `$writes` (the runner's `last_seen_at` only if due).
        macro_rules! writes {
            ($f:ident, $writes:ident) => {
                let status = req.status.as_str();
                let job = args![
                    status,
                    &$f.error,
                    &$f.code,
                    &$f.image,
                    &req.commit_sha,
                    now,
                    now,
                    id
                ];
                let run = app_run_args!($f.run);
                let seen = args![now, &req.runner_id];
                let all: [(&'static str, &[Arg<'_>], Option<u64>); 3] = [
                    (FINISHED, job, Some(1)),
                    (APP_RUN_WRITE, run, None),
                    (RUNNER_SEEN, seen, None),
                ];
                let $writes = &all[..if $f.seen { 3 } else { 2 }];
            };
        }
        let _w = self.writing().await;
        if let Some(d) = &self.direct {
            return d.write(|tx| {
                let read = direct::one(tx, JOB_WITH_RUN, args![id], |r| {
                    Ok((direct::job_row(r)?, direct::run_beside(r)?))
                })?;
                let (row, run) = read.ok_or_else(|| job_not_found(id))?;
                let Some(f) = self.finish(&row, run.as_ref(), req, now)? else {
                    return Reported::repeat(row);
                };
                writes!(f, stmts);
                direct::write_all(tx, stmts)?;
                Reported::finished(row, f, req, now)
            });
        }
        // The job and its app's run in the read that opens the transaction (the job's row
        // locked first, then the run's, where rows are locked).
        let read = if D::ONE_STATEMENT_WRITES {
            JOB_WITH_RUN_LATERAL
        } else {
            JOB_WITH_RUN
        };
        let (mut tx, read) = self
            .conns
            .begin_then_one::<JobWithRun>(read, args![id])
            .await?;
        let (row, run) = read
            .map(JobWithRun::split)
            .ok_or_else(|| job_not_found(id))?;
        let Some(f) = self.finish(&row, run.as_ref(), req, now)? else {
            tx.commit().await?;
            return Reported::repeat(row);
        };
        self.notify(&mut tx, Change::Logs(vec![id])).await?;
        writes!(f, stmts);
        tx.commit_with(stmts).await?;
        Reported::finished(row, f, req, now)
    }

    /// Every replica sweeps: the expired rows are locked and those another sweeper holds
    /// are skipped, and each update still requires RUNNING, so no job moves twice.
    async fn sweep_tx(&self, now: i64) -> StoreResult<SweepOutcome> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let expired = all::<D, JobRow>(
            &mut tx,
            "SELECT * FROM fun_ai_deploy_job WHERE status = 'RUNNING' AND lease_expire_at < ? \
             ORDER BY lease_expire_at, id LIMIT ?{skip_locked}",
            args![now, rows::SWEEP_BATCH],
        )
        .await?;
        let mut out = SweepOutcome::default();
        for row in expired {
            let (status, msg) = match rows::sweep_action(&row) {
                SweepAction::Requeue(msg) => {
                    let n = exec::<D>(
                        &mut tx,
                        "UPDATE fun_ai_deploy_job SET status = 'PENDING', attempt = attempt + 1, runner_id = NULL, \
                         lease_expire_at = NULL, phase = NULL, runtime_node = NULL, deploy_url = NULL, \
                         phase_message = ?, updated_at = ? \
                         WHERE id = ? AND status = 'RUNNING' AND lease_expire_at < ?",
                        args![&msg, now, row.id, now],
                    )
                    .await?;
                    if n == 1 {
                        out.requeued.push(row.id);
                    }
                    continue;
                }
                SweepAction::Cancel(msg) => (JobStatus::Cancelled, msg),
                SweepAction::Fail(msg) => (JobStatus::Failed, msg),
            };
            let code = match status {
                JobStatus::Cancelled => FailureCode::Cancelled,
                _ => FailureCode::LeaseExpired,
            };
            let n = exec::<D>(
                &mut tx,
                "UPDATE fun_ai_deploy_job SET status = ?, error_message = ?, error_code = ?, lease_expire_at = NULL, \
                 finished_at = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING' AND lease_expire_at < ?",
                args![status.as_str(), &msg, code.as_str(), now, now, row.id, now],
            )
            .await?;
            if n != 1 {
                continue;
            }
            let outcome = Outcome {
                status,
                image: None,
                commit: None,
                error: Some(&msg),
            };
            self.update_app_run_on_finish(&mut tx, &row, outcome, now)
                .await?;
            if status == JobStatus::Cancelled {
                out.cancelled.push(row.id);
            } else {
                out.failed.push(row.id);
            }
        }
        if !out.requeued.is_empty() {
            self.notify(&mut tx, Change::Jobs).await?;
        }
        if !out.is_empty() {
            let ids = [&out.requeued, &out.failed, &out.cancelled]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            self.notify(&mut tx, Change::Logs(ids)).await?;
        }
        tx.commit().await?;
        out.requeued.sort_unstable();
        out.failed.sort_unstable();
        out.cancelled.sort_unstable();
        Ok(out)
    }

    /// The usual beat, from a node known and fresh: one update of its figures and time, no
    /// lock taken before it, and the answer returned by the update itself where the engine
    /// can (SQLite, PostgreSQL). `None` for a node unknown or stale: that beat brings it
    /// up, in `upsert_node_tx`.
    async fn beat_fresh_node(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<NodeRow>> {
        macro_rules! beat {
            () => {
                "UPDATE fun_ai_deploy_runtime_node SET agent_base_url = ?, gateway_base_url = ?, \
                 disk_free_pct = ?, disk_free_bytes = ?, container_count = ?, remote_addr = ?, \
                 agent_version = ?, engine_info = ?, last_heartbeat_at = ?, updated_at = ? \
                 WHERE node_name = ? AND last_heartbeat_at >= ?"
            };
        }
        const BEAT: &str = beat!();
        const BEAT_RETURNING: &str = concat!(
            beat!(),
            " RETURNING node_name, agent_base_url, gateway_base_url, disk_free_pct, disk_free_bytes, \
             container_count, enabled, draining, last_heartbeat_at, created_at, agent_version, engine_info, \
             (SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement p \
             WHERE p.node_name = fun_ai_deploy_runtime_node.node_name) AS placements"
        );
        let since = healthy_since(now, self.policy.node_stale_ms);
        let engine = engine_json(hb);
        let values = args![
            &hb.agent_base_url,
            &hb.gateway_base_url,
            hb.disk_free_pct,
            hb.disk_free_bytes,
            hb.container_count,
            remote_addr,
            &hb.agent_version,
            &engine,
            now,
            now,
            &hb.node_name,
            since
        ];
        let row = {
            let _w = self.writing().await;
            let mut conn = self.conns.get().await?;
            if D::UPDATE_RETURNING {
                one::<D, NodeRow>(&mut conn, BEAT_RETURNING, values).await?
            } else if exec::<D>(&mut conn, BEAT, values).await? == 1 {
                one::<D, NodeRow>(&mut conn, NODE_BY_NAME, args![&hb.node_name]).await?
            } else {
                None
            }
        };
        Ok(row)
    }

    /// Writes the beats held since the last flush; answers how many nodes were written.
    /// Nodes not written (removed, or holding a newer beat) and nodes of a statement that
    /// failed are read afresh at their next beat.
    async fn flush_beats_now(&self) -> StoreResult<u64> {
        let _flushing = self.flushing.lock().await;
        let held = self.beats().take();
        let mut rest = held.as_slice();
        let mut written = 0;
        for size in beats::chunk_sizes(held.len()) {
            let (chunk, after) = rest.split_at(size);
            let mut values = Vec::with_capacity(size * 5);
            for h in chunk {
                values.extend_from_slice(args![
                    &h.node_name,
                    h.disk_free_pct,
                    h.disk_free_bytes,
                    h.container_count,
                    h.at
                ]);
            }
            let sql = beats::flush_sql(D::SPELLING.engine, size);
            let n = match self.write_once(sql, &values).await {
                Ok(n) => n,
                Err(e) => {
                    let mut b = self.beats();
                    rest.iter().for_each(|h| b.forget(&h.node_name));
                    return Err(e);
                }
            };
            if n < size as u64 {
                let mut b = self.beats();
                chunk.iter().for_each(|h| b.forget(&h.node_name));
            }
            written += n;
            rest = after;
        }
        Ok(written)
    }

    /// Whether the node came up with this heartbeat (unknown or stale before).
    async fn upsert_node_tx(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let engine = engine_json(hb);
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let before = one::<D, (Option<i64>,)>(
            &mut tx,
            "SELECT last_heartbeat_at FROM fun_ai_deploy_runtime_node WHERE node_name = ?{for_update}",
            args![&hb.node_name],
        )
        .await?;
        exec::<D>(
            &mut tx,
            "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
               disk_free_bytes, container_count, enabled, draining, remote_addr, agent_version, engine_info, \
               last_heartbeat_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (node_name) DO UPDATE SET agent_base_url = excluded.agent_base_url, \
               gateway_base_url = excluded.gateway_base_url, disk_free_pct = excluded.disk_free_pct, \
               disk_free_bytes = excluded.disk_free_bytes, container_count = excluded.container_count, \
               remote_addr = excluded.remote_addr, agent_version = excluded.agent_version, \
               engine_info = excluded.engine_info, last_heartbeat_at = excluded.last_heartbeat_at, updated_at = excluded.updated_at",
            args![
                &hb.node_name,
                &hb.agent_base_url,
                &hb.gateway_base_url,
                hb.disk_free_pct,
                hb.disk_free_bytes,
                hb.container_count,
                remote_addr,
                &hb.agent_version,
                &engine,
                now,
                now,
                now
            ],
        )
        .await?;
        let came_up = before.is_none_or(|(t,)| is_stale(t, now, self.policy.node_stale_ms));
        if came_up {
            self.notify(&mut tx, Change::Jobs).await?;
        }
        tx.commit().await?;
        Ok(came_up)
    }

    async fn set_node_flag_tx(&self, name: &str, flag: NodeFlag, now: i64) -> StoreResult<u64> {
        let sql = match flag {
            NodeFlag::Drain => {
                "UPDATE fun_ai_deploy_runtime_node SET draining = 1, updated_at = ? WHERE node_name = ?"
            }
            NodeFlag::Undrain => {
                "UPDATE fun_ai_deploy_runtime_node SET draining = 0, updated_at = ? WHERE node_name = ?"
            }
            NodeFlag::Enable => {
                "UPDATE fun_ai_deploy_runtime_node SET enabled = 1, updated_at = ? WHERE node_name = ?"
            }
            NodeFlag::Disable => {
                "UPDATE fun_ai_deploy_runtime_node SET enabled = 0, updated_at = ? WHERE node_name = ?"
            }
        };
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let affected = exec::<D>(&mut tx, sql, args![now, name]).await?;
        if affected > 0 {
            self.notify(&mut tx, Change::Jobs).await?;
        }
        tx.commit().await?;
        self.beats().forget(name);
        Ok(affected)
    }

    async fn remove_node_tx(&self, name: &str, force: bool) -> StoreResult<i64> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        node_exists::<D>(&mut tx, name, true).await?;
        let (placements,) = one::<D, (i64,)>(
            &mut tx,
            "SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement WHERE node_name = ?",
            args![name],
        )
        .await?
        .unwrap_or((0,));
        if placements > 0 && !force {
            return Err(rows::node_busy(name, placements));
        }
        exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_runtime_placement WHERE node_name = ?",
            args![name],
        )
        .await?;
        exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_runtime_node WHERE node_name = ?",
            args![name],
        )
        .await?;
        tx.commit().await?;
        self.beats().remove(name);
        Ok(placements)
    }

    async fn reassign_tx(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        node_exists::<D>(&mut tx, node, false).await?;
        let user = one::<D, (Option<String>,)>(
            &mut tx,
            "SELECT user_id FROM fun_ai_deploy_app_run WHERE app_id = ?",
            args![app_id],
        )
        .await?
        .and_then(|(u,)| u);
        exec::<D>(
            &mut tx,
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET node_name = excluded.node_name, \
             updated_at = excluded.updated_at",
            args![app_id, &user, node, now, now],
        )
        .await?;
        let row = one::<D, PlacementRow>(
            &mut tx,
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
             WHERE app_id = ?",
            args![app_id],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("placement of {app_id} vanished")))?;
        self.notify(&mut tx, Change::Jobs).await?;
        tx.commit().await?;
        // The app left a node this process does not name.
        self.beats().forget_all();
        Ok(row.into())
    }

    async fn purge_app_tx(&self, app_id: &str) -> StoreResult<PurgeAnswer> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let active = one::<D, (i64, String)>(
            &mut tx,
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') \
             LIMIT 1{for_update}",
            args![app_id],
        )
        .await?;
        if let Some((id, st)) = active {
            return Err(rows::purge_conflict(app_id, id, &st));
        }
        exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job WHERE app_id = ?)",
            args![app_id],
        )
        .await?;
        let jobs = exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_job WHERE app_id = ?",
            args![app_id],
        )
        .await?;
        let runs = exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_app_run WHERE app_id = ?",
            args![app_id],
        )
        .await?;
        let placements = exec::<D>(
            &mut tx,
            "DELETE FROM fun_ai_deploy_runtime_placement WHERE app_id = ?",
            args![app_id],
        )
        .await?;
        tx.commit().await?;
        if placements > 0 {
            self.beats().forget_all();
        }
        Ok(PurgeAnswer {
            deleted_jobs: jobs as i64,
            deleted_app_runs: runs as i64,
            deleted_placements: placements as i64,
        })
    }
}

#[async_trait]
impl<D: Dialect> super::Store for SqlStore<D> {
    fn engine(&self) -> &'static str {
        D::SPELLING.engine
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conns.get().await?;
        exec::<D>(&mut conn, "SELECT 1", args![]).await?;
        Ok(())
    }

    fn change_feed(&self, shutdown: CancellationToken) -> Option<mpsc::Receiver<Change>> {
        self.dialect.change_feed(self.conns.pool(), shutdown)
    }

    async fn estate_job(&self, id: &str) -> StoreResult<super::estate::EstateJob> {
        Ok(self.dialect.estate_job(self.conns.pool(), id).await?)
    }

    async fn create_job(&self, payload: &JobPayload, now: i64) -> StoreResult<Job> {
        let payload_json = serde_json::to_string(payload)
            .map_err(|e| StoreError::Invalid(format!("payload: {e}")))?;
        retry_tx!(self.create_job_tx(payload, &payload_json, now))
    }

    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>> {
        let mut conn = self.conns.get().await?;
        job_row::<D>(&mut conn, id)
            .await?
            .map(JobRow::into_job)
            .transpose()
    }

    async fn list_jobs(
        &self,
        app_id: Option<&str>,
        status: Option<JobStatus>,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        let status = status.map(|s| s.as_str());
        let rows = self
            .read_all::<JobRow>(
                "SELECT * FROM fun_ai_deploy_job WHERE (? IS NULL OR app_id = ?) \
                 AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ?",
                args![app_id, app_id, status, status, limit],
            )
            .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn cancel_job(&self, id: i64, now: i64) -> StoreResult<Job> {
        retry_tx!(self.cancel_job_tx(id, now))
    }

    async fn append_log(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64> {
        retry_tx!(self.append_log_tx(id, start, data, now))
    }

    async fn read_log(&self, id: i64, offset: i64, max: usize) -> StoreResult<LogRead> {
        let mut conn = self.conns.get().await?;
        let (status, stored, truncated) = one::<D, (String, i64, i64)>(
            &mut conn,
            "SELECT status, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = ?",
            args![id],
        )
        .await?
        .ok_or_else(|| job_not_found(id))?;
        let mut data = Vec::new();
        if offset < stored {
            let chunks = all::<D, (i64, Vec<u8>)>(
                &mut conn,
                "SELECT \"offset\", data FROM fun_ai_deploy_job_log \
                 WHERE job_id = ? AND \"offset\" + length(data) > ? ORDER BY \"offset\"",
                args![id, offset],
            )
            .await?;
            data = rows::collect_log(chunks, offset, max);
        }
        Ok(LogRead {
            data,
            stored,
            truncated: truncated != 0,
            status: JobStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        })
    }

    async fn claim(&self, p: &ClaimParams, now: i64) -> StoreResult<Option<Job>> {
        retry_tx!(self.claim_tx(p, now))
    }

    async fn heartbeat(
        &self,
        id: i64,
        runner_id: &str,
        extend_ms: i64,
        phase: Option<&str>,
        phase_message: Option<&str>,
        now: i64,
    ) -> StoreResult<HeartbeatAnswer> {
        retry_tx!(self.heartbeat_tx(id, runner_id, extend_ms, phase, phase_message, now))
    }

    async fn report(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Reported> {
        rows::check_report_status(req)?;
        retry_tx!(self.report_tx(id, req, now))
    }

    async fn sweep(&self, now: i64) -> StoreResult<SweepOutcome> {
        retry_tx!(self.sweep_tx(now))
    }

    async fn touch_runner(
        &self,
        runner_id: &str,
        remote_addr: Option<&str>,
        legacy: bool,
        now: i64,
    ) -> StoreResult<()> {
        self.write_once(
            TOUCH_RUNNER,
            args![
                runner_id,
                remote_addr,
                legacy,
                0i64,
                now,
                now,
                Option::<&str>::None
            ],
        )
        .await?;
        Ok(())
    }

    async fn list_runners(&self, now: i64) -> StoreResult<Vec<Runner>> {
        let rows = self
            .read_all::<RunnerRow>(
                "SELECT r.runner_id, r.remote_addr, r.legacy, r.jobs_claimed, r.last_seen_at, r.created_at, \
                 r.agent_version, (SELECT COUNT(*) FROM fun_ai_deploy_job j WHERE j.runner_id = r.runner_id \
                   AND j.status = 'RUNNING') AS running \
                 FROM fun_ai_deploy_runner r ORDER BY r.runner_id",
                args![],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_runner(now, self.policy.runner_stale_ms))
            .collect())
    }

    async fn upsert_node(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<NodeUpsert> {
        let stale_ms = self.policy.node_stale_ms;
        let held = self.beats().hold(
            hb,
            engine_json(hb).as_deref(),
            remote_addr,
            now,
            healthy_since(now, stale_ms),
            stale_ms / 2,
        );
        if let Some(row) = held {
            return Ok(NodeUpsert {
                node: row.into_node(now, stale_ms),
                came_up: false,
            });
        }
        let (row, came_up) = match self.beat_fresh_node(hb, remote_addr, now).await? {
            Some(row) => (row, false),
            None => {
                let came_up = retry_tx!(self.upsert_node_tx(hb, remote_addr, now))?;
                let row = self
                    .read_one::<NodeRow>(NODE_BY_NAME, args![&hb.node_name])
                    .await?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("node {} vanished after upsert", hb.node_name))
                    })?;
                (row, came_up)
            }
        };
        self.beats().known(&row, remote_addr, now);
        Ok(NodeUpsert {
            node: row.into_node(now, stale_ms),
            came_up,
        })
    }

    async fn flush_beats(&self) -> StoreResult<u64> {
        self.flush_beats_now().await
    }

    async fn list_nodes(&self, now: i64) -> StoreResult<Vec<RuntimeNode>> {
        self.flush_held().await?;
        let rows = self
            .read_all::<NodeRow>(concat!(node_select!(), " ORDER BY n.node_name"), args![])
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_node(now, self.policy.node_stale_ms))
            .collect())
    }

    async fn get_node(&self, name: &str, now: i64) -> StoreResult<Option<RuntimeNode>> {
        self.flush_held().await?;
        let row = self.read_one::<NodeRow>(NODE_BY_NAME, args![name]).await?;
        Ok(row.map(|r| r.into_node(now, self.policy.node_stale_ms)))
    }

    async fn set_node_flag(
        &self,
        name: &str,
        flag: NodeFlag,
        now: i64,
    ) -> StoreResult<RuntimeNode> {
        if retry_tx!(self.set_node_flag_tx(name, flag, now))? == 0 {
            return Err(node_not_found(name));
        }
        self.get_node(name, now)
            .await?
            .ok_or_else(|| node_not_found(name))
    }

    async fn remove_node(&self, name: &str, force: bool) -> StoreResult<i64> {
        retry_tx!(self.remove_node_tx(name, force))
    }

    async fn list_placements(&self, node: Option<&str>) -> StoreResult<Vec<Placement>> {
        let rows = self
            .read_all::<PlacementRow>(
                "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
                 WHERE (? IS NULL OR node_name = ?) ORDER BY node_name, app_id",
                args![node, node],
            )
            .await?;
        Ok(rows.into_iter().map(Placement::from).collect())
    }

    async fn reassign(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        retry_tx!(self.reassign_tx(app_id, node, now))
    }

    async fn list_app_runs(&self) -> StoreResult<Vec<AppRun>> {
        let rows = self
            .read_all::<AppRunRow>(
                "SELECT * FROM fun_ai_deploy_app_run ORDER BY updated_at DESC, app_id",
                args![],
            )
            .await?;
        rows.into_iter().map(AppRunRow::into_app_run).collect()
    }

    async fn get_app_run(&self, app_id: &str) -> StoreResult<Option<AppRun>> {
        let row = self
            .read_one::<AppRunRow>(
                "SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ?",
                args![app_id],
            )
            .await?;
        row.map(AppRunRow::into_app_run).transpose()
    }

    async fn mark_app_stopped(&self, app_id: &str, now: i64) -> StoreResult<()> {
        self.write_once(
            "UPDATE fun_ai_deploy_app_run SET status = 'STOPPED', serving_node = NULL, updated_at = ? WHERE app_id = ?",
            args![now, app_id],
        )
        .await?;
        Ok(())
    }

    async fn purge_app(&self, app_id: &str) -> StoreResult<PurgeAnswer> {
        retry_tx!(self.purge_app_tx(app_id))
    }

    async fn known_app(&self, app_id: &str) -> StoreResult<KnownApp> {
        // SQLite: one read, the app's newest jobs, then its run's owner (id -1).
        const RUN_AND_JOBS: &str = "SELECT -1 AS id, user_id, NULL AS payload_json FROM fun_ai_deploy_app_run \
             WHERE app_id = ? UNION ALL SELECT id, user_id, payload_json FROM (SELECT id, user_id, payload_json \
             FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 100) j ORDER BY id DESC";
        let (run, jobs): (Vec<_>, Vec<_>) = if let Some(d) = &self.direct {
            let rows = d.read(|c| {
                direct::all(c, RUN_AND_JOBS, args![app_id, app_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })?;
            rows.into_iter().partition(|r: &(i64, _, _)| r.0 < 0)
        } else if D::ONE_WRITER {
            let rows = self
                .read_all::<(i64, Option<String>, Option<String>)>(
                    RUN_AND_JOBS,
                    args![app_id, app_id],
                )
                .await?;
            rows.into_iter().partition(|r| r.0 < 0)
        } else {
            // Two reads by index: MariaDB runs that union of a text column through two
            // temporary tables on disk (0.7 ms a create, most of a create's server time).
            let mut conn = self.conns.get().await?;
            let run = one::<D, (Option<String>,)>(
                &mut conn,
                "SELECT user_id FROM fun_ai_deploy_app_run WHERE app_id = ?",
                args![app_id],
            )
            .await?
            .map(|(user,)| (-1, user, None));
            let jobs = all::<D, (i64, Option<String>, Option<String>)>(
                &mut conn,
                "SELECT id, user_id, payload_json FROM fun_ai_deploy_job \
                 WHERE app_id = ? ORDER BY id DESC LIMIT 100",
                args![app_id],
            )
            .await?;
            (run.into_iter().collect(), jobs)
        };
        let owner = run
            .into_iter()
            .find_map(|r| r.1)
            .or_else(|| jobs.iter().find_map(|r| r.1.clone()));
        // The newest job that names a repository, else the newest job.
        let mut newest = None;
        let mut last = None;
        for json in jobs.iter().filter_map(|r| r.2.as_deref()) {
            let p = rows::payload_of(json)?;
            if p.repo_ssh_url.is_some() {
                last = Some(p);
                break;
            }
            newest.get_or_insert(p);
        }
        Ok(KnownApp {
            owner,
            last: last.or(newest),
        })
    }

    async fn reconcile_node_apps(
        &self,
        node: &str,
        apps: &[protocol::node::NodeApp],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        let runs = self
            .read_all::<AppRunRow>(
                "SELECT * FROM fun_ai_deploy_app_run WHERE node_name = ? AND status <> 'DEPLOYING'",
                args![node],
            )
            .await?;
        let mut fixed = Vec::new();
        for run in runs {
            let app = run.app_id.as_str();
            let held = apps.iter().find(|a| a.app_id == app);
            // What `updated_at` holds now: the corrections below change only the row read.
            let mut stamp = run.updated_at;
            if let Some(a) = held.filter(|a| a.running)
                && run.image.is_none()
            {
                self.write_once(
                    "UPDATE fun_ai_deploy_app_run SET image = ?, updated_at = ? WHERE app_id = ? AND image IS NULL",
                    args![&a.image, now, app],
                )
                .await?;
                if let Some(job) = run.last_job_id {
                    self.write_once(
                        "UPDATE fun_ai_deploy_job SET image = ? WHERE id = ? AND image IS NULL",
                        args![&a.image, job],
                    )
                    .await?;
                }
                stamp = now;
                fixed.push(format!("app {app}: image {} (from node {node})", a.image));
            }
            // A correction only where the node contradicts a settled record, and never
            // while a job of the app is under way (it decides the record).
            let contradicts = match held {
                Some(a) if a.running => run.status == "FAILED" || run.status == "DOWN",
                Some(_) => run.status == "READY",
                None => run.status == "READY" || run.status == "DOWN",
            };
            if !contradicts
                || self
                    .read_one::<(i64, String)>(ACTIVE_JOB, args![app])
                    .await?
                    .is_some()
            {
                continue;
            }
            match held {
                Some(a) if a.running && run.status == "FAILED" => {
                    // Serving a container made after the failed job started: its deploy
                    // took, whatever its runner said.
                    let started = match run.last_job_id {
                        Some(id) => job_row_of(self, id).await?.and_then(|j| j.started_at),
                        None => None,
                    };
                    let made = a.since.map(|t| t.timestamp_millis());
                    if let (Some(started), Some(made)) = (started, made)
                        && made >= started
                    {
                        let n = self
                            .write_once(
                                "UPDATE fun_ai_deploy_app_run SET status = 'READY', image = ?, error_message = NULL, \
                                 serving_node = ?, updated_at = ? WHERE app_id = ? AND status = 'FAILED' AND updated_at = ?",
                                args![&a.image, node, now, app, stamp],
                            )
                            .await?;
                        if n == 1 {
                            fixed.push(format!(
                                "app {app}: READY, not FAILED (node {node} serves {})",
                                a.image
                            ));
                        }
                    }
                }
                Some(a) if a.running && run.status == "DOWN" => {
                    let n = self
                        .write_once(
                            "UPDATE fun_ai_deploy_app_run SET status = 'READY', error_message = NULL, updated_at = ? \
                             WHERE app_id = ? AND status = 'DOWN' AND updated_at = ?",
                            args![now, app, stamp],
                        )
                        .await?;
                    if n == 1 {
                        fixed.push(format!("app {app}: READY again (node {node} runs it)"));
                    }
                }
                Some(_) if run.status == "READY" => {
                    let why = format!("its container does not run on node {node}");
                    let n = self
                        .write_once(
                            "UPDATE fun_ai_deploy_app_run SET status = 'DOWN', error_message = ?, updated_at = ? \
                             WHERE app_id = ? AND status = 'READY' AND updated_at = ?",
                            args![&why, now, app, stamp],
                        )
                        .await?;
                    if n == 1 {
                        fixed.push(format!("app {app}: DOWN ({why})"));
                    }
                }
                None if run.status == "READY" || run.status == "DOWN" => {
                    let why = format!("its container is gone from node {node}");
                    let n = self
                        .write_once(
                            "UPDATE fun_ai_deploy_app_run SET status = 'STOPPED', serving_node = NULL, error_message = ?, \
                             updated_at = ? WHERE app_id = ? AND status IN ('READY', 'DOWN') AND updated_at = ?",
                            args![&why, now, app, stamp],
                        )
                        .await?;
                    if n == 1 {
                        fixed.push(format!("app {app}: STOPPED ({why})"));
                    }
                }
                _ => {}
            }
        }
        Ok(fixed)
    }

    async fn base_path_overrides(&self) -> StoreResult<Vec<(String, String)>> {
        let marked = self
            .read_all::<(String,)>(
                "SELECT DISTINCT app_id FROM fun_ai_deploy_job WHERE payload_json LIKE '%basePathOverride%'",
                args![],
            )
            .await?;
        let mut out = Vec::new();
        for (app,) in marked {
            let newest = self
                .read_one::<(String,)>(
                    "SELECT payload_json FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 1",
                    args![&app],
                )
                .await?;
            if let Some((json,)) = newest {
                let p = rows::payload_of(&json)?;
                if p.extra.get("basePathOverride") == Some(&serde_json::Value::Bool(true))
                    && let Some(b) = p.base_path
                {
                    out.push((app, b));
                }
            }
        }
        Ok(out)
    }

    async fn set_app_owner(&self, app_id: &str, user_id: &str, now: i64) -> StoreResult<u64> {
        let _w = self.writing().await;
        let mut tx = self.begin().await?;
        let mut n = exec::<D>(
            &mut tx,
            "UPDATE fun_ai_deploy_app_run SET user_id = ?, updated_at = ? WHERE app_id = ?",
            args![user_id, now, app_id],
        )
        .await?;
        n += exec::<D>(
            &mut tx,
            "UPDATE fun_ai_deploy_runtime_placement SET user_id = ?, updated_at = ? WHERE app_id = ?",
            args![user_id, now, app_id],
        )
        .await?;
        n += exec::<D>(
            &mut tx,
            "UPDATE fun_ai_deploy_job SET user_id = ? WHERE app_id = ?",
            args![user_id, app_id],
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        self.write_once(
            "INSERT INTO fun_ai_deploy_audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            args![now, actor, action, target, detail],
        )
        .await?;
        Ok(())
    }

    async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .read_all::<AuditRow>(
                "SELECT id, at, actor, action, target, detail FROM fun_ai_deploy_audit ORDER BY id DESC LIMIT ?",
                args![limit],
            )
            .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    async fn save_check_report(
        &self,
        reporter: Reporter,
        name: &str,
        remote_addr: Option<&str>,
        report: &CheckReport,
        now: i64,
    ) -> StoreResult<()> {
        let w = CheckReportWrite::new(reporter, name, remote_addr, report)?;
        self.write_once(
            "INSERT INTO fun_ai_deploy_check_report (reporter, name, remote_addr, violations, report_json, \
               probed_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (reporter, name) DO UPDATE SET remote_addr = excluded.remote_addr, \
               violations = excluded.violations, report_json = excluded.report_json, \
               probed_at = excluded.probed_at, received_at = excluded.received_at",
            args![
                w.reporter,
                &w.name,
                &w.remote_addr,
                w.violations,
                &w.report_json,
                w.probed_at,
                now
            ],
        )
        .await?;
        Ok(())
    }

    async fn list_check_reports(&self) -> StoreResult<Vec<StoredCheckReport>> {
        self.read_all::<CheckReportRow>(
            "SELECT reporter, name, remote_addr, violations, report_json, received_at \
             FROM fun_ai_deploy_check_report ORDER BY reporter, name",
            args![],
        )
        .await?
        .into_iter()
        .map(CheckReportRow::into_stored)
        .collect()
    }

    async fn replica_seen(&self, id: &str, url: &str, now: i64) -> StoreResult<()> {
        self.write_once(
            "INSERT INTO fun_ai_deploy_replica (replica_id, internal_url, started_at, last_seen_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (replica_id) DO UPDATE SET \
             internal_url = excluded.internal_url, last_seen_at = excluded.last_seen_at",
            args![id, url, now, now],
        )
        .await?;
        Ok(())
    }

    async fn list_replicas(&self, since: i64) -> StoreResult<Vec<ReplicaRow>> {
        self.read_all::<ReplicaRow>(
            "SELECT replica_id, internal_url, last_seen_at FROM fun_ai_deploy_replica \
             WHERE last_seen_at >= ? ORDER BY replica_id",
            args![since],
        )
        .await
    }

    fn set_peers_woken(&self, yes: bool) {
        self.peers_woken
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    async fn remove_replica(&self, id: &str) -> StoreResult<()> {
        self.write_once(
            "DELETE FROM fun_ai_deploy_replica WHERE replica_id = ?",
            args![id],
        )
        .await?;
        Ok(())
    }
}
