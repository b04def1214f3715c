//! Prometheus text on `GET /metrics`: jobs by state, claim latency, lease expiries, node and
//! runner health, deploy durations, long-polls waiting.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::job::JobStatus;

use crate::AppState;

/// Seconds; the last bucket is +Inf.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 15],
    sum_micros: AtomicU64,
    total: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        let s = seconds.max(0.0);
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((s * 1e6) as u64, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {}", self.total.load(Ordering::Relaxed));
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub claims: AtomicU64,
    /// From a job's creation (or requeue) to its claim.
    pub claim_latency: Histogram,
    pub lease_expiries: AtomicU64,
    /// From claim to the report of a successful deploy.
    pub deploy_duration: Histogram,
    pub reports: [AtomicU64; 3],
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

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

/// The whole exposition; store reads that fail are left out and counted.
pub async fn render(state: &AppState) -> String {
    let m = &state.metrics;
    let mut out = String::new();
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

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        h.observe(1000.0);
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"300\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("x_count 3"), "{out}");
    }
}
