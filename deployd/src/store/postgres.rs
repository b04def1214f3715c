//! PostgreSQL engine, for several deployd replicas sharing one database. Claims and the
//! sweeper lock rows with `FOR UPDATE SKIP LOCKED`; one active job per app is a partial
//! unique index; each write that may wake a long-poll elsewhere sends `NOTIFY`, delivered at
//! commit, and every replica `LISTEN`s (the change feed).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rows::{
    self, AppRunRow, AuditRow, CANCELLED_BEFORE_CLAIM, CancelAction, ChosenNode, JobRow, NodeRow,
    Outcome, PlacementRow, ReportAction, RunnerRow, SweepAction, app_run_on_finish, healthy_since,
    is_stale, node_select, ts,
};
use super::{
    Change, ClaimParams, LogRead, NodeFlag, NodeUpsert, Policy, StoreError, StoreResult,
    SweepOutcome, is_unique_violation, redact_url, retry_tx,
};
use crate::settings::DatabaseSettings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The placement query (see `best_node`): one row read through `idx_node_choice`.
pub const BEST_NODE: &str = "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
     WHERE enabled = 1 AND draining = 0 AND last_heartbeat_at >= $1 AND disk_free_pct >= $2 \
     ORDER BY disk_free_bytes DESC, disk_free_pct DESC, container_count ASC, node_name ASC LIMIT 1";

/// The channel every replica listens on; the payload is `<replica>:jobs` or `<replica>:logs`.
const CHANNEL: &str = "fun_ai_deploy_changes";

pub struct PostgresStore {
    pool: PgPool,
    options: PgConnectOptions,
    policy: Policy,
    /// Tells this replica's notifications from the others'.
    replica: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Jobs,
    Logs,
}

