//! What a runner leaves behind and what it survives, against the real components: no task
//! per job outlives its job, the outcome reaches a deployd that restarts just before the
//! report, hashed known_hosts entries are honoured by the clone, and the build context is
//! built as Docker builds it (`.dockerignore` exceptions) and streamed to the engine.

use std::time::{Duration, Instant};

use crate::common::*;
use protocol::job::{Job, JobPayload, JobStatus};
use protocol::node::NodeHeartbeat;

fn repo_payload(app: &str, url: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some(app.into()),
        repo_ssh_url: Some(url.into()),
        ..Default::default()
    }
}

/// A runtime node that deployd places jobs on; nothing listens there, so only jobs that
/// fail before DEPLOY may be sent to it.
async fn placeholder_node(c: &protocol::client::DeployClient) {
    let name = format!("t-none-{}", rand_hex());
    c.node_heartbeat(&NodeHeartbeat {
        node_name: name.clone(),
        agent_base_url: "http://127.0.0.1:9".into(),
        gateway_base_url: "http://127.0.0.1:9".into(),
        disk_free_pct: 50.0,
        disk_free_bytes: 1 << 30,
        container_count: 0,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    })
    .await
    .expect("node heartbeat");
    wait_for_node(c, &name).await;
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (with a deadline) until the task count is at most `limit`; answers the count.
async fn tasks_settle_at_most(limit: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = alive_tasks();
        if n <= limit || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a job per app of `apps`, all failing at BUILD (the repository has no
/// Dockerfile) after a real clone, and waits until each is over.
async fn failing_jobs(c: &protocol::client::DeployClient, url: &str, apps: std::ops::Range<u32>) {
    let mut ids = Vec::new();
    for i in apps {
        ids.push(create_job(c, repo_payload(&format!("lk{i}"), url)).await.id);
    }
    for id in ids {
        let (done, log) = follow_job(c, id).await;
        assert_eq!(done.status, JobStatus::Failed, "{log}");
        let err = done.error_message.unwrap_or_default();
        assert!(
            err.contains("BUILD failed"),
            "job {id} went through the clone: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_jobs_leave_no_task_behind() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    placeholder_node(&c).await;
    let name = format!("leak-{}", rand_hex());
    let url = g.create_repo(&name, &[("README".into(), b"no Dockerfile\n".to_vec())]);
    let runner = start_runner(&s, &g, &d.url, "r-leak", |r| r.concurrency = 2).await;

    failing_jobs(&c, &url, 0..10).await;
    let after_10 = tasks_settle_at_most(0).await;
    failing_jobs(&c, &url, 10..200).await;
    let after_200 = tasks_settle_at_most(after_10 + 8).await;
    println!("alive tokio tasks: {after_10} after 10 jobs, {after_200} after 200 jobs");
    assert!(
        after_200 <= after_10 + 8,
        "tasks grew with the jobs: {after_10} after 10 jobs, {after_200} after 200"
    );
    runner.stop().await;
}

/// Peak and current resident set of this process, in KiB (`/proc/self/status`).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

async fn wait_for_phase(c: &protocol::client::DeployClient, id: i64, phase: &str) -> Job {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let j = c.get_job(id).await.unwrap();
        if j.phase.as_deref() == Some(phase)
            || j.status != JobStatus::Running && j.status != JobStatus::Pending
        {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} never reached {phase}: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dockerignore_exception_is_built_and_a_large_context_is_streamed() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let runner = start_runner(&s, &g, &d.url, "r-ctx", |_| {}).await;

    // `www` is excluded but its index.html re-included: the Dockerfile's COPY www finds
    // exactly that file. 64 MiB of zeros travel in the context too.
    let mut files = app_files(&s.busybox, "re-included page");
    files.retain(|(p, _)| p != ".dockerignore");
    files.push((
        ".dockerignore".into(),
        b"*.md\nwww\n!www/index.html\n".to_vec(),
    ));
    files.push(("www/draft.html".into(), b"not sent\n".to_vec()));
    files.push(("zeros.bin".into(), vec![0u8; 64 << 20]));
    let name = format!("ctx-{}", rand_hex());
    let url = g.create_repo(&name, &files);
    let app = format!("c{}", rand_hex());
    let job = create_job(&c, repo_payload(&app, &url)).await;

    let at_build = wait_for_phase(&c, job.id, "BUILD").await;
    // Peak RSS from here on: writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (_, rss_at_build) = rss_kib();
    let (done, log) = follow_job(&c, job.id).await;
    let (peak, _) = rss_kib();
    println!(
        "memory during BUILD..end with a 64 MiB context: RSS at BUILD {} MiB, peak after {} MiB (peak reset: {reset})",
        rss_at_build / 1024,
        peak / 1024
    );
    assert_eq!(at_build.phase.as_deref(), Some("BUILD"), "{log}");
    assert_eq!(done.status, JobStatus::Succeeded, "{log}");
    let page = reqwest::get(done.deploy_url.clone().unwrap_or_default())
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "re-included page");
    let draft = reqwest::get(format!(
        "{}/draft.html",
        done.deploy_url
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
    ))
    .await
    .unwrap()
    .status();
    assert_eq!(draft.as_u16(), 404, "an excluded file reached the image");
    runner.stop().await;
    rt.cleanup().await;
}

/// `ssh-keygen -H` on a copy of `known_hosts`: only hashed names remain.
fn hashed_copy(known_hosts: &std::path::Path, dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::copy(known_hosts, &path).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        !text.contains("127.0.0.1") && text.lines().any(|l| l.starts_with("|1|")),
        "not hashed:\n{text}"
    );
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_known_hosts_entries_are_honoured_by_the_clone() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    placeholder_node(&c).await;
    let name = format!("kh-{}", rand_hex());
    let url = g.create_repo(&name, &[("README".into(), b"no Dockerfile\n".to_vec())]);
    let dir = tempfile::tempdir().unwrap();
    let good = hashed_copy(&g.known_hosts, dir.path(), "known_hosts");
    let wrong = hashed_copy(&g.wrong_known_hosts, dir.path(), "wrong_known_hosts");

    for (i, (known_hosts, needle)) in [
        // The clone passes the host check; the job fails later, at BUILD.
        (good, "BUILD failed"),
        (
            wrong,
            "host key mismatch for the Git server [127.0.0.1]:2222",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let runner = start_runner(&s, &g, &d.url, &format!("r-kh{i}"), |r| {
            r.git_known_hosts = known_hosts.clone()
        })
        .await;
        let job = create_job(&c, repo_payload(&format!("kh{i}{}", rand_hex()), &url)).await;
        let (done, log) = follow_job(&c, job.id).await;
        runner.stop().await;
        assert_eq!(done.status, JobStatus::Failed, "{log}");
        let err = done.error_message.unwrap_or_default();
        assert!(
            err.contains(needle),
            "{known_hosts}: {needle:?} not in {err}"
        );
    }
}

/// A deployd on a database and address that survive its restarts.
struct Restartable {
    settings: deployd::settings::Settings,
    addr: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Restartable {
    async fn start(settings: deployd::settings::Settings, addr: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let addr = listener.local_addr().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let state = deployd::build_state(settings.clone(), shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("deployd did not start: {e:#}"));
        let handle = tokio::spawn(deployd::serve_state(state, listener));
        Restartable {
            settings,
            addr,
            shutdown,
            handle,
        }
    }

    async fn stop(self) -> (deployd::settings::Settings, std::net::SocketAddr) {
        self.shutdown.cancel();
        let _ = self.handle.await;
        (self.settings, self.addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_reaches_a_deployd_restarted_just_before_the_report() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = testkit::deployd::settings(dir.path());
    settings.nodes.disk_free_min_pct = 0.0;
    let d = Restartable::start(settings, "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{}", d.addr);
    let c = protocol::client::DeployClient::new(&url)
        .deploy_secret(Some(protocol::Secret::new(testkit::deployd::DEPLOY_SECRET)))
        .node_token(Some(protocol::Secret::new(testkit::deployd::NODE_TOKEN)))
        .admin_token(Some(protocol::Secret::new(testkit::deployd::ADMIN_TOKEN)));
    let rt = start_runtime(&s, &url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let image = image(
        &s,
        &format!("restart-{}", rand_hex()),
        "v1",
        App::Serves("once"),
    )
    .await;
    // A lease long enough to outlast the outage below, counted from the last heartbeat.
    let runner = start_runner(&s, &g, &url, "r-restart", |r| r.lease_seconds = 45).await;
    let app = format!("rs{}", rand_hex());
    let job = create_job(
        &c,
        JobPayload {
            app_id: app.clone(),
            user_id: Some("5".into()),
            image: Some(image.clone()),
            ..Default::default()
        },
    )
    .await;
    let at = wait_for_phase(&c, job.id, "DEPLOY").await;
    assert_eq!(at.phase.as_deref(), Some("DEPLOY"), "{at:?}");

    // deployd goes down while the runtime deploys; the runner reaches its report with
    // deployd still down.
    let (settings, addr) = d.stop().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = rt.rt.status("5", &app).await.unwrap();
        if st.running && st.image.as_deref() == Some(image.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runtime never deployed: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The restart takes longer than the ~8 s the runner used to give its report.
    let outage = Duration::from_secs(12);
    tokio::time::sleep(outage).await;
    let d = Restartable::start(settings, addr).await;

    let (done, log) = follow_job(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{log}");
    assert_eq!(
        done.attempt, 1,
        "the job ran again after its deploy:\n{log}"
    );
    let jobs = c.jobs_by_app(&app, None).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    runner.stop().await;
    rt.cleanup().await;
    d.stop().await;
}
