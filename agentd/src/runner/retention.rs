//! After a successful deploy: keep the newest tags of the app's repository in the registry
//! (by the config blob's `created`), never the one now running; delete the rest by digest.

use std::net::IpAddr;

use protocol::validate::ImageRef;
use registry::{EngineRegistries, RegistryClient};

use super::joblog::JobLog;
use crate::docker::Engine;
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
    let engine = match Engine::connect(&s.docker_host).await {
        Ok(e) => e.registry_config().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let plain = plain_http(
        s,
        &registry,
        engine.as_ref().ok(),
        &registry::resolve_host(&registry).await,
    );
    if let Err(e) = &engine
        && plain.is_none()
    {
        log.line(&format!(
            "note: the engine's insecure-registries are unknown ({e}); {registry} is taken as https unless runner.registry_insecure says otherwise"
        ));
    }
    let client = match RegistryClient::new(&registry, user, pass) {
        Ok(c) => c.insecure(plain.is_some()),
        Err(e) => {
            log.line(&format!("warning: tag retention skipped: {e}"));
            return;
        }
    };
    if let Some(why) = &plain
        && !registry::is_loopback(&registry)
    {
        log.line(&format!(
            "tag retention talks plain HTTP to {}: {why}",
            client.registry()
        ));
    }
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

/// Why retention talks plain HTTP to `registry`, or `None` for https: the runner's own
/// setting for its registry, else the engine's insecure-registries (the engine pushed
/// there, so what it allows is what the registry speaks).
fn plain_http(
    s: &RunnerSettings,
    registry: &str,
    engine: Option<&EngineRegistries>,
    addrs: &[IpAddr],
) -> Option<String> {
    if s.registry_insecure && registry == s.registry.trim_end_matches('/') {
        return Some("runner.registry_insecure is set".into());
    }
    engine.and_then(|e| e.plain_http(registry, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(registry: &str, insecure: bool) -> RunnerSettings {
        RunnerSettings {
            registry: registry.into(),
            registry_insecure: insecure,
            ..RunnerSettings::default()
        }
    }

    #[test]
    fn plain_http_comes_from_the_setting_for_the_runners_registry_or_from_the_engine() {
        let engine = EngineRegistries::new(
            [("10.0.0.103".to_string(), false)],
            ["127.0.0.0/8", "10.8.0.0/16"],
        );
        let s = settings("10.0.0.200", true);
        assert!(
            plain_http(&s, "10.0.0.200", None, &[])
                .is_some_and(|w| w.contains("runner.registry_insecure"))
        );
        // The setting speaks of the runner's registry only.
        assert_eq!(plain_http(&s, "10.0.0.201", None, &[]), None);
        let s = settings("10.0.0.103", false);
        assert!(plain_http(&s, "10.0.0.103", Some(&engine), &[]).is_some());
        assert!(plain_http(&s, "10.8.1.1:5000", Some(&engine), &[]).is_some());
        assert_eq!(plain_http(&s, "10.0.0.104", Some(&engine), &[]), None);
        assert_eq!(plain_http(&s, "10.0.0.103", None, &[]), None);
    }

    #[test]
    fn loopback_registries_are_recognised() {
        assert!(registry::is_loopback("127.0.0.1:5000"));
        assert!(registry::is_loopback("localhost"));
        assert!(registry::is_loopback("[::1]:5000"));
        assert!(!registry::is_loopback("10.0.0.103"));
        assert!(!registry::is_loopback("harbor.internal:5000"));
    }
}
