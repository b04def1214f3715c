//! The probes: a TCP connect with a deadline, then the protocol's own handshake (deployd's
//! and agentd's health, a registry's `/v2/`, an SSH handshake with the host key checked),
//! many at once with a bound.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use protocol::check::{Expect, ProbeKind, ProbeResult, Seen};

use crate::ssh::{SshOptions, ssh_probe};
use crate::topology::Target;

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Per probe: for the TCP connect, and again for the handshake.
    pub timeout: Duration,
    /// Probes in flight at once.
    pub parallel: usize,
    pub ssh: SshOptions,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(2000),
            parallel: 64,
            ssh: SshOptions {
                user: "git".into(),
                ..Default::default()
            },
        }
    }
}

/// Runs every probe, `opts.parallel` at a time; answers in the order of `targets`.
pub async fn run(targets: Vec<Target>, opts: &ProbeOptions) -> Vec<ProbeResult> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(opts.timeout)
        .timeout(opts.timeout)
        .pool_max_idle_per_host(0)
        // A reachability check: a registry's certificate is the engine's business, and a
        // private CA that the engine trusts would otherwise read as a closed port.
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap_or_default();
    let mut results: Vec<(usize, ProbeResult)> =
        futures_util::stream::iter(targets.into_iter().enumerate())
            .map(|(i, t)| {
                let http = http.clone();
                async move { (i, probe(t, opts, &http).await) }
            })
            .buffer_unordered(opts.parallel.max(1))
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// One probe: connect, then (on an allowed edge) the handshake its kind names.
pub async fn probe(t: Target, opts: &ProbeOptions, http: &reqwest::Client) -> ProbeResult {
    let addr = SocketAddr::new(t.address, t.port);
    let mut result = ProbeResult {
        from: t.from,
        to: t.to,
        address: t.address.to_string(),
        port: t.port,
        expected: t.expected,
        seen: Seen::Closed,
        probe: if t.expected == Expect::Open {
            t.probe
        } else {
            ProbeKind::Tcp
        },
        latency_ms: None,
        cause: None,
        why: t.why,
    };
    let started = Instant::now();
    let connected = tokio::time::timeout(opts.timeout, tokio::net::TcpStream::connect(addr)).await;
    let elapsed = ms(started.elapsed());
    match connected {
        Err(_) => {
            result.cause = Some(format!(
                "no answer within {} ms (filtered)",
                opts.timeout.as_millis()
            ));
            return result;
        }
        Ok(Err(e)) => {
            result.latency_ms = Some(elapsed);
            result.cause = Some(connect_error(&e));
            return result;
        }
        Ok(Ok(stream)) => {
            result.latency_ms = Some(elapsed);
            drop(stream);
        }
    }
    if t.expected == Expect::Closed {
        result.seen = Seen::Open;
        result.cause = Some("connected: nothing refuses this pair".into());
        return result;
    }
    let handshake = match result.probe {
        ProbeKind::Tcp => Ok("connected".to_string()),
        ProbeKind::Health => http_get(http, "http", addr, "/internal/health", &[]).await,
        ProbeKind::Registry => http_get(http, "http", addr, "/v2/", &[401]).await,
        ProbeKind::RegistryTls => http_get(http, "https", addr, "/v2/", &[401]).await,
        ProbeKind::Ssh => {
            let ssh = opts.ssh.clone();
            let timeout = opts.timeout;
            let task = tokio::task::spawn_blocking(move || ssh_probe(addr, timeout, &ssh));
            match tokio::time::timeout(timeout * 3, task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(format!("SSH probe task failed: {e}")),
                Err(_) => Err(format!(
                    "SSH handshake did not finish within {} ms",
                    (timeout * 3).as_millis()
                )),
            }
        }
    };
    match handshake {
        Ok(note) => {
            result.seen = Seen::Open;
            result.cause = Some(note);
        }
        Err(why) => {
            result.seen = Seen::Broken;
            result.cause = Some(why);
        }
    }
    result
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

pub(crate) fn connect_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        HostUnreachable => "no route to host".into(),
        NetworkUnreachable => "network unreachable".into(),
        TimedOut => "connect timed out".into(),
        _ => e.to_string(),
    }
}

