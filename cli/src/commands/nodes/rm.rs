//! `functl nodes rm NAME`: destructive, so it asks on a terminal and wants `--yes` without one.

use clap::Args;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json, prompt};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The node's name
    #[arg(value_name = "NAME", value_parser = parse::node_name)]
    name: String,
    /// Remove it even while apps are placed on it (their placements are dropped)
    #[arg(long)]
    force: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let client = ctx.admin()?;
        let question = if self.force {
            format!(
                "Remove node {} and drop the placements of its apps?",
                self.name
            )
        } else {
            format!("Remove node {}?", self.name)
        };
        let action = format!("remove node {}", self.name);
        if !prompt::confirm(&action, &question, self.yes)? {
            eprintln!("node {} not removed", self.name);
            return Ok(Exit::Failure);
        }
        let answer = client.remove_node(&self.name, self.force).await?;
        if ctx.json() {
            json::print(&answer)?;
        } else {
            output::println(&format!("node {} removed", self.name))?;
        }
        Ok(Exit::Success)
    }
}
