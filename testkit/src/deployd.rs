//! A real deployd in-process on port 0, for tests and benches: on a temporary SQLite file by
//! default, or on a fresh database of the MariaDB/PostgreSQL server of
//! `scripts/services-db.sh` when `FUNAI_TEST_DB=mysql|postgres` (admin URLs in
//! `FUNAI_TEST_MYSQL_URL` / `FUNAI_TEST_POSTGRES_URL`). Several replicas may share one.

use std::sync::Arc;

use protocol::Secret;
use protocol::client::DeployClient;
use tokio_util::sync::CancellationToken;

use ::deployd::store::Engine;
use ::deployd::{AppState, Settings};

pub const DEPLOY_SECRET: &str = "deploy-secret";
pub const RUNNER_TOKEN: &str = "runner-token";
pub const NODE_TOKEN: &str = "node-token";
pub const ADMIN_TOKEN: &str = "admin-token";
pub const RUNTIME_TOKEN: &str = "runtime-token";

/// Which engine the tests of this process use: `FUNAI_TEST_DB`, default `sqlite`.
/// Asking for a server engine whose URL is not set fails loudly: the run asked for it.
pub fn engine() -> Engine {
    match std::env::var("FUNAI_TEST_DB").ok().as_deref() {
        None | Some("") | Some("sqlite") => Engine::Sqlite,
        Some("mysql") | Some("mariadb") => Engine::Mysql,
        Some("postgres") | Some("postgresql") => Engine::Postgres,
        Some(other) => panic!("FUNAI_TEST_DB={other:?}: use sqlite, mysql or postgres"),
    }
}

/// The admin URL of the server of `engine` (it may create databases).
pub fn server_url(engine: Engine) -> Option<String> {
    let var = match engine {
        Engine::Sqlite => return None,
        Engine::Mysql => "FUNAI_TEST_MYSQL_URL",
        Engine::Postgres => "FUNAI_TEST_POSTGRES_URL",
    };
    match std::env::var(var).ok().filter(|v| !v.is_empty()) {
        Some(url) => Some(url),
        None => panic!(
            "FUNAI_TEST_DB asks for {engine:?} but {var} is not set: run the suite through scripts/test.sh, \
             or `source scripts/services-db.sh; db_up` (then `source /tmp/funai-test-services/env`)"
        ),
    }
}

/// `url` with its path (the database) replaced by `/{name}`, its query kept.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{name}{query}")
}

fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", h.finish())
}

/// Creates an empty database on the server of `engine` and answers its URL.
pub async fn fresh_database(engine: Engine) -> String {
    use sqlx::Connection;
    let Some(admin) = server_url(engine) else {
        panic!("fresh_database: SQLite has no server");
    };
    // Only hex digits after the prefix: safe to splice into the statement.
    let name = format!("funai_t_{}", rand_suffix());
    let sql = sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"));
    let shown = ::deployd::store::redact_url(&admin);
    match engine {
        Engine::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("connect to MySQL at {shown}: {e}"));
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("create database {name}: {e}"));
            let _ = c.close().await;
        }
        Engine::Postgres => {
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("connect to PostgreSQL at {shown}: {e}"));
            sqlx::query(sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("create database {name}: {e}"));
            let _ = c.close().await;
        }
        Engine::Sqlite => unreachable!("SQLite has no server"),
    }
    with_database(&admin, &name)
}

pub struct TestDeployd {
    pub url: String,
    pub settings: Settings,
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test: fixed test secrets, a SQLite database in `dir`.
pub fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("deployd.db").display()),
        ..Settings::default()
    };
    s.auth.deploy_secret = Secret::new(DEPLOY_SECRET);
    s.auth.runner_token = Secret::new(RUNNER_TOKEN);
    s.auth.node_token = Secret::new(NODE_TOKEN);
    s.auth.admin_token = Secret::new(ADMIN_TOKEN);
    s.auth.runtime_token = Secret::new(RUNTIME_TOKEN);
    s
}

