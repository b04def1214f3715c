//! SQLite engine: one file, zero setup. Writes are serialised in-process and run as
//! `BEGIN IMMEDIATE` transactions, so a claim is atomic even with another process on the file.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeZone;
use protocol::Timestamp;
use protocol::app::{AppRun, AppRunStatus, DeployedImage};
use protocol::job::{
    HeartbeatAnswer, Job, JobPayload, JobStatus, JobType, PurgeAnswer, ReportRequest,
    RuntimeNodeRef,
};
use protocol::node::{AuditEntry, NodeHealth, NodeHeartbeat, Placement, RuntimeNode};
use protocol::runner::{Runner, RunnerHealth};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::Mutex;

use super::{ClaimParams, LogRead, NodeFlag, Policy, StoreError, StoreResult, SweepOutcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const TRUNCATION_MARKER: &str =
    "\n[deployd: log truncated here, the cap was reached; later output is dropped]\n";

pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
    policy: Policy,
}

pub fn ts(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
}

fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(ts)
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    status: String,
    app_id: String,
    user_id: Option<String>,
    payload_json: String,
    runner_id: Option<String>,
    lease_expire_at: Option<i64>,
    attempt: i64,
    max_attempts: i64,
    phase: Option<String>,
    phase_message: Option<String>,
    error_message: Option<String>,
    image: Option<String>,
    commit_sha: Option<String>,
    runtime_node: Option<String>,
    deploy_url: Option<String>,
    cancel_requested: i64,
    log_stored: i64,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl JobRow {
    fn status(&self) -> StoreResult<JobStatus> {
        JobStatus::from_str(&self.status).map_err(StoreError::Corrupt)
    }

    fn into_job(self) -> StoreResult<Job> {
        let status = self.status()?;
        let mut payload: JobPayload = serde_json::from_str(&self.payload_json)
            .map_err(|e| StoreError::Corrupt(format!("payload of job {}: {e}", self.id)))?;
        // deployd fills these for runners of the estate that read them from the payload.
        payload.extra.insert("attempt".into(), self.attempt.into());
        if let Some(s) = self.started_at {
            payload
                .extra
                .insert("runStartedAt".into(), ts(s).to_rfc3339().into());
        }
        if let Some(p) = &self.phase {
            payload.extra.insert("phase".into(), p.clone().into());
        }
        let runtime_node = match &self.runtime_node {
            Some(s) => Some(serde_json::from_str::<RuntimeNodeRef>(s).map_err(|e| {
                StoreError::Corrupt(format!("runtime node of job {}: {e}", self.id))
            })?),
            None => None,
        };
        Ok(Job {
            id: self.id,
            job_type: JobType::BuildAndDeploy,
            status,
            app_id: self.app_id,
            user_id: self.user_id,
            payload,
            runner_id: self.runner_id,
            lease_expire_at: opt_ts(self.lease_expire_at),
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            phase: self.phase,
            phase_message: self.phase_message,
            error_message: self.error_message,
            image: self.image,
            commit_sha: self.commit_sha,
            runtime_node,
            deploy_url: self.deploy_url,
            cancel_requested: self.cancel_requested != 0,
            log_length: self.log_stored,
            created_at: ts(self.created_at),
            updated_at: ts(self.updated_at),
            started_at: opt_ts(self.started_at),
            finished_at: opt_ts(self.finished_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    node_name: String,
    agent_base_url: String,
    gateway_base_url: String,
    disk_free_pct: f64,
    disk_free_bytes: i64,
    container_count: i64,
    enabled: i64,
    draining: i64,
    last_heartbeat_at: Option<i64>,
    created_at: i64,
    placements: i64,
}

impl NodeRow {
    fn stale(&self, now: i64, stale_ms: i64) -> bool {
        self.last_heartbeat_at.is_none_or(|t| now - t > stale_ms)
    }

    fn into_node(self, now: i64, stale_ms: i64) -> RuntimeNode {
        let stale = self.stale(now, stale_ms);
        let status = if self.enabled == 0 {
            NodeHealth::Disabled
        } else if self.draining != 0 {
            NodeHealth::Draining
        } else if stale {
            NodeHealth::Stale
        } else {
            NodeHealth::Healthy
        };
        RuntimeNode {
            node_name: self.node_name,
            agent_base_url: self.agent_base_url,
            gateway_base_url: self.gateway_base_url,
            disk_free_pct: self.disk_free_pct,
            disk_free_bytes: self.disk_free_bytes,
            container_count: self.container_count,
            enabled: self.enabled != 0,
            draining: self.draining != 0,
            stale,
            status,
            placements: self.placements,
            last_heartbeat_at: opt_ts(self.last_heartbeat_at),
            created_at: ts(self.created_at),
        }
    }

    fn node_ref(&self) -> RuntimeNodeRef {
        RuntimeNodeRef {
            node_name: self.node_name.clone(),
            agent_base_url: self.agent_base_url.clone(),
            gateway_base_url: self.gateway_base_url.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct AppRunRow {
    app_id: String,
    user_id: Option<String>,
    node_name: Option<String>,
    last_job_id: Option<i64>,
    last_job_status: Option<String>,
    status: String,
    image: Option<String>,
    commit_sha: Option<String>,
    deploy_url: Option<String>,
    error_message: Option<String>,
    recent_images_json: String,
    updated_at: i64,
}

impl AppRunRow {
    fn into_app_run(self) -> StoreResult<AppRun> {
        Ok(AppRun {
            status: AppRunStatus::from_str(&self.status).map_err(StoreError::Corrupt)?,
            last_job_status: match &self.last_job_status {
                Some(s) => Some(JobStatus::from_str(s).map_err(StoreError::Corrupt)?),
                None => None,
            },
            recent_images: serde_json::from_str(&self.recent_images_json).map_err(|e| {
                StoreError::Corrupt(format!("recent images of app {}: {e}", self.app_id))
            })?,
            app_id: self.app_id,
            user_id: self.user_id,
            node_name: self.node_name,
            last_job_id: self.last_job_id,
            image: self.image,
            commit_sha: self.commit_sha,
            deploy_url: self.deploy_url,
            error_message: self.error_message,
            updated_at: ts(self.updated_at),
        })
    }
}

fn placement_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<Placement> {
    Ok(Placement {
        app_id: r.try_get("app_id")?,
        user_id: r.try_get("user_id")?,
        node_name: r.try_get("node_name")?,
        created_at: ts(r.try_get("created_at")?),
        updated_at: ts(r.try_get("updated_at")?),
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
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

    async fn node_rows(conn: &mut SqliteConnection) -> StoreResult<Vec<NodeRow>> {
        let sql = const_format_node_select_all();
        Ok(sqlx::query_as::<_, NodeRow>(sql).fetch_all(conn).await?)
    }

    /// The node an app deploys to: its sticky node while healthy, else the healthy, enabled,
    /// not draining node above the disk threshold with the most free disk.
    fn choose_node<'a>(
        &self,
        nodes: &'a [NodeRow],
        current: Option<&str>,
        now: i64,
    ) -> Option<&'a NodeRow> {
        let usable = |n: &&NodeRow| {
            n.enabled != 0 && n.draining == 0 && !n.stale(now, self.policy.node_stale_ms)
        };
        if let Some(cur) = current
            && let Some(n) = nodes.iter().filter(usable).find(|n| n.node_name == cur)
        {
            return Some(n);
        }
        nodes
            .iter()
            .filter(usable)
            .filter(|n| n.disk_free_pct >= self.policy.disk_free_min_pct)
            .max_by(|a, b| {
                a.disk_free_bytes
                    .cmp(&b.disk_free_bytes)
                    .then(a.disk_free_pct.total_cmp(&b.disk_free_pct))
                    .then(b.container_count.cmp(&a.container_count))
                    .then(b.node_name.cmp(&a.node_name))
            })
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
        let Outcome {
            status,
            image,
            commit,
            error,
        } = outcome;
        let existing =
            sqlx::query_as::<_, AppRunRow>("SELECT * FROM fun_ai_deploy_app_run WHERE app_id = ?")
                .bind(&job.app_id)
                .fetch_optional(&mut *conn)
                .await?;
        let node = job
            .runtime_node
            .as_deref()
            .and_then(|s| serde_json::from_str::<RuntimeNodeRef>(s).ok())
            .map(|n| n.node_name);
        let mut recent: Vec<DeployedImage> = existing
            .as_ref()
            .and_then(|r| serde_json::from_str(&r.recent_images_json).ok())
            .unwrap_or_default();
        let (run_status, run_image, run_commit, run_url, run_error) = match status {
            JobStatus::Succeeded => {
                if let Some(img) = image {
                    recent.retain(|d| d.image != img);
                    recent.insert(
                        0,
                        DeployedImage {
                            image: img.to_string(),
                            job_id: job.id,
                            commit_sha: commit.map(str::to_string),
                            deployed_at: ts(now),
                        },
                    );
                    recent.truncate(self.policy.recent_images.max(1) as usize);
                }
                (
                    AppRunStatus::Ready,
                    image.map(str::to_string),
                    commit.map(str::to_string),
                    job.deploy_url.clone(),
                    None,
                )
            }
            other => {
                let prev = existing.as_ref();
                let had_image = prev.and_then(|r| r.image.clone());
                let st = if other == JobStatus::Failed {
                    AppRunStatus::Failed
                } else if had_image.is_some() && prev.is_some_and(|r| r.status != "STOPPED") {
                    AppRunStatus::Ready
                } else {
                    AppRunStatus::Stopped
                };
                (
                    st,
                    had_image,
                    prev.and_then(|r| r.commit_sha.clone()),
                    prev.and_then(|r| r.deploy_url.clone()),
                    error.map(str::to_string),
                )
            }
        };
        let recent_json = serde_json::to_string(&recent).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
               image, commit_sha, deploy_url, error_message, recent_images_json, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT(app_id) DO UPDATE SET user_id = COALESCE(?2, user_id), node_name = COALESCE(?3, node_name), \
               last_job_id = ?4, last_job_status = ?5, status = ?6, image = ?7, commit_sha = ?8, \
               deploy_url = ?9, error_message = ?10, recent_images_json = ?11, updated_at = ?12",
        )
        .bind(&job.app_id)
        .bind(&job.user_id)
        .bind(node)
        .bind(job.id)
        .bind(status.as_str())
        .bind(run_status.as_str())
        .bind(run_image)
        .bind(run_commit)
        .bind(run_url)
        .bind(run_error)
        .bind(recent_json)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

fn const_format_node_select_all() -> &'static str {
    // Kept as one static string so sqlx accepts it as safe SQL.
    "SELECT n.node_name, n.agent_base_url, n.gateway_base_url, n.disk_free_pct, \
     n.disk_free_bytes, n.container_count, n.enabled, n.draining, n.last_heartbeat_at, n.created_at, \
     (SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement p WHERE p.node_name = n.node_name) AS placements \
     FROM fun_ai_deploy_runtime_node n ORDER BY n.node_name"
}

/// How a job ended, as its app run records it.
struct Outcome<'a> {
    status: JobStatus,
    image: Option<&'a str>,
    commit: Option<&'a str>,
    error: Option<&'a str>,
}

#[async_trait]
impl super::Store for SqliteStore {
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
            return Err(StoreError::Conflict(format!(
                "app {} already has an active job {id} ({st}); wait for it or cancel it",
                payload.app_id
            )));
        }
        if let Some(user) = &payload.user_id {
            let rows = sqlx::query(
                "SELECT app_id FROM fun_ai_deploy_job WHERE user_id = ?1 AND status IN ('PENDING','RUNNING') \
                 UNION SELECT app_id FROM fun_ai_deploy_app_run WHERE user_id = ?1 AND status IN ('DEPLOYING','READY') \
                 ORDER BY app_id",
            )
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
            let apps: Vec<String> = rows
                .iter()
                .filter_map(|r| r.try_get("app_id").ok())
                .collect();
            let limit = self.policy.max_active_apps_per_user;
            if !apps.contains(&payload.app_id) && apps.len() as i64 >= limit {
                return Err(StoreError::Conflict(format!(
                    "user {user} already has {} active apps ({}), the limit is {limit}: stop one before deploying app {}",
                    apps.len(),
                    apps.join(", "),
                    payload.app_id
                )));
            }
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
                return Err(StoreError::Conflict(format!(
                    "app {} already has an active job",
                    payload.app_id
                )));
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
        match row.status()? {
            JobStatus::Pending => {
                sqlx::query(
                    "UPDATE fun_ai_deploy_job SET status = 'CANCELLED', cancel_requested = 1, \
                     error_message = 'cancelled before a runner claimed it', finished_at = ?, updated_at = ? WHERE id = ?",
                )
                .bind(now)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            JobStatus::Running => {
                sqlx::query("UPDATE fun_ai_deploy_job SET cancel_requested = 1, updated_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            st => {
                return Err(StoreError::Conflict(format!(
                    "job {id} is already {st}; a finished job cannot be cancelled"
                )));
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
        let stored: i64 = row.try_get("log_stored")?;
        let truncated: i64 = row.try_get("log_truncated")?;
        if start != received {
            return Err(StoreError::LogRange { length: received });
        }
        if data.is_empty() {
            return Ok(received);
        }
        let cap = self.policy.log_cap_bytes;
        let mut new_stored = stored;
        let mut new_truncated = truncated;
        if truncated == 0 {
            let room = (cap - stored).max(0) as usize;
            let (keep, over) = if data.len() <= room {
                (data.to_vec(), false)
            } else {
                let mut v = data[..room].to_vec();
                v.extend_from_slice(TRUNCATION_MARKER.as_bytes());
                (v, true)
            };
            sqlx::query(
                "INSERT INTO fun_ai_deploy_job_log (job_id, offset, data) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(stored)
            .bind(&keep)
            .execute(&mut *tx)
            .await?;
            new_stored = stored + keep.len() as i64;
            if over {
                new_truncated = 1;
            }
        }
        let new_received = received + data.len() as i64;
        sqlx::query(
            "UPDATE fun_ai_deploy_job SET log_received = ?, log_stored = ?, log_truncated = ?, updated_at = ? WHERE id = ?",
        )
        .bind(new_received)
        .bind(new_stored)
        .bind(new_truncated)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(new_received)
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
            let chunks = sqlx::query(
                "SELECT offset, data FROM fun_ai_deploy_job_log WHERE job_id = ? AND offset + length(data) > ? \
                 ORDER BY offset",
            )
            .bind(id)
            .bind(offset)
            .fetch_all(&mut *conn)
            .await?;
            for c in chunks {
                let at: i64 = c.try_get("offset")?;
                let bytes: Vec<u8> = c.try_get("data")?;
                let skip = (offset - at).max(0) as usize;
                if skip < bytes.len() {
                    data.extend_from_slice(&bytes[skip..]);
                }
                if data.len() >= max {
                    data.truncate(max);
                    break;
                }
            }
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
        let pending = sqlx::query(
            "SELECT j.id, j.app_id, p.node_name FROM fun_ai_deploy_job j \
             LEFT JOIN fun_ai_deploy_runtime_placement p ON p.app_id = j.app_id \
             WHERE j.status = 'PENDING' ORDER BY j.id LIMIT 64",
        )
        .fetch_all(&mut *tx)
        .await?;
        if pending.is_empty() {
            tx.commit().await?;
            return Ok(None);
        }
        let nodes = Self::node_rows(&mut tx).await?;
        let mut chosen = None;
        for r in &pending {
            let current: Option<String> = r.try_get("node_name")?;
            if let Some(n) = self.choose_node(&nodes, current.as_deref(), now) {
                chosen = Some((
                    r.try_get::<i64, _>("id")?,
                    r.try_get::<String, _>("app_id")?,
                    n,
                ));
                break;
            }
        }
        let Some((id, app_id, node)) = chosen else {
            // Every pending job waits for a runtime node; say so on the oldest.
            tx.commit().await?;
            return Ok(None);
        };
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished during claim")))?;
        let payload: JobPayload = serde_json::from_str(&row.payload_json)
            .map_err(|e| StoreError::Corrupt(format!("payload of job {id}: {e}")))?;
        let base = node.gateway_base_url.trim_end_matches('/');
        let deploy_url = format!("{base}{}/", payload.base_path_or_default());
        let node_json = serde_json::to_string(&node.node_ref()).unwrap_or_default();
        let lease = now + p.lease_ms;
        let updated = sqlx::query(
            "UPDATE fun_ai_deploy_job SET status = 'RUNNING', runner_id = ?, lease_expire_at = ?, phase = 'CLAIMED', \
               phase_message = NULL, runtime_node = ?, deploy_url = ?, started_at = COALESCE(started_at, ?), updated_at = ? \
             WHERE id = ? AND status = 'PENDING'",
        )
        .bind(&p.runner_id)
        .bind(lease)
        .bind(&node_json)
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
        .bind(&app_id)
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
        .bind(&app_id)
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
        let status = row.status()?;
        if status != JobStatus::Running || row.runner_id.as_deref() != Some(runner_id) {
            return Err(StoreError::Conflict(format!(
                "lease lost: job {id} is {status}{}; stop working on it",
                match &row.runner_id {
                    Some(r) if r != runner_id && status == JobStatus::Running =>
                        format!(" and held by runner {r}"),
                    _ => String::new(),
                }
            )));
        }
        if row.cancel_requested != 0 {
            return Err(StoreError::Conflict(format!(
                "cancel requested: job {id} was cancelled by an operator; stop and report CANCELLED"
            )));
        }
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
        if !req.status.is_terminal() {
            return Err(StoreError::Invalid(
                "status: must be SUCCEEDED, FAILED or CANCELLED".into(),
            ));
        }
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = Self::job_row(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {id} not found")))?;
        let status = row.status()?;
        let same_runner = row.runner_id.as_deref() == Some(req.runner_id.as_str());
        if status.is_terminal() {
            if same_runner && status == req.status {
                tx.commit().await?;
                return row.into_job();
            }
            return Err(StoreError::Conflict(format!(
                "job {id} is already {status}; the report of runner {} changes nothing",
                req.runner_id
            )));
        }
        if status != JobStatus::Running || !same_runner {
            return Err(StoreError::Conflict(format!(
                "lease lost: job {id} is {status}{}; the report of runner {} changes nothing",
                match (&row.runner_id, status) {
                    (Some(r), JobStatus::Running) => format!(" and held by runner {r}"),
                    (_, JobStatus::Pending) =>
                        " again (requeued after its lease expired)".to_string(),
                    _ => String::new(),
                },
                req.runner_id
            )));
        }
        let payload: JobPayload = serde_json::from_str(&row.payload_json)
            .map_err(|e| StoreError::Corrupt(format!("payload of job {id}: {e}")))?;
        let image = req.image.clone().or(payload.image.clone());
        let error = match req.status {
            JobStatus::Succeeded => None,
            _ => req.error_message.clone().or_else(|| {
                Some(if req.status == JobStatus::Cancelled {
                    "cancelled".to_string()
                } else {
                    "the runner reported a failure without a message".to_string()
                })
            }),
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
            "SELECT * FROM fun_ai_deploy_job WHERE status = 'RUNNING' AND lease_expire_at < ? ORDER BY id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = SweepOutcome::default();
        for row in expired {
            let runner = row.runner_id.clone().unwrap_or_else(|| "?".into());
            let phase = row.phase.clone().unwrap_or_else(|| "CLAIMED".into());
            if row.cancel_requested != 0 {
                let msg = format!("cancelled; runner {runner} stopped heartbeating during {phase}");
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
            } else if row.attempt < row.max_attempts {
                let msg = format!(
                    "requeued: the lease of runner {runner} expired during {phase} (attempt {} of {})",
                    row.attempt, row.max_attempts
                );
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
            } else {
                let msg = format!(
                    "lease expired on attempt {} of {}: runner {runner} stopped heartbeating during {phase}",
                    row.attempt, row.max_attempts
                );
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
        let rows = sqlx::query(
            "SELECT r.runner_id, r.remote_addr, r.legacy, r.jobs_claimed, r.last_seen_at, r.created_at, \
             (SELECT COUNT(*) FROM fun_ai_deploy_job j WHERE j.runner_id = r.runner_id AND j.status = 'RUNNING') AS running \
             FROM fun_ai_deploy_runner r ORDER BY r.runner_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let last: i64 = r.try_get("last_seen_at")?;
                Ok(Runner {
                    runner_id: r.try_get("runner_id")?,
                    status: if now - last > self.policy.runner_stale_ms {
                        RunnerHealth::Stale
                    } else {
                        RunnerHealth::Healthy
                    },
                    last_seen_at: ts(last),
                    remote_addr: r.try_get("remote_addr")?,
                    legacy: r.try_get::<i64, _>("legacy")? != 0,
                    running_jobs: r.try_get("running")?,
                    jobs_claimed: r.try_get("jobs_claimed")?,
                    created_at: ts(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn upsert_node(
        &self,
        hb: &NodeHeartbeat,
        remote_addr: Option<&str>,
        now: i64,
    ) -> StoreResult<RuntimeNode> {
        {
            let _w = self.write.lock().await;
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
            .execute(&self.pool)
            .await?;
        }
        self.get_node(&hb.node_name, now).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("node {} vanished after upsert", hb.node_name))
        })
    }

    async fn list_nodes(&self, now: i64) -> StoreResult<Vec<RuntimeNode>> {
        let mut conn = self.pool.acquire().await?;
        let rows = Self::node_rows(&mut conn).await?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_node(now, self.policy.node_stale_ms))
            .collect())
    }

    async fn get_node(&self, name: &str, now: i64) -> StoreResult<Option<RuntimeNode>> {
        let row = sqlx::query_as::<_, NodeRow>(
            "SELECT n.node_name, n.agent_base_url, n.gateway_base_url, n.disk_free_pct, \
             n.disk_free_bytes, n.container_count, n.enabled, n.draining, n.last_heartbeat_at, n.created_at, \
             (SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement p WHERE p.node_name = n.node_name) AS placements \
             FROM fun_ai_deploy_runtime_node n WHERE n.node_name = ?",
        )
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
            return Err(StoreError::Conflict(format!(
                "runtime node {name} still holds {placements} app placement(s): drain it with --migrate first, or remove with --force"
            )));
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
        let rows = sqlx::query(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement \
             WHERE (?1 IS NULL OR node_name = ?1) ORDER BY node_name, app_id",
        )
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(placement_from_row).collect()
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
        let row = sqlx::query(
            "SELECT app_id, user_id, node_name, created_at, updated_at FROM fun_ai_deploy_runtime_placement WHERE app_id = ?",
        )
        .bind(app_id)
        .fetch_one(&mut *tx)
        .await?;
        let p = placement_from_row(&row)?;
        tx.commit().await?;
        Ok(p)
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
            return Err(StoreError::Conflict(format!(
                "app {app_id} has an active job {id} ({st}): cancel it before purging"
            )));
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
        let rows = sqlx::query("SELECT id, at, actor, action, target, detail FROM fun_ai_deploy_audit ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: ts(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
