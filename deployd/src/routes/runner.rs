//! The runner protocol: long-poll claim, heartbeat, log append, report.

use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use protocol::check::{Reporter, RunnerChecks};
use protocol::job::{
    ClaimRequest, HeartbeatAnswer, HeartbeatRequest, Job, JobStatus, LogAppendAnswer, ReportRequest,
};

use super::{St, check_name, path_error};
use crate::auth::RunnerToken;
use crate::error::{ApiError, ApiResult, ok, ok_null};
use crate::extract::{JsonBody, RawBody};
use crate::store::ClaimParams;

/// How often a waiting claim looks again even without a wake-up (a node may have come back).
const CLAIM_RECHECK: Duration = Duration::from_secs(2);

pub async fn claim(
    State(state): St,
    runner: RunnerToken,
    body: Result<JsonBody<ClaimRequest>, ApiError>,
) -> ApiResult {
    let JsonBody(req) = body?;
    check_name("runnerId", &req.runner_id)?;
    if !(1..=3600).contains(&req.lease_seconds) {
        return Err(ApiError::field(
            "leaseSeconds",
            format!("{} is outside 1..=3600", req.lease_seconds),
        ));
    }
    if !(0..=30).contains(&req.wait_seconds) {
        return Err(ApiError::field(
            "waitSeconds",
            format!("{} is outside 0..=30", req.wait_seconds),
        ));
    }
    if let Some(v) = &req.agent_version {
        protocol::validate::agent_version(v).map_err(|m| ApiError::field("agentVersion", m))?;
    }
    let params = ClaimParams {
        runner_id: req.runner_id.clone(),
        lease_ms: req.lease_seconds * 1000,
        remote_addr: Some(runner.caller.ip.to_string()),
        legacy: runner.caller.legacy,
        agent_version: req.agent_version,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(req.wait_seconds as u64);
    loop {
        // Registered before looking, so a job created in between still wakes this claim.
        let notified = state.wake.jobs_changed();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(mut job) = state.store.claim(&params, state.now()).await? {
            // A job queued before deployd filled routes: every runner routes where users
            // are told to go.
            if job.payload.base_path.is_none() {
                job.payload.base_path = crate::defaults::base_path_of(&state, &job.payload);
            }
            state
                .metrics
                .claims
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if job.attempt == 1 {
                let waited = chrono::Utc::now() - job.created_at;
                state
                    .metrics
                    .claim_latency
                    .observe(waited.num_microseconds().unwrap_or(0) as f64 / 1e6);
            }
            tracing::info!(job = job.id, app = %job.app_id, runner = %req.runner_id,
                node = job.runtime_node.as_ref().map(|n| n.node_name.as_str()).unwrap_or("-"), "job claimed");
            state.wake_log(job.id);
            return Ok(ok(job));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || state.shutdown.is_cancelled() {
            return Ok(ok_null());
        }
        let wake = deadline.min(now + CLAIM_RECHECK);
        let _waiting = crate::WaitingGuard::enter(&state.waiting.claims);
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(wake) => {}
            _ = state.shutdown.cancelled() => return Ok(ok_null()),
        }
    }
}

pub async fn heartbeat(
    State(state): St,
    runner: RunnerToken,
    id: Result<Path<i64>, PathRejection>,
    body: Result<JsonBody<HeartbeatRequest>, ApiError>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_error("job id", e))?;
    let JsonBody(req) = body?;
    check_name("runnerId", &req.runner_id)?;
    let extend = req
        .extend_seconds
        .unwrap_or(state.settings.jobs.lease_seconds);
    if !(1..=3600).contains(&extend) {
        return Err(ApiError::field(
            "extendSeconds",
            format!("{extend} is outside 1..=3600"),
        ));
    }
    if let Some(p) = &req.phase {
        let ok_phase =
            !p.is_empty() && p.len() <= 32 && p.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if !ok_phase {
            return Err(ApiError::field(
                "phase",
                "must be 1-32 uppercase letters or '_' (CLONE, BUILD, PUSH, DEPLOY)",
            ));
        }
    }
    if let Some(m) = &req.phase_message {
        if m.len() > 1000 {
            return Err(ApiError::field("phaseMessage", "is longer than 1000 bytes"));
        }
        // PostgreSQL text cannot hold NUL; no engine should be asked to.
        if m.contains('\0') {
            return Err(ApiError::field("phaseMessage", "must not contain NUL"));
        }
    }
    let changed_phase = req.phase.is_some();
    let ans = match state
        .store
        .heartbeat(
            id,
            &req.runner_id,
            extend * 1000,
            req.phase.as_deref(),
            req.phase_message.as_deref(),
            state.now(),
        )
        .await
    {
        Ok(ans) => ans,
        Err(e) if runner.caller.legacy => match cancelled_for(&state, id, &req.runner_id).await {
            // The estate's runner reads a cancel as a 200 whose status is not RUNNING.
            Some(job) => {
                return Ok(ok(HeartbeatAnswer {
                    job_id: id,
                    lease_expire_at: job.lease_expire_at.unwrap_or_else(chrono::Utc::now),
                    cancel_requested: true,
                    status: Some(JobStatus::Cancelled),
                }));
            }
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    if changed_phase {
        state.wake_log(id);
    }
    Ok(ok(ans))
}

/// The job, when `runner` holds it RUNNING and an operator asked to cancel it.
async fn cancelled_for(state: &crate::AppState, id: i64, runner: &str) -> Option<Job> {
    let job = state.store.get_job(id).await.ok()??;
    (job.status == JobStatus::Running
        && job.cancel_requested
        && job.runner_id.as_deref() == Some(runner))
    .then_some(job)
}

/// `Content-Range: start-end`, `bytes start-end/total` or `bytes start-end/*`; `end` inclusive.
fn parse_content_range(v: &str) -> Option<(i64, i64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v).trim();
    let range = v.split('/').next()?;
    let (a, b) = range.split_once('-')?;
    let start: i64 = a.trim().parse().ok()?;
    let end: i64 = b.trim().parse().ok()?;
    (start >= 0 && end >= start - 1).then_some((start, end))
}

pub async fn append_log(
    State(state): St,
    _: RunnerToken,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
    body: Result<RawBody, ApiError>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_error("job id", e))?;
    let RawBody(bytes) = body?;
    let range = headers
        .get("Content-Range")
        .ok_or_else(|| ApiError::field("Content-Range", "header is required (start-end)"))?;
    let (start, end) = range
        .to_str()
        .ok()
        .and_then(parse_content_range)
        .ok_or_else(|| {
            ApiError::field(
                "Content-Range",
                "must be 'start-end' or 'bytes start-end/*'",
            )
        })?;
    if end - start + 1 != bytes.len() as i64 {
        return Err(ApiError::field(
            "Content-Range",
            format!(
                "covers {} bytes but the body holds {}",
                end - start + 1,
                bytes.len()
            ),
        ));
    }
    let length = state
        .store
        .append_log(id, start, &bytes, state.now())
        .await?;
    state.wake_log(id);
    Ok(ok(LogAppendAnswer { length }))
}

