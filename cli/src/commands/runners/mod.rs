//! `functl runners ...`: the runners deployd has seen claiming jobs.

pub mod list;

use clap::Subcommand;

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List runners with their health, jobs and last contact
    List(list::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List(cmd) => cmd.run(ctx).await,
        }
    }
}