/// A deployd for tests whose runtime nodes are real agents: their data directory lies on
/// this machine's shared disk, whose free share the test does not control, so the disk
/// threshold of placement is off (tests of the threshold set it themselves).
pub async fn start_for_real_nodes() -> TestDeployd {
    start_with(|s| s.nodes.disk_free_min_pct = 0.0).await
}

/// As [`start_for_real_nodes`], after `tweak`.
pub async fn start_for_real_nodes_with(tweak: impl FnOnce(&mut Settings)) -> TestDeployd {
    start_with(|s| {
        s.nodes.disk_free_min_pct = 0.0;
        tweak(s);
    })
    .await
}

pub async fn start() -> TestDeployd {
    start_with(|_| {}).await
}

/// Starts deployd after `tweak` adjusted the test settings, on the engine of
/// `FUNAI_TEST_DB` (a fresh database each time). Panics when it cannot start: a test has
/// nothing sensible to do then.
pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestDeployd {
    start_on(engine(), tweak).await
}

/// As [`start_with`], on the given engine.
pub async fn start_on(engine: Engine, tweak: impl FnOnce(&mut Settings)) -> TestDeployd {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = settings(dir.path());
    if engine != Engine::Sqlite {
        s.database_url = fresh_database(engine).await;
    }
    tweak(&mut s);
    launch(s, dir).await
}

/// Another replica sharing `first`'s database, with `tweak`ed settings of its own.
pub async fn replica_of(first: &TestDeployd, tweak: impl FnOnce(&mut Settings)) -> TestDeployd {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = first.settings.clone();
    s.listen = "127.0.0.1:0".into();
    tweak(&mut s);
    launch(s, dir).await
}

async fn launch(s: Settings, dir: tempfile::TempDir) -> TestDeployd {
    crate::log_when_asked();
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .unwrap_or_else(|e| panic!("bind {}: {e}", s.listen));
    let addr = listener.local_addr().expect("local addr");
    let shutdown = CancellationToken::new();
    let state = ::deployd::build_state(s.clone(), shutdown.clone())
        .await
        .unwrap_or_else(|e| panic!("deployd did not start: {e:#}"));
    let handle = tokio::spawn(::deployd::serve_state(state.clone(), listener));
    TestDeployd {
        url: format!("http://{addr}"),
        settings: s,
        state,
        dir,
        shutdown,
        handle: Some(handle),
    }
}

impl TestDeployd {
    /// A client holding every secret.
    pub fn client(&self) -> DeployClient {
        DeployClient::new(&self.url)
            .deploy_secret(Some(Secret::new(DEPLOY_SECRET)))
            .runner_token(Some(Secret::new(RUNNER_TOKEN)))
            .node_token(Some(Secret::new(NODE_TOKEN)))
            .admin_token(Some(Secret::new(ADMIN_TOKEN)))
    }

    pub fn engine(&self) -> Engine {
        Engine::of_url(&self.settings.database_url).unwrap_or(Engine::Sqlite)
    }

