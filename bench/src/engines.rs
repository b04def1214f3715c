//! deployd per database engine: full-lifecycle throughput beside bare transactions on the
//! same engine, create→claim across two replicas, heartbeat ingest and placement with
//! thousands of runtime nodes, and the resident memory of the deployd binary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use deployd::store::{ClaimParams, Engine};
use protocol::client::DeployClient;
use protocol::job::JobPayload;
use protocol::node::NodeHeartbeat;
use testkit::deployd::{self as testing, TestDeployd};
use tokio::io::AsyncBufReadExt;

use crate::{Row, bare_sqlite, create_to_claim_with, lifecycle_with, ms, node, pct};

pub(crate) fn name(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "SQLite",
        Engine::Mysql => "MariaDB",
        Engine::Postgres => "PostgreSQL",
    }
}

/// The engines asked for whose server is there; the others are said to be skipped.
pub fn available(asked: &[String]) -> Vec<Engine> {
    let mut out = Vec::new();
    for a in asked {
        let (e, var) = match a.as_str() {
            "sqlite" => (Engine::Sqlite, None),
            "mysql" | "mariadb" => (Engine::Mysql, Some("FUNAI_TEST_MYSQL_URL")),
            "postgres" | "postgresql" => (Engine::Postgres, Some("FUNAI_TEST_POSTGRES_URL")),
            other => {
                eprintln!("unknown engine {other:?} skipped (sqlite, mysql, postgres)");
                continue;
            }
        };
        match var {
            Some(v) if std::env::var(v).map(|u| u.is_empty()).unwrap_or(true) => eprintln!(
                "{} skipped: {v} is not set (run under scripts/bench.sh, or source scripts/services-db.sh; db_up)",
                name(e)
            ),
            _ => out.push(e),
        }
    }
    out
}

async fn start(e: Engine) -> TestDeployd {
    testing::start_on(e, |_| {}).await
}

/// The five write transactions of a job's lifecycle, straight on the engine with sqlx, from
/// `tasks` tasks at once: no HTTP, no rules, no other rows.
pub(crate) async fn bare_transactions(e: Engine, jobs: usize, tasks: usize) -> anyhow::Result<f64> {
    match e {
        Engine::Sqlite => bare_sqlite(jobs, tasks).await,
        Engine::Mysql => {
            let url = testing::fresh_database(e).await;
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(16)
                .connect(&url)
                .await?;
            sqlx::query(
                "CREATE TABLE job (id BIGINT AUTO_INCREMENT PRIMARY KEY, app VARCHAR(64), status VARCHAR(16), \
                 lease BIGINT, log LONGBLOB) ENGINE=InnoDB",
            )
            .execute(&pool)
            .await?;
            let next = Arc::new(AtomicUsize::new(0));
            let t0 = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let pool = pool.clone();
                let next = next.clone();
                handles.push(tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < jobs {
                        let mut tx = pool.begin().await?;
                        let id =
                            sqlx::query("INSERT INTO job (app, status) VALUES ('a', 'PENDING')")
                                .execute(&mut *tx)
                                .await?
                                .last_insert_id();
                        tx.commit().await?;
                        for s in [
                            "UPDATE job SET status = 'RUNNING', lease = 1 WHERE id = ?",
                            "UPDATE job SET lease = 2 WHERE id = ?",
                            "UPDATE job SET log = x'00' WHERE id = ?",
                            "UPDATE job SET status = 'SUCCEEDED' WHERE id = ?",
                        ] {
                            let mut tx = pool.begin().await?;
                            sqlx::query(s).bind(id).execute(&mut *tx).await?;
                            tx.commit().await?;
                        }
                    }
                    Ok::<(), sqlx::Error>(())
                }));
            }
            for h in handles {
                h.await??;
            }
            Ok(jobs as f64 / t0.elapsed().as_secs_f64())
        }
        Engine::Postgres => {
            let url = testing::fresh_database(e).await;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(&url)
                .await?;
            sqlx::query(
                "CREATE TABLE job (id BIGSERIAL PRIMARY KEY, app TEXT, status TEXT, lease BIGINT, log BYTEA)",
            )
            .execute(&pool)
            .await?;
            let next = Arc::new(AtomicUsize::new(0));
            let t0 = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..tasks {
                let pool = pool.clone();
                let next = next.clone();
                handles.push(tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < jobs {
                        let mut tx = pool.begin().await?;
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO job (app, status) VALUES ('a', 'PENDING') RETURNING id",
                        )
                        .fetch_one(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        for s in [
                            "UPDATE job SET status = 'RUNNING', lease = 1 WHERE id = $1",
                            "UPDATE job SET lease = 2 WHERE id = $1",
                            "UPDATE job SET log = '\\x00'::bytea WHERE id = $1",
                            "UPDATE job SET status = 'SUCCEEDED' WHERE id = $1",
                        ] {
                            let mut tx = pool.begin().await?;
                            sqlx::query(s).bind(id).execute(&mut *tx).await?;
                            tx.commit().await?;
                        }
                    }
                    Ok::<(), sqlx::Error>(())
                }));
            }
            for h in handles {
                h.await??;
            }
            Ok(jobs as f64 / t0.elapsed().as_secs_f64())
        }
    }
}

