//! `functl apps move --app ID --user ID`: give an app to another user, the one way its owner
//! changes. deployd refuses a deploy that names another user than the owner.

use clap::Args;
use protocol::app::MoveAppRequest;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json, prompt};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The app
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    app: String,
    /// Its new owner
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    user: String,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let admin = ctx.admin()?;
        let question = format!(
            "Give app {} to user {}? Its next deploy gets a new image repository, container name and database.",
            self.app, self.user
        );
        let action = format!("move app {} to user {}", self.app, self.user);
        if !prompt::confirm(&action, &question, self.yes)? {
            eprintln!("app {} left as it is", self.app);
            return Ok(Exit::Failure);
        }
        let answer = admin
            .move_app(
                &self.app,
                &MoveAppRequest {
                    user_id: self.user.clone(),
                },
            )
            .await?;
        if ctx.json() {
            json::print(&answer)?;
        } else {
            output::println(&format!(
                "app {} moved from user {} to user {}",
                self.app,
                answer["previousUserId"].as_str().unwrap_or("none"),
                self.user
            ))?;
        }
        Ok(Exit::Success)
    }
}
