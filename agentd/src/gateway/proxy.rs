//! One request through the gateway: find the app's backend, pass the request on with its body
//! streamed, and stream the answer back; a protocol switch (WebSocket) becomes a tunnel both
//! ways that holds the backend until either side closes it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::uri::PathAndQuery;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::access_log::{AccessLog, Entry};
use super::headers::{keep_upgrade, set_forwarding, strip_hop_by_hop, upgrade_of};
use super::{Backend, Gateway, InflightGuard, TrustedProxies};

/// What every connection of one listener shares.
pub(super) struct Shared {
    pub gw: Arc<Gateway>,
    pub trusted: TrustedProxies,
    pub log: Option<AccessLog>,
    pub shutdown: CancellationToken,
}

/// The connection a request came on.
#[derive(Clone, Copy)]
pub(super) struct Conn {
    pub peer: SocketAddr,
    pub tls: bool,
}

/// Set on a request one gateway passes to another's, naming the nodes it was passed to. A
/// node that does not hold the app reads deployd's route table again and passes it on once
/// more when the app moved (an entry whose table is older than the move); a request passed
/// on twice is answered or refused with 404, never passed on again.
const PASSED_ON: HeaderName = HeaderName::from_static("x-funai-passed-to");

/// How long opening a connection to an app container may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What goes to an app: the client's body, or none (a bodiless request sent once more).
type UpBody = http_body_util::Either<Incoming, http_body_util::Empty<Bytes>>;

type Sender = hyper::client::conn::http1::SendRequest<UpBody>;

/// The connection to the app that a client connection used last, kept for its next request:
/// HTTP/1.1 sends one request at a time, so each client connection needs at most one to the
/// app, and none is shared or pooled. It closes with the client connection.
#[derive(Default)]
pub(super) struct Upstream(std::sync::Mutex<Option<(Arc<Backend>, Sender)>>);

impl Upstream {
    /// The kept connection, when it goes to `backend` and is open.
    fn take_for(&self, backend: &Arc<Backend>) -> Option<Sender> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some((b, s)) if Arc::ptr_eq(&b, backend) && !s.is_closed() => Some(s),
            _ => None,
        }
    }

    fn keep(&self, backend: &Arc<Backend>, sender: Sender) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((backend.clone(), sender));
    }

    /// Sends `req` to `backend` on the kept connection, or on a new one when there is none
    /// or the kept one closed before taking the request. A protocol switch gets a connection
    /// of its own, which becomes the tunnel.
    async fn send(
        &self,
        backend: &Arc<Backend>,
        mut req: Request<UpBody>,
        switch: bool,
    ) -> Result<Response<Incoming>, String> {
        if !switch
            && let Some(mut s) = self.take_for(backend)
            && s.ready().await.is_ok()
        {
            match s.try_send_request(req).await {
                Ok(resp) => {
                    self.keep(backend, s);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    // Closed by the app before it took the request: on a new one.
                    Some(r) => req = r,
                    None => return Err(e.into_error().to_string()),
                },
            }
        }
        self.send_new(backend, req, switch).await
    }

    /// Sends `req` to `backend` on a new connection.
    async fn send_new(
        &self,
        backend: &Arc<Backend>,
        req: Request<UpBody>,
        switch: bool,
    ) -> Result<Response<Incoming>, String> {
        let mut s = open(backend).await?;
        s.ready().await.map_err(|e| e.to_string())?;
        let resp = s.send_request(req).await.map_err(|e| e.to_string())?;
        if !switch {
            self.keep(backend, s);
        }
        Ok(resp)
    }
}

/// A request that may be sent to the app once more when the first try failed before any
/// answer (its connection reset or refused while the app's container changes under load):
/// a GET, HEAD or OPTIONS with no body, as nginx retries by default. Its head, kept.
struct Again {
    method: Method,
    uri: Uri,
    version: axum::http::Version,
    headers: axum::http::HeaderMap,
}

