//! `functl runners list`.

use clap::Args;
use comfy_table::{Cell, Color};
use protocol::runner::RunnerHealth;

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
        let runners = ctx.admin()?.runners().await?;
        if self.quiet.quiet {
            print_ids(runners.iter().map(|r| &r.runner_id))?;
            return Ok(Exit::Success);
        }
        if ctx.json() {
            json::print(&runners)?;
            return Ok(Exit::Success);
        }
        let mut t = table::new(
            &[
                "RUNNER",
                "STATUS",
                "RUNNING JOBS",
                "CLAIMED",
                "LAST SEEN",
                "ADDRESS",
                "LEGACY",
                "VERSION",
            ],
            ctx.styled,
        );
        for r in &runners {
            let color = match r.status {
                RunnerHealth::Healthy => Color::Green,
                RunnerHealth::Stale => Color::Yellow,
            };
            t.add_row(vec![
                Cell::new(&r.runner_id),
                table::colored(r.status, Some(color), ctx.styled),
                Cell::new(r.running_jobs),
                Cell::new(r.jobs_claimed),
                Cell::new(format::age(&r.last_seen_at)),
                Cell::new(format::or_dash(r.remote_addr.as_deref())),
                Cell::new(if r.legacy { "yes" } else { "no" }),
                Cell::new(format::or_dash(r.agent_version.as_deref())),
            ]);
        }
        table::print(&t)?;
        Ok(Exit::Success)
    }
}
