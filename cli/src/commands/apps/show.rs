//! `functl apps show ID`: one app as deployd knows it, its container as the agent of its
//! node sees it (state, restarts, last exit), a probe of its public URL from here, and the
//! images it ran recently (what a rollback picks from).

use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::{Cell, Color};
use protocol::app::{AppContainer, AppRun};
use serde::Serialize;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, format, json, table};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The app id
    #[arg(value_name = "ID", value_parser = parse::id)]
    app: String,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let client = ctx.admin()?;
        let app = client.app(&self.app).await?;
        // What the node says may fail (node down) while deployd's record stands: the
        // failure is shown in place of the container.
        let container = client
            .app_container(&self.app)
            .await
            .map_err(|e| e.to_string());
        let url = match &container {
            Ok(c) => c.public_url.clone(),
            Err(_) => None,
        }
        .or_else(|| app.deploy_url.clone());
        let probe = match url {
            Some(url) => Some(probe(&url).await),
            None => None,
        };
        if ctx.json() {
            json::print(&Shown {
                app: &app,
                container: match &container {
                    Ok(c) => serde_json::to_value(c)?,
                    Err(e) => serde_json::json!({ "error": e }),
                },
                probe: probe.as_ref(),
            })?;
            return Ok(Exit::Success);
        }
        table::print(&render(&app, &container, probe.as_ref(), ctx.styled))?;
        output::println("")?;
        if app.recent_images.is_empty() {
            output::println("RECENT IMAGES: none")?;
            return Ok(Exit::Success);
        }
        output::println("RECENT IMAGES")?;
        let mut t = table::new(&["IMAGE", "JOB", "COMMIT", "DEPLOYED"], ctx.styled);
        for img in &app.recent_images {
            t.add_row(vec![
                Cell::new(&img.image),
                Cell::new(img.job_id),
                Cell::new(format::or_dash(
                    img.commit_sha
                        .as_deref()
                        .map(format::short_commit)
                        .as_deref(),
                )),
                Cell::new(format::timestamp(&img.deployed_at)),
            ]);
        }
        table::print(&t)?;
        Ok(Exit::Success)
    }
}

/// `-o json`: deployd's record, with `container` (or `{"error"}`) and `probe` beside its keys.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    app: &'a AppRun,
    container: serde_json::Value,
    probe: Option<&'a Probe>,
}

/// One GET of the app's public URL from where functl runs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    millis: u64,
    #[serde(skip)]
    text: String,
}

/// How long the probe waits for the app's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

async fn probe(url: &str) -> Probe {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let answer = match client {
        Ok(c) => c.get(url).send().await,
        Err(e) => Err(e),
    };
    let millis = started.elapsed().as_millis() as u64;
    match answer {
        Ok(resp) => Probe {
            url: url.to_string(),
            status: Some(resp.status().as_u16()),
            error: None,
            millis,
            text: format!("{} in {millis} ms", resp.status()),
        },
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {}s", PROBE_TIMEOUT.as_secs())
            } else {
                cause(&e)
            };
            Probe {
                url: url.to_string(),
                status: None,
                error: Some(why.clone()),
                millis,
                text: format!("{why} (after {millis} ms)"),
            }
        }
    }
}

/// The innermost cause of a transport error (`Connection refused`): reqwest's own sentence
/// repeats the URL shown above it.
fn cause(e: &reqwest::Error) -> String {
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}

fn render(
    app: &AppRun,
    container: &Result<AppContainer, String>,
    probe: Option<&Probe>,
    styled: bool,
) -> comfy_table::Table {
    let opt = |s: Option<&str>| Cell::new(format::or_dash(s));
    let last_job = match (app.last_job_id, app.last_job_status) {
        (Some(id), Some(status)) => format!("{id} ({status})"),
        (Some(id), None) => id.to_string(),
        _ => "-".to_string(),
    };
    let mut rows = vec![
        ("APP", Cell::new(&app.app_id)),
        ("USER", opt(app.user_id.as_deref())),
        (
            "STATUS",
            table::colored(app.status, super::status_color(app.status), styled),
        ),
        ("NODE", opt(app.node_name.as_deref())),
        ("LAST JOB", Cell::new(last_job)),
        ("IMAGE", opt(app.image.as_deref())),
        ("COMMIT", opt(app.commit_sha.as_deref())),
        ("URL", opt(app.deploy_url.as_deref())),
        ("ERROR", opt(app.error_message.as_deref())),
        ("UPDATED", Cell::new(format::timestamp(&app.updated_at))),
    ];
    match container {
        Ok(c) if !c.container.exists && !c.container.stopped => rows.push((
            "CONTAINER",
            table::colored(
                format!("none on node {}", c.node_name),
                Some(Color::Red),
                styled,
            ),
        )),
        Ok(c) => {
            let s = &c.container;
            let state = s
                .state
                .clone()
                .unwrap_or_else(|| if s.running { "running" } else { "not running" }.into());
            let color = if s.running { Color::Green } else { Color::Red };
            rows.push(("CONTAINER", opt(s.container_name.as_deref())));
            rows.push(("STATE", table::colored(state, Some(color), styled)));
            rows.push((
                "STARTED",
                Cell::new(format::opt_timestamp(s.started_at.as_ref())),
            ));
            rows.push((
                "RESTARTS",
                Cell::new(
                    s.restart_count
                        .map_or_else(|| "-".into(), |n| n.to_string()),
                ),
            ));
            rows.push(("LAST EXIT", Cell::new(last_exit(s))));
        }
        Err(e) => rows.push((
            "CONTAINER",
            table::colored(format!("unknown: {e}"), Some(Color::Red), styled),
        )),
    }
    if let Some(p) = probe {
        let ok = p.status.is_some_and(|s| s < 400);
        rows.push(("PUBLIC URL", Cell::new(&p.url)));
        rows.push((
            "PROBE",
            table::colored(
                &p.text,
                Some(if ok { Color::Green } else { Color::Red }),
                styled,
            ),
        ));
    }
    table::vertical(rows, styled)
}

/// `137 at 2026-12-01T10:00:00Z (killed for memory)`, `at ...` when the engine restarted it
/// and kept no code, `-` when it never exited.
fn last_exit(s: &protocol::agent::AppStatusAnswer) -> String {
    let at = s.last_exit_at.as_ref().map(format::timestamp);
    let oom = if s.oom_killed == Some(true) {
        " (killed for memory)"
    } else {
        ""
    };
    match (s.last_exit_code, at) {
        (Some(code), Some(at)) => format!("{code} at {at}{oom}"),
        (Some(code), None) => format!("{code}{oom}"),
        (None, Some(at)) => format!("at {at}"),
        (None, None) => "-".into(),
    }
}
