//! What really differs between the engines, and nothing else: how a statement is spelled
//! (placeholders, upsert, lock suffixes, identifier quotes, returned ids), how a write
//! transaction begins, and how replicas hear of each other's changes. The statements
//! themselves are written once, in `sql.rs`.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use futures_util::future::BoxFuture;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, FromRow, Pool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Change;

/// A value bound to a statement: the four kinds the tables hold.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Real(f64),
    Text(Option<&'a str>),
    Bytes(&'a [u8]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Int(Some(i64::from(v)))
    }
}

impl From<f64> for Arg<'_> {
    fn from(v: f64) -> Self {
        Arg::Real(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}

/// The values of a statement, in the order its placeholders appear.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$($crate::store::dialect::Arg::from($a)),*] as &[$crate::store::dialect::Arg<'_>]
    };
}
pub(crate) use args;

/// A row type every engine can decode.
pub trait Rowed:
    for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, MySqlRow>
    + for<'r> FromRow<'r, PgRow>
    + Send
    + Unpin
    + 'static
{
}

impl<T> Rowed for T where
    T: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, MySqlRow>
        + for<'r> FromRow<'r, PgRow>
        + Send
        + Unpin
        + 'static
{
}

pub type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// Sends a spelled statement with its values: the same four calls on every engine.
pub trait Engine: Database {
    fn execute<'a>(
        conn: &'a mut Self::Connection,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, sqlx::Result<u64>>;

    fn fetch_all<'a, T: Rowed>(
        conn: &'a mut Self::Connection,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, sqlx::Result<Vec<T>>>;

    fn fetch_optional<'a, T: Rowed>(
        conn: &'a mut Self::Connection,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, sqlx::Result<Option<T>>>;

    /// Runs an INSERT and answers the new row's id.
    fn insert_id<'a>(
        conn: &'a mut Self::Connection,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, sqlx::Result<i64>>;

    /// The driver takes several statements in one call (SQLite: one trip to the
    /// connection's thread for a whole transaction tail). Elsewhere statements go one by one.
    const JOINS: bool = false;

    /// Runs the statements of a joined `sql` (see [`joined`]) and answers each one's rows
    /// affected and the connection's last inserted id after it. Only where
    /// [`Engine::JOINS`].
    fn execute_each<'a>(
        conn: &'a mut Self::Connection,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, sqlx::Result<Vec<(u64, i64)>>> {
        let _ = (conn, sql, args);
        Box::pin(async {
            Err(sqlx::Error::Protocol(
                "statements cannot be joined here".into(),
            ))
        })
    }
}

