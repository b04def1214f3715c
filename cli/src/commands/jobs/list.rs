//! `functl jobs list`: the job queue, newest first.

use clap::Args;
use comfy_table::Cell;
use protocol::job::{JobListQuery, JobStatus};

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{QuietArg, format, json, print_ids, table};

#[derive(Debug, Args)]
pub struct Cmd {
    /// Only this app's jobs
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    app: Option<String>,
    /// Only jobs in this status: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED
    #[arg(long, value_name = "STATUS")]
    status: Option<JobStatus>,
    /// At most this many jobs (deployd caps it at 200)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=200))]
    limit: Option<i64>,
    #[command(flatten)]
    quiet: QuietArg,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let query = JobListQuery {
            limit: self.limit,
            app_id: self.app,
            status: self.status.map(|s| s.as_str().to_string()),
        };
        let jobs = ctx.deploy()?.list_jobs(&query).await?;
        if self.quiet.quiet {
            print_ids(jobs.iter().map(|j| j.id))?;
            return Ok(Exit::Success);
        }
        if ctx.json() {
            json::print(&jobs)?;
            return Ok(Exit::Success);
        }
        let mut t = table::new(
            &[
                "ID", "APP", "USER", "STATUS", "PHASE", "ATTEMPT", "RUNNER", "NODE", "CREATED",
                "ERROR",
            ],
            ctx.styled,
        );
        for job in &jobs {
            t.add_row(vec![
                Cell::new(job.id),
                Cell::new(&job.app_id),
                Cell::new(format::or_dash(job.user_id.as_deref())),
                table::colored(job.status, super::status_color(job.status), ctx.styled),
                Cell::new(format::or_dash(job.phase.as_deref())),
                Cell::new(format!("{}/{}", job.attempt, job.max_attempts)),
                Cell::new(format::or_dash(job.runner_id.as_deref())),
                Cell::new(format::or_dash(
                    job.runtime_node.as_ref().map(|n| n.node_name.as_str()),
                )),
                Cell::new(format::timestamp(&job.created_at)),
                Cell::new(
                    job.error_message
                        .as_deref()
                        .map(|e| format::truncate(e, 60))
                        .unwrap_or_default(),
                ),
            ]);
        }
        table::print(&t)?;
        Ok(Exit::Success)
    }
}
