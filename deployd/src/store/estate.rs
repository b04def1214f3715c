//! The deploy tables of the service deployd replaces, found on the estate's MySQL/MariaDB
//! database under deployd's own table names: put aside under a suffix in one `RENAME TABLE`
//! (rows untouched), then deployd's migrations, then what deployd can use copied into its
//! own tables. The estate's jobs stay in their table and are answered read-only by id.
//!
//! Replicas starting at once: detection, rename, migrations and the import on first start
//! run under one named lock (`GET_LOCK`), so the first replica does them and the others
//! find them done.

use std::collections::{HashMap, HashSet};
use std::fmt;

use futures_util::TryStreamExt;
use protocol::job::JobStatus;
use serde_json::{Value, json};
use sqlx::migrate::Migrator;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, MySqlPool, Row};

/// The lock that makes one replica do the detection, rename, migrations and first import:
/// one per database (named locks are the server's), as sqlx names its migration lock.
const LOCK: &str = "CONCAT('funai_deployd_estate_', CRC32(DATABASE()))";
/// How long a replica waits for another's rename, migrations and import.
const LOCK_WAIT_SECONDS: i64 = 600;
/// The audit action of an import; its presence tells a later start the import was done.
pub const AUDIT_ACTION: &str = "estate.import";

/// The estate's tables deployd reads after the rename (their names without the suffix).
pub const JOBS: &str = "fun_ai_deploy_job";
const NODES: &str = "fun_ai_deploy_runtime_node";
const PLACEMENTS: &str = "fun_ai_deploy_runtime_placement";
const APP_RUNS: &str = "fun_ai_deploy_app_run";

#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// When the estate's rows are copied into deployd's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import {
    /// On start: only when no import was recorded yet (a row deployd removed since, say a
    /// purged app, is not brought back by a restart).
    Once,
    /// `deployd import-estate`: every time, copying what deployd's tables lack.
    Always,
}

/// Refuses a suffix that is not a plain identifier part, or that would make a table name
/// longer than MySQL allows (64).
pub fn check_suffix(suffix: &str) -> Result<(), String> {
    let longest = "fun_ai_deploy_runtime_placement".len();
    if suffix.is_empty() || suffix.len() + longest > 64 {
        return Err(format!(
            "database.estate_suffix {suffix:?} must be 1..={} characters",
            64 - longest
        ));
    }
    if !suffix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "database.estate_suffix {suffix:?} may hold only letters, digits and '_'"
        ));
    }
    Ok(())
}

