//! `functl jobs logs ID [-f]`: the job's log as raw text on stdout.

use clap::Args;

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
    /// Keep printing new output until the job ends
    #[arg(short, long)]
    follow: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let client = ctx.deploy()?;
        let wait = if self.follow { FOLLOW_WAIT_SECONDS } else { 0 };
        let mut offset = 0;
        let mut told_truncated = false;
        loop {
            let chunk = client.read_log(self.id, offset, wait).await?;
            if chunk.truncated && !told_truncated {
                eprintln!(
                    "note: the log of job {} was capped by deployd; earlier output is gone",
                    self.id
                );
                told_truncated = true;
            }
            output::print(&chunk.content)?;
            let advanced = chunk.next_offset > offset;
            offset = chunk.next_offset.max(offset);
            // A finished job that yields nothing more is done even if `complete` lags.
            if chunk.complete || (chunk.status.is_terminal() && !advanced) {
                break;
            }
            // Without -f, stop once a read brings nothing new.
            if !self.follow && !advanced {
                break;
            }
        }
        Ok(Exit::Success)
    }
}
