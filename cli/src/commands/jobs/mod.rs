//! `functl jobs ...`: the deploy job queue.

pub mod cancel;
pub mod list;
pub mod logs;
pub mod show;

use clap::Subcommand;
use comfy_table::Color;
use protocol::job::{JobPayload, JobStatus};

use crate::ctx::Ctx;
use crate::exit::Exit;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List jobs, newest first
    List(list::Cmd),
    /// Show every field of one job
    Show(show::Cmd),
    /// Print a job's log; -f follows it until the job ends
    Logs(logs::Cmd),
    /// Cancel a job: at once when PENDING, at the runner's next heartbeat when RUNNING
    Cancel(cancel::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List(cmd) => cmd.run(ctx).await,
            Cmd::Show(cmd) => cmd.run(ctx).await,
            Cmd::Logs(cmd) => cmd.run(ctx).await,
            Cmd::Cancel(cmd) => cmd.run(ctx).await,
        }
    }
}

pub fn status_color(status: JobStatus) -> Option<Color> {
    match status {
        JobStatus::Pending => Some(Color::Cyan),
        JobStatus::Running => Some(Color::Blue),
        JobStatus::Succeeded => Some(Color::Green),
        JobStatus::Failed => Some(Color::Red),
        JobStatus::Cancelled => Some(Color::Yellow),
    }
}

/// What a job deploys from: the image (stage 1) or `repo@ref` (stage 2).
pub fn source(payload: &JobPayload) -> String {
    match (&payload.image, &payload.repo_ssh_url) {
        (Some(image), _) => image.clone(),
        (None, Some(repo)) => format!("{repo}@{}", payload.git_ref_or_default()),
        (None, None) => "-".to_string(),
    }
}
