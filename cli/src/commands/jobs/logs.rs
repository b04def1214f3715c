//! `functl jobs logs ID [-f]`: the job's log as raw text on stdout; with `-f`, until the job
//! ends, exiting with its outcome.

use clap::Args;
use protocol::client::DeployClient;

use super::{Followed, Timeout, follow_within, outcome, parse_timeout, wait};
use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output;

/// How long one follow request may wait on deployd for new bytes.
const FOLLOW_WAIT_SECONDS: i64 = 20;

#[derive(Debug, Args)]
pub struct Cmd {
    /// The job id
    #[arg(value_name = "ID", value_parser = parse::job_id)]
    id: i64,
    /// Keep printing new output until the job ends; exit 0 if it succeeded, 1 if it failed or
    /// was cancelled
    #[arg(short, long)]
    follow: bool,
    /// With -f: give up after this long (90s, 10m, 1h30m): exit 1; the job itself goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, requires = "follow")]
    timeout: Option<Timeout>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let client = ctx.deploy()?;
        if !self.follow {
            print_log(client, self.id, false).await?;
            return Ok(Exit::Success);
        }
        let followed = follow_within(self.id, self.timeout.as_ref(), async {
            print_log(client, self.id, true).await?;
            wait::until_end(client, self.id).await
        })
        .await;
        let job = match followed {
            Followed::Done(job) => job?,
            cut => return Ok(cut.cut_short().unwrap_or(Exit::Failure)),
        };
        let exit = outcome(job.status);
        // stdout is the log; how the job ended goes to stderr, where the exit code is explained.
        if exit != Exit::Success {
            eprintln!("{}", wait::final_line(&job));
        }
        Ok(exit)
    }
}

/// Prints the log from its start; with `follow`, until the job ends and every byte is read.
async fn print_log(client: &DeployClient, id: i64, follow: bool) -> anyhow::Result<()> {
    let wait = if follow { FOLLOW_WAIT_SECONDS } else { 0 };
    let mut offset = 0;
    let mut told_truncated = false;
    loop {
        let chunk = client.read_log(id, offset, wait).await?;
        if chunk.truncated && !told_truncated {
            eprintln!("note: the log of job {id} was capped by deployd; earlier output is gone");
            told_truncated = true;
        }
        output::print(&chunk.content)?;
        let advanced = chunk.next_offset > offset;
        offset = chunk.next_offset.max(offset);
        // A finished job that yields nothing more is done even if `complete` lags.
        if chunk.complete || (chunk.status.is_terminal() && !advanced) {
            return Ok(());
        }
        // Without -f, stop once a read brings nothing new.
        if !follow && !advanced {
            return Ok(());
        }
    }
}
