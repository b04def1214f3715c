//! `functl registry prune (--app ID | --all) [--keep 3] [--dry-run] [--yes]`: the registry's
//! `/v2/` API (basic auth or Harbor's bearer tokens), the newest N tags of each app
//! repository kept (by the image's `created`), never a tag deployd says is running. The
//! repositories are the apps' as deployd records them: Harbor lists its catalog to admins
//! only, and operators prune with robot accounts (`--from-catalog` reads it all the same).

use std::collections::{BTreeMap, BTreeSet};

use clap::{ArgGroup, Args};
use comfy_table::Cell;
use futures_util::stream::{self, StreamExt};
use protocol::app::AppRun;
use protocol::validate::ImageRef;
use registry::{Plan, RegistryClient, RegistryError};
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
    /// Prune every app repository under the namespace (the apps deployd knows)
    #[arg(long)]
    all: bool,
    /// Take the repositories from the registry's catalog instead of deployd's app records
    /// (Harbor lists its catalog to admin accounts only, not to robot accounts)
    #[arg(long)]
    from_catalog: bool,
    /// The registry speaks plain HTTP (as registry_insecure / FUNCTL_REGISTRY_INSECURE)
    #[arg(long)]
    registry_insecure: bool,
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
        let host = registry_host(cfg.registry.trim());
        let mut registry = RegistryClient::new(
            cfg.registry.trim(),
            (!cfg.registry_username.is_empty()).then(|| cfg.registry_username.clone()),
            (!cfg.registry_password.is_empty()).then(|| cfg.registry_password.clone()),
        )?;
        // A bare host that is not loopback means https, unless the registry is known to
        // speak plain HTTP: by the setting, or by the local engine's insecure-registries.
        if !registry.is_plain_http() && !cfg.registry.contains("://") {
            let plain = if self.registry_insecure || cfg.registry_insecure {
                Some("registry_insecure is set".to_string())
            } else {
                match super::engine::registries().await {
                    Some(e) => e.plain_http(&host, &registry::resolve_host(&host).await),
                    None => None,
                }
            };
            if let Some(why) = plain {
                registry = registry.insecure(true);
                eprintln!("note: plain HTTP to {}: {why}", registry.registry());
            }
        }
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
        let repos: Vec<String> = match (&self.app, self.from_catalog) {
            (Some(id), from_catalog) => {
                let recorded = apps
                    .iter()
                    .find(|a| &a.app_id == id)
                    .map(|a| app_repositories(a, &host))
                    .unwrap_or_default();
                match (recorded.is_empty(), from_catalog) {
                    (false, _) => recorded,
                    (true, true) => {
                        let suffix = format!("-app{id}");
                        let found: Vec<String> = catalog(&registry)
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
                    (true, false) => {
                        return Err(usage_error(format!(
                            "deployd records no image of app {id} in {}; pass --from-catalog to look for its repository in the registry's catalog (an admin account can list it, a robot account cannot)",
                            registry.registry()
                        )));
                    }
                }
            }
            (None, true) => catalog(&registry)
                .await?
                .into_iter()
                .filter(|r| r.starts_with(&ns))
                .collect(),
            (None, false) => apps
                .iter()
                .flat_map(|a| app_repositories(a, &host))
                .filter(|r| r.starts_with(&ns))
                .collect::<BTreeSet<_>>()
                .into_iter()
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
        // A repository an app record names but nothing was ever pushed to has no tags.
        plans.retain(|p| p.error.is_some() || !p.keep.is_empty() || !p.delete.is_empty());
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

/// The repositories of an app's images in `host`, as deployd records them: its
/// `imageRepo` (where its builds go, below the registry) and the repository of the image
/// it runs when that image is in `host` (a given image, or one built before the template
/// changed). A value that is not a repository path, or names another registry, is left out.
fn app_repositories(app: &AppRun, host: &str) -> Vec<String> {
    let from_repo = app.image_repo.as_deref().and_then(|r| {
        let parsed = ImageRef::parse(r.trim_matches('/')).ok()?;
        if parsed.tag.is_some() || parsed.digest.is_some() {
            return None;
        }
        // A path naming a host is read as the runner reads it: below that host, which
        // is this registry or not one to prune here.
        match parsed.registry.as_deref() {
            None => Some(parsed.repository),
            Some(h) if h == host => Some(parsed.repository),
            Some(_) => None,
        }
    });
    let from_image = app
        .image
        .as_deref()
        .and_then(|i| ImageRef::parse(i).ok())
        .filter(|i| i.registry.as_deref() == Some(host))
        .map(|i| i.repository);
    let mut out: Vec<String> = from_repo.into_iter().chain(from_image).collect();
    out.dedup();
    out
}

/// The registry's catalog; a refusal says that listing it needs an admin account.
async fn catalog(registry: &RegistryClient) -> anyhow::Result<Vec<String>> {
    match registry.catalog().await {
        Ok(list) => Ok(list),
        Err(e @ RegistryError::CatalogDenied { .. }) => Err(anyhow::anyhow!(
            "{e}; without --from-catalog, prune takes the repositories from deployd's app records and needs no catalog"
        )),
        Err(e) => Err(e.into()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn app(image: Option<&str>, image_repo: Option<&str>) -> AppRun {
        serde_json::from_value(serde_json::json!({
            "appId": "20002",
            "status": "READY",
            "image": image,
            "imageRepo": image_repo,
            "updatedAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_apps_repositories_are_its_image_repo_and_that_of_its_image_in_this_registry() {
        let host = "10.0.0.103";
        let repos = |image, image_repo| app_repositories(&app(image, image_repo), host);
        assert_eq!(
            repos(
                Some("10.0.0.103/funaistudio/u7-app20002:abc"),
                Some("funaistudio/u7-app20002")
            ),
            ["funaistudio/u7-app20002"]
        );
        assert_eq!(
            repos(
                Some("10.0.0.103/funaistudio/u7-app20002:abc"),
                Some("funaistudio/apps/app-20002")
            ),
            ["funaistudio/apps/app-20002", "funaistudio/u7-app20002"]
        );
        assert_eq!(
            repos(Some("10.0.0.103/funaistudio/u7-app20002:abc"), None),
            ["funaistudio/u7-app20002"]
        );
        assert_eq!(
            repos(None, Some("10.0.0.103/funaistudio/u7-app20002")),
            ["funaistudio/u7-app20002"]
        );
        // Another registry's image, or a value that is no repository path: nothing to prune.
        let none: Vec<String> = Vec::new();
        assert_eq!(repos(Some("docker.io/library/nginx:1"), None), none);
        assert_eq!(repos(None, Some("harbor.other/funaistudio/x")), none);
        assert_eq!(repos(None, Some("funaistudio/x:tag")), none);
        assert_eq!(repos(None, Some("../etc")), none);
        assert_eq!(repos(None, None), none);
    }
}
