//! App-level operations of the API: stop, purge, cleanup, and the app's container (state
//! and output). Stop, cleanup and the container reach the app's runtime node through its
//! agentd.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use protocol::agent::{AgentAppRef, AppLogChunk, AppStatusAnswer, LogStream};
use protocol::app::{AppContainer, AppLogsQuery};
use protocol::job::AppRef;
use protocol::node::RuntimeNode;

use super::{St, check_id, query_error};
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
        let detail = agent_detail(&value);
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

/// The node holding `app_id` (its placement), and the app's user.
async fn node_of(state: &AppState, app_id: &str) -> Result<(RuntimeNode, String), ApiError> {
    let placements = state.store.list_placements(None).await?;
    let run = state.store.get_app_run(app_id).await?;
    let Some(placement) = placements.into_iter().find(|p| p.app_id == app_id) else {
        return Err(ApiError::not_found(match run {
            None => format!("app {app_id} is unknown to deployd (never deployed, or purged)"),
            Some(_) => format!("app {app_id} is not placed on any runtime node"),
        }));
    };
    let node = state
        .store
        .get_node(&placement.node_name, state.now())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "runtime node {} of app {app_id} is not registered",
                placement.node_name
            ))
        })?;
    let user = placement
        .user_id
        .or_else(|| run.and_then(|r| r.user_id))
        .ok_or_else(|| ApiError::field("userId", "is not known for this app"))?;
    Ok((node, user))
}

/// Follows run as long as the container writes: no overall timeout, only one to connect.
fn streaming_http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// `GET /admin/apps/{appId}/container` and `/admin/apps/{appId}/logs`: the app's container
/// as the agent of its node sees it, or its output streamed through as the agent sends it.
pub async fn on_node(
    State(state): St,
    _: AdminToken,
    Path((app_id, view)): Path<(String, String)>,
    q: Result<Query<AppLogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_id("appId", &app_id)?;
    match view.as_str() {
        "container" => Ok(ok(container(&state, &app_id).await?).into_response()),
        "logs" => {
            let Query(q) = q.map_err(query_error)?;
            logs(&state, &app_id, &q).await
        }
        other => Err(ApiError::not_found(format!(
            "no such endpoint: /admin/apps/{app_id}/{other} (one of container, logs)"
        ))),
    }
}

async fn container(state: &AppState, app_id: &str) -> Result<AppContainer, ApiError> {
    let (node, user) = node_of(state, app_id).await?;
    let url = format!(
        "{}/agent/apps/status",
        node.agent_base_url.trim_end_matches('/')
    );
    let resp = state
        .http
        .get(&url)
        .query(&[("userId", user.as_str()), ("appId", app_id)])
        .header(
            protocol::headers::RUNTIME_TOKEN,
            state.settings.auth.runtime_token.expose(),
        )
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| unreachable_node(&node, &e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(agent_refused(&node, app_id, resp).await);
    }
    let answer: AppStatusAnswer = resp.json().await.map_err(|e| {
        ApiError::bad_gateway(format!(
            "runtime node {} answered {url} with something else than a status: {e}",
            node.node_name
        ))
    })?;
    let public_url = match &answer.base_path {
        Some(base) => Some(format!(
            "{}{}/",
            node.gateway_base_url.trim_end_matches('/'),
            base.trim_end_matches('/')
        )),
        // An agent that does not say its base path: the URL of the last deploy.
        None => state
            .store
            .get_app_run(app_id)
            .await?
            .and_then(|r| r.deploy_url),
    };
    Ok(AppContainer {
        app_id: app_id.to_string(),
        node_name: node.node_name,
        agent_base_url: node.agent_base_url,
        gateway_base_url: node.gateway_base_url,
        public_url,
        container: answer,
    })
}

async fn logs(state: &AppState, app_id: &str, q: &AppLogsQuery) -> Result<Response, ApiError> {
    let (node, _) = node_of(state, app_id).await?;
    let url = format!(
        "{}/agent/apps/{app_id}/logs",
        node.agent_base_url.trim_end_matches('/')
    );
    let mut rb = streaming_http()
        .get(&url)
        .query(&[("format", "ndjson")])
        .query(&[("follow", q.follow)])
        .header(
            protocol::headers::RUNTIME_TOKEN,
            state.settings.auth.runtime_token.expose(),
        );
    if let Some(tail) = q.tail {
        rb = rb.query(&[("tail", tail)]);
    }
    if let Some(since) = q.since {
        rb = rb.query(&[("since", since)]);
    }
    let resp = rb.send().await.map_err(|e| unreachable_node(&node, &e))?;
    if !resp.status().is_success() {
        return Err(agent_refused(&node, app_id, resp).await);
    }
    tracing::info!(app = %app_id, node = %node.node_name, follow = q.follow, "app logs");
    // Each chunk goes on as it comes; the client going away drops this stream and with it
    // the request to the agent, which drops the engine's. A shutdown ends a follow.
    let shutdown = state.shutdown.clone();
    let node_name = node.node_name.clone();
    let body = futures_util::stream::unfold(Some(resp), move |resp| {
        let node_name = node_name.clone();
        async move {
            let mut resp = resp?;
            match resp.chunk().await {
                Ok(Some(bytes)) => Some((bytes, Some(resp))),
                Ok(None) => None,
                Err(e) => {
                    let chunk = AppLogChunk {
                        stream: LogStream::Error,
                        text: format!("runtime node {node_name} broke off the logs: {e}"),
                    };
                    let mut line = serde_json::to_vec(&chunk).unwrap_or_default();
                    // After a partial line, the error starts a line of its own.
                    line.insert(0, b'\n');
                    line.push(b'\n');
                    Some((bytes::Bytes::from(line), None))
                }
            }
        }
    })
    .map(Ok::<_, std::convert::Infallible>)
    .take_until(async move { shutdown.cancelled().await });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

fn unreachable_node(node: &RuntimeNode, e: &reqwest::Error) -> ApiError {
    // reqwest's own words name the whole URL; its innermost cause says what went wrong.
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    ApiError::bad_gateway(format!(
        "runtime node {} unreachable at {}: {cause}",
        node.node_name, node.agent_base_url
    ))
}

/// An agent's error in words: its `detail`, a string or (a 422) a list of refused fields.
fn agent_detail(value: &serde_json::Value) -> String {
    serde_json::from_value::<protocol::agent::AgentError>(value.clone())
        .map(|e| e.detail)
        .unwrap_or_else(|_| "no detail".into())
}

/// An agent's refusal: it holds no container of the app (404), or something else (502).
async fn agent_refused(node: &RuntimeNode, app_id: &str, resp: reqwest::Response) -> ApiError {
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    let detail = agent_detail(&value);
    if status == axum::http::StatusCode::NOT_FOUND {
        return ApiError::not_found(format!(
            "runtime node {} holds no container of app {app_id}: {detail}",
            node.node_name
        ));
    }
    ApiError::bad_gateway(format!(
        "runtime node {} answered {status}: {detail}",
        node.node_name
    ))
}
