//! One module per command; groups are folders. Each command is a clap struct with
//! `async fn run(self, ctx: &Ctx)`.

pub mod apps;
pub mod check;
pub mod context;
pub mod deploy;
pub mod docs;
pub mod doctor;
pub mod jobs;
pub mod nodes;
pub mod redeploy;
pub mod registry;
pub mod rollback;
pub mod runners;
pub mod stack;

use clap::Subcommand;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy jobs: list, show, follow logs, cancel
    #[command(subcommand)]
    Jobs(jobs::Cmd),
    /// Create a deploy job (an image, or a Git repository to build) and optionally follow it
    Deploy(deploy::Cmd),
    /// Runtime nodes: list, drain, undrain, enable, disable, remove
    #[command(subcommand)]
    Nodes(nodes::Cmd),
    /// Apps as last deployed: node, image, commit, URL
    #[command(subcommand)]
    Apps(apps::Cmd),
    /// Runners that claim jobs
    #[command(subcommand)]
    Runners(runners::Cmd),
    /// Redeploy the previous (or a named) image of an app
    Rollback(rollback::Cmd),
    /// Probe the security-group matrix from this host (or show every agent's last check with --all)
    Check(check::Cmd),
    /// Name the cause of stuck jobs, unreachable or full nodes, refused registries and Git, with the fix
    Doctor(doctor::Cmd),
    /// The registry's app images: prune old tags
    #[command(subcommand)]
    Registry(registry::Cmd),
    /// Start a whole local stack (deployd, agentd, gateway) under ./.funai; --demo deploys the example app
    Up(stack::up::Cmd),
    /// Stop what `functl up` started, and nothing else
    Down(stack::down::Cmd),
    /// The local stack's processes, addresses and apps
    Status(stack::status::Cmd),
    /// The estates of the config file ([contexts.NAME]): list them, pick the current one
    #[command(subcommand)]
    Context(context::Cmd),
    /// Print the completion script for a shell (bash, zsh, fish, powershell, elvish)
    Completions(docs::Completions),
    /// Write completions/ and man/ under a repository root (used to refresh the committed files)
    #[command(hide = true, name = "generate-docs")]
    GenerateDocs(docs::Generate),
}

impl Command {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Command::Jobs(cmd) => cmd.run(ctx).await,
            Command::Deploy(cmd) => cmd.run(ctx).await,
            Command::Nodes(cmd) => cmd.run(ctx).await,
            Command::Apps(cmd) => cmd.run(ctx).await,
            Command::Runners(cmd) => cmd.run(ctx).await,
            Command::Rollback(cmd) => cmd.run(ctx).await,
            Command::Check(cmd) => cmd.run(ctx).await,
            Command::Doctor(cmd) => cmd.run(ctx).await,
            Command::Registry(cmd) => cmd.run(ctx).await,
            Command::Up(cmd) => cmd.run(ctx).await,
            Command::Down(cmd) => cmd.run(ctx).await,
            Command::Status(cmd) => cmd.run(ctx).await,
            Command::Context(cmd) => cmd.run(ctx).await,
            Command::Completions(cmd) => cmd.run(ctx).await,
            Command::GenerateDocs(cmd) => cmd.run(ctx).await,
        }
    }
}

/// Value parsers shared by several commands; clap reports their errors with exit 2.
pub mod parse {
    /// An app or user id: `[A-Za-z0-9_-]{1,64}`.
    pub fn id(value: &str) -> Result<String, String> {
        protocol::validate::id(value).map(|()| value.to_string())
    }

    /// A runtime node name (a host name: letters, digits, `_`, `-`, `.`).
    pub fn node_name(value: &str) -> Result<String, String> {
        protocol::validate::name(value).map(|()| value.to_string())
    }

    /// A job id: a positive integer.
    pub fn job_id(value: &str) -> Result<i64, String> {
        match value.parse::<i64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(format!("{value:?} is not a job id (a positive integer)")),
        }
    }
}
