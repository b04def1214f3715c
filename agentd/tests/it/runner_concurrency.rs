//! Several runners compete safely: ten apps through two runners run once each; a runner
//! killed mid-build loses its job to the other after the lease, and the app is deployed once.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use protocol::client::DeployClient;
use protocol::job::{Job, JobPayload, JobStatus};

async fn wait_terminal(c: &DeployClient, id: i64, limit: Duration) -> Job {
    let deadline = Instant::now() + limit;
    loop {
        // The log long-poll returns as soon as anything happens to the job.
        let chunk = c.read_log(id, 0, 10).await.unwrap();
        if chunk.status.is_terminal() {
            return c.get_job(id).await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {:?}",
            chunk.status
        );
        let j = c.get_job(id).await.unwrap();
        if j.status.is_terminal() {
            return j;
        }
        let _ = c.read_log(id, chunk.next_offset, 5).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_and_ten_apps_run_every_job_once() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    // Stage 1 jobs need no Git: the runners only claim, deploy and report.
    let g = GitServer {
        url: String::new(),
        repos: Default::default(),
        key: Default::default(),
        stranger_key: Default::default(),
        known_hosts: Default::default(),
        wrong_known_hosts: Default::default(),
    };
    let a = start_runner(&s, &g, &d.url, "runner-a", |r| r.concurrency = 2).await;
    let b = start_runner(&s, &g, &d.url, "runner-b", |r| r.concurrency = 2).await;
    let mut jobs = Vec::new();
    for i in 0..10 {
        let p = JobPayload {
            app_id: format!("ten{i}"),
            user_id: Some(format!("u{i}")),
            image: Some(v1.clone()),
            ..Default::default()
        };
        jobs.push(create_job(&c, p).await);
    }
    let mut by_runner: HashMap<String, usize> = HashMap::new();
    for j in &jobs {
        let done = wait_terminal(&c, j.id, Duration::from_secs(120)).await;
        assert_eq!(
            done.status,
            JobStatus::Succeeded,
            "{:?}",
            done.error_message
        );
        assert_eq!(done.attempt, 1, "job {} ran more than once", j.id);
        *by_runner
            .entry(done.runner_id.clone().unwrap_or_default())
            .or_default() += 1;
        let page = reqwest::get(done.deploy_url.clone().unwrap_or_default())
            .await
            .unwrap();
        assert_eq!(page.text().await.unwrap_or_default().trim(), "version one");
    }
    let runners = c.runners().await.unwrap();
    let claimed: i64 = runners.iter().map(|r| r.jobs_claimed).sum();
    assert_eq!(claimed, 10, "every job claimed exactly once: {runners:?}");
    assert_eq!(by_runner.values().sum::<usize>(), 10);
    assert_eq!(
        rt.container_names().await.len(),
        10,
        "one container per app"
    );
    a.stop().await;
    b.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_killed_mid_build_loses_the_job_to_another_and_the_app_deploys_once() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes_with(|st| st.jobs.sweep_interval_ms = 200).await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let name = format!("slowish-{}", rand_hex());
    let mut files = app_files(&s.busybox, "survived");
    files[0].1 = b"FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nRUN [\"/bin/busybox\", \"sleep\", \"5\"]\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"3000\", \"-h\", \"/www\"]\n".to_vec();
    let url = g.create_repo(&name, &files);

    // The first runner is a real agentd process, so that it can be killed.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agentd.toml");
    std::fs::write(
        &cfg,
        format!(
            "deploy_url = \"{}\"\n[runner]\nrunner_id = \"doomed\"\nrunner_token = \"{}\"\nruntime_token = \"{}\"\n\
             workdir = \"{}\"\ngit_ssh_key = \"{}\"\ngit_known_hosts = \"{}\"\nregistry = \"{}\"\nregistry_username = \"{}\"\n\
             registry_password = \"{}\"\nlease_seconds = 3\nclaim_wait_seconds = 5\n",
            d.url,
            testkit::deployd::RUNNER_TOKEN,
            RUNTIME_TOKEN,
            dir.path().join("work").display(),
            g.key.display(),
            g.known_hosts.display(),
            s.registry,
            s.user,
            s.password
        ),
    )
    .unwrap();
    let mut doomed = Command::new(env!("CARGO_BIN_EXE_agentd"))
        .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let app = format!("k{}", rand_hex());
    let job = create_job(
        &c,
        JobPayload {
            app_id: app.clone(),
            user_id: Some("2".into()),
            repo_ssh_url: Some(url),
            ..Default::default()
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = c.get_job(job.id).await.unwrap();
        if j.phase.as_deref() == Some("BUILD") && j.runner_id.as_deref() == Some("doomed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the doomed runner never reached BUILD: {j:?}"
        );
        tokio::task::yield_now().await;
    }
    doomed.kill().unwrap(); // SIGKILL mid-build
    doomed.wait().unwrap();
    let survivor = start_runner(&s, &g, &d.url, "survivor", |_| {}).await;
    let done = wait_terminal(&c, job.id, Duration::from_secs(120)).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{:?}",
        done.error_message
    );
    assert_eq!(done.attempt, 2);
    assert_eq!(done.runner_id.as_deref(), Some("survivor"));
    let page = reqwest::get(done.deploy_url.clone().unwrap_or_default())
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap_or_default().trim(), "survived");
    assert_eq!(
        rt.container_names().await.len(),
        1,
        "the app is deployed once"
    );
    let log = c.read_log(job.id, 0, 0).await.unwrap().content;
    assert!(
        log.contains("on runner doomed") && log.contains("on runner survivor"),
        "{log}"
    );
    survivor.stop().await;
    rt.cleanup().await;
}
