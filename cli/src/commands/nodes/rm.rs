//! `functl nodes rm NAME`: destructive, so it asks on a terminal and wants `--yes` without one.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::{self, json};

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
        if !self.yes {
            if !std::io::stdin().is_terminal() {
                return Err(usage_error(format!(
                    "refusing to remove node {} without confirmation: no terminal to ask on, pass --yes",
                    self.name
                )));
            }
            let what = if self.force {
                format!(
                    "Remove node {} and drop the placements of its apps?",
                    self.name
                )
            } else {
                format!("Remove node {}?", self.name)
            };
            if !confirm(&what)? {
                eprintln!("not removed");
                return Ok(Exit::Failure);
            }
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

/// Asks `question [y/N]` on stderr and reads one line from stdin; only `y`/`yes` agree.
fn confirm(question: &str) -> std::io::Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
