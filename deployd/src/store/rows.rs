//! What every engine shares: rows as the tables hold them, and the rules of the job
//! lifecycle as plain functions, so the SQL of each dialect only reads and writes.

use std::str::FromStr;

use chrono::TimeZone;
use protocol::Timestamp;
use protocol::app::{AppRun, AppRunStatus, DeployedImage};
use protocol::check::{CheckReport, Reporter, StoredCheckReport};
use protocol::job::{JobPayload, JobStatus, JobType, ReportRequest, RuntimeNodeRef};
use protocol::node::{AuditEntry, NodeHealth, Placement, RuntimeNode};
use protocol::runner::{Runner, RunnerHealth};

use protocol::failure::FailureCode;

use super::{Job, StoreError, StoreResult};

pub const TRUNCATION_MARKER: &str =
    "\n[deployd: log truncated here, the cap was reached; later output is dropped]\n";

/// The node columns every engine lists, with the count of apps placed on each node;
/// a macro so that `concat!` builds each query as one static string.
macro_rules! node_select {
    () => {
        "SELECT n.node_name, n.agent_base_url, n.gateway_base_url, n.disk_free_pct, \
         n.disk_free_bytes, n.container_count, n.enabled, n.draining, n.last_heartbeat_at, n.created_at, \
         n.agent_version, n.engine_info, (SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement p WHERE p.node_name = n.node_name) AS placements \
         FROM fun_ai_deploy_runtime_node n"
    };
}
pub(crate) use node_select;

/// Most expired leases one sweep handles; the next sweep takes the rest.
pub const SWEEP_BATCH: i64 = 256;

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
pub struct JobRow {
    pub id: i64,
    pub status: String,
    pub app_id: String,
    pub user_id: Option<String>,
    pub payload_json: String,
    pub runner_id: Option<String>,
    pub lease_expire_at: Option<i64>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub phase: Option<String>,
    pub phase_message: Option<String>,
    pub error_message: Option<String>,
    pub error_code: Option<String>,
    pub image: Option<String>,
    pub commit_sha: Option<String>,
    pub runtime_node: Option<String>,
    pub deploy_url: Option<String>,
    pub cancel_requested: i64,
    pub log_stored: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A stored payload read back.
pub fn payload_of(json: &str) -> StoreResult<JobPayload> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))
}

impl JobRow {
    pub fn status(&self) -> StoreResult<JobStatus> {
        JobStatus::from_str(&self.status).map_err(StoreError::Corrupt)
    }

    pub fn payload(&self) -> StoreResult<JobPayload> {
        serde_json::from_str(&self.payload_json)
            .map_err(|e| StoreError::Corrupt(format!("payload of job {}: {e}", self.id)))
    }

    pub fn into_job(self) -> StoreResult<Job> {
        let status = self.status()?;
        let mut payload = self.payload()?;
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
            error_code: self.error_code,
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

    /// The node this job's attempt was placed on, if any.
    pub fn node_name(&self) -> Option<String> {
        self.runtime_node
            .as_deref()
            .and_then(|s| serde_json::from_str::<RuntimeNodeRef>(s).ok())
            .map(|n| n.node_name)
    }
}

#[derive(sqlx::FromRow, Clone)]
pub struct NodeRow {
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
    pub disk_free_pct: f64,
    pub disk_free_bytes: i64,
    pub container_count: i64,
    pub enabled: i64,
    pub draining: i64,
    pub last_heartbeat_at: Option<i64>,
    pub created_at: i64,
    pub agent_version: Option<String>,
    /// `EngineInfo` as JSON.
    pub engine_info: Option<String>,
    pub placements: i64,
}

impl NodeRow {
    pub fn stale(&self, now: i64, stale_ms: i64) -> bool {
        is_stale(self.last_heartbeat_at, now, stale_ms)
    }

