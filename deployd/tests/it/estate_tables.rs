//! deployd on the estate's MariaDB, which holds the deploy tables of the service deployd
//! replaces under deployd's own table names: it starts (two replicas at once), keeps every
//! estate row under `_estate`, lists the estate's nodes and app states, places an app on
//! the estate's node again, answers the estate's string job ids, never runs the jobs the old
//! service left unfinished, and a restart or `deployd import-estate` changes nothing more.
//! MySQL/MariaDB only (`FUNAI_TEST_DB=mysql`): the estate's database is one.

use std::process::Command;

use crate::common::*;
use deployd::store::Engine;
use protocol::headers;
use protocol::job::JobStatus;
use serde_json::Value;
use sqlx::{AssertSqlSafe, MySqlPool};
use testkit::deployd::{ADMIN_TOKEN, DEPLOY_SECRET, TestDeployd, fresh_database, start_on};

const FIXTURE: &str = include_str!("../fixtures/estate_tables.sql");
const NODES: i64 = 5;
const JOBS: i64 = 300;
const APPS: i64 = 200;

/// The estate's tables in a fresh database, `NODES` nodes (ids 101.., rt-05 disabled), `JOBS`
/// jobs with string ids over `APPS` apps (the newest of app 20000 left PENDING, of 20001
/// RUNNING), a placement and an app run per app; answers the database URL.
async fn estate_database() -> Option<String> {
    if testkit::deployd::engine() != Engine::Mysql {
        eprintln!(
            "estate_tables: not run: the estate's database is MySQL/MariaDB; FUNAI_TEST_DB=mysql runs it (scripts/test.sh does)"
        );
        return None;
    }
    let url = fresh_database(Engine::Mysql).await;
    let pool = MySqlPool::connect(&url).await.unwrap();
    let ddl: Vec<&str> = FIXTURE
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    for stmt in ddl.join("\n").split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(AssertSqlSafe(stmt.to_string()))
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut nodes = Vec::new();
    for n in 1..=NODES {
        nodes.push(format!(
            "({id}, 'rt-0{n}', 'http://127.0.0.1:7005/rt-0{n}', 'http://gw-rt-0{n}.test', {enabled}, 100, \
             '2026-11-30 23:59:00', {pct}, {bytes}, {n}, '2026-01-01 00:00:00', '2026-11-30 23:59:00')",
            id = 100 + n,
            enabled = i64::from(n != 5),
            pct = 20 + n * 10,
            bytes = n * 1_000_000_000,
        ));
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO fun_ai_deploy_runtime_node (id, name, agent_base_url, gateway_base_url, enabled, weight, \
         last_heartbeat_at, disk_free_pct, disk_free_bytes, container_count, create_time, update_time) VALUES {}",
        nodes.join(", ")
    )))
    .execute(&pool)
    .await
    .unwrap();
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let app = 20000 + i % APPS;
        let (status, error) = job_status(i);
        jobs.push(format!(
            "('{id}', 'BUILD_AND_DEPLOY', '{app}', '{status}', '{{\"appId\": {app}, \"userId\": \"u{app}\", \"image\": \"127.0.0.1:5000/funaistudio/u{app}-app{app}:{i}\"}}', \
             {error}, {runner}, {lease}, DATE_ADD('2026-11-01 10:00:00', INTERVAL {i} SECOND), \
             DATE_ADD('2026-11-01 10:05:00', INTERVAL {i} SECOND), 1)",
            id = job_id(i),
            error = error.map_or("NULL".into(), |e| format!("'{e}'")),
            runner = if status == "PENDING" { "NULL" } else { "'old-runner-1'" },
            lease = if status == "RUNNING" { "1796000000000" } else { "NULL" },
        ));
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO fun_ai_deploy_job (id, type, app_id, status, payload_json, error_message, runner_id, \
         lease_expire_at, create_time, update_time, version) VALUES {}",
        jobs.join(", ")
    )))
    .execute(&pool)
    .await
    .unwrap();
    let (mut placements, mut runs) = (Vec::new(), Vec::new());
    for k in 0..APPS {
        let app = 20000 + k;
        let node = estate_node_id(k);
        placements.push(format!(
            "('{app}', {node}, 1795000000000, '2026-06-01 00:00:00', '2026-11-01 00:00:00')"
        ));
        let newest = if k < JOBS - APPS { k + APPS } else { k };
        let (status, error) = job_status(newest);
        runs.push(format!(
            "('{app}', {node}, '{job}', '{status}', {error}, {deployed}, 1795000000000, '2026-06-01 00:00:00', '2026-11-01 00:00:00')",
            job = job_id(newest),
            error = error.map_or("NULL".into(), |e| format!("'{e}'")),
            deployed = if status == "SUCCEEDED" { "1794000000000" } else { "NULL" },
        ));
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO fun_ai_deploy_runtime_placement (app_id, node_id, last_active_at, create_time, update_time) VALUES {}",
        placements.join(", ")
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO fun_ai_deploy_app_run (app_id, node_id, last_job_id, last_job_status, last_error, \
         last_deployed_at, last_active_at, create_time, update_time) VALUES {}",
        runs.join(", ")
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO fun_ai_deploy_job_log (job_id, content) VALUES ('x', 'estate log')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO fun_ai_deploy_switch (name, value) VALUES ('deploy', 'on')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    Some(url)
}