/// The tables deployd's migrations create, in the order they create them.
pub fn migration_tables(migrator: &Migrator) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in migrator.iter() {
        let words: Vec<&str> = m.sql.as_str().split_whitespace().collect();
        for w in words.windows(3) {
            if w[0].eq_ignore_ascii_case("CREATE") && w[1].eq_ignore_ascii_case("TABLE") {
                let name = w[2]
                    .trim_matches(|c: char| c == '`' || c == '"' || c == '(')
                    .to_string();
                if !name.is_empty() && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// What one estate table gave to deployd's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// Rows read from the estate's table.
    pub read: u64,
    /// Rows written into deployd's table.
    pub copied: u64,
    /// Rows deployd's table held already (same key): left as deployd has them.
    pub present: u64,
    /// Rows deployd cannot take, each with the reason.
    pub skipped: Vec<String>,
}

impl Copied {
    fn line(&self, what: &str, from: &str) -> String {
        let mut s = format!(
            "{what}: {} copied, {} already in deployd, {} skipped (of {} in {from})",
            self.copied,
            self.present,
            self.skipped.len(),
            self.read
        );
        for why in self.skipped.iter().take(20) {
            s.push_str(&format!("\n  skipped {why}"));
        }
        if self.skipped.len() > 20 {
            s.push_str(&format!("\n  ... and {} more", self.skipped.len() - 20));
        }
        s
    }
}

/// What an import copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub suffix: String,
    pub nodes: Copied,
    pub placements: Copied,
    pub app_runs: Copied,
    /// The estate's jobs, kept in their table and answered by id.
    pub jobs: u64,
    /// The estate's jobs left PENDING or RUNNING by its service: history, never run.
    pub unfinished: Vec<String>,
}

impl Imported {
    pub fn copied(&self) -> u64 {
        self.nodes.copied + self.placements.copied + self.app_runs.copied
    }

    /// The audit line of this import.
    fn summary(&self) -> String {
        format!(
            "nodes {} copied ({} present, {} skipped), placements {} ({}, {}), app runs {} ({}, {}), jobs {} kept in {JOBS}{} ({} unfinished: history only)",
            self.nodes.copied,
            self.nodes.present,
            self.nodes.skipped.len(),
            self.placements.copied,
            self.placements.present,
            self.placements.skipped.len(),
            self.app_runs.copied,
            self.app_runs.present,
            self.app_runs.skipped.len(),
            self.jobs,
            self.suffix,
            self.unfinished.len()
        )
    }
}

/// What preparing the database did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Tables renamed now, (from, to).
    pub renamed: Vec<(String, String)>,
    /// The estate's tables found under the suffix (renamed now or before).
    pub estate_tables: Vec<String>,
    /// The import run now, if one ran.
    pub imported: Option<Imported>,
    /// An earlier import, as its audit entry says (when the start skipped importing).
    pub imported_before: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.estate_tables.is_empty() {
            return writeln!(
                f,
                "no tables of the estate's service here: nothing to rename or import"
            );
        }
        if self.renamed.is_empty() {
            writeln!(
                f,
                "renamed: nothing (the estate's tables were put aside before: {})",
                self.estate_tables.join(", ")
            )?;
        } else {
            let pairs: Vec<String> = self
                .renamed
                .iter()
                .map(|(a, b)| format!("{a} -> {b}"))
                .collect();
            writeln!(f, "renamed: {}", pairs.join(", "))?;
        }
        if let Some(i) = &self.imported {
            let s = &i.suffix;
            writeln!(f, "{}", i.nodes.line("nodes", &format!("{NODES}{s}")))?;
            writeln!(
                f,
                "{}",
                i.placements.line("placements", &format!("{PLACEMENTS}{s}"))
            )?;
            writeln!(
                f,
                "{}",
                i.app_runs.line("app runs", &format!("{APP_RUNS}{s}"))
            )?;
            writeln!(
                f,
                "jobs: {} kept in {JOBS}{s}, answered read-only by GET /deploy/jobs/{{id}}; {} left unfinished by the estate's service are history, never run{}",
                i.jobs,
                i.unfinished.len(),
                if i.unfinished.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", i.unfinished.join(", "))
                }
            )?;
            if i.copied() == 0 {
                writeln!(
                    f,
                    "nothing new: deployd's tables already hold every estate row they can take"
                )?;
            }
        } else if let Some(before) = &self.imported_before {
            writeln!(f, "imported before ({before}): nothing to do")?;
        }
        Ok(())
    }
}

/// Puts the estate's tables aside if they hold deployd's names, runs deployd's migrations,
/// and imports as `import` says; all under the estate lock.
pub async fn prepare(
    pool: &MySqlPool,
    migrator: &Migrator,
    suffix: &str,
    import: Import,
) -> Result<Report, EstateError> {
    check_suffix(suffix).map_err(EstateError::Refused)?;
    let mut conn = pool.acquire().await?;
    let got: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT GET_LOCK({LOCK}, ?)")))
        .bind(LOCK_WAIT_SECONDS)
        .fetch_one(&mut *conn)
        .await?;
    if got != Some(1) {
        return Err(EstateError::Refused(format!(
            "another deployd has held this database's estate lock for {LOCK_WAIT_SECONDS} s (renaming, migrating or importing the estate's tables): see its log, then start again"
        )));
    }
    let out = prepare_locked(&mut conn, migrator, suffix, import).await;
    // The lock goes with the session too, should this fail.
    let released = sqlx::query(AssertSqlSafe(format!("DO RELEASE_LOCK({LOCK})")))
        .execute(&mut *conn)
        .await;
    let report = out?;
    released?;
    Ok(report)
}