impl Again {
    fn of(parts: &axum::http::request::Parts) -> Option<Again> {
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let bodiless = !parts.headers.contains_key(header::TRANSFER_ENCODING)
            && parts
                .headers
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        (safe && bodiless).then(|| Again {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
        })
    }

    fn request(self) -> Request<UpBody> {
        let mut req = Request::new(http_body_util::Either::Right(http_body_util::Empty::new()));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers;
        req
    }
}

async fn open(backend: &Backend) -> Result<Sender, String> {
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(backend.addr),
    )
    .await
    .map_err(|_| {
        format!(
            "no connection to {} within {CONNECT_TIMEOUT:?}",
            backend.addr
        )
    })?
    .map_err(|e| format!("cannot connect to {}: {e}", backend.addr))?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "connection to an app ended with an error");
        }
    });
    Ok(sender)
}

/// The gateway's answer body: its own few words, or the app's answer streamed.
pub(super) enum GwBody {
    Full(Option<Bytes>),
    Proxied(Proxied),
}

/// The app's answer, holding the backend until the last byte is sent; written to the access
/// log when it ends.
pub(super) struct Proxied {
    inner: Incoming,
    _guard: InflightGuard,
    log: Option<(AccessLog, Entry)>,
}

impl Drop for Proxied {
    fn drop(&mut self) {
        if let Some((log, mut entry)) = self.log.take() {
            entry.finish();
            log.write(entry);
        }
    }
}

impl hyper::body::Body for GwBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            GwBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            GwBody::Proxied(p) => {
                let polled = Pin::new(&mut p.inner).poll_frame(cx);
                if let (Poll::Ready(Some(Ok(frame))), Some((_, entry))) = (&polled, &mut p.log)
                    && let Some(data) = frame.data_ref()
                {
                    entry.bytes += data.len() as u64;
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            GwBody::Full(b) => b.is_none(),
            GwBody::Proxied(p) => p.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GwBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            GwBody::Full(None) => SizeHint::with_exact(0),
            GwBody::Proxied(p) => p.inner.size_hint(),
        }
    }
}

