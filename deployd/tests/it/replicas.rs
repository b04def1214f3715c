//! Several deployd replicas sharing one database (MySQL/MariaDB or PostgreSQL, by
//! FUNAI_TEST_DB): claims never granted twice, long-polls woken across replicas, sweepers on
//! every replica at once, and a replica killed with SIGKILL in the middle of a run.
//! SQLite is one process's database: there the replica tests say so and stop, and the
//! single-replica `claim_is_never_granted_twice` of runner_protocol.rs stands.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use deployd::store::Engine;
use protocol::client::{ClientError, DeployClient};
use protocol::job::{ClaimRequest, CreateJobRequest, Job, JobStatus, JobType, ReportRequest};
use testkit::deployd::{self as testing, TestDeployd};
use tokio::sync::Mutex;

use crate::common::LOAD;

/// The engine under test, or None (with a note) when it cannot be shared by replicas.
fn shared_engine() -> Option<Engine> {
    match testing::engine() {
        Engine::Sqlite => {
            eprintln!(
                "NOT APPLICABLE on SQLite (one process owns the file): run with FUNAI_TEST_DB=mysql or postgres"
            );
            None
        }
        e => Some(e),
    }
}

async fn two_replicas(tweak: fn(&mut deployd::Settings)) -> (TestDeployd, TestDeployd) {
    let a = testing::start_with(tweak).await;
    let b = testing::replica_of(&a, tweak).await;
    (a, b)
}

fn claim_req(runner: &str, lease_seconds: i64, wait_seconds: i64) -> ClaimRequest {
    ClaimRequest {
        runner_id: runner.to_string(),
        lease_seconds,
        wait_seconds,
        agent_version: None,
    }
}

fn succeeded(runner: &str) -> ReportRequest {
    ReportRequest {
        error_code: None,
        runner_id: runner.to_string(),
        status: JobStatus::Succeeded,
        error_message: None,
        image: None,
        commit_sha: None,
    }
}

/// Creates `n` jobs (apps `{prefix}{i}`), spread over the clients, 16 at a time.
async fn create_many(clients: &[DeployClient], prefix: &str, n: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let c = clients[t % clients.len()].clone();
        let next = next.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                create(&c, payload(&format!("{prefix}{i}"))).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("creator");
    }
}

/// Returns once a long-poll is parked on `counter` of a replica in this process.
async fn wait_until_waiting(counter: &std::sync::atomic::AtomicI64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the long-poll never started waiting"
        );
        tokio::task::yield_now().await;
    }
}

/// Counts of jobs per status, read through the store.
async fn statuses(d: &TestDeployd) -> HashMap<JobStatus, usize> {
    let mut out = HashMap::new();
    for st in JobStatus::ALL {
        let n = d
            .state
            .store
            .list_jobs(None, Some(st), 1_000_000)
            .await
            .unwrap()
            .len();
        out.insert(st, n);
    }
    out
}

