//! What every command runs with: the resolved config, the output format and the deployd client.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use protocol::client::DeployClient;

use crate::config::{Config, ConfigFile, Overrides, missing_hint};
use crate::exit::usage_error;
use crate::output::OutputFormat;

/// Flags accepted before or after any subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file [default: ~/.config/functl/config.toml]
    #[arg(long, global = true, env = "FUNCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// deployd base URL [default: http://127.0.0.1:7002]
    #[arg(long, global = true, value_name = "URL")]
    pub deploy_url: Option<String>,

    /// Secret sent as X-DEPLOY-SECRET (prefer the config file or FUNCTL_DEPLOY_SECRET: flags
    /// show in the process list)
    #[arg(long, global = true, value_name = "SECRET")]
    pub deploy_secret: Option<String>,

    /// Token sent as X-Admin-Token (prefer the config file or FUNCTL_ADMIN_TOKEN)
    #[arg(long, global = true, value_name = "TOKEN")]
    pub admin_token: Option<String>,

    /// The estate to talk to: a [contexts.NAME] table of the config file [default: the file's
    /// current_context]
    #[arg(long, global = true, env = "FUNCTL_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Output format: tables for people, JSON for scripts
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        default_value_t = OutputFormat::Table
    )]
    pub output: OutputFormat,
}

pub struct Ctx {
    pub config: Config,
    pub output: OutputFormat,
    /// Colours in tables: stdout is a terminal and `NO_COLOR` is not set.
    pub styled: bool,
    pub file: ConfigFile,
    client: DeployClient,
}

impl Ctx {
    pub fn new(args: GlobalArgs) -> anyhow::Result<Ctx> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
        let file = ConfigFile::resolve(args.config, home, xdg);
        let config = Config::load(
            &file,
            std::env::vars(),
            Overrides {
                deploy_url: args.deploy_url,
                deploy_secret: args.deploy_secret,
                admin_token: args.admin_token,
                context: args.context,
            },
        )?;
        let client = DeployClient::new(config.deploy_url.trim())
            .deploy_secret(Some(config.deploy_secret.clone()))
            .admin_token(Some(config.admin_token.clone()));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ok(Ctx {
            styled: !no_color && std::io::stdout().is_terminal(),
            output: args.output,
            config,
            file,
            client,
        })
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    /// The client for `/deploy/...` calls, once the deploy secret is known to be set.
    pub fn deploy(&self) -> anyhow::Result<&DeployClient> {
        if self.config.deploy_secret.is_empty() {
            return Err(usage_error(missing_hint(
                "deploy_secret",
                &self.file.display(),
            )));
        }
        Ok(&self.client)
    }

    /// The client for `/admin/...` calls, once the admin token is known to be set.
    pub fn admin(&self) -> anyhow::Result<&DeployClient> {
        if self.config.admin_token.is_empty() {
            return Err(usage_error(missing_hint(
                "admin_token",
                &self.file.display(),
            )));
        }
        Ok(&self.client)
    }
}