async fn prepare_locked(
    conn: &mut MySqlConnection,
    migrator: &Migrator,
    suffix: &str,
    import: Import,
) -> Result<Report, EstateError> {
    let names = migration_tables(migrator);
    let present: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let recorded = deployd_recorded(conn, migrator, &present).await?;
    let job_is_estates = if present.contains(JOBS) {
        let cols = columns(conn, JOBS).await?;
        !deployd_shaped(&cols)
    } else {
        false
    };
    let taken: Vec<&String> = names.iter().filter(|n| present.contains(*n)).collect();
    let estate_here = job_is_estates || (!recorded && !present.contains(JOBS) && !taken.is_empty());
    let mut report = Report::default();
    if job_is_estates && recorded {
        return Err(EstateError::Refused(format!(
            "{JOBS} holds the estate's columns (its id is not deployd's), yet _sqlx_migrations records deployd's migrations: \
             deployd's own tables were renamed back or dropped without _sqlx_migrations (a rollback that left it behind); \
             drop _sqlx_migrations (deployd's record) and start again, deployd then puts the estate's tables aside as {JOBS}{suffix} and so on. Nothing was changed"
        )));
    }
    if estate_here {
        let clash: Vec<String> = taken
            .iter()
            .map(|n| format!("{n}{suffix}"))
            .filter(|t| present.contains(t))
            .collect();
        if !clash.is_empty() {
            return Err(EstateError::Refused(format!(
                "the estate's tables ({}) hold deployd's names, but {} exist already, so they cannot be put aside under the suffix {suffix:?}: \
                 set another database.estate_suffix, or drop or rename those tables. Nothing was changed",
                taken
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                clash.join(", ")
            )));
        }
        let pairs: Vec<(String, String)> = taken
            .iter()
            .map(|n| ((*n).clone(), format!("{n}{suffix}")))
            .collect();
        let sql = format!(
            "RENAME TABLE {}",
            pairs
                .iter()
                .map(|(a, b)| format!("`{a}` TO `{b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        tracing::warn!(
            tables = %pairs.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", "),
            "the estate's service's tables hold deployd's table names: putting them aside, rows untouched: {sql}"
        );
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        tracing::warn!(
            suffix,
            "the estate's tables are kept as {JOBS}{suffix} and so on; deployd now creates its own"
        );
        report.renamed = pairs;
    }
    // On the connection holding the lock: with max_connections = 1 it is the only one.
    migrator.run(&mut *conn).await?;
    report.estate_tables = names
        .iter()
        .map(|n| format!("{n}{suffix}"))
        .filter(|t| present.contains(t) || report.renamed.iter().any(|(_, b)| b == t))
        .collect();
    if report.estate_tables.is_empty() {
        return Ok(report);
    }
    if import == Import::Once
        && let Some(before) = earlier_import(conn).await?
    {
        report.imported_before = Some(before);
        return Ok(report);
    }
    report.imported = Some(copy(conn, suffix).await?);
    Ok(report)
}

/// Whether `_sqlx_migrations` records deployd's first migration (its checksum, not only its
/// version: another program's sqlx migrations would record a version 1 too).
async fn deployd_recorded(
    conn: &mut MySqlConnection,
    migrator: &Migrator,
    present: &HashSet<String>,
) -> Result<bool, sqlx::Error> {
    if !present.contains("_sqlx_migrations") {
        return Ok(false);
    }
    let Some(first) = migrator.iter().next() else {
        return Ok(false);
    };
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE version = ?")
            .bind(first.version)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.iter().any(|(_, c)| c.as_slice() == &*first.checksum))
}

/// The columns of a table and their types (`varchar`, `bigint`, `datetime`, ...).
async fn columns(
    conn: &mut MySqlConnection,
    table: &str,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(LOWER(DATA_TYPE) AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, t)| (c.to_ascii_lowercase(), t))
        .collect())
}