pub async fn report(
    State(state): St,
    runner: RunnerToken,
    id: Result<Path<i64>, PathRejection>,
    body: Result<JsonBody<ReportRequest>, ApiError>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_error("job id", e))?;
    let JsonBody(mut req) = body?;
    check_name("runnerId", &req.runner_id)?;
    if let Some(img) = &req.image {
        protocol::validate::ImageRef::parse(img).map_err(|m| ApiError::field("image", m))?;
    }
    if let Some(c) = &req.commit_sha
        && (c.is_empty() || c.len() > 64 || !c.chars().all(|ch| ch.is_ascii_hexdigit()))
    {
        return Err(ApiError::field(
            "commitSha",
            "must be 1-64 hexadecimal digits",
        ));
    }
    if let Some(c) = &req.error_code
        && !protocol::failure::is_valid_code(c)
    {
        return Err(ApiError::field(
            "errorCode",
            "must be 1-64 upper-case letters, digits or _, starting with a letter",
        ));
    }
    if let Some(m) = &req.error_message {
        if m.len() > 64 * 1024 {
            return Err(ApiError::field("errorMessage", "is longer than 64 KiB"));
        }
        if m.contains('\0') {
            return Err(ApiError::field("errorMessage", "must not contain NUL"));
        }
    }
    if runner.caller.legacy && req.status == JobStatus::Failed {
        legacy_cancel(&state, id, &mut req).await;
    }
    let reported = state.store.report(id, &req, state.now()).await?;
    let job = reported.job;
    tracing::info!(job = id, status = %job.status, runner = %req.runner_id, "job reported");
    if !reported.repeat {
        state.metrics.reported(job.status);
        if job.status == JobStatus::Succeeded
            && let (Some(start), Some(end)) = (job.started_at, job.finished_at)
        {
            let took = end - start;
            state
                .metrics
                .deploy_duration
                .observe(took.num_microseconds().unwrap_or(0) as f64 / 1e6);
        }
    }
    state.wake_log(id);
    Ok(ok(job))
}

/// The estate's runner, told that its job was cancelled, stops and reports FAILED: the job
/// is recorded CANCELLED, as the operator asked, and what the runner said goes to its log.
async fn legacy_cancel(state: &crate::AppState, id: i64, req: &mut ReportRequest) {
    let Some(job) = cancelled_for(state, id, &req.runner_id).await else {
        return;
    };
    let said = format!(
        "runner {} reported FAILED after the cancel: {}\n",
        req.runner_id,
        req.error_message.as_deref().unwrap_or("(no message)")
    );
    if let Err(e) = state
        .store
        .append_log(id, job.log_length, said.as_bytes(), state.now())
        .await
    {
        tracing::warn!(job = id, error = %e, "could not keep the runner's words in the job log");
    }
    req.status = JobStatus::Cancelled;
    req.error_message = Some("cancelled by an operator".into());
    req.error_code = None;
}

/// `POST /deploy/runners/checks`: a runner's latest connectivity check.
pub async fn checks(
    State(state): St,
    runner: RunnerToken,
    body: Result<JsonBody<RunnerChecks>, ApiError>,
) -> ApiResult {
    let JsonBody(req) = body?;
    check_name("runnerId", &req.runner_id)?;
    req.checks
        .validate()
        .map_err(|m| ApiError::field("checks", m))?;
    let remote = runner.caller.ip.to_string();
    state
        .store
        .save_check_report(
            Reporter::Runner,
            &req.runner_id,
            Some(&remote),
            &req.checks,
            state.now(),
        )
        .await?;
    Ok(ok(serde_json::json!({
        "runnerId": req.runner_id,
        "violations": req.checks.violations(),
    })))
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes 10-19/20"), Some((10, 19)));
        assert_eq!(parse_content_range("x"), None);
        assert_eq!(parse_content_range("-1-3"), None);
    }
}
