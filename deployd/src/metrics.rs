//! Prometheus text on `GET /metrics`: the build, jobs by state, claim latency, lease expiries, node and
//! runner health, deploy durations, long-polls waiting.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::job::JobStatus;
use protocol::metrics::{Histogram, build_info, counter};

use crate::AppState;

#[derive(Debug, Default)]
pub struct Metrics {
    pub claims: AtomicU64,
    /// From a job's creation (or requeue) to its claim.
    pub claim_latency: Histogram,
    pub lease_expiries: AtomicU64,
    /// From claim to the report of a successful deploy.
    pub deploy_duration: Histogram,
    pub reports: [AtomicU64; 3],
    /// Wake-ups other replicas sent this one after their commits.
    pub replica_wakes: AtomicU64,
    /// Requests of runners that sent no token (the estate's own runner), accepted.
    pub legacy_runner_requests: AtomicU64,
    /// When each such runner (by address) was last warned about in the log: once an hour.
    pub legacy_warned:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, std::time::Instant>>,
}

/// How often deployd's log repeats that a runner without a token is accepted.
pub const LEGACY_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Metrics {
    /// Counts a legacy runner's request; true when it is due a warning in the log.
    pub fn legacy_request(&self, ip: std::net::IpAddr) -> bool {
        self.legacy_runner_requests.fetch_add(1, Ordering::Relaxed);
        let mut warned = self.legacy_warned.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        match warned.get(&ip) {
            Some(at) if now.duration_since(*at) < LEGACY_WARN_EVERY => false,
            _ => {
                warned.insert(ip, now);
                true
            }
        }
    }
}

impl Metrics {
    pub fn reported(&self, status: JobStatus) {
        let i = match status {
            JobStatus::Succeeded => 0,
            JobStatus::Failed => 1,
            _ => 2,
        };
        self.reports[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// The whole exposition; store reads that fail are left out and counted.
pub async fn render(state: &AppState) -> String {
    let m = &state.metrics;
    let mut out = String::new();
    build_info(&mut out, env!("CARGO_PKG_VERSION"), env!("FUNAI_COMMIT"));
    let now = state.now();
    let mut scrape_errors = 0;
    match state.store.count_jobs().await {
        Ok(counts) => {
            let _ = writeln!(
                out,
                "# HELP deployd_jobs Jobs kept, by state.\n# TYPE deployd_jobs gauge"
            );
            for st in JobStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == st)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                let _ = writeln!(out, "deployd_jobs{{state=\"{st}\"}} {n}");
            }
        }
        Err(_) => scrape_errors += 1,
    }
    match state.store.list_nodes(now).await {
        Ok(nodes) => {
            let _ = writeln!(
                out,
                "# HELP deployd_runtime_nodes Runtime nodes, by health.\n# TYPE deployd_runtime_nodes gauge"
            );
            for h in ["HEALTHY", "STALE", "DRAINING", "DISABLED"] {
                let n = nodes.iter().filter(|x| x.status.as_str() == h).count();
                let _ = writeln!(out, "deployd_runtime_nodes{{health=\"{h}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP deployd_runtime_node_disk_free_ratio Free disk of each node's data directory.\n# TYPE deployd_runtime_node_disk_free_ratio gauge"
            );
            for n in &nodes {
                let _ = writeln!(
                    out,
                    "deployd_runtime_node_disk_free_ratio{{node=\"{}\"}} {}",
                    n.node_name,
                    n.disk_free_pct / 100.0
                );
            }
        }
        Err(_) => scrape_errors += 1,
    }
    match state.store.list_runners(now).await {
        Ok(runners) => {
            let _ = writeln!(
                out,
                "# HELP deployd_runners Runners seen, by health.\n# TYPE deployd_runners gauge"
            );
            for h in ["HEALTHY", "STALE"] {
                let n = runners.iter().filter(|r| r.status.to_string() == h).count();
                let _ = writeln!(out, "deployd_runners{{health=\"{h}\"}} {n}");
            }
        }
        Err(_) => scrape_errors += 1,
    }
    counter(
        &mut out,
        "deployd_claims_total",
        "Jobs handed to runners.",
        m.claims.load(Ordering::Relaxed),
    );
    m.claim_latency.render(
        &mut out,
        "deployd_claim_latency_seconds",
        "Time from a job's creation or requeue to its claim.",
    );
    counter(
        &mut out,
        "deployd_legacy_runner_requests_total",
        "Requests of runners that sent no X-Runner-Token, accepted from the runner allowlist.",
        m.legacy_runner_requests.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "deployd_lease_expiries_total",
        "Leases the sweeper found expired (requeued, failed or cancelled).",
        m.lease_expiries.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP deployd_reports_total Reports of finished jobs, by status.\n# TYPE deployd_reports_total counter"
    );
    for (i, st) in ["SUCCEEDED", "FAILED", "CANCELLED"].iter().enumerate() {
        let _ = writeln!(
            out,
            "deployd_reports_total{{status=\"{st}\"}} {}",
            m.reports[i].load(Ordering::Relaxed)
        );
    }
    m.deploy_duration.render(
        &mut out,
        "deployd_deploy_duration_seconds",
        "Time from claim to a successful report.",
    );
    counter(
        &mut out,
        "deployd_replica_wakes_total",
        "Wake-ups received from other replicas after their commits.",
        m.replica_wakes.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP deployd_replica_peers Other replicas this one wakes after its commits.\n# TYPE deployd_replica_peers gauge\ndeployd_replica_peers {}",
        state.peers.count()
    );
    let _ = writeln!(
        out,
        "# HELP deployd_long_polls_waiting Long-polls parked on a wake-up.\n# TYPE deployd_long_polls_waiting gauge"
    );
    let _ = writeln!(
        out,
        "deployd_long_polls_waiting{{kind=\"claim\"}} {}",
        state.waiting.claims.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "deployd_long_polls_waiting{{kind=\"log\"}} {}",
        state.waiting.log_follows.load(Ordering::Relaxed)
    );
    counter(
        &mut out,
        "deployd_scrape_errors",
        "Store reads that failed during this scrape.",
        scrape_errors,
    );
    out
}