impl PostgresStore {
    pub async fn open(url: &str, policy: Policy, db: &DatabaseSettings) -> anyhow::Result<Self> {
        let shown = redact_url(url);
        let normalized = match url.split_once("://") {
            Some((_, rest)) => format!("postgres://{rest}"),
            None => url.to_string(),
        };
        let options = PgConnectOptions::from_str(&normalized).map_err(|e| {
            anyhow::anyhow!(
                "database_url {shown} is not a PostgreSQL URL: {}",
                scrub(&e.to_string(), url)
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(db.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to PostgreSQL at {shown}: {}",
                    scrub(&e.to_string(), url)
                )
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot migrate PostgreSQL database {shown}: {}",
                scrub(&e.to_string(), url)
            )
        })?;
        Ok(Self {
            pool,
            options,
            policy,
            replica: super::replica_id(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Queues a change notification for the other replicas; sent when `conn`'s
    /// transaction commits, dropped if it rolls back.
    async fn notify(&self, conn: &mut PgConnection, kind: Kind) -> StoreResult<()> {
        let payload = match kind {
            Kind::Jobs => format!("{}:jobs", self.replica),
            Kind::Logs => format!("{}:logs", self.replica),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn job_row(conn: &mut PgConnection, id: i64) -> StoreResult<Option<JobRow>> {
        Ok(
            sqlx::query_as::<_, JobRow>("SELECT * FROM fun_ai_deploy_job WHERE id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await?,
        )
    }

    async fn job_row_locked(conn: &mut PgConnection, id: i64) -> StoreResult<JobRow> {
        sqlx::query_as::<_, JobRow>("SELECT * FROM fun_ai_deploy_job WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))
    }

    async fn active_job(&self, app_id: &str) -> StoreResult<Option<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = $1 AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// See the SQLite engine: one indexed row, whatever the node count.
    async fn best_node(
        &self,
        conn: &mut PgConnection,
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
        conn: &mut PgConnection,
        name: &str,
        now: i64,
    ) -> StoreResult<Option<ChosenNode>> {
        Ok(sqlx::query_as::<_, ChosenNode>(
            "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
             WHERE node_name = $1 AND enabled = 1 AND draining = 0 AND last_heartbeat_at >= $2",
        )
        .bind(name)
        .bind(healthy_since(now, self.policy.node_stale_ms))
        .fetch_optional(conn)
        .await?)
    }

    /// Deletes the app's finished jobs older than its newest `keep`.
    async fn trim_app_history(conn: &mut PgConnection, app_id: &str, keep: i64) -> StoreResult<()> {
        let cutoff: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM fun_ai_deploy_job WHERE app_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
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
             WHERE app_id = $1 AND id < $2 AND status NOT IN ('PENDING','RUNNING'))",
        )
        .bind(app_id)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job WHERE app_id = $1 AND id < $2 AND status NOT IN ('PENDING','RUNNING')",
        )
        .bind(app_id)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn update_app_run_on_finish(
        &self,
        conn: &mut PgConnection,
        job: &JobRow,
        outcome: Outcome<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let existing = sqlx::query_as::<_, AppRunRow>(
            "SELECT * FROM fun_ai_deploy_app_run WHERE app_id = $1 FOR UPDATE",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (app_id) DO UPDATE SET user_id = COALESCE($2, fun_ai_deploy_app_run.user_id), \
               node_name = COALESCE($3, fun_ai_deploy_app_run.node_name), last_job_id = $4, last_job_status = $5, \
               status = $6, image = $7, commit_sha = $8, deploy_url = $9, error_message = $10, \
               recent_images_json = $11, updated_at = $12",
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
            // Serialises job creation per user across replicas: the limit below is a read.
            sqlx::query(
                "INSERT INTO fun_ai_deploy_user_lock (user_id) VALUES ($1) \
                 ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id",
            )
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        let active: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = $1 AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(&payload.app_id)
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_some() {
            return Err(rows::active_job_conflict(&payload.app_id, active));
        }
        if let Some(user) = &payload.user_id {
            let apps: Vec<String> = sqlx::query_scalar(
                "SELECT app_id FROM fun_ai_deploy_job WHERE user_id = $1 AND status IN ('PENDING','RUNNING') \
                 UNION SELECT app_id FROM fun_ai_deploy_app_run WHERE user_id = $1 AND status IN ('DEPLOYING','READY') \
                 ORDER BY app_id",
            )
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
        let res = sqlx::query_scalar::<_, i64>(
            "INSERT INTO fun_ai_deploy_job (type, status, app_id, user_id, payload_json, attempt, max_attempts, \
               created_at, updated_at) VALUES ('BUILD_AND_DEPLOY', 'PENDING', $1, $2, $3, 1, $4, $5, $5) RETURNING id",
        )
        .bind(&payload.app_id)
        .bind(&payload.user_id)
        .bind(payload_json)
        .bind(self.policy.max_attempts)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id = match res {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                // Another replica created one in between; say which.
                tx.rollback().await?;
                let active = self.active_job(&payload.app_id).await?;
                return Err(rows::active_job_conflict(&payload.app_id, active));
            }
            Err(e) => return Err(e.into()),
        };
        Self::trim_app_history(&mut tx, &payload.app_id, self.policy.keep_per_app).await?;
        self.notify(&mut tx, Kind::Jobs).await?;
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
                     error_message = $1, finished_at = $2, updated_at = $2 WHERE id = $3",
                )
                .bind(CANCELLED_BEFORE_CLAIM)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            CancelAction::Request => {
                sqlx::query(
                    "UPDATE fun_ai_deploy_job SET cancel_requested = 1, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        self.notify(&mut tx, Kind::Logs).await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        tx.commit().await?;
        row.into_job()
    }

    async fn append_log_tx(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT log_received, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = $1 FOR UPDATE",
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
                "INSERT INTO fun_ai_deploy_job_log (job_id, \"offset\", data) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(plan.stored - chunk.len() as i64)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET log_received = $1, log_stored = $2, log_truncated = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(plan.received)
        .bind(plan.stored)
        .bind(plan.truncated)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.notify(&mut tx, Kind::Logs).await?;
        tx.commit().await?;
        Ok(plan.received)
    }

    async fn claim_tx(&self, p: &ClaimParams, now: i64) -> StoreResult<Option<Job>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, last_seen_at, created_at) \
             VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (runner_id) DO UPDATE SET remote_addr = $2, legacy = $3, \
             last_seen_at = $4",
        )
        .bind(&p.runner_id)
        .bind(&p.remote_addr)
        .bind(p.legacy as i64)
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
                            "SELECT node_name FROM fun_ai_deploy_runtime_placement WHERE app_id = $1",
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
            None => sqlx::query(
                "SELECT j.id, n.node_name, n.agent_base_url, n.gateway_base_url FROM fun_ai_deploy_job j \
                 JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
                 JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
                 WHERE j.status = 'PENDING' AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= $1 \
                 ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
            )
            .bind(healthy_since(now, self.policy.node_stale_ms))
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| -> StoreResult<(i64, ChosenNode)> {
                Ok((
                    r.try_get("id")?,
                    ChosenNode {
                        node_name: r.try_get("node_name")?,
                        agent_base_url: r.try_get("agent_base_url")?,
                        gateway_base_url: r.try_get("gateway_base_url")?,
                    },
                ))
            })
            .transpose()?,
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
            "UPDATE fun_ai_deploy_job SET status = 'RUNNING', runner_id = $1, lease_expire_at = $2, phase = 'CLAIMED', \
               phase_message = NULL, runtime_node = $3, deploy_url = $4, started_at = COALESCE(started_at, $5), \
               updated_at = $5 WHERE id = $6 AND status = 'PENDING'",
        )
        .bind(&p.runner_id)
        .bind(now + p.lease_ms)
        .bind(node.node_json())
        .bind(&deploy_url)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "job {id} was claimed concurrently"
            )));
        }
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (app_id) DO UPDATE SET node_name = $3, \
             user_id = COALESCE($2, fun_ai_deploy_runtime_placement.user_id), \
             updated_at = CASE WHEN fun_ai_deploy_runtime_placement.node_name = $3 \
               THEN fun_ai_deploy_runtime_placement.updated_at ELSE $4 END",
        )
        .bind(&row.app_id)
        .bind(&row.user_id)
        .bind(&node.node_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               deploy_url, recent_images_json, updated_at) VALUES ($1, $2, $3, $4, 'RUNNING', 'DEPLOYING', $5, '[]', $6) \
             ON CONFLICT (app_id) DO UPDATE SET user_id = COALESCE($2, fun_ai_deploy_app_run.user_id), node_name = $3, \
               last_job_id = $4, last_job_status = 'RUNNING', status = 'DEPLOYING', error_message = NULL, updated_at = $6",
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
            "UPDATE fun_ai_deploy_runner SET jobs_claimed = jobs_claimed + 1 WHERE runner_id = $1",
        )
        .bind(&p.runner_id)
        .execute(&mut *tx)
        .await?;
        self.notify(&mut tx, Kind::Logs).await?;
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
            "UPDATE fun_ai_deploy_job SET lease_expire_at = $1, phase = COALESCE($2, phase), \
             phase_message = CASE WHEN $3::text IS NULL THEN phase_message ELSE $3 END, updated_at = $4 WHERE id = $5",
        )
        .bind(lease)
        .bind(phase)
        .bind(phase_message)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE fun_ai_deploy_runner SET last_seen_at = $1 WHERE runner_id = $2")
            .bind(now)
            .bind(runner_id)
            .execute(&mut *tx)
            .await?;
        if phase.is_some() {
            self.notify(&mut tx, Kind::Logs).await?;
        }
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
            "UPDATE fun_ai_deploy_job SET status = $1, error_message = $2, image = COALESCE($3, image), \
             commit_sha = COALESCE($4, commit_sha), lease_expire_at = NULL, finished_at = $5, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(req.status.as_str())
        .bind(&error)
        .bind(&image)
        .bind(&req.commit_sha)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE fun_ai_deploy_runner SET last_seen_at = $1 WHERE runner_id = $2")
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
        self.notify(&mut tx, Kind::Logs).await?;
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
            "SELECT * FROM fun_ai_deploy_job WHERE status = 'RUNNING' AND lease_expire_at < $1 \
             ORDER BY lease_expire_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
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
                         phase_message = $1, updated_at = $2 \
                         WHERE id = $3 AND status = 'RUNNING' AND lease_expire_at < $2",
                    )
                    .bind(&msg)
                    .bind(now)
                    .bind(row.id)
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
                "UPDATE fun_ai_deploy_job SET status = $1, error_message = $2, lease_expire_at = NULL, \
                 finished_at = $3, updated_at = $3 WHERE id = $4 AND status = 'RUNNING' AND lease_expire_at < $3",
            )
            .bind(status.as_str())
            .bind(&msg)
            .bind(now)
            .bind(row.id)
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
        if !out.requeued.is_empty() {
            self.notify(&mut tx, Kind::Jobs).await?;
        }
        if !out.is_empty() {
            self.notify(&mut tx, Kind::Logs).await?;
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
            "SELECT last_heartbeat_at FROM fun_ai_deploy_runtime_node WHERE node_name = $1 FOR UPDATE",
        )
        .bind(&hb.node_name)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
               disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7, $8, $8, $8) \
             ON CONFLICT (node_name) DO UPDATE SET agent_base_url = $2, gateway_base_url = $3, disk_free_pct = $4, \
               disk_free_bytes = $5, container_count = $6, remote_addr = $7, last_heartbeat_at = $8, updated_at = $8",
        )
        .bind(&hb.node_name)
        .bind(&hb.agent_base_url)
        .bind(&hb.gateway_base_url)
        .bind(hb.disk_free_pct)
        .bind(hb.disk_free_bytes)
        .bind(hb.container_count)
        .bind(remote_addr)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let came_up = before.is_none_or(|t| is_stale(t, now, self.policy.node_stale_ms));
        if came_up {
            self.notify(&mut tx, Kind::Jobs).await?;
        }
        tx.commit().await?;
        Ok(came_up)
    }

    async fn set_node_flag_tx(&self, name: &str, flag: NodeFlag, now: i64) -> StoreResult<u64> {
        let sql = match flag {
            NodeFlag::Drain => {
                "UPDATE fun_ai_deploy_runtime_node SET draining = 1, updated_at = $1 WHERE node_name = $2"
            }
            NodeFlag::Undrain => {
                "UPDATE fun_ai_deploy_runtime_node SET draining = 0, updated_at = $1 WHERE node_name = $2"
            }
            NodeFlag::Enable => {
                "UPDATE fun_ai_deploy_runtime_node SET enabled = 1, updated_at = $1 WHERE node_name = $2"
            }
            NodeFlag::Disable => {
                "UPDATE fun_ai_deploy_runtime_node SET enabled = 0, updated_at = $1 WHERE node_name = $2"
            }
        };
        let mut tx = self.pool.begin().await?;
        let affected = sqlx::query(sql)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if affected > 0 {
            self.notify(&mut tx, Kind::Jobs).await?;
        }
        tx.commit().await?;
        Ok(affected)
    }

    async fn remove_node_tx(&self, name: &str, force: bool) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let exists =
            sqlx::query("SELECT 1 FROM fun_ai_deploy_runtime_node WHERE node_name = $1 FOR UPDATE")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "runtime node {name} not found"
            )));
        }
        let placements: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement WHERE node_name = $1",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if placements > 0 && !force {
            return Err(rows::node_busy(name, placements));
        }
        sqlx::query("DELETE FROM fun_ai_deploy_runtime_placement WHERE node_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM fun_ai_deploy_runtime_node WHERE node_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(placements)
    }

    async fn reassign_tx(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM fun_ai_deploy_runtime_node WHERE node_name = $1")
            .bind(node)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "runtime node {node} not found"
            )));
        }
        let user: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM fun_ai_deploy_app_run WHERE app_id = $1")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        let row = sqlx::query_as::<_, PlacementRow>(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (app_id) DO UPDATE SET node_name = $3, updated_at = $4 \
             RETURNING app_id, user_id, node_name, created_at, updated_at",
        )
        .bind(app_id)
        .bind(user)
        .bind(node)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        self.notify(&mut tx, Kind::Jobs).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn purge_app_tx(&self, app_id: &str) -> StoreResult<PurgeAnswer> {
        let mut tx = self.pool.begin().await?;
        let active: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = $1 AND status IN ('PENDING','RUNNING') \
             LIMIT 1 FOR UPDATE",
        )
        .bind(app_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, st)) = active {
            return Err(rows::purge_conflict(app_id, id, &st));
        }
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN (SELECT id FROM fun_ai_deploy_job WHERE app_id = $1)",
        )
        .bind(app_id)
        .execute(&mut *tx)
        .await?;
        let jobs = sqlx::query("DELETE FROM fun_ai_deploy_job WHERE app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let runs = sqlx::query("DELETE FROM fun_ai_deploy_app_run WHERE app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let placements =
            sqlx::query("DELETE FROM fun_ai_deploy_runtime_placement WHERE app_id = $1")
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

/// Takes the URL's password out of an error text, in case a driver quoted it.
fn scrub(text: &str, url: &str) -> String {
    super::scrub_password(text, url)
}

/// Listens until `shutdown`, reconnecting after a lost connection; what the others changed
/// goes to `tx`, and after a reconnect `Everything` (notifications sent meanwhile are lost).
async fn listen(
    options: PgConnectOptions,
    replica: String,
    tx: mpsc::Sender<Change>,
    shutdown: CancellationToken,
) {
    let mine = format!("{replica}:");
    let mut backoff = Duration::from_millis(100);
    'connect: loop {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options.clone());
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = shutdown.cancelled() => return,
            l = listener => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: cannot listen on PostgreSQL; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue 'connect;
                }
            }
        };
        backoff = Duration::from_millis(100);
        // Anything may have happened before the LISTEN took effect.
        if tx.send(Change::Everything).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = listener.try_recv() => n,
            };
            let change = match next {
                Ok(Some(n)) => {
                    let payload = n.payload();
                    if payload.starts_with(&mine) {
                        continue;
                    }
                    if payload.ends_with(":jobs") {
                        Change::Jobs
                    } else {
                        Change::Logs
                    }
                }
                // Reconnected: notifications of the gap are lost.
                Ok(None) => Change::Everything,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: PostgreSQL connection lost; reconnecting");
                    drop(listener);
                    pool.close().await;
                    if tx.send(Change::Everything).await.is_err() {
                        return;
                    }
                    continue 'connect;
                }
            };
            if tx.send(change).await.is_err() {
                return;
            }
        }
    }
}

