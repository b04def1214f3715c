//! agentd's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use agentd::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agentd",
    version,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env_vars = std::env::vars().filter(|(k, _)| k != "AGENTD_CONFIG");
    let settings = match Settings::load(cli.config.as_deref(), env_vars, vec![]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agentd: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.cmd.unwrap_or(Cmd::Run) {
        Cmd::PrintConfig => {
            print!("{}", protocol::config::render(&settings));
            ExitCode::SUCCESS
        }
        Cmd::Run => {
            if let Err(e) = settings.check() {
                eprintln!("agentd: refusing to start: {e}");
                return ExitCode::from(2);
            }
            eprintln!("agentd: the runner and runtime roles are not in this build yet");
            ExitCode::FAILURE
        }
    }
}
