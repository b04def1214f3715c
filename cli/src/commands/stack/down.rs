//! `functl down`: stop what `functl up` started, and nothing else: the apps its runtime
//! node runs, then agentd and deployd (SIGTERM; SIGKILL after a grace).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use protocol::agent::AgentAppRef;

use super::state::Stack;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output;

#[derive(Debug, Args)]
pub struct Cmd {
    /// The stack's directory
    #[arg(long, default_value = ".funai", value_name = "DIR")]
    dir: PathBuf,
    /// Leave the apps of the stack's runtime node running
    #[arg(long)]
    keep_apps: bool,
}

#[derive(serde::Deserialize)]
struct AgentCfg {
    runtime: RuntimeCfg,
}

#[derive(serde::Deserialize)]
struct RuntimeCfg {
    runtime_token: String,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let Some(stack) = Stack::load(&self.dir)? else {
            output::println(&format!(
                "no stack in {}: nothing to stop",
                self.dir.display()
            ))?;
            return Ok(Exit::Success);
        };
        let mut removed_apps = Vec::new();
        if !self.keep_apps {
            removed_apps = remove_apps(&stack).await;
        }
        let mut stopped = Vec::new();
        // agentd first: it stops claiming and lets a running job end; then deployd.
        for d in stack.daemons.iter().rev() {
            if d.stop(Duration::from_secs(30))? {
                stopped.push(format!("{} (pid {})", d.name, d.pid));
            }
        }
        std::fs::remove_file(Stack::path(&stack.dir))?;
        if ctx.json() {
            crate::output::json::print(
                &serde_json::json!({ "stopped": stopped, "removedApps": removed_apps }),
            )?;
        } else {
            if !removed_apps.is_empty() {
                output::println(&format!("removed apps: {}", removed_apps.join(", ")))?;
            }
            if stopped.is_empty() {
                output::println("nothing was running")?;
            } else {
                output::println(&format!("stopped {}", stopped.join(", ")))?;
            }
            output::println(&format!(
                "state, logs and database stay in {}",
                stack.dir.display()
            ))?;
        }
        Ok(Exit::Success)
    }
}

/// Asks the stack's own agentd to delete every app it runs (containers and images).
async fn remove_apps(stack: &Stack) -> Vec<String> {
    let Some(agent) = stack
        .daemons
        .iter()
        .find(|d| d.name == "agentd")
        .filter(|d| d.alive())
    else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&agent.config) else {
        return Vec::new();
    };
    let Ok(cfg) = toml::from_str::<AgentCfg>(&text) else {
        return Vec::new();
    };
    let http = reqwest::Client::new();
    let mut removed = Vec::new();
    // The route book agentd keeps names every app of this node.
    let book = stack
        .dir
        .join("runtime")
        .join(format!("agentd-routes-{}.json", stack.node_name));
    let apps: Vec<String> = std::fs::read(&book)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["apps"].as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    for app in apps {
        let r = http
            .post(format!("{}/agent/apps/delete", stack.agent_url))
            .header(protocol::headers::RUNTIME_TOKEN, &cfg.runtime.runtime_token)
            .json(&AgentAppRef {
                user_id: "0".into(),
                app_id: app.clone(),
            })
            .send()
            .await;
        if r.map(|r| r.status().is_success()).unwrap_or(false) {
            removed.push(app);
        }
    }
    removed
}
