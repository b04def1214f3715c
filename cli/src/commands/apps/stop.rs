//! `functl apps stop|delete --app ID`: stop the app on its node, or delete its containers,
//! images and history. Both ask on a terminal and want `--yes` without one.

use clap::Args;
use protocol::job::AppRef;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json, prompt};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The app
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    app: String,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum What {
    Stop,
    Delete,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx, what: What) -> anyhow::Result<Exit> {
        let client = ctx.deploy()?;
        // The app's user, when the admin token can read it; deployd also knows it itself.
        let user_id = match ctx.admin() {
            Ok(admin) => admin.app(&self.app).await.ok().and_then(|a| a.user_id),
            Err(_) => None,
        };
        let (action, question) = match what {
            What::Stop => (
                format!("stop app {}", self.app),
                format!("Stop app {}? It stops serving.", self.app),
            ),
            What::Delete => (
                format!("delete app {}", self.app),
                format!(
                    "Delete app {}: its containers, images, registry tags and history?",
                    self.app
                ),
            ),
        };
        if !prompt::confirm(&action, &question, self.yes)? {
            eprintln!("app {} left as it is", self.app);
            return Ok(Exit::Failure);
        }
        let app = AppRef {
            user_id,
            app_id: self.app.clone(),
        };
        let answer = match what {
            What::Stop => client.stop_app(&app).await?,
            What::Delete => client.cleanup_app(&app).await?,
        };
        if ctx.json() {
            json::print(&answer)?;
        } else {
            output::println(&match what {
                What::Stop => format!("app {} STOPPED", self.app),
                What::Delete => format!(
                    "app {} deleted ({} jobs forgotten)",
                    self.app,
                    answer["purge"]["deletedJobs"].as_i64().unwrap_or(0)
                ),
            })?;
        }
        Ok(Exit::Success)
    }
}