/// The estate's string job id of job `i`.
fn job_id(i: i64) -> String {
    format!("dj-{:06x}-{i}", i * 7919)
}

/// The estate's status of job `i`: the newest jobs of apps 20000 and 20001 unfinished.
fn job_status(i: i64) -> (&'static str, Option<&'static str>) {
    match i {
        200 => ("PENDING", None),
        201 => ("RUNNING", None),
        i if i % 10 == 3 => ("FAILED", Some("build failed: exit 1")),
        _ => ("SUCCEEDED", None),
    }
}

/// The estate's node id of app `20000 + k`.
fn estate_node_id(k: i64) -> i64 {
    101 + k % NODES
}

/// The rows of a table, straight from the database.
async fn count(url: &str, table: &str) -> i64 {
    let pool = MySqlPool::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM `{table}`")))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"));
    pool.close().await;
    n
}

/// Rows of every estate table and of deployd's, as they stand.
async fn tally(url: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in [
        "fun_ai_deploy_job_estate",
        "fun_ai_deploy_runtime_node_estate",
        "fun_ai_deploy_runtime_placement_estate",
        "fun_ai_deploy_app_run_estate",
        "fun_ai_deploy_job_log_estate",
        "fun_ai_deploy_switch",
        "fun_ai_deploy_job",
        "fun_ai_deploy_runtime_node",
        "fun_ai_deploy_runtime_placement",
        "fun_ai_deploy_app_run",
    ] {
        out.push((t.to_string(), count(url, t).await));
    }
    out
}

async fn start(url: &str) -> TestDeployd {
    let url = url.to_string();
    // The engine's own fresh database is not wanted: deployd opens the estate's.
    start_on(Engine::Sqlite, move |s| s.database_url = url).await
}

/// GET `path` with the deploy secret (or the admin token): status and envelope.
async fn get(d: &TestDeployd, path: &str, admin: bool) -> (u16, Value) {
    let rb = reqwest::Client::new().get(format!("{}{path}", d.url));
    let rb = if admin {
        rb.header(headers::ADMIN_TOKEN, ADMIN_TOKEN)
    } else {
        rb.header(headers::DEPLOY_SECRET, DEPLOY_SECRET)
    };
    let resp = rb.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn estate_imports(d: &TestDeployd) -> usize {
    d.client()
        .audit(200)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == deployd::store::estate::AUDIT_ACTION)
        .count()
}

fn import_estate(url: &str, extra: &[&str]) -> (bool, String, String) {
    import_estate_with(url, extra, &[])
}

