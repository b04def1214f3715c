//! `functl`: the operator's command line for the Fun AI Studio release path.

mod commands;
mod config;
mod ctx;
mod duration;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;
use crate::ctx::{Ctx, GlobalArgs};

#[derive(Debug, Parser)]
#[command(
    name = "functl",
    version = env!("FUNAI_VERSION"),
    about = "Drive and troubleshoot the Fun AI Studio release path: jobs, deploys, apps, runtime nodes, runners",
    long_about = "Drive and troubleshoot the Fun AI Studio release path: jobs, deploys, apps, runtime nodes, runners.\n\nSettings come from ~/.config/functl/config.toml ($XDG_CONFIG_HOME/functl/config.toml when set, or --config / FUNCTL_CONFIG), then the chosen context's [contexts.NAME] table (--context, FUNCTL_CONTEXT or current_context), then FUNCTL_* environment variables, then flags. Exit codes: 0 ok, 1 failed (or a followed job failed, was cancelled or timed out), 2 usage, 3 deployd unreachable or refused our credentials.",
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::Exit::Failure.into();
        }
    };
    let result = runtime.block_on(async move {
        let ctx = Ctx::new(cli.global)?;
        cli.command.run(&ctx).await
    });
    exit::finish(result)
}
