//! The gateway's listeners: plain HTTP and, with a certificate, HTTPS; HTTP/1.1 with protocol
//! switches (WebSocket), a deadline for the request head and the TLS handshake, a cap on
//! open connections, and a graceful shutdown that lets answers in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::proxy::{self, Conn, Shared};
use super::tls::Certs;
use super::{AccessLog, Gateway, TrustedProxies};

/// How long a client may take to send its request head, or to finish a TLS handshake.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most, per listener; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 8192;
/// How long answers in flight get at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Where the gateway listens: plain HTTP, HTTPS (with its certificate), or both.
#[derive(Default)]
pub struct Listeners {
    pub plain: Option<TcpListener>,
    pub tls: Option<(TcpListener, Arc<Certs>)>,
}

#[derive(Debug, Default, Clone)]
pub struct ServeOptions {
    pub trusted: TrustedProxies,
    pub access_log: Option<AccessLog>,
    /// With an HTTPS listener: answer every plain HTTP request with a redirect to it.
    pub redirect_http: bool,
}

/// One thread per core, each with a single-threaded runtime: a client connection is handed
/// to one of them in turn and lives there with its connection to the app, so every wake-up
/// between the two stays on one core and no task moves between threads.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    next: std::sync::atomic::AtomicUsize,
    stop: CancellationToken,
    ended: std::sync::Mutex<Vec<tokio::sync::oneshot::Receiver<()>>>,
}

impl Workers {
    fn start() -> std::io::Result<Workers> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = CancellationToken::new();
        let (mut handles, mut ended) = (Vec::new(), Vec::new());
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(rt.handle().clone());
            let (done, end) = tokio::sync::oneshot::channel::<()>();
            ended.push(end);
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("gateway-{i}"))
                .spawn(move || {
                    rt.block_on(stop.cancelled());
                    // Connections still open past the shutdown grace end with the runtime.
                    drop(rt);
                    let _ = done.send(());
                })?;
        }
        Ok(Workers {
            handles,
            next: Default::default(),
            stop,
            ended: std::sync::Mutex::new(ended),
        })
    }

    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, f: F) {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(f);
    }

    /// Ends the threads, once no connection holds a slot any more.
    async fn stop(&self) {
        self.stop.cancel();
        let ended = std::mem::take(&mut *self.ended.lock().unwrap_or_else(|p| p.into_inner()));
        for e in ended {
            let _ = e.await;
        }
    }
}

impl Gateway {
    /// Serves the routes on `listeners` until `shutdown`, then lets answers in flight finish.
    pub async fn serve(
        self: Arc<Self>,
        listeners: Listeners,
        opts: ServeOptions,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        if let Some(log) = &opts.access_log {
            let _ = self.access_log.set(log.clone());
        }
        let shared = Arc::new(Shared {
            gw: self.clone(),
            trusted: opts.trusted,
            log: opts.access_log,
            shutdown: shutdown.clone(),
        });
        let https_port = match &listeners.tls {
            Some((l, _)) => Some(l.local_addr()?.port()),
            None => None,
        };
        let workers = Arc::new(Workers::start()?);
        let mut loops = Vec::new();
        if let Some(l) = listeners.plain {
            let redirect = https_port.filter(|_| opts.redirect_http);
            loops.push(tokio::spawn(accept_loop(
                l,
                None,
                redirect,
                shared.clone(),
                workers.clone(),
                shutdown.clone(),
            )));
        }
        if let Some((l, certs)) = listeners.tls {
            let _ = self.certs.set(certs.clone());
            loops.push(tokio::spawn(accept_loop(
                l,
                Some(certs),
                None,
                shared,
                workers.clone(),
                shutdown.clone(),
            )));
        }
        for l in loops {
            let _ = l.await;
        }
        workers.stop().await;
        Ok(())
    }
}

async fn accept_loop(
    listener: TcpListener,
    certs: Option<Arc<Certs>>,
    redirect_to: Option<u16>,
    shared: Arc<Shared>,
    workers: Arc<Workers>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving what is open.
                    tracing::warn!(error = %e, "gateway accept failed");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        // Moved to the worker's runtime: registered with its reactor there.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "gateway connection lost at hand-over");
                continue;
            }
        };
        let http = http.clone();
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let acceptor = certs.as_ref().map(|c| c.acceptor());
        workers.spawn(async move {
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "gateway connection lost at hand-over");
                    return;
                }
            };
            match acceptor {
                None => {
                    let conn = Conn { peer, tls: false };
                    serve_conn(http, stream, conn, redirect_to, shared, shutdown).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let conn = Conn { peer, tls: true };
                            serve_conn(http, tls, conn, None, shared, shutdown).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection gives its slot back when it ends.
    let all = MAX_CONNECTIONS as u32;
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("gateway shutdown grace passed with answers still in flight");
        }
    }
}

async fn serve_conn<IO>(
    http: hyper::server::conn::http1::Builder,
    io: IO,
    conn: Conn,
    redirect_to: Option<u16>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let upstream = Arc::new(proxy::Upstream::default());
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let upstream = upstream.clone();
        async move {
            match redirect_to {
                Some(port) => Ok(proxy::redirect(&req, port)),
                None => proxy::handle(shared, conn, upstream, req).await,
            }
        }
    });
    let c = http.serve_connection(TokioIo::new(io), svc).with_upgrades();
    tokio::pin!(c);
    let ended = tokio::select! {
        r = c.as_mut() => r,
        _ = shutdown.cancelled() => {
            c.as_mut().graceful_shutdown();
            c.await
        }
    };
    if let Err(e) = ended {
        let peer: SocketAddr = conn.peer;
        tracing::debug!(%peer, error = %e, "gateway connection ended with an error");
    }
}
