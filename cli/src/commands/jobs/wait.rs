//! `functl jobs wait ID [--timeout D]`: blocks until the job ends and exits with its outcome,
//! for scripts and CI (0 succeeded, 1 failed or cancelled or timed out).

use clap::Args;
use protocol::client::DeployClient;
use protocol::job::{Job, JobStatus};

use super::{Followed, Timeout, follow_within, outcome, parse_timeout};
use crate::commands::deploy::retry_or_fail;
use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json};

/// How long one log read may wait on deployd for the job to move.
const WAIT_SECONDS: i64 = 20;

#[derive(Debug, Args)]
pub struct Cmd {
    /// The job id
    #[arg(value_name = "ID", value_parser = parse::job_id)]
    id: i64,
    /// Give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Timeout>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let client = ctx.deploy()?;
        let job =
            match follow_within(self.id, self.timeout.as_ref(), until_end(client, self.id)).await {
                Followed::Done(job) => job?,
                cut => return Ok(cut.cut_short().unwrap_or(Exit::Failure)),
            };
        if ctx.json() {
            json::print(&job)?;
        } else {
            output::println(&final_line(&job))?;
        }
        Ok(outcome(job.status))
    }
}

/// Waits without output until job `id` ends and answers it. The log is long-polled because
/// deployd answers that request as soon as the job moves; once the job was read, a
/// restarting deployd is retried.
pub async fn until_end(client: &DeployClient, id: i64) -> anyhow::Result<Job> {
    // The first read is not retried: an unknown job, or a deployd that cannot be reached at
    // all, is said at once.
    let job = client.get_job(id).await?;
    if job.status.is_terminal() {
        return Ok(job);
    }
    let mut offset = 0;
    let mut failures = 0;
    loop {
        match client.read_log(id, offset, WAIT_SECONDS).await {
            Ok(chunk) => {
                failures = 0;
                offset = chunk.next_offset.max(offset);
                if chunk.status.is_terminal() {
                    break;
                }
            }
            Err(e) => retry_or_fail(e, &mut failures).await?,
        }
    }
    let mut failures = 0;
    loop {
        match client.get_job(id).await {
            Ok(job) => return Ok(job),
            Err(e) => retry_or_fail(e, &mut failures).await?,
        }
    }
}

/// One line saying how the job ended: `job 12 SUCCEEDED: http://...`,
/// `job 12 FAILED: [CODE] reason`, `job 12 CANCELLED`.
pub fn final_line(job: &Job) -> String {
    let detail = match job.status {
        JobStatus::Succeeded => job.deploy_url.clone(),
        _ => match (&job.error_code, &job.error_message) {
            // A code that only repeats the status (CANCELLED) says nothing more.
            (Some(code), Some(m)) if code != job.status.as_str() => Some(format!("[{code}] {m}")),
            (_, m) => m.clone(),
        },
    };
    // One line, so that `tail -1` or `read` in a script gets all of it.
    let detail = detail.map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "));
    match detail.filter(|d| !d.is_empty()) {
        Some(d) => format!("job {} {}: {d}", job.id, job.status),
        None => format!("job {} {}", job.id, job.status),
    }
}
