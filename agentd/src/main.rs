//! agentd's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use agentd::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agentd",
    version = env!("FUNAI_VERSION"),
    about = "Node daemon of the Fun AI Studio release path (runner and runtime roles)"
)]
struct Cli {
    /// Config file (default /etc/funai/agentd.toml; absent is fine).
    #[arg(long, global = true, env = "AGENTD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the configured roles (the default).
    Run,
    /// Print the effective settings, secrets as ***.
    PrintConfig,
    /// Write agentd's man pages into DIR (used to refresh the committed man/).
    #[command(hide = true)]
    GenerateMan {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\nStopped cleanly (SIGTERM or SIGINT).\n.TP\n\\fB1\\fR\nA role failed to start or stopped on an error.\n.TP\n\\fB2\\fR\nThe settings are invalid: an unknown key, a placeholder secret, no role configured.\n";

fn generate_man(dir: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    daemon::write_man_pages(Cli::command(), "agentd", dir, EXIT_STATUS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::GenerateMan { dir }) = &cli.cmd {
        return match generate_man(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("agentd: cannot write man pages: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let env_vars = std::env::vars().filter(|(k, _)| k != "AGENTD_CONFIG");
    let settings = match Settings::load(cli.config.as_deref(), env_vars, vec![]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agentd: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.cmd.unwrap_or(Cmd::Run) {
        Cmd::GenerateMan { .. } => ExitCode::SUCCESS,
        Cmd::PrintConfig => {
            print!("{}", protocol::config::render(&settings));
            ExitCode::SUCCESS
        }
        Cmd::Run => {
            if let Err(e) = settings.check() {
                eprintln!("agentd: refusing to start: {e}");
                return ExitCode::from(2);
            }
            daemon::init_logging(settings.log_format);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("agentd: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("agentd: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Listen for signals before anything else: a SIGTERM during start-up still shuts down cleanly.
    let signalled =
        daemon::signals().map_err(|e| anyhow::anyhow!("cannot listen for signals: {e}"))?;
    // SIGHUP (systemctl reload) never ends agentd: the runtime role reloads its gateway.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGHUP: {e}"))?;
    let mut gateway_of_node = None;
    let shutdown = tokio_util::sync::CancellationToken::new();
    if let Some(rs) = &settings.runtime {
        let api = tokio::net::TcpListener::bind(&rs.listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {} (runtime.listen): {e}{}",
                    rs.listen,
                    agentd::privileged_port_hint(&rs.listen, &e)
                )
            })?;
        let gateway = if rs.gateway.kind == agentd::settings::GatewayKind::Embedded {
            Some(
                tokio::net::TcpListener::bind(&rs.gateway.listen)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot listen on {} (runtime.gateway.listen): {e}{}",
                            rs.gateway.listen,
                            agentd::privileged_port_hint(&rs.gateway.listen, &e)
                        )
                    })?,
            )
        } else {
            None
        };
        tracing::info!(api = %rs.listen, gateway = %rs.gateway.listen, node = %rs.node_name, "runtime role starting");
        let rt = agentd::serve_runtime(&settings, api, gateway, shutdown.clone()).await?;
        gateway_of_node = Some(rt.gateway.clone());
    }
    let runner = match &settings.runner {
        Some(rs) => {
            tracing::info!(runner = %rs.runner_id, concurrency = rs.concurrency, deploy_url = %settings.deploy_url, "runner role starting");
            let r = agentd::runner::Runner::start(rs.clone(), &settings.deploy_url).await?;
            agentd::spawn_runner_checks(&settings, &r, shutdown.clone());
            Some(tokio::spawn(r.run(shutdown.clone())))
        }
        None => None,
    };
    // The gateway's certificate is read again and its access logs reopened.
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match gateway_of_node.as_ref().map(|g| g.reload()) {
                None => tracing::info!("SIGHUP: nothing to reload without the runtime role"),
                Some(Ok(())) => tracing::info!("SIGHUP: gateway reloaded"),
                Some(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: the new certificate does not load; the gateway keeps the one it has")
                }
            }
        }
    });
    signalled.await;
    tracing::info!("shutting down");
    shutdown.cancel();
    if let Some(r) = runner {
        tracing::info!("waiting for running jobs to finish");
        let _ = r.await;
    }
    Ok(())
}
