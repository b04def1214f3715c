//! An estate at internet scale on this machine, against the release `deployd` binary:
//! `--estate-apps` apps already deployed (seeded straight into the database), `--estate-nodes`
//! runtime nodes heartbeating every 15 s through the API, `--estate-runners` runners
//! long-polling `claim`, and a wave of `--estate-jobs` redeploys of seeded apps created as
//! fast as 16 creators can. Two configurations: one deployd on SQLite, two deployd replicas
//! sharing one PostgreSQL database. Every figure beside a baseline from the same run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deployd::store::Engine;
use protocol::client::DeployClient;
use protocol::job::{ClaimRequest, CreateJobRequest, JobPayload};
use testkit::deployd as testing;
use tokio_util::sync::CancellationToken;

use crate::engines::{bare_transactions, heartbeat, name, rss_kib, spawn_deployd_at};
use crate::{Row, ms, pct};

/// The sizes of the simulated estate (the `--estate-*` knobs).
pub struct Knobs {
    pub apps: usize,
    pub nodes: usize,
    pub runners: usize,
    pub jobs: usize,
}

/// Agents beat every 15 s (DESIGN §3.1).
const PERIOD: Duration = Duration::from_secs(15);
/// Concurrent job creators during the wave.
const CREATORS: usize = 16;
/// Jobs created one at a time before the wave: the idle create→claim baseline.
const PROBES: usize = 20;
/// Rows per INSERT statement while seeding.
const BATCH: usize = 500;
/// How long a long-polling runner waits in `claim`.
const WAIT_SECONDS: i64 = 5;

