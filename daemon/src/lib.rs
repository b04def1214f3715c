//! What deployd and agentd share besides the wire contract: the HTTP server loop, signals
//! listened for before anything else, the log filter and log lines (text or JSON), and man
//! pages written by the program itself.

mod log;
mod serve;

use std::future::Future;
use std::path::Path;

pub use log::{JsonLines, init_logging};
pub use serve::{Limits, serve};

/// SIGTERM or SIGINT. Call it first thing, so that a signal during start-up is not lost.
pub fn signals() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// RUST_LOG (default `info`), with the libraries that log request and response bodies at
/// debug level (container environments with credentials, registry auth headers) kept at
/// info whatever RUST_LOG asks.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    [
        "bollard=info",
        "hyper=info",
        "hyper_util=info",
        "reqwest=info",
        "h2=info",
        "sqlx=info",
    ]
    .iter()
    .filter_map(|d| d.parse().ok())
    .fold(filter, |f, d| f.add_directive(d))
}

/// `{name}.1` and a page per visible subcommand (`{name}-{sub}.1`) into `dir`, each ending
/// with `exit_status` (a roff `.SH "EXIT STATUS"` section). The pages carry the package
/// version without the commit (`0.1.0`, not `0.1.0 (2657bbe)`): they are committed, and a
/// commit must not make them drift.
pub fn write_man_pages(
    cmd: clap::Command,
    name: &str,
    dir: &Path,
    exit_status: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = match cmd.get_version() {
        Some(v) => {
            let plain = v.split(" (").next().unwrap_or(v).to_string();
            cmd.version(plain)
        }
        None => cmd,
    };
    let mut pages = vec![(name.to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = format!("{name}-{}", sub.get_name());
        pages.push((page.clone(), sub.clone().name(page)));
    }
    for (page, c) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c).render(&mut buf)?;
        buf.extend_from_slice(exit_status.as_bytes());
        std::fs::write(dir.join(format!("{page}.1")), buf)?;
    }
    Ok(())
}
