//! What the runtime counts for `/metrics`, and the Prometheus text of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::metrics::{Histogram, build_info, counter, gauge};

use super::{Runtime, RuntimeError};

/// What the runtime counts for `/metrics`.
#[derive(Debug, Default)]
pub struct RuntimeMetrics {
    pub deploys_ok: AtomicU64,
    pub deploys_failed: AtomicU64,
    /// From the deploy call to the switch of the route.
    pub deploy_duration: Histogram,
    /// Routed containers that died or went behind agentd's back.
    pub backends_down: AtomicU64,
}

impl RuntimeMetrics {
    pub(super) fn backend_died(&self) {
        self.backends_down.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a deploy that ended; a refused one (bad input, already in flight) is not one.
    pub(super) fn deploy_ended<T>(&self, result: &Result<T, RuntimeError>, took: Duration) {
        match result {
            Ok(_) => {
                self.deploys_ok.fetch_add(1, Ordering::Relaxed);
                self.deploy_duration.observe(took.as_secs_f64());
            }
            Err(RuntimeError::InFlight(_)) | Err(RuntimeError::BadInput { .. }) => {}
            Err(_) => {
                self.deploys_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Runtime {
    /// Prometheus text: the build, deploys, their durations, the gateway's requests and errors, routes
    /// and running app containers.
    pub async fn render_metrics(&self) -> String {
        let mut out = String::new();
        build_info(&mut out, env!("CARGO_PKG_VERSION"), env!("FUNAI_COMMIT"));
        let m = &self.metrics;
        let _ = std::fmt::Write::write_str(
            &mut out,
            &format!(
                "# HELP agentd_deploys_total Deploys of app containers, by result.\n# TYPE agentd_deploys_total counter\nagentd_deploys_total{{result=\"ok\"}} {}\nagentd_deploys_total{{result=\"failed\"}} {}\n",
                m.deploys_ok.load(Ordering::Relaxed),
                m.deploys_failed.load(Ordering::Relaxed)
            ),
        );
        m.deploy_duration.render(
            &mut out,
            "agentd_deploy_duration_seconds",
            "From the deploy call to the switch of the route.",
        );
        counter(
            &mut out,
            "agentd_gateway_backends_down_total",
            "Routed app containers that died or were removed behind agentd's back.",
            m.backends_down.load(Ordering::Relaxed),
        );
        let g = &self.gateway.counters;
        counter(
            &mut out,
            "agentd_gateway_forwarded_total",
            "Requests for apps of other nodes, passed to their gateways (deployd's route table).",
            g.forwarded.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "agentd_gateway_requests_total",
            "Requests the gateway received.",
            g.requests.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "agentd_gateway_not_found_total",
            "Requests for a path no app is routed at.",
            g.not_found.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "agentd_gateway_errors_total",
            "Requests whose app did not answer.",
            g.errors.load(Ordering::Relaxed),
        );
        let traffic = self.gateway.traffic();
        let _ = std::fmt::Write::write_str(
            &mut out,
            "# HELP agentd_gateway_app_requests_total Answers the gateway passed on, by app and status class.\n# TYPE agentd_gateway_app_requests_total counter\n",
        );
        for (app, t) in &traffic {
            for (i, n) in t.by_class.iter().enumerate() {
                let _ = std::fmt::Write::write_str(
                    &mut out,
                    &format!(
                        "agentd_gateway_app_requests_total{{app=\"{app}\",code=\"{}xx\"}} {}\n",
                        i + 1,
                        n.load(Ordering::Relaxed)
                    ),
                );
            }
        }
        let _ = std::fmt::Write::write_str(
            &mut out,
            "# HELP agentd_gateway_app_latency_seconds Time from a request to its app's answer head, by app.\n# TYPE agentd_gateway_app_latency_seconds histogram\n",
        );
        for (app, t) in &traffic {
            t.latency.render_series(
                &mut out,
                "agentd_gateway_app_latency_seconds",
                &format!("app=\"{app}\""),
            );
        }
        gauge(
            &mut out,
            "agentd_routes",
            "Apps the gateway routes.",
            self.gateway.routes().len() as f64,
        );
        match self.container_count().await {
            Ok(n) => gauge(
                &mut out,
                "agentd_app_containers_running",
                "Running app containers of this node.",
                n as f64,
            ),
            Err(_) => gauge(
                &mut out,
                "agentd_docker_up",
                "Whether the Docker engine answered this scrape.",
                0.0,
            ),
        }
        out
    }
}
