//! `functl nodes list`.

use clap::Args;
use comfy_table::Cell;

use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{QuietArg, format, json, print_ids, table};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(flatten)]
    quiet: QuietArg,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let nodes = ctx.admin()?.list_nodes().await?;
        if self.quiet.quiet {
            print_ids(nodes.iter().map(|n| &n.node_name))?;
            return Ok(Exit::Success);
        }
        if ctx.json() {
            json::print(&nodes)?;
            return Ok(Exit::Success);
        }
        let mut t = table::new(
            &[
                "NAME",
                "STATUS",
                "DISK FREE",
                "CONTAINERS",
                "APPS",
                "AGENT URL",
                "GATEWAY URL",
                "LAST HEARTBEAT",
                "VERSION",
                "ENGINE",
            ],
            ctx.styled,
        );
        for n in &nodes {
            t.add_row(vec![
                Cell::new(&n.node_name),
                table::colored(n.status, super::health_color(n.status), ctx.styled),
                Cell::new(format::disk_free(n.disk_free_pct, n.disk_free_bytes)),
                Cell::new(n.container_count),
                Cell::new(n.placements),
                Cell::new(&n.agent_base_url),
                Cell::new(&n.gateway_base_url),
                Cell::new(
                    n.last_heartbeat_at
                        .as_ref()
                        .map(format::age)
                        .unwrap_or_else(|| "never".to_string()),
                ),
                Cell::new(format::or_dash(n.agent_version.as_deref())),
                Cell::new(
                    n.engine
                        .as_ref()
                        .map(|e| format!("{} {}", e.kind, e.version))
                        .unwrap_or_else(|| "-".to_string()),
                ),
            ]);
        }
        table::print(&t)?;
        Ok(Exit::Success)
    }
}