fn is_integer(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

/// deployd's job table: integer ids, attempts, times in epoch milliseconds.
fn deployd_shaped(cols: &HashMap<String, String>) -> bool {
    cols.get("id").is_some_and(|t| is_integer(t))
        && cols.contains_key("attempt")
        && cols.contains_key("created_at")
}

async fn earlier_import(conn: &mut MySqlConnection) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT at, detail FROM fun_ai_deploy_audit WHERE action = ? ORDER BY id LIMIT 1",
    )
    .bind(AUDIT_ACTION)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(at, detail)| {
        format!(
            "{}: {}",
            super::rows::ts(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            detail.unwrap_or_default()
        )
    }))
}

/// How a column is read from an estate table whose exact types deployd does not own.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Real,
    Text,
    /// A moment: epoch milliseconds from a DATETIME/TIMESTAMP (in the session's time zone,
    /// the server's unless set) or from an integer (seconds or milliseconds).
    Millis,
}

/// A SELECT list item for `col` as `kind`, NULL when the table lacks the column.
fn item(cols: &HashMap<String, String>, col: &str, kind: Kind) -> String {
    let Some(t) = cols.get(col) else {
        return match kind {
            Kind::Int | Kind::Millis => "CAST(NULL AS SIGNED)".into(),
            Kind::Real => "(NULL + 0e0)".into(),
            Kind::Text => "CAST(NULL AS CHAR)".into(),
        };
    };
    match kind {
        Kind::Int => format!("CAST(`{col}` AS SIGNED)"),
        Kind::Real => format!("(`{col}` + 0e0)"),
        Kind::Text => format!("CAST(`{col}` AS CHAR)"),
        Kind::Millis if is_integer(t) || t == "decimal" => format!("CAST(`{col}` AS SIGNED)"),
        Kind::Millis => format!("CAST(ROUND(UNIX_TIMESTAMP(`{col}`) * 1000) AS SIGNED)"),
    }
}

/// An integer moment as milliseconds: values below 10^11 are seconds (before 1973 in
/// milliseconds, after 5000 in seconds); zero or less is no moment.
fn millis(v: Option<i64>) -> Option<i64> {
    match v {
        Some(v) if v <= 0 => None,
        Some(v) if v < 100_000_000_000 => Some(v.saturating_mul(1000)),
        other => other,
    }
}

fn select(cols: &HashMap<String, String>, items: &[(&str, Kind)], table: &str) -> String {
    let list: Vec<String> = items.iter().map(|(c, k)| item(cols, c, *k)).collect();
    format!("SELECT {} FROM `{table}`", list.join(", "))
}

/// The estate's job status as deployd names it, if it is one of deployd's.
pub fn job_status(s: &str) -> Option<JobStatus> {
    match s.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" => Some(JobStatus::Succeeded),
        "CANCELED" => Some(JobStatus::Cancelled),
        other => other.parse().ok(),
    }
}

/// The user a job payload names (`userId`, a number or a string), if a valid id.
fn payload_user(payload: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let user = match v.get("userId")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    protocol::validate::id(&user).ok()?;
    Some(user)
}

fn note(unfinished_job: &str, status: &str) -> String {
    format!(
        "the estate's job {unfinished_job} was {status} when the estate's service stopped; deployd keeps it as history and did not run it: deploy the app again"
    )
}

/// The keys deployd's table holds already: those rows are left as they are.
async fn keys(
    conn: &mut MySqlConnection,
    sql: &'static str,
) -> Result<HashSet<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, String>(sql)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect())
}

/// Counts a row into `c`: copied when deployd's table lacked its key. (The engine's count
/// of changed rows cannot tell: sqlx connects with CLIENT_FOUND_ROWS.)
fn counted(c: &mut Copied, had: &mut HashSet<String>, key: &str) -> bool {
    if had.insert(key.to_string()) {
        c.copied += 1;
        true
    } else {
        c.present += 1;
        false
    }
}