/// Full lifecycle throughput per engine and runner count, beside bare transactions.
pub async fn lifecycle_rows(
    engines: &[Engine],
    jobs: usize,
    runner_counts: &[usize],
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &e in engines {
        for &runners in runner_counts {
            let d = start(e).await;
            let c = d.client();
            node(&c).await?;
            let jps = lifecycle_with(&c, jobs, runners).await?;
            d.stop().await?;
            let bare = bare_transactions(e, jobs, runners).await?;
            rows.push(Row {
                what: format!(
                    "full lifecycle, {runners} runners, {jobs} jobs, {}",
                    name(e)
                ),
                figure: format!("{jps:.0} jobs/s"),
                baseline_what: format!("5 bare {} transactions per job, {runners} tasks", name(e)),
                baseline: format!("{bare:.0} jobs/s"),
                ratio: format!("{:.2}×", jps / bare),
            });
        }
    }
    Ok(rows)
}

/// Create→claim with the runners long-polling on replica A and the jobs created on B.
pub async fn replica_latency_rows(engines: &[Engine], samples: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &e in engines.iter().filter(|e| **e != Engine::Sqlite) {
        let single = start(e).await;
        let c = single.client();
        node(&c).await?;
        let (b50, _) = create_to_claim_with(&c, &c, &single.state, samples).await?;
        single.stop().await?;
        let a = start(e).await;
        let b = testing::replica_of(&a, |_| {}).await;
        // The replicas find each other at their first look at the replica table.
        let t0 = Instant::now();
        while a.state.peers.count() == 0 || b.state.peers.count() == 0 {
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(30),
                "the replicas never found each other"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (ca, cb) = (a.client(), b.client());
        node(&ca).await?;
        let (p50, p99) = create_to_claim_with(&cb, &ca, &a.state, samples).await?;
        b.stop().await?;
        a.stop().await?;
        let how = match e {
            Engine::Postgres => "replica wake-up after commit, LISTEN/NOTIFY beside it",
            _ => "replica wake-up after commit, 100 ms change poll beside it",
        };
        rows.push(Row {
            what: format!(
                "create→claim across replicas p50 / p99 ({}, {how}, {samples} samples)",
                name(e)
            ),
            figure: format!("{} / {}", ms(p50), ms(p99)),
            baseline_what: format!("create→claim p50 on one replica, {}", name(e)),
            baseline: ms(b50),
            ratio: format!("{:.1}×", p50.as_secs_f64() / b50.as_secs_f64()),
        });
    }
    Ok(rows)
}

pub(crate) fn heartbeat(i: usize, round: u64) -> NodeHeartbeat {
    // Disks of every size, some below the placement threshold.
    let spread = ((i * 7919) % 5000) as i64;
    NodeHeartbeat {
        node_name: format!("rt-{i:05}"),
        agent_base_url: format!("http://127.0.0.1:7005/n{i}"),
        gateway_base_url: format!("http://gw{i}.test"),
        disk_free_pct: 5.0 + (spread % 90) as f64,
        disk_free_bytes: (spread + 1) * 1_000_000_000 - round as i64,
        container_count: spread % 40,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    }
}

/// One heartbeat from each of `nodes` nodes through the API, 32 at a time: beats per second,
/// until every beat is answered and, given deployd's state, written (the beats it holds in
/// memory flushed to the database).
async fn ingest(
    c: &DeployClient,
    flush: Option<&deployd::AppState>,
    nodes: usize,
    round: u64,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..32 {
        let c = c.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= nodes {
                    return Ok::<(), anyhow::Error>(());
                }
                c.node_heartbeat(&heartbeat(i, round)).await?;
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    if let Some(state) = flush {
        state.store.flush_beats().await?;
    }
    Ok(nodes as f64 / t0.elapsed().as_secs_f64())
}

/// The same upserts straight on the engine, 32 tasks at once: a round of inserts, then the
/// timed round of updates (as the ingest figure times the second round of heartbeats).
async fn bare_upserts(e: Engine, nodes: usize) -> anyhow::Result<f64> {
    let create = "CREATE TABLE node (name VARCHAR(128) PRIMARY KEY, agent VARCHAR(512), gateway VARCHAR(512), \
                  pct DOUBLE PRECISION, bytes BIGINT, containers BIGINT, seen BIGINT)";
    macro_rules! rounds {
        ($pool:expr, $sql:expr, $lock:expr) => {{
            sqlx::query(create).execute(&$pool).await?;
            let mut rate = 0.0;
            for round in 0..2u64 {
                let next = Arc::new(AtomicUsize::new(0));
                let t0 = Instant::now();
                let mut handles = Vec::new();
                for _ in 0..32 {
                    let pool = $pool.clone();
                    let next = next.clone();
                    let lock = $lock.clone();
                    handles.push(tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= nodes {
                                return Ok::<(), sqlx::Error>(());
                            }
                            let hb = heartbeat(i, round);
                            let _g = lock.lock().await;
                            sqlx::query($sql)
                                .bind(hb.node_name)
                                .bind(hb.agent_base_url)
                                .bind(hb.gateway_base_url)
                                .bind(hb.disk_free_pct)
                                .bind(hb.disk_free_bytes)
                                .bind(hb.container_count)
                                .bind(round as i64)
                                .execute(&pool)
                                .await?;
                        }
                    }));
                }
                for h in handles {
                    h.await??;
                }
                rate = nodes as f64 / t0.elapsed().as_secs_f64();
            }
            Ok(rate)
        }};
    }
    // SQLite takes one writer at a time, as deployd's store does; the servers take many.
    let serial = Arc::new(tokio::sync::Mutex::new(()));
    let parallel = Arc::new(NoLock);
    match e {
        Engine::Sqlite => {
            let dir = tempfile::tempdir()?;
            let opts: sqlx::sqlite::SqliteConnectOptions =
                format!("sqlite://{}?mode=rwc", dir.path().join("n.db").display()).parse()?;
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(
                    opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(30)),
                )
                .await?;
            rounds!(
                pool,
                "INSERT INTO node VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET \
                 agent = ?2, gateway = ?3, pct = ?4, bytes = ?5, containers = ?6, seen = ?7",
                serial
            )
        }
        Engine::Mysql => {
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(16)
                .connect(&testing::fresh_database(e).await)
                .await?;
            rounds!(
                pool,
                "INSERT INTO node VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE agent = VALUES(agent), \
                 gateway = VALUES(gateway), pct = VALUES(pct), bytes = VALUES(bytes), \
                 containers = VALUES(containers), seen = VALUES(seen)",
                parallel
            )
        }
        Engine::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(&testing::fresh_database(e).await)
                .await?;
            rounds!(
                pool,
                "INSERT INTO node VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET \
                 agent = $2, gateway = $3, pct = $4, bytes = $5, containers = $6, seen = $7",
                parallel
            )
        }
    }
}

