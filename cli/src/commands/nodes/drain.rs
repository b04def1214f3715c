//! `functl nodes drain NAME [--migrate] [--to NODE]`: the node takes no new apps; with
//! `--migrate` every app placed there is redeployed on another node with its current image
//! and then stopped on the drained one.

use std::time::Duration;

use clap::Args;
use comfy_table::Cell;
use indicatif::{ProgressBar, ProgressStyle};
use protocol::node::ReassignRequest;
use serde::Serialize;

use crate::commands::{parse, redeploy};
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, json, prompt, table};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The node to drain
    #[arg(value_name = "NAME", value_parser = parse::node_name)]
    name: String,
    /// Move every app placed on the node now, instead of at its next deploy
    #[arg(long)]
    migrate: bool,
    /// With --migrate: the node to move the apps to [default: the one deployd picks]
    #[arg(long, value_name = "NODE", value_parser = parse::node_name, requires = "migrate")]
    to: Option<String>,
    /// Seconds the old copy keeps serving after the new one is up, for clients that
    /// still hold its address
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    grace: u64,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Moved {
    app_id: String,
    from: String,
    to: Option<String>,
    job_id: Option<i64>,
    result: String,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let admin = ctx.admin()?;
        let placements = admin.placements(Some(&self.name)).await?;
        let question = if self.migrate {
            format!(
                "Drain node {} and move its {} app(s) to {}?",
                self.name,
                placements.len(),
                self.to.as_deref().unwrap_or("other nodes")
            )
        } else {
            format!(
                "Drain node {}? It takes no new apps; its {} app(s) move at their next deploy.",
                self.name,
                placements.len()
            )
        };
        if !prompt::confirm(&format!("drain node {}", self.name), &question, self.yes)? {
            eprintln!("node {} not drained", self.name);
            return Ok(Exit::Failure);
        }
        let node = admin.node_action(&self.name, "drain").await?;
        if !self.migrate {
            if ctx.json() {
                json::print(&node)?;
            } else {
                output::println(&format!("node {} {}", node.node_name, node.status))?;
            }
            return Ok(Exit::Success);
        }
        let client = ctx.deploy()?;
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && !placements.is_empty()
        {
            let b = ProgressBar::new(placements.len() as u64);
            b.set_style(
                ProgressStyle::with_template("{spinner} moving apps [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            Some(b)
        } else {
            None
        };
        let mut moved = Vec::new();
        for p in &placements {
            if let Some(b) = &bar {
                b.set_message(format!("app {}", p.app_id));
            } else {
                eprintln!("moving app {} off {}", p.app_id, self.name);
            }
            let m = self.move_app(client, admin, &p.app_id).await;
            if let Some(b) = &bar {
                b.inc(1);
            }
            moved.push(m);
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let failed = moved.iter().filter(|m| m.result != "moved").count();
        if ctx.json() {
            json::print(&serde_json::json!({ "node": node.node_name, "moved": moved }))?;
        } else {
            let mut t = table::new(&["APP", "FROM", "TO", "JOB", "RESULT"], ctx.styled);
            for m in &moved {
                t.add_row(vec![
                    Cell::new(&m.app_id),
                    Cell::new(&m.from),
                    Cell::new(m.to.as_deref().unwrap_or("-")),
                    Cell::new(
                        m.job_id
                            .map(|j| j.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::new(&m.result),
                ]);
            }
            table::print(&t)?;
            output::println(&format!(
                "node {} DRAINING: {} app(s) moved, {failed} not",
                self.name,
                moved.len() - failed
            ))?;
        }
        Ok(if failed == 0 {
            Exit::Success
        } else {
            Exit::Failure
        })
    }

    async fn move_app(
        &self,
        client: &protocol::client::DeployClient,
        admin: &protocol::client::DeployClient,
        app_id: &str,
    ) -> Moved {
        let mut m = Moved {
            app_id: app_id.to_string(),
            from: self.name.clone(),
            to: None,
            job_id: None,
            result: String::new(),
        };
        let outcome: anyhow::Result<()> = async {
            let app = admin.app(app_id).await?;
            let image = app
                .image
                .clone()
                .ok_or_else(|| anyhow::anyhow!("app {app_id} has no deployed image to move"))?;
            if let Some(to) = &self.to {
                admin
                    .reassign(&ReassignRequest {
                        app_id: app_id.to_string(),
                        node_name: to.clone(),
                    })
                    .await?;
            }
            let job =
                redeploy::create(client, redeploy::payload(client, &app, &image).await?).await?;
            m.job_id = Some(job.id);
            let done = redeploy::wait(client, job.id, Duration::from_secs(900)).await?;
            m.to = done.runtime_node.as_ref().map(|n| n.node_name.clone());
            if done.status != protocol::job::JobStatus::Succeeded {
                anyhow::bail!(
                    "job {} {}: {}",
                    done.id,
                    done.status,
                    done.error_message.unwrap_or_default()
                );
            }
            if m.to.as_deref() == Some(self.name.as_str()) {
                anyhow::bail!("deployd placed it on {} again", self.name);
            }
            // Clients that looked the app up a moment ago may still call the old node.
            tokio::time::sleep(Duration::from_secs(self.grace)).await;
            admin.stop_app_on_node(&self.name, app_id).await?;
            Ok(())
        }
        .await;
        m.result = match outcome {
            Ok(()) => "moved".into(),
            Err(e) => format!("failed: {e:#}"),
        };
        m
    }
}