pub(super) fn plain(status: StatusCode, text: String) -> Response<GwBody> {
    let mut r = Response::new(GwBody::Full(Some(Bytes::from(text + "\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    conn: Conn,
    upstream: Arc<Upstream>,
    req: Request<Incoming>,
) -> Result<Response<GwBody>, Infallible> {
    let gw = &shared.gw;
    gw.counters.requests.fetch_add(1, Ordering::Relaxed);
    let passed_on = req
        .headers()
        .get(PASSED_ON)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let hops = passed_on.as_deref().map_or(0, |v| v.split(',').count());
    let path = req.uri().path().to_string();
    let mut picked = gw.pick(&path, hops == 0);
    // A path this node does not know: the app may have just moved here or there, and the
    // route table be older than that. Read it again (at most once a second) and look again.
    if picked.is_none() && hops < 2 && gw.read_table_again().await {
        picked = gw.pick(&path, true);
    }
    let Some((base_len, mut guard)) = picked else {
        gw.counters.not_found.fetch_add(1, Ordering::Relaxed);
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "no app is routed at this path".into(),
        ));
    };
    let started = Instant::now();
    let backend = guard.0.clone();
    let traffic = gw.traffic_for(&backend);
    if backend.remote.is_some() {
        gw.counters.forwarded.fetch_add(1, Ordering::Relaxed);
    }
    let mut entry = shared
        .log
        .as_ref()
        .map(|_| Entry::new(&backend.app_id, &req, conn.peer));
    let answer = |status: StatusCode, text: String, entry: Option<Entry>| {
        traffic.answered(status, started.elapsed());
        if let (Some(log), Some(mut e)) = (&shared.log, entry) {
            e.status = status.as_u16();
            e.finish();
            log.write(e);
        }
        Ok(plain(status, text))
    };
    if let Some(why) = backend.down() {
        gw.counters.errors.fetch_add(1, Ordering::Relaxed);
        return answer(
            StatusCode::BAD_GATEWAY,
            format!("app {} is down: {why}", backend.app_id),
            entry,
        );
    }
    let base = req.uri().path()[..base_len].to_string();
    let (mut parts, body) = req.into_parts();
    let rest = match parts.uri.path_and_query() {
        Some(pq) => &pq.as_str()[base_len..],
        None => "",
    };
    let rest = if rest.starts_with('/') {
        PathAndQuery::try_from(rest)
    } else {
        PathAndQuery::try_from(format!("/{rest}"))
    };
    // Origin-form (`/path?query`), as an app's server expects from a client.
    let uri = rest
        .ok()
        .and_then(|pq| Uri::builder().path_and_query(pq).build().ok());
    let Some(uri) = uri else {
        return answer(
            StatusCode::BAD_REQUEST,
            "malformed request path".into(),
            entry,
        );
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let upgrade = upgrade_of(&parts.headers);
    strip_hop_by_hop(&mut parts.headers);
    if let Some(u) = &upgrade {
        keep_upgrade(&mut parts.headers, u.clone());
    }
    set_forwarding(
        &mut parts.headers,
        conn.peer.ip(),
        shared.trusted.contains(conn.peer.ip()),
        if conn.tls { "https" } else { "http" },
        host.as_deref(),
        &base,
    );
    if let Some(node) = &backend.remote
        && let Ok(v) = HeaderValue::from_str(&match &passed_on {
            Some(before) => format!("{before}, {node}"),
            None => node.clone(),
        })
    {
        parts.headers.insert(PASSED_ON, v);
    }
    if !parts.headers.contains_key(header::HOST) {
        // An HTTP/1.0 client may send none; HTTP/1.1 requires one.
        if let Ok(v) = HeaderValue::from_str(backend.authority.as_str()) {
            parts.headers.insert(header::HOST, v);
        }
    }
    parts.uri = uri;
    let again = upgrade.is_none().then(|| Again::of(&parts)).flatten();
    let mut req = Request::from_parts(parts, http_body_util::Either::Left(body));
    let client_side = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
    let cut = || {
        Err(match backend.down() {
            Some(why) => format!("down: {why}"),
            None => "cut at the end of the drain".into(),
        })
    };
    let mut sent = tokio::select! {
        r = upstream.send(&backend, req, client_side.is_some()) => r,
        _ = backend.gone.cancelled() => cut(),
    };
    // Sent once more to the container the path is routed to now: the same one on a new
    // connection, or the app's new one when a redeploy switched the route meanwhile (the old
    // one then cut at the end of its drain).
    if let (Err(e), Some(again)) = (&sent, again)
        && let Some((len, now)) = gw.pick(&path, false)
        && len == base_len
        && now.0.down().is_none()
    {
        let to = now.0.clone();
        tracing::info!(app = %to.app_id, container = %to.container, error = %e, "backend request failed before an answer; sending it once more on a new connection");
        guard = now;
        sent = tokio::select! {
            r = upstream.send_new(&to, again.request(), false) => r,
            _ = to.gone.cancelled() => Err("cut at the end of the drain".into()),
        };
    }
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => {
            gw.counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(app = %backend.app_id, container = %backend.container, error = %e, "backend request failed");
            let text = match backend.down() {
                Some(why) => format!("app {} is down: {why}", backend.app_id),
                None => format!("app {} did not answer", backend.app_id),
            };
            return answer(StatusCode::BAD_GATEWAY, text, entry);
        }
    };
    let status = resp.status();
    traffic.answered(status, started.elapsed());
    if let Some(e) = &mut entry {
        e.status = status.as_u16();
    }
    if status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_side) = client_side
    {
        let switched = upgrade_of(resp.headers());
        let backend_side = hyper::upgrade::on(&mut resp);
        let (mut parts, _) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if let Some(u) = switched {
            keep_upgrade(&mut parts.headers, u);
        }
        let log = shared.log.clone().zip(entry);
        let shutdown = shared.shutdown.clone();
        tokio::spawn(async move {
            let (Ok(c), Ok(b)) = (client_side.await, backend_side.await) else {
                return;
            };
            let (mut cr, mut cw) = tokio::io::split(TokioIo::new(c));
            let (mut br, mut bw) = tokio::io::split(TokioIo::new(b));
            let (mut up, mut down) = (0u64, 0u64);
            // Either side closing ends the tunnel, as nginx does: a WebSocket has no use for
            // half a connection.
            tokio::select! {
                _ = pipe(&mut cr, &mut bw, &mut up) => {}
                _ = pipe(&mut br, &mut cw, &mut down) => {}
                _ = guard.0.gone.cancelled() => {}
                _ = shutdown.cancelled() => {}
            }
            drop(guard);
            if let Some((log, mut e)) = log {
                e.bytes = down;
                e.finish();
                log.write(e);
            }
        });
        return Ok(Response::from_parts(parts, GwBody::Full(None)));
    }
    let (mut parts, inner) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(
        parts,
        GwBody::Proxied(Proxied {
            inner,
            _guard: guard,
            log: shared.log.clone().zip(entry),
        }),
    ))
}

