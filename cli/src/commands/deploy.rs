//! `functl deploy`: create a BUILD_AND_DEPLOY job and, with `--wait`, follow it to its end.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use clap::{ArgGroup, Args};
use protocol::client::{ClientError, DeployClient};
use protocol::job::{CreateJobRequest, FieldError, Job, JobPayload, JobStatus, JobType};

use crate::commands::jobs::{Followed, Timeout, follow_within, parse_timeout};
use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::progress::PhaseDisplay;
use crate::output::{self, json};

/// How long one log read may wait on deployd for new bytes.
const LOG_WAIT_SECONDS: i64 = 20;
/// How often the job is read for its phase while the log is followed.
const PHASE_POLL: Duration = Duration::from_secs(1);
/// Consecutive transport failures tolerated while following (deployd restarting).
const MAX_TRANSPORT_RETRIES: u32 = 10;

/// With `--app` alone, deployd redeploys the app as it knows it (owner, repository, ref,
/// port, env, route); a new app needs `--user`, and `--repo` or `--image` unless deployd
/// has `[apps] repo_url_template`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").args(["image", "repo"])))]
pub struct Cmd {
    /// The app to deploy; alone, it redeploys the app as deployd knows it
    #[arg(long, value_name = "ID")]
    app: String,
    /// The app's owner: needed for an app deployd has never seen [default: its owner]
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// Deploy this image as is (stage 1) [default: as the app was last deployed]
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// Build this Git repository (stage 2): ssh://git@host:2222/path.git or git@host:path
    #[arg(long, value_name = "URL")]
    repo: Option<String>,
    /// Branch, tag or commit to build [default: main]
    #[arg(long = "ref", value_name = "REF", requires = "repo")]
    git_ref: Option<String>,
    /// Dockerfile, relative to the repository root [default: Dockerfile]
    #[arg(long, value_name = "PATH", requires = "repo")]
    dockerfile: Option<String>,
    /// Build context, relative to the repository root [default: the root]
    #[arg(long, value_name = "PATH", requires = "repo")]
    context: Option<String>,
    /// Port the app listens on inside its container [default: 3000]
    #[arg(long, value_name = "N")]
    port: Option<i64>,
    /// An environment variable for the app; repeat for more
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Follow the job: stream its log to stdout, its phase to stderr; exit 0 only if it deployed
    #[arg(long)]
    wait: bool,
    /// With --wait: give up following after this long (90s, 10m, 1h30m): exit 1; the job
    /// itself goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, requires = "wait")]
    timeout: Option<Timeout>,
}

fn parse_env(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{value:?} is not KEY=VALUE")),
    }
}

/// The flag a payload field comes from, so that a validation error names what was typed.
fn flag_of(field: &str) -> String {
    let flag = match field {
        "payload.appId" => "--app",
        "payload.userId" => "--user",
        "payload.image" => "--image",
        "payload.repoSshUrl" => "--repo",
        "payload.gitRef" => "--ref",
        "payload.dockerfilePath" => "--dockerfile",
        "payload.buildContext" => "--context",
        "payload.containerPort" => "--port",
        other => match other.strip_prefix("payload.env.") {
            Some(key) => return format!("--env {key}"),
            None => other,
        },
    };
    flag.to_string()
}

/// deployd's 400 names the payload field it refused or lacks (`payload.userId: ...`):
/// said as the flag to give, exit 2.
fn refused_field(e: &ClientError) -> Option<anyhow::Error> {
    let ClientError::Api {
        status: 400,
        message,
    } = e
    else {
        return None;
    };
    let (field, why) = message.split_once(": ")?;
    if !field.starts_with("payload.") {
        return None;
    }
    let add = match field {
        "payload.repoSshUrl" | "payload.image" => "--repo URL or --image IMAGE".to_string(),
        f => flag_of(f),
    };
    Some(usage_error(format!("{why} (deployd, {field}): add {add}")))
}

fn usage(e: &FieldError) -> anyhow::Error {
    usage_error(format!(
        "invalid {} ({}): {}",
        flag_of(&e.field),
        e.field,
        e.message
    ))
}

impl Cmd {
    fn payload(&self) -> JobPayload {
        JobPayload {
            app_id: self.app.clone(),
            user_id: self.user.clone(),
            image: self.image.clone(),
            container_port: self.port,
            repo_ssh_url: self.repo.clone(),
            git_ref: self.git_ref.clone(),
            dockerfile_path: self.dockerfile.clone(),
            build_context: self.context.clone(),
            env: (!self.env.is_empty())
                .then(|| self.env.iter().cloned().collect::<BTreeMap<_, _>>()),
            ..Default::default()
        }
    }

    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let payload = self.payload();
        // file:// repositories are for a local stack; deployd decides whether it is one.
        payload.validate_given(true).map_err(|e| usage(&e))?;
        let client = ctx.deploy()?;
        let job = client
            .create_job(&CreateJobRequest {
                job_type: JobType::BuildAndDeploy,
                payload,
            })
            .await
            .map_err(|e| refused_field(&e).unwrap_or_else(|| e.into()))?;
        let created = format!(
            "job {} created for app {} ({})",
            job.id, job.app_id, job.status
        );
        if !self.wait {
            if ctx.json() {
                json::print(&job)?;
            } else {
                output::println(&created)?;
            }
            return Ok(Exit::Success);
        }
        // stdout carries the log (or, with JSON, only the final job); the rest goes to stderr.
        eprintln!("{created}");
        follow_and_finish(client, job, self.timeout.as_ref(), ctx.json()).await
    }
}

