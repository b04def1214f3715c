//! agentd: the node daemon. The runner role claims and executes jobs; the runtime role runs
//! app containers and routes the gateway (DESIGN §3.2, §3.3).

pub mod check;
pub mod docker;
pub mod gateway;
pub mod runner;
pub mod runtime;
pub mod settings;

use std::sync::Arc;

use protocol::client::DeployClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use settings::Settings;

/// The runtime role: its API on `api`, the embedded gateway on `gateway` (when the gateway
/// kind is `embedded`), heartbeats to deployd. Runs until `shutdown`.
pub async fn serve_runtime(
    settings: &Settings,
    api: TcpListener,
    gateway: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<runtime::Runtime>> {
    let rs = settings
        .runtime
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no [runtime] section"))?;
    let trusted = gateway::TrustedProxies::parse(&rs.gateway.trusted_proxies)
        .map_err(|m| anyhow::anyhow!("runtime.gateway.trusted_proxies: {m}"))?;
    let https = match (&gateway, &rs.gateway.tls) {
        (Some(_), Some(t)) => {
            let certs = gateway::tls::Certs::load(
                std::path::Path::new(&t.cert_file),
                std::path::Path::new(&t.key_file),
            )
            .map_err(|m| anyhow::anyhow!("runtime.gateway.tls: {m}"))?;
            let l = TcpListener::bind(&t.listen).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {} (runtime.gateway.tls.listen): {e}{}",
                    t.listen,
                    privileged_port_hint(&t.listen, &e)
                )
            })?;
            Some((l, certs))
        }
        _ => None,
    };
    let redirect_http = rs.gateway.tls.as_ref().is_some_and(|t| t.redirect_http);
    let access_log = match rs.gateway.access_log.as_str() {
        "" => None,
        path => Some(
            gateway::AccessLog::start(path)
                .map_err(|m| anyhow::anyhow!("runtime.gateway.access_log: {m}"))?,
        ),
    };
    let deployd = DeployClient::new(&settings.deploy_url).node_token(Some(rs.node_token.clone()));
    let rt = runtime::Runtime::start(rs, Some(deployd)).await?;
    tokio::spawn(rt.clone().heartbeat_loop(shutdown.clone()));
    tokio::spawn(rt.clone().watch_engine(shutdown.clone()));
    if gateway.is_some() {
        tokio::spawn(rt.clone().route_table_loop(shutdown.clone()));
    }
    if let Some(prober) = check::Prober::for_runtime(&settings.check) {
        let rt = rt.clone();
        tokio::spawn(prober.run(shutdown.clone(), move |report| {
            rt.deliver_checks(report);
            std::future::ready(())
        }));
    }
    if let Some(gw) = gateway {
        let g = rt.gateway.clone();
        let s = shutdown.clone();
        let listeners = gateway::Listeners {
            plain: Some(gw),
            tls: https,
        };
        let opts = gateway::ServeOptions {
            trusted,
            access_log,
            redirect_http,
        };
        tokio::spawn(async move {
            if let Err(e) = g.serve(listeners, opts, s).await {
                tracing::error!(error = %e, "gateway stopped");
            }
        });
    }
    let app = runtime::api::router(rt.clone());
    let s = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = daemon::serve(api, app, s, Default::default()).await {
            tracing::error!(error = %e, "runtime API stopped");
        }
    });
    Ok(rt)
}

/// What to do when a port below 1024 is refused to an unprivileged agentd.
pub fn privileged_port_hint(listen: &str, e: &std::io::Error) -> &'static str {
    let low = listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .is_some_and(|p| p < 1024);
    if low && e.kind() == std::io::ErrorKind::PermissionDenied {
        "; a port below 1024 needs CAP_NET_BIND_SERVICE: the packaged unit grants it (AmbientCapabilities=CAP_NET_BIND_SERVICE); by hand, `setcap cap_net_bind_service=+ep /usr/bin/agentd`, or listen on a port from 1024"
    } else {
        ""
    }
}

/// The runner role's connectivity checks, sent to deployd after each round; nothing without
/// a `[check]` topology.
pub fn spawn_runner_checks(
    settings: &Settings,
    runner: &runner::Runner,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let prober = check::Prober::for_runner(&settings.check, &runner.settings)?;
    let client = runner.deployd().clone();
    let runner_id = runner.settings.runner_id.clone();
    Some(tokio::spawn(prober.run(shutdown, move |report| {
        let client = client.clone();
        let req = protocol::check::RunnerChecks {
            runner_id: runner_id.clone(),
            checks: report,
        };
        async move {
            if let Err(e) = client.runner_checks(&req).await {
                tracing::warn!(error = %e, "cannot send the connectivity check to deployd");
            }
        }
    })))
}
