//! The admin API: nodes, placements, runners, apps, audit.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use protocol::node::{EstateSettings, ReassignRequest};
use serde::Deserialize;

use super::{St, check_id, check_name, query_error};
use crate::AppState;
use crate::auth::{AdminToken, Caller};
use crate::error::{ApiError, ApiResult, ok};
use crate::extract::JsonBody;
use crate::store::NodeFlag;

async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: Option<&str>,
) {
    if let Err(e) = state
        .store
        .audit(
            &format!("admin@{}", caller.ip),
            action,
            target,
            detail,
            state.now(),
        )
        .await
    {
        tracing::error!(error = %e, "audit write failed");
    }
}

pub async fn list_nodes(State(state): St, _: AdminToken) -> ApiResult {
    Ok(ok(state.store.list_nodes(state.now()).await?))
}

pub async fn node_action(
    State(state): St,
    admin: AdminToken,
    Path((name, action)): Path<(String, String)>,
) -> ApiResult {
    check_name("nodeName", &name)?;
    let flag = match action.as_str() {
        "drain" => NodeFlag::Drain,
        "undrain" => NodeFlag::Undrain,
        "enable" => NodeFlag::Enable,
        "disable" => NodeFlag::Disable,
        other => {
            return Err(ApiError::not_found(format!(
                "unknown node action {other:?}; one of drain, undrain, enable, disable"
            )));
        }
    };
    let node = state.store.set_node_flag(&name, flag, state.now()).await?;
    tracing::info!(node = %name, action = %action, "node flag set");
    audit(
        &state,
        &admin.caller,
        &format!("node.{action}"),
        &name,
        None,
    )
    .await;
    state.wake_jobs();
    Ok(ok(node))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveQuery {
    force: Option<bool>,
}

pub async fn remove_node(
    State(state): St,
    admin: AdminToken,
    Path(name): Path<String>,
    q: Result<Query<RemoveQuery>, QueryRejection>,
) -> ApiResult {
    check_name("nodeName", &name)?;
    let Query(q) = q.map_err(query_error)?;
    let force = q.force.unwrap_or(false);
    let removed = state.store.remove_node(&name, force).await?;
    let detail = format!("force={force}, placements removed={removed}");
    audit(&state, &admin.caller, "node.remove", &name, Some(&detail)).await;
    Ok(ok(
        serde_json::json!({ "nodeName": name, "removed": true, "deletedPlacements": removed }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlacementQuery {
    node_name: Option<String>,
}

pub async fn placements(
    State(state): St,
    _: AdminToken,
    q: Result<Query<PlacementQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(query_error)?;
    if let Some(n) = &q.node_name {
        check_name("nodeName", n)?;
    }
    Ok(ok(state
        .store
        .list_placements(q.node_name.as_deref())
        .await?))
}

pub async fn reassign(
    State(state): St,
    admin: AdminToken,
    body: Result<JsonBody<ReassignRequest>, ApiError>,
) -> ApiResult {
    let JsonBody(req) = body?;
    check_id("appId", &req.app_id)?;
    check_name("nodeName", &req.node_name)?;
    let p = state
        .store
        .reassign(&req.app_id, &req.node_name, state.now())
        .await?;
    audit(
        &state,
        &admin.caller,
        "placement.reassign",
        &req.app_id,
        Some(&req.node_name),
    )
    .await;
    Ok(ok(p))
}

pub async fn runners(State(state): St, _: AdminToken) -> ApiResult {
    Ok(ok(state.store.list_runners(state.now()).await?))
}

pub async fn apps(State(state): St, _: AdminToken) -> ApiResult {
    let mut runs = state.store.list_app_runs().await?;
    for r in &mut runs {
        r.image_repo = crate::defaults::image_repo(&state, r);
    }
    Ok(ok(runs))
}

pub async fn app(State(state): St, _: AdminToken, Path(app_id): Path<String>) -> ApiResult {
    check_id("appId", &app_id)?;
    let mut run = state
        .store
        .get_app_run(&app_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {app_id} has never been deployed")))?;
    run.image_repo = crate::defaults::image_repo(&state, &run);
    Ok(ok(run))
}

/// Gives an app to another user: the one way its owner changes. Its next deploy names its
/// image, container and database after the new owner.
pub async fn move_app(
    State(state): St,
    token: AdminToken,
    Path(app_id): Path<String>,
    body: Result<crate::extract::JsonBody<protocol::app::MoveAppRequest>, ApiError>,
) -> ApiResult {
    check_id("appId", &app_id)?;
    let crate::extract::JsonBody(req) = body?;
    check_id("userId", &req.user_id)?;
    let known = state.store.known_app(&app_id).await?;
    if known.owner.is_none() && known.last.is_none() {
        return Err(ApiError::not_found(format!(
            "app {app_id} is not known to deployd"
        )));
    }
    let before = known.owner.unwrap_or_else(|| "none".into());
    state
        .store
        .set_app_owner(&app_id, &req.user_id, state.now())
        .await?;
    let detail = format!("user {before} -> {}", req.user_id);
    if let Err(e) = state
        .store
        .audit(
            &format!("admin@{}", token.caller.ip),
            "app.move",
            &app_id,
            Some(&detail),
            state.now(),
        )
        .await
    {
        tracing::error!(error = %e, "audit write failed");
    }
    tracing::info!(app = %app_id, %detail, "app moved to another user");
    Ok(ok(
        serde_json::json!({ "appId": app_id, "userId": req.user_id, "previousUserId": before }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
}

pub async fn audit_log(
    State(state): St,
    _: AdminToken,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(query_error)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("{limit} is outside 1..=1000"),
        ));
    }
    Ok(ok(state.store.list_audit(limit).await?))
}

pub use audit_log as audit_route;

/// `GET /admin/checks`: the latest connectivity check of each agent that sends them.
pub async fn checks(State(state): St, _: AdminToken) -> ApiResult {
    Ok(ok(state.store.list_check_reports().await?))
}

/// `GET /admin/settings`: the thresholds deployd judges nodes, runners and leases by, and
/// its clock, for `functl doctor`. No secret is among them.
pub async fn settings(State(state): St, _: AdminToken) -> ApiResult {
    let s = &state.settings;
    Ok(ok(EstateSettings {
        now: crate::store::rows::ts(state.now()),
        heartbeat_stale_seconds: s.nodes.heartbeat_stale_seconds,
        disk_free_min_pct: s.nodes.disk_free_min_pct,
        runner_stale_seconds: s.nodes.runner_stale_seconds,
        lease_seconds: s.jobs.lease_seconds,
        max_attempts: s.jobs.max_attempts,
    }))
}
