//! Replicas that share a database find each other and wake each other's long-polls after a
//! commit, so a job created through one is claimed through another in milliseconds on every
//! engine, without a tighter change poll.
//!
//! Each replica keeps a row in `fun_ai_deploy_replica` (its id and the URL the others reach
//! it at), refreshed every `database.replica_refresh_ms`; a replica not seen for three
//! periods is left out. Each peer has its own sender task and its own pending wake-up: what
//! piles up while one request is in flight goes in the next, and a dead or slow peer holds
//! up only its own task. The store's change feed (NOTIFY, or MySQL's poll) stays as the
//! fallback for a wake-up that was lost.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::AppState;

/// `POST /internal/wake`: what changed on the sending replica.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WakeRequest {
    /// The sending replica's id.
    pub from: String,
    /// Jobs may have become claimable: wake every waiting claim.
    #[serde(default)]
    pub jobs: bool,
    /// Jobs created: wake as many waiting claims.
    #[serde(default)]
    pub created: u32,
    /// Jobs whose log or state changed.
    #[serde(default)]
    pub logs: BTreeSet<i64>,
    /// The sender has just joined: a receiver that does not know it yet reads the replica
    /// table now rather than at its next refresh.
    #[serde(default)]
    pub hello: bool,
}

/// Most job ids one wake-up names; more and the receiver wakes every log follow.
pub const MAX_LOGS: usize = 4096;

/// How long one wake-up may take before the peer is given up on for this round.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

impl WakeRequest {
    fn is_empty(&self) -> bool {
        !self.jobs && self.created == 0 && self.logs.is_empty() && !self.hello
    }
}

struct Pending {
    next: Mutex<WakeRequest>,
    ready: Notify,
    /// The peer's last wake-up failed: the change feed must carry everything again.
    failing: std::sync::atomic::AtomicBool,
}

struct Peer {
    url: String,
    pending: Arc<Pending>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The other live replicas, each with its sender.
pub struct Peers {
    me: String,
    /// Told at once when a peer stops taking wake-ups.
    store: Arc<dyn crate::store::Store>,
    peers: Mutex<HashMap<String, Peer>>,
    http: reqwest::Client,
    /// Asks for a look at the replica table before the next refresh.
    pub refresh: Notify,
}

/// A replica as the table lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    pub replica_id: String,
    pub internal_url: String,
    pub last_seen_at: protocol::Timestamp,
    /// This replica (the one answering).
    pub me: bool,
}

