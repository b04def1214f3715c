//! deployd killed with SIGKILL under load and started again on the same database: no job is
//! lost and every job ends in a terminal state.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use protocol::client::{ClientError, DeployClient};
use protocol::job::{
    ClaimRequest, CreateJobRequest, HeartbeatRequest, JobPayload, JobStatus, ReportRequest,
};

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deployd"))
        .env_clear()
        .env("DEPLOYD_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DEPLOYD_DATABASE_URL",
            format!("sqlite://{}/d.db", dir.display()),
        )
        .env(
            "DEPLOYD_AUTH__DEPLOY_SECRET",
            testkit::deployd::DEPLOY_SECRET,
        )
        .env("DEPLOYD_AUTH__RUNNER_TOKEN", testkit::deployd::RUNNER_TOKEN)
        .env("DEPLOYD_AUTH__NODE_TOKEN", testkit::deployd::NODE_TOKEN)
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
        .env("DEPLOYD_JOBS__LEASE_SECONDS", "3")
        .env("DEPLOYD_JOBS__SWEEP_INTERVAL_MS", "200")
        .env("DEPLOYD_NODES__HEARTBEAT_STALE_SECONDS", "600")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_up(c: &DeployClient) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.health().await.is_err() {
        assert!(Instant::now() < deadline, "deployd did not come up");
        tokio::task::yield_now().await;
    }
}

/// Retries what a restart interrupts: the connection, not the answer.
async fn again<T, F, Fut>(mut f: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f().await {
            Err(ClientError::Transport { .. }) if Instant::now() < deadline => {
                tokio::task::yield_now().await
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deployd_killed_under_load_loses_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut child = spawn(dir.path(), port);
    let c = DeployClient::new(&format!("http://127.0.0.1:{port}"))
        .deploy_secret(Some(testkit::deployd::DEPLOY_SECRET.into()))
        .runner_token(Some(testkit::deployd::RUNNER_TOKEN.into()))
        .node_token(Some(testkit::deployd::NODE_TOKEN.into()))
        .admin_token(Some(testkit::deployd::ADMIN_TOKEN.into()));
    wait_up(&c).await;
    c.node_heartbeat(&protocol::node::NodeHeartbeat {
        node_name: "rt-f".into(),
        agent_base_url: "http://127.0.0.1:9".into(),
        gateway_base_url: "http://127.0.0.1:9".into(),
        disk_free_pct: 50.0,
        disk_free_bytes: 1 << 40,
        container_count: 0,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    })
    .await
    .unwrap();

    const JOBS: usize = 300;
    let done_creating = Arc::new(AtomicBool::new(false));
    let created = Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let finished = Arc::new(AtomicUsize::new(0));
    let creator = {
        let (c, created, done) = (c.clone(), created.clone(), done_creating.clone());
        tokio::spawn(async move {
            for i in 0..JOBS {
                let req = CreateJobRequest {
                    job_type: Default::default(),
                    payload: JobPayload {
                        app_id: format!("f{i}"),
                        user_id: Some(format!("of{i}")),
                        image: Some("127.0.0.1:5000/x/y:1".into()),
                        ..Default::default()
                    },
                };
                match again(|| c.create_job(&req)).await {
                    Ok(j) => created.lock().unwrap_or_else(|p| p.into_inner()).push(j.id),
                    // Created, but the answer was lost in the kill: the retry finds it active.
                    Err(ClientError::Api { status: 409, .. }) => {}
                    Err(e) => panic!("create: {e}"),
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut runners = Vec::new();
    for r in 0..8 {
        let (c, finished, done) = (c.clone(), finished.clone(), done_creating.clone());
        runners.push(tokio::spawn(async move {
            let id = format!("fr-{r}");
            loop {
                let claim = ClaimRequest {
                    runner_id: id.clone(),
                    lease_seconds: 3,
                    wait_seconds: 1,
                    agent_version: None,
                };
                let job = match c.claim(&claim).await {
                    Ok(Some(j)) => j,
                    Ok(None) if done.load(Ordering::SeqCst) => return,
                    Ok(None) | Err(_) => {
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                let hb = HeartbeatRequest {
                    runner_id: id.clone(),
                    extend_seconds: Some(3),
                    phase: Some("DEPLOY".into()),
                    phase_message: None,
                };
                let _ = c.heartbeat(job.id, &hb).await;
                let rep = ReportRequest {
                    error_code: None,
                    runner_id: id.clone(),
                    status: JobStatus::Succeeded,
                    error_message: None,
                    image: None,
                    commit_sha: None,
                };
                match again(|| c.report(job.id, &rep)).await {
                    Ok(_) => {
                        finished.fetch_add(1, Ordering::SeqCst);
                    }
                    // The lease lapsed across the restart: another runner finishes it.
                    Err(ClientError::Api { status: 409, .. }) => {}
                    Err(e) => panic!("report: {e}"),
                }
            }
        }));
    }
    // Kill it in the middle of the load.
    while finished.load(Ordering::SeqCst) < 80 {
        tokio::task::yield_now().await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = finished.load(Ordering::SeqCst);
    let mut child = spawn(dir.path(), port);
    wait_up(&c).await;
    creator.await.unwrap();
    for r in runners {
        r.await.unwrap();
    }
    // Whatever was claimed when it died comes back after its lease and is finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let active = c
            .list_jobs(&protocol::job::JobListQuery {
                limit: Some(200),
                status: Some("RUNNING".into()),
                ..Default::default()
            })
            .await
            .unwrap_or_default()
            .len()
            + c.list_jobs(&protocol::job::JobListQuery {
                limit: Some(200),
                status: Some("PENDING".into()),
                ..Default::default()
            })
            .await
            .unwrap_or_default()
            .len();
        if active == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{active} jobs never finished after the restart"
        );
        // Finish what the sweeper requeued.
        if let Ok(Some(j)) = c
            .claim(&ClaimRequest {
                runner_id: "sweeper-helper".into(),
                lease_seconds: 3,
                wait_seconds: 1,
                agent_version: None,
            })
            .await
        {
            let rep = ReportRequest {
                error_code: None,
                runner_id: "sweeper-helper".into(),
                status: JobStatus::Succeeded,
                error_message: None,
                image: None,
                commit_sha: None,
            };
            let _ = c.report(j.id, &rep).await;
        }
    }
    let mut all = HashSet::new();
    for i in 0..JOBS {
        let jobs = c.jobs_by_app(&format!("f{i}"), Some(10)).await.unwrap();
        assert_eq!(jobs.len(), 1, "app f{i} has {} jobs", jobs.len());
        assert!(
            jobs[0].status.is_terminal(),
            "app f{i}: {:?}",
            jobs[0].status
        );
        assert_eq!(jobs[0].status, JobStatus::Succeeded);
        all.insert(jobs[0].id);
    }
    for id in created.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        assert!(all.contains(id), "job {id} was lost");
    }
    eprintln!("deployd killed after {killed_at} of {JOBS} jobs; all {JOBS} ended SUCCEEDED");
    let _ = child.kill();
    let _ = child.wait();
}
