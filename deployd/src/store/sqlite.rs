//! SQLite: one file, zero setup, one deployd. Writes are serialised in-process and run as
//! `BEGIN IMMEDIATE` transactions, so a claim is atomic even with another process on the file.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::Policy;
use super::dialect::{Dialect, SQLITE, Spelling};
use super::direct::Direct;
use super::sql::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct Sqlite;

impl Dialect for Sqlite {
    type Db = sqlx::Sqlite;
    const SPELLING: Spelling = SQLITE;
    const BEGIN: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const ONE_WRITER: bool = true;
    const UPDATE_RETURNING: bool = true;
}

pub async fn open(url: &str, policy: Policy) -> anyhow::Result<SqlStore<Sqlite>> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("database_url {url:?} is not a SQLite URL: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(15))
        .foreign_keys(true);
    // The database file, unless the database is in memory (one connection's own).
    let file = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.starts_with(":memory:") && !url.contains("mode=memory"));
    if let Some(path) = file
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the database directory {}: {e}",
                parent.display()
            )
        })?;
    }
    // A file in this process cannot go away under a connection: no ping before each use
    // (a round trip to the connection's worker thread). The store keeps its connections
    // between uses itself (held.rs); the pool opens them.
    let pool = SqlitePoolOptions::new()
        .max_connections(9)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open SQLite database {url}: {e}"))?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate SQLite database {url}: {e}"))?;
    let store = SqlStore::new(pool, 8, Sqlite, policy);
    Ok(match file {
        Some(path) => store.with_direct(Direct::open(path)?),
        None => store,
    })
}