/// Statements (already spelled) run as one, separated by `;`: spelled once per process and
/// kept, like [`Spelling::sql`].
pub fn joined(parts: &[&'static str]) -> &'static str {
    static JOINED: Kept<Vec<(usize, usize)>> = OnceLock::new();
    let key = parts
        .iter()
        .map(|p| (p.as_ptr() as usize, p.len()))
        .collect();
    // A fixed set of statement lists: leaking them is bounded.
    kept(&JOINED, key, || parts.join(";\n"))
}

/// Writes (neutral spelling) as one statement where a `WITH` may write (PostgreSQL), spelled
/// for `spelling` once per process and kept: each write in a `WITH` of its own, and the
/// statement answers one row per write, `(its index, its rows affected)`. All of them see
/// the rows as they were before the statement, so each must touch rows no other one does.
pub fn written_together(spelling: &Spelling, parts: &[&'static str]) -> &'static str {
    static TOGETHER: Kept<(&'static str, Vec<(usize, usize)>)> = OnceLock::new();
    let key = (
        spelling.engine,
        parts
            .iter()
            .map(|p| (p.as_ptr() as usize, p.len()))
            .collect(),
    );
    kept(&TOGETHER, key, || {
        let with: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| format!("w{i} AS ({p} RETURNING 1)"))
            .collect();
        let counts: Vec<String> = (0..parts.len())
            .map(|i| format!("SELECT CAST({i} AS BIGINT), COUNT(*) FROM w{i}"))
            .collect();
        spelling.spell(&format!(
            "WITH {} {}",
            with.join(", "),
            counts.join(" UNION ALL ")
        ))
    })
}

/// Statements made once per process from `'static` parts, by the parts' addresses.
type Kept<K> = OnceLock<RwLock<HashMap<K, &'static str>>>;

/// The statement kept under `key`, made by `make` (and leaked) the first time.
fn kept<K: std::hash::Hash + Eq>(
    cache: &'static Kept<K>,
    key: K,
    make: impl FnOnce() -> String,
) -> &'static str {
    let cache = cache.get_or_init(Default::default);
    if let Some(s) = cache.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return s;
    }
    let made: &'static str = Box::leak(make().into_boxed_str());
    cache
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, made);
    made
}

macro_rules! engine {
    // The statement ends in `RETURNING id` (`{returning_id}`).
    (@returning $db:ty, $conn:ident, $sql:ident, $args:ident) => {{
        let (id,): (i64,) = sqlx::query_as_with($sql, arguments::<$db>($args)?)
            .fetch_one($conn)
            .await?;
        Ok(id)
    }};
    // MySQL has no RETURNING: the connection knows the id it generated last.
    (@last_insert_id $db:ty, $conn:ident, $sql:ident, $args:ident) => {{
        let done = sqlx::query_with($sql, arguments::<$db>($args)?)
            .execute($conn)
            .await?;
        i64::try_from(done.last_insert_id())
            .map_err(|e| sqlx::Error::Protocol(format!("insert id: {e}")))
    }};
    // SQLite runs a string of several statements in one call, binding the values in order.
    (@joins $db:ty) => {
        const JOINS: bool = true;

        fn execute_each<'a>(
            conn: &'a mut Self::Connection,
            sql: &'static str,
            args: &'a [Arg<'a>],
        ) -> BoxFuture<'a, sqlx::Result<Vec<(u64, i64)>>> {
            Box::pin(async move {
                use futures_util::TryStreamExt;
                // sqlx marks several statements in one string as SQLite's alone; it is
                // what saves a trip to the connection's thread per statement here.
                #[allow(deprecated)]
                let results = sqlx::query_with(sql, arguments::<$db>(args)?)
                    .execute_many(conn)
                    .await;
                results
                    .map_ok(|r| (r.rows_affected(), r.last_insert_rowid()))
                    .try_collect()
                    .await
            })
        }
    };
    ($db:ty, $insert:ident $(, $joins:ident)?) => {
        impl Engine for $db {
            $(engine!(@$joins $db);)?

            fn execute<'a>(
                conn: &'a mut Self::Connection,
                sql: &'static str,
                args: &'a [Arg<'a>],
            ) -> BoxFuture<'a, sqlx::Result<u64>> {
                Box::pin(async move {
                    let done = sqlx::query_with(sql, arguments::<$db>(args)?)
                        .execute(conn)
                        .await?;
                    Ok(done.rows_affected())
                })
            }

            fn fetch_all<'a, T: Rowed>(
                conn: &'a mut Self::Connection,
                sql: &'static str,
                args: &'a [Arg<'a>],
            ) -> BoxFuture<'a, sqlx::Result<Vec<T>>> {
                Box::pin(async move {
                    sqlx::query_as_with::<_, T, _>(sql, arguments::<$db>(args)?)
                        .fetch_all(conn)
                        .await
                })
            }

            fn fetch_optional<'a, T: Rowed>(
                conn: &'a mut Self::Connection,
                sql: &'static str,
                args: &'a [Arg<'a>],
            ) -> BoxFuture<'a, sqlx::Result<Option<T>>> {
                Box::pin(async move {
                    sqlx::query_as_with::<_, T, _>(sql, arguments::<$db>(args)?)
                        .fetch_optional(conn)
                        .await
                })
            }

            fn insert_id<'a>(
                conn: &'a mut Self::Connection,
                sql: &'static str,
                args: &'a [Arg<'a>],
            ) -> BoxFuture<'a, sqlx::Result<i64>> {
                Box::pin(async move { engine!(@$insert $db, conn, sql, args) })
            }
        }
    };
}

engine!(sqlx::Sqlite, returning, joins);
engine!(sqlx::Postgres, returning);
engine!(sqlx::MySql, last_insert_id);

