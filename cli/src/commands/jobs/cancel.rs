//! `functl jobs cancel ID`.

use clap::Args;
use protocol::job::JobStatus;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The job id
    #[arg(value_name = "ID", value_parser = parse::job_id)]
    id: i64,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let job = ctx.deploy()?.cancel_job(self.id).await?;
        if ctx.json() {
            json::print(&job)?;
            return Ok(Exit::Success);
        }
        let line = match job.status {
            JobStatus::Cancelled => format!("job {} CANCELLED", job.id),
            JobStatus::Running | JobStatus::Pending => format!(
                "job {} cancel requested ({}, the runner stops at its next heartbeat)",
                job.id, job.status
            ),
            // deployd refuses a finished job with 409; an older one may answer it as is.
            done => format!("job {} already {done}, nothing to cancel", job.id),
        };
        output::println(&line)?;
        Ok(Exit::Success)
    }
}
