//! The phases of a job and the one way a phase's work runs: under its deadline, with the
//! job's cancellation winning over it.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use protocol::job::phase;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{RunError, Stop};
use crate::settings::RunnerSettings;

/// Where a job stands; heartbeats carry it to deployd as the estate spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Claimed,
    Clone,
    Build,
    Push,
    Deploy,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Claimed => phase::CLAIMED,
            Phase::Clone => phase::CLONE,
            Phase::Build => phase::BUILD,
            Phase::Push => phase::PUSH,
            Phase::Deploy => phase::DEPLOY,
        }
    }

    /// How long the phase's work may take, from the runner's settings.
    pub fn limit(self, s: &RunnerSettings) -> Duration {
        Duration::from_secs(match self {
            Phase::Claimed => s.lease_seconds.max(1) as u64,
            Phase::Clone => s.clone_timeout_seconds,
            Phase::Build => s.build_timeout_seconds,
            Phase::Push => s.push_timeout_seconds,
            Phase::Deploy => s.deploy_timeout_seconds,
        })
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Shared between a job's pipeline, its heartbeat and its final report.
pub struct JobState {
    phase: Mutex<Phase>,
    pub phase_changed: Notify,
    stop: Mutex<Option<Stop>>,
    pub cancel: CancellationToken,
    /// When the lease runs out unless a heartbeat extends it.
    lease_until: Mutex<Instant>,
}

impl JobState {
    /// A job whose lease runs until `lease_until`.
    pub fn new(lease_until: Instant) -> JobState {
        JobState {
            phase: Mutex::new(Phase::Claimed),
            phase_changed: Notify::new(),
            stop: Mutex::new(None),
            cancel: CancellationToken::new(),
            lease_until: Mutex::new(lease_until),
        }
    }

    pub fn enter(&self, p: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = p;
        self.phase_changed.notify_one();
    }

    pub fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// deployd took the job back: every step stops with `stop`.
    pub fn take_back(&self, stop: Stop) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(stop);
        self.cancel.cancel();
    }

    pub fn stopped(&self) -> RunError {
        RunError::Stopped(
            self.stop
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or(Stop::LeaseLost("stopped".into())),
        )
    }

    /// A heartbeat sent at `sent` was accepted: the lease now runs `lease` from then.
    pub fn lease_extended(&self, sent: Instant, lease: Duration) {
        let mut until = self.lease_until.lock().unwrap_or_else(|e| e.into_inner());
        *until = (*until).max(sent + lease);
    }

    pub fn lease_until(&self) -> Instant {
        *self.lease_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the work of `phase` under `limit`. A timeout becomes [`RunError::Timeout`]; a
    /// job taken back by deployd stops the work at once. Either way the work's future is
    /// dropped: work that must be told to stop and waited for (a blocking clone, a tar
    /// writer) is the caller's to stop once this answers.
    pub async fn step<T>(
        &self,
        phase: Phase,
        limit: Duration,
        work: impl Future<Output = Result<T, RunError>>,
    ) -> Result<T, RunError> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(self.stopped()),
            r = tokio::time::timeout(limit, work) => r.unwrap_or(Err(RunError::Timeout {
                phase,
                seconds: limit.as_secs(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_step_times_out_with_its_phase_and_limit() {
        let st = JobState::new(Instant::now() + Duration::from_secs(30));
        let r: Result<(), _> = st
            .step(
                Phase::Push,
                Duration::from_secs(1),
                std::future::pending::<Result<(), RunError>>(),
            )
            .await;
        let e = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "PUSH timed out after 1 s");
    }

    #[tokio::test]
    async fn a_job_taken_back_stops_the_step_with_the_reason() {
        let st = JobState::new(Instant::now() + Duration::from_secs(30));
        st.take_back(Stop::Cancelled("by an operator".into()));
        let r: Result<(), _> = st
            .step(
                Phase::Build,
                Duration::from_secs(60),
                std::future::pending::<Result<(), RunError>>(),
            )
            .await;
        assert!(
            matches!(r, Err(RunError::Stopped(Stop::Cancelled(ref m))) if m == "by an operator"),
            "{r:?}"
        );
    }
}
