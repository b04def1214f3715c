//! `functl registry prune (--app ID | --all) [--keep 3] [--dry-run] [--yes]`: the registry's
//! `/v2/` API (basic auth or Harbor's bearer tokens), the newest N tags of each app
//! repository kept (by the image's `created`), never a tag deployd says is running.

use std::collections::{BTreeMap, BTreeSet};

use clap::{ArgGroup, Args};
use comfy_table::Cell;
use futures_util::stream::{self, StreamExt};
use protocol::validate::ImageRef;
use registry::{Plan, RegistryClient};
use serde::Serialize;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::{self, json, prompt, table};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("scope").required(true).args(["app", "all"])))]
pub struct Cmd {
    /// Prune the repository of one app
    #[arg(long, value_name = "ID", value_parser = parse::id)]
    app: Option<String>,
    /// Prune every app repository under the namespace
    #[arg(long)]
    all: bool,
    /// Tags kept per repository
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
    /// Show the plan, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
    /// Repositories worked on at once
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    parallel: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RepoPlan {
    repository: String,
    keep: Vec<String>,
    delete: Vec<String>,
    running: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    plan: Option<Plan>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let cfg = &ctx.config;
        if cfg.registry.trim().is_empty() {
            return Err(usage_error(
                "no registry is configured: set registry (and registry_username, registry_password) in the functl config or FUNCTL_REGISTRY",
            ));
        }
        let registry = RegistryClient::new(
            cfg.registry.trim(),
            (!cfg.registry_username.is_empty()).then(|| cfg.registry_username.clone()),
            (!cfg.registry_password.is_empty()).then(|| cfg.registry_password.clone()),
        )?;
        let host = registry_host(cfg.registry.trim());
        // What runs now, as deployd knows it: never deleted.
        let apps = ctx.admin()?.apps().await?;
        let mut running: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for a in &apps {
            if let Some(img) = a.image.as_deref().and_then(|i| ImageRef::parse(i).ok())
                && img.registry.as_deref() == Some(host.as_str())
                && let Some(tag) = img.tag
            {
                running.entry(img.repository).or_default().insert(tag);
            }
        }
        let ns = format!("{}/", cfg.registry_namespace.trim_matches('/'));
        let repos: Vec<String> = match &self.app {
            Some(id) => {
                let from_run = apps
                    .iter()
                    .find(|a| &a.app_id == id)
                    .and_then(|a| a.image.as_deref())
                    .and_then(|i| ImageRef::parse(i).ok())
                    .filter(|i| i.registry.as_deref() == Some(host.as_str()))
                    .map(|i| i.repository);
                match from_run {
                    Some(r) => vec![r],
                    None => {
                        let suffix = format!("-app{id}");
                        let found: Vec<String> = registry
                            .catalog()
                            .await?
                            .into_iter()
                            .filter(|r| r.starts_with(&ns) && r.ends_with(&suffix))
                            .collect();
                        if found.is_empty() {
                            return Err(usage_error(format!(
                                "no repository of app {id} under {ns} in {}",
                                registry.registry()
                            )));
                        }
                        found
                    }
                }
            }
            None => registry
                .catalog()
                .await?
                .into_iter()
                .filter(|r| r.starts_with(&ns))
                .collect(),
        };
        let keep = self.keep as usize;
        let mut plans: Vec<RepoPlan> = stream::iter(repos)
            .map(|repo| {
                let registry = registry.clone();
                let protect: Vec<String> = running
                    .get(&repo)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                async move {
                    match registry.retention_plan(&repo, keep, &protect).await {
                        Ok(plan) => RepoPlan {
                            keep: plan.keep.iter().map(|t| t.tag.clone()).collect(),
                            delete: plan.delete.iter().map(|t| t.tag.clone()).collect(),
                            running: protect,
                            repository: repo,
                            error: None,
                            plan: Some(plan),
                        },
                        Err(e) => RepoPlan {
                            repository: repo,
                            keep: vec![],
                            delete: vec![],
                            running: protect,
                            error: Some(e.to_string()),
                            plan: None,
                        },
                    }
                }
            })
            .buffer_unordered(self.parallel as usize)
            .collect()
            .await;
        plans.sort_by(|a, b| a.repository.cmp(&b.repository));
        let to_delete: usize = plans.iter().map(|p| p.delete.len()).sum();
        let errors = plans.iter().filter(|p| p.error.is_some()).count();

        if !ctx.json() {
            let mut t = table::new(&["REPOSITORY", "KEEP", "DELETE", "RUNNING"], ctx.styled);
            for p in &plans {
                t.add_row(vec![
                    Cell::new(&p.repository),
                    Cell::new(p.keep.join(" ")),
                    Cell::new(match &p.error {
                        Some(e) => format!("(plan failed: {e})"),
                        None if p.delete.is_empty() => "-".to_string(),
                        None => p.delete.join(" "),
                    }),
                    Cell::new(if p.running.is_empty() {
                        "-".to_string()
                    } else {
                        p.running.join(" ")
                    }),
                ]);
            }
            table::print(&t)?;
            output::println(&format!(
                "{} repositories, {to_delete} tag(s) to delete, {} kept",
                plans.len(),
                plans.iter().map(|p| p.keep.len()).sum::<usize>()
            ))?;
        }
        if self.dry_run || to_delete == 0 {
            if ctx.json() {
                json::print(
                    &serde_json::json!({ "dryRun": self.dry_run, "repositories": plans, "deleted": 0 }),
                )?;
            } else if self.dry_run {
                output::println("dry run: nothing deleted")?;
            }
            return Ok(if errors == 0 {
                Exit::Success
            } else {
                Exit::Failure
            });
        }
        let question = format!("Delete {to_delete} tag(s) from {}?", registry.registry());
        if !prompt::confirm(
            &format!("delete {to_delete} registry tags"),
            &question,
            self.yes,
        )? {
            eprintln!("nothing deleted");
            return Ok(Exit::Failure);
        }
        let results: Vec<(String, usize, Vec<String>)> =
            stream::iter(plans.iter().filter(|p| !p.delete.is_empty()))
                .map(|p| {
                    let registry = registry.clone();
                    async move {
                        let Some(plan) = &p.plan else {
                            return (p.repository.clone(), 0, vec![]);
                        };
                        match registry.apply(&p.repository, plan).await {
                            Ok(a) => (
                                p.repository.clone(),
                                a.deleted.len(),
                                a.failed
                                    .iter()
                                    .map(|f| format!("{}: {}", f.tag, f.error))
                                    .collect(),
                            ),
                            Err(e) => (p.repository.clone(), 0, vec![e.to_string()]),
                        }
                    }
                })
                .buffer_unordered(self.parallel as usize)
                .collect()
                .await;
        let deleted: usize = results.iter().map(|r| r.1).sum();
        let failed: Vec<String> = results
            .iter()
            .flat_map(|r| r.2.iter().map(|f| format!("{}: {f}", r.0)))
            .collect();
        if ctx.json() {
            json::print(
                &serde_json::json!({ "dryRun": false, "repositories": plans, "deleted": deleted, "failed": failed }),
            )?;
        } else {
            output::println(&format!(
                "deleted {deleted} tag(s); {} failed",
                failed.len()
            ))?;
            for f in &failed {
                output::println(&format!("  {f}"))?;
            }
        }
        eprintln!(
            "note: the registry frees the disk only when its garbage collection runs (Harbor: the GC job; Distribution: registry garbage-collect <config.yml>)"
        );
        Ok(if failed.is_empty() && errors == 0 {
            Exit::Success
        } else {
            Exit::Failure
        })
    }
}

/// `host[:port]` of the configured registry, as image references name it.
fn registry_host(configured: &str) -> String {
    configured
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}