/// Follows `job` to its end within `timeout` and exits with its outcome (deploy --wait,
/// rollback): 0 deployed; 1 failed, cancelled or timed out; 130 on Ctrl-C.
pub(crate) async fn follow_and_finish(
    client: &DeployClient,
    job: Job,
    timeout: Option<&Timeout>,
    as_json: bool,
) -> anyhow::Result<Exit> {
    match follow_within(job.id, timeout, follow(client, job, as_json)).await {
        Followed::Done(done) => finish(done?, as_json),
        cut => Ok(cut.cut_short().unwrap_or(Exit::Failure)),
    }
}

/// Streams the log and shows the phase until the job ends and every byte is read; answers
/// the final job. The log is long-polled; the job is polled beside it, because a phase can
/// change while the runner writes no log.
pub(crate) async fn follow(
    client: &DeployClient,
    job: Job,
    log_to_stderr: bool,
) -> anyhow::Result<Job> {
    let id = job.id;
    let display = RefCell::new(PhaseDisplay::for_stderr(id));
    display
        .borrow_mut()
        .update(job.status.as_str(), job.phase.as_deref());

    let stream_log = async {
        let mut offset = 0;
        let mut failures = 0;
        loop {
            let chunk = match client.read_log(id, offset, LOG_WAIT_SECONDS).await {
                Ok(chunk) => chunk,
                Err(e) => {
                    retry_or_fail(e, &mut failures).await?;
                    continue;
                }
            };
            failures = 0;
            if !chunk.content.is_empty() {
                display
                    .borrow()
                    .suspend(|| write_log(&chunk.content, log_to_stderr))?;
            }
            let advanced = chunk.next_offset > offset;
            offset = chunk.next_offset.max(offset);
            // A finished job that yields nothing more is done even if `complete` lags.
            if chunk.complete || (chunk.status.is_terminal() && !advanced) {
                return Ok::<_, anyhow::Error>(());
            }
        }
    };
    let watch_phase = async {
        let mut failures = 0;
        loop {
            tokio::time::sleep(PHASE_POLL).await;
            match client.get_job(id).await {
                Ok(job) => {
                    failures = 0;
                    display
                        .borrow_mut()
                        .update(job.status.as_str(), job.phase.as_deref());
                }
                Err(e) => {
                    if let Err(fatal) = retry_or_fail(e, &mut failures).await {
                        return fatal;
                    }
                }
            }
        }
    };
    tokio::select! {
        done = stream_log => done?,
        failed = watch_phase => return Err(failed),
    }
    let mut failures = 0;
    let job = loop {
        match client.get_job(id).await {
            Ok(job) => break job,
            Err(e) => retry_or_fail(e, &mut failures).await?,
        }
    };
    let display = display.into_inner();
    display.finish();
    Ok(job)
}

/// While following, deployd may restart: a transport error is retried a few times after a
/// pause; anything else, or too many in a row, ends the follow.
pub(crate) async fn retry_or_fail(err: ClientError, failures: &mut u32) -> anyhow::Result<()> {
    match err {
        ClientError::Transport { .. } if *failures < MAX_TRANSPORT_RETRIES => {
            *failures += 1;
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(())
        }
        e => Err(e.into()),
    }
}

fn write_log(text: &str, to_stderr: bool) -> std::io::Result<()> {
    if to_stderr {
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()
    } else {
        output::print(text)
    }
}

pub(crate) fn finish(job: Job, as_json: bool) -> anyhow::Result<Exit> {
    if as_json {
        json::print(&job)?;
    }
    match job.status {
        JobStatus::Succeeded => {
            if !as_json {
                let url = job.deploy_url.as_deref().unwrap_or("-");
                output::println(&format!("deployed: {url}"))?;
            }
            Ok(Exit::Success)
        }
        JobStatus::Failed => {
            let reason = job.error_message.as_deref().unwrap_or("no reason given");
            eprintln!("error: job {} FAILED: {reason}", job.id);
            Ok(Exit::Failure)
        }
        other => {
            eprintln!("job {} {other}", job.id);
            Ok(Exit::Failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs_split_at_the_first_equals() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".to_string(), "b=c".to_string())));
        assert_eq!(parse_env("A="), Ok(("A".to_string(), String::new())));
        assert!(parse_env("A").is_err());
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn validation_errors_name_the_flag_and_the_field() {
        let e = FieldError::new("payload.appId", "contains '/'");
        assert_eq!(
            usage(&e).to_string(),
            "invalid --app (payload.appId): contains '/'"
        );
        assert_eq!(flag_of("payload.env.1X"), "--env 1X");
        assert_eq!(flag_of("payload.basePath"), "payload.basePath");
    }
}
