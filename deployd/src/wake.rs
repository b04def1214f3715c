//! Wake-ups of long-polls. A claim waits for a job to become claimable; a log follow waits
//! for its own job's log or state to change, and is woken for that job only. A write made
//! here wakes the waiters here at once; `AppState::wake_jobs` and `AppState::wake_log` also
//! tell the other replicas (`replicas.rs`), the store's change feed wakes only those here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

#[derive(Default)]
pub struct Wakers {
    jobs: Notify,
    /// The jobs someone follows right now, each with its own notifier and follower count.
    logs: Mutex<HashMap<i64, (Arc<Notify>, usize)>>,
}

/// One log follow of one job; the job's notifier lives while someone follows it.
pub struct LogFollow<'a> {
    wakers: &'a Wakers,
    id: i64,
    notify: Arc<Notify>,
}

impl LogFollow<'_> {
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for LogFollow<'_> {
    fn drop(&mut self) {
        let mut logs = self.wakers.lock();
        if let Some((_, n)) = logs.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                logs.remove(&self.id);
            }
        }
    }
}

impl Wakers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (Arc<Notify>, usize)>> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves at the next `wake_jobs`; enable it before looking, so a wake-up between
    /// the look and the wait is not lost.
    pub fn jobs_changed(&self) -> Notified<'_> {
        self.jobs.notified()
    }

    pub fn follow_log(&self, id: i64) -> LogFollow<'_> {
        let mut logs = self.lock();
        let entry = logs
            .entry(id)
            .or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        LogFollow {
            wakers: self,
            id,
            notify: entry.0.clone(),
        }
    }

    /// Many jobs may have become claimable (a node came up, jobs were requeued): wakes
    /// every waiting claim.
    pub fn wake_jobs(&self) {
        self.jobs.notify_waiters();
    }

    /// `n` jobs were created: wakes `n` waiting claims, not every one (a claim woken for
    /// nothing costs a transaction). A woken claim that finds no job waits again; one that
    /// goes away before its turn hands the wake-up on.
    pub fn wake_claims(&self, n: u32) {
        for _ in 0..n {
            self.jobs.notify_one();
        }
    }

    /// Wakes the follows of job `id`; no one else.
    pub fn wake_log(&self, id: i64) {
        if let Some((n, _)) = self.lock().get(&id) {
            n.notify_waiters();
        }
    }

    /// Wakes every log follow (a change feed that lost track).
    pub fn wake_all_logs(&self) {
        for (n, _) in self.lock().values() {
            n.notify_waiters();
        }
    }

    /// How many jobs are followed right now.
    pub fn followed_jobs(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::Wakers;

    #[tokio::test]
    async fn a_log_wake_reaches_that_jobs_follows_only() {
        let w = Wakers::default();
        let one = w.follow_log(1);
        let two = w.follow_log(2);
        {
            let a = one.notified();
            let b = two.notified();
            tokio::pin!(a, b);
            a.as_mut().enable();
            b.as_mut().enable();
            w.wake_log(1);
            a.await;
            assert!(futures_util::poll!(b.as_mut()).is_pending());
        }
        drop(one);
        assert_eq!(w.followed_jobs(), 1);
        drop(two);
        assert_eq!(w.followed_jobs(), 0);
    }
}