    /// The count of rows of a deployd table (`job`, `node`, `placement`, `log`, `runner`),
    /// read straight from the database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let sql = match table {
            "job" => "SELECT COUNT(*) FROM fun_ai_deploy_job",
            "node" => "SELECT COUNT(*) FROM fun_ai_deploy_runtime_node",
            "placement" => "SELECT COUNT(*) FROM fun_ai_deploy_runtime_placement",
            "log" => "SELECT COUNT(*) FROM fun_ai_deploy_job_log",
            "runner" => "SELECT COUNT(*) FROM fun_ai_deploy_runner",
            other => panic!("unknown table {other}"),
        };
        let url = &self.settings.database_url;
        let shown = ::deployd::store::redact_url(url);
        let n: Result<i64, sqlx::Error> = match self.engine() {
            Engine::Sqlite => match sqlx::SqlitePool::connect(url).await {
                Ok(pool) => {
                    let n = sqlx::query_scalar(sql).fetch_one(&pool).await;
                    pool.close().await;
                    n
                }
                Err(e) => Err(e),
            },
            Engine::Mysql => match sqlx::MySqlPool::connect(url).await {
                Ok(pool) => {
                    let n = sqlx::query_scalar(sql).fetch_one(&pool).await;
                    pool.close().await;
                    n
                }
                Err(e) => Err(e),
            },
            Engine::Postgres => match sqlx::PgPool::connect(url).await {
                Ok(pool) => {
                    let n = sqlx::query_scalar(sql).fetch_one(&pool).await;
                    pool.close().await;
                    n
                }
                Err(e) => Err(e),
            },
        };
        n.unwrap_or_else(|e| panic!("count {table} in {shown}: {e}"))
    }

    /// The engine's plan for the placement query (`BEST_NODE` of the engine's store), one
    /// line per plan row, after the engine has looked at the node table's statistics.
    pub async fn explain_placement(&self) -> String {
        use sqlx::Row;
        let url = &self.settings.database_url;
        let shown = ::deployd::store::redact_url(url);
        let (since, pct) = (0_i64, self.settings.nodes.disk_free_min_pct);
        match self.engine() {
            Engine::Sqlite => {
                let pool = sqlx::SqlitePool::connect(url)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                // The claim's one read on SQLite, the best node within it.
                let sql = sqlx::AssertSqlSafe(format!(
                    "EXPLAIN QUERY PLAN {}",
                    ::deployd::store::dialect::SQLITE
                        .sql(::deployd::store::sql::PENDING_WITH_NODES)
                ));
                let rows = sqlx::query(sql)
                    .bind(since)
                    .bind(since)
                    .bind(pct)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                pool.close().await;
                rows.iter()
                    .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Engine::Mysql => {
                let pool = sqlx::MySqlPool::connect(url)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                let _ = sqlx::raw_sql("ANALYZE TABLE fun_ai_deploy_runtime_node")
                    .execute(&pool)
                    .await;
                let sql = sqlx::AssertSqlSafe(format!(
                    "EXPLAIN {}",
                    ::deployd::store::dialect::MYSQL.sql(::deployd::store::sql::BEST_NODE)
                ));
                let rows = sqlx::query(sql)
                    .bind(since)
                    .bind(pct)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                pool.close().await;
                rows.iter()
                    .map(|r| {
                        format!(
                            "key={} extra={}",
                            r.try_get::<Option<String>, _>("key")
                                .ok()
                                .flatten()
                                .unwrap_or_default(),
                            r.try_get::<Option<String>, _>("Extra")
                                .ok()
                                .flatten()
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Engine::Postgres => {
                let pool = sqlx::PgPool::connect(url)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                let _ = sqlx::query("ANALYZE fun_ai_deploy_runtime_node")
                    .execute(&pool)
                    .await;
                let sql = sqlx::AssertSqlSafe(format!(
                    "EXPLAIN {}",
                    ::deployd::store::dialect::POSTGRES.sql(::deployd::store::sql::BEST_NODE)
                ));
                let rows = sqlx::query(sql)
                    .bind(since)
                    .bind(pct)
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("explain on {shown}: {e}"));
                pool.close().await;
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }

    /// Stops the server and waits for in-flight requests to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(h) => h.await.map_err(|e| anyhow::anyhow!("deployd task: {e}"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TestDeployd {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_database_name_replaces_the_path() {
        assert_eq!(
            with_database("mysql://u:p@127.0.0.1:3306/", "t1"),
            "mysql://u:p@127.0.0.1:3306/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t2"),
            "postgres://u:p@h:5432/t2?sslmode=disable"
        );
        assert_eq!(with_database("mysql://h", "t3"), "mysql://h/t3");
    }
}
