//! agentd's runtime API on port 7005 (`X-Runtime-Token`); errors are `{"detail": ...}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::agent::{
    AgentAppRef, AgentError, AppLogChunk, DeployAppRequest, LogStream, StopAppAnswer,
};
use protocol::failure::FailureCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{Runtime, RuntimeError};

pub struct ApiError(StatusCode, String, Option<FailureCode>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = AgentError {
            detail: self.1,
            code: self.2.map(|c| c.as_str().to_string()),
        };
        (self.0, axum::Json(body)).into_response()
    }
}

/// A refused request: the caller's mistake, no failure code.
fn refused(status: StatusCode, detail: String) -> ApiError {
    let code = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FailureCode::AgentAuth,
        StatusCode::NOT_FOUND => FailureCode::NotFound,
        StatusCode::CONFLICT => FailureCode::DeployInFlight,
        s if s.is_client_error() => FailureCode::BadRequest,
        _ => FailureCode::Internal,
    };
    ApiError(status, detail, Some(code))
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        ApiError::from(&e)
    }
}

impl From<&RuntimeError> for ApiError {
    fn from(e: &RuntimeError) -> Self {
        let status = match e {
            RuntimeError::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RuntimeError::NotFound(_) => StatusCode::NOT_FOUND,
            RuntimeError::InFlight(_) | RuntimeError::PathTaken { .. } => StatusCode::CONFLICT,
            RuntimeError::Docker(d) if d.is_registry() => StatusCode::BAD_GATEWAY,
            RuntimeError::Docker(_) => StatusCode::SERVICE_UNAVAILABLE,
            RuntimeError::Unhealthy(..) | RuntimeError::Registry(..) => StatusCode::BAD_GATEWAY,
            RuntimeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string(), Some(e.code()))
    }
}

type St = State<Arc<Runtime>>;

pub fn router(rt: Arc<Runtime>) -> Router {
    Router::new()
        .route("/internal/health", get(health))
        .route("/metrics", get(metrics))
        .route("/agent/apps/deploy", post(deploy))
        .route("/agent/apps/stop", post(stop))
        .route("/agent/apps/delete", post(delete))
        .route("/agent/apps/status", get(status))
        .route("/agent/apps/{app_id}/logs", get(logs))
        .fallback(|| async { refused(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(axum::middleware::from_fn(reject_oversized))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(30),
        ))
        .with_state(rt)
}

/// Prometheus text; no token (scrapers send none), the port is the node's internal one.
async fn metrics(State(rt): St) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        rt.render_metrics().await,
    )
        .into_response()
}

async fn health() -> Response {
    axum::Json(serde_json::json!({ "ok": true })).into_response()
}

/// A request that carried the node's runtime token. A handler that names it in its
/// signature cannot run without the check.
pub struct RuntimeToken;

impl FromRequestParts<Arc<Runtime>> for RuntimeToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, rt: &Arc<Runtime>) -> Result<Self, ApiError> {
        let expected = rt.settings.runtime_token.expose().as_bytes();
        let values: Vec<_> = parts
            .headers
            .get_all(protocol::headers::RUNTIME_TOKEN)
            .iter()
            .collect();
        match values.as_slice() {
            [] => Err(refused(
                StatusCode::UNAUTHORIZED,
                "missing X-Runtime-Token header".into(),
            )),
            // Length is not secret; the bytes are compared in constant time.
            [v] if v.as_bytes().len() == expected.len()
                && bool::from(v.as_bytes().ct_eq(expected)) =>
            {
                Ok(RuntimeToken)
            }
            [_] => Err(refused(
                StatusCode::UNAUTHORIZED,
                "wrong X-Runtime-Token".into(),
            )),
            _ => Err(refused(
                StatusCode::UNAUTHORIZED,
                "more than one X-Runtime-Token header".into(),
            )),
        }
    }
}

fn body<T: DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 1 MiB".into(),
            )
        } else {
            refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("cannot read the body: {e}"),
            )
        }
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let msg = msg
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string();
        refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            if path == "." {
                msg
            } else {
                format!("{path}: {msg}")
            },
        )
    })
}