    pub fn into_node(self, now: i64, stale_ms: i64) -> RuntimeNode {
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
            agent_version: self.agent_version,
            // Written by deployd from a validated heartbeat; a value it cannot read is shown
            // as unknown rather than failing the listing.
            engine: self
                .engine_info
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
        }
    }
}

/// A node is stale once no heartbeat came for longer than `stale_ms`; placement queries
/// use the same bound as `last_heartbeat_at >= healthy_since(now, stale_ms)`.
pub fn is_stale(last_heartbeat_at: Option<i64>, now: i64, stale_ms: i64) -> bool {
    last_heartbeat_at.is_none_or(|t| now - t > stale_ms)
}

pub fn healthy_since(now: i64, stale_ms: i64) -> i64 {
    now - stale_ms
}

/// The node a claim places a job on, as the placement query returns it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ChosenNode {
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
}

impl ChosenNode {
    pub fn node_json(&self) -> String {
        serde_json::to_string(&RuntimeNodeRef {
            node_name: self.node_name.clone(),
            agent_base_url: self.agent_base_url.clone(),
            gateway_base_url: self.gateway_base_url.clone(),
        })
        .unwrap_or_default()
    }

    /// Where the app will answer once deployed: the node's gateway plus the base path.
    pub fn deploy_url(&self, payload: &JobPayload) -> String {
        let base = self.gateway_base_url.trim_end_matches('/');
        format!("{base}{}/", payload.base_path_or_default())
    }
}

/// An app's run read beside its job (`run_` columns of a left join): all empty where the
/// app has no run.
#[derive(sqlx::FromRow)]
pub struct RunBeside {
    pub run_app_id: Option<String>,
    pub run_user_id: Option<String>,
    pub run_node_name: Option<String>,
    pub run_last_job_id: Option<i64>,
    pub run_last_job_status: Option<String>,
    pub run_status: Option<String>,
    pub run_image: Option<String>,
    pub run_commit_sha: Option<String>,
    pub run_deploy_url: Option<String>,
    pub run_error_message: Option<String>,
    pub run_recent_images_json: Option<String>,
    pub run_updated_at: Option<i64>,
    pub run_serving_node: Option<String>,
}

