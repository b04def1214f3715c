//! deployd: the control plane. Job queue with leases, runner and runtime-node registry,
//! disk-aware sticky placement, app history and the admin API (DESIGN §3.1).

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod routes;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use settings::Allowlists;
pub use settings::Settings;
use store::{Policy, Store};

/// Wall-clock milliseconds, with an offset that tests move forward instead of sleeping.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

/// What every handler shares.
pub struct AppState {
    pub settings: Settings,
    pub allow: Allowlists,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    /// Woken when a job may have become claimable (created, requeued, a node came up).
    pub jobs_changed: Notify,
    /// Woken when a job log grew or a job changed state.
    pub logs_changed: Notify,
    pub shutdown: CancellationToken,
    /// For calls to runtime agents (app stop and cleanup).
    pub http: reqwest::Client,
    /// Long-polls waiting for a wake-up right now.
    pub waiting: Waiting,
    pub metrics: metrics::Metrics,
}

/// Counts of long-polls parked on a wake-up, claims and log follows apart.
#[derive(Debug, Default)]
pub struct Waiting {
    pub claims: AtomicI64,
    pub log_follows: AtomicI64,
}

/// Counts one long-poll as waiting while it lives.
pub struct WaitingGuard<'a>(&'a AtomicI64);

impl<'a> WaitingGuard<'a> {
    pub fn enter(counter: &'a AtomicI64) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Requeues or fails jobs whose lease expired; wakes whoever waits on them.
    pub async fn sweep_once(&self) -> Result<store::SweepOutcome, store::StoreError> {
        let out = self.store.sweep(self.now()).await?;
        if !out.is_empty() {
            let n = out.requeued.len() + out.failed.len() + out.cancelled.len();
            self.metrics
                .lease_expiries
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            for id in &out.requeued {
                tracing::warn!(job = id, "lease expired, job requeued");
            }
            for id in &out.failed {
                tracing::warn!(job = id, "lease expired on the last attempt, job failed");
            }
            for id in &out.cancelled {
                tracing::info!(job = id, "lease expired after cancel, job cancelled");
            }
            self.jobs_changed.notify_waiters();
            self.logs_changed.notify_waiters();
        }
        Ok(out)
    }
}

/// Builds the state: checks the settings, opens and migrates the database.
pub async fn build_state(
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<AppState>> {
    let allow = settings
        .check()
        .map_err(|e| anyhow::anyhow!("refusing to start: {e}"))?;
    if settings.auth.allow_legacy_runners {
        if allow.runner.is_empty() {
            anyhow::bail!(
                "refusing to start: allow_legacy_runners = true needs auth.runner_allowed_ips (runners without a token are accepted only from there)"
            );
        }
        tracing::warn!(
            "legacy runners without X-Runner-Token are accepted from auth.runner_allowed_ips"
        );
    }
    let store = store::open(
        &settings.database_url,
        Policy::from_settings(&settings),
        &settings.database,
    )
    .await?;
    tracing::info!(
        engine = store.engine(),
        database = %store::redact_url(&settings.database_url),
        "database open"
    );
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()?;
    Ok(Arc::new(AppState {
        settings,
        allow,
        store,
        clock: Clock::default(),
        jobs_changed: Notify::new(),
        logs_changed: Notify::new(),
        shutdown,
        http,
        waiting: Waiting::default(),
        metrics: metrics::Metrics::default(),
    }))
}

/// Serves deployd on an already bound listener until `shutdown` is cancelled; in-flight
/// requests finish, long-polls answer at once.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = build_state(settings, shutdown.clone()).await?;
    serve_state(state, listener).await
}

pub async fn serve_state(state: Arc<AppState>, listener: TcpListener) -> anyhow::Result<()> {
    let shutdown = state.shutdown.clone();
    let sweeper = tokio::spawn(run_sweeper(state.clone()));
    let feed = tokio::spawn(follow_changes(state.clone()));
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "deployd listening");
    let app = routes::router(state.clone());
    let limits = daemon::Limits {
        header_read_timeout: std::time::Duration::from_millis(
            state.settings.header_read_timeout_ms.max(1),
        ),
        ..Default::default()
    };
    let result = daemon::serve(listener, app, shutdown.clone(), limits).await;
    shutdown.cancel();
    sweeper.abort();
    feed.abort();
    result.map_err(|e| anyhow::anyhow!("deployd server error: {e}"))
}

async fn run_sweeper(state: Arc<AppState>) {
    let period = Duration::from_millis(state.settings.jobs.sweep_interval_ms.max(10));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = state.sweep_once().await {
                    tracing::error!(error = %e, "lease sweep failed");
                }
            }
        }
    }
}

/// Turns what other replicas change (the store's change feed) into the same wake-ups that
/// this process's own writes give: a long-poll claim or log follow here sees a job created
/// or a log appended through another replica.
async fn follow_changes(state: Arc<AppState>) {
    let Some(mut changes) = state.store.change_feed(state.shutdown.clone()) else {
        return;
    };
    while let Some(change) = changes.recv().await {
        match change {
            store::Change::Jobs => state.jobs_changed.notify_waiters(),
            store::Change::Logs => state.logs_changed.notify_waiters(),
            store::Change::Everything => {
                state.jobs_changed.notify_waiters();
                state.logs_changed.notify_waiters();
            }
        }
    }
}
