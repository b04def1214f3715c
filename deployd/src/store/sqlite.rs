//! SQLite engine: one file, zero setup. Writes are serialised in-process and run as
//! `BEGIN IMMEDIATE` transactions, so a claim is atomic even with another process on the file.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use protocol::app::AppRun;
use protocol::job::{HeartbeatAnswer, Job, JobPayload, JobStatus, PurgeAnswer, ReportRequest};
use protocol::node::{AuditEntry, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::Runner;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::Mutex;

use super::rows::{
    AppRunRow, AppRunWrite, AuditRow, CANCELLED_BEFORE_CLAIM, CancelAction, ChosenNode, JobRow,
    NodeRow, Outcome, PlacementRow, ReportAction, RunnerRow, SweepAction, app_run_on_finish,
    healthy_since, is_stale, node_select, ts,
};
use super::{
    ClaimParams, LogRead, NodeFlag, NodeUpsert, Policy, StoreError, StoreResult, SweepOutcome,
    is_unique_violation, rows,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The placement query (see `best_node`): one row read through `idx_node_choice`.
pub const BEST_NODE: &str = "SELECT node_name, agent_base_url, gateway_base_url FROM fun_ai_deploy_runtime_node \
     WHERE enabled = 1 AND draining = 0 AND last_heartbeat_at >= ? AND disk_free_pct >= ? \
     ORDER BY disk_free_bytes DESC, disk_free_pct DESC, container_count ASC, node_name ASC LIMIT 1";

pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
    policy: Policy,
}

impl SqliteStore {
    pub async fn open(url: &str, policy: Policy) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("database_url {url:?} is not a SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(15))
            .foreign_keys(true);
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(|p| p.split('?').next().unwrap_or(p))
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
            && !path.starts_with(":memory:")
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the database directory {}: {e}",
                    parent.display()
                )
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open SQLite database {url}: {e}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate SQLite database {url}: {e}"))?;
        Ok(Self {
            pool,
            write: Mutex::new(()),
            policy,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn job_row(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<JobRow>> {
        Ok(
            sqlx::query_as::<_, JobRow>("SELECT * FROM fun_ai_deploy_job WHERE id = ?")
                .bind(id)
                .fetch_optional(conn)
                .await?,
        )
    }

    /// The healthy, enabled, not draining node above the disk threshold with the most free
    /// disk (then pct, then fewer containers): one indexed row, whatever the node count.
    async fn best_node(
        &self,
        conn: &mut SqliteConnection,
        now: i64,
    ) -> StoreResult<Option<ChosenNode>> {
        Ok(sqlx::query_as::<_, ChosenNode>(BEST_NODE)
            .bind(healthy_since(now, self.policy.node_stale_ms))
            .bind(self.policy.disk_free_min_pct)
            .fetch_optional(conn)
            .await?)
    }

    /// The app's sticky node, when it is usable (whatever its disk).
    async fn usable_node(
        &self,
        conn: &mut SqliteConnection,
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

    async fn trim_app_history(
        conn: &mut SqliteConnection,
        app_id: &str,
        keep: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job_log WHERE job_id IN ( \
               SELECT id FROM fun_ai_deploy_job WHERE app_id = ?1 AND status NOT IN ('PENDING','RUNNING') \
               AND id NOT IN (SELECT id FROM fun_ai_deploy_job WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2))",
        )
        .bind(app_id)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM fun_ai_deploy_job WHERE app_id = ?1 AND status NOT IN ('PENDING','RUNNING') \
             AND id NOT IN (SELECT id FROM fun_ai_deploy_job WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(app_id)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records the outcome of a job on its app run.
    async fn update_app_run_on_finish(
        &self,
        conn: &mut SqliteConnection,
        job: &JobRow,
        outcome: Outcome<'_>,
        now: i64,
    ) -> StoreResult<()> {
        let existing =
            sqlx::query_as::<_, AppRunRow>("SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ?")
                .bind(&job.app_id)
                .fetch_optional(&mut *conn)
                .await?;
        let w: AppRunWrite = app_run_on_finish(
            existing.as_ref(),
            job,
            outcome,
            self.policy.recent_images,
            now,
        );
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               image, commit_sha, deploy_url, error_message, recent_images_json, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT(app_id) DO UPDATE SET user_id = COALESCE(?2, user_id), node_name = COALESCE(?3, node_name), \
               last_job_id = ?4, last_job_status = ?5, status = ?6, image = ?7, commit_sha = ?8, \
               deploy_url = ?9, error_message = ?10, recent_images_json = ?11, updated_at = ?12",
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
}

#[async_trait]
impl super::Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_job(&self, payload: &JobPayload, now: i64) -> StoreResult<Job> {
        let payload_json = serde_json::to_string(payload)
            .map_err(|e| StoreError::Invalid(format!("payload: {e}")))?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(active) = sqlx::query(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(&payload.app_id)
        .fetch_optional(&mut *tx)
        .await?
        {
            let id: i64 = active.try_get("id")?;
            let st: String = active.try_get("status")?;
            return Err(rows::active_job_conflict(&payload.app_id, Some((id, st))));
        }
        if let Some(user) = &payload.user_id {
            let apps: Vec<String> = sqlx::query_scalar(
                "SELECT app_id FROM fun_ai_deploy_job WHERE user_id = ?1 AND status IN ('PENDING','RUNNING') \
                 UNION SELECT app_id FROM fun_ai_deploy_app_run WHERE user_id = ?1 AND status IN ('DEPLOYING','READY') \
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
        let res = sqlx::query(
            "INSERT INTO fun_ai_deploy_job (type, status, app_id, user_id, payload_json, attempt, max_attempts, \
               created_at, updated_at) VALUES ('BUILD_AND_DEPLOY', 'PENDING', ?, ?, ?, 1, ?, ?, ?)",
        )
        .bind(&payload.app_id)
        .bind(&payload.user_id)
        .bind(&payload_json)
        .bind(self.policy.max_attempts)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        let id = match res {
            Ok(r) => r.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(rows::active_job_conflict(&payload.app_id, None));
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
            "SELECT * FROM fun_ai_deploy_job WHERE (?1 IS NULL OR app_id = ?1) AND (?2 IS NULL OR status = ?2) \
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(app_id)
        .bind(status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    async fn cancel_job(&self, id: i64, now: i64) -> StoreResult<Job> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
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
                sqlx::query("UPDATE fun_ai_deploy_job SET cancel_requested = 1, updated_at = ? WHERE id = ?")
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

    async fn append_log(&self, id: i64, start: i64, data: &[u8], now: i64) -> StoreResult<i64> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT log_received, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = ?",
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
                "INSERT INTO fun_ai_deploy_job_log (job_id, offset, data) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(plan.stored - chunk.len() as i64)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET log_received = ?, log_stored = ?, log_truncated = ?, updated_at = ? WHERE id = ?",
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

    async fn read_log(&self, id: i64, offset: i64, max: usize) -> StoreResult<LogRead> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT status, log_stored, log_truncated FROM fun_ai_deploy_job WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let status: String = row.try_get("status")?;
        let stored: i64 = row.try_get("log_stored")?;
        let truncated: i64 = row.try_get("log_truncated")?;
        let mut data = Vec::new();
        if offset < stored {
            let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT offset, data FROM fun_ai_deploy_job_log WHERE job_id = ? AND offset + length(data) > ? \
                 ORDER BY offset",
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
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, last_seen_at, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT(runner_id) DO UPDATE SET remote_addr = ?2, legacy = ?3, last_seen_at = ?4",
        )
        .bind(&p.runner_id)
        .bind(&p.remote_addr)
        .bind(p.legacy as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The oldest pending job goes to its sticky node if usable, else to the best node;
        // with no best node, only a job whose sticky node is usable can go.
        let chosen = match self.best_node(&mut tx, now).await? {
            Some(best) => {
                let first: Option<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT j.id, p.node_name FROM fun_ai_deploy_job j \
                     LEFT JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
                     WHERE j.status = 'PENDING' ORDER BY j.id LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                match first {
                    Some((id, Some(sticky))) => {
                        let node = self.usable_node(&mut tx, &sticky, now).await?;
                        Some((id, node.unwrap_or(best)))
                    }
                    Some((id, None)) => Some((id, best)),
                    None => None,
                }
            }
            None => {
                let row = sqlx::query(
                    "SELECT j.id, n.node_name, n.agent_base_url, n.gateway_base_url FROM fun_ai_deploy_job j \
                     JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
                     JOIN fun_ai_deploy_runtime_node n ON n.node_name = p.node_name \
                     WHERE j.status = 'PENDING' AND n.enabled = 1 AND n.draining = 0 AND n.last_heartbeat_at >= ? \
                     ORDER BY j.id LIMIT 1",
                )
                .bind(healthy_since(now, self.policy.node_stale_ms))
                .fetch_optional(&mut *tx)
                .await?;
                match row {
                    Some(r) => Some((
                        r.try_get::<i64, _>("id")?,
                        ChosenNode {
                            node_name: r.try_get("node_name")?,
                            agent_base_url: r.try_get("agent_base_url")?,
                            gateway_base_url: r.try_get("gateway_base_url")?,
                        },
                    )),
                    None => None,
                }
            }
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
        let lease = now + p.lease_ms;
        let updated = sqlx::query(
            "UPDATE fun_ai_deploy_job SET status = 'RUNNING', runner_id = ?, lease_expire_at = ?, phase = 'CLAIMED', \
               phase_message = NULL, runtime_node = ?, deploy_url = ?, started_at = COALESCE(started_at, ?), updated_at = ? \
             WHERE id = ? AND status = 'PENDING'",
        )
        .bind(&p.runner_id)
        .bind(lease)
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
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(app_id) DO UPDATE SET node_name = ?3, \
             user_id = COALESCE(?2, user_id), updated_at = CASE WHEN node_name = ?3 THEN updated_at ELSE ?4 END",
        )
        .bind(&row.app_id)
        .bind(&row.user_id)
        .bind(&node.node_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               deploy_url, recent_images_json, updated_at) VALUES (?1, ?2, ?3, ?4, 'RUNNING', 'DEPLOYING', ?5, '[]', ?6) \
             ON CONFLICT(app_id) DO UPDATE SET user_id = COALESCE(?2, user_id), node_name = ?3, last_job_id = ?4, \
               last_job_status = 'RUNNING', status = 'DEPLOYING', error_message = NULL, updated_at = ?6",
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

    async fn heartbeat(
        &self,
        id: i64,
        runner_id: &str,
        extend_ms: i64,
        phase: Option<&str>,
        phase_message: Option<&str>,
        now: i64,
    ) -> StoreResult<HeartbeatAnswer> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
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

    async fn report(&self, id: i64, req: &ReportRequest, now: i64) -> StoreResult<Job> {
        rows::check_report_status(req)?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let (image, error) = match rows::decide_report(&row, req)? {
            ReportAction::Repeat => {
                tx.commit().await?;
                return row.into_job();
            }
            ReportAction::Finish { image, error } => (image, error),
        };
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET status = ?, error_message = ?, image = COALESCE(?, image), \
             commit_sha = COALESCE(?, commit_sha), lease_expire_at = NULL, finished_at = ?, updated_at = ? WHERE id = ?",
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

    async fn sweep(&self, now: i64) -> StoreResult<SweepOutcome> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let expired = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM fun_ai_deploy_job WHERE status = 'RUNNING' AND lease_expire_at < ? ORDER BY id LIMIT ?",
        )
        .bind(now)
        .bind(rows::SWEEP_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = SweepOutcome::default();
        for row in expired {
            match rows::sweep_action(&row) {
                SweepAction::Cancel(msg) => {
                    sqlx::query(
                        "UPDATE fun_ai_deploy_job SET status = 'CANCELLED', error_message = ?, lease_expire_at = NULL, \
                         finished_at = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING'",
                    )
                    .bind(&msg)
                    .bind(now)
                    .bind(now)
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                    let outcome = Outcome {
                        status: JobStatus::Cancelled,
                        image: None,
                        commit: None,
                        error: Some(&msg),
                    };
                    self.update_app_run_on_finish(&mut tx, &row, outcome, now)
                        .await?;
                    out.cancelled.push(row.id);
                }
                SweepAction::Requeue(msg) => {
                    sqlx::query(
                        "UPDATE fun_ai_deploy_job SET status = 'PENDING', attempt = attempt + 1, runner_id = NULL, \
                         lease_expire_at = NULL, phase = NULL, runtime_node = NULL, deploy_url = NULL, phase_message = ?, \
                         updated_at = ? WHERE id = ? AND status = 'RUNNING'",
                    )
                    .bind(&msg)
                    .bind(now)
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                    out.requeued.push(row.id);
                }
                SweepAction::Fail(msg) => {
                    sqlx::query(
                        "UPDATE fun_ai_deploy_job SET status = 'FAILED', error_message = ?, lease_expire_at = NULL, \
                         finished_at = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING'",
                    )
                    .bind(&msg)
                    .bind(now)
                    .bind(now)
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                    let outcome = Outcome {
                        status: JobStatus::Failed,
                        image: None,
                        commit: None,
                        error: Some(&msg),
                    };
                    self.update_app_run_on_finish(&mut tx, &row, outcome, now)
                        .await?;
                    out.failed.push(row.id);
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn touch_runner(
        &self,
        runner_id: &str,
        remote_addr: Option<&str>,
        legacy: bool,
        now: i64,
    ) -> StoreResult<()> {
        let _w = self.write.lock().await;
        sqlx::query(
            "INSERT INTO fun_ai_deploy_runner (runner_id, remote_addr, legacy, jobs_claimed, last_seen_at, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT(runner_id) DO UPDATE SET remote_addr = ?2, legacy = ?3, last_seen_at = ?4",
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
        let before: Option<Option<i64>> = {
            let _w = self.write.lock().await;
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let before = sqlx::query_scalar(
                "SELECT last_heartbeat_at FROM fun_ai_deploy_runtime_node WHERE node_name = ?",
            )
            .bind(&hb.node_name)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
                   disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 0, ?7, ?8, ?8, ?8) \
                 ON CONFLICT(node_name) DO UPDATE SET agent_base_url = ?2, gateway_base_url = ?3, disk_free_pct = ?4, \
                   disk_free_bytes = ?5, container_count = ?6, remote_addr = ?7, last_heartbeat_at = ?8, updated_at = ?8",
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
            tx.commit().await?;
            before
        };
        let came_up = before.is_none_or(|t| is_stale(t, now, self.policy.node_stale_ms));
        let node = self.get_node(&hb.node_name, now).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("node {} vanished after upsert", hb.node_name))
        })?;
        Ok(NodeUpsert { node, came_up })
    }

    async fn list_nodes(&self, now: i64) -> StoreResult<Vec<RuntimeNode>> {
        const SQL: &str = concat!(node_select!(), " ORDER BY n.node_name");
        let rows = sqlx::query_as::<_, NodeRow>(SQL)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_node(now, self.policy.node_stale_ms))
            .collect())
    }

    async fn get_node(&self, name: &str, now: i64) -> StoreResult<Option<RuntimeNode>> {
        const SQL: &str = concat!(node_select!(), " WHERE n.node_name = ?");
        let row = sqlx::query_as::<_, NodeRow>(SQL)
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
        let affected = {
            let _w = self.write.lock().await;
            sqlx::query(sql)
                .bind(now)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
        };
        if affected == 0 {
            return Err(StoreError::NotFound(format!(
                "runtime node {name} not found"
            )));
        }
        self.get_node(name, now)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("runtime node {name} not found")))
    }

    async fn remove_node(&self, name: &str, force: bool) -> StoreResult<i64> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists = sqlx::query("SELECT 1 FROM fun_ai_deploy_runtime_node WHERE node_name = ?")
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

    async fn list_placements(&self, node: Option<&str>) -> StoreResult<Vec<Placement>> {
        let rows = sqlx::query_as::<_, PlacementRow>(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
             WHERE (?1 IS NULL OR node_name = ?1) ORDER BY node_name, app_id",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Placement::from).collect())
    }

    async fn reassign(&self, app_id: &str, node: &str, now: i64) -> StoreResult<Placement> {
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(app_id) DO UPDATE SET node_name = ?3, updated_at = ?4",
        )
        .bind(app_id)
        .bind(user)
        .bind(node)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, PlacementRow>(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement WHERE app_id = ?",
        )
        .bind(app_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
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
        let _w = self.write.lock().await;
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
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(r) = sqlx::query(
            "SELECT id, status FROM fun_ai_deploy_job WHERE app_id = ? AND status IN ('PENDING','RUNNING') LIMIT 1",
        )
        .bind(app_id)
        .fetch_optional(&mut *tx)
        .await?
        {
            let id: i64 = r.try_get("id")?;
            let st: String = r.try_get("status")?;
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

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let _w = self.write.lock().await;
        sqlx::query("INSERT INTO fun_ai_deploy_audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)")
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (reporter, name) DO UPDATE SET remote_addr = ?3, violations = ?4, report_json = ?5, probed_at = ?6, received_at = ?7",
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