/// Every cause of an error on one line: reqwest's own text names only the outer layer.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

/// `GET path`: 2xx, or one of `also_alive`, is the service answering.
async fn http_get(
    http: &reqwest::Client,
    scheme: &str,
    addr: SocketAddr,
    path: &str,
    also_alive: &[u16],
) -> Result<String, String> {
    let url = format!("{scheme}://{addr}{path}");
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {}", chain(&e)))?;
    let status = resp.status().as_u16();
    if resp.status().is_success() || also_alive.contains(&status) {
        return Ok(format!("GET {path}: {status}"));
    }
    let body = resp.bytes().await.unwrap_or_default();
    let text: String = String::from_utf8_lossy(&body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    Err(format!("GET {path} answered {status}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn target(port: u16, expected: Expect, probe: ProbeKind) -> Target {
        Target {
            from: "runner".into(),
            to: "deploy".into(),
            address: IpAddr::from([127, 0, 0, 1]),
            port,
            expected,
            probe,
            why: None,
        }
    }

    fn opts() -> ProbeOptions {
        ProbeOptions {
            timeout: Duration::from_millis(1500),
            ..Default::default()
        }
    }

    async fn closed_port() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = l.local_addr().map(|a| a.port()).unwrap_or(1);
        drop(l);
        port
    }

    /// An HTTP server on loopback answering every request with `status`.
    async fn http_server(status: u16) -> u16 {
        use axum::http::StatusCode;
        let app = axum::Router::new().fallback(move || async move {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), "x")
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = l.local_addr().map(|a| a.port()).unwrap_or(1);
        tokio::spawn(async move { axum::serve(l, app).await });
        port
    }

    #[tokio::test]
    async fn a_refused_port_is_closed_and_says_so() {
        let port = closed_port().await;
        let r = run(vec![target(port, Expect::Closed, ProbeKind::Tcp)], &opts()).await;
        assert_eq!(r[0].seen, Seen::Closed);
        assert!(r[0].ok());
        assert_eq!(r[0].cause.as_deref(), Some("connection refused"));
        let r = run(vec![target(port, Expect::Open, ProbeKind::Health)], &opts()).await;
        assert!(!r[0].ok());
    }

    #[tokio::test]
    async fn health_and_registry_handshakes_read_the_status() {
        let healthy = http_server(200).await;
        let sick = http_server(500).await;
        let registry = http_server(401).await;
        let r = run(
            vec![
                target(healthy, Expect::Open, ProbeKind::Health),
                target(sick, Expect::Open, ProbeKind::Health),
                target(registry, Expect::Open, ProbeKind::Registry),
                target(registry, Expect::Open, ProbeKind::Health),
                target(healthy, Expect::Closed, ProbeKind::Tcp),
            ],
            &opts(),
        )
        .await;
        let seen: Vec<Seen> = r.iter().map(|x| x.seen).collect();
        assert_eq!(
            seen,
            vec![
                Seen::Open,
                Seen::Broken,
                Seen::Open,
                Seen::Broken,
                Seen::Open
            ]
        );
        assert!(
            r[1].cause.as_deref().unwrap_or_default().contains("500"),
            "{r:?}"
        );
        assert!(!r[4].ok());
    }

    #[tokio::test]
    async fn an_ssh_probe_of_something_else_is_broken() {
        let port = http_server(200).await;
        let r = run(vec![target(port, Expect::Open, ProbeKind::Ssh)], &opts()).await;
        assert_eq!(r[0].seen, Seen::Broken, "{r:?}");
        assert!(
            r[0].cause
                .as_deref()
                .unwrap_or_default()
                .contains("SSH handshake failed"),
            "{r:?}"
        );
    }
}
