//! `functl status`: the local stack's processes, addresses, nodes and apps.

use std::path::PathBuf;

use clap::Args;
use protocol::client::DeployClient;

use super::state::Stack;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{self, table};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The stack's directory
    #[arg(long, default_value = ".funai", value_name = "DIR")]
    dir: PathBuf,
}

#[derive(serde::Deserialize)]
struct FunctlCfg {
    deploy_secret: String,
    admin_token: String,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let Some(stack) = Stack::load(&self.dir)? else {
            eprintln!(
                "no stack in {}: start one with functl up",
                self.dir.display()
            );
            return Ok(Exit::Failure);
        };
        let cfg: Option<FunctlCfg> = std::fs::read_to_string(stack.functl_config())
            .ok()
            .and_then(|t| toml::from_str(&t).ok());
        let client = cfg.map(|c| {
            DeployClient::new(&stack.deploy_url)
                .deploy_secret(Some(c.deploy_secret.into()))
                .admin_token(Some(c.admin_token.into()))
        });
        let healthy = match &client {
            Some(c) => c.health().await.is_ok(),
            None => false,
        };
        let apps = match &client {
            Some(c) => c.apps().await.unwrap_or_default(),
            None => Vec::new(),
        };
        let alive: Vec<bool> = stack.daemons.iter().map(|d| d.alive()).collect();
        let all_up = alive.iter().all(|a| *a) && healthy;
        if ctx.json() {
            crate::output::json::print(&serde_json::json!({
                "dir": stack.dir,
                "up": all_up,
                "deployUrl": stack.deploy_url,
                "agentUrl": stack.agent_url,
                "gatewayUrl": stack.gateway_url,
                "nodeName": stack.node_name,
                "daemons": stack.daemons.iter().zip(&alive).map(|(d, a)| serde_json::json!({
                    "name": d.name, "pid": d.pid, "running": a, "log": d.log,
                })).collect::<Vec<_>>(),
                "apps": apps,
            }))?;
        } else {
            let mut t = table::new(&["DAEMON", "PID", "STATE", "LOG"], ctx.styled);
            for (d, a) in stack.daemons.iter().zip(&alive) {
                t.add_row(vec![
                    d.name.clone(),
                    d.pid.to_string(),
                    if *a {
                        "running".into()
                    } else {
                        "stopped".into()
                    },
                    d.log.display().to_string(),
                ]);
            }
            table::print(&t)?;
            output::println(&format!(
                "\ndeployd {} ({})\ngateway {}\nnode    {}",
                stack.deploy_url,
                if healthy { "healthy" } else { "not answering" },
                stack.gateway_url,
                stack.node_name
            ))?;
            if !apps.is_empty() {
                let mut t = table::new(&["APP", "STATUS", "URL"], ctx.styled);
                for a in &apps {
                    t.add_row(vec![
                        a.app_id.clone(),
                        a.status.to_string(),
                        a.deploy_url.clone().unwrap_or_default(),
                    ]);
                }
                output::println("")?;
                table::print(&t)?;
            }
        }
        Ok(if all_up { Exit::Success } else { Exit::Failure })
    }
}
