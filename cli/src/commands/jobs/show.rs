//! `functl jobs show ID`: every field of one job.

use clap::Args;
use comfy_table::Cell;
use protocol::job::Job;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{format, json, table};

/// Payload keys deployd writes itself, mirrors of job fields.
const DEPLOYD_FILLED: [&str; 3] = ["attempt", "phase", "runStartedAt"];

#[derive(Debug, Args)]
pub struct Cmd {
    /// The job id
    #[arg(value_name = "ID", value_parser = parse::job_id)]
    id: i64,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let job = ctx.deploy()?.get_job(self.id).await?;
        if ctx.json() {
            json::print(&job)?;
        } else {
            table::print(&render(&job, ctx.styled))?;
        }
        Ok(Exit::Success)
    }
}

fn render(job: &Job, styled: bool) -> comfy_table::Table {
    let p = &job.payload;
    let text = |s: String| Cell::new(s);
    let opt = |s: Option<&str>| Cell::new(format::or_dash(s));
    let phase = match (&job.phase, &job.phase_message) {
        (Some(phase), Some(msg)) if !msg.is_empty() => format!("{phase}: {msg}"),
        (Some(phase), _) => phase.clone(),
        (None, _) => "-".to_string(),
    };
    let node = job
        .runtime_node
        .as_ref()
        .map(|n| format!("{} ({})", n.node_name, n.agent_base_url));
    let mut rows: Vec<(&str, Cell)> = vec![
        ("ID", text(job.id.to_string())),
        ("TYPE", text(job.job_type.as_str().to_string())),
        ("APP", text(job.app_id.clone())),
        ("USER", opt(job.user_id.as_deref())),
        (
            "STATUS",
            table::colored(job.status, super::status_color(job.status), styled),
        ),
        ("PHASE", text(phase)),
        (
            "ATTEMPT",
            text(format!("{}/{}", job.attempt, job.max_attempts)),
        ),
        ("RUNNER", opt(job.runner_id.as_deref())),
        (
            "LEASE EXPIRES",
            text(format::opt_timestamp(job.lease_expire_at.as_ref())),
        ),
        (
            "CANCEL REQUESTED",
            text(if job.cancel_requested { "yes" } else { "no" }.to_string()),
        ),
        ("NODE", opt(node.as_deref())),
        ("SOURCE", text(super::source(p))),
    ];
    if p.repo_ssh_url.is_some() {
        rows.push((
            "DOCKERFILE",
            text(p.dockerfile_path_or_default().to_string()),
        ));
        rows.push(("BUILD CONTEXT", opt(p.build_context.as_deref())));
        rows.push(("IMAGE REPO", opt(p.image_repo.as_deref())));
        rows.push(("IMAGE TAG", opt(p.image_tag.as_deref())));
    }
    rows.push((
        "CONTAINER PORT",
        text(p.container_port_or_default().to_string()),
    ));
    rows.push(("BASE PATH", text(p.base_path_or_default())));
    if let Some(h) = &p.health_path {
        rows.push(("HEALTH PATH", text(h.clone())));
    }
    // Values may hold credentials: names only.
    if let Some(env) = p.env.as_ref().filter(|e| !e.is_empty()) {
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        rows.push(("ENV", text(format!("{} (values hidden)", names.join(", ")))));
    }
    // deployd copies attempt, phase and runStartedAt into the payload; they show above.
    let extra: Vec<&str> = p
        .extra
        .keys()
        .map(String::as_str)
        .filter(|k| !DEPLOYD_FILLED.contains(k))
        .collect();
    if !extra.is_empty() {
        rows.push(("EXTRA PAYLOAD", text(extra.join(", "))));
    }
    rows.extend([
        ("IMAGE", opt(job.image.as_deref())),
        ("COMMIT", opt(job.commit_sha.as_deref())),
        ("DEPLOY URL", opt(job.deploy_url.as_deref())),
        (
            "ERROR",
            opt(match (&job.error_code, &job.error_message) {
                (Some(code), Some(m)) => Some(format!("[{code}] {m}")),
                (_, m) => m.clone(),
            }
            .as_deref()),
        ),
        ("LOG", text(format::bytes(job.log_length))),
        ("CREATED", text(format::timestamp(&job.created_at))),
        ("UPDATED", text(format::timestamp(&job.updated_at))),
        (
            "STARTED",
            text(format::opt_timestamp(job.started_at.as_ref())),
        ),
        (
            "FINISHED",
            text(format::opt_timestamp(job.finished_at.as_ref())),
        ),
    ]);
    table::vertical(rows, styled)
}
