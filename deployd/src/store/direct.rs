//! SQLite's busy writes (create, claim, job heartbeat, log append, report) run on the
//! thread that holds the write lock, on a connection of their own, from `BEGIN IMMEDIATE`
//! to `COMMIT` without a pause: sqlx runs each SQLite connection on a thread of its own and
//! every statement is a trip to it and back, so a write held the database's one writer
//! for those trips and for the wait to be resumed after each (230 µs a write with 16
//! runners, against some 20 µs of SQLite). The statements are those of `sql.rs`, spelled
//! for SQLite; the rules are those of `rows.rs`. Everything else, reads included, stays on
//! sqlx's connections: in WAL mode they read beside this writer.

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, Transaction, TransactionBehavior};

use super::dialect::{Arg, Dialect};
use super::held::expected_after_commit;
use super::rows::{AppRunRow, ChosenNode, JobRow, RunBeside};
use super::sqlite::Sqlite;
use super::{StoreError, StoreResult};

pub struct Direct {
    conn: Mutex<Connection>,
    /// A second connection for the read every create makes (what deployd knows of the app).
    read: Mutex<Connection>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Direct")
    }
}

impl Direct {
    /// The database file sqlx opened and migrated, opened once more for the busy writes,
    /// with the same settings.
    pub fn open(path: &str) -> anyhow::Result<Self> {
        let open = || -> anyhow::Result<Connection> {
            let conn = Connection::open(path)
                .map_err(|e| anyhow::anyhow!("cannot open SQLite database {path}: {e}"))?;
            conn.busy_timeout(Duration::from_secs(15))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.set_prepared_statement_cache_capacity(64);
            Ok(conn)
        };
        Ok(Self {
            conn: Mutex::new(open()?),
            read: Mutex::new(open()?),
        })
    }

    /// Runs the reads of `f` on the second connection (in WAL mode, beside any write).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        f(&self.read.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` in one write transaction: committed if it answers `Ok`, rolled back if not.
    /// The caller holds the store's write lock.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// A statement of `sql.rs` (neutral spelling) with its values: rows changed.
pub fn exec(tx: &Connection, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<u64> {
    let mut stmt = tx.prepare_cached(Sqlite::SPELLING.sql(sql))?;
    let n = stmt.execute(rusqlite::params_from_iter(args.iter()))?;
    Ok(n as u64)
}

/// The writes that end a transaction, each expecting the rows changed its `Some` says (the
/// one writer holds the database: they cannot miss); the caller commits.
pub fn write_all(
    tx: &Connection,
    stmts: &[(&'static str, &[Arg<'_>], Option<u64>)],
) -> StoreResult<()> {
    let counts = stmts
        .iter()
        .map(|(sql, values, _)| exec(tx, sql, values))
        .collect::<StoreResult<Vec<u64>>>()?;
    expected_after_commit(stmts, counts).map(drop)
}

/// The first row of a read, decoded by `f`.
pub fn one<T>(
    tx: &Connection,
    sql: &'static str,
    args: &[Arg<'_>],
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = tx.prepare_cached(Sqlite::SPELLING.sql(sql))?;
    Ok(stmt
        .query_row(rusqlite::params_from_iter(args.iter()), f)
        .optional()?)
}

/// Every row of a read, decoded by `f`.
pub fn all<T>(
    tx: &Connection,
    sql: &'static str,
    args: &[Arg<'_>],
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = tx.prepare_cached(Sqlite::SPELLING.sql(sql))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), f)?;
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

/// The insert met a unique index (one active job per app).
pub fn is_unique_violation(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Int(Some(v)) => ValueRef::Integer(v),
            Arg::Real(v) => ValueRef::Real(v),
            Arg::Text(Some(v)) => ValueRef::Text(v.as_bytes()),
            Arg::Bytes(v) => ValueRef::Blob(v),
            Arg::Int(None) | Arg::Text(None) => ValueRef::Null,
        }))
    }
}

