//! The admin page at `/admin/`: static HTML, JS and CSS compiled into the binary. The page
//! itself needs no token; it asks for the admin token and sends it on each API call.

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

const INDEX: &str = include_str!("../../admin/index.html");
const APP_JS: &str = include_str!("../../admin/app.js");
const APP_CSS: &str = include_str!("../../admin/app.css");

/// No inline script, no third-party origin, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn admin_page() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

pub async fn redirect() -> Redirect {
    Redirect::permanent("/admin/")
}