impl Peers {
    pub fn new(me: String, store: Arc<dyn crate::store::Store>) -> Self {
        Self {
            me,
            store,
            peers: Mutex::new(HashMap::new()),
            refresh: Notify::new(),
            http: reqwest::Client::builder()
                .connect_timeout(SEND_TIMEOUT)
                .timeout(SEND_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Peer>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a wake-up for every peer; returns at once.
    pub fn send(&self, add: impl Fn(&mut WakeRequest)) {
        for peer in self.lock().values() {
            add(&mut peer.pending.next.lock().unwrap_or_else(|p| p.into_inner()));
            peer.pending.ready.notify_one();
        }
    }

    /// Replaces the peers with `live` (id, URL), keeping the senders of those that stay.
    /// Answers whether every other live replica is woken this way (none has an empty URL).
    pub fn set(&self, live: Vec<(String, String)>, secret: &str) -> bool {
        let mut peers = self.lock();
        let reachable = live.iter().all(|(id, url)| {
            *id == self.me
                || (!url.is_empty()
                    && peers.get(id).is_none_or(|p| {
                        !p.pending.failing.load(std::sync::atomic::Ordering::Relaxed)
                    }))
        });
        peers.retain(|id, p| live.iter().any(|(i, u)| i == id && *u == p.url));
        for (id, url) in live {
            if id == self.me || url.is_empty() || peers.contains_key(&id) {
                continue;
            }
            tracing::info!(replica = %id, %url, "replica peer found");
            let pending = Arc::new(Pending {
                next: Mutex::new(WakeRequest::default()),
                ready: Notify::new(),
                failing: Default::default(),
            });
            let task = tokio::spawn(send_loop(
                self.http.clone(),
                format!("{}/internal/wake", url.trim_end_matches('/')),
                self.me.clone(),
                secret.to_string(),
                pending.clone(),
                self.store.clone(),
            ));
            peers.insert(id, Peer { url, pending, task });
        }
        reachable
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Whether `id` is a peer here (or this replica).
    pub fn knows(&self, id: &str) -> bool {
        id == self.me || self.lock().contains_key(id)
    }
}

async fn send_loop(
    http: reqwest::Client,
    url: String,
    me: String,
    secret: String,
    pending: Arc<Pending>,
    store: Arc<dyn crate::store::Store>,
) {
    let mut failing = false;
    loop {
        pending.ready.notified().await;
        let mut body = std::mem::take(&mut *pending.next.lock().unwrap_or_else(|p| p.into_inner()));
        if body.is_empty() {
            continue;
        }
        body.from.clone_from(&me);
        if body.logs.len() > MAX_LOGS {
            // The receiver wakes every follow instead.
            body.logs = body.logs.into_iter().take(MAX_LOGS + 1).collect();
        }
        let sent = http
            .post(&url)
            .header(protocol::headers::DEPLOY_SECRET, &secret)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status());
        match sent {
            Ok(_) if failing => {
                tracing::info!(%url, "replica peer answers wake-ups again");
                failing = false;
                pending
                    .failing
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(%url, error = %e, "replica peer did not take a wake-up (its change feed remains)");
                }
                failing = true;
                // The change feed carries everything again until the next look at the
                // table finds every peer answering.
                pending
                    .failing
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                store.set_peers_woken(false);
            }
        }
    }
}

/// Replicas seen since this moment count as live: three refresh periods before `now`.
pub fn live_since(state: &AppState, now: i64) -> i64 {
    now - 3 * state.settings.database.replica_refresh_ms as i64
}

/// The URL the other replicas reach this one at: the setting, else the address deployd
/// listens on when it names one (not 0.0.0.0 or ::).
pub fn internal_url(state: &AppState, bound: std::net::SocketAddr) -> Option<String> {
    if let Some(u) = &state.settings.database.replica_url {
        return Some(u.trim_end_matches('/').to_string());
    }
    if bound.ip().is_unspecified() {
        return None;
    }
    Some(format!("http://{bound}"))
}

/// Keeps this replica's row fresh and the peers current until shutdown; removes the row
/// at shutdown. A replica without a URL (`None`) registers with an empty one: the others
/// then keep telling it of their changes through the change feed. While every other
/// replica has a URL, the store leaves out the change feed's notifications that the
/// wake-ups carry (PostgreSQL's `NOTIFY` of logs and created jobs: a round trip in each
/// transaction).
pub async fn run(state: Arc<AppState>, url: Option<String>) {
    let url = url.unwrap_or_default();
    let period = Duration::from_millis(state.settings.database.replica_refresh_ms);
    let secret = state.settings.auth.deploy_secret.expose().to_string();
    let me = state.peers.me().to_string();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut greeted = false;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tick.tick() => {}
            _ = state.peers.refresh.notified() => {}
        }
        let now = state.now();
        let refreshed = async {
            state.store.replica_seen(&me, &url, now).await?;
            state.store.list_replicas(live_since(&state, now)).await
        }
        .await;
        match refreshed {
            Ok(list) => {
                failing = false;
                let reachable = state.peers.set(
                    list.into_iter()
                        .map(|r| (r.replica_id, r.internal_url))
                        .collect(),
                    &secret,
                );
                state.store.set_peers_woken(reachable);
                if !greeted && !url.is_empty() {
                    // The others learn of this replica now, not at their next refresh.
                    state.peers.send(|w| w.hello = true);
                    greeted = true;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot refresh the replica table; retrying");
                }
                failing = true;
                state.store.set_peers_woken(false);
            }
        }
    }
    state.store.set_peers_woken(false);
    if let Err(e) = state.store.remove_replica(&me).await {
        tracing::warn!(error = %e, "cannot remove this replica from the replica table");
    }
}
