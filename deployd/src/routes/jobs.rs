//! Jobs as the API and operators see them: create, read, list, cancel, follow the log.

use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use protocol::job::{CreateJobRequest, JobStatus, LogChunk};
use serde::Deserialize;

use super::{St, check_id, path_error, query_error};
use crate::auth::{DeployOrAdminToken, DeploySecret};
use crate::error::{ApiError, ApiResult, ok};
use crate::extract::JsonBody;
use crate::store::estate::EstateJob;

pub async fn create(
    State(state): St,
    secret: DeploySecret,
    headers: axum::http::HeaderMap,
    body: Result<JsonBody<CreateJobRequest>, ApiError>,
) -> ApiResult {
    let JsonBody(req) = body?;
    let admin = crate::auth::is_admin(&state, &headers, secret.caller.ip);
    let payload = crate::defaults::complete(&state, req.payload, admin).await?;
    payload.validate_with(state.settings.jobs.allow_local_repos)?;
    let job = state.store.create_job(&payload, state.now()).await?;
    tracing::info!(job = job.id, app = %job.app_id, "job created");
    state.wake_created();
    Ok(ok(job))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
    app_id: Option<String>,
    status: Option<String>,
}

fn check_limit(limit: Option<i64>, default: i64) -> Result<i64, ApiError> {
    let l = limit.unwrap_or(default);
    if !(1..=200).contains(&l) {
        return Err(ApiError::field("limit", format!("{l} is outside 1..=200")));
    }
    Ok(l)
}

pub async fn list<const ADMIN: bool>(
    State(state): St,
    _: DeployOrAdminToken<ADMIN>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(query_error)?;
    let limit = check_limit(q.limit, 20)?;
    if let Some(a) = &q.app_id {
        check_id("appId", a)?;
    }
    let status = match &q.status {
        Some(s) => Some(
            s.parse::<JobStatus>()
                .map_err(|m| ApiError::field("status", m))?,
        ),
        None => None,
    };
    let jobs = state
        .store
        .list_jobs(q.app_id.as_deref(), status, limit)
        .await?;
    Ok(ok(jobs))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ByAppQuery {
    app_id: Option<String>,
    limit: Option<i64>,
}

pub async fn by_app(
    State(state): St,
    _: DeploySecret,
    q: Result<Query<ByAppQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(query_error)?;
    let app = q
        .app_id
        .ok_or_else(|| ApiError::field("appId", "is required"))?;
    check_id("appId", &app)?;
    let limit = check_limit(q.limit, 20)?;
    Ok(ok(state.store.list_jobs(Some(&app), None, limit).await?))
}

/// A job by id: deployd's own (a number), else one of the estate's replaced service kept
/// read-only in its table (`store::estate`), whose ids are strings. A number deployd does not
/// hold is looked up there too.
pub async fn get<const ADMIN: bool>(
    State(state): St,
    _: DeployOrAdminToken<ADMIN>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(raw) = id.map_err(|e| path_error("job id", e))?;
    let numeric = raw.parse::<i64>().ok();
    if let Some(id) = numeric
        && let Some(job) = state.store.get_job(id).await?
    {
        return Ok(ok(job));
    }
    let refused = || match numeric {
        Some(id) => ApiError::not_found(format!("job {id} not found")),
        None => ApiError::bad_request(format!(
            "job id: {raw:?} is not one of deployd's (64-bit numbers)"
        )),
    };
    if protocol::validate::id(&raw).is_err() {
        return Err(refused());
    }
    match state.store.estate_job(&raw).await? {
        EstateJob::Found(job) => Ok(ok(job)),
        EstateJob::Missing => Err(ApiError::not_found(format!(
            "job {raw} not found, neither deployd's nor the estate's"
        ))),
        EstateJob::NoEstate => Err(refused()),
    }
}

pub async fn cancel<const ADMIN: bool>(
    State(state): St,
    token: DeployOrAdminToken<ADMIN>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_error("job id", e))?;
    let job = state.store.cancel_job(id, state.now()).await?;
    let detail = format!("status {}", job.status);
    if let Err(e) = state
        .store
        .audit(
            &format!("api@{}", token.caller.ip),
            "job.cancel",
            &id.to_string(),
            Some(&detail),
            state.now(),
        )
        .await
    {
        tracing::error!(error = %e, "audit write failed");
    }
    state.wake_log(job.id);
    Ok(ok(job))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogQuery {
    offset: Option<i64>,
    wait_seconds: Option<i64>,
}

/// How often a waiting log follow looks again without a wake-up.
const LOG_RECHECK: Duration = Duration::from_secs(2);

/// Most bytes one read answers with.
const LOG_READ_MAX: usize = 256 * 1024;

pub async fn read_log<const ADMIN: bool>(
    State(state): St,
    _: DeployOrAdminToken<ADMIN>,
    id: Result<Path<i64>, PathRejection>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult {
    let Path(id) = id.map_err(|e| path_error("job id", e))?;
    let Query(q) = q.map_err(query_error)?;
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::field("offset", "must not be negative"));
    }
    let wait = q.wait_seconds.unwrap_or(0);
    if !(0..=60).contains(&wait) {
        return Err(ApiError::field(
            "waitSeconds",
            format!("{wait} is outside 0..=60"),
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
    let follow = state.wake.follow_log(id);
    loop {
        let notified = follow.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let read = state.store.read_log(id, offset, LOG_READ_MAX).await?;
        if offset > read.stored {
            return Err(ApiError {
                status: axum::http::StatusCode::RANGE_NOT_SATISFIABLE,
                message: format!(
                    "offset {offset} is past the end of the log ({} bytes)",
                    read.stored
                ),
                data: Some(serde_json::json!({ "length": read.stored })),
            });
        }
        let now = tokio::time::Instant::now();
        if !read.data.is_empty()
            || read.status.is_terminal()
            || now >= deadline
            || state.shutdown.is_cancelled()
        {
            let (text, used) = utf8_prefix(
                &read.data,
                read.status.is_terminal() || read.data.len() >= LOG_READ_MAX,
            );
            let next = offset + used as i64;
            return Ok(ok(LogChunk {
                job_id: id,
                offset,
                next_offset: next,
                content: text,
                status: read.status,
                complete: read.status.is_terminal() && next >= read.stored,
                truncated: read.truncated,
            }));
        }
        // Woken by an append here or through another replica (the change feed); looks
        // again now and then regardless, should a wake-up have been missed.
        let _waiting = crate::WaitingGuard::enter(&state.waiting.log_follows);
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline.min(now + LOG_RECHECK)) => {}
            _ = state.shutdown.cancelled() => {}
        }
    }
}

/// The longest prefix that is whole UTF-8; a character split across appends waits for its
/// other bytes unless `force`, where it is replaced.
fn utf8_prefix(data: &[u8], force: bool) -> (String, usize) {
    match std::str::from_utf8(data) {
        Ok(s) => (s.to_string(), data.len()),
        Err(e) if e.error_len().is_none() && !force && e.valid_up_to() > 0 => {
            let n = e.valid_up_to();
            (String::from_utf8_lossy(&data[..n]).into_owned(), n)
        }
        Err(_) => (String::from_utf8_lossy(data).into_owned(), data.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::utf8_prefix;

    #[test]
    fn a_split_character_waits_for_its_tail() {
        let s = "héllo".as_bytes();
        let (t, n) = utf8_prefix(&s[..2], false);
        assert_eq!((t.as_str(), n), ("h", 1));
        let (t, n) = utf8_prefix(s, false);
        assert_eq!((t.as_str(), n), ("héllo", s.len()));
    }
}
