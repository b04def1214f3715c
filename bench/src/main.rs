//! Benchmarks of the release path. Each figure is printed beside a baseline measured in the
//! same run, as one markdown table. `cargo run --release -p funai-bench -- --help`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

mod engines;
mod estate;
mod runtime;
use protocol::client::DeployClient;
use protocol::job::{
    ClaimRequest, CreateJobRequest, HeartbeatRequest, JobPayload, JobStatus, ReportRequest,
};
use protocol::node::NodeHeartbeat;

#[derive(Parser)]
#[command(about = "deployd benchmarks, each beside a baseline from the same run")]
struct Args {
    /// Create→claim samples.
    #[arg(long, default_value_t = 300)]
    latency_samples: usize,
    /// Jobs pushed through the full lifecycle.
    #[arg(long, default_value_t = 1600)]
    lifecycle_jobs: usize,
    /// Concurrent runners for the lifecycle figure.
    #[arg(long, default_value_t = 16)]
    runners: usize,
    /// Rounds of each runtime deploy figure.
    #[arg(long, default_value_t = 5)]
    deploy_rounds: usize,
    /// Apps deployed for agentd's resident memory figure.
    #[arg(long, default_value_t = 20)]
    rss_apps: usize,
    /// Jobs pushed through the full lifecycle per engine and runner count.
    #[arg(long, default_value_t = 2000)]
    engine_jobs: usize,
    /// Simulated runtime nodes for heartbeat ingest and placement.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Engines for the engines, nodes and memory sections (mysql and postgres need the
    /// servers of scripts/services-db.sh: FUNAI_TEST_MYSQL_URL, FUNAI_TEST_POSTGRES_URL).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,mysql,postgres")]
    engines: Vec<String>,
    /// Apps already deployed in the estate section (seeded straight into the database).
    #[arg(long, default_value_t = 100_000)]
    estate_apps: usize,
    /// Runtime nodes heartbeating every 15 s in the estate section.
    #[arg(long, default_value_t = 1000)]
    estate_nodes: usize,
    /// Runners long-polling claim in the estate section.
    #[arg(long, default_value_t = 200)]
    estate_runners: usize,
    /// Jobs of the estate section's deploy wave (redeploys of seeded apps).
    #[arg(long, default_value_t = 5000)]
    estate_jobs: usize,
    /// Sections to run: deployd (SQLite latency and lifecycle), engines (lifecycle per
    /// engine with 16 and 64 runners, latency across replicas), nodes (heartbeat ingest and
    /// placement at --nodes nodes), memory (resident memory of the deployd binary), runtime
    /// (needs Docker and the registry of scripts/services.sh). Not in the default list:
    /// estate (the release deployd binary serving --estate-apps seeded apps, --estate-nodes
    /// heartbeating nodes, --estate-runners runners and a wave of --estate-jobs jobs; one
    /// deployd on SQLite, two replicas on PostgreSQL; a few minutes).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "deployd,engines,nodes,memory,runtime"
    )]
    only: Vec<String>,
}

pub(crate) struct Row {
    pub what: String,
    pub figure: String,
    pub baseline_what: String,
    pub baseline: String,
    pub ratio: String,
}

pub(crate) fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    pct(v, 0.5)
}

pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn payload(app: String) -> CreateJobRequest {
    CreateJobRequest {
        job_type: Default::default(),
        payload: JobPayload {
            user_id: Some(format!("o{app}")),
            app_id: app,
            image: Some("127.0.0.1:5000/bench/app:1".into()),
            ..Default::default()
        },
    }
}

pub(crate) async fn node(c: &DeployClient) -> anyhow::Result<()> {
    c.node_heartbeat(&NodeHeartbeat {
        node_name: "rt-bench".into(),
        agent_base_url: "http://127.0.0.1:7005".into(),
        gateway_base_url: "http://127.0.0.1:8080".into(),
        disk_free_pct: 80.0,
        disk_free_bytes: 1 << 40,
        container_count: 0,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    })
    .await?;
    Ok(())
}

/// Create→claim latency with long-polling runners already waiting.
async fn create_to_claim(samples: usize) -> anyhow::Result<(Duration, Duration)> {
    let d = testkit::deployd::start().await;
    let c = d.client();
    node(&c).await?;
    create_to_claim_with(&c, &c, &d.state, samples).await
}

