//! Connections the store keeps between uses itself, rather than handing them back to
//! sqlx's pool after every statement: the pool tests a connection with a round trip each
//! time it is given back (and by default each time it is taken), which for a one-statement
//! write doubles its cost. Here a connection is tested only when it has been idle a while,
//! or after a connection-level failure anywhere in the process; a SQLite connection (a
//! file in this process) never is.
//!
//! A connection on which a transaction may be open goes back to the idle list only once
//! COMMIT or ROLLBACK answered. A transaction ([`Tx`]) that ends any other way drops its
//! connection (closing it ends the transaction in the engine): an early return, an error,
//! or the caller's future dropped while a statement ran (a runner that hung up on its
//! claim, a task aborted at shutdown), even while BEGIN itself was still on its way. No
//! connection is reused in an unknown state.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, Pool};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::dialect::{Arg, Conn, Dialect, Engine, Rowed, joined, written_together};
use super::{StoreError, StoreResult};

/// Connection-level failures (I/O, protocol, a crashed worker) seen so far in this process:
/// a connection last checked before the latest one is tested again before use.
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// Counts `e` if it is about the connection rather than the statement.
pub fn note_failure(e: &sqlx::Error) {
    if !matches!(
        e,
        sqlx::Error::Database(_)
            | sqlx::Error::RowNotFound
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_)
    ) {
        FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection idle longer than this is tested before use (server engines).
const IDLE_TEST_AFTER: Duration = Duration::from_secs(10);

struct Idle<C> {
    conn: C,
    since: Instant,
    failures: u64,
}

pub struct Conns<D: Dialect> {
    pool: Pool<D::Db>,
    idle: Mutex<Vec<Idle<Conn<D>>>>,
    permits: Semaphore,
    /// Test connections before reuse (not SQLite).
    test: bool,
}

/// A connection taken from [`Conns`]; given back when dropped.
pub struct Held<'a, D: Dialect> {
    conn: Option<Conn<D>>,
    /// BEGIN was sent and no COMMIT or ROLLBACK has answered since: when dropped, the
    /// connection is closed rather than kept.
    in_tx: bool,
    home: &'a Conns<D>,
    _permit: SemaphorePermit<'a>,
}

/// A write transaction on a held connection.
pub struct Tx<'a, D: Dialect> {
    held: Held<'a, D>,
}

impl<D: Dialect> Conns<D> {
    pub fn new(pool: Pool<D::Db>, max: usize, test: bool) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max),
            test,
        }
    }

    pub fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    fn take_idle(&self) -> Option<Idle<Conn<D>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    pub async fn get(&self) -> StoreResult<Held<'_, D>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolClosed))?;
        let conn = loop {
            let Some(mut idle) = self.take_idle() else {
                break self.pool.acquire().await?.detach();
            };
            let suspect = self.test
                && (idle.since.elapsed() > IDLE_TEST_AFTER
                    || idle.failures != FAILURES.load(Ordering::Relaxed));
            if !suspect || idle.conn.ping().await.is_ok() {
                break idle.conn;
            }
        };
        Ok(Held {
            conn: Some(conn),
            in_tx: false,
            home: self,
            _permit: permit,
        })
    }

    /// A connection about to be sent BEGIN: from here until COMMIT or ROLLBACK answers,
    /// dropping it closes it.
    async fn get_for_tx(&self) -> StoreResult<Held<'_, D>> {
        let mut held = self.get().await?;
        held.in_tx = true;
        Ok(held)
    }

    /// Opens a write transaction (`BEGIN`, or the dialect's own statement).
    pub async fn begin(&self) -> StoreResult<Tx<'_, D>> {
        let mut held = self.get_for_tx().await?;
        D::Db::execute(&mut held, begin_statement::<D>(), &[])
            .await
            .map_err(noted)?;
        Ok(Tx { held })
    }

    /// Opens a write transaction and reads one row with its first statement (in the same
    /// call where the engine joins statements).
    pub async fn begin_then_one<T: Rowed>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<(Tx<'_, D>, Option<T>)> {
        if !D::Db::JOINS {
            let mut tx = self.begin().await?;
            let row = D::Db::fetch_optional(&mut tx, D::SPELLING.sql(sql), args)
                .await
                .map_err(noted)?;
            return Ok((tx, row));
        }
        let mut held = self.get_for_tx().await?;
        let both = joined(&[begin_statement::<D>(), D::SPELLING.sql(sql)]);
        let row = D::Db::fetch_optional(&mut held, both, args)
            .await
            .map_err(noted)?;
        Ok((Tx { held }, row))
    }

    /// Opens a write transaction and reads rows with its first statement (in the same
    /// call where the engine joins statements).
    pub async fn begin_then_all<T: Rowed>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<(Tx<'_, D>, Vec<T>)> {
        if !D::Db::JOINS {
            let mut tx = self.begin().await?;
            let rows = D::Db::fetch_all(&mut tx, D::SPELLING.sql(sql), args)
                .await
                .map_err(noted)?;
            return Ok((tx, rows));
        }
        let mut held = self.get_for_tx().await?;
        let both = joined(&[begin_statement::<D>(), D::SPELLING.sql(sql)]);
        let rows = D::Db::fetch_all(&mut held, both, args)
            .await
            .map_err(noted)?;
        Ok((Tx { held }, rows))
    }

    /// Opens a write transaction whose first statement is a write; answers its rows
    /// affected.
    pub async fn begin_then_exec(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<(Tx<'_, D>, u64)> {
        if !D::Db::JOINS {
            let mut tx = self.begin().await?;
            let n = D::Db::execute(&mut tx, D::SPELLING.sql(sql), args)
                .await
                .map_err(noted)?;
            return Ok((tx, n));
        }
        let mut held = self.get_for_tx().await?;
        let both = joined(&[begin_statement::<D>(), D::SPELLING.sql(sql)]);
        let counts = D::Db::execute_each(&mut held, both, args)
            .await
            .map_err(noted)?;
        let n = counts.last().map_or(0, |(n, _)| *n);
        Ok((Tx { held }, n))
    }
}

