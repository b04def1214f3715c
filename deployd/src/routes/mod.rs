//! The HTTP surface of deployd (DESIGN §3.1).

mod admin;
mod apps;
mod jobs;
mod nodes;
mod page;
mod replicas;
mod runner;
pub mod table;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ok};
use crate::extract::BODY_LIMIT;

pub type St = State<Arc<AppState>>;
pub type Peer = axum::extract::ConnectInfo<SocketAddr>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/internal/health", get(health))
        .route("/internal/wake", post(replicas::wake))
        .route("/admin/replicas", get(replicas::list))
        .route("/metrics", get(metrics))
        .route("/deploy/jobs", post(jobs::create).get(jobs::list::<false>))
        .route("/deploy/jobs/by-app", get(jobs::by_app))
        .route("/deploy/jobs/claim", post(runner::claim))
        .route("/deploy/jobs/{id}", get(jobs::get::<false>))
        .route("/deploy/jobs/{id}/cancel", post(jobs::cancel::<false>))
        .route(
            "/deploy/jobs/{id}/log",
            get(jobs::read_log::<false>).post(runner::append_log),
        )
        .route("/deploy/jobs/{id}/heartbeat", post(runner::heartbeat))
        .route("/deploy/jobs/{id}/report", post(runner::report))
        .route("/deploy/runners/checks", post(runner::checks))
        .route("/deploy/apps/stop", post(apps::stop))
        .route("/deploy/apps/purge", post(apps::purge))
        .route("/deploy/apps/cleanup", post(apps::cleanup))
        .route("/internal/runtime-nodes/heartbeat", post(nodes::heartbeat))
        .route("/admin/nodes", get(admin::list_nodes))
        .route("/admin/runtime-nodes/list", get(admin::list_nodes))
        .route(
            "/admin/nodes/{name}",
            axum::routing::delete(admin::remove_node),
        )
        .route("/admin/nodes/{name}/{action}", post(admin::node_action))
        .route(
            "/admin/nodes/{name}/apps/{app_id}/stop",
            post(apps::stop_on_node),
        )
        .route("/admin/placements", get(admin::placements))
        .route("/admin/routes", get(table::json_admin))
        .route("/admin/routes/traefik", get(table::traefik_admin))
        .route("/admin/routes/nginx", get(table::nginx_admin))
        .route("/internal/runtime-nodes/routes", get(table::json_node))
        .route("/admin/placements/reassign", post(admin::reassign))
        .route("/admin/runners", get(admin::runners))
        .route("/admin/apps", get(admin::apps))
        .route("/admin/apps/{app_id}", get(admin::app))
        .route("/admin/apps/{app_id}/{view}", get(apps::on_node))
        .route("/admin/apps/{app_id}/owner", post(admin::move_app))
        .route("/admin/audit", get(admin::audit_route))
        .route("/admin/jobs", get(jobs::list::<true>))
        .route("/admin/jobs/{id}", get(jobs::get::<true>))
        .route("/admin/jobs/{id}/cancel", post(jobs::cancel::<true>))
        .route("/admin/jobs/{id}/log", get(jobs::read_log::<true>))
        .route("/admin/", get(page::admin_page))
        .route("/admin/nodes-admin.html", get(page::admin_page))
        .route("/admin/app.js", get(page::app_js))
        .route("/admin/app.css", get(page::app_css))
        .route("/admin", get(page::redirect))
        .route("/admin/checks", get(admin::checks))
        .route("/admin/settings", get(admin::settings))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::extract::reject_oversized))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            crate::extract::BODY_TIMEOUT,
        ))
        .with_state(state)
}

async fn health(State(state): St) -> ApiResult {
    match state.store.ping().await {
        Ok(()) => Ok(ok(serde_json::json!({ "status": "UP", "db": "UP" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database unreachable; see deployd's log",
            ))
        }
    }
}

/// Prometheus text. No token (scrapers send none); the admin allowlist applies.
async fn metrics(State(state): St, peer: Peer) -> Result<axum::response::Response, ApiError> {
    let ip = peer.ip();
    if !state.allow.admin.is_empty() && !state.allow.admin.iter().any(|n| n.contains(&ip)) {
        return Err(ApiError::forbidden(format!(
            "address {ip} is not in the allowlist of this endpoint"
        )));
    }
    let text = crate::metrics::render(&state).await;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    )
}

/// A query string parse failure as a 400 that says which parameter.
pub fn query_error(e: QueryRejection) -> ApiError {
    let text = e.body_text();
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_string();
    ApiError::bad_request(format!("invalid query: {text}"))
}

pub fn path_error(what: &str, e: PathRejection) -> ApiError {
    ApiError::bad_request(format!("{what}: {}", e.body_text()))
}

pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    protocol::validate::id(value).map_err(|m| ApiError::field(field, m))
}

pub fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    protocol::validate::name(value).map_err(|m| ApiError::field(field, m))
}
