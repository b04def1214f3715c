//! Periodic probes of this agent's edges of the security-group matrix (`[check]`): the
//! runtime role sends each round with its node heartbeat, the runner role on its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use probe::{ProbeOptions, SshOptions, Topology, host};
use protocol::check::CheckReport;
use tokio_util::sync::CancellationToken;

use crate::settings::{CheckSettings, RunnerSettings};

/// One role's probes, as `[check]` configures them.
#[derive(Debug, Clone)]
pub struct Prober {
    pub role: String,
    pub topology: PathBuf,
    pub interval: Duration,
    pub expect_closed: bool,
    pub options: ProbeOptions,
}

impl Prober {
    /// The runtime role's prober; `None` without a topology.
    pub fn for_runtime(check: &CheckSettings) -> Option<Prober> {
        Self::new(check, probe::role::RUNTIME, None)
    }

    /// The runner role's prober: the SSH probe checks the Git server's key against the
    /// runner's known_hosts and, with `ssh_auth`, logs in with its deploy key.
    pub fn for_runner(check: &CheckSettings, runner: &RunnerSettings) -> Option<Prober> {
        Self::new(check, probe::role::RUNNER, Some(runner))
    }

    fn new(check: &CheckSettings, role: &str, runner: Option<&RunnerSettings>) -> Option<Prober> {
        if check.topology.trim().is_empty() {
            return None;
        }
        let known_hosts = match (check.known_hosts.as_str(), runner) {
            ("", Some(r)) if !r.git_known_hosts.is_empty() => Some(r.git_known_hosts.clone()),
            ("", _) => None,
            (k, _) => Some(k.to_string()),
        };
        let key = runner
            .filter(|r| check.ssh_auth && !r.git_ssh_key.is_empty())
            .map(|r| PathBuf::from(&r.git_ssh_key));
        Some(Prober {
            role: role.to_string(),
            topology: PathBuf::from(check.topology.trim()),
            interval: Duration::from_secs(check.interval_seconds.max(1)),
            expect_closed: check.expect_closed,
            options: ProbeOptions {
                timeout: Duration::from_millis(check.timeout_ms),
                parallel: check.parallel.max(1),
                ssh: SshOptions {
                    user: check.ssh_user.clone(),
                    known_hosts: known_hosts.map(PathBuf::from),
                    key,
                },
            },
        })
    }

    /// One round: read the topology (edits apply at the next round), plan, probe.
    pub async fn round(&self) -> Result<CheckReport, String> {
        let topology = Topology::load(Path::new(&self.topology)).map_err(|e| e.to_string())?;
        let own = host::local_addresses()
            .map_err(|e| format!("cannot read this host's addresses: {e}"))?;
        let from = vec![self.role.clone()];
        let plan = topology.plan(&from, &own, self.expect_closed);
        let results = probe::run(plan, &self.options).await;
        Ok(CheckReport {
            roles: from,
            addresses: own
                .iter()
                .filter(|a| !a.is_loopback())
                .map(|a| a.to_string())
                .collect(),
            probed_at: chrono::Utc::now(),
            timeout_ms: self.options.timeout.as_millis() as u64,
            results,
        })
    }

    /// Probes every `interval` until `shutdown`, handing each round to `sink`.
    pub async fn run<F, Fut>(self, shutdown: CancellationToken, mut sink: F)
    where
        F: FnMut(CheckReport) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        tracing::info!(role = %self.role, topology = %self.topology.display(), every = ?self.interval, "connectivity checks on");
        loop {
            let round = tokio::select! {
                r = self.round() => r,
                _ = shutdown.cancelled() => return,
            };
            match round {
                Ok(report) => {
                    let bad: Vec<String> = report
                        .results
                        .iter()
                        .filter(|r| !r.ok())
                        .map(|r| {
                            format!(
                                "{}:{} expected {} seen {}",
                                r.address, r.port, r.expected, r.seen
                            )
                        })
                        .collect();
                    if bad.is_empty() {
                        tracing::debug!(role = %self.role, probes = report.results.len(), "connectivity check passed");
                    } else {
                        tracing::warn!(role = %self.role, violations = %bad.join("; "), "connectivity check found violations");
                    }
                    sink(report).await;
                }
                Err(e) => {
                    tracing::warn!(role = %self.role, error = %e, "connectivity check skipped")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_topology_means_no_probes() {
        assert!(Prober::for_runtime(&CheckSettings::default()).is_none());
    }

    #[test]
    fn the_runner_checks_with_its_own_git_files() {
        let check = CheckSettings {
            topology: "/etc/funai/topology.toml".into(),
            ..Default::default()
        };
        let runner = RunnerSettings::default();
        let p = Prober::for_runner(&check, &runner).unwrap_or_else(|| panic!("no prober"));
        assert_eq!(p.role, "runner");
        assert_eq!(
            p.options.ssh.known_hosts.as_deref(),
            Some(Path::new("/etc/funai/known_hosts"))
        );
        assert_eq!(
            p.options.ssh.key.as_deref(),
            Some(Path::new("/etc/funai/deploy_key"))
        );
        let no_auth = CheckSettings {
            ssh_auth: false,
            ..check
        };
        let p = Prober::for_runner(&no_auth, &runner).unwrap_or_else(|| panic!("no prober"));
        assert!(p.options.ssh.key.is_none());
    }
}