/// SQLite with one deployd, PostgreSQL with two replicas on one database; the other
/// engines asked for are not part of this section.
pub async fn rows(engines: &[Engine], bin: &Path, k: &Knobs) -> anyhow::Result<Vec<Row>> {
    anyhow::ensure!(
        k.apps >= k.jobs + PROBES,
        "--estate-apps ({}) must be at least --estate-jobs + {PROBES} ({}): each job redeploys its own app",
        k.apps,
        k.jobs + PROBES
    );
    anyhow::ensure!(
        k.nodes > 0 && k.runners > 0 && k.jobs > 0,
        "the estate needs nodes, runners and jobs"
    );
    let mut rows = Vec::new();
    for &e in engines {
        let replicas = match e {
            Engine::Sqlite => 1,
            Engine::Postgres => 2,
            Engine::Mysql => continue,
        };
        rows.extend(configuration(e, replicas, bin, k).await?);
    }
    Ok(rows)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn app_id(i: usize) -> String {
    (i + 1).to_string()
}

/// Three apps per user, as users of the estate hold up to the active-app limit (3).
fn owner(i: usize) -> String {
    (i / 3 + 1).to_string()
}

fn image(i: usize) -> String {
    format!("127.0.0.1:5000/funai/u{}-app{}:1", owner(i), app_id(i))
}

/// The app of wave slot `s` (0..jobs, then the probes): spread over the whole estate.
fn slot_app(s: usize, k: &Knobs) -> usize {
    s * (k.apps / (k.jobs + PROBES))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The database of one configuration, opened by the benchmark itself (seeding, sizes, the
/// bare baselines); deployd has its own pool.
enum Db {
    Lite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    async fn open(e: Engine, url: &str) -> anyhow::Result<Db> {
        Ok(match e {
            Engine::Sqlite => {
                let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
                Db::Lite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(
                            opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                                .busy_timeout(Duration::from_secs(30)),
                        )
                        .await?,
                )
            }
            Engine::Postgres => Db::Pg(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await?,
            ),
            Engine::Mysql => anyhow::bail!("the estate section runs on SQLite and PostgreSQL"),
        })
    }

    /// The statements in one transaction, then `after` outside it.
    async fn run_in_tx(&self, stmts: Vec<String>, after: &[&str]) -> anyhow::Result<()> {
        macro_rules! go {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for s in stmts {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(s))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                for s in after {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
                        .execute($pool)
                        .await?;
                }
            }};
        }
        match self {
            Db::Lite(p) => go!(p),
            Db::Pg(p) => go!(p),
        }
        Ok(())
    }

    /// The upsert deployd writes for a node heartbeat, straight on the seeded table, one at
    /// a time: how long each took.
    async fn upsert_times(&self, nodes: usize) -> anyhow::Result<Vec<Duration>> {
        const LITE: &str = "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, \
             disk_free_pct, disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 0, ?7, ?8, ?8, ?8) \
             ON CONFLICT (node_name) DO UPDATE SET agent_base_url = excluded.agent_base_url, \
             gateway_base_url = excluded.gateway_base_url, disk_free_pct = excluded.disk_free_pct, \
             disk_free_bytes = excluded.disk_free_bytes, container_count = excluded.container_count, \
             remote_addr = excluded.remote_addr, last_heartbeat_at = excluded.last_heartbeat_at, \
             updated_at = excluded.updated_at";
        const PG: &str = "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, \
             disk_free_pct, disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7, $8, $8, $8) \
             ON CONFLICT (node_name) DO UPDATE SET agent_base_url = excluded.agent_base_url, \
             gateway_base_url = excluded.gateway_base_url, disk_free_pct = excluded.disk_free_pct, \
             disk_free_bytes = excluded.disk_free_bytes, container_count = excluded.container_count, \
             remote_addr = excluded.remote_addr, last_heartbeat_at = excluded.last_heartbeat_at, \
             updated_at = excluded.updated_at";
        macro_rules! go {
            ($pool:expr, $sql:expr) => {{
                let mut times = Vec::with_capacity(nodes);
                for i in 0..nodes {
                    let hb = heartbeat(i, 7);
                    let t0 = Instant::now();
                    sqlx::query($sql)
                        .bind(hb.node_name)
                        .bind(hb.agent_base_url)
                        .bind(hb.gateway_base_url)
                        .bind(hb.disk_free_pct)
                        .bind(hb.disk_free_bytes)
                        .bind(hb.container_count)
                        .bind("127.0.0.1")
                        .bind(now_ms())
                        .execute($pool)
                        .await?;
                    times.push(t0.elapsed());
                }
                times
            }};
        }
        let mut times = match self {
            Db::Lite(p) => go!(p, LITE),
            Db::Pg(p) => go!(p, PG),
        };
        times.sort();
        Ok(times)
    }

    /// SQLite: the database file and its WAL; PostgreSQL: `pg_database_size`.
    async fn size(&self, sqlite_file: &Path) -> anyhow::Result<u64> {
        match self {
            Db::Lite(_) => {
                let mut wal = sqlite_file.as_os_str().to_owned();
                wal.push("-wal");
                let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                Ok(len(sqlite_file) + len(Path::new(&wal)))
            }
            Db::Pg(p) => {
                let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(p)
                    .await?;
                Ok(n.max(0) as u64)
            }
        }
    }

    async fn close(self) {
        match self {
            Db::Lite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }
}

/// The estate's past, written straight into the tables in multi-row INSERTs inside one
/// transaction. This bypasses the API on purpose: 100,000 deploys through deployd would take
/// minutes and are not what is measured; what is measured is deployd serving an estate that
/// already holds them. Per app: its last job (SUCCEEDED), its app run (READY) and its
/// placement, spread evenly over the nodes; per node: its row, healthy as of now; per
/// user: the row job creation locks.
fn seed_statements(e: Engine, k: &Knobs, now: i64) -> anyhow::Result<Vec<String>> {
    let mut stmts = Vec::new();
    let day_ago = now - 86_400_000;
    for chunk in (0..k.nodes).collect::<Vec<_>>().chunks(BATCH) {
        let values: Vec<String> = chunk
            .iter()
            .map(|&n| {
                let hb = heartbeat(n, 0);
                format!(
                    "({}, {}, {}, {:?}, {}, {}, 1, 0, '127.0.0.1', {now}, {day_ago}, {now})",
                    lit(&hb.node_name),
                    lit(&hb.agent_base_url),
                    lit(&hb.gateway_base_url),
                    hb.disk_free_pct,
                    hb.disk_free_bytes,
                    hb.container_count
                )
            })
            .collect();
        stmts.push(format!(
            "INSERT INTO fun_ai_deploy_runtime_node (node_name, agent_base_url, gateway_base_url, disk_free_pct, \
             disk_free_bytes, container_count, enabled, draining, remote_addr, last_heartbeat_at, created_at, \
             updated_at) VALUES {}",
            values.join(", ")
        ));
    }
    for start in (0..k.apps).step_by(BATCH) {
        let end = (start + BATCH).min(k.apps);
        let (mut jobs, mut runs, mut places, mut users) = (
            Vec::with_capacity(BATCH),
            Vec::with_capacity(BATCH),
            Vec::with_capacity(BATCH),
            Vec::new(),
        );
        for i in start..end {
            let hb = heartbeat(i % k.nodes, 0);
            let (app, user, img) = (app_id(i), owner(i), image(i));
            let at = day_ago + i as i64;
            let job_id = i + 1;
            let payload = serde_json::to_string(&JobPayload {
                app_id: app.clone(),
                user_id: Some(user.clone()),
                image: Some(img.clone()),
                ..Default::default()
            })?;
            let node_json = serde_json::json!({
                "nodeName": hb.node_name,
                "agentBaseUrl": hb.agent_base_url,
                "gatewayBaseUrl": hb.gateway_base_url,
            })
            .to_string();
            let url = format!("{}/runtime/{app}/", hb.gateway_base_url);
            let recent = serde_json::json!([{
                "image": img,
                "jobId": job_id,
                "commitSha": null,
                "deployedAt": "2026-01-01T00:00:00Z",
            }])
            .to_string();
            jobs.push(format!(
                "({job_id}, 'BUILD_AND_DEPLOY', 'SUCCEEDED', {}, {}, {}, 'seed-runner', 1, 3, {}, {}, {}, \
                 24, 24, 0, {at}, {at}, {at}, {at})",
                lit(&app),
                lit(&user),
                lit(&payload),
                lit(&img),
                lit(&node_json),
                lit(&url)
            ));
            runs.push(format!(
                "({}, {}, {}, {job_id}, 'SUCCEEDED', 'READY', {}, {}, {}, {at})",
                lit(&app),
                lit(&user),
                lit(&hb.node_name),
                lit(&img),
                lit(&url),
                lit(&recent)
            ));
            places.push(format!(
                "({}, {}, {}, {at}, {at})",
                lit(&app),
                lit(&user),
                lit(&hb.node_name)
            ));
            if i % 3 == 0 {
                users.push(format!("({})", lit(&user)));
            }
        }
        stmts.push(format!(
            "INSERT INTO fun_ai_deploy_job (id, type, status, app_id, user_id, payload_json, runner_id, attempt, \
             max_attempts, image, runtime_node, deploy_url, log_received, log_stored, log_truncated, created_at, \
             updated_at, started_at, finished_at) VALUES {}",
            jobs.join(", ")
        ));
        stmts.push(format!(
            "INSERT INTO fun_ai_deploy_app_run (app_id, user_id, node_name, last_job_id, last_job_status, status, \
             image, deploy_url, recent_images_json, updated_at) VALUES {}",
            runs.join(", ")
        ));
        stmts.push(format!(
            "INSERT INTO fun_ai_deploy_runtime_placement (app_id, user_id, node_name, created_at, updated_at) \
             VALUES {}",
            places.join(", ")
        ));
        if !users.is_empty() {
            stmts.push(format!(
                "INSERT INTO fun_ai_deploy_user_lock (user_id) VALUES {}",
                users.join(", ")
            ));
        }
    }
    if e == Engine::Postgres {
        // The ids above were given explicitly: the identity continues after them.
        stmts.push(format!(
            "SELECT setval(pg_get_serial_sequence('fun_ai_deploy_job', 'id'), {})",
            k.apps.max(1)
        ));
    }
    Ok(stmts)
}

/// Clock ticks (user and system) of one process.
fn ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    (11..=12).map(|i| f.get(i)?.parse::<u64>().ok()).sum()
}