/// `stmts` (neutral spelling) ending in COMMIT, as one joined statement string (see
/// [`joined`]), with the statements' values in order.
fn joined_to_commit<'a, D: Dialect>(
    stmts: impl Iterator<Item = (&'static str, &'a [Arg<'a>])> + Clone,
) -> (&'static str, Vec<Arg<'a>>) {
    let mut parts = Vec::new();
    parts.extend(stmts.clone().map(|(sql, _)| D::SPELLING.sql(sql)));
    parts.push("COMMIT");
    let args = stmts.flat_map(|(_, a)| a.iter().copied()).collect();
    (joined(&parts), args)
}

/// Rows affected as each statement expects, checked once the statements ran where they
/// cannot miss (a joined call that committed, see [`Tx::commit_with`], or SQLite's busy
/// writes, `direct.rs`).
pub(super) fn expected_after_commit(
    stmts: &[(&'static str, &[Arg<'_>], Option<u64>)],
    counts: Vec<u64>,
) -> StoreResult<Vec<u64>> {
    for ((_, _, expect), n) in stmts.iter().zip(&counts) {
        if expect.is_some_and(|e| e != *n) {
            return Err(StoreError::Corrupt(format!(
                "{n} rows changed where {expect:?} were expected"
            )));
        }
    }
    Ok(counts)
}

/// A statement of a transaction changed other than the rows it expected.
fn changed_under(n: u64, expect: Option<u64>) -> StoreError {
    StoreError::Conflict(format!(
        "a row changed under this transaction ({n} rows where {expect:?} were expected); try again"
    ))
}

/// `e` as the store's error, counted first if it is about the connection.
pub(super) fn noted(e: sqlx::Error) -> StoreError {
    note_failure(&e);
    e.into()
}

/// The statement that opens a write transaction on this engine.
fn begin_statement<D: Dialect>() -> &'static str {
    D::BEGIN.unwrap_or("BEGIN")
}

impl<D: Dialect> Drop for Held<'_, D> {
    fn drop(&mut self) {
        if self.in_tx {
            // A transaction may be open, or a statement interrupted: closing the
            // connection ends it.
            return;
        }
        if let Some(conn) = self.conn.take() {
            self.home
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Idle {
                    conn,
                    since: Instant::now(),
                    failures: FAILURES.load(Ordering::Relaxed),
                });
        }
    }
}

impl<D: Dialect> Deref for Held<'_, D> {
    type Target = Conn<D>;
    fn deref(&self) -> &Conn<D> {
        self.conn.as_ref().unwrap_or_else(|| unreachable!("held"))
    }
}

impl<D: Dialect> DerefMut for Held<'_, D> {
    fn deref_mut(&mut self) -> &mut Conn<D> {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("held"))
    }
}

