//! Heartbeats to deployd: the node's addresses, disk, app containers and the latest
//! connectivity check, every `heartbeat_seconds` and right after each change.

use std::sync::Arc;
use std::time::Duration;

use protocol::check::CheckReport;
use protocol::node::{NodeApp, NodeHeartbeat};
use tokio_util::sync::CancellationToken;

use super::{LABEL_APP, LABEL_USER, Runtime, RuntimeError, created_ms};
use crate::docker::ContainerInfo;

impl Runtime {
    pub async fn heartbeat(&self) -> Result<NodeHeartbeat, RuntimeError> {
        let s = &self.settings;
        let stats = fs4::statvfs(&s.data_dir).map_err(|e| {
            RuntimeError::Internal(format!("cannot measure disk free of {}: {e}", s.data_dir))
        })?;
        let total = stats.total_space().max(1);
        let free = stats.available_space();
        let containers = self.containers().await?;
        let running = containers.iter().filter(|c| c.running).count() as i64;
        Ok(NodeHeartbeat {
            node_name: s.node_name.clone(),
            agent_base_url: s.agent_base_url.clone(),
            gateway_base_url: s.gateway_base_url.clone(),
            disk_free_pct: (free as f64 * 100.0 / total as f64 * 10.0).round() / 10.0,
            disk_free_bytes: free as i64,
            container_count: running,
            checks: self
                .checks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            agent_version: Some(env!("FUNAI_VERSION").to_string()),
            apps: Some(apps_held(&containers)),
            engine: Some(self.engine_info().clone()),
        })
    }

    /// Sends `report` with the next heartbeat, at once.
    pub fn deliver_checks(&self, report: CheckReport) {
        *self.checks.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        self.beat_now.notify_one();
    }

    /// Asks the heartbeat loop to beat now (after a deploy, stop or delete).
    pub(super) fn beat_soon(&self) {
        self.beat_now.notify_one();
    }

    /// Beats every `heartbeat_seconds` and right after each deploy, stop or delete.
    pub async fn heartbeat_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(client) = self.deployd.clone() else {
            return;
        };
        let period = Duration::from_secs(self.settings.heartbeat_seconds.max(1));
        loop {
            match self.heartbeat().await {
                Ok(hb) => match client.node_heartbeat(&hb).await {
                    Ok(_) => {
                        // Delivered: later beats carry no check until the next round.
                        if let Some(sent) = &hb.checks {
                            let mut pending = self.checks.lock().unwrap_or_else(|p| p.into_inner());
                            if pending.as_ref().map(|c| c.probed_at) == Some(sent.probed_at) {
                                *pending = None;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "node heartbeat to deployd failed"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot build the node heartbeat"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
                _ = self.beat_now.notified() => {}
            }
        }
    }
}

/// The newest container of each app: what the node holds.
fn apps_held(containers: &[ContainerInfo]) -> Vec<NodeApp> {
    let mut newest: std::collections::BTreeMap<&str, &ContainerInfo> = Default::default();
    for c in containers {
        let Some(app) = c.labels.get(LABEL_APP) else {
            continue;
        };
        match newest.get(app.as_str()) {
            Some(seen) if created_ms(seen) >= created_ms(c) => {}
            _ => {
                newest.insert(app, c);
            }
        }
    }
    newest
        .into_iter()
        .map(|(app, c)| NodeApp {
            app_id: app.to_string(),
            user_id: c.labels.get(LABEL_USER).cloned(),
            image: c.image.clone(),
            running: c.running,
            since: chrono::DateTime::from_timestamp_millis(created_ms(c))
                .filter(|_| created_ms(c) > 0),
        })
        .collect()
}