/// A job row, by its column names (`SELECT *` or `j.*`).
pub fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get("id")?,
        status: r.get("status")?,
        app_id: r.get("app_id")?,
        user_id: r.get("user_id")?,
        payload_json: r.get("payload_json")?,
        runner_id: r.get("runner_id")?,
        lease_expire_at: r.get("lease_expire_at")?,
        attempt: r.get("attempt")?,
        max_attempts: r.get("max_attempts")?,
        phase: r.get("phase")?,
        phase_message: r.get("phase_message")?,
        error_message: r.get("error_message")?,
        error_code: r.get("error_code")?,
        image: r.get("image")?,
        commit_sha: r.get("commit_sha")?,
        runtime_node: r.get("runtime_node")?,
        deploy_url: r.get("deploy_url")?,
        cancel_requested: r.get("cancel_requested")?,
        log_stored: r.get("log_stored")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
    })
}

/// A node named by three columns of a row, if the row has one there.
pub fn node_at(r: &Row<'_>, names: [&str; 3]) -> rusqlite::Result<Option<ChosenNode>> {
    let [n, a, g] = names;
    let (n, a, g): (Option<String>, Option<String>, Option<String>) =
        (r.get(n)?, r.get(a)?, r.get(g)?);
    Ok(match (n, a, g) {
        (Some(node_name), Some(agent_base_url), Some(gateway_base_url)) => Some(ChosenNode {
            node_name,
            agent_base_url,
            gateway_base_url,
        }),
        _ => None,
    })
}

/// The app run read beside a job (`run_` columns), if the app has one.
pub fn run_beside(r: &Row<'_>) -> rusqlite::Result<Option<AppRunRow>> {
    Ok(RunBeside {
        run_app_id: r.get("run_app_id")?,
        run_user_id: r.get("run_user_id")?,
        run_node_name: r.get("run_node_name")?,
        run_last_job_id: r.get("run_last_job_id")?,
        run_last_job_status: r.get("run_last_job_status")?,
        run_status: r.get("run_status")?,
        run_image: r.get("run_image")?,
        run_commit_sha: r.get("run_commit_sha")?,
        run_deploy_url: r.get("run_deploy_url")?,
        run_error_message: r.get("run_error_message")?,
        run_recent_images_json: r.get("run_recent_images_json")?,
        run_updated_at: r.get("run_updated_at")?,
        run_serving_node: r.get("run_serving_node")?,
    }
    .into_run())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dialect::args;

    /// Each kind of value goes in and comes back as given; a write that fails leaves
    /// nothing of its transaction behind; the unique index's refusal (one active job per
    /// app) is told apart from other failures.
    #[test]
    fn values_round_trip_a_failed_write_leaves_nothing_and_a_unique_refusal_is_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("direct.db");
        let d = Direct::open(path.to_str().expect("path")).expect("open");
        d.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE t (k TEXT NOT NULL UNIQUE, i INTEGER, r REAL, b BLOB, n TEXT)",
            )?;
            Ok(())
        })
        .expect("table");
        const INSERT: &str = "INSERT INTO t (k, i, r, b, n) VALUES (?, ?, ?, ?, ?)";
        let none: Option<&str> = None;
        d.write(|tx| exec(tx, INSERT, args!["a", 7i64, 1.5f64, &b"\0\x01"[..], none]))
            .expect("insert");

        let refused = d
            .write(|tx| {
                exec(tx, INSERT, args!["b", 8i64, 0.0f64, &b""[..], "x"])?;
                exec(tx, INSERT, args!["a", 9i64, 0.0f64, &b""[..], none])
            })
            .expect_err("a second row with key a");
        assert!(is_unique_violation(&refused), "{refused}");
        let other = d
            .write(|tx| exec(tx, INSERT, args![none, 1i64, 0.0f64, &b""[..], none]))
            .expect_err("a row without its key");
        assert!(!is_unique_violation(&other), "{other}");

        type Read = (String, i64, f64, Vec<u8>, Option<String>);
        let rows: Vec<Read> = d
            .read(|c| {
                all(c, "SELECT k, i, r, b, n FROM t ORDER BY k", args![], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
            })
            .expect("read");
        assert_eq!(rows, vec![("a".to_string(), 7, 1.5, vec![0, 1], None)]);
    }
}
