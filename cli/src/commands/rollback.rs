//! `functl rollback --app ID [--to TAG]`: redeploy the previous (or a named) image from the
//! app's history as a stage 1 job, followed like `deploy --wait`.

use clap::Args;

use crate::commands::jobs::{Timeout, parse_timeout};
use crate::commands::{deploy, parse, redeploy};
use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::json;

#[derive(Debug, Args)]
pub struct Cmd {
    /// The app to roll back
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    app: String,
    /// The tag (or whole image) to go back to [default: the image before the current one]
    #[arg(long, value_name = "TAG")]
    to: Option<String>,
    /// Only create the job; do not follow it
    #[arg(long)]
    no_wait: bool,
    /// Give up following after this long (90s, 10m, 1h30m): exit 1; the job itself goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, conflicts_with = "no_wait")]
    timeout: Option<Timeout>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let admin = ctx.admin()?;
        let client = ctx.deploy()?;
        let app = admin.app(&self.app).await?;
        let current = app.image.clone().unwrap_or_default();
        let known: Vec<String> = app.recent_images.iter().map(|d| d.image.clone()).collect();
        let target = match &self.to {
            Some(to) => known
                .iter()
                .find(|i| *i == to || redeploy::tag_of(i) == to)
                .cloned()
                .ok_or_else(|| {
                    usage_error(format!(
                        "app {} never ran {to}; its recent images: {}",
                        self.app,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?,
            None => known
                .iter()
                .find(|i| **i != current)
                .cloned()
                .ok_or_else(|| {
                    usage_error(format!(
                        "app {} has no earlier image to roll back to",
                        self.app
                    ))
                })?,
        };
        let payload = redeploy::payload(client, &app, &target).await?;
        let job = redeploy::create(client, payload).await?;
        eprintln!(
            "rollback of app {}: job {} deploys {target} (was {current})",
            self.app, job.id
        );
        if self.no_wait {
            if ctx.json() {
                json::print(&job)?;
            }
            return Ok(Exit::Success);
        }
        deploy::follow_and_finish(client, job, self.timeout.as_ref(), ctx.json()).await
    }
}
