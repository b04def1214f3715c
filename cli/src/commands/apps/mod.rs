//! `functl apps ...`: the last known state of each app.

pub mod list;
pub mod logs;
pub mod r#move;
pub mod show;
pub mod stop;

use clap::Subcommand;
use comfy_table::Color;
use protocol::app::AppRunStatus;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List apps with their node, image, commit and URL
    List(list::Cmd),
    /// Show one app: its container's state, restarts and last exit, a probe of its public
    /// URL, and the images it ran recently
    Show(show::Cmd),
    /// Print the app container's output (stdout and stderr) from its node; -f follows
    Logs(logs::Cmd),
    /// Stop an app on its node (asks first; --yes when there is no terminal)
    Stop(stop::Cmd),
    /// Delete an app: containers, images, registry tags and history (asks first)
    Delete(stop::Cmd),
    /// Give an app to another user: its next deploy names its image, container and
    /// database after the new owner (asks first)
    Move(r#move::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List(cmd) => cmd.run(ctx).await,
            Cmd::Show(cmd) => cmd.run(ctx).await,
            Cmd::Logs(cmd) => cmd.run(ctx).await,
            Cmd::Stop(cmd) => cmd.run(ctx, stop::What::Stop).await,
            Cmd::Delete(cmd) => cmd.run(ctx, stop::What::Delete).await,
            Cmd::Move(cmd) => cmd.run(ctx).await,
        }
    }
}

pub fn status_color(status: AppRunStatus) -> Option<Color> {
    match status {
        AppRunStatus::Deploying => Some(Color::Blue),
        AppRunStatus::Ready => Some(Color::Green),
        AppRunStatus::Failed => Some(Color::Red),
        AppRunStatus::Stopped => Some(Color::Yellow),
        AppRunStatus::Down => Some(Color::Magenta),
    }
}