/// A lock that never waits: the bare upserts on a server engine run side by side.
struct NoLock;

impl NoLock {
    async fn lock(&self) {}
}

/// Claim transactions (placement included) timed inside deployd's store, `n` of them.
async fn placement_times(d: &TestDeployd, n: usize) -> anyhow::Result<(Duration, Duration)> {
    let store = &d.state.store;
    for i in 0..n {
        store
            .create_job(
                &JobPayload {
                    app_id: format!("place{i}"),
                    image: Some("127.0.0.1:5000/bench/app:1".into()),
                    ..Default::default()
                },
                d.state.now(),
            )
            .await?;
    }
    let params = ClaimParams {
        runner_id: "placer".into(),
        lease_ms: 30_000,
        remote_addr: None,
        legacy: false,
        agent_version: None,
    };
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let job = store.claim(&params, d.state.now()).await?;
        times.push(t0.elapsed());
        anyhow::ensure!(job.is_some(), "nothing claimed");
    }
    times.sort();
    Ok((pct(&times, 0.5), pct(&times, 0.99)))
}

/// Heartbeat ingest from `nodes` nodes and placement among them, per engine.
pub async fn node_rows(engines: &[Engine], nodes: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &e in engines {
        let d = start(e).await;
        let c = d.client();
        ingest(&c, Some(&d.state), nodes, 0).await?;
        let rate = ingest(&c, Some(&d.state), nodes, 1).await?;
        let bare = bare_upserts(e, nodes).await?;
        rows.push(Row {
            what: format!(
                "node heartbeat ingest, {nodes} nodes, 32 at a time, {} (every 15 s needs {:.0}/s)",
                name(e),
                nodes as f64 / 15.0
            ),
            figure: format!("{rate:.0} beats/s"),
            baseline_what: format!("bare {} upsert of the same rows", name(e)),
            baseline: format!("{bare:.0} upserts/s"),
            ratio: format!("{:.2}×", rate / bare),
        });
        let (p50, p99) = placement_times(&d, 200).await?;
        d.stop().await?;
        let one = start(e).await;
        node(&one.client()).await?;
        let (b50, _) = placement_times(&one, 200).await?;
        one.stop().await?;
        rows.push(Row {
            what: format!(
                "claim with placement at {nodes} nodes p50 / p99 (in the store, {})",
                name(e)
            ),
            figure: format!("{} / {}", ms(p50), ms(p99)),
            baseline_what: format!("the same claim with 1 node, {}", name(e)),
            baseline: ms(b50),
            ratio: format!("{:.2}×", p50.as_secs_f64() / b50.as_secs_f64()),
        });
    }
    Ok(rows)
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The deployd binary with its own database of engine `e`; answers the child and its URL.
async fn spawn_deployd(
    bin: &std::path::Path,
    e: Engine,
    dir: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let url = match e {
        Engine::Sqlite => format!("sqlite://{}", dir.join("deployd.db").display()),
        _ => testing::fresh_database(e).await,
    };
    spawn_deployd_at(bin, &url).await
}

/// The deployd binary on the database at `url` (replicas share one); answers the child and
/// its URL.
pub(crate) async fn spawn_deployd_at(
    bin: &std::path::Path,
    url: &str,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut child = tokio::process::Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("DEPLOYD_DATABASE_URL", url)
        .env("DEPLOYD_LISTEN", "127.0.0.1:0")
        .env("DEPLOYD_AUTH__DEPLOY_SECRET", testing::DEPLOY_SECRET)
        .env("DEPLOYD_AUTH__RUNNER_TOKEN", testing::RUNNER_TOKEN)
        .env("DEPLOYD_AUTH__NODE_TOKEN", testing::NODE_TOKEN)
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", testing::ADMIN_TOKEN)
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("deployd listening")
                && let Some(a) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
            {
                return Some(a.to_string());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| anyhow::anyhow!("the deployd binary did not start"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, format!("http://{addr}")))
}

/// Resident memory of the deployd binary: idle, and at its peak while 64 runners push jobs
/// through and `nodes` nodes heartbeat.
pub async fn memory_rows(
    engines: &[Engine],
    bin: &std::path::Path,
    jobs: usize,
    nodes: usize,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &e in engines {
        let dir = tempfile::tempdir()?;
        let (mut child, url) = spawn_deployd(bin, e, dir.path()).await?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow::anyhow!("deployd exited"))?;
        let c = DeployClient::new(&url)
            .deploy_secret(Some(protocol::Secret::new(testing::DEPLOY_SECRET)))
            .runner_token(Some(protocol::Secret::new(testing::RUNNER_TOKEN)))
            .node_token(Some(protocol::Secret::new(testing::NODE_TOKEN)))
            .admin_token(Some(protocol::Secret::new(testing::ADMIN_TOKEN)));
        node(&c).await?;
        // Settled: the pool is open and the first requests are served.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib(pid).ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
        let peak = Arc::new(AtomicU64::new(idle));
        let stop = tokio_util::sync::CancellationToken::new();
        let sampler = {
            let peak = peak.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    if let Some(kib) = rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let (life, beats) = tokio::join!(lifecycle_with(&c, jobs, 64), ingest(&c, None, nodes, 0));
        life?;
        beats?;
        stop.cancel();
        sampler.await?;
        let _ = child.kill().await;
        let peak = peak.load(Ordering::Relaxed);
        rows.push(Row {
            what: format!(
                "deployd resident memory, peak while 64 runners run {jobs} jobs and {nodes} nodes heartbeat, {}",
                name(e)
            ),
            figure: format!("{:.1} MiB", peak as f64 / 1024.0),
            baseline_what: "the same deployd idle".into(),
            baseline: format!("{:.1} MiB", idle as f64 / 1024.0),
            ratio: format!("{:.2}×", peak as f64 / idle as f64),
        });
    }
    Ok(rows)
}
