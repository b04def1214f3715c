//! PostgreSQL, for several deployd replicas sharing one database. Claims and the sweeper
//! lock rows with `FOR UPDATE SKIP LOCKED`; one active job per app is a partial unique
//! index; each write that may wake a long-poll elsewhere sends `NOTIFY`, delivered at
//! commit, and every replica `LISTEN`s (the change feed).

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, Pool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dialect::{Dialect, POSTGRES, Spelling};
use super::sql::SqlStore;
use super::{Change, Policy, redact_url, scrub_password};
use crate::settings::DatabaseSettings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The channel every replica listens on; the payload is `<replica>:jobs`, `<replica>:created:<n>`,
/// `<replica>:logs:<id>,<id>…` or `<replica>:logs` (any job's).
const CHANNEL: &str = "fun_ai_deploy_changes";

pub struct Postgres {
    options: PgConnectOptions,
    /// Tells this replica's notifications from the others'.
    replica: String,
}

impl Dialect for Postgres {
    type Db = sqlx::Postgres;
    const SPELLING: Spelling = POSTGRES;
    const UPDATE_RETURNING: bool = true;
    const ONE_STATEMENT_WRITES: bool = true;

    fn notify<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        change: Change,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let payload = match change {
            Change::Jobs | Change::Everything => format!("{}:jobs", self.replica),
            Change::Created(n) => format!("{}:created:{n}", self.replica),
            // A NOTIFY payload holds under 8,000 bytes: many jobs are sent as "any job".
            Change::Logs(ids) if ids.is_empty() || ids.len() > 256 => {
                format!("{}:logs", self.replica)
            }
            Change::Logs(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("{}:logs:{}", self.replica, ids.join(","))
            }
        };
        Box::pin(async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(payload)
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    fn change_feed(
        &self,
        _pool: &Pool<sqlx::Postgres>,
        shutdown: CancellationToken,
    ) -> Option<mpsc::Receiver<Change>> {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(listen(
            self.options.clone(),
            self.replica.clone(),
            tx,
            shutdown,
        ));
        Some(rx)
    }
}

pub async fn open(
    url: &str,
    policy: Policy,
    db: &DatabaseSettings,
) -> anyhow::Result<SqlStore<Postgres>> {
    let shown = redact_url(url);
    let normalized = match url.split_once("://") {
        Some((_, rest)) => format!("postgres://{rest}"),
        None => url.to_string(),
    };
    let options = PgConnectOptions::from_str(&normalized).map_err(|e| {
        anyhow::anyhow!(
            "database_url {shown} is not a PostgreSQL URL: {}",
            scrub_password(&e.to_string(), url)
        )
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(db.max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await
        .map_err(|e| super::connect_error("PostgreSQL", &shown, &e, url))?;
    MIGRATOR.run(&pool).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot migrate PostgreSQL database {shown}: {}",
            scrub_password(&e.to_string(), url)
        )
    })?;
    let dialect = Postgres {
        options,
        replica: super::replica_id(),
    };
    Ok(SqlStore::new(
        pool,
        db.max_connections as usize,
        dialect,
        policy,
    ))
}

/// Listens until `shutdown`, reconnecting after a lost connection; what the others changed
/// goes to `tx`, and after a reconnect `Everything` (notifications sent meanwhile are lost).
async fn listen(
    options: PgConnectOptions,
    replica: String,
    tx: mpsc::Sender<Change>,
    shutdown: CancellationToken,
) {
    let mine = format!("{replica}:");
    let mut backoff = Duration::from_millis(100);
    'connect: loop {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options.clone());
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = shutdown.cancelled() => return,
            l = listener => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: cannot listen on PostgreSQL; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue 'connect;
                }
            }
        };
        backoff = Duration::from_millis(100);
        // Anything may have happened before the LISTEN took effect.
        if tx.send(Change::Everything).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = listener.try_recv() => n,
            };
            let change = match next {
                Ok(Some(n)) => {
                    let payload = n.payload();
                    if payload.starts_with(&mine) {
                        continue;
                    }
                    parse_payload(&payload[payload.find(':').map_or(0, |i| i + 1)..])
                }
                // Reconnected: notifications of the gap are lost.
                Ok(None) => Change::Everything,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: PostgreSQL connection lost; reconnecting");
                    drop(listener);
                    pool.close().await;
                    if tx.send(Change::Everything).await.is_err() {
                        return;
                    }
                    continue 'connect;
                }
            };
            if tx.send(change).await.is_err() {
                return;
            }
        }
    }
}

/// What another replica's notification (its replica id taken off) says changed; anything
/// unreadable is taken as "anything may have changed".
fn parse_payload(p: &str) -> Change {
    if p == "jobs" {
        return Change::Jobs;
    }
    if let Some(n) = p.strip_prefix("created:") {
        return n.parse().map_or(Change::Everything, Change::Created);
    }
    if p == "logs" {
        return Change::Logs(Vec::new());
    }
    let Some(ids) = p.strip_prefix("logs:") else {
        return Change::Everything;
    };
    let parsed: Result<Vec<i64>, _> = ids.split(',').map(str::parse).collect();
    match parsed {
        Ok(ids) => Change::Logs(ids),
        Err(_) => Change::Everything,
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, parse_payload};

    #[test]
    fn notifications_name_the_jobs_they_concern() {
        assert_eq!(parse_payload("jobs"), Change::Jobs);
        assert_eq!(parse_payload("created:2"), Change::Created(2));
        assert_eq!(parse_payload("logs:3,17"), Change::Logs(vec![3, 17]));
        assert_eq!(parse_payload("logs"), Change::Logs(vec![]));
        assert_eq!(parse_payload("logs:x"), Change::Everything);
        assert_eq!(parse_payload("what"), Change::Everything);
    }
}