fn pid_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| ticks(&s))
        .unwrap_or(0)
}

/// The processes named `postgres` that serve this run: the server's own (postmaster, WAL
/// writer, checkpointer, ...) and the backends of database `db`, not those of other
/// databases (tests sharing the server name theirs `funai_t_...` in their process title).
/// deployd's pools keep their connections, so no backend of `db` exits mid-wave.
fn postgres_ticks(db: Option<&str>) -> u64 {
    let Some(db) = db else {
        return 0;
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|d| {
            std::fs::read(d.path().join("cmdline")).is_ok_and(|c| {
                let title = String::from_utf8_lossy(&c);
                title.contains(db) || !title.contains("funai_t_")
            })
        })
        .filter_map(|d| std::fs::read_to_string(d.path().join("stat")).ok())
        .filter(|s| {
            s.split_once(" (")
                .is_some_and(|(_, r)| r.starts_with("postgres)"))
        })
        .filter_map(|s| ticks(&s))
        .sum()
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU of deployd (each replica), of the database server and of this benchmark, at one instant.
#[derive(Clone)]
struct Cpu {
    at: Instant,
    deployd: Vec<u64>,
    db: u64,
    bench: u64,
    /// The whole machine (/proc/stat): busy and total ticks over every core.
    machine: (u64, u64),
}

/// Busy and total ticks of all cores: user, nice, system, irq, softirq, steal are busy;
/// idle and iowait are not.
fn machine_ticks() -> (u64, u64) {
    let Some(line) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
    else {
        return (0, 0);
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 8 {
        return (0, 0);
    }
    let busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    (busy, busy + f[3] + f[4])
}

impl Cpu {
    fn now(pids: &[u32], db: Option<&str>) -> Cpu {
        Cpu {
            at: Instant::now(),
            deployd: pids.iter().map(|&p| pid_ticks(p)).collect(),
            db: postgres_ticks(db),
            bench: pid_ticks(std::process::id()),
            machine: machine_ticks(),
        }
    }
}

/// Busy share of one core between two samples: per replica, database server, benchmark.
struct Busy {
    secs: f64,
    deployd: Vec<f64>,
    db: f64,
    bench: f64,
    /// Every process on the machine, in the same unit (100% = one core).
    machine: f64,
}

impl Busy {
    fn between(a: &Cpu, b: &Cpu) -> Busy {
        let tck = clk_tck();
        let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        let pct = |x: u64, y: u64| y.saturating_sub(x) as f64 / tck / wall * 100.0;
        Busy {
            secs: b
                .deployd
                .iter()
                .zip(&a.deployd)
                .map(|(y, x)| y.saturating_sub(*x) as f64 / tck)
                .sum(),
            deployd: a
                .deployd
                .iter()
                .zip(&b.deployd)
                .map(|(x, y)| pct(*x, *y))
                .collect(),
            db: pct(a.db, b.db),
            bench: pct(a.bench, b.bench),
            machine: {
                let busy = b.machine.0.saturating_sub(a.machine.0) as f64;
                let total = b.machine.1.saturating_sub(a.machine.1) as f64;
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                if total > 0.0 {
                    busy / total * cores as f64 * 100.0
                } else {
                    0.0
                }
            },
        }
    }

    fn deployd_total(&self) -> f64 {
        self.deployd.iter().sum()
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

fn lags(v: &[Duration]) -> String {
    format!(
        "{} / {} / {}",
        ms(pct(v, 0.5)),
        ms(pct(v, 0.99)),
        ms(v.last().copied().unwrap_or_default())
    )
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "–".into();
    }
    format!("{:.1}×", a.as_secs_f64() / b.as_secs_f64())
}

fn mem_total_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

fn disk_free_bytes(p: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(p)
        .output()
        .ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// What the runners and creators saw, keyed by app (each app has one job in the run).
#[derive(Default)]
struct Seen {
    created: Mutex<HashMap<String, Instant>>,
    claimed: Mutex<HashMap<String, (Instant, bool)>>,
    last_report: Mutex<Option<Instant>>,
    reported: AtomicUsize,
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl Seen {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_error).get_or_insert_with(|| e.to_string());
    }
}

fn create(app: usize) -> CreateJobRequest {
    CreateJobRequest {
        job_type: Default::default(),
        payload: JobPayload {
            app_id: app_id(app),
            user_id: Some(owner(app)),
            image: Some(image(app)),
            ..Default::default()
        },
    }
}

/// One runner: long-poll claim, then heartbeat, one log append and SUCCEEDED, as
/// `lifecycle_with` does; until `stop`.
async fn runner(
    c: DeployClient,
    id: String,
    nodes: usize,
    seen: Arc<Seen>,
    start_after: Duration,
    stop: CancellationToken,
) {
    // Runners of an estate do not poll in step: their first claims are spread over one
    // long-poll period, as their later ones then are.
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = tokio::time::sleep(start_after) => {}
    }
    loop {
        let req = ClaimRequest {
            runner_id: id.clone(),
            lease_seconds: 30,
            wait_seconds: WAIT_SECONDS,
            agent_version: None,
        };
        let got = tokio::select! {
            _ = stop.cancelled() => return,
            r = c.claim(&req) => r,
        };
        let job = match got {
            Ok(Some(job)) => job,
            Ok(None) => continue,
            Err(e) => {
                seen.error(format!("claim: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let at = Instant::now();
        // Sticky: the app went to the node it was seeded on.
        let sticky = job
            .app_id
            .parse::<usize>()
            .ok()
            .zip(job.runtime_node.as_ref())
            .is_some_and(|(a, n)| n.node_name == heartbeat((a - 1) % nodes, 0).node_name);
        lock(&seen.claimed).insert(job.app_id.clone(), (at, sticky));
        let work = crate::run_job(&c, job.id, &id);
        match work.await {
            Ok(()) => {
                *lock(&seen.last_report) = Some(Instant::now());
                seen.reported.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => seen.error(format!("job {}: {e:#}", job.id)),
        }
    }
}

/// Node heartbeats: node `i` beats at `start + i·15 s/nodes`, then every 15 s, each beat
/// on a task of its own (a slow answer does not delay the next beat). Answers (scheduled
/// time, lag from the schedule to the answer); failures are counted.
async fn heartbeats(
    clients: Vec<DeployClient>,
    nodes: usize,
    start: tokio::time::Instant,
    lag: Arc<Mutex<Vec<(tokio::time::Instant, Duration)>>>,
    failed: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let step = PERIOD.as_nanos() / nodes as u128;
    let mut beat: u128 = 0;
    loop {
        let due = start + Duration::from_nanos((step * beat) as u64);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        let i = (beat % nodes as u128) as usize;
        let round = (beat / nodes as u128) as u64 + 1;
        let c = clients[i % clients.len()].clone();
        let (lag, failed) = (lag.clone(), failed.clone());
        tokio::spawn(async move {
            match c.node_heartbeat(&heartbeat(i, round)).await {
                Ok(_) => lock(&lag).push((due, due.elapsed())),
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        beat += 1;
    }
}

fn client(url: &str) -> DeployClient {
    DeployClient::new(url)
        .deploy_secret(Some(protocol::Secret::new(testing::DEPLOY_SECRET)))
        .runner_token(Some(protocol::Secret::new(testing::RUNNER_TOKEN)))
        .node_token(Some(protocol::Secret::new(testing::NODE_TOKEN)))
        .admin_token(Some(protocol::Secret::new(testing::ADMIN_TOKEN)))
}

async fn configuration(
    e: Engine,
    replicas: usize,
    bin: &Path,
    k: &Knobs,
) -> anyhow::Result<Vec<Row>> {
    let cfg = if replicas == 1 {
        format!("{}, 1 deployd", name(e))
    } else {
        format!("{}, {replicas} deployd replicas", name(e))
    };
    let say = |what: &str| eprintln!("estate [{cfg}]: {what}");
    let dir = tempfile::tempdir()?;
    let sqlite_file = dir.path().join("deployd.db");
    let url = match e {
        Engine::Sqlite => format!("sqlite://{}", sqlite_file.display()),
        _ => testing::fresh_database(e).await,
    };

    // deployd creates its schema; stopped, the estate's past is written under it.
    say("deployd migrates a fresh database");
    let (mut child, _) = spawn_deployd_at(bin, &url).await?;
    child.kill().await?;
    say(&format!(
        "seeding {} apps (job, app run, placement) over {} nodes",
        k.apps, k.nodes
    ));
    let t0 = Instant::now();
    let db = Db::open(e, &url).await?;
    // PostgreSQL: statistics as autovacuum would have gathered them on a live estate.
    // SQLite: the WAL the seeding filled is folded into the file and emptied, so the size
    // after seeding is the file's.
    let after: &[&str] = if e == Engine::Postgres {
        &["ANALYZE"]
    } else {
        &["PRAGMA wal_checkpoint(TRUNCATE)"]
    };
    db.run_in_tx(seed_statements(e, k, now_ms())?, after)
        .await?;
    let seeded_size = db.size(&sqlite_file).await?;
    db.close().await;
    say(&format!(
        "seeded in {:.1} s, database {}",
        t0.elapsed().as_secs_f64(),
        mib(seeded_size)
    ));

    // The database's name, to tell its backends from those of other databases.
    let pg_db = match e {
        Engine::Postgres => url
            .rsplit('/')
            .next()
            .and_then(|t| t.split('?').next())
            .filter(|n| !n.is_empty()),
        _ => None,
    };
    say(&format!("starting {replicas} deployd"));
    let mut children = Vec::new();
    let mut clients = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..replicas {
        let (child, http) = spawn_deployd_at(bin, &url).await?;
        pids.push(
            child
                .id()
                .ok_or_else(|| anyhow::anyhow!("deployd exited at start"))?,
        );
        children.push(child);
        clients.push(client(&http));
    }
    for c in &clients {
        c.health().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss: Vec<u64> = pids.iter().map(|&p| rss_kib(p).unwrap_or(0)).collect();
    let stop = CancellationToken::new();
    let peak_rss = Arc::new(Mutex::new(idle_rss.clone()));
    let sampler = {
        let (peak, stop, pids) = (peak_rss.clone(), stop.clone(), pids.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                for (j, &p) in pids.iter().enumerate() {
                    if let Some(kib) = rss_kib(p) {
                        let mut g = lock(&peak);
                        g[j] = g[j].max(kib);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    say(&format!(
        "{} nodes heartbeat every 15 s (~{:.0}/s), {} runners long-poll; {} s before the wave",
        k.nodes,
        k.nodes as f64 / PERIOD.as_secs_f64(),
        k.runners,
        PERIOD.as_secs()
    ));
    let hb_start = tokio::time::Instant::now() + Duration::from_millis(50);
    let lag = Arc::new(Mutex::new(Vec::new()));
    let hb_failed = Arc::new(AtomicUsize::new(0));
    let beater = tokio::spawn(heartbeats(
        clients.clone(),
        k.nodes,
        hb_start,
        lag.clone(),
        hb_failed.clone(),
        stop.clone(),
    ));
    let seen = Arc::new(Seen::default());
    let mut runners = Vec::new();
    for r in 0..k.runners {
        runners.push(tokio::spawn(runner(
            clients[r % replicas].clone(),
            format!("estate-runner-{r}"),
            k.nodes,
            seen.clone(),
            Duration::from_secs(WAIT_SECONDS as u64) * r as u32 / k.runners as u32,
            stop.clone(),
        )));
    }
    // Settled: every runner started and parked in its long-poll.
    tokio::time::sleep(Duration::from_secs(WAIT_SECONDS as u64 + 1)).await;
    let idle_a = Cpu::now(&pids, pg_db);
    let mut probe = Vec::with_capacity(PROBES);
    for p in 0..PROBES {
        let app = slot_app(k.jobs + p, k);
        let t = Instant::now();
        clients[p % replicas].create_job(&create(app)).await?;
        let key = app_id(app);
        let at = loop {
            if let Some((at, _)) = lock(&seen.claimed).get(&key).copied() {
                break at;
            }
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(30),
                "probe job of app {key} not claimed in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        probe.push(at.duration_since(t));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    probe.sort();
    tokio::time::sleep_until(hb_start + PERIOD).await;
    let idle_b = Cpu::now(&pids, pg_db);

    say(&format!("wave: {} jobs from {CREATORS} creators", k.jobs));
    let wave_a = Cpu::now(&pids, pg_db);
    let wave_t0 = Instant::now();
    let wave_hb_t0 = tokio::time::Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut creators = Vec::new();
    for w in 0..CREATORS {
        let c = clients[w % replicas].clone();
        let (next, seen) = (next.clone(), seen.clone());
        let jobs = k.jobs;
        let per = k.apps / (k.jobs + PROBES);
        creators.push(tokio::spawn(async move {
            loop {
                let s = next.fetch_add(1, Ordering::Relaxed);
                if s >= jobs {
                    return Ok::<(), anyhow::Error>(());
                }
                let app = s * per;
                lock(&seen.created).insert(app_id(app), Instant::now());
                c.create_job(&create(app)).await?;
            }
        }));
    }
    for t in creators {
        t.await??;
    }
    let target = k.jobs + PROBES;
    let limit = Duration::from_secs(120).max(Duration::from_millis(k.jobs as u64 * 20));
    while seen.reported.load(Ordering::SeqCst) < target {
        anyhow::ensure!(
            wave_t0.elapsed() < limit,
            "the wave did not finish in {} s: {} of {target} jobs reported, {} runner errors (first: {})",
            limit.as_secs(),
            seen.reported.load(Ordering::SeqCst),
            seen.errors.load(Ordering::Relaxed),
            lock(&seen.first_error).clone().unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wave_b = Cpu::now(&pids, pg_db);
    // Beats that fail once the deployds are stopped are not the wave's.
    let failed_beats = hb_failed.load(Ordering::Relaxed);
    let wave_end = lock(&seen.last_report).unwrap_or_else(Instant::now);
    let makespan = wave_end.duration_since(wave_t0);
    let wave_hb_end = wave_hb_t0 + makespan;
    say(&format!(
        "wave done in {:.1} s; stopping",
        makespan.as_secs_f64()
    ));
    stop.cancel();
    for r in runners {
        r.await?;
    }
    beater.await?;
    sampler.await?;
    let peak: Vec<u64> = lock(&peak_rss).clone();
    let db = Db::open(e, &url).await?;
    let wave_size = db.size(&sqlite_file).await?;
    for mut c in children {
        let _ = c.kill().await;
    }

    // Measures of the run.
    let mut claim = Vec::with_capacity(k.jobs);
    let mut sticky = 0usize;
    {
        let created = lock(&seen.created);
        let claimed = lock(&seen.claimed);
        for (app, t) in created.iter() {
            if let Some((at, s)) = claimed.get(app) {
                claim.push(at.saturating_duration_since(*t));
                sticky += usize::from(*s);
            }
        }
    }
    claim.sort();
    let (mut idle_lag, mut wave_lag) = (Vec::new(), Vec::new());
    for &(due, l) in lock(&lag).iter() {
        if due < wave_hb_t0 {
            idle_lag.push(l);
        } else if due <= wave_hb_end {
            wave_lag.push(l);
        }
    }
    idle_lag.sort();
    wave_lag.sort();
    let runner_errors = seen.errors.load(Ordering::Relaxed);
    if runner_errors > 0 {
        say(&format!(
            "{runner_errors} runner errors, first: {}",
            lock(&seen.first_error).clone().unwrap_or_default()
        ));
    }
    let idle = Busy::between(&idle_a, &idle_b);
    let wave = Busy::between(&wave_a, &wave_b);

    say("baselines: bare upserts on the same database, bare job transactions");
    let upserts = db.upsert_times(k.nodes.min(1000)).await?;
    db.close().await;
    let bare_rate = bare_transactions(e, k.jobs, CREATORS).await?;
    let bare_makespan = Duration::from_secs_f64(k.jobs as f64 / bare_rate);

    let n = name(e);
    let mut rows = Vec::new();
    rows.push(Row {
        what: format!(
            "estate [{cfg}; {} apps seeded, {} nodes beating every 15 s, {} runners]: wave of {} redeploys \
             from {CREATORS} creators, first create → last report ({sticky} of {} kept their node)",
            k.apps, k.nodes, k.runners, k.jobs, k.jobs
        ),
        figure: format!(
            "{:.2} s ({:.0} jobs/s)",
            makespan.as_secs_f64(),
            k.jobs as f64 / makespan.as_secs_f64()
        ),
        baseline_what: format!("the same jobs as 5 bare {n} transactions each, {CREATORS} tasks"),
        baseline: format!("{:.2} s ({bare_rate:.0} jobs/s)", bare_makespan.as_secs_f64()),
        ratio: ratio(makespan, bare_makespan),
    });
    rows.push(Row {
        what: format!("estate [{cfg}]: create→claim during the wave p50 / p99 (client side)"),
        figure: format!("{} / {}", ms(pct(&claim, 0.5)), ms(pct(&claim, 0.99))),
        baseline_what: format!(
            "create→claim p50 before the wave, {PROBES} jobs one at a time, same estate"
        ),
        baseline: ms(pct(&probe, 0.5)),
        ratio: ratio(pct(&claim, 0.5), pct(&probe, 0.5)),
    });
    let failed = |what: String| {
        if failed_beats > 0 {
            format!("{what} ({failed_beats} beats failed)")
        } else {
            what
        }
    };
    rows.push(Row {
        what: format!(
            "estate [{cfg}]: node heartbeat lag (schedule → answer) p50 / p99 / max before the wave, \
             {} beats",
            idle_lag.len()
        ),
        figure: lags(&idle_lag),
        baseline_what: format!(
            "bare {n} upsert of a node row p50, one at a time, same database"
        ),
        baseline: ms(pct(&upserts, 0.5)),
        ratio: ratio(pct(&idle_lag, 0.5), pct(&upserts, 0.5)),
    });
    rows.push(Row {
        what: failed(format!(
            "estate [{cfg}]: node heartbeat lag p50 / p99 / max during the wave, {} beats",
            wave_lag.len()
        )),
        figure: lags(&wave_lag),
        baseline_what: "heartbeat lag p50 before the wave".into(),
        baseline: ms(pct(&idle_lag, 0.5)),
        ratio: ratio(pct(&wave_lag, 0.5), pct(&idle_lag, 0.5)),
    });
    let per_replica = |b: &Busy| {
        if b.deployd.len() > 1 {
            let each: Vec<String> = b.deployd.iter().map(|p| format!("{p:.0}%")).collect();
            format!(" ({})", each.join(" + "))
        } else {
            String::new()
        }
    };
    let inside = if e == Engine::Sqlite {
        ", SQLite included"
    } else {
        ""
    };
    rows.push(Row {
        what: format!("estate [{cfg}]: deployd CPU during the wave (user+sys{inside})"),
        figure: format!(
            "{:.1} s = {:.0}% of one core{}",
            wave.secs,
            wave.deployd_total(),
            per_replica(&wave)
        ),
        baseline_what: "deployd CPU before the wave (heartbeats, parked claims)".into(),
        baseline: format!("{:.0}% of one core", idle.deployd_total()),
        ratio: if idle.deployd_total() > 0.0 {
            format!("{:.1}×", wave.deployd_total() / idle.deployd_total())
        } else {
            "–".into()
        },
    });
    if e == Engine::Postgres {
        rows.push(Row {
            what: format!(
                "estate [{cfg}]: PostgreSQL server CPU during the wave (every postgres process)"
            ),
            figure: format!("{:.0}% of one core", wave.db),
            baseline_what: "PostgreSQL CPU before the wave".into(),
            baseline: format!("{:.0}% of one core", idle.db),
            ratio: if idle.db > 0.0 {
                format!("{:.1}×", wave.db / idle.db)
            } else {
                "–".into()
            },
        });
    }
    let peak_max = peak.iter().copied().max().unwrap_or(0);
    let idle_max = idle_rss.iter().copied().max().unwrap_or(0);
    rows.push(Row {
        what: format!(
            "estate [{cfg}]: deployd peak RSS{} (VmRSS sampled every 50 ms)",
            if replicas > 1 { " per replica" } else { "" }
        ),
        figure: mib(peak_max * 1024),
        baseline_what: "the same deployd after start on the seeded estate, before any load".into(),
        baseline: mib(idle_max * 1024),
        ratio: if idle_max > 0 {
            format!("{:.2}×", peak_max as f64 / idle_max as f64)
        } else {
            "–".into()
        },
    });
    let size_what = match e {
        Engine::Sqlite => "file + WAL",
        _ => "pg_database_size",
    };
    rows.push(Row {
        what: format!("estate [{cfg}]: database size after the wave ({size_what})"),
        figure: mib(wave_size),
        baseline_what: "right after seeding".into(),
        baseline: mib(seeded_size),
        ratio: format!("{:.2}×", wave_size as f64 / seeded_size.max(1) as f64),
    });
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let capacity = cores as f64 * 100.0;
    let db_part = if e == Engine::Sqlite {
        String::new()
    } else {
        format!(" + {n} {:.0}%", wave.db)
    };
    let ours = wave.deployd_total() + wave.db + wave.bench;
    let others = (wave.machine - ours).max(0.0);
    let used = ours + others;
    let split = format!(
        "deployd {:.0}%{db_part} + load generator {:.0}% + other processes {others:.0}% = {used:.0}% of \
         {capacity:.0}%",
        wave.deployd_total(),
        wave.bench
    );
    let limit = if used >= 0.85 * capacity {
        format!("CPU: the {cores} cores ({split})")
    } else if e == Engine::Sqlite {
        format!("not the cores ({split}): deployd's writes, one at a time on the one SQLite writer")
    } else {
        format!("not the cores ({split}): waits on row locks and round trips")
    };
    let mem = mem_total_bytes().map(gib).unwrap_or_else(|| "?".into());
    let disk = disk_free_bytes(dir.path())
        .map(gib)
        .unwrap_or_else(|| "?".into());
    rows.push(Row {
        what: format!("estate [{cfg}]: what runs out first during the wave"),
        figure: limit,
        baseline_what: "memory and disk beside it".into(),
        baseline: format!(
            "RSS {}{} of {mem} RAM; database {} of {disk} free disk",
            mib(peak.iter().sum::<u64>() * 1024),
            if replicas > 1 { " (all replicas)" } else { "" },
            mib(wave_size)
        ),
        ratio: "–".into(),
    });
    Ok(rows)
}
