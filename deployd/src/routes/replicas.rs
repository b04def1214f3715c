//! Replicas sharing the database: the wake-ups they send each other, and their list.

use axum::extract::State;

use super::St;
use crate::auth::{AdminToken, DeploySecret};
use crate::error::{ApiError, ApiResult, ok, ok_null};
use crate::extract::JsonBody;
use crate::replicas::{MAX_LOGS, Replica, WakeRequest};

/// `POST /internal/wake` (deploy secret): another replica committed something that may
/// concern the long-polls waiting here.
pub async fn wake(
    State(state): St,
    _: DeploySecret,
    body: Result<JsonBody<WakeRequest>, ApiError>,
) -> ApiResult {
    let JsonBody(req) = body?;
    super::check_name("from", &req.from)?;
    if !state.peers.knows(&req.from) {
        // A replica that joined since the last look: read the table now, so that this
        // one wakes it too.
        state.peers.refresh.notify_one();
    }
    state
        .metrics
        .replica_wakes
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if req.jobs {
        state.wake.wake_jobs();
    } else if req.created > 0 {
        state.wake.wake_claims(req.created.min(10_000));
    }
    if req.logs.len() > MAX_LOGS {
        state.wake.wake_all_logs();
    } else {
        for id in req.logs {
            state.wake.wake_log(id);
        }
    }
    Ok(ok_null())
}

/// `GET /admin/replicas`: the replicas seen lately, this one marked.
pub async fn list(State(state): St, _: AdminToken) -> ApiResult {
    let since = crate::replicas::live_since(&state, state.now());
    let rows = state.store.list_replicas(since).await?;
    let list: Vec<Replica> = rows
        .into_iter()
        .map(|r| Replica {
            me: r.replica_id == state.peers.me(),
            replica_id: r.replica_id,
            internal_url: r.internal_url,
            last_seen_at: crate::store::rows::ts(r.last_seen_at),
        })
        .collect();
    Ok(ok(list))
}