/// Copies the estate's nodes, placements and app states into deployd's tables, in one
/// transaction; rows deployd's tables hold already are left as they are.
async fn copy(conn: &mut MySqlConnection, suffix: &str) -> Result<Imported, sqlx::Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let jobs_t = format!("{JOBS}{suffix}");
    let nodes_t = format!("{NODES}{suffix}");
    let placements_t = format!("{PLACEMENTS}{suffix}");
    let runs_t = format!("{APP_RUNS}{suffix}");
    let job_cols = columns(conn, &jobs_t).await?;
    let node_cols = columns(conn, &nodes_t).await?;
    let placement_cols = columns(conn, &placements_t).await?;
    let run_cols = columns(conn, &runs_t).await?;
    let mut tx = conn.begin().await?;
    let mut out = Imported {
        suffix: suffix.to_string(),
        ..Imported::default()
    };

    // Each app's owner as its newest estate job names it; jobs left unfinished.
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut last_unfinished: HashMap<String, (String, String)> = HashMap::new();
    if !job_cols.is_empty() {
        let sql = format!(
            "{} ORDER BY 5, 1",
            select(
                &job_cols,
                &[
                    ("id", Kind::Text),
                    ("app_id", Kind::Text),
                    ("status", Kind::Text),
                    ("payload_json", Kind::Text),
                    ("create_time", Kind::Millis),
                ],
                &jobs_t,
            )
        );
        let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
        // Streamed: the estate's job history may be long; only owners are kept per app.
        while let Some(r) = rows.try_next().await? {
            out.jobs += 1;
            let id: Option<String> = r.try_get(0)?;
            let app: Option<String> = r.try_get(1)?;
            let status: Option<String> = r.try_get(2)?;
            let payload: Option<String> = r.try_get(3)?;
            let (Some(id), Some(app)) = (id, app) else {
                continue;
            };
            if let Some(user) = payload.as_deref().and_then(payload_user) {
                owners.insert(app.clone(), user);
            }
            let status = status.unwrap_or_default();
            if job_status(&status).is_some_and(JobStatus::is_active) {
                out.unfinished.push(id.clone());
                last_unfinished.insert(app, (id, status.trim().to_ascii_uppercase()));
            }
        }
        drop(rows);
    }

    // Nodes, by name; the estate's ids mapped to names for placements and app runs.
    let mut node_names: HashMap<i64, String> = HashMap::new();
    if !node_cols.is_empty() {
        let sql = format!(
            "{} ORDER BY 1",
            select(
                &node_cols,
                &[
                    ("id", Kind::Int),
                    ("name", Kind::Text),
                    ("agent_base_url", Kind::Text),
                    ("gateway_base_url", Kind::Text),
                    ("enabled", Kind::Int),
                    ("disk_free_pct", Kind::Real),
                    ("disk_free_bytes", Kind::Int),
                    ("container_count", Kind::Int),
                    ("last_heartbeat_at", Kind::Millis),
                    ("create_time", Kind::Millis),
                    ("update_time", Kind::Millis),
                ],
                &nodes_t,
            )
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
        let mut had = keys(&mut tx, "SELECT node_name FROM fun_ai_deploy_runtime_node").await?;
        for r in rows {
            out.nodes.read += 1;
            let id: Option<i64> = r.try_get(0)?;
            let name: Option<String> = r.try_get(1)?;
            let name = name.unwrap_or_default();
            if let Err(why) = protocol::validate::name(&name) {
                out.nodes
                    .skipped
                    .push(format!("node id {id:?}: name {name:?} {why}"));
                continue;
            }
            if let Some(id) = id {
                node_names.insert(id, name.clone());
            }
            if !counted(&mut out.nodes, &mut had, &name) {
                continue;
            }
            let created = millis(r.try_get(9)?).unwrap_or(now);
            sqlx::query(
                "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
                   disk_free_bytes, container_count, enabled, draining, last_heartbeat_at, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON DUPLICATE KEY UPDATE node_name = node_name",
            )
            .bind(&name)
            .bind(r.try_get::<Option<String>, _>(2)?.unwrap_or_default())
            .bind(r.try_get::<Option<String>, _>(3)?.unwrap_or_default())
            .bind(r.try_get::<Option<f64>, _>(5)?.unwrap_or(0.0))
            .bind(r.try_get::<Option<i64>, _>(6)?.unwrap_or(0))
            .bind(r.try_get::<Option<i64>, _>(7)?.unwrap_or(0))
            .bind(i64::from(r.try_get::<Option<i64>, _>(4)?.unwrap_or(1) != 0))
            .bind(millis(r.try_get(8)?))
            .bind(created)
            .bind(millis(r.try_get(10)?).unwrap_or(created))
            .execute(&mut *tx)
            .await?;
        }
    }

    if !placement_cols.is_empty() {
        let sql = format!(
            "{} ORDER BY 1",
            select(
                &placement_cols,
                &[
                    ("app_id", Kind::Text),
                    ("node_id", Kind::Int),
                    ("last_active_at", Kind::Millis),
                    ("create_time", Kind::Millis),
                    ("update_time", Kind::Millis),
                ],
                &placements_t,
            )
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
        let mut had = keys(
            &mut tx,
            "SELECT app_id FROM fun_ai_deploy_runtime_placement",
        )
        .await?;
        for r in rows {
            out.placements.read += 1;
            let app: String = r.try_get::<Option<String>, _>(0)?.unwrap_or_default();
            let node_id: Option<i64> = r.try_get(1)?;
            if let Err(why) = protocol::validate::id(&app) {
                out.placements
                    .skipped
                    .push(format!("placement of app {app:?}: the app id {why}"));
                continue;
            }
            let Some(node) = node_id.and_then(|n| node_names.get(&n)) else {
                out.placements.skipped.push(format!(
                    "placement of app {app}: node id {} is not one of the estate's nodes deployd took",
                    node_id.map_or("NULL".to_string(), |n| n.to_string())
                ));
                continue;
            };
            if !counted(&mut out.placements, &mut had, &app) {
                continue;
            }
            let created = millis(r.try_get(3)?).unwrap_or(now);
            let updated = [millis(r.try_get(4)?), millis(r.try_get(2)?)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(created);
            sqlx::query(
                "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE app_id = app_id",
            )
            .bind(&app)
            .bind(owners.get(&app))
            .bind(node)
            .bind(created)
            .bind(updated)
            .execute(&mut *tx)
            .await?;
        }
    }

    if !run_cols.is_empty() {
        let sql = format!(
            "{} ORDER BY 1",
            select(
                &run_cols,
                &[
                    ("app_id", Kind::Text),
                    ("node_id", Kind::Int),
                    ("last_job_id", Kind::Text),
                    ("last_job_status", Kind::Text),
                    ("last_error", Kind::Text),
                    ("last_deployed_at", Kind::Millis),
                    ("last_active_at", Kind::Millis),
                    ("update_time", Kind::Millis),
                ],
                &runs_t,
            )
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
        let mut had = keys(&mut tx, "SELECT app_id FROM fun_ai_deploy_app_run").await?;
        for r in rows {
            out.app_runs.read += 1;
            let app: String = r.try_get::<Option<String>, _>(0)?.unwrap_or_default();
            if let Err(why) = protocol::validate::id(&app) {
                out.app_runs
                    .skipped
                    .push(format!("app run of app {app:?}: the app id {why}"));
                continue;
            }
            if !counted(&mut out.app_runs, &mut had, &app) {
                continue;
            }
            let node_id: Option<i64> = r.try_get(1)?;
            let node = node_id.and_then(|n| node_names.get(&n));
            let last_job: Option<String> = r.try_get(2)?;
            let raw_status: String = r.try_get::<Option<String>, _>(3)?.unwrap_or_default();
            let last_error: Option<String> = r.try_get(4)?;
            let deployed = millis(r.try_get(5)?);
            let (job_status, status, error) = match job_status(&raw_status) {
                Some(JobStatus::Succeeded) => (Some(JobStatus::Succeeded), "READY", last_error),
                Some(JobStatus::Failed) => (Some(JobStatus::Failed), "FAILED", last_error),
                Some(st @ (JobStatus::Pending | JobStatus::Running)) => {
                    let id = last_job
                        .clone()
                        .or_else(|| last_unfinished.get(&app).map(|(id, _)| id.clone()))
                        .unwrap_or_else(|| "(no id)".into());
                    (
                        Some(JobStatus::Cancelled),
                        "FAILED",
                        Some(note(&id, st.as_str())),
                    )
                }
                other => (
                    other,
                    if deployed.is_some() {
                        "READY"
                    } else {
                        "STOPPED"
                    },
                    last_error,
                ),
            };
            // A newer unfinished job than the one the app run names: say so too.
            let error = match last_unfinished.get(&app) {
                Some((id, st)) if last_job.as_deref() != Some(id.as_str()) => {
                    let n = note(id, st);
                    Some(match error {
                        Some(e) if !e.is_empty() => format!("{e}; {n}"),
                        _ => n,
                    })
                }
                _ => error,
            };
            let updated = [millis(r.try_get(7)?), deployed, millis(r.try_get(6)?)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now);
            sqlx::query(
                "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
                   error_message, recent_images_json, updated_at, serving_node) VALUES (?, ?, ?, NULL, ?, ?, ?, '[]', ?, ?) \
                 ON DUPLICATE KEY UPDATE app_id = app_id",
            )
            .bind(&app)
            .bind(owners.get(&app))
            .bind(node)
            .bind(job_status.map(JobStatus::as_str))
            .bind(status)
            .bind(error)
            .bind(updated)
            .bind(node.filter(|_| status == "READY"))
            .execute(&mut *tx)
            .await?;
        }
    }

    sqlx::query(
        "INSERT INTO fun_ai_deploy_audit (at, actor, action, target, detail) VALUES (?, 'deployd', ?, ?, ?)",
    )
    .bind(now)
    .bind(AUDIT_ACTION)
    .bind(format!("fun_ai_deploy_*{suffix}"))
    .bind(out.summary())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// A job of the estate as deployd's job JSON, by its id.
#[derive(Debug, Clone, PartialEq)]
pub enum EstateJob {
    /// This database holds no estate job table.
    NoEstate,
    Missing,
    Found(Value),
}

/// The estate's job `id` from its table under `suffix`, read-only, in the shape of deployd's
/// job JSON: its string id, `estate` saying where it lives and what its status was. A job
/// the estate's service left PENDING or RUNNING is answered CANCELLED: deployd never runs it.
pub async fn job(pool: &MySqlPool, suffix: &str, id: &str) -> Result<EstateJob, sqlx::Error> {
    let table = format!("{JOBS}{suffix}");
    let mut conn = pool.acquire().await?;
    let cols = columns(&mut conn, &table).await?;
    if cols.is_empty() {
        return Ok(EstateJob::NoEstate);
    }
    let sql = format!(
        "{} WHERE `id` = ?",
        select(
            &cols,
            &[
                ("id", Kind::Text),
                ("type", Kind::Text),
                ("app_id", Kind::Text),
                ("status", Kind::Text),
                ("payload_json", Kind::Text),
                ("error_message", Kind::Text),
                ("runner_id", Kind::Text),
                ("lease_expire_at", Kind::Millis),
                ("create_time", Kind::Millis),
                ("update_time", Kind::Millis),
                ("version", Kind::Int),
            ],
            &table,
        )
    );
    let Some(r) = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(EstateJob::Missing);
    };
    let time = |v: Option<i64>| millis(v).map(super::rows::ts);
    let raw_status: String = r.try_get::<Option<String>, _>(3)?.unwrap_or_default();
    let payload_text: Option<String> = r.try_get(4)?;
    let payload = payload_text
        .as_deref()
        .map(|p| serde_json::from_str::<Value>(p).unwrap_or_else(|_| Value::String(p.into())))
        .unwrap_or(Value::Null);
    let job_id: String = r.try_get::<Option<String>, _>(0)?.unwrap_or_default();
    let mut error: Option<String> = r.try_get(5)?;
    let status = match job_status(&raw_status) {
        Some(st) if st.is_active() => {
            error = Some(note(&job_id, st.as_str()));
            Some(JobStatus::Cancelled)
        }
        other => other,
    };
    let updated = time(r.try_get(9)?);
    let created = time(r.try_get(8)?);
    let user = payload_text.as_deref().and_then(payload_user);
    let image = payload
        .get("image")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(EstateJob::Found(json!({
        "id": job_id,
        "type": r.try_get::<Option<String>, _>(1)?,
        "status": status.map_or(raw_status.clone(), |s| s.as_str().to_string()),
        "appId": r.try_get::<Option<String>, _>(2)?,
        "userId": user,
        "payload": payload,
        "runnerId": r.try_get::<Option<String>, _>(6)?,
        "leaseExpireAt": time(r.try_get(7)?),
        "attempt": 1,
        "maxAttempts": 1,
        "phase": null,
        "phaseMessage": null,
        "errorMessage": error,
        "image": image,
        "commitSha": null,
        "runtimeNode": null,
        "deployUrl": null,
        "cancelRequested": false,
        "logLength": 0,
        "createdAt": created,
        "updatedAt": updated.or(created),
        "startedAt": null,
        "finishedAt": if status.is_some_and(JobStatus::is_terminal) { updated } else { None },
        "estate": {
            "table": table,
            "status": raw_status,
            "version": r.try_get::<Option<i64>, _>(10)?,
            "readOnly": true,
        },
    })))
}

/// The SQL that undoes the move: deployd's tables dropped (with what deployd recorded since),
/// the estate's renamed back, in one statement each.
pub async fn rollback_sql(
    pool: &MySqlPool,
    migrator: &Migrator,
    suffix: &str,
) -> Result<String, EstateError> {
    check_suffix(suffix).map_err(EstateError::Refused)?;
    let present: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let names = migration_tables(migrator);
    let estate: Vec<&String> = names
        .iter()
        .filter(|n| present.contains(&format!("{n}{suffix}")))
        .collect();
    if estate.is_empty() {
        return Err(EstateError::Refused(format!(
            "no table here carries the suffix {suffix:?} (the estate's tables were never put aside on this database): nothing to roll back"
        )));
    }
    let mut drop: Vec<String> = names
        .iter()
        .filter(|n| present.contains(*n))
        .map(|n| format!("`{n}`"))
        .collect();
    if present.contains("_sqlx_migrations") {
        drop.push("`_sqlx_migrations`".into());
    }
    let mut sql = String::from(
        "-- Stop every deployd on this database first. Everything deployd recorded since the move\n\
         -- (jobs, logs, nodes, placements, app states, audit) goes with its tables.\n",
    );
    if !drop.is_empty() {
        sql.push_str(&format!("DROP TABLE {};\n", drop.join(", ")));
    }
    sql.push_str(&format!(
        "RENAME TABLE {};\n",
        estate
            .iter()
            .map(|n| format!("`{n}{suffix}` TO `{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::{check_suffix, job_status, millis, payload_user};
    use protocol::job::JobStatus;

    #[test]
    fn a_suffix_is_a_short_plain_identifier_part() {
        assert!(check_suffix("_estate").is_ok());
        assert!(check_suffix("_old2").is_ok());
        assert!(check_suffix("").is_err());
        assert!(check_suffix("`; DROP").is_err());
        assert!(check_suffix(&"_".repeat(40)).is_err());
    }

    #[test]
    fn the_estates_statuses_read_as_deployds() {
        assert_eq!(job_status("pending"), Some(JobStatus::Pending));
        assert_eq!(job_status(" RUNNING "), Some(JobStatus::Running));
        assert_eq!(job_status("SUCCESS"), Some(JobStatus::Succeeded));
        assert_eq!(job_status("CANCELED"), Some(JobStatus::Cancelled));
        assert_eq!(job_status("WEIRD"), None);
    }

    #[test]
    fn moments_in_seconds_become_milliseconds() {
        assert_eq!(millis(Some(1_700_000_000)), Some(1_700_000_000_000));
        assert_eq!(millis(Some(1_700_000_000_123)), Some(1_700_000_000_123));
        assert_eq!(millis(Some(0)), None);
        assert_eq!(millis(None), None);
    }

    #[test]
    fn a_payloads_user_is_a_number_or_a_string() {
        assert_eq!(payload_user(r#"{"userId": 7}"#).as_deref(), Some("7"));
        assert_eq!(payload_user(r#"{"userId": "u8"}"#).as_deref(), Some("u8"));
        assert_eq!(payload_user(r#"{"userId": null}"#), None);
        assert_eq!(payload_user("not json"), None);
    }
}
