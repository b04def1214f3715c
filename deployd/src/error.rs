//! Errors as the envelope `{code, message, data}` with the HTTP status equal to `code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::Envelope;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            data: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("{field}: {message}"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }
}

impl From<protocol::job::FieldError> for ApiError {
    fn from(e: protocol::job::FieldError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::LogRange { length } => ApiError {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                message: format!(
                    "log offset mismatch: deployd holds {length} bytes; resend from there"
                ),
                data: Some(serde_json::json!({ "length": length })),
            },
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal storage error; see deployd's log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let length = self
            .data
            .as_ref()
            .and_then(|d| d.get("length"))
            .and_then(|l| l.as_i64());
        let mut env: Envelope<serde_json::Value> =
            Envelope::error(self.status.as_u16(), self.message);
        env.data = self.data;
        let mut resp = (self.status, axum::Json(env)).into_response();
        if self.status == StatusCode::RANGE_NOT_SATISFIABLE
            && let Some(len) = length
            && let Ok(v) = axum::http::HeaderValue::from_str(&format!("bytes */{len}"))
        {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_RANGE, v);
        }
        resp
    }
}

/// A successful answer: `{code: 200, message: "ok", data}`.
pub fn ok<T: serde::Serialize>(data: T) -> Response {
    (StatusCode::OK, axum::Json(Envelope::ok(data))).into_response()
}

/// A successful answer with `data: null` (a claim that found nothing).
pub fn ok_null() -> Response {
    (StatusCode::OK, axum::Json(Envelope::<()>::empty_ok())).into_response()
}

pub type ApiResult = Result<Response, ApiError>;
