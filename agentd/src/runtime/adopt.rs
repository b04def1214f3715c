//! Adoption at start: the containers that were serving before a restart are routed again,
//! and what an interrupted deploy left behind is removed.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::docker::ContainerInfo;
use crate::gateway::Backend;

use super::{LABEL_APP, LABEL_BASE_PATH, LABEL_PORT, Runtime, RuntimeError, created_ms};

impl Runtime {
    pub(super) fn backend_for(&self, c: &ContainerInfo) -> Option<(String, Arc<Backend>)> {
        let app = c.labels.get(LABEL_APP)?;
        let port: u16 = c.labels.get(LABEL_PORT)?.parse().ok()?;
        let base = c.labels.get(LABEL_BASE_PATH)?.clone();
        let ip: std::net::IpAddr = c.ip.as_ref()?.parse().ok()?;
        Some((base, Backend::new(app, &c.name, SocketAddr::new(ip, port))))
    }

    /// Routes the containers that were serving before a restart and removes what an
    /// interrupted deploy left behind.
    pub(super) async fn adopt(&self) -> Result<(), RuntimeError> {
        let all = self.containers().await?;
        let mut by_app: HashMap<String, Vec<ContainerInfo>> = HashMap::new();
        for c in all {
            if let Some(app) = c.labels.get(LABEL_APP).cloned() {
                by_app.entry(app).or_default().push(c);
            }
        }
        let mut book = self.book.lock().await;
        for (app, mut cs) in by_app {
            cs.sort_by_key(|c| std::cmp::Reverse(created_ms(c)));
            let entry = book.get(&app).cloned();
            let keep = match &entry {
                Some(e) => cs.iter().find(|c| c.name == e.container).cloned(),
                None => None,
            }
            .or_else(|| cs.iter().find(|c| c.running).cloned());
            let Some(keep) = keep else {
                continue;
            };
            for c in cs.iter().filter(|c| c.name != keep.name) {
                tracing::info!(app = %app, container = %c.name, "removing a leftover of an interrupted deploy");
                self.engine.remove(&c.name).await?;
            }
            let stopped = entry
                .as_ref()
                .is_some_and(|e| e.stopped && e.container == keep.name)
                || !keep.running;
            if !stopped {
                // The address may not be known from a listing; ask the engine.
                let fresh = self
                    .engine
                    .inspect(&keep.name, &self.settings.network)
                    .await?
                    .unwrap_or(keep.clone());
                match self.backend_for(&fresh) {
                    Some((base, backend)) => {
                        tracing::info!(app = %app, container = %keep.name, base = %base, "adopted");
                        self.gateway.set_route(&base, backend);
                    }
                    None => {
                        tracing::warn!(app = %app, container = %keep.name, "cannot route: no address or labels")
                    }
                }
            }
            book.set(&app, &keep.name, stopped);
        }
        let existing: HashSet<String> = self
            .containers()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        book.retain(|container| existing.contains(container));
        book.save();
        Ok(())
    }
}