/// The two tests that push thousands of jobs through 64 runners on two replicas take turns:
/// run at once on two cores, requests queued for a database connection longer than the
/// pool's 30 s and failed with 500 (seen under CI, not a fault of the store).
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_is_never_granted_twice_with_two_replicas() {
    let _turn = HEAVY.lock().await;
    if shared_engine().is_none() {
        return;
    }
    let _turn = LOAD.lock().await;
    const JOBS: usize = 5000;
    const RUNNERS: usize = 64;
    let started = Instant::now();
    // One heartbeat for the whole run: the node stays healthy however slow the machine.
    let (a, b) = two_replicas(|s| s.nodes.heartbeat_stale_seconds = 3600).await;
    let clients = [a.client(), b.client()];
    node(&clients[0], "rt-01", 80.0, 1 << 40).await;

    // The runners long-poll before the jobs exist: half of them on each replica, woken by
    // jobs created on either.
    let granted: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for r in 0..RUNNERS {
        let c = clients[r % 2].clone();
        let granted = granted.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let runner = format!("runner-{r}");
            let mut dupes = Vec::new();
            while done.load(Ordering::SeqCst) < JOBS {
                let Some(job) = c
                    .claim(&claim_req(&runner, 30, 1))
                    .await
                    .unwrap_or_else(|e| panic!("claim by {runner}: {e}"))
                else {
                    continue;
                };
                if let Some(prev) = granted.lock().await.insert(job.id, runner.clone()) {
                    dupes.push((job.id, prev, runner.clone()));
                }
                c.report(job.id, &succeeded(&runner))
                    .await
                    .unwrap_or_else(|e| panic!("report {} by {runner}: {e}", job.id));
                done.fetch_add(1, Ordering::SeqCst);
            }
            dupes
        }));
    }
    create_many(&clients, "app", JOBS).await;
    let mut dupes = Vec::new();
    let all = async {
        for t in tasks {
            dupes.extend(t.await.expect("runner"));
        }
    };
    if tokio::time::timeout(Duration::from_secs(240), all)
        .await
        .is_err()
    {
        panic!(
            "runners did not finish: {} of {JOBS} done, {:?}",
            done.load(Ordering::SeqCst),
            statuses(&a).await
        );
    }
    assert!(dupes.is_empty(), "jobs granted twice: {dupes:?}");
    assert_eq!(granted.lock().await.len(), JOBS, "every job claimed once");
    let st = statuses(&a).await;
    assert_eq!(st[&JobStatus::Succeeded], JOBS, "{st:?}");
    let jobs = a
        .state
        .store
        .list_jobs(None, None, 1_000_000)
        .await
        .unwrap();
    assert!(
        jobs.iter().all(|j| j.attempt == 1),
        "a job was requeued although every runner kept its lease"
    );
    eprintln!(
        "{:?}: {JOBS} jobs, {RUNNERS} runners on two replicas in {:.1?}",
        testing::engine(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_waiting_on_one_replica_gets_a_job_created_on_the_other() {
    if shared_engine().is_none() {
        return;
    }
    let (a, b) = two_replicas(|_| {}).await;
    let (ca, cb) = (a.client(), b.client());
    node(&ca, "rt-01", 80.0, 1 << 40).await;
    let waiter = {
        let ca = ca.clone();
        tokio::spawn(async move { claim(&ca, "poller", 20).await })
    };
    wait_until_waiting(&a.state.waiting.claims).await;
    let t0 = Instant::now();
    let job = create(&cb, payload("across")).await;
    let got = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .unwrap_or_else(|_| panic!("the long-poll on replica A never answered"))
        .unwrap()
        .expect("the long-poll on replica A returned no job");
    let took = t0.elapsed();
    assert_eq!(got.id, job.id);
    // Woken by the change feed: LISTEN/NOTIFY, or the 100 ms poll on MySQL; a claim that
    // only looked again on its own would take 2 s.
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    eprintln!(
        "{:?}: create on B → claim on A in {took:?}",
        testing::engine()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_follow_on_one_replica_sees_an_append_on_the_other() {
    if shared_engine().is_none() {
        return;
    }
    let (a, b) = two_replicas(|_| {}).await;
    let (ca, cb) = (a.client(), b.client());
    node(&ca, "rt-01", 80.0, 1 << 40).await;
    let job = create(&ca, payload("logs")).await;
    claim(&cb, "r1", 0).await.expect("no job");
    cb.append_log(job.id, 0, b"first\n".to_vec()).await.unwrap();
    let follower = {
        let ca = ca.clone();
        tokio::spawn(async move {
            let r = ca.read_log(job.id, 6, 20).await;
            (r, Instant::now())
        })
    };
    // The follower has read the 6 bytes there are and waits for more.
    wait_until_waiting(&a.state.waiting.log_follows).await;
    let t0 = Instant::now();
    cb.append_log(job.id, 6, b"second\n".to_vec())
        .await
        .unwrap();
    let (chunk, at) = tokio::time::timeout(Duration::from_secs(20), follower)
        .await
        .unwrap_or_else(|_| panic!("the follower on replica A never answered"))
        .unwrap();
    let chunk = chunk.unwrap();
    assert_eq!(chunk.content, "second\n");
    assert_eq!(chunk.next_offset, 13);
    let took = at.saturating_duration_since(t0);
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweepers_on_every_replica_requeue_an_expired_job_once() {
    if shared_engine().is_none() {
        return;
    }
    const JOBS: usize = 200;
    // The background sweepers stay out of the way: this test runs the sweeps itself.
    let (a, b) = two_replicas(|s| s.jobs.sweep_interval_ms = 3_600_000).await;
    let (ca, cb) = (a.client(), b.client());
    node(&ca, "rt-01", 80.0, 1 << 40).await;
    create_many(&[ca.clone(), cb.clone()], "sw", JOBS).await;
    let mut claimed = Vec::new();
    for i in 0..JOBS {
        let c = if i % 2 == 0 { &ca } else { &cb };
        claimed.push(
            claim(c, &format!("silent-{}", i % 8), 0)
                .await
                .expect("no job to claim")
                .id,
        );
    }
    // Every lease has expired for both replicas; both sweep at once, again and again.
    a.state.clock.advance(Duration::from_secs(31));
    b.state.clock.advance(Duration::from_secs(31));
    let sweeps = |d: Arc<deployd::AppState>| async move {
        let mut requeued = Vec::new();
        for _ in 0..20 {
            let out = d.sweep_once().await.expect("sweep");
            assert!(out.failed.is_empty() && out.cancelled.is_empty(), "{out:?}");
            requeued.extend(out.requeued);
        }
        requeued
    };
    let (ra, rb) = tokio::join!(
        tokio::spawn(sweeps(a.state.clone())),
        tokio::spawn(sweeps(b.state.clone()))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut all: Vec<i64> = ra.iter().chain(rb.iter()).copied().collect();
    all.sort_unstable();
    let mut expected = claimed.clone();
    expected.sort_unstable();
    assert_eq!(
        all, expected,
        "each expired job requeued by exactly one sweeper"
    );
    let jobs = a.state.store.list_jobs(None, None, 10_000).await.unwrap();
    assert_eq!(jobs.len(), JOBS);
    for j in &jobs {
        assert_eq!(
            (j.status, j.attempt),
            (JobStatus::Pending, 2),
            "job {}: one requeue, one attempt added",
            j.id
        );
    }
    eprintln!(
        "{:?}: replica A requeued {}, replica B {}",
        testing::engine(),
        ra.len(),
        rb.len()
    );
}

/// The deployd binary on the same database, as a child process that can be killed.
struct ChildReplica {
    child: tokio::process::Child,
    url: String,
    log: Arc<std::sync::Mutex<String>>,
}

async fn spawn_binary_replica(database_url: &str, sweep_ms: u64) -> ChildReplica {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_deployd"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("DEPLOYD_DATABASE_URL", database_url)
        .env("DEPLOYD_LISTEN", "127.0.0.1:0")
        .env("DEPLOYD_AUTH__DEPLOY_SECRET", testing::DEPLOY_SECRET)
        .env("DEPLOYD_AUTH__RUNNER_TOKEN", testing::RUNNER_TOKEN)
        .env("DEPLOYD_AUTH__NODE_TOKEN", testing::NODE_TOKEN)
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", testing::ADMIN_TOKEN)
        .env("DEPLOYD_JOBS__SWEEP_INTERVAL_MS", sweep_ms.to_string())
        .env("DEPLOYD_NODES__HEARTBEAT_STALE_SECONDS", "3600")
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn deployd");
    let stderr = child.stderr.take().expect("no stderr pipe");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    // The daemon says where it listens; port 0 means no race for a port.
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let line = strip_ansi(&line);
            if let Ok(mut l) = log.lock() {
                l.push_str(&line);
                l.push('\n');
            }
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
    .unwrap_or_else(|| {
        panic!(
            "the deployd binary did not start:\n{}",
            log.lock().map(|l| l.clone()).unwrap_or_default()
        )
    });
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut l) = sink.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    ChildReplica {
        child,
        url: format!("http://{addr}"),
        log,
    }
}

/// A log line without terminal colour sequences.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the runners of the kill test share.
#[derive(Default)]
struct Ledger {
    /// (job, attempt) → runner: an attempt is granted once, whatever replica granted it.
    granted: Mutex<HashMap<(i64, i64), String>>,
    dupes: Mutex<Vec<(i64, i64)>>,
    /// Jobs held by runners of the killed replica when it died; never reported by them.
    orphaned: Mutex<Vec<i64>>,
    done: AtomicUsize,
    parked: AtomicUsize,
    /// Told when a third of the jobs are done.
    third: tokio::sync::Notify,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_run_loses_no_job() {
    let _turn = HEAVY.lock().await;
    if shared_engine().is_none() {
        return;
    }
    let _turn = LOAD.lock().await;
    const JOBS: usize = 5000;
    const RUNNERS: usize = 64;
    const LEASE: i64 = 5;
    let started = Instant::now();
    // One heartbeat for the whole run: the node stays healthy however slow the machine.
    let a = testing::start_with(|s| {
        s.jobs.sweep_interval_ms = 200;
        s.nodes.heartbeat_stale_seconds = 3600;
    })
    .await;
    let mut b = spawn_binary_replica(&a.settings.database_url, 200).await;
    let ca = a.client();
    let cb = DeployClient::new(&b.url)
        .deploy_secret(Some(protocol::Secret::new(testing::DEPLOY_SECRET)))
        .runner_token(Some(protocol::Secret::new(testing::RUNNER_TOKEN)))
        .node_token(Some(protocol::Secret::new(testing::NODE_TOKEN)))
        .admin_token(Some(protocol::Secret::new(testing::ADMIN_TOKEN)));
    node(&ca, "rt-01", 80.0, 1 << 40).await;
    create_many(&[ca.clone(), cb.clone()], "k", JOBS).await;

    let ledger = Arc::new(Ledger::default());
    let (freeze_tx, freeze_rx) = tokio::sync::watch::channel(false);
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let all_parked = Arc::new(tokio::sync::Notify::new());
    let on_b = RUNNERS / 2;
    let mut tasks = Vec::new();
    for r in 0..RUNNERS {
        let ledger = ledger.clone();
        let ca = ca.clone();
        let home = if r % 2 == 1 { cb.clone() } else { ca.clone() };
        let mut park = (r % 2 == 1).then(|| (freeze_rx.clone(), killed_rx.clone()));
        let all_parked = all_parked.clone();
        tasks.push(tokio::spawn(async move {
            let runner = format!("runner-{r}");
            let mut c = home;
            while ledger.done.load(Ordering::SeqCst) < JOBS {
                let frozen = park.as_ref().is_some_and(|(f, _)| *f.borrow());
                let job: Option<Job> = if frozen {
                    None
                } else {
                    c.claim(&claim_req(&runner, LEASE, 1))
                        .await
                        .unwrap_or_else(|e| panic!("claim by {runner}: {e}"))
                };
                if let Some(job) = &job {
                    let key = (job.id, job.attempt);
                    if ledger
                        .granted
                        .lock()
                        .await
                        .insert(key, runner.clone())
                        .is_some()
                    {
                        ledger.dupes.lock().await.push(key);
                    }
                }
                // A runner of replica B parks once the freeze is on, holding what it has,
                // until B is killed; then it forgets that job and works through A.
                if let Some((f, killed)) = &mut park
                    && *f.borrow()
                {
                    if let Some(job) = &job {
                        ledger.orphaned.lock().await.push(job.id);
                    }
                    if ledger.parked.fetch_add(1, Ordering::SeqCst) + 1 == on_b {
                        all_parked.notify_one();
                    }
                    killed.wait_for(|k| *k).await.unwrap();
                    park = None;
                    c = ca.clone();
                    continue;
                }
                let Some(job) = job else {
                    continue;
                };
                match c.report(job.id, &succeeded(&runner)).await {
                    Ok(_) => {
                        if ledger.done.fetch_add(1, Ordering::SeqCst) + 1 == JOBS / 3 {
                            ledger.third.notify_one();
                        }
                    }
                    // Slower than its lease: the job was requeued and goes to another.
                    Err(ClientError::Api { status: 409, .. }) => {}
                    Err(e) => panic!("report {} by {runner}: {e}", job.id),
                }
            }
        }));
    }

    // A third of the way in, B's runners park with their jobs, and B is killed.
    tokio::time::timeout(Duration::from_secs(180), ledger.third.notified())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {JOBS} done before the kill",
                ledger.done.load(Ordering::SeqCst)
            )
        });
    let parked = all_parked.notified();
    tokio::pin!(parked);
    parked.as_mut().enable();
    freeze_tx.send(true).expect("freeze");
    tokio::time::timeout(Duration::from_secs(60), parked)
        .await
        .unwrap_or_else(|_| panic!("B's runners did not park"));
    let done_at_kill = ledger.done.load(Ordering::SeqCst);
    let pid = b.child.id().expect("B has no pid");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = b.child.wait().await.unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
    assert!(cb.health().await.is_err(), "replica B still answers");
    killed_tx.send(true).expect("killed");

    let all = async {
        for t in tasks {
            t.await.expect("runner");
        }
    };
    if tokio::time::timeout(Duration::from_secs(240), all)
        .await
        .is_err()
    {
        panic!(
            "jobs lost or stuck after the kill: {} of {JOBS} done, {:?}",
            ledger.done.load(Ordering::SeqCst),
            statuses(&a).await
        );
    }
    let dupes = ledger.dupes.lock().await.clone();
    assert!(dupes.is_empty(), "attempts granted twice: {dupes:?}");
    let orphaned = ledger.orphaned.lock().await.clone();
    assert!(!orphaned.is_empty(), "B's runners held no job when B died");
    assert!(done_at_kill < JOBS, "the kill came after the run");
    let st = statuses(&a).await;
    assert_eq!(
        st[&JobStatus::Succeeded],
        JOBS,
        "every job finished: {st:?}"
    );
    for id in &orphaned {
        let j = ca.get_job(*id).await.unwrap();
        assert_eq!(j.status, JobStatus::Succeeded);
        assert!(
            j.attempt >= 2,
            "job {id}, held when B died, was finished without a requeue: {j:?}"
        );
    }
    let log = b.log.lock().map(|l| l.clone()).unwrap_or_default();
    if let Some(password) = a
        .settings
        .database_url
        .split_once("://")
        .and_then(|(_, r)| r.split('@').next())
        .and_then(|u| u.split_once(':'))
        .map(|(_, p)| p.to_string())
    {
        assert!(
            !log.contains(&password),
            "the database password reached B's log"
        );
    }
    eprintln!(
        "{:?}: {JOBS} jobs, {RUNNERS} runners, replica B killed after {done_at_kill} with {} jobs held; \
         all finished in {:.1?}",
        testing::engine(),
        orphaned.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_active_job_per_app_and_the_user_limit_hold_across_replicas() {
    if shared_engine().is_none() {
        return;
    }
    let (a, b) = two_replicas(|_| {}).await;
    let (ca, cb) = (a.client(), b.client());
    // The same app created on both replicas at once, many times over: one wins each round.
    for round in 0..20 {
        let app = format!("race{round}");
        let req = CreateJobRequest {
            job_type: JobType::BuildAndDeploy,
            payload: payload(&app),
        };
        let (x, y) = tokio::join!(ca.create_job(&req), cb.create_job(&req));
        let ok = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {x:?} / {y:?}");
        for r in [&x, &y] {
            if let Err(e) = r {
                assert_eq!(e.status(), Some(409), "{e}");
            }
        }
    }
    // Six different apps of one user, three through each replica at once: three win.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        tasks.push(tokio::spawn(async move {
            c.create_job(&CreateJobRequest {
                job_type: JobType::BuildAndDeploy,
                payload: user_payload("u42", &format!("u42-app{i}")),
            })
            .await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert!(e.to_string().contains("the limit is 3"), "{e}");
            }
        }
    }
    assert_eq!(accepted, 3, "the per-user limit held across replicas");
}

/// Waits until `d` knows `n` other replicas (its replica table is read every 100 ms here).
async fn wait_for_peers(d: &TestDeployd, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.state.peers.count() != n {
        assert!(
            Instant::now() < deadline,
            "replica {} knows {} peers, not {n}",
            d.url,
            d.state.peers.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_find_each_other_and_wake_each_other_and_a_dead_one_holds_up_no_one() {
    if shared_engine().is_none() {
        return;
    }
    // The change poll of MySQL is as slow as it may be: the wake-ups counted here come
    // from the other replica, after its commit.
    let (a, b) = two_replicas(|s| {
        s.database.change_poll_ms = 10_000;
        s.database.replica_refresh_ms = 100;
    })
    .await;
    // A replica that died without leaving the table, at an address that never answers
    // (a blackhole: each wake-up to it waits for its timeout).
    let far_future = a.state.now() + 3_600_000;
    a.state
        .store
        .replica_seen("dead-replica", "http://10.255.255.1:7002", far_future)
        .await
        .unwrap();
    wait_for_peers(&a, 2).await;
    wait_for_peers(&b, 2).await;

    // Operators see them.
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/admin/replicas", a.url))
        .header(
            protocol::headers::ADMIN_TOKEN,
            testkit::deployd::ADMIN_TOKEN,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed["data"]
        .as_array()
        .expect("a list of replicas")
        .clone();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mine: Vec<_> = listed.iter().filter(|r| r["me"] == true).collect();
    assert_eq!(mine.len(), 1, "{listed:?}");
    assert_eq!(mine[0]["internalUrl"], a.url.as_str());

    let (ca, cb) = (a.client(), b.client());
    node(&ca, "rt-01", 80.0, 1 << 40).await;
    let before = a.state.metrics.replica_wakes.load(Ordering::Relaxed);
    for round in 0..3 {
        let waiter = {
            let ca = ca.clone();
            tokio::spawn(async move { claim(&ca, "poller", 20).await })
        };
        wait_until_waiting(&a.state.waiting.claims).await;
        let job = create(&cb, payload(&format!("woken{round}"))).await;
        let got = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .unwrap_or_else(|_| panic!("the long-poll on replica A never answered"))
            .unwrap()
            .expect("the long-poll on replica A returned no job");
        assert_eq!(got.id, job.id);
        report(&cb, job.id, "poller", JobStatus::Succeeded).await;
    }
    // B woke A itself (a wake-up lost on a loaded machine falls back to the change feed, so
    // the rounds are counted together).
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.state.metrics.replica_wakes.load(Ordering::Relaxed) == before {
        assert!(Instant::now() < deadline, "replica B never woke replica A");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A follow of one job on A is woken by an append through B.
    let job = create(&ca, payload("followed")).await;
    claim(&cb, "r1", 0).await.expect("no job");
    let follower = {
        let ca = ca.clone();
        tokio::spawn(async move { ca.read_log(job.id, 0, 20).await })
    };
    wait_until_waiting(&a.state.waiting.log_follows).await;
    cb.append_log(job.id, 0, b"built\n".to_vec()).await.unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .unwrap_or_else(|_| panic!("the follower on replica A never answered"))
        .unwrap()
        .unwrap();
    assert_eq!(chunk.content, "built\n");

    // A replica that stops leaves the table; the other stops waking it.
    b.stop().await.unwrap();
    let left = a.state.store.list_replicas(0).await.unwrap();
    let ids: Vec<_> = left.iter().map(|r| r.replica_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"dead-replica"));
    assert!(ids.contains(&a.state.peers.me()));
    wait_for_peers(&a, 1).await;
}
