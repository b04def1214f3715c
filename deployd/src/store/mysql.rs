//! MySQL/MariaDB (the estate's database), for several deployd replicas sharing one
//! database. Sessions run READ COMMITTED; claims and the sweeper lock rows with
//! `FOR UPDATE SKIP LOCKED`; one active job per app is a unique index on a generated column;
//! there is no LISTEN/NOTIFY, so each replica polls the jobs changed lately (indexed on
//! `updated_at`) and reports them as its change feed.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySqlPool, Pool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::dialect::{Dialect, MYSQL, Spelling};
use super::estate::{self, Import};
use super::sql::SqlStore;
use super::{Change, Policy, redact_url, scrub_password};
use crate::settings::DatabaseSettings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");

/// How far back the change poll looks before the newest change it saw: a transaction that
/// commits up to this long after it took its timestamp is still seen.
const POLL_LOOKBACK_MS: i64 = 3_000;
/// More changed jobs than this in one look: wake everything rather than track each.
const POLL_MAX_ROWS: i64 = 20_000;

pub struct Mysql {
    poll: Duration,
    /// Where the estate's tables were put aside (`[database] estate_suffix`).
    estate_suffix: String,
}

impl Dialect for Mysql {
    type Db = sqlx::MySql;
    const SPELLING: Spelling = MYSQL;

    fn change_feed(
        &self,
        pool: &Pool<sqlx::MySql>,
        shutdown: CancellationToken,
    ) -> Option<mpsc::Receiver<Change>> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(poll_changes(pool.clone(), self.poll, tx, shutdown));
        Some(rx)
    }

    fn estate_job<'a>(
        &'a self,
        pool: &'a Pool<sqlx::MySql>,
        id: &'a str,
    ) -> futures_util::future::BoxFuture<'a, sqlx::Result<estate::EstateJob>> {
        Box::pin(estate::job(pool, &self.estate_suffix, id))
    }
}

pub async fn open(
    url: &str,
    policy: Policy,
    db: &DatabaseSettings,
) -> anyhow::Result<SqlStore<Mysql>> {
    let pool = connect(url, db).await?;
    let report = prepare(&pool, url, db, Import::Once).await?;
    if let Some(i) = &report.imported {
        tracing::warn!(
            nodes = i.nodes.copied,
            placements = i.placements.copied,
            app_runs = i.app_runs.copied,
            jobs = i.jobs,
            unfinished = i.unfinished.len(),
            "imported the estate's tables: {}",
            report.to_string().trim_end().replace('\n', "; ")
        );
    } else if let Some(before) = &report.imported_before {
        tracing::info!("the estate's tables were imported before ({before}): nothing to do");
    }
    let dialect = Mysql {
        poll: Duration::from_millis(db.change_poll_ms),
        estate_suffix: db.estate_suffix.clone(),
    };
    Ok(SqlStore::new(
        pool,
        db.max_connections as usize,
        dialect,
        policy,
    ))
}

/// `deployd import-estate`: puts the estate's tables aside if they hold deployd's names,
/// migrates, and copies what deployd's tables lack; answers what it did.
pub async fn import_estate(url: &str, db: &DatabaseSettings) -> anyhow::Result<estate::Report> {
    let pool = connect(url, db).await?;
    let report = prepare(&pool, url, db, Import::Always).await;
    pool.close().await;
    report
}

/// `deployd import-estate --rollback-sql`: the statements that undo the move on this database.
pub async fn estate_rollback_sql(url: &str, db: &DatabaseSettings) -> anyhow::Result<String> {
    let pool = connect(url, db).await?;
    let sql = estate::rollback_sql(&pool, &MIGRATOR, &db.estate_suffix).await;
    pool.close().await;
    sql.map_err(|e| anyhow::anyhow!("{}", scrub_password(&e.to_string(), url)))
}

/// The estate's tables put aside if they hold deployd's names, deployd's migrations, and
/// the import `import` asks for.
async fn prepare(
    pool: &MySqlPool,
    url: &str,
    db: &DatabaseSettings,
    import: Import,
) -> anyhow::Result<estate::Report> {
    let shown = redact_url(url);
    estate::prepare(pool, &MIGRATOR, &db.estate_suffix, import)
        .await
        .map_err(|e| {
            let what = match e {
                estate::EstateError::Migrate(_) => "migrate",
                _ => "prepare",
            };
            anyhow::anyhow!(
                "cannot {what} MySQL database {shown}: {}",
                scrub_password(&e.to_string(), url)
            )
        })
}

async fn connect(url: &str, db: &DatabaseSettings) -> anyhow::Result<MySqlPool> {
    let shown = redact_url(url);
    let normalized = match url.split_once("://") {
        Some((_, rest)) => format!("mysql://{rest}"),
        None => url.to_string(),
    };
    let options = MySqlConnectOptions::from_str(&normalized).map_err(|e| {
        anyhow::anyhow!(
            "database_url {shown} is not a MySQL URL: {}",
            scrub_password(&e.to_string(), url)
        )
    })?;
    MySqlPoolOptions::new()
        .max_connections(db.max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Each statement sees what others committed before it: the per-user limit
                // read after its lock row, and claims that skip locked rows, rely on it.
                sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| super::connect_error("MySQL", &shown, &e, url))
}

/// The state of one job as the change poll compares it.
type Seen = (i64, String, i64);

/// Polls the jobs changed lately until `shutdown`: a job new or different since the last
/// look is a change (and, if it is pending, a claimable one). The look covers a few seconds
/// before the newest change seen, so a transaction that committed after a later one is
/// still found; jobs already seen unchanged are not reported again.
async fn poll_changes(
    pool: MySqlPool,
    every: Duration,
    tx: mpsc::Sender<Change>,
    shutdown: CancellationToken,
) {
    let mut seen: HashMap<i64, Seen> = HashMap::new();
    let mut newest: Option<i64> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Bounded by this machine's clock too: one replica's clock far ahead must not
        // hide the others' changes.
        let wall = chrono::Utc::now().timestamp_millis();
        let since = newest.map_or(wall, |n| n.min(wall)) - POLL_LOOKBACK_MS;
        let rows: Result<Vec<(i64, i64, String, i64)>, sqlx::Error> = sqlx::query_as(
            "SELECT id, updated_at, status, log_received FROM fun_ai_deploy_job \
             WHERE updated_at >= ? ORDER BY updated_at LIMIT ?",
        )
        .bind(since)
        .bind(POLL_MAX_ROWS + 1)
        .fetch_all(&pool)
        .await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "change feed: cannot poll MySQL; retrying");
                }
                failing = true;
                continue;
            }
        };
        let mut created = 0u32;
        let mut logs = Vec::new();
        let lost_track = failing || rows.len() as i64 > POLL_MAX_ROWS;
        failing = false;
        for (id, updated_at, status, log_received) in rows {
            newest = Some(newest.map_or(updated_at, |n| n.max(updated_at)));
            let pending = status == "PENDING";
            let now_seen = (updated_at, status, log_received);
            if seen.get(&id) != Some(&now_seen) {
                logs.push(id);
                created += u32::from(pending);
                seen.insert(id, now_seen);
            }
        }
        seen.retain(|_, s| s.0 >= since);
        let mut changes = Vec::new();
        if lost_track {
            changes.push(Change::Everything);
        } else {
            if created > 0 {
                changes.push(Change::Created(created));
            }
            if !logs.is_empty() {
                changes.push(Change::Logs(logs));
            }
        }
        for change in changes {
            if tx.send(change).await.is_err() {
                return;
            }
        }
    }
}
