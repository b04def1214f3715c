//! `functl context list|use`: the estates of the config file (`[contexts.NAME]`) and which
//! one commands talk to.

use clap::Subcommand;
use comfy_table::Cell;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::{self, QuietArg, json, print_ids, table};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The contexts of the config file; `*` marks the one in use
    List {
        #[command(flatten)]
        quiet: QuietArg,
    },
    /// Make NAME the context commands use when neither --context nor FUNCTL_CONTEXT names one
    /// (writes current_context into the config file)
    Use {
        /// A [contexts.NAME] table of the config file
        name: String,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    name: &'a str,
    deploy_url: &'a str,
    current: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self {
            Cmd::List { quiet } => list(ctx, quiet.quiet),
            Cmd::Use { name } => use_context(ctx, &name),
        }
    }
}

fn list(ctx: &Ctx, quiet: bool) -> anyhow::Result<Exit> {
    let cfg = &ctx.config;
    if quiet {
        print_ids(cfg.contexts.keys())?;
        return Ok(Exit::Success);
    }
    let current = cfg.context.as_deref();
    let rows: Vec<Listed> = cfg
        .contexts
        .iter()
        .map(|(name, c)| Listed {
            name,
            deploy_url: c.deploy_url.as_deref().unwrap_or(""),
            current: current == Some(name.as_str()),
        })
        .collect();
    if ctx.json() {
        json::print(&rows)?;
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        output::println(&format!(
            "no contexts in {}: add [contexts.NAME] tables (deploy_url, deploy_secret, admin_token, ...)",
            ctx.file.display()
        ))?;
        return Ok(Exit::Success);
    }
    let mut t = table::new(&["CURRENT", "NAME", "DEPLOY URL"], ctx.styled);
    for r in &rows {
        t.add_row(vec![
            Cell::new(if r.current { "*" } else { "" }),
            Cell::new(r.name),
            Cell::new(if r.deploy_url.is_empty() {
                "(from the top of the file)"
            } else {
                r.deploy_url
            }),
        ]);
    }
    table::print(&t)?;
    Ok(Exit::Success)
}

fn use_context(ctx: &Ctx, name: &str) -> anyhow::Result<Exit> {
    let Some(path) = ctx.file.path() else {
        return Err(usage_error(
            "no config file: set HOME or XDG_CONFIG_HOME, or pass --config",
        ));
    };
    if !ctx.config.contexts.contains_key(name) {
        let known: Vec<&str> = ctx.config.contexts.keys().map(String::as_str).collect();
        return Err(usage_error(format!(
            "no context {name:?} in {}; {}",
            ctx.file.display(),
            if known.is_empty() {
                "it has no [contexts.NAME] tables".to_string()
            } else {
                format!("known: {}", known.join(", "))
            }
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let updated = with_current_context(&text, name);
    // Written beside and renamed over, keeping the file's mode (it holds secrets).
    let tmp = path.with_extension("toml.functl-new");
    std::fs::write(&tmp, updated)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))?;
    if ctx.json() {
        json::print(&serde_json::json!({ "currentContext": name }))?;
    } else {
        output::println(&format!(
            "context {name} is now current ({})",
            ctx.file.display()
        ))?;
    }
    Ok(Exit::Success)
}

/// `text` with its top-level `current_context` set to `name`: the line replaced where there
/// is one, else added before the first table; everything else as it was.
fn with_current_context(text: &str, name: &str) -> String {
    let line = format!(
        "current_context = {}",
        toml::Value::String(name.to_string())
    );
    let mut out = Vec::new();
    let mut done = false;
    let mut in_table = false;
    for l in text.lines() {
        let t = l.trim_start();
        if t.starts_with('[') {
            if !done {
                out.push(line.clone());
                out.push(String::new());
                done = true;
            }
            in_table = true;
        }
        let key = t.split('=').next().unwrap_or("").trim();
        if !in_table && key == "current_context" {
            if !done {
                out.push(line.clone());
                done = true;
            }
            continue;
        }
        out.push(l.to_string());
    }
    if !done {
        out.push(line);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::with_current_context;

    #[test]
    fn current_context_is_replaced_or_added_before_the_first_table() {
        let text = "# mine\ndeploy_url = \"http://a\"\ncurrent_context = \"old\"\n\n[contexts.new]\ndeploy_url = \"http://b\"\n";
        assert_eq!(
            with_current_context(text, "new"),
            "# mine\ndeploy_url = \"http://a\"\ncurrent_context = \"new\"\n\n[contexts.new]\ndeploy_url = \"http://b\"\n"
        );
        let text = "deploy_url = \"http://a\"\n[contexts.x]\ncurrent_context = \"kept\"\n";
        let out = with_current_context(text, "x");
        assert_eq!(
            out,
            "deploy_url = \"http://a\"\ncurrent_context = \"x\"\n\n[contexts.x]\ncurrent_context = \"kept\"\n"
        );
        assert_eq!(with_current_context("", "x"), "current_context = \"x\"\n");
    }
}
