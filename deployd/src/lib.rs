//! deployd: the control plane. Job queue with leases, runner and runtime-node registry,
//! disk-aware sticky placement, app history and the admin API (DESIGN §3.1).

pub mod auth;
pub mod defaults;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod replicas;
pub mod routes;
pub mod settings;
pub mod store;
pub mod wake;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
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
    /// Long-polls waiting here: claims for a claimable job, log follows for their job.
    pub wake: wake::Wakers,
    /// The other replicas sharing the database, woken after this one's commits.
    pub peers: replicas::Peers,
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

    /// A job may have become claimable (created, requeued, a node came up): wakes the
    /// claims waiting here and on the other replicas.
    pub fn wake_jobs(&self) {
        self.wake.wake_jobs();
        self.peers.send(|w| w.jobs = true);
    }

    /// A job was created: wakes one waiting claim here and one on each other replica.
    pub fn wake_created(&self) {
        self.wake.wake_claims(1);
        self.peers.send(|w| w.created = w.created.saturating_add(1));
    }

    /// Job `id`'s log grew or its state changed: wakes its follows here and on the other
    /// replicas.
    pub fn wake_log(&self, id: i64) {
        self.wake.wake_log(id);
        self.peers.send(|w| {
            w.logs.insert(id);
        });
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
            self.wake_jobs();
            for id in out.requeued.iter().chain(&out.failed).chain(&out.cancelled) {
                self.wake_log(*id);
            }
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
    let peers = replicas::Peers::new(store::replica_id(), store.clone());
    Ok(Arc::new(AppState {
        settings,
        allow,
        store,
        clock: Clock::default(),
        wake: wake::Wakers::default(),
        peers,
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
    let flusher = tokio::spawn(run_beat_flusher(state.clone()));
    let feed = tokio::spawn(follow_changes(state.clone()));
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "deployd listening");
    // SQLite has one process: no one else to wake.
    let replica = if state.store.engine() != "sqlite" {
        let url = replicas::internal_url(&state, addr);
        match &url {
            Some(url) => tracing::info!(
                replica = %state.peers.me(),
                %url,
                "replica registered: other replicas wake this one's long-polls"
            ),
            None => tracing::warn!(
                "listening on every address and database.replica_url unset: other replicas wake this one through the change feed only"
            ),
        }
        Some(tokio::spawn(replicas::run(state.clone(), url)))
    } else {
        None
    };
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
    // The beats held in memory are written, unless the database does not answer soon.
    let _ = tokio::time::timeout(Duration::from_secs(2), flusher).await;
    if let Some(r) = replica {
        // Leaves the replica table, unless the database does not answer soon.
        let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
    }
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

/// Writes the node beats answered from memory (`store/beats.rs`) every
/// `nodes.heartbeat_flush_ms`, and once more at shutdown.
async fn run_beat_flusher(state: Arc<AppState>) {
    let period = Duration::from_millis(state.settings.nodes.heartbeat_flush_ms.max(1));
    // Nothing is held at start: the first flush is one period in.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let last = tokio::select! {
            _ = state.shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        if let Err(e) = state.store.flush_beats().await {
            tracing::error!(error = %e, "writing the node heartbeats held in memory failed");
        }
        if last {
            return;
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
            store::Change::Jobs => state.wake.wake_jobs(),
            store::Change::Created(n) => state.wake.wake_claims(n),
            store::Change::Logs(ids) if ids.is_empty() => state.wake.wake_all_logs(),
            store::Change::Logs(ids) => {
                for id in ids {
                    state.wake.wake_log(id);
                }
            }
            store::Change::Everything => {
                state.wake.wake_jobs();
                state.wake.wake_all_logs();
            }
        }
    }
}