/// Create→claim latency: 4 runners long-poll through `claimer` (whose state is
/// `claimer_state`), jobs are created through `creator` (the same deployd, or another
/// replica of it). Each job is created once all 4 claims are parked waiting, so the figure
/// is the wake-up, not a runner that happened to be looking.
pub(crate) async fn create_to_claim_with(
    creator: &DeployClient,
    claimer: &DeployClient,
    claimer_state: &deployd::AppState,
    samples: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let stop = tokio_util::sync::CancellationToken::new();
    let before = claimer.runners().await?.len();
    for r in 0..4 {
        let c = claimer.clone();
        let tx = tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let runner = format!("poller-{r}");
            while !stop.is_cancelled() {
                let req = ClaimRequest {
                    runner_id: runner.clone(),
                    lease_seconds: 30,
                    wait_seconds: 5,
                    agent_version: None,
                };
                if let Ok(Some(job)) = c.claim(&req).await {
                    let _ = tx.send((job.id, Instant::now()));
                    let _ = c
                        .report(
                            job.id,
                            &ReportRequest {
                                error_code: None,
                                runner_id: runner.clone(),
                                status: JobStatus::Succeeded,
                                error_message: None,
                                image: None,
                                commit_sha: None,
                            },
                        )
                        .await;
                }
            }
        });
    }
    // Let the pollers enter their long-poll.
    while claimer.runners().await.map(|r| r.len()).unwrap_or(0) < before + 4 {
        tokio::task::yield_now().await;
    }
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let parked = Instant::now();
        while claimer_state
            .waiting
            .claims
            .load(std::sync::atomic::Ordering::SeqCst)
            < 4
        {
            anyhow::ensure!(
                parked.elapsed() < Duration::from_secs(30),
                "the pollers never parked"
            );
            tokio::task::yield_now().await;
        }
        let t0 = Instant::now();
        let job = creator.create_job(&payload(format!("lat{i}"))).await?;
        let (id, at) = rx
            .recv()
            .await
            .ok_or_else(|| anyhow::anyhow!("pollers gone"))?;
        anyhow::ensure!(id == job.id, "claimed {id}, created {}", job.id);
        lat.push(at.duration_since(t0));
    }
    stop.cancel();
    lat.sort();
    Ok((pct(&lat, 0.5), pct(&lat, 0.99)))
}

/// Full lifecycle per job: create, claim, heartbeat, log append, report.
/// Also answers the same deployd's HTTP floor ([`http_floor`]), measured right after.
async fn lifecycle(jobs: usize, runners: usize) -> anyhow::Result<(f64, f64)> {
    let d = testkit::deployd::start().await;
    let c = d.client();
    node(&c).await?;
    let jps = lifecycle_with(&c, jobs, runners).await?;
    let floor = http_floor(&d.url, jobs, runners).await?;
    Ok((jps, floor))
}

