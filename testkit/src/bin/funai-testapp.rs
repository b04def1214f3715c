//! A web app for the suite's gateway tests, run in a container FROM scratch (with the libraries
//! it links): what the estate's apps do that busybox httpd cannot. Listens on port 3000; its
//! one argument is a version it puts in every answer.
//!
//! - `GET /`: `funai-testapp {version}`; `GET /headers`: the request's headers, a line each.
//! - `GET /ws`: a WebSocket that answers each text message `m` with `{version}:{m}`.
//! - `GET /events`: Server-Sent Events: `data: one`, then nothing until `POST /events/release`,
//!   then `data: two` and the end. A proxy that buffers never shows `one` before the release.
//! - `POST /upload`: reads the body as it comes and answers its length; `GET /upload/received`
//!   answers how many bytes of uploads it has read so far, so a client can see that its body
//!   reaches the app before the client has sent all of it.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

type Body = BoxBody<Bytes, Infallible>;

struct App {
    version: String,
    received: AtomicU64,
    released: AtomicBool,
    release: Notify,
}

fn text(status: StatusCode, s: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from(s)).boxed())
        .unwrap()
}

async fn handle(app: Arc<App>, mut req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    Ok(match (req.method().as_str(), path.as_str()) {
        ("GET", "/") => text(StatusCode::OK, format!("funai-testapp {}\n", app.version)),
        ("GET", "/headers") => {
            let mut lines = String::new();
            for (k, v) in req.headers() {
                lines.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
            }
            text(StatusCode::OK, lines)
        }
        ("GET", "/ws") => {
            let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
                return Ok(text(StatusCode::BAD_REQUEST, "not a websocket\n".into()));
            };
            let upgrade = hyper::upgrade::on(&mut req);
            let version = app.version.clone();
            tokio::spawn(async move {
                let Ok(up) = upgrade.await else { return };
                let mut ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, None).await;
                while let Some(Ok(msg)) = ws.next().await {
                    match msg {
                        Message::Text(t) => {
                            let answer = format!("{version}:{}", t.as_str());
                            if ws.send(Message::text(answer)).await.is_err() {
                                return;
                            }
                        }
                        Message::Close(_) => return,
                        _ => {}
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(header::CONNECTION, "upgrade")
                .header(header::UPGRADE, "websocket")
                .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
                .body(Full::new(Bytes::new()).boxed())
                .unwrap()
        }
        ("GET", "/events") => {
            let app = app.clone();
            let events = futures_util::stream::unfold(0u8, move |step| {
                let app = app.clone();
                async move {
                    let data = match step {
                        0 => "data: one\n\n",
                        1 => {
                            loop {
                                let released = app.release.notified();
                                if app.released.load(Ordering::SeqCst) {
                                    break;
                                }
                                released.await;
                            }
                            "data: two\n\n"
                        }
                        _ => return None,
                    };
                    Some((
                        Ok::<_, Infallible>(Frame::data(Bytes::from_static(data.as_bytes()))),
                        step + 1,
                    ))
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(BodyExt::boxed(StreamBody::new(events)))
                .unwrap()
        }
        ("POST", "/events/release") => {
            app.released.store(true, Ordering::SeqCst);
            app.release.notify_waiters();
            text(StatusCode::OK, "released\n".into())
        }
        ("POST", "/upload") => {
            let mut body = req.into_body();
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return Ok(text(StatusCode::BAD_REQUEST, "body cut\n".into()));
                };
                if let Some(data) = frame.data_ref() {
                    total += data.len() as u64;
                    app.received.fetch_add(data.len() as u64, Ordering::SeqCst);
                }
            }
            text(StatusCode::OK, format!("{total}\n"))
        }
        ("GET", "/upload/received") => text(
            StatusCode::OK,
            format!("{}\n", app.received.load(Ordering::SeqCst)),
        ),
        _ => text(StatusCode::NOT_FOUND, "no such page\n".into()),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let version = std::env::args().nth(1).unwrap_or_else(|| "v0".into());
    let app = Arc::new(App {
        version,
        received: AtomicU64::new(0),
        released: AtomicBool::new(false),
        release: Notify::new(),
    });
    let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(app.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
