//! The thread SQLite's busy writes run on.
//!
//! On SQLite one write at a time holds the database (the store's write lock), and a write
//! is one or two calls to its connection's thread. Between those calls the write waits to
//! be resumed; on the runtime's workers it waits behind whatever HTTP work is queued there,
//! holding the database all the while (measured: about 230 µs per write held, 80 % of the
//! wall time under a 16-runner lifecycle). On this thread nothing else is queued: the write
//! is resumed as soon as its answer arrives, and the next one starts sooner.
//!
//! A write handed here runs to its end even when its caller stops waiting, as one whose
//! answer is lost on the way would (a claim's lease then runs out and the sweeper takes the
//! job back).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Handle;
use tracing::Instrument;

use super::{StoreError, StoreResult};

/// The writer thread's runtime, started on first use; `None` if it could not start (writes
/// then run where they are called).
fn writer() -> Option<&'static Handle> {
    static WRITER: OnceLock<Option<Handle>> = OnceLock::new();
    WRITER.get_or_init(start).as_ref()
}

fn start() -> Option<Handle> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("deployd-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let _ = tx.send(Some(rt.handle().clone()));
                    rt.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no writer thread: SQLite writes run on the workers");
                    let _ = tx.send(None);
                }
            }
        });
    match spawned {
        Ok(_) => rx.recv().ok().flatten(),
        Err(e) => {
            tracing::warn!(error = %e, "no writer thread: SQLite writes run on the workers");
            None
        }
    }
}

/// Runs `write` on the writer thread and answers what it answered; a panic there is a
/// panic here.
pub async fn run<T, F>(write: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: Future<Output = StoreResult<T>> + Send + 'static,
{
    let Some(writer) = writer() else {
        return write.await;
    };
    match writer.spawn(write.in_current_span()).await {
        Ok(answer) => answer,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Db(sqlx::Error::WorkerCrashed)),
    }
}