/// What HTTP alone allows: jobs per second if each of a job's five requests cost only its
/// trip through the client, the server and deployd's router (a path deployd answers 404
/// without its database), `tasks` at once on one keep-alive client as the runners use.
async fn http_floor(url: &str, jobs: usize, tasks: usize) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let target = format!("{url}/deploy/none");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (http, target, next) = (http.clone(), target.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < jobs {
                for _ in 0..5 {
                    let st = http.post(&target).body("{}").send().await?.status();
                    anyhow::ensure!(
                        st == reqwest::StatusCode::NOT_FOUND,
                        "{target} answered {st}"
                    );
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(jobs as f64 / t0.elapsed().as_secs_f64())
}

/// Jobs per second through the full lifecycle, `runners` at once, against `c`.
pub(crate) async fn lifecycle_with(
    c: &DeployClient,
    jobs: usize,
    runners: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let empty = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..runners {
        let c = c.clone();
        let next = next.clone();
        let empty = empty.clone();
        tasks.push(tokio::spawn(async move {
            let runner = format!("runner-{r}");
            let mut done = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    return Ok::<usize, anyhow::Error>(done);
                }
                c.create_job(&payload(format!("life{i}"))).await?;
                // A pending job exists for this claim, but on a server engine another
                // runner's claim may hold it locked this instant (SKIP LOCKED): look again.
                let mut tries = 0;
                let job = loop {
                    let got = c
                        .claim(&ClaimRequest {
                            runner_id: runner.clone(),
                            lease_seconds: 30,
                            wait_seconds: 0,
                            agent_version: None,
                        })
                        .await?;
                    match got {
                        Some(job) => break job,
                        None if tries < 1000 => {
                            tries += 1;
                            empty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        None => anyhow::bail!("nothing to claim after {tries} tries"),
                    }
                };
                run_job(&c, job.id, &runner).await?;
                done += 1;
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let rate = jobs as f64 / t0.elapsed().as_secs_f64();
    anyhow::ensure!(total == jobs, "{total} of {jobs} jobs finished");
    eprintln!(
        "lifecycle: {jobs} jobs, {runners} runners, {:.0} jobs/s, {} claims found nothing",
        rate,
        empty.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(rate)
}

/// What a runner does with a claimed job, in the figures: one heartbeat with a phase, one
/// log append, a report of success.
pub(crate) async fn run_job(c: &DeployClient, job: i64, runner: &str) -> anyhow::Result<()> {
    c.heartbeat(
        job,
        &HeartbeatRequest {
            runner_id: runner.to_string(),
            extend_seconds: Some(30),
            phase: Some("BUILD".into()),
            phase_message: None,
        },
    )
    .await?;
    c.append_log(job, 0, b"Step 1/2 : FROM scratch\n".to_vec())
        .await?;
    c.report(
        job,
        &ReportRequest {
            error_code: None,
            runner_id: runner.to_string(),
            status: JobStatus::Succeeded,
            error_message: None,
            image: None,
            commit_sha: None,
        },
    )
    .await?;
    Ok(())
}

/// The baseline: the same five write transactions per job, straight on SQLite with sqlx,
/// from the same number of concurrent tasks, no HTTP and no logic.
pub(crate) async fn bare_sqlite(jobs: usize, tasks: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bare.db").display());
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let opts = opts
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await?;
    sqlx::query(
        "CREATE TABLE job (id INTEGER PRIMARY KEY, app TEXT, status TEXT, lease INTEGER, log BLOB)",
    )
    .execute(&pool)
    .await?;
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let pool = pool.clone();
        let next = next.clone();
        let lock = lock.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    return Ok::<(), sqlx::Error>(());
                }
                let stmts: [&'static str; 5] = [
                    "INSERT INTO job (app, status) VALUES ('a', 'PENDING')",
                    "UPDATE job SET status = 'RUNNING', lease = 1 WHERE id = (SELECT MAX(id) FROM job)",
                    "UPDATE job SET lease = 2 WHERE id = (SELECT MAX(id) FROM job)",
                    "UPDATE job SET log = x'00' WHERE id = (SELECT MAX(id) FROM job)",
                    "UPDATE job SET status = 'SUCCEEDED' WHERE id = (SELECT MAX(id) FROM job)",
                ];
                for s in stmts {
                    let _g = lock.lock().await;
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query(s).execute(&mut *tx).await?;
                    tx.commit().await?;
                }
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(jobs as f64 / t0.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let wants = |s: &str| args.only.iter().any(|o| o == s);
    let mut rows = Vec::new();
    // A section that fails is named, the others still run and the table still prints;
    // the exit status says something failed.
    let mut failed = Vec::new();
    let mut record = |section: &str, r: anyhow::Result<Vec<Row>>| match r {
        Ok(r) => rows.extend(r),
        Err(e) => {
            eprintln!("section {section} FAILED: {e:#}");
            failed.push(section.to_string());
        }
    };
    if wants("deployd") {
        record("deployd", control(&args).await);
    }
    let engines = engines::available(&args.engines);
    if wants("engines") {
        record(
            "engines",
            engines::lifecycle_rows(&engines, args.engine_jobs, &[16, 64]).await,
        );
        record(
            "engines",
            engines::replica_latency_rows(&engines, args.latency_samples).await,
        );
    }
    if wants("nodes") {
        record("nodes", engines::node_rows(&engines, args.nodes).await);
    }
    if wants("memory") {
        let bin = std::env::current_exe()?.with_file_name("deployd");
        let r = if bin.exists() {
            engines::memory_rows(&engines, &bin, args.engine_jobs, args.nodes).await
        } else {
            Err(anyhow::anyhow!(
                "{} is missing: cargo build --release -p deployd",
                bin.display()
            ))
        };
        record("memory", r);
    }
    if wants("estate") {
        let bin = std::env::current_exe()?.with_file_name("deployd");
        let knobs = estate::Knobs {
            apps: args.estate_apps,
            nodes: args.estate_nodes,
            runners: args.estate_runners,
            jobs: args.estate_jobs,
        };
        let r = if bin.exists() {
            estate::rows(&engines, &bin, &knobs).await
        } else {
            Err(anyhow::anyhow!(
                "{} is missing: cargo build --release -p deployd",
                bin.display()
            ))
        };
        record("estate", r);
    }
    if wants("runtime") {
        match testkit::agentd::services() {
            Some(s) => {
                record("runtime", runtime::run(&s, args.deploy_rounds).await);
                let bin = std::env::current_exe()?.with_file_name("agentd");
                let r = if bin.exists() {
                    runtime::agentd_rss(&s, &bin, args.rss_apps).await
                } else {
                    Err(anyhow::anyhow!(
                        "{} is missing: cargo build --release -p agentd",
                        bin.display()
                    ))
                };
                record("runtime", r);
            }
            None => eprintln!("runtime section skipped: no registry (run under scripts/bench.sh)"),
        }
    }
    println!("| measure | figure | baseline | baseline figure | figure/baseline |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.figure, r.baseline_what, r.baseline, r.ratio
        );
    }
    anyhow::ensure!(failed.is_empty(), "sections failed: {}", failed.join(", "));
    Ok(())
}

async fn control(args: &Args) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let (p50, p99) = create_to_claim(args.latency_samples).await?;
    // Baseline for latency: one bare SQLite insert+commit, the floor of any create.
    let bare_one = {
        let n = args.latency_samples.max(1);
        let rate = bare_sqlite(n, 1).await?;
        Duration::from_secs_f64(1.0 / rate / 5.0)
    };
    rows.push(Row {
        what: format!(
            "create→claim latency p50 (4 runners parked in a long-poll, {} samples, SQLite)",
            args.latency_samples
        ),
        figure: ms(p50),
        baseline_what: "one bare SQLite write transaction".into(),
        baseline: ms(bare_one),
        ratio: format!("{:.1}×", p50.as_secs_f64() / bare_one.as_secs_f64()),
    });
    rows.push(Row {
        what: "create→claim latency p99".into(),
        figure: ms(p99),
        baseline_what: "one bare SQLite write transaction".into(),
        baseline: ms(bare_one),
        ratio: format!("{:.1}×", p99.as_secs_f64() / bare_one.as_secs_f64()),
    });

    let (jps, floor) = lifecycle(args.lifecycle_jobs, args.runners).await?;
    let bare = bare_sqlite(args.lifecycle_jobs, args.runners).await?;
    rows.push(Row {
        what: format!(
            "full lifecycle (create, claim, heartbeat, log, report), {} runners, {} jobs, SQLite",
            args.runners, args.lifecycle_jobs
        ),
        figure: format!("{jps:.0} jobs/s"),
        baseline_what: format!("5 bare SQLite transactions per job, {} tasks", args.runners),
        baseline: format!("{bare:.0} jobs/s"),
        ratio: format!("{:.2}×", jps / bare),
    });
    rows.push(Row {
        what: format!(
            "HTTP alone: 5 requests per job that deployd answers without its database (404), {} tasks, same deployd",
            args.runners
        ),
        figure: format!("{floor:.0} jobs/s"),
        baseline_what: format!("5 bare SQLite transactions per job, {} tasks", args.runners),
        baseline: format!("{bare:.0} jobs/s"),
        ratio: format!("{:.2}×", floor / bare),
    });

    let (by_id, full) = redeploy_by_id(args.lifecycle_jobs, args.runners).await?;
    rows.push(Row {
        what: format!(
            "job creates naming only the app (deployd fills owner, source, route from its record), {} known apps, {} tasks, SQLite",
            args.lifecycle_jobs, args.runners
        ),
        figure: format!("{by_id:.0} creates/s"),
        baseline_what: "the same creates with the whole payload given".into(),
        baseline: format!("{full:.0} creates/s"),
        ratio: format!("{:.2}×", by_id / full),
    });

    Ok(rows)
}

/// Creates per second of `jobs` known apps' jobs, each cancelled before the next round:
/// naming only the app, and (the baseline, in the same deployd) with the whole payload.
async fn redeploy_by_id(jobs: usize, tasks: usize) -> anyhow::Result<(f64, f64)> {
    let d = testkit::deployd::start().await;
    let c = d.client();
    let full = |i: usize| {
        let mut p = payload(format!("known{i}"));
        p.payload.container_port = Some(8080);
        p.payload.env = Some([("MODE".to_string(), "prod".to_string())].into());
        p
    };
    let by_id = |i: usize| CreateJobRequest {
        job_type: Default::default(),
        payload: JobPayload {
            app_id: format!("known{i}"),
            ..Default::default()
        },
    };
    // Every app known once; then timed rounds, each job cancelled while pending.
    round(&c, jobs, tasks, full).await?;
    let full_rate = round(&c, jobs, tasks, full).await?;
    let id_rate = round(&c, jobs, tasks, by_id).await?;
    Ok((id_rate, full_rate))
}

async fn round(
    c: &DeployClient,
    jobs: usize,
    tasks: usize,
    make: impl Fn(usize) -> CreateJobRequest + Copy + Send + 'static,
) -> anyhow::Result<f64> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (c, next) = (c.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    return Ok::<_, anyhow::Error>(ids);
                }
                ids.push(c.create_job(&make(i)).await?.id);
            }
        }));
    }
    for h in handles {
        ids.extend(h.await??);
    }
    let rate = jobs as f64 / t0.elapsed().as_secs_f64();
    for id in ids {
        c.cancel_job(id).await?;
    }
    Ok(rate)
}
