//! `functl nodes ...`: the runtime nodes apps are placed on.

pub mod action;
pub mod drain;
pub mod list;
pub mod rm;

use clap::Subcommand;
use comfy_table::Color;
use protocol::node::NodeHealth;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List runtime nodes with their health, disk and apps
    List(list::Cmd),
    /// Stop placing new apps on a node; its apps move at their next deploy, or now with --migrate
    Drain(drain::Cmd),
    /// Take a node back after a drain
    Undrain(action::Cmd),
    /// Allow placement on a disabled node
    Enable(action::Cmd),
    /// Take a node out of placement entirely
    Disable(action::Cmd),
    /// Forget a node (asks first; --yes when there is no terminal)
    Rm(rm::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List(cmd) => cmd.run(ctx).await,
            Cmd::Drain(cmd) => cmd.run(ctx).await,
            Cmd::Undrain(cmd) => cmd.run(ctx, action::Action::Undrain).await,
            Cmd::Enable(cmd) => cmd.run(ctx, action::Action::Enable).await,
            Cmd::Disable(cmd) => cmd.run(ctx, action::Action::Disable).await,
            Cmd::Rm(cmd) => cmd.run(ctx).await,
        }
    }
}

pub fn health_color(status: NodeHealth) -> Option<Color> {
    match status {
        NodeHealth::Healthy => Some(Color::Green),
        NodeHealth::Stale => Some(Color::Yellow),
        NodeHealth::Draining => Some(Color::Yellow),
        NodeHealth::Disabled => Some(Color::Red),
    }
}
