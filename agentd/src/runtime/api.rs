//! agentd's runtime API on port 7005 (`X-Runtime-Token`); errors are `{"detail": ...}`: a
//! sentence, or for a 422 the list of refused fields as the old agent's framework sent it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::agent::{
    AgentAppRef, AgentError, AgentInvalid, AppLogChunk, DeployAppRequest, InvalidField, Loc,
    LogStream,
};
use protocol::failure::FailureCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{Runtime, RuntimeError};

pub enum ApiError {
    /// `{"detail": "...", "code": "..."}` with its status.
    Said(StatusCode, String, Option<FailureCode>),
    /// 422 `{"detail": [{type, loc, msg}], "code": "BAD_REQUEST"}`.
    Invalid(Vec<InvalidField>),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Said(status, detail, code) => {
                let body = AgentError {
                    detail,
                    code: code.map(|c| c.as_str().to_string()),
                };
                (status, axum::Json(body)).into_response()
            }
            ApiError::Invalid(detail) => {
                let body = AgentInvalid {
                    detail,
                    code: Some(FailureCode::BadRequest.as_str().to_string()),
                };
                (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
            }
        }
    }
}

/// Where in the request a refused field is: the first step of its `loc`.
#[derive(Clone, Copy)]
enum Part {
    Body,
    Query,
    Path,
}

impl Part {
    fn loc(self, rest: impl IntoIterator<Item = Loc>) -> Vec<Loc> {
        let first = match self {
            Part::Body => "body",
            Part::Query => "query",
            Part::Path => "path",
        };
        std::iter::once(Loc::Key(first.into()))
            .chain(rest)
            .collect()
    }
}

fn invalid_field(kind: &str, loc: Vec<Loc>, msg: impl Into<String>) -> InvalidField {
    InvalidField {
        kind: kind.into(),
        loc,
        msg: msg.into(),
    }
}

/// One refused field: a 422.
fn invalid(kind: &str, loc: Vec<Loc>, msg: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![invalid_field(kind, loc, msg)])
}

fn key(name: &str) -> Loc {
    Loc::Key(name.to_string())
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
    ApiError::Said(status, detail, Some(code))
}

impl ApiError {
    /// The answer to a failure of the runtime; a refused field is located in `part`.
    fn of(e: &RuntimeError, part: Part) -> ApiError {
        let status = match e {
            RuntimeError::BadInput { loc, msg } => {
                return invalid(
                    "value_error",
                    part.loc(loc.iter().map(|l| key(l))),
                    msg.clone(),
                );
            }
            RuntimeError::NotFound(_) => StatusCode::NOT_FOUND,
            RuntimeError::InFlight(_) | RuntimeError::PathTaken { .. } => StatusCode::CONFLICT,
            RuntimeError::Docker(d) if d.is_registry() => StatusCode::BAD_GATEWAY,
            RuntimeError::Docker(_) => StatusCode::SERVICE_UNAVAILABLE,
            RuntimeError::Unhealthy(..) | RuntimeError::Registry(..) => StatusCode::BAD_GATEWAY,
            RuntimeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::Said(status, e.to_string(), Some(e.code()))
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

/// The JSON body as `T`, refused as the old agent's framework refused it: every required
/// key that is missing at once, else the first field that does not fit, else the JSON that
/// does not parse.
fn body<T: DeserializeOwned>(
    b: Result<Bytes, BytesRejection>,
    required: &[&str],
) -> Result<T, ApiError> {
    let bytes = b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 1 MiB".into(),
            )
        } else {
            invalid(
                "value_error",
                Part::Body.loc([]),
                format!("cannot read the body: {e}"),
            )
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("missing", Part::Body.loc([]), "Field required"));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        let at = byte_offset(&bytes, e.line(), e.column());
        invalid(
            "json_invalid",
            Part::Body.loc([Loc::Index(at)]),
            format!("JSON decode error: {}", without_position(&e.to_string())),
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err(invalid(
            "model_attributes_type",
            Part::Body.loc([]),
            "Input should be a valid dictionary or object to extract fields from",
        ));
    };
    let missing: Vec<InvalidField> = required
        .iter()
        .filter(|k| !object.contains_key(**k))
        .map(|k| invalid_field("missing", Part::Body.loc([key(k)]), "Field required"))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Invalid(missing));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut loc: Vec<Loc> = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(Loc::Index(*index as u64)),
                serde_path_to_error::Segment::Map { key } => Some(Loc::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => Some(Loc::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let msg = without_position(&e.into_inner().to_string());
        // A missing key deeper than the top (which is checked above) is named by serde.
        if let Some(name) = msg
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            loc.push(key(name));
            return invalid("missing", Part::Body.loc(loc), "Field required");
        }
        let kind = if msg.contains("expected an integer or a numeric string") {
            "int_parsing"
        } else if msg.starts_with("invalid type") && msg.ends_with("expected a string") {
            "string_type"
        } else if msg.starts_with("invalid type") && msg.contains("expected a map") {
            "dict_type"
        } else {
            "value_error"
        };
        let named = match loc.last() {
            Some(Loc::Key(k)) => format!("{k}: {msg}"),
            _ => msg,
        };
        invalid(kind, Part::Body.loc(loc), named)
    })
}