fn arguments<DB: Database>(list: &[Arg<'_>]) -> sqlx::Result<DB::Arguments>
where
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use sqlx::Arguments;
    let mut a = DB::Arguments::default();
    for x in list {
        match *x {
            Arg::Int(v) => a.add(v),
            Arg::Real(v) => a.add(v),
            Arg::Text(v) => a.add(v),
            Arg::Bytes(v) => a.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(a)
}

/// How an engine spells what the statements of `sql.rs` write in one neutral form:
/// `?` placeholders, `ON CONFLICT (k) DO UPDATE SET c = excluded.c` upserts, `"quoted"`
/// identifiers, and the tokens `{for_update}`, `{skip_locked}` and `{returning_id}`.
#[derive(Debug, Clone, Copy)]
pub struct Spelling {
    pub engine: &'static str,
    /// `$1, $2, …` rather than `?`.
    pub numbered: bool,
    /// `ON DUPLICATE KEY UPDATE c = VALUES(c)` rather than `ON CONFLICT`.
    pub on_duplicate_key: bool,
    /// Identifiers quoted with backticks rather than double quotes.
    pub backticks: bool,
    /// What `{for_update}` and `{skip_locked}` become (empty where one writer holds the
    /// whole database).
    pub for_update: &'static str,
    pub skip_locked: &'static str,
    pub returning_id: &'static str,
}

pub const SQLITE: Spelling = Spelling {
    engine: "sqlite",
    numbered: false,
    on_duplicate_key: false,
    backticks: false,
    for_update: "",
    skip_locked: "",
    returning_id: " RETURNING id",
};

pub const MYSQL: Spelling = Spelling {
    engine: "mysql",
    numbered: false,
    on_duplicate_key: true,
    backticks: true,
    for_update: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    returning_id: "",
};

pub const POSTGRES: Spelling = Spelling {
    engine: "postgres",
    numbered: true,
    on_duplicate_key: false,
    backticks: false,
    for_update: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    returning_id: " RETURNING id",
};

impl Spelling {
    /// The statement as this engine reads it, spelled once per process and kept.
    pub fn sql(&self, neutral: &'static str) -> &'static str {
        static SPELLED: Kept<(&'static str, usize, usize)> = OnceLock::new();
        let key = (self.engine, neutral.as_ptr() as usize, neutral.len());
        // A fixed set of statements, each spelled once per engine: leaking them is bounded.
        kept(&SPELLED, key, || self.spell(neutral))
    }

    pub fn spell(&self, neutral: &str) -> String {
        let mut s = neutral
            .replace("{for_update}", self.for_update)
            .replace("{skip_locked}", self.skip_locked)
            .replace("{returning_id}", self.returning_id);
        if self.on_duplicate_key {
            s = on_duplicate_key(&s);
        }
        let mut out = String::with_capacity(s.len() + 16);
        let (mut n, mut in_string) = (0, false);
        for c in s.chars() {
            match c {
                '\'' => {
                    in_string = !in_string;
                    out.push(c);
                }
                '?' if !in_string && self.numbered => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                '"' if !in_string && self.backticks => out.push('`'),
                _ => out.push(c),
            }
        }
        out
    }
}

/// `INSERT INTO t … ON CONFLICT (k) DO UPDATE SET c = excluded.c, d = COALESCE(t.d, …)` as
/// MySQL writes it: `ON DUPLICATE KEY UPDATE c = VALUES(c), d = COALESCE(d, …)`. MySQL
/// assigns left to right, so a statement that compares an old value does it first.
fn on_duplicate_key(sql: &str) -> String {
    let Some(start) = sql.find("ON CONFLICT") else {
        return sql.to_string();
    };
    let Some(set) = sql[start..].find("DO UPDATE SET") else {
        return sql.to_string();
    };
    let (head, tail) = (&sql[..start], &sql[start + set + "DO UPDATE SET".len()..]);
    let table = head
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("INTO"))
        .nth(1)
        .unwrap_or_default();
    let mut tail = tail.replace(&format!("{table}."), "");
    while let Some(i) = tail.find("excluded.") {
        let rest = &tail[i + "excluded.".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let column = rest[..end].to_string();
        tail.replace_range(i..i + "excluded.".len() + end, &format!("VALUES({column})"));
    }
    format!("{head}ON DUPLICATE KEY UPDATE{tail}")
}

/// An engine: its driver, its spelling, how it begins a write, and how it tells other
/// replicas of a change.
pub trait Dialect: Send + Sync + 'static {
    type Db: Engine;

    const SPELLING: Spelling;

    /// The statement that opens a write transaction (SQLite takes its write lock at once).
    const BEGIN: Option<&'static str> = None;

    /// Writes are serialised in this process: the engine has one writer anyway.
    const ONE_WRITER: bool = false;

    /// `UPDATE … RETURNING` answers with the updated row (not on MySQL/MariaDB).
    const UPDATE_RETURNING: bool = false;

    /// A locking read inside a subquery of a join locks only its own rows, and a `WITH`
    /// may write (PostgreSQL): a claim reads the job it locks and its nodes in one
    /// statement, a report the job and its run, a log append is one statement, and the
    /// writes that end a transaction are one statement ([`written_together`]). Not
    /// MySQL/MariaDB (no writes in `WITH`).
    const ONE_STATEMENT_WRITES: bool = false;

    /// Queues a notification of `change` for the other replicas, sent when `conn`'s
    /// transaction commits. Engines whose replicas poll, or that have one process, do
    /// nothing.
    fn notify<'a>(
        &'a self,
        conn: &'a mut Conn<Self>,
        change: Change,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        let _ = (conn, change);
        Box::pin(async { Ok(()) })
    }

    /// Follows the changes other replicas make, until `shutdown`.
    fn change_feed(
        &self,
        pool: &Pool<Self::Db>,
        shutdown: CancellationToken,
    ) -> Option<mpsc::Receiver<Change>> {
        let _ = (pool, shutdown);
        None
    }

    /// A job of the estate's replaced service by its id, from the table its rows were put
    /// aside in (`store::estate`); engines the estate never ran on have none.
    fn estate_job<'a>(
        &'a self,
        pool: &'a Pool<Self::Db>,
        id: &'a str,
    ) -> BoxFuture<'a, sqlx::Result<super::estate::EstateJob>> {
        let _ = (pool, id);
        Box::pin(async { Ok(super::estate::EstateJob::NoEstate) })
    }
}

#[cfg(test)]
mod tests {
    use super::{MYSQL, POSTGRES, SQLITE};

    const UPSERT: &str = "INSERT INTO t (k, a, b) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET \
         b = CASE WHEN t.a = excluded.a THEN t.b ELSE excluded.b END, a = excluded.a";

    #[test]
    fn postgres_numbers_its_placeholders_outside_strings() {
        assert_eq!(
            POSTGRES.spell("SELECT '?' , a FROM t WHERE a = ? AND b = ?{for_update}"),
            "SELECT '?' , a FROM t WHERE a = $1 AND b = $2 FOR UPDATE"
        );
    }

    #[test]
    fn mysql_upserts_on_duplicate_key_with_its_own_quotes() {
        assert_eq!(
            MYSQL.spell(UPSERT),
            "INSERT INTO t (k, a, b) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
             b = CASE WHEN a = VALUES(a) THEN b ELSE VALUES(b) END, a = VALUES(a)"
        );
        assert_eq!(
            MYSQL.spell("SELECT \"offset\" FROM l{skip_locked}{returning_id}"),
            "SELECT `offset` FROM l FOR UPDATE SKIP LOCKED"
        );
    }

    #[test]
    fn sqlite_reads_the_neutral_form_without_locks() {
        assert_eq!(SQLITE.spell(UPSERT), UPSERT);
        assert_eq!(
            SQLITE.spell("INSERT INTO t (a) VALUES (?){returning_id}"),
            "INSERT INTO t (a) VALUES (?) RETURNING id"
        );
        assert_eq!(
            SQLITE.spell("SELECT a FROM t{for_update}"),
            "SELECT a FROM t"
        );
    }

    #[test]
    fn writes_together_are_one_statement_numbered_across_its_parts() {
        const A: &str = "UPDATE t SET a = ? WHERE k = ?";
        const B: &str = "INSERT INTO u (k) VALUES (?) ON CONFLICT (k) DO NOTHING";
        let both = super::written_together(&POSTGRES, &[A, B]);
        assert_eq!(
            both,
            "WITH w0 AS (UPDATE t SET a = $1 WHERE k = $2 RETURNING 1), \
             w1 AS (INSERT INTO u (k) VALUES ($3) ON CONFLICT (k) DO NOTHING RETURNING 1) \
             SELECT CAST(0 AS BIGINT), COUNT(*) FROM w0 UNION ALL SELECT CAST(1 AS BIGINT), COUNT(*) FROM w1"
        );
        assert!(std::ptr::eq(
            both,
            super::written_together(&POSTGRES, &[A, B])
        ));
    }

    #[test]
    fn a_statement_is_spelled_once_per_engine() {
        const S: &str = "SELECT ? FROM t";
        let a = POSTGRES.sql(S);
        assert_eq!(a, "SELECT $1 FROM t");
        assert!(std::ptr::eq(a, POSTGRES.sql(S)));
        assert_eq!(MYSQL.sql(S), "SELECT ? FROM t");
    }
}
