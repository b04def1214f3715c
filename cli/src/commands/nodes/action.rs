//! `functl nodes drain|undrain|enable|disable NAME`.

use clap::Args;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json};

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Undrain,
    Enable,
    Disable,
}

impl Action {
    /// The path segment of `POST /admin/nodes/{name}/{action}`.
    fn as_str(self) -> &'static str {
        match self {
            Action::Undrain => "undrain",
            Action::Enable => "enable",
            Action::Disable => "disable",
        }
    }
}

#[derive(Debug, Args)]
pub struct Cmd {
    /// The node's name (its nodeName, e.g. rt-01)
    #[arg(value_name = "NAME", value_parser = parse::node_name)]
    name: String,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx, action: Action) -> anyhow::Result<Exit> {
        let node = ctx
            .admin()?
            .node_action(&self.name, action.as_str())
            .await?;
        if ctx.json() {
            json::print(&node)?;
        } else {
            output::println(&format!("node {} {}", node.node_name, node.status))?;
        }
        Ok(Exit::Success)
    }
}
