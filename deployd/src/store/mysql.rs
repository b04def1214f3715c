//! MySQL/MariaDB engine (the estate's database), for several deployd replicas sharing one
//! database. Sessions run READ COMMITTED; claims and the sweeper lock rows with
//! `FOR UPDATE SKIP LOCKED`; one active job per app is a unique index on a generated column;
//! there is no LISTEN/NOTIFY, so each replica polls the jobs changed lately (indexed on
//! `updated_at`) and reports them as its change feed.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySqlConnection, MySqlPool, Row};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rows::{
    self, AppRunRow, AuditRow, CANCELLED_BEFORE_CLAIM, CancelAction, ChosenNode, JobRow, NodeRow,
    Outcome, PlacementRow, ReportAction, RunnerRow, SweepAction, app_run_on_finish, healthy_since,
    is_stale, node_select, ts,
};
use super::{
    Change, ClaimParams, LogRead, NodeFlag, NodeUpsert, Policy, StoreError, StoreResult,
    SweepOutcome, is_unique_violation, redact_url, retry_tx, scrub_password,
};
use crate::settings::DatabaseSettings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");

/// The placement query (see `best_node`): one row read through `idx_node_choice`.
pub const BEST_NODE: &str = "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
     WHERE enabled = 1 AND draining = 0 AND last_heartbeat_at >= ? AND disk_free_pct >= ? \
     ORDER BY disk_free_bytes DESC, disk_free_pct DESC, container_count ASC, node_name ASC LIMIT 1";

/// How far back the change poll looks before the newest change it saw: a transaction that
/// commits up to this long after it took its timestamp is still seen.
const POLL_LOOKBACK_MS: i64 = 3_000;
/// More changed jobs than this in one look: wake everything rather than track each.
const POLL_MAX_ROWS: i64 = 20_000;

pub struct MysqlStore {
    pool: MySqlPool,
    policy: Policy,
    poll: Duration,
}