async fn deploy(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: DeployAppRequest = body(b)?;
    // The deploy runs on if this caller goes away; it logs its own end.
    match rt.deploy(req).await {
        Ok(ans) => Ok(axum::Json(ans).into_response()),
        Err(e) => Err(ApiError::from(&*e)),
    }
}

async fn stop(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: AgentAppRef = body(b)?;
    rt.stop(&req.user_id, &req.app_id).await?;
    Ok(axum::Json(StopAppAnswer {
        app_id: req.app_id,
        status: "STOPPED".into(),
    })
    .into_response())
}

async fn delete(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: AgentAppRef = body(b)?;
    Ok(axum::Json(rt.delete(&req.user_id, &req.app_id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusQuery {
    #[serde(deserialize_with = "protocol::job::string_or_number")]
    user_id: String,
    #[serde(deserialize_with = "protocol::job::string_or_number")]
    app_id: String,
}

async fn status(
    State(rt): St,
    _: RuntimeToken,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| refused(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    Ok(axum::Json(rt.status(&q.user_id, &q.app_id).await?).into_response())
}

#[derive(Deserialize)]
struct LogsQuery {
    /// The last N lines (all when absent in NDJSON, 100 in the old JSON answer).
    tail: Option<u64>,
    /// Unix seconds: only output written since then.
    since: Option<i64>,
    #[serde(default)]
    follow: bool,
    /// `json` (the old agent's answer, whole) or `ndjson` (streamed); `follow` streams.
    format: Option<String>,
}

/// `GET /agent/apps/{appId}/logs`: the serving container's stdout and stderr. The old
/// answer `{appId, containerName, logs}` unless asked for NDJSON (one
/// [`AppLogChunk`] a line, sent as the engine gives it, to the end of the output or, with
/// `follow`, until the container stops or the caller goes away).
async fn logs(
    State(rt): St,
    _: RuntimeToken,
    Path(app_id): Path<String>,
    q: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;

    let Query(q) = q.map_err(|e| refused(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let ndjson = match q.format.as_deref() {
        None => q.follow,
        Some("ndjson") => true,
        Some("json") if q.follow => {
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "follow streams its answer: ask for format=ndjson".into(),
            ));
        }
        Some("json") => false,
        Some(other) => {
            return Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("format {other:?}: one of json, ndjson"),
            ));
        }
    };
    if !ndjson {
        let tail = q.tail.unwrap_or(100).clamp(1, 10_000);
        let (name, mut stream) = rt.logs(&app_id, Some(tail), q.since, false).await?;
        let mut text = String::new();
        while let Some(item) = stream.next().await {
            let (_, bytes) = item.map_err(RuntimeError::from)?;
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        return Ok(axum::Json(
            serde_json::json!({ "appId": app_id, "containerName": name, "logs": text }),
        )
        .into_response());
    }
    let (name, stream) = rt.logs(&app_id, q.tail, q.since, q.follow).await?;
    tracing::debug!(app = %app_id, container = %name, follow = q.follow, "logs");
    let line = |chunk: AppLogChunk| {
        let mut v = serde_json::to_vec(&chunk).unwrap_or_default();
        v.push(b'\n');
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(v))
    };
    // A failure of the engine mid-stream is the last line, saying so.
    let body = stream
        .map(|item| match item {
            Ok((stream, bytes)) => (
                AppLogChunk {
                    stream,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                },
                false,
            ),
            Err(e) => (
                AppLogChunk {
                    stream: LogStream::Error,
                    text: e.to_string(),
                },
                true,
            ),
        })
        .scan(false, move |ended, (chunk, last)| {
            let item = (!*ended).then(|| line(chunk));
            *ended = last;
            std::future::ready(item)
        });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// A body announced larger than the limit is refused from the head alone.
async fn reject_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > 1024 * 1024) {
        return refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than 1 MiB".into(),
        )
        .into_response();
    }
    next.run(req).await
}