/// serde_json's words without its ` at line L column C`.
fn without_position(msg: &str) -> String {
    msg.split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The byte of `bytes` at serde_json's (1-based line, 1-based column), as FastAPI locates a
/// JSON error.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> u64 {
    let line_start: usize = bytes
        .split(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(bytes.len()) as u64
}

/// The query as `T`; every missing required key is named at once.
fn query<T: DeserializeOwned>(
    q: Result<Query<T>, QueryRejection>,
    raw: Option<&str>,
    required: &[&str],
) -> Result<T, ApiError> {
    let e = match q {
        Ok(Query(t)) => return Ok(t),
        Err(e) => e,
    };
    let present: Vec<&str> = raw
        .unwrap_or_default()
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or_default())
        .collect();
    let missing: Vec<InvalidField> = required
        .iter()
        .filter(|k| !present.contains(k))
        .map(|k| invalid_field("missing", Part::Query.loc([key(k)]), "Field required"))
        .collect();
    if missing.is_empty() {
        let text = e.body_text();
        let msg = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Err(invalid("value_error", Part::Query.loc([]), msg))
    } else {
        Err(ApiError::Invalid(missing))
    }
}

async fn deploy(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: DeployAppRequest = body(b, &["userId", "appId", "image"])?;
    // The deploy runs on if this caller goes away; it logs its own end.
    match rt.deploy(req).await {
        Ok(ans) => Ok(axum::Json(ans).into_response()),
        Err(e) => Err(ApiError::of(&e, Part::Body)),
    }
}

async fn stop(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: AgentAppRef = body(b, &["userId", "appId"])?;
    let ans = rt
        .stop(&req.user_id, &req.app_id)
        .await
        .map_err(|e| ApiError::of(&e, Part::Body))?;
    Ok(axum::Json(ans).into_response())
}

async fn delete(
    State(rt): St,
    _: RuntimeToken,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: AgentAppRef = body(b, &["userId", "appId"])?;
    let ans = rt
        .delete(&req.user_id, &req.app_id)
        .await
        .map_err(|e| ApiError::of(&e, Part::Body))?;
    Ok(axum::Json(ans).into_response())
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
    RawQuery(raw): RawQuery,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q: StatusQuery = query(q, raw.as_deref(), &["userId", "appId"])?;
    let ans = rt
        .status(&q.user_id, &q.app_id)
        .await
        .map_err(|e| ApiError::of(&e, Part::Query))?;
    Ok(axum::Json(ans).into_response())
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
    RawQuery(raw): RawQuery,
    q: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;

    let q: LogsQuery = query(q, raw.as_deref(), &[])?;
    let format_refused =
        |msg: String| invalid("value_error", Part::Query.loc([key("format")]), msg);
    let ndjson = match q.format.as_deref() {
        None => q.follow,
        Some("ndjson") => true,
        Some("json") if q.follow => {
            return Err(format_refused(
                "follow streams its answer: ask for format=ndjson".into(),
            ));
        }
        Some("json") => false,
        Some(other) => {
            return Err(format_refused(format!(
                "format {other:?}: one of json, ndjson"
            )));
        }
    };
    if !ndjson {
        let tail = q.tail.unwrap_or(100).clamp(1, 10_000);
        let (name, mut stream) = rt
            .logs(&app_id, Some(tail), q.since, false)
            .await
            .map_err(|e| ApiError::of(&e, Part::Path))?;
        let mut text = String::new();
        while let Some(item) = stream.next().await {
            let (_, bytes) = item.map_err(|e| ApiError::of(&RuntimeError::from(e), Part::Path))?;
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        return Ok(axum::Json(
            serde_json::json!({ "appId": app_id, "containerName": name, "logs": text }),
        )
        .into_response());
    }
    let (name, stream) = rt
        .logs(&app_id, q.tail, q.since, q.follow)
        .await
        .map_err(|e| ApiError::of(&e, Part::Path))?;
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