/// Copies `from` to `to` until `from` ends or either fails, then closes `to`; counts the
/// bytes in `moved` as they go.
async fn pipe<R, W>(from: &mut R, to: &mut W, moved: &mut u64)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
            break;
        }
        *moved += n as u64;
    }
    let _ = to.shutdown().await;
}

/// `[runtime.gateway.tls] redirect_http`: every plain HTTP request is sent to the same URL
/// on HTTPS.
pub(super) fn redirect(req: &Request<Incoming>, https_port: u16) -> Response<GwBody> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .map(|a| a.host().to_string());
    let Some(host) = host else {
        return plain(
            StatusCode::BAD_REQUEST,
            "this gateway answers over HTTPS; the request names no host to send it to".into(),
        );
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{pq}");
    let mut r = plain(
        StatusCode::PERMANENT_REDIRECT,
        format!("moved to {location}"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if req.method() == Method::HEAD {
        *r.body_mut() = GwBody::Full(None);
    }
    r
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::{Listeners, ServeOptions};
    use super::*;

    /// An app whose every other connection is closed once the request is read, with no
    /// answer (as a container being replaced under load can do to a connection): a GET
    /// gets the answer of its second try; a POST with a body is not sent twice and gets
    /// 502.
    #[tokio::test]
    async fn a_bodiless_get_whose_first_try_is_cut_is_sent_once_more() {
        let app = TcpListener::bind("127.0.0.1:0").await.expect("app");
        let addr = app.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut n = 0u32;
            while let Ok((mut s, _)) = app.accept().await {
                n += 1;
                let cut = n % 2 == 1;
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    if !cut {
                        let _ = s
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nhello\n",
                            )
                            .await;
                    }
                });
            }
        });
        let gw = Gateway::new();
        gw.switch_app("a1", "/runtime/a1", Backend::new("a1", "c1", addr));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("gateway");
        let url = format!("http://{}/runtime/a1/", l.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let _stop = shutdown.clone().drop_guard();
        tokio::spawn(gw.clone().serve(
            Listeners {
                plain: Some(l),
                tls: None,
            },
            ServeOptions::default(),
            shutdown,
        ));
        let http = reqwest::Client::new();

        let r = http.get(&url).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.expect("body"), "hello\n");

        let r = http.post(&url).body("x").send().await.expect("post");
        assert_eq!(
            r.status().as_u16(),
            502,
            "a request with a body is not sent twice"
        );
        assert_eq!(r.text().await.expect("body"), "app a1 did not answer\n");
    }
}