impl<D: Dialect> Tx<'_, D> {
    async fn end(mut self, statement: &'static str) -> StoreResult<()> {
        match D::Db::execute(&mut self.held, statement, &[]).await {
            Ok(_) => {
                self.held.in_tx = false;
                Ok(())
            }
            Err(e) => Err(noted(e)),
        }
    }

    pub async fn commit(self) -> StoreResult<()> {
        self.end("COMMIT").await
    }

    /// Runs `stmts` (neutral spelling; each touching rows no other one does) and commits:
    /// in one call where the engine joins statements; as one statement and COMMIT where a
    /// `WITH` may write ([`written_together`]); else one by one. A statement whose rows
    /// affected differ from the `Some` it expects ends the transaction without COMMIT.
    /// Answers each statement's rows affected. Where statements are joined, an expectation
    /// is checked after the commit: only statements that cannot miss there (one writer
    /// holds the whole database) may carry one.
    pub async fn commit_with(
        mut self,
        stmts: &[(&'static str, &[Arg<'_>], Option<u64>)],
    ) -> StoreResult<Vec<u64>> {
        if !D::Db::JOINS && D::ONE_STATEMENT_WRITES && stmts.len() > 1 {
            let parts: Vec<&'static str> = stmts.iter().map(|(sql, _, _)| *sql).collect();
            let args: Vec<Arg<'_>> = stmts
                .iter()
                .flat_map(|(_, a, _)| a.iter().copied())
                .collect();
            let rows = D::Db::fetch_all::<(i64, i64)>(
                &mut self.held,
                written_together(&D::SPELLING, &parts),
                &args,
            )
            .await
            .map_err(noted)?;
            let mut counts = vec![0u64; stmts.len()];
            for (i, n) in rows {
                if let Some(c) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
                    *c = u64::try_from(n).unwrap_or(0);
                }
            }
            for ((_, _, expect), n) in stmts.iter().zip(&counts) {
                if expect.is_some_and(|e| e != *n) {
                    return Err(changed_under(*n, *expect));
                }
            }
            self.end("COMMIT").await?;
            return Ok(counts);
        }
        if !D::Db::JOINS {
            let mut counts = Vec::with_capacity(stmts.len());
            for (sql, args, expect) in stmts {
                let n = D::Db::execute(&mut self.held, D::SPELLING.sql(sql), args)
                    .await
                    .map_err(noted)?;
                if expect.is_some_and(|e| e != n) {
                    return Err(changed_under(n, *expect));
                }
                counts.push(n);
            }
            self.end("COMMIT").await?;
            return Ok(counts);
        }
        let (sql, args) = joined_to_commit::<D>(stmts.iter().map(|(s, a, _)| (*s, *a)));
        let counts = D::Db::execute_each(&mut self.held, sql, &args)
            .await
            .map_err(noted)?;
        self.held.in_tx = false;
        let counts = counts
            .into_iter()
            .take(stmts.len())
            .map(|(n, _)| n)
            .collect();
        expected_after_commit(stmts, counts)
    }

    pub async fn rollback(self) -> StoreResult<()> {
        self.end("ROLLBACK").await
    }
}

impl<D: Dialect> Deref for Tx<'_, D> {
    type Target = Conn<D>;
    fn deref(&self) -> &Conn<D> {
        &self.held
    }
}

impl<D: Dialect> DerefMut for Tx<'_, D> {
    fn deref_mut(&mut self) -> &mut Conn<D> {
        &mut self.held
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::task::{Context, Poll, Waker};

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;
    use crate::store::sqlite::Sqlite;

    /// A caller that goes away while its BEGIN waits for the write lock (a runner that hung
    /// up on its claim) must not leave that BEGIN to open a transaction on a connection the
    /// next caller is handed.
    #[tokio::test]
    async fn a_transaction_whose_caller_went_away_is_not_handed_to_the_next_caller() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/held.db", dir.path().display());
        let opts = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(15));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .expect("open");
        let conns = Conns::<Sqlite>::new(pool.clone(), 1, false);
        drop(conns.get().await.expect("a connection to keep"));

        // Another connection holds the write lock, so the next BEGIN IMMEDIATE waits.
        let mut other = pool.acquire().await.expect("other");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *other)
            .await
            .expect("lock");
        {
            let mut begin = std::pin::pin!(conns.begin());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(
                matches!(begin.as_mut().poll(&mut cx), Poll::Pending),
                "BEGIN must wait for the lock another connection holds"
            );
        }
        sqlx::query("ROLLBACK")
            .execute(&mut *other)
            .await
            .expect("unlock");

        let tx = conns.begin().await.expect("a fresh transaction");
        tx.commit().await.expect("commit");
    }
}
