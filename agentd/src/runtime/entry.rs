//! Any node's gateway can be the entry of all: deployd's route table (which node holds which
//! app) is read every `heartbeat_seconds` and at once when a request finds no route, and a
//! request for an app another node holds goes to that node's gateway, path and all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::node::NodeRoute;
use tokio_util::sync::CancellationToken;

use super::Runtime;
use crate::gateway::Backend;

impl Runtime {
    /// Reads the route table until `shutdown`; keeps the last one when deployd does not answer.
    pub async fn route_table_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(client) = self.deployd.clone() else {
            return;
        };
        let period = Duration::from_secs(self.settings.heartbeat_seconds.max(1));
        // One backend per node's gateway, kept across reads: a client connection goes on
        // using its connection to that gateway.
        let mut gateways: HashMap<(String, String), Arc<Backend>> = HashMap::new();
        self.gateway.table_kept();
        loop {
            match client.node_routes().await {
                Ok(routes) => {
                    let table = self.remote_routes(&routes, &mut gateways).await;
                    let n = self.gateway.set_remote(table);
                    tracing::debug!(routes = n, "route table of the other nodes read");
                }
                Err(e) => {
                    self.gateway.table_tried();
                    tracing::debug!(error = %e, "cannot read deployd's route table; the last one stays")
                }
            }
            // Every period, or at once when a request found no route (at most once a
            // `TABLE_READ_GAP`, read or not: a failing deployd is not asked in a loop).
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.gateway.table_wanted(period) => {}
            }
        }
    }

    /// The routes of the apps other nodes hold, by base path.
    async fn remote_routes(
        &self,
        routes: &[NodeRoute],
        gateways: &mut HashMap<(String, String), Arc<Backend>>,
    ) -> HashMap<String, Arc<Backend>> {
        let mut table = HashMap::new();
        let mut used = std::collections::HashSet::new();
        for r in routes
            .iter()
            .filter(|r| r.node_name != self.settings.node_name)
        {
            let key = (r.node_name.clone(), r.gateway_url.clone());
            if !gateways.contains_key(&key) {
                let Some(addr) = gateway_addr(&r.gateway_url).await else {
                    tracing::warn!(node = %r.node_name, url = %r.gateway_url, "cannot pass requests to this gateway: not an http://host[:port] that resolves");
                    continue;
                };
                gateways.insert(key.clone(), Backend::remote(&r.node_name, addr));
            }
            if let Some(b) = gateways.get(&key) {
                table.insert(r.base_path.clone(), b.clone());
                used.insert(key);
            }
        }
        gateways.retain(|k, _| used.contains(k));
        table
    }
}

/// The address of a gateway URL (`http://host[:port]`, port 80 by default).
async fn gateway_addr(url: &str) -> Option<SocketAddr> {
    let uri: axum::http::Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gateway_urls_resolve_with_their_port_or_80() {
        assert_eq!(
            gateway_addr("http://127.0.0.1:8080").await,
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            gateway_addr("http://127.0.0.1").await,
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            gateway_addr("http://[::1]:81/").await,
            Some("[::1]:81".parse().unwrap())
        );
        assert_eq!(gateway_addr("https://127.0.0.1").await, None);
    }
}
