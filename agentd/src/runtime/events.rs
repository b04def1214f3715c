//! The engine's events of this node's containers, watched for as long as agentd runs: a
//! routed container that dies or is removed behind agentd's back is marked down at once
//! (its route answers 502 instead of hanging, a deploy does not drain it, the next heartbeat
//! says so), and one the engine starts again is routed again at its new address.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Runtime;

/// How long to wait before asking the engine for its events again after the stream broke.
const RECONNECT: Duration = Duration::from_secs(1);

impl Runtime {
    /// Follows the engine's container events until `shutdown`; reconnects when they break,
    /// and looks over the routed containers after each (re)connect, for what changed while
    /// nobody listened.
    pub async fn watch_engine(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let events = self.engine.container_events(&self.node_filter());
            tokio::pin!(events);
            self.look_over_backends().await;
            loop {
                let ev = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    ev = events.next() => ev,
                };
                match ev {
                    Some(Ok((name, action))) => self.container_event(&name, &action).await,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the engine's event stream broke; asking again");
                        break;
                    }
                    None => break,
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RECONNECT) => {}
            }
        }
    }

    async fn container_event(&self, name: &str, action: &str) {
        match action {
            "die" | "destroy" | "oom" => {
                let why = if action == "destroy" {
                    "its container was removed"
                } else {
                    "its container exited"
                };
                self.backend_died(name, why);
            }
            "start" => self.backend_started(name).await,
            _ => {}
        }
    }

    fn backend_died(&self, container: &str, why: &str) {
        let Some(b) = self.gateway.backend_of_container(container) else {
            return;
        };
        if b.down().is_some() {
            return;
        }
        tracing::warn!(app = %b.app_id, container = %container, inflight = b.inflight(), "{why}: its route answers 502 until it runs again");
        b.mark_down(why);
        self.metrics.backend_died();
        self.beat_soon();
    }

    /// A container the route book routes came back (the engine's restart policy, or
    /// `docker start` by hand): routed again at its address now.
    async fn backend_started(&self, container: &str) {
        let app = {
            let book = self.book.lock().await;
            let Some(app) = book.app_of_container(container) else {
                return;
            };
            if book.get(&app).is_some_and(|e| e.stopped) {
                return;
            }
            app
        };
        let routed = self.gateway.route_of(&app);
        if routed
            .as_ref()
            .is_some_and(|(_, b)| b.container == container && b.down().is_none())
        {
            return;
        }
        let fresh = match self.engine.inspect(container, &self.settings.network).await {
            Ok(Some(c)) if c.running => c,
            _ => return,
        };
        let Some((base, backend)) = self.backend_for(&fresh) else {
            return;
        };
        tracing::info!(app = %app, container = %container, addr = %backend.addr, "its container runs again: routed");
        self.gateway.switch_app(&app, &base, backend);
        self.beat_soon();
    }

    /// Marks down every routed backend whose container is not running.
    async fn look_over_backends(&self) {
        for (_, b) in self.gateway.routes() {
            if b.down().is_some() {
                continue;
            }
            match self
                .engine
                .inspect(&b.container, &self.settings.network)
                .await
            {
                Ok(Some(c)) if c.running => {}
                Ok(Some(_)) => self.backend_died(&b.container, "its container exited"),
                Ok(None) => self.backend_died(&b.container, "its container was removed"),
                Err(e) => {
                    tracing::warn!(container = %b.container, error = %e, "cannot inspect a routed container")
                }
            }
        }
    }
}
