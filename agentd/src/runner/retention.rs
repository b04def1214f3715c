//! After a successful deploy: keep the newest tags of the app's repository in the registry
//! (by the config blob's `created`), never the one now running; delete the rest by digest.

use protocol::validate::ImageRef;
use registry::RegistryClient;

use super::joblog::JobLog;
use crate::settings::RunnerSettings;

/// Failures here are warnings in the job log: the deploy itself succeeded.
pub async fn keep_newest(s: &RunnerSettings, image: &str, log: &JobLog) {
    let Ok(parsed) = ImageRef::parse(image) else {
        log.line(&format!("tag retention skipped: cannot parse {image}"));
        return;
    };
    let (Some(registry), Some(tag)) = (parsed.registry.clone(), parsed.tag.clone()) else {
        log.line(&format!(
            "tag retention skipped: {image} names no registry or tag"
        ));
        return;
    };
    let (user, pass) = if registry == s.registry && !s.registry_username.is_empty() {
        (
            Some(s.registry_username.clone()),
            Some(s.registry_password.clone()),
        )
    } else {
        (None, None)
    };
    let client = match RegistryClient::new(&registry, user, pass) {
        Ok(c) => c,
        Err(e) => {
            log.line(&format!("warning: tag retention skipped: {e}"));
            return;
        }
    };
    let keep = s.keep_tags.max(1) as usize;
    let plan = match client
        .retention_plan(&parsed.repository, keep, std::slice::from_ref(&tag))
        .await
    {
        Ok(p) => p,
        Err(e) => {
            log.line(&format!("warning: tag retention skipped: {e}"));
            return;
        }
    };
    if plan.delete.is_empty() {
        log.line(&format!(
            "tag retention: {} tag(s) in {}, nothing to delete",
            plan.keep.len(),
            parsed.repository
        ));
        return;
    }
    match client.apply(&parsed.repository, &plan).await {
        Ok(applied) => {
            let deleted: Vec<&str> = applied.deleted.iter().map(|t| t.tag.as_str()).collect();
            let kept: Vec<&str> = plan.keep.iter().map(|t| t.tag.as_str()).collect();
            log.line(&format!(
                "tag retention: kept {} ({}), deleted {} ({})",
                kept.len(),
                kept.join(", "),
                deleted.len(),
                deleted.join(", ")
            ));
            for f in applied.failed {
                log.line(&format!("warning: tag {} not deleted: {}", f.tag, f.error));
            }
        }
        Err(e) => log.line(&format!("warning: tag retention failed: {e}")),
    }
}