impl RunBeside {
    /// The run, if the app has one.
    pub fn into_run(self) -> Option<AppRunRow> {
        let (Some(app_id), Some(status), Some(recent_images_json), Some(updated_at)) = (
            self.run_app_id,
            self.run_status,
            self.run_recent_images_json,
            self.run_updated_at,
        ) else {
            return None;
        };
        Some(AppRunRow {
            app_id,
            user_id: self.run_user_id,
            node_name: self.run_node_name,
            last_job_id: self.run_last_job_id,
            last_job_status: self.run_last_job_status,
            status,
            image: self.run_image,
            commit_sha: self.run_commit_sha,
            deploy_url: self.run_deploy_url,
            error_message: self.run_error_message,
            recent_images_json,
            updated_at,
            serving_node: self.run_serving_node,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AppRunRow {
    pub app_id: String,
    pub user_id: Option<String>,
    pub node_name: Option<String>,
    pub last_job_id: Option<i64>,
    pub last_job_status: Option<String>,
    pub status: String,
    pub image: Option<String>,
    pub commit_sha: Option<String>,
    pub deploy_url: Option<String>,
    pub error_message: Option<String>,
    pub recent_images_json: String,
    pub updated_at: i64,
    pub serving_node: Option<String>,
}

impl AppRunRow {
    pub fn into_app_run(self) -> StoreResult<AppRun> {
        Ok(AppRun {
            status: AppRunStatus::from_str(&self.status).map_err(StoreError::Corrupt)?,
            last_job_status: match &self.last_job_status {
                Some(s) => Some(JobStatus::from_str(s).map_err(StoreError::Corrupt)?),
                None => None,
            },
            recent_images: serde_json::from_str(&self.recent_images_json).map_err(|e| {
                StoreError::Corrupt(format!("recent images of app {}: {e}", self.app_id))
            })?,
            image_repo: None,
            serving_node: self.serving_node,
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

#[derive(sqlx::FromRow)]
pub struct PlacementRow {
    pub app_id: String,
    pub user_id: Option<String>,
    pub node_name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<PlacementRow> for Placement {
    fn from(r: PlacementRow) -> Self {
        Placement {
            app_id: r.app_id,
            user_id: r.user_id,
            node_name: r.node_name,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RunnerRow {
    pub runner_id: String,
    pub remote_addr: Option<String>,
    pub legacy: i64,
    pub jobs_claimed: i64,
    pub last_seen_at: i64,
    pub created_at: i64,
    pub agent_version: Option<String>,
    pub running: i64,
}

impl RunnerRow {
    pub fn into_runner(self, now: i64, stale_ms: i64) -> Runner {
        Runner {
            runner_id: self.runner_id,
            status: if now - self.last_seen_at > stale_ms {
                RunnerHealth::Stale
            } else {
                RunnerHealth::Healthy
            },
            last_seen_at: ts(self.last_seen_at),
            remote_addr: self.remote_addr,
            legacy: self.legacy != 0,
            running_jobs: self.running,
            jobs_claimed: self.jobs_claimed,
            created_at: ts(self.created_at),
            agent_version: self.agent_version,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: ts(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The rules, one function each, shared by every engine.

/// The conflict a second active job of an app meets.
pub fn active_job_conflict(app_id: &str, active: Option<(i64, String)>) -> StoreError {
    match active {
        Some((id, st)) => StoreError::Conflict(format!(
            "app {app_id} already has an active job {id} ({st}); wait for it or cancel it"
        )),
        None => StoreError::Conflict(format!("app {app_id} already has an active job")),
    }
}

/// The per-user limit on active apps: `apps` are the user's apps with an active job or a
/// DEPLOYING/READY run, sorted.
pub fn check_user_limit(user: &str, apps: &[String], app_id: &str, limit: i64) -> StoreResult<()> {
    if !apps.iter().any(|a| a == app_id) && apps.len() as i64 >= limit {
        return Err(StoreError::Conflict(format!(
            "user {user} already has {} active apps ({}), the limit is {limit}: stop one before deploying app {app_id}",
            apps.len(),
            apps.join(", "),
        )));
    }
    Ok(())
}

pub fn node_busy(name: &str, placements: i64) -> StoreError {
    StoreError::Conflict(format!(
        "runtime node {name} still holds {placements} app placement(s): drain it with --migrate first, or remove with --force"
    ))
}

pub fn purge_conflict(app_id: &str, id: i64, status: &str) -> StoreError {
    StoreError::Conflict(format!(
        "app {app_id} has an active job {id} ({status}): cancel it before purging"
    ))
}

/// What a cancel does to a job in `status`.
pub enum CancelAction {
    /// PENDING: cancelled at once.
    Now,
    /// RUNNING: the runner learns it at its next heartbeat.
    Request,
}

pub const CANCELLED_BEFORE_CLAIM: &str = "cancelled before a runner claimed it";

pub fn cancel_action(id: i64, status: JobStatus) -> StoreResult<CancelAction> {
    match status {
        JobStatus::Pending => Ok(CancelAction::Now),
        JobStatus::Running => Ok(CancelAction::Request),
        st => Err(StoreError::Conflict(format!(
            "job {id} is already {st}; a finished job cannot be cancelled"
        ))),
    }
}

/// A log append, planned from the counters the job row holds.
pub struct LogAppend {
    /// The bytes to store (with the truncation marker when the cap is reached now).
    pub chunk: Option<Vec<u8>>,
    pub received: i64,
    pub stored: i64,
    pub truncated: i64,
}

pub fn plan_log_append(
    received: i64,
    stored: i64,
    truncated: i64,
    start: i64,
    data: &[u8],
    cap: i64,
) -> StoreResult<Option<LogAppend>> {
    if start != received {
        return Err(StoreError::LogRange { length: received });
    }
    if data.is_empty() {
        return Ok(None);
    }
    let mut plan = LogAppend {
        chunk: None,
        received: received + data.len() as i64,
        stored,
        truncated,
    };
    if truncated == 0 {
        let room = (cap - stored).max(0) as usize;
        let keep = if data.len() <= room {
            data.to_vec()
        } else {
            let mut v = data[..room].to_vec();
            v.extend_from_slice(TRUNCATION_MARKER.as_bytes());
            plan.truncated = 1;
            v
        };
        plan.stored = stored + keep.len() as i64;
        plan.chunk = Some(keep);
    }
    Ok(Some(plan))
}

/// Appends the chunks of a log read from `offset`, at most `max` bytes.
pub fn collect_log(chunks: Vec<(i64, Vec<u8>)>, offset: i64, max: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for (at, bytes) in chunks {
        let skip = (offset - at).max(0) as usize;
        if skip < bytes.len() {
            data.extend_from_slice(&bytes[skip..]);
        }
        if data.len() >= max {
            data.truncate(max);
            break;
        }
    }
    data
}

/// A heartbeat is accepted only from the runner holding a RUNNING job not being cancelled.
pub fn check_heartbeat(row: &JobRow, runner_id: &str) -> StoreResult<()> {
    let id = row.id;
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
    Ok(())
}

/// What a report does.
pub enum ReportAction {
    /// The same report again: the job as it is.
    Repeat,
    /// Finish the job.
    Finish {
        image: Option<String>,
        error: Option<String>,
        code: Option<String>,
    },
}

pub fn decide_report(row: &JobRow, req: &ReportRequest) -> StoreResult<ReportAction> {
    let id = row.id;
    let status = row.status()?;
    let same_runner = row.runner_id.as_deref() == Some(req.runner_id.as_str());
    if status.is_terminal() {
        if same_runner && status == req.status {
            return Ok(ReportAction::Repeat);
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
                (_, JobStatus::Pending) => " again (requeued after its lease expired)".to_string(),
                _ => String::new(),
            },
            req.runner_id
        )));
    }
    let payload = row.payload()?;
    let image = req.image.clone().or(payload.image);
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
    let code = match req.status {
        JobStatus::Succeeded => None,
        JobStatus::Cancelled => Some(FailureCode::Cancelled.as_str().to_string()),
        _ => req.error_code.clone(),
    };
    Ok(ReportAction::Finish { image, error, code })
}

pub fn check_report_status(req: &ReportRequest) -> StoreResult<()> {
    if !req.status.is_terminal() {
        return Err(StoreError::Invalid(
            "status: must be SUCCEEDED, FAILED or CANCELLED".into(),
        ));
    }
    Ok(())
}

/// What the sweeper does with a RUNNING job whose lease expired.
pub enum SweepAction {
    Cancel(String),
    Requeue(String),
    Fail(String),
}

pub fn sweep_action(row: &JobRow) -> SweepAction {
    let runner = row.runner_id.clone().unwrap_or_else(|| "?".into());
    let phase = row.phase.clone().unwrap_or_else(|| "CLAIMED".into());
    if row.cancel_requested != 0 {
        SweepAction::Cancel(format!(
            "cancelled; runner {runner} stopped heartbeating during {phase}"
        ))
    } else if row.attempt < row.max_attempts {
        SweepAction::Requeue(format!(
            "requeued: the lease of runner {runner} expired during {phase} (attempt {} of {})",
            row.attempt, row.max_attempts
        ))
    } else {
        SweepAction::Fail(format!(
            "lease expired on attempt {} of {}: runner {runner} stopped heartbeating during {phase}",
            row.attempt, row.max_attempts
        ))
    }
}

/// How a job ended, as its app run records it.
pub struct Outcome<'a> {
    pub status: JobStatus,
    pub image: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The app run row after a job finished: what each engine upserts.
pub struct AppRunWrite {
    pub app_id: String,
    pub user_id: Option<String>,
    pub node_name: Option<String>,
    pub last_job_id: i64,
    pub last_job_status: &'static str,
    pub status: &'static str,
    pub image: Option<String>,
    pub commit_sha: Option<String>,
    pub deploy_url: Option<String>,
    pub error_message: Option<String>,
    pub recent_images_json: String,
    pub updated_at: i64,
    pub serving_node: Option<String>,
}

pub fn app_run_on_finish(
    existing: Option<&AppRunRow>,
    job: &JobRow,
    outcome: Outcome<'_>,
    recent_images: i64,
    now: i64,
) -> AppRunWrite {
    let Outcome {
        status,
        image,
        commit,
        error,
    } = outcome;
    let mut recent: Vec<DeployedImage> = existing
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
                recent.truncate(recent_images.max(1) as usize);
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
            let had_image = existing.and_then(|r| r.image.clone());
            let st = if other == JobStatus::Failed {
                AppRunStatus::Failed
            } else if had_image.is_some() && existing.is_some_and(|r| r.status != "STOPPED") {
                AppRunStatus::Ready
            } else {
                AppRunStatus::Stopped
            };
            (
                st,
                had_image,
                existing.and_then(|r| r.commit_sha.clone()),
                existing.and_then(|r| r.deploy_url.clone()),
                error.map(str::to_string),
            )
        }
    };
    // A job that succeeded serves the app where it was placed; one that did not leaves the
    // app where it was served (a failed move leaves the old copy running).
    let serving_node = if status == JobStatus::Succeeded {
        job.node_name()
    } else {
        existing
            .filter(|r| r.status != "STOPPED")
            .and_then(|r| r.serving_node.clone())
    };
    AppRunWrite {
        app_id: job.app_id.clone(),
        user_id: job.user_id.clone(),
        node_name: job.node_name(),
        last_job_id: job.id,
        last_job_status: status.as_str(),
        status: run_status.as_str(),
        image: run_image,
        commit_sha: run_commit,
        deploy_url: run_url,
        error_message: run_error,
        recent_images_json: serde_json::to_string(&recent).unwrap_or_else(|_| "[]".into()),
        updated_at: now,
        serving_node,
    }
}

/// A host's latest connectivity check as stored.
#[derive(sqlx::FromRow)]
pub struct CheckReportRow {
    pub reporter: String,
    pub name: String,
    pub remote_addr: Option<String>,
    pub violations: i64,
    pub report_json: String,
    pub received_at: i64,
}

impl CheckReportRow {
    pub fn into_stored(self) -> Result<StoredCheckReport, StoreError> {
        let reporter = Reporter::parse(&self.reporter).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "check report of unknown reporter {:?}",
                self.reporter
            ))
        })?;
        let report = serde_json::from_str(&self.report_json).map_err(|e| {
            StoreError::Corrupt(format!(
                "check report of {} {}: {e}",
                self.reporter, self.name
            ))
        })?;
        Ok(StoredCheckReport {
            reporter,
            name: self.name,
            remote_addr: self.remote_addr,
            received_at: ts(self.received_at),
            violations: self.violations,
            report,
        })
    }
}

/// What a check report upsert writes.
pub struct CheckReportWrite {
    pub reporter: &'static str,
    pub name: String,
    pub remote_addr: Option<String>,
    pub violations: i64,
    pub report_json: String,
    pub probed_at: i64,
}

impl CheckReportWrite {
    pub fn new(
        reporter: Reporter,
        name: &str,
        remote_addr: Option<&str>,
        report: &CheckReport,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            reporter: reporter.as_str(),
            name: name.to_string(),
            remote_addr: remote_addr.map(str::to_string),
            violations: report.violations() as i64,
            report_json: serde_json::to_string(report)
                .map_err(|e| StoreError::Invalid(format!("check report: {e}")))?,
            probed_at: report.probed_at.timestamp_millis(),
        })
    }
}
