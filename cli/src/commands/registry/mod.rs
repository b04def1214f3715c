//! `functl registry ...`: the app images in the registry (Harbor).

mod engine;
pub mod prune;

use clap::Subcommand;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Keep the newest N tags of app repositories, never a running one; delete the rest
    Prune(prune::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::Prune(cmd) => cmd.run(ctx).await,
        }
    }
}
