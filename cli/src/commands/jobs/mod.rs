//! `functl jobs ...`: the deploy job queue.

pub mod cancel;
pub mod list;
pub mod logs;
pub mod show;
pub mod wait;

use std::future::Future;
use std::time::Duration;

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
    /// Wait for a job to end; exit 0 if it succeeded, 1 if it failed or was cancelled
    Wait(wait::Cmd),
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List(cmd) => cmd.run(ctx).await,
            Cmd::Show(cmd) => cmd.run(ctx).await,
            Cmd::Logs(cmd) => cmd.run(ctx).await,
            Cmd::Cancel(cmd) => cmd.run(ctx).await,
            Cmd::Wait(cmd) => cmd.run(ctx).await,
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

/// The exit of a followed job: 0 only if it succeeded.
pub fn outcome(status: JobStatus) -> Exit {
    match status {
        JobStatus::Succeeded => Exit::Success,
        _ => Exit::Failure,
    }
}

/// The value of `--timeout`: how long to follow a job, as typed (`90s`, `10m`, `1h30m`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    pub limit: Duration,
    pub text: String,
}

/// Parses `--timeout`: a duration as [`crate::duration`] reads it, longer than zero.
pub fn parse_timeout(value: &str) -> Result<Timeout, String> {
    let text = value.trim();
    let total = crate::duration::parse(text).map_err(|e| match e {
        crate::duration::DurationError::Malformed => format!(
            "{value:?} is not a duration: write a number and a unit, like 90s, 10m or 1h30m"
        ),
        crate::duration::DurationError::TooLong => format!("{value:?} is too long a duration"),
    })?;
    if total.is_zero() {
        return Err(format!("{value:?}: the timeout must be longer than zero"));
    }
    Ok(Timeout {
        limit: total,
        text: text.to_string(),
    })
}

/// How following a job ended.
pub enum Followed<T> {
    /// The job ended (or following failed) before the timeout.
    Done(T),
    /// `--timeout` ran out; the message is printed and the job goes on.
    TimedOut,
    /// Ctrl-C; the message is printed and the job goes on.
    Interrupted,
}

impl<T> Followed<T> {
    /// The exit of a follow that did not end with the job: 1 on timeout, 130 on Ctrl-C.
    pub fn cut_short(&self) -> Option<Exit> {
        match self {
            Followed::Done(_) => None,
            Followed::TimedOut => Some(Exit::Failure),
            Followed::Interrupted => Some(Exit::Interrupted),
        }
    }
}

/// Runs `follow` (which follows job `id` to its end) until it is done, `timeout` runs out or
/// Ctrl-C; in the last two cases says on stderr that job `id` goes on.
pub async fn follow_within<T>(
    id: i64,
    timeout: Option<&Timeout>,
    follow: impl Future<Output = T>,
) -> Followed<T> {
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t.limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        done = follow => Followed::Done(done),
        () = limit => {
            let text = timeout.map(|t| t.text.as_str()).unwrap_or_default();
            eprintln!(
                "\nerror: timed out after {text} (--timeout {text}) following job {id}; \
                 the job itself goes on: functl jobs wait {id}"
            );
            Followed::TimedOut
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\nstopped following; job {id} goes on: functl jobs logs -f {id}");
            Followed::Interrupted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_humantime_writes_them() {
        let secs = |v: &str| parse_timeout(v).map(|t| t.limit.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("10m"), Ok(600));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("1h 30m"), Ok(5400));
        assert_eq!(secs("2days"), Ok(172_800));
        assert_eq!(
            parse_timeout("1500ms").map(|t| t.limit),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_timeout(" 90s ").map(|t| t.text),
            Ok("90s".to_string())
        );
    }

    #[test]
    fn a_timeout_without_unit_or_zero_is_refused() {
        for bad in [
            "",
            "90",
            "s",
            "10x",
            "-5s",
            "1.5h",
            "0s",
            "99999999999999999999s",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(
            parse_timeout("90")
                .unwrap_err()
                .contains("like 90s, 10m or 1h30m")
        );
    }
}