fn import_estate_with(url: &str, extra: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deployd"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["--database-url", url, "import-estate"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployd_on_the_estates_database_keeps_its_rows_and_carries_its_state_on() {
    let Some(url) = estate_database().await else {
        return;
    };

    // Two replicas at once: one renames, migrates and imports; the other finds it done.
    let (a, b) = tokio::join!(start(&url), start(&url));
    let before = tally(&url).await;
    let estate = |t: &str| before.iter().find(|(n, _)| n == t).map(|(_, c)| *c);
    assert_eq!(estate("fun_ai_deploy_job_estate"), Some(JOBS));
    assert_eq!(estate("fun_ai_deploy_runtime_node_estate"), Some(NODES));
    assert_eq!(estate("fun_ai_deploy_runtime_placement_estate"), Some(APPS));
    assert_eq!(estate("fun_ai_deploy_app_run_estate"), Some(APPS));
    assert_eq!(estate("fun_ai_deploy_job_log_estate"), Some(1));
    assert_eq!(
        estate("fun_ai_deploy_switch"),
        Some(1),
        "a table deployd does not create keeps its name"
    );
    assert_eq!(estate("fun_ai_deploy_job"), Some(0), "no job copied");
    assert_eq!(estate_imports(&a).await, 1, "imported once, by one replica");
    let c = a.client();

    // The estate's nodes, by name, as the admin API lists them.
    let nodes = c.list_nodes().await.unwrap();
    let mut names: Vec<&str> = nodes.iter().map(|n| n.node_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["rt-01", "rt-02", "rt-03", "rt-04", "rt-05"]);
    let rt5 = nodes.iter().find(|n| n.node_name == "rt-05").unwrap();
    assert!(!rt5.enabled, "disabled in the estate, disabled here");
    let rt3 = nodes.iter().find(|n| n.node_name == "rt-03").unwrap();
    assert_eq!(
        (rt3.disk_free_pct, rt3.disk_free_bytes, rt3.container_count),
        (50.0, 3_000_000_000, 3)
    );
    assert!(rt3.last_heartbeat_at.is_some());
    assert_eq!(rt3.placements, APPS / NODES);

    // The estate's app states in the admin apps list.
    let apps = c.apps().await.unwrap();
    assert_eq!(apps.len() as i64, APPS);
    let app = |id: &str| apps.iter().find(|r| r.app_id == id).unwrap().clone();
    let ready = app("20007");
    assert_eq!(
        (
            ready.status.as_str(),
            ready.last_job_status,
            ready.node_name.as_deref(),
            ready.user_id.as_deref()
        ),
        (
            "READY",
            Some(JobStatus::Succeeded),
            Some("rt-03"),
            Some("u20007")
        )
    );
    let failed = app("20003");
    assert_eq!(failed.status.as_str(), "FAILED");
    assert_eq!(
        failed.error_message.as_deref(),
        Some("build failed: exit 1")
    );
    let unfinished = app("20000");
    assert_eq!(unfinished.status.as_str(), "FAILED");
    let why = unfinished.error_message.unwrap_or_default();
    assert!(
        why.contains(&job_id(200)) && why.contains("PENDING") && why.contains("did not run"),
        "{why}"
    );
    assert!(
        app("20001")
            .error_message
            .unwrap_or_default()
            .contains("RUNNING")
    );

    // The estate's string job ids answer, read-only, as deployd's job JSON.
    let done = job_id(17);
    for admin in [false, true] {
        let path = if admin {
            "/admin/jobs/"
        } else {
            "/deploy/jobs/"
        };
        let (st, v) = get(&a, &format!("{path}{done}"), admin).await;
        assert_eq!(st, 200, "{v}");
        let j = &v["data"];
        assert_eq!(j["id"], done.as_str());
        assert_eq!(j["appId"], "20017");
        assert_eq!(j["userId"], "u20017");
        assert_eq!(j["status"], "SUCCEEDED");
        assert_eq!(j["type"], "BUILD_AND_DEPLOY");
        assert_eq!(j["runnerId"], "old-runner-1");
        assert_eq!(j["payload"]["appId"], 20017);
        assert_eq!(j["estate"]["table"], "fun_ai_deploy_job_estate");
        assert!(j["createdAt"].as_str().unwrap().starts_with("2026-11-01"));
    }
    let (st, v) = get(&a, &format!("/deploy/jobs/{}", job_id(13)), false).await;
    assert_eq!(
        (st, v["data"]["errorMessage"].as_str()),
        (200, Some("build failed: exit 1"))
    );
    let (st, v) = get(&a, &format!("/deploy/jobs/{}", job_id(200)), false).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["status"], "CANCELLED", "{v}");
    assert_eq!(v["data"]["estate"]["status"], "PENDING");
    let (st, v) = get(&a, "/deploy/jobs/dj-nosuch", false).await;
    assert_eq!(st, 404, "{v}");

    // The nodes beat again; the estate's unfinished jobs are never claimed.
    for n in 1..=NODES {
        let name = format!("rt-0{n}");
        // rt-01 has the most free disk: where a new app goes.
        let pct = if n == 1 { 90.0 } else { 40.0 };
        c.node_heartbeat(&node_hb(&name, pct, 10_000_000_000, 1))
            .await
            .unwrap();
    }
    assert!(
        claim(&c, "r1", 0).await.is_none(),
        "nothing of deployd's pending"
    );

    // An app the estate placed on rt-03 goes to rt-03 again; a new app to the best node.
    let sticky = create(&c, user_payload("u20002", "20002")).await;
    let claimed = claim(&c, "r1", 0).await.unwrap();
    assert_eq!(claimed.id, sticky.id);
    assert_eq!(claimed.runtime_node.unwrap().node_name, "rt-03");
    report(&c, sticky.id, "r1", JobStatus::Succeeded).await;
    let fresh = create(&c, user_payload("u29999", "29999")).await;
    let claimed = claim(&c, "r1", 0).await.unwrap();
    assert_eq!(claimed.id, fresh.id);
    assert_eq!(claimed.runtime_node.unwrap().node_name, "rt-01");
    report(&c, fresh.id, "r1", JobStatus::Succeeded).await;
    assert!(claim(&c, "r1", 0).await.is_none());

    // A restart imports nothing again (the import is recorded), and changes no count.
    let during = tally(&url).await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    let again = start(&url).await;
    assert_eq!(tally(&url).await, during);
    assert_eq!(estate_imports(&again).await, 1);
    assert_eq!(
        again.client().app("20002").await.unwrap().last_job_id,
        Some(sticky.id)
    );

    // `deployd import-estate` copies nothing new, and says so.
    let (ok, out, err) = import_estate(&url, &[]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("renamed: nothing"), "{out}");
    assert!(
        out.contains(&format!("nodes: 0 copied, {NODES} already in deployd")),
        "{out}"
    );
    assert!(
        out.contains(&format!("placements: 0 copied, {APPS} already in deployd")),
        "{out}"
    );
    assert!(
        out.contains(&format!("app runs: 0 copied, {APPS} already in deployd")),
        "{out}"
    );
    assert!(
        out.contains(&format!("jobs: {JOBS} kept in fun_ai_deploy_job_estate")),
        "{out}"
    );
    assert!(out.contains("nothing new"), "{out}");
    assert_eq!(tally(&url).await, during);
    assert!(claim(&again.client(), "r1", 0).await.is_none());

    // The way back, printed, never run here.
    let (ok, sql, err) = import_estate(&url, &["--rollback-sql"]);
    assert!(ok, "{err}");
    assert!(
        sql.contains("RENAME TABLE `fun_ai_deploy_job_estate` TO `fun_ai_deploy_job`"),
        "{sql}"
    );
    assert!(sql.contains("DROP TABLE `fun_ai_deploy_job`"), "{sql}");
    assert!(!sql.contains("fun_ai_deploy_switch"), "{sql}");
    assert_eq!(tally(&url).await, during);
    again.stop().await.unwrap();

    // Run, it gives the estate its tables back as they were; deployd then starts over.
    // Run without dropping _sqlx_migrations, deployd refuses to guess and says what to do.
    execute(&url, &sql.replace(", `_sqlx_migrations`", "")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = testkit::deployd::settings(dir.path());
    s.database_url = url.clone();
    let err = match deployd::build_state(s, tokio_util::sync::CancellationToken::new()).await {
        Ok(_) => panic!("deployd started on the estate's tables with its own migrations recorded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("drop _sqlx_migrations"), "{err}");
    assert_eq!(
        count(&url, "fun_ai_deploy_job").await,
        JOBS,
        "nothing changed"
    );
    execute(&url, "DROP TABLE _sqlx_migrations").await;
    for (table, rows) in [
        ("fun_ai_deploy_job", JOBS),
        ("fun_ai_deploy_runtime_node", NODES),
        ("fun_ai_deploy_runtime_placement", APPS),
        ("fun_ai_deploy_app_run", APPS),
        ("fun_ai_deploy_job_log", 1),
        ("fun_ai_deploy_switch", 1),
    ] {
        assert_eq!(count(&url, table).await, rows, "{table}");
    }
    assert_eq!(tables_like(&url, "%\\_estate").await, Vec::<String>::new());
    assert_eq!(
        tables_like(&url, "\\_sqlx\\_migrations").await,
        Vec::<String>::new()
    );
    let over = start(&url).await;
    assert_eq!(over.client().apps().await.unwrap().len() as i64, APPS);
    assert_eq!(count(&url, "fun_ai_deploy_job_estate").await, JOBS);
    over.stop().await.unwrap();
}

/// Runs the statements of `sql` (`;`-separated, `--` comment lines left out).
async fn execute(url: &str, sql: &str) {
    let pool = MySqlPool::connect(url).await.unwrap();
    let lines: Vec<&str> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    for stmt in lines.join("\n").split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(AssertSqlSafe(stmt.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    pool.close().await;
}

/// The tables of the database whose names are LIKE `pattern`.
async fn tables_like(url: &str, pattern: &str) -> Vec<String> {
    let pool = MySqlPool::connect(url).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? ORDER BY 1",
    )
    .bind(pattern)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estate_tables_that_cannot_be_put_aside_stop_deployd_and_change_nothing() {
    let Some(url) = estate_database().await else {
        return;
    };
    execute(&url, "CREATE TABLE fun_ai_deploy_app_run_estate (x INT)").await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = testkit::deployd::settings(dir.path());
    s.database_url = url.clone();
    let err = match deployd::build_state(s, tokio_util::sync::CancellationToken::new()).await {
        Ok(_) => panic!("deployd started beside a table it would have renamed onto"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("fun_ai_deploy_app_run_estate exist already") && err.contains("estate_suffix"),
        "{err}"
    );
    assert!(
        !err.contains(url.split('@').next().unwrap_or_default()),
        "{err}"
    );
    assert_eq!(count(&url, "fun_ai_deploy_job").await, JOBS);
    assert_eq!(count(&url, "fun_ai_deploy_app_run").await, APPS);
    assert_eq!(
        tables_like(&url, "\\_sqlx\\_migrations").await,
        Vec::<String>::new(),
        "not migrated"
    );

    // Another suffix: the estate's tables go there.
    let (ok, out, err) = import_estate_with(
        &url,
        &["--rollback-sql"],
        &[("DEPLOYD_DATABASE__ESTATE_SUFFIX", "_old")],
    );
    assert!(!ok, "nothing to roll back yet: {out}");
    assert!(err.contains("\"_old\""), "{err}");
    let (ok, out, err) = import_estate_with(
        &url,
        &[],
        // One connection: the lock, the migrations and the import share it.
        &[
            ("DEPLOYD_DATABASE__ESTATE_SUFFIX", "_old"),
            ("DEPLOYD_DATABASE__MAX_CONNECTIONS", "1"),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("fun_ai_deploy_job -> fun_ai_deploy_job_old"),
        "{out}"
    );
    assert!(out.contains(&format!("app runs: {APPS} copied")), "{out}");
    assert_eq!(count(&url, "fun_ai_deploy_job_old").await, JOBS);
    assert_eq!(
        count(&url, "fun_ai_deploy_app_run_estate").await,
        0,
        "left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_estate_refuses_a_database_that_is_not_mysql() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let (ok, out, err) = import_estate(&url, &[]);
    assert!(!ok, "{out}");
    assert!(err.contains("MySQL/MariaDB"), "{err}");
    assert!(!dir.path().join("d.db").exists(), "nothing created");
}
