//! `functl apps show ID`: one app, and the images it ran recently (what a rollback picks from).

use clap::Args;
use comfy_table::Cell;
use protocol::app::AppRun;

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
        let app = ctx.admin()?.app(&self.app).await?;
        if ctx.json() {
            json::print(&app)?;
            return Ok(Exit::Success);
        }
        table::print(&render(&app, ctx.styled))?;
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

fn render(app: &AppRun, styled: bool) -> comfy_table::Table {
    let opt = |s: Option<&str>| Cell::new(format::or_dash(s));
    let last_job = match (app.last_job_id, app.last_job_status) {
        (Some(id), Some(status)) => format!("{id} ({status})"),
        (Some(id), None) => id.to_string(),
        _ => "-".to_string(),
    };
    table::vertical(
        vec![
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
        ],
        styled,
    )
}
