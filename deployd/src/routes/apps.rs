//! App-level operations of the API: stop, purge, cleanup. Stop and cleanup reach the
//! app's runtime node through its agentd.

use axum::extract::State;
use protocol::agent::AgentAppRef;
use protocol::job::AppRef;

use super::{St, check_id};
use crate::AppState;
use crate::auth::{AdminToken, DeploySecret};
use crate::error::{ApiError, ApiResult, ok};
use crate::extract::JsonBody;

fn check(app: &AppRef) -> Result<(), ApiError> {
    check_id("appId", &app.app_id)?;
    if let Some(u) = &app.user_id {
        check_id("userId", u)?;
    }
    Ok(())
}

/// Calls `path` on the agentd of the node the app is placed on.
async fn call_agent(
    state: &AppState,
    app: &AppRef,
    path: &str,
) -> Result<serde_json::Value, ApiError> {
    let placements = state.store.list_placements(None).await?;
    let placement = placements
        .iter()
        .find(|p| p.app_id == app.app_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "app {} is not placed on any runtime node",
                app.app_id
            ))
        })?;
    let user = app.user_id.clone().or_else(|| placement.user_id.clone());
    call_agent_on(state, &placement.node_name, &app.app_id, user, path).await
}

/// Calls `path` for `app_id` on the agentd of `node_name`.
async fn call_agent_on(
    state: &AppState,
    node_name: &str,
    app_id: &str,
    user: Option<String>,
    path: &str,
) -> Result<serde_json::Value, ApiError> {
    let node = state
        .store
        .get_node(node_name, state.now())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("runtime node {node_name} is not registered"))
        })?;
    let user =
        user.ok_or_else(|| ApiError::field("userId", "is required (the app's user is not known)"))?;
    let url = format!("{}{path}", node.agent_base_url.trim_end_matches('/'));
    let body = AgentAppRef {
        user_id: user,
        app_id: app_id.to_string(),
    };
    let resp = state
        .http
        .post(&url)
        .header(
            protocol::headers::RUNTIME_TOKEN,
            state.settings.auth.runtime_token.expose(),
        )
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            ApiError::bad_gateway(format!(
                "runtime node {} unreachable at {url}: {e}",
                node.node_name
            ))
        })?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let detail = value
            .get("detail")
            .and_then(|d| d.as_str())
            .unwrap_or("no detail")
            .to_string();
        return Err(ApiError::bad_gateway(format!(
            "runtime node {} answered {status}: {detail}",
            node.node_name
        )));
    }
    Ok(value)
}

pub async fn stop(
    State(state): St,
    _: DeploySecret,
    body: Result<JsonBody<AppRef>, ApiError>,
) -> ApiResult {
    let JsonBody(app) = body?;
    check(&app)?;
    let answer = call_agent(&state, &app, "/agent/apps/stop").await?;
    state
        .store
        .mark_app_stopped(&app.app_id, state.now())
        .await?;
    Ok(ok(answer))
}

/// `POST /admin/nodes/{name}/apps/{appId}/stop`: stops an app on one given node (the old
/// node of a migration), whatever its placement says now.
pub async fn stop_on_node(
    State(state): St,
    admin: AdminToken,
    axum::extract::Path((node, app_id)): axum::extract::Path<(String, String)>,
) -> ApiResult {
    super::check_name("nodeName", &node)?;
    check_id("appId", &app_id)?;
    let user = state
        .store
        .get_app_run(&app_id)
        .await?
        .and_then(|r| r.user_id);
    let answer = call_agent_on(&state, &node, &app_id, user, "/agent/apps/stop").await?;
    if let Err(e) = state
        .store
        .audit(
            &format!("admin@{}", admin.caller.ip),
            "app.stop-on-node",
            &app_id,
            Some(&node),
            state.now(),
        )
        .await
    {
        tracing::error!(error = %e, "audit write failed");
    }
    Ok(ok(answer))
}

pub async fn purge(
    State(state): St,
    _: DeploySecret,
    body: Result<JsonBody<AppRef>, ApiError>,
) -> ApiResult {
    let JsonBody(app) = body?;
    check(&app)?;
    let answer = state.store.purge_app(&app.app_id).await?;
    tracing::info!(app = %app.app_id, jobs = answer.deleted_jobs, "app purged");
    Ok(ok(answer))
}

pub async fn cleanup(
    State(state): St,
    _: DeploySecret,
    body: Result<JsonBody<AppRef>, ApiError>,
) -> ApiResult {
    let JsonBody(app) = body?;
    check(&app)?;
    let run = state.store.get_app_run(&app.app_id).await?;
    let image_tags: Vec<String> = run
        .as_ref()
        .map(|r| r.recent_images.iter().map(|d| d.image.clone()).collect())
        .unwrap_or_default();
    let runtime = match call_agent(&state, &app, "/agent/apps/delete").await {
        Ok(v) => v,
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            serde_json::json!({ "skipped": e.message })
        }
        Err(e) => return Err(e),
    };
    let purge = state.store.purge_app(&app.app_id).await?;
    Ok(ok(serde_json::json!({
        "imageTags": image_tags,
        "registry": { "skipped": "deployd holds no registry credentials; prune with functl registry prune" },
        "runtime": runtime,
        "purge": purge,
    })))
}