#[async_trait]
impl super::Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn change_feed(&self, shutdown: CancellationToken) -> Option<mpsc::Receiver<Change>> {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(listen(
            self.options.clone(),
            self.replica.clone(),
            tx,
            shutdown,
        ));
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
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM fun_ai_deploy_job WHERE ($1::text IS NULL OR app_id = $1) \
             AND ($2::text IS NULL OR status = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(app_id)
        .bind(status.map(|s| s.as_str()))
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
            "SELECT status, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let mut data = Vec::new();
        if offset < stored {
            let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT \"offset\", data FROM fun_ai_deploy_job_log \
                 WHERE job_id = $1 AND \"offset\" + length(data) > $2 ORDER BY \"offset\"",
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
             VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (runner_id) DO UPDATE SET remote_addr = $2, legacy = $3, \
             last_seen_at = $4",
        )
        .bind(runner_id)
        .bind(remote_addr)
        .bind(legacy as i64)
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
        let row = sqlx::query_as::<_, NodeRow>(concat!(node_select!(), " WHERE n.node_name = $1"))
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
        if retry_tx!(self.set_node_flag_tx(name, flag, now))? == 0 {
            return Err(StoreError::NotFound(format!(
                "runtime node {name} not found"
            )));
        }
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
             WHERE ($1::text IS NULL OR node_name = $1) ORDER BY node_name, app_id",
        )
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
            sqlx::query_as::<_, AppRunRow>("SELECT * FROM fun_ai_deploy_app_run WHERE app_id = $1")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(AppRunRow::into_app_run).transpose()
    }

    async fn mark_app_stopped(&self, app_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE fun_ai_deploy_app_run SET status = 'STOPPED', updated_at = $1 WHERE app_id = $2",
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
            "INSERT INTO fun_ai_deploy_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
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
            "SELECT id, at, actor, action, target, detail FROM fun_ai_deploy_audit ORDER BY id DESC LIMIT $1",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (reporter, name) DO UPDATE SET remote_addr = $3, violations = $4, report_json = $5, probed_at = $6, received_at = $7",
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