impl MysqlStore {
    pub async fn open(url: &str, policy: Policy, db: &DatabaseSettings) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        let normalized = match url.split_once("://") {
            Some((_, rest)) => format!("mysql://{rest}"),
            None => url.to_string(),
        };
        let options = MySqlConnectOptions::from_str(&normalized).map_err(|e| {
            anyhow::anyhow!(
                "database_url {shown} is not a MySQL URL: {}",
                scrub_password(&e.to_string(), url)
            )
        })?;
        let pool = MySqlPoolOptions::new()
            .max_connections(db.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Each statement sees what others committed before it: the per-user limit
                    // read after its lock row, and claims that skip locked rows, rely on it.
                    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to MySQL at {shown}: {}",
                    scrub_password(&e.to_string(), url)
                )
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot migrate MySQL database {shown}: {}",
                scrub_password(&e.to_string(), url)
            )
        })?;
        Ok(Self {
            pool,
            policy,
            poll: Duration::from_millis(db.change_poll_ms),
        })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    async fn job_row(conn: &mut MySqlConnection, id: i64) -> StoreResult<Option<JobRow>> {
        Ok(
            sqlx::query_as::<_, JobRow>("SELECT * FROM fun_ai_deploy_job WHERE id = ?")
                .bind(id)
                .fetch_optional(conn)
                .await?,
        )
    }

    async fn job_row_locked(conn: &mut MySqlConnection, id: i64) -> StoreResult<JobRow> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM fun_ai_deploy_job WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))
    }

    async fn active_job(&self, app_id: &str) -> StoreResult<Option<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// See the SQLite engine: one indexed row, whatever the node count.
    async fn best_node(
        &self,
        conn: &mut MySqlConnection,
        now: i64,
    ) -> StoreResult<Option<ChosenNode>> {
        Ok(sqlx::query_as::<_, ChosenNode>(BEST_NODE)
            .bind(healthy_since(now, self.policy.node_stale_ms))
            .bind(self.policy.disk_free_min_pct)
            .fetch_optional(conn)
            .await?)
    }

    async fn usable_node(
        &self,
        conn: &mut MySqlConnection,
        name: &str,
        now: i64,
    ) -> StoreResult<Option<ChosenNode>> {
        Ok(sqlx::query_as::<_, ChosenNode>(
            "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
             WHERE node_name = ? AND enabled = 1 AND draining = 0 AND last_heartbeat_at >= ?",
        )
        .bind(name)
        .bind(healthy_since(now, self.policy.node_stale_ms))
        .fetch_optional(conn)
        .await?)
    }

    /// Deletes the app's finished jobs older than its newest `keep`.
    async fn trim_app_history(
        conn: &mut MySqlConnection,
        app_id: &str,
        keep: i64,
    ) -> StoreResult<()> {
        let cutoff: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM fun_ai_deploy_job WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
        )
        .bind(app_id)
        .bind(keep - 1)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(cutoff) = cutoff else {
            return Ok(());
        };
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job \
             WHERE app_id = ? AND id < ? AND status NOT IN ('PENDING','RUNNING'))",
        )
        .bind(app_id)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job WHERE app_id = ? AND id < ? AND status NOT IN ('PENDING','RUNNING')",
        )
        .bind(app_id)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn update_app_run_on_finish(
        &self,
        conn: &mut MySqlConnection,
        job: &JobRow,
        outcome: Outcome<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let existing = sqlx::query_as::<_, AppRunRow>(
            "SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ? FOR UPDATE",
        )
        .bind(&job.app_id)
        .fetch_optional(&mut *conn)
        .await?;
        let w = app_run_on_finish(
            existing.as_ref(),
            job,
            outcome,
            self.policy.recent_images,
            now,
        );
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               image, commit_sha, deploy_url, error_message, recent_images_json, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE user_id = COALESCE(VALUES(user_id), user_id), \
               node_name = COALESCE(VALUES(node_name), node_name), last_job_id = VALUES(last_job_id), \
               last_job_status = VALUES(last_job_status), status = VALUES(status), image = VALUES(image), \
               commit_sha = VALUES(commit_sha), deploy_url = VALUES(deploy_url), \
               error_message = VALUES(error_message), recent_images_json = VALUES(recent_images_json), \
               updated_at = VALUES(updated_at)",
        )
        .bind(&w.app_id)
        .bind(&w.user_id)
        .bind(&w.node_name)
        .bind(w.last_job_id)
        .bind(w.last_job_status)
        .bind(w.status)
        .bind(&w.image)
        .bind(&w.commit_sha)
        .bind(&w.deploy_url)
        .bind(&w.error_message)
        .bind(&w.recent_images_json)
        .bind(w.updated_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn create_job_tx(
        &self,
        payload: &JobPayload,
        payload_json: &str,
        now: i64,
    ) -> StoreResult<Job> {
        let mut tx = self.pool.begin().await?;
        if let Some(user) = &payload.user_id {
            // Serialises job creation per user across replicas (an exclusive lock on the
            // user's row, new or not): the limit below is a read.
            sqlx::query(
                "INSERT INTO fun_ai_deploy_user_lock (user_id) VALUES (?) \
                 ON DUPLICATE KEY UPDATE user_id = VALUES(user_id)",
            )
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        let active: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(&payload.app_id)
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_some() {
            return Err(rows::active_job_conflict(&payload.app_id, active));
        }
        if let Some(user) = &payload.user_id {
            let apps: Vec<String> = sqlx::query_scalar(
                "SELECT app_id FROM fun_ai_deploy_job WHERE user_id = ? AND status IN ('PENDING','RUNNING') \
                 UNION SELECT app_id FROM fun_ai_deploy_app_run WHERE user_id = ? AND status IN ('DEPLOYING','READY') \
                 ORDER BY app_id",
            )
            .bind(user)
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
            rows::check_user_limit(
                user,
                &apps,
                &payload.app_id,
                self.policy.max_active_apps_per_user,
            )?;
        }
        let res = sqlx::query(
            "INSERT INTO fun_ai_deploy_job (type, status, app_id, user_id, payload_json, attempt, max_attempts, \
               created_at, updated_at) VALUES ('BUILD_AND_DEPLOY', 'PENDING', ?, ?, ?, 1, ?, ?, ?)",
        )
        .bind(&payload.app_id)
        .bind(&payload.user_id)
        .bind(payload_json)
        .bind(self.policy.max_attempts)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        let id = match res {
            Ok(r) => r.last_insert_id() as i64,
            Err(e) if is_unique_violation(&e) => {
                // Another replica created one in between; say which.
                tx.rollback().await?;
                let active = self.active_job(&payload.app_id).await?;
                return Err(rows::active_job_conflict(&payload.app_id, active));
            }
            Err(e) => return Err(e.into()),
        };
        Self::trim_app_history(&mut tx, &payload.app_id, self.policy.keep_per_app).await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished after insert")))?;
        tx.commit().await?;
        row.into_job()
    }

    async fn cancel_job_tx(&self, id: i64, now: i64) -> StoreResult<Job> {
        let mut tx = self.pool.begin().await?;
        let row = Self::job_row_locked(&mut tx, id).await?;
        match rows::cancel_action(id, row.status()?)? {
            CancelAction::Now => {
                sqlx::query(
                    "UPDATE fun_ai_deploy_job SET status = 'CANCELLED', cancel_requested = 1, \
                     error_message = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                )
                .bind(CANCELLED_BEFORE_CLAIM)
                .bind(now)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            CancelAction::Request => {
                sqlx::query(
                    "UPDATE fun_ai_deploy_job SET cancel_requested = 1, updated_at = ? WHERE id = ?",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        tx.commit().await?;
        row.into_job()
    }

    async fn append_log_tx(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT log_received, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = ? FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let received: i64 = row.try_get("log_received")?;
        let Some(plan) = rows::plan_log_append(
            received,
            row.try_get("log_stored")?,
            row.try_get("log_truncated")?,
            start,
            data,
            self.policy.log_cap_bytes,
        )?
        else {
            return Ok(received);
        };
        if let Some(chunk) = &plan.chunk {
            sqlx::query(
                "INSERT INTO fun_ai_deploy_job_log (job_id, `offset`, data) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(plan.stored - chunk.len() as i64)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET log_received = ?, log_stored = ?, log_truncated = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(plan.received)
        .bind(plan.stored)
        .bind(plan.truncated)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(plan.received)
    }

    /// The oldest pending job whose sticky node is usable, locked; for when no node takes
    /// new apps. Candidates are read first and locked one by one: MariaDB has no
    /// `FOR UPDATE OF`, and locking the join would lock node rows that heartbeats update.
    async fn pending_on_sticky_node(
        &self,
        conn: &mut MySqlConnection,
        now: i64,
    ) -> StoreResult<Option<(i64, ChosenNode)>> {
        let candidates = sqlx::query(
            "SELECT j.id, n.node_name, n.agent_base_url, n.gateway_base_url FROM fun_ai_deploy_job j \
             JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
             JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
             WHERE j.status = 'PENDING' AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= ? \
             ORDER BY j.id LIMIT 32",
        )
        .bind(healthy_since(now, self.policy.node_stale_ms))
        .fetch_all(&mut *conn)
        .await?;
        for r in candidates {
            let id: i64 = r.try_get("id")?;
            let locked: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM fun_ai_deploy_job WHERE id = ? AND status = 'PENDING' FOR UPDATE SKIP LOCKED",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if locked.is_some() {
                return Ok(Some((
                    id,
                    ChosenNode {
                        node_name: r.try_get("node_name")?,
                        agent_base_url: r.try_get("agent_base_url")?,
                        gateway_base_url: r.try_get("gateway_base_url")?,
                    },
                )));
            }
        }
        Ok(None)
    }

    async fn claim_tx(&self, p: &ClaimParams, now: i64) -> StoreResult<Option<Job>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, last_seen_at, created_at) \
             VALUES (?, ?, ?, 0, ?, ?) ON DUPLICATE KEY UPDATE remote_addr = VALUES(remote_addr), \
             legacy = VALUES(legacy), last_seen_at = VALUES(last_seen_at)",
        )
        .bind(&p.runner_id)
        .bind(&p.remote_addr)
        .bind(p.legacy as i64)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // As the SQLite engine decides, with the job row locked and rows that another
        // replica's claim holds skipped.
        let chosen = match self.best_node(&mut tx, now).await? {
            Some(best) => {
                let first: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, app_id FROM fun_ai_deploy_job WHERE status = 'PENDING' \
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                )
                .fetch_optional(&mut *tx)
                .await?;
                match first {
                    Some((id, app_id)) => {
                        let sticky: Option<String> = sqlx::query_scalar(
                            "SELECT node_name FROM fun_ai_deploy_runtime_placement WHERE app_id = ?",
                        )
                        .bind(&app_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        let node = match sticky {
                            Some(s) => self.usable_node(&mut tx, &s, now).await?,
                            None => None,
                        };
                        Some((id, node.unwrap_or(best)))
                    }
                    None => None,
                }
            }
            None => self.pending_on_sticky_node(&mut tx, now).await?,
        };
        let Some((id, node)) = chosen else {
            tx.commit().await?;
            return Ok(None);
        };
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished during claim")))?;
        let payload = row.payload()?;
        let deploy_url = node.deploy_url(&payload);
        let updated = sqlx::query(
            "UPDATE fun_ai_deploy_job SET status = 'RUNNING', runner_id = ?, lease_expire_at = ?, phase = 'CLAIMED', \
               phase_message = NULL, runtime_node = ?, deploy_url = ?, started_at = COALESCE(started_at, ?), \
               updated_at = ? WHERE id = ? AND status = 'PENDING'",
        )
        .bind(&p.runner_id)
        .bind(now + p.lease_ms)
        .bind(node.node_json())
        .bind(&deploy_url)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "job {id} was claimed concurrently"
            )));
        }
        // MySQL assigns left to right, each seeing the columns already assigned: the
        // moment of a move is decided before node_name changes.
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
             updated_at = IF(node_name = VALUES(node_name), updated_at, VALUES(updated_at)), \
             user_id = COALESCE(VALUES(user_id), user_id), node_name = VALUES(node_name)",
        )
        .bind(&row.app_id)
        .bind(&row.user_id)
        .bind(&node.node_name)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               deploy_url, recent_images_json, updated_at) VALUES (?, ?, ?, ?, 'RUNNING', 'DEPLOYING', ?, '[]', ?) \
             ON DUPLICATE KEY UPDATE user_id = COALESCE(VALUES(user_id), user_id), node_name = VALUES(node_name), \
               last_job_id = VALUES(last_job_id), last_job_status = 'RUNNING', status = 'DEPLOYING', \
               error_message = NULL, updated_at = VALUES(updated_at)",
        )
        .bind(&row.app_id)
        .bind(&row.user_id)
        .bind(&node.node_name)
        .bind(id)
        .bind(&deploy_url)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE fun_ai_deploy_runner SET jobs_claimed = jobs_claimed + 1 WHERE runner_id = ?",
        )
        .bind(&p.runner_id)
        .execute(&mut *tx)
        .await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished during claim")))?;
        tx.commit().await?;
        row.into_job().map(Some)
    }

    async fn heartbeat_tx(
        &self,
        id: i64,
        runner_id: &str,
        extend_ms: i64,
        phase: Option<&str>,
        phase_message: Option<&str>,
        now: i64,
    ) -> StoreResult<HeartbeatAnswer> {
        let mut tx = self.pool.begin().await?;
        let row = Self::job_row_locked(&mut tx, id).await?;
        rows::check_heartbeat(&row, runner_id)?;
        let lease = now + extend_ms;
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET lease_expire_at = ?, phase = COALESCE(?, phase), \
             phase_message = CASE WHEN ? IS NULL THEN phase_message ELSE ? END, updated_at = ? WHERE id = ?",
        )
        .bind(lease)
        .bind(phase)
        .bind(phase_message)
        .bind(phase_message)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE fun_ai_deploy_runner SET last_seen_at = ? WHERE runner_id = ?")
            .bind(now)
            .bind(runner_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(HeartbeatAnswer {
            job_id: id,
            lease_expire_at: ts(lease),
            cancel_requested: false,
        })
    }

    async fn report_tx(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Job> {
        let mut tx = self.pool.begin().await?;
        let row = Self::job_row_locked(&mut tx, id).await?;
        let (image, error) = match rows::decide_report(&row, req)? {
            ReportAction::Repeat => {
                tx.commit().await?;
                return row.into_job();
            }
            ReportAction::Finish { image, error } => (image, error),
        };
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET status = ?, error_message = ?, image = COALESCE(?, image), \
             commit_sha = COALESCE(?, commit_sha), lease_expire_at = NULL, finished_at = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(req.status.as_str())
        .bind(&error)
        .bind(&image)
        .bind(&req.commit_sha)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE fun_ai_deploy_runner SET last_seen_at = ? WHERE runner_id = ?")
            .bind(now)
            .bind(&req.runner_id)
            .execute(&mut *tx)
            .await?;
        self.update_app_run_on_finish(
            &mut tx,
            &row,
            Outcome {
                status: req.status,
                image: image.as_deref(),
                commit: req.commit_sha.as_deref(),
                error: error.as_deref(),
            },
            now,
        )
        .await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished during report")))?;
        tx.commit().await?;
        row.into_job()
    }

    /// Every replica sweeps: the expired rows are locked and those another sweeper holds
    /// are skipped, and each update still requires RUNNING, so no job moves twice.
    async fn sweep_tx(&self, now: i64) -> StoreResult<SweepOutcome> {
        let mut tx = self.pool.begin().await?;
        let expired = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM fun_ai_deploy_job WHERE status = 'RUNNING' AND lease_expire_at < ? \
             ORDER BY lease_expire_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(rows::SWEEP_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = SweepOutcome::default();
        for row in expired {
            let (status, msg) = match rows::sweep_action(&row) {
                SweepAction::Requeue(msg) => {
                    let n = sqlx::query(
                        "UPDATE fun_ai_deploy_job SET status = 'PENDING', attempt = attempt + 1, runner_id = NULL, \
                         lease_expire_at = NULL, phase = NULL, runtime_node = NULL, deploy_url = NULL, \
                         phase_message = ?, updated_at = ? \
                         WHERE id = ? AND status = 'RUNNING' AND lease_expire_at < ?",
                    )
                    .bind(&msg)
                    .bind(now)
                    .bind(row.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        out.requeued.push(row.id);
                    }
                    continue;
                }
                SweepAction::Cancel(msg) => (JobStatus::Cancelled, msg),
                SweepAction::Fail(msg) => (JobStatus::Failed, msg),
            };
            let n = sqlx::query(
                "UPDATE fun_ai_deploy_job SET status = ?, error_message = ?, lease_expire_at = NULL, \
                 finished_at = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING' AND lease_expire_at < ?",
            )
            .bind(status.as_str())
            .bind(&msg)
            .bind(now)
            .bind(now)
            .bind(row.id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
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
        tx.commit().await?;
        out.requeued.sort_unstable();
        out.failed.sort_unstable();
        out.cancelled.sort_unstable();
        Ok(out)
    }

    async fn upsert_node_tx(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let before: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT last_heartbeat_at FROM fun_ai_deploy_runtime_node WHERE node_name = ? FOR UPDATE",
        )
        .bind(&hb.node_name)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
               disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE agent_base_url = VALUES(agent_base_url), \
               gateway_base_url = VALUES(gateway_base_url), disk_free_pct = VALUES(disk_free_pct), \
               disk_free_bytes = VALUES(disk_free_bytes), container_count = VALUES(container_count), \
               remote_addr = VALUES(remote_addr), last_heartbeat_at = VALUES(last_heartbeat_at), \
               updated_at = VALUES(updated_at)",
        )
        .bind(&hb.node_name)
        .bind(&hb.agent_base_url)
        .bind(&hb.gateway_base_url)
        .bind(hb.disk_free_pct)
        .bind(hb.disk_free_bytes)
        .bind(hb.container_count)
        .bind(remote_addr)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(before.is_none_or(|t| is_stale(t, now, self.policy.node_stale_ms)))
    }

    async fn remove_node_tx(&self, name: &str, force: bool) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let exists =
            sqlx::query("SELECT 1 FROM fun_ai_deploy_runtime_node WHERE node_name = ? FOR UPDATE")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "runtime node {name} not found"
            )));
        }
        let placements: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement WHERE node_name = ?",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if placements > 0 && !force {
            return Err(rows::node_busy(name, placements));
        }
        sqlx::query("DELETE FROM fun_ai_deploy_runtime_placement WHERE node_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM fun_ai_deploy_runtime_node WHERE node_name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(placements)
    }

    async fn reassign_tx(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM fun_ai_deploy_runtime_node WHERE node_name = ?")
            .bind(node)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "runtime node {node} not found"
            )));
        }
        let user: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM fun_ai_deploy_app_run WHERE app_id = ?")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE node_name = VALUES(node_name), \
             updated_at = VALUES(updated_at)",
        )
        .bind(app_id)
        .bind(user)
        .bind(node)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, PlacementRow>(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
             WHERE app_id = ?",
        )
        .bind(app_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn purge_app_tx(&self, app_id: &str) -> StoreResult<PurgeAnswer> {
        let mut tx = self.pool.begin().await?;
        let active: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') \
             LIMIT 1 FOR UPDATE",
        )
        .bind(app_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, st)) = active {
            return Err(rows::purge_conflict(app_id, id, &st));
        }
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job WHERE app_id = ?)",
        )
        .bind(app_id)
        .execute(&mut *tx)
        .await?;
        let jobs = sqlx::query("DELETE FROM fun_ai_deploy_job WHERE app_id = ?")
            .bind(app_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let runs = sqlx::query("DELETE FROM fun_ai_deploy_app_run WHERE app_id = ?")
            .bind(app_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let placements =
            sqlx::query("DELETE FROM fun_ai_deploy_runtime_placement WHERE app_id = ?")
                .bind(app_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(PurgeAnswer {
            deleted_jobs: jobs as i64,
            deleted_app_runs: runs as i64,
            deleted_placements: placements as i64,
        })
    }
}

/// The state of one job as the change poll compares it.
type Seen = (i64, String, i64);

/// Polls the jobs changed lately until `shutdown`: a job new or different since the last
/// look is a change (and, if it is pending, a claimable one). The look covers a few seconds
/// before the newest change seen, so a transaction that committed after a later one is
/// still found; jobs already seen unchanged are not reported again.
async fn poll_changes(
    pool: MySqlPool,
    every: Duration,
    tx: mpsc::Sender<Change>,
    shutdown: CancellationToken,
) {
    let mut seen: HashMap<i64, Seen> = HashMap::new();
    let mut newest: Option<i64> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Bounded by this machine's clock too: one replica's clock far ahead must not
        // hide the others' changes.
        let wall = chrono::Utc::now().timestamp_millis();
        let since = newest.map_or(wall, |n| n.min(wall)) - POLL_LOOKBACK_MS;
        let rows: Result<Vec<(i64, i64, String, i64)>, sqlx::Error> = sqlx::query_as(
            "SELECT id, updated_at, status, log_received FROM fun_ai_deploy_job \
             WHERE updated_at >= ? ORDER BY updated_at LIMIT ?",
        )
        .bind(since)
        .bind(POLL_MAX_ROWS + 1)
        .fetch_all(&pool)
        .await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "change feed: cannot poll MySQL; retrying");
                }
                failing = true;
                continue;
            }
        };
        let (mut jobs, mut logs) = (false, false);
        if failing || rows.len() as i64 > POLL_MAX_ROWS {
            (jobs, logs) = (true, true);
            failing = false;
        }
        for (id, updated_at, status, log_received) in rows {
            newest = Some(newest.map_or(updated_at, |n| n.max(updated_at)));
            let pending = status == "PENDING";
            let now_seen = (updated_at, status, log_received);
            if seen.get(&id) != Some(&now_seen) {
                logs = true;
                jobs |= pending;
                seen.insert(id, now_seen);
            }
        }
        seen.retain(|_, s| s.0 >= since);
        let change = match (jobs, logs) {
            (true, _) => Change::Everything,
            (false, true) => Change::Logs,
            (false, false) => continue,
        };
        if tx.send(change).await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl super::Store for MysqlStore {
    fn engine(&self) -> &'static str {
        "mysql"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn change_feed(&self, shutdown: CancellationToken) -> Option<mpsc::Receiver<Change>> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(poll_changes(self.pool.clone(), self.poll, tx, shutdown));
        Some(rx)
    }

    async fn create_job(&self, payload: &JobPayload, now: i64) -> StoreResult<Job> {
        let payload_json = serde_json::to_string(payload)
            .map_err(|e| StoreError::Invalid(format!("payload: {e}")))?;
        retry_tx!(self.create_job_tx(payload, &payload_json, now))
    }

    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>> {
        let mut conn = self.pool.acquire().await?;
        Self::job_row(&mut conn, id)
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
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM fun_ai_deploy_job WHERE (? IS NULL OR app_id = ?) AND (? IS NULL OR status = ?) \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(app_id)
        .bind(app_id)
        .bind(status)
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
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
        let mut conn = self.pool.acquire().await?;
        let (status, stored, truncated): (String, i64, i64) = sqlx::query_as(
            "SELECT status, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let mut data = Vec::new();
        if offset < stored {
            let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT `offset`, data FROM fun_ai_deploy_job_log \
                 WHERE job_id = ? AND `offset` + LENGTH(data) > ? ORDER BY `offset`",
            )
            .bind(id)
            .bind(offset)
            .fetch_all(&mut *conn)
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

    async fn report(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Job> {
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
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, last_seen_at, created_at) \
             VALUES (?, ?, ?, 0, ?, ?) ON DUPLICATE KEY UPDATE remote_addr = VALUES(remote_addr), \
             legacy = VALUES(legacy), last_seen_at = VALUES(last_seen_at)",
        )
        .bind(runner_id)
        .bind(remote_addr)
        .bind(legacy as i64)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_runners(&self, now: i64) -> StoreResult<Vec<Runner>> {
        let rows = sqlx::query_as::<_, RunnerRow>(
            "SELECT r.runner_id, r.remote_addr, r.legacy, r.jobs_claimed, r.last_seen_at, r.created_at, \
             (SELECT COUNT(*) FROM fun_ai_deploy_job j WHERE j.runner_id = r.runner_id AND j.status = 'RUNNING') AS running \
             FROM fun_ai_deploy_runner r ORDER BY r.runner_id",
        )
        .fetch_all(&self.pool)
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
        let came_up = retry_tx!(self.upsert_node_tx(hb, remote_addr, now))?;
        let node = self.get_node(&hb.node_name, now).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("node {} vanished after upsert", hb.node_name))
        })?;
        Ok(NodeUpsert { node, came_up })
    }

    async fn list_nodes(&self, now: i64) -> StoreResult<Vec<RuntimeNode>> {
        let rows = sqlx::query_as::<_, NodeRow>(concat!(node_select!(), " ORDER BY n.node_name"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_node(now, self.policy.node_stale_ms))
            .collect())
    }

    async fn get_node(&self, name: &str, now: i64) -> StoreResult<Option<RuntimeNode>> {
        let row = sqlx::query_as::<_, NodeRow>(concat!(node_select!(), " WHERE n.node_name = ?"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.into_node(now, self.policy.node_stale_ms)))
    }

    async fn set_node_flag(
        &self,
        name: &str,
        flag: NodeFlag,
        now: i64,
    ) -> StoreResult<RuntimeNode> {
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
        sqlx::query(sql)
            .bind(now)
            .bind(name)
            .execute(&self.pool)
            .await?;
        // MySQL counts changed rows, not matched ones: a flag already set changes none.
        self.get_node(name, now)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("runtime node {name} not found")))
    }

    async fn remove_node(&self, name: &str, force: bool) -> StoreResult<i64> {
        retry_tx!(self.remove_node_tx(name, force))
    }

    async fn list_placements(&self, node: Option<&str>) -> StoreResult<Vec<Placement>> {
        let rows = sqlx::query_as::<_, PlacementRow>(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
             WHERE (? IS NULL OR node_name = ?) ORDER BY node_name, app_id",
        )
        .bind(node)
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Placement::from).collect())
    }

    async fn reassign(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        retry_tx!(self.reassign_tx(app_id, node, now))
    }

    async fn list_app_runs(&self) -> StoreResult<Vec<AppRun>> {
        let rows = sqlx::query_as::<_, AppRunRow>(
            "SELECT * FROM fun_ai_deploy_app_run ORDER BY updated_at DESC, app_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AppRunRow::into_app_run).collect()
    }

    async fn get_app_run(&self, app_id: &str) -> StoreResult<Option<AppRun>> {
        let row =
            sqlx::query_as::<_, AppRunRow>("SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ?")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(AppRunRow::into_app_run).transpose()
    }

    async fn mark_app_stopped(&self, app_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE fun_ai_deploy_app_run SET status = 'STOPPED', updated_at = ? WHERE app_id = ?",
        )
        .bind(now)
        .bind(app_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_app(&self, app_id: &str) -> StoreResult<PurgeAnswer> {
        retry_tx!(self.purge_app_tx(app_id))
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO fun_ai_deploy_audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_audit(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, actor, action, target, detail FROM fun_ai_deploy_audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    async fn save_check_report(
        &self,
        reporter: protocol::check::Reporter,
        name: &str,
        remote_addr: Option<&str>,
        report: &protocol::check::CheckReport,
        now: i64,
    ) -> StoreResult<()> {
        let w = super::rows::CheckReportWrite::new(reporter, name, remote_addr, report)?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_check_report (reporter, name, remote_addr, violations, report_json, probed_at, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE remote_addr = VALUES(remote_addr), violations = VALUES(violations), report_json = VALUES(report_json), probed_at = VALUES(probed_at), received_at = VALUES(received_at)",
        )
        .bind(w.reporter)
        .bind(&w.name)
        .bind(&w.remote_addr)
        .bind(w.violations)
        .bind(&w.report_json)
        .bind(w.probed_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_check_reports(&self) -> StoreResult<Vec<protocol::check::StoredCheckReport>> {
        sqlx::query_as::<_, super::rows::CheckReportRow>(
            "SELECT reporter, name, remote_addr, violations, report_json, received_at \
             FROM fun_ai_deploy_check_report ORDER BY reporter, name",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(super::rows::CheckReportRow::into_stored)
        .collect()
    }
}
