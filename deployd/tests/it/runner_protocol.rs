//! The runner protocol against a real deployd: atomic claims, leases, the sweeper,
//! long-polling, cancel through the heartbeat, idempotent reports.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use protocol::client::ClientError;
use protocol::job::{HeartbeatRequest, JobListQuery, JobStatus, ReportRequest};
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_is_never_granted_twice() {
    let _turn = crate::common::LOAD.lock().await;
    // A load test: on a busy machine it may outlast the node's 60 s freshness, and a stale
    // node takes no job (the claimers would stop early).
    let d = testkit::deployd::start_with(|s| s.nodes.heartbeat_stale_seconds = 3600).await;
    let c = d.client();
    node(&c, "rt-01", 80.0, 100_000_000_000).await;
    const JOBS: usize = 2000;
    const CLAIMERS: usize = 64;
    for i in 0..JOBS {
        create(&c, payload(&format!("app{i}"))).await;
    }
    let seen: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    let mut tasks = Vec::new();
    for r in 0..CLAIMERS {
        let c = c.clone();
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            let runner = format!("runner-{r}");
            let mut dupes = Vec::new();
            while let Some(job) = claim(&c, &runner, 0).await {
                if let Some(prev) = seen.lock().await.insert(job.id, runner.clone()) {
                    dupes.push((job.id, prev));
                }
                report(&c, job.id, &runner, JobStatus::Succeeded).await;
            }
            dupes
        }));
    }
    let mut dupes = Vec::new();
    for t in tasks {
        dupes.extend(t.await.expect("claimer"));
    }
    assert!(dupes.is_empty(), "jobs granted twice: {dupes:?}");
    assert_eq!(seen.lock().await.len(), JOBS, "every job claimed once");
    let mut succeeded = 0;
    for st in JobStatus::ALL {
        let n = d
            .state
            .store
            .list_jobs(None, Some(st), 10_000)
            .await
            .unwrap()
            .len();
        if st == JobStatus::Succeeded {
            succeeded = n;
        } else {
            assert_eq!(n, 0, "{st} jobs left");
        }
    }
    assert_eq!(succeeded, JOBS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_runner_loses_its_job_and_its_late_report_changes_nothing() {
    let (d, c) = with_node().await;
    let job = create(&c, payload("20002")).await;
    let claimed = claim(&c, "runner-a", 0).await.expect("no job");
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.attempt, 1);
    assert!(claimed.lease_expire_at.is_some());
    let rt = claimed
        .runtime_node
        .clone()
        .expect("claim carries no runtimeNode");
    assert_eq!(rt.node_name, "rt-01");
    assert_eq!(
        claimed.deploy_url.as_deref(),
        Some("http://gw-rt-01.test/runtime/20002/")
    );
    assert_eq!(
        claimed.payload.extra.get("attempt"),
        Some(&serde_json::json!(1))
    );

    // The runner goes silent; past its lease the sweeper requeues the job.
    d.state.clock.advance(Duration::from_secs(31));
    let out = d.state.sweep_once().await.unwrap();
    assert_eq!(out.requeued, vec![job.id]);
    let j = c.get_job(job.id).await.unwrap();
    assert_eq!(j.status, JobStatus::Pending);
    assert_eq!(j.attempt, 2);
    assert!(j.phase_message.unwrap_or_default().contains("runner-a"));
    assert!(
        j.runtime_node.is_none() && j.deploy_url.is_none(),
        "a requeued job carries no node of its old attempt"
    );

    // Its late report and heartbeat are refused and change nothing.
    let late = c
        .report(
            job.id,
            &ReportRequest {
                error_code: None,
                runner_id: "runner-a".into(),
                status: JobStatus::Succeeded,
                error_message: None,
                image: None,
                commit_sha: None,
            },
        )
        .await;
    assert!(
        matches!(&late, Err(ClientError::Api { status: 409, message }) if message.contains("lease lost")),
        "{late:?}"
    );
    let hb = c
        .heartbeat(
            job.id,
            &HeartbeatRequest {
                runner_id: "runner-a".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(hb.err().and_then(|e| e.status()), Some(409));
    let j = c.get_job(job.id).await.unwrap();
    assert_eq!((j.status, j.attempt), (JobStatus::Pending, 2));

    // Two more silent attempts, and the job fails with the reason.
    for attempt in 2..=3 {
        // The node keeps heartbeating while time moves on.
        node(&c, "rt-01", 80.0, 100_000_000_000).await;
        let again = claim(&c, "runner-b", 0).await.expect("not requeued");
        assert_eq!(again.attempt, attempt);
        d.state.clock.advance(Duration::from_secs(31));
        d.state.sweep_once().await.unwrap();
    }
    let j = c.get_job(job.id).await.unwrap();
    assert_eq!(j.status, JobStatus::Failed);
    let reason = j.error_message.unwrap_or_default();
    assert!(
        reason.contains("lease expired on attempt 3 of 3"),
        "{reason}"
    );
    assert!(reason.contains("runner-b"), "{reason}");
    assert_eq!(j.error_code.as_deref(), Some("LEASE_EXPIRED"));
    // Terminal never moves.
    assert!(claim(&c, "runner-c", 0).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_runs_on_its_own() {
    let d = testkit::deployd::start_with(|s| s.jobs.sweep_interval_ms = 20).await;
    let c = d.client();
    node(&c, "rt-01", 80.0, 1 << 40).await;
    let job = create(&c, payload("a1")).await;
    claim(&c, "r1", 0).await.expect("no job");
    d.state.clock.advance(Duration::from_secs(31));
    // The background sweeper, not a claim, requeues it; a long-poll claim is woken by it.
    let again = claim(&c, "r2", 10).await.expect("never requeued");
    assert_eq!((again.id, again.attempt), (job.id, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_claimer_gets_a_job_created_after_it_started_waiting() {
    let (_d, c) = with_node().await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let job = claim(&c, "poller", 20).await;
            (job, t)
        })
    };
    // Wait until the claim is registered as a runner, i.e. it is inside its long-poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.runners().await.map(|r| r.is_empty()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the claimer never arrived");
        tokio::task::yield_now().await;
    }
    let created_at = Instant::now();
    let job = create(&c, payload("late-app")).await;
    let (got, _) = waiter.await.unwrap();
    let got = got.expect("the long-poll returned no job");
    assert_eq!(got.id, job.id);
    // Well before the next poll would have come (20 s): woken, not polled.
    assert!(
        created_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        created_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_a_running_job_through_its_heartbeat() {
    let (_d, c) = with_node().await;
    let pending = create(&c, payload("p1")).await;
    let cancelled = c.cancel_job(pending.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);

    let job = create(&c, payload("p2")).await;
    claim(&c, "r1", 0).await.expect("no job");
    let hb = c
        .heartbeat(
            job.id,
            &HeartbeatRequest {
                runner_id: "r1".into(),
                extend_seconds: Some(30),
                phase: Some("BUILD".into()),
                phase_message: Some("step 2/4".into()),
            },
        )
        .await
        .unwrap();
    assert!(!hb.cancel_requested);
    assert_eq!(
        c.get_job(job.id)
            .await
            .map(|j| j.phase)
            .ok()
            .flatten()
            .as_deref(),
        Some("BUILD")
    );
    let j = c.cancel_job(job.id).await.unwrap();
    assert_eq!(j.status, JobStatus::Running);
    assert!(j.cancel_requested);
    let hb = c
        .heartbeat(
            job.id,
            &HeartbeatRequest {
                runner_id: "r1".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&hb, Err(ClientError::Api { status: 409, message }) if message.contains("cancel requested")),
        "{hb:?}"
    );
    let done = report(&c, job.id, "r1", JobStatus::Cancelled).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    // Terminal states never move: cancelling again is a conflict.
    assert_eq!(
        c.cancel_job(job.id).await.err().and_then(|e| e.status()),
        Some(409)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_is_idempotent_and_records_the_app_run() {
    let (_d, c) = with_node().await;
    let job = create(&c, user_payload("7", "20002")).await;
    claim(&c, "r1", 0).await.expect("no job");
    let req = ReportRequest {
        error_code: None,
        runner_id: "r1".into(),
        status: JobStatus::Succeeded,
        error_message: None,
        image: Some("127.0.0.1:5000/funaistudio/u7-app20002:0123456789ab".into()),
        commit_sha: Some("0123456789abcdef".into()),
    };
    let a = c.report(job.id, &req).await.unwrap();
    let b = c.report(job.id, &req).await.expect("second report");
    assert_eq!(a, b);
    let failed = ReportRequest {
        error_code: None,
        status: JobStatus::Failed,
        ..req.clone()
    };
    assert_eq!(
        c.report(job.id, &failed)
            .await
            .err()
            .and_then(|e| e.status()),
        Some(409)
    );
    let run = c.app("20002").await.unwrap();
    assert_eq!(run.status.as_str(), "READY");
    assert_eq!(run.image, req.image);
    assert_eq!(run.node_name.as_deref(), Some("rt-01"));
    assert_eq!(run.recent_images.len(), 1);
    assert_eq!(
        run.deploy_url.as_deref(),
        Some("http://gw-rt-01.test/runtime/20002/")
    );
    let by_app = c.jobs_by_app("20002", None).await.unwrap();
    assert_eq!(by_app.len(), 1);
    let runners = c.runners().await.unwrap();
    assert_eq!(runners.len(), 1);
    assert_eq!(runners[0].jobs_claimed, 1);
    assert_eq!(runners[0].status.to_string(), "HEALTHY");
    let listed = c
        .list_jobs(&JobListQuery {
            status: Some("SUCCEEDED".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_code_is_kept_beside_the_message_and_a_malformed_one_refused() {
    let (_d, c) = with_node().await;
    let job = create(&c, user_payload("7", "30001")).await;
    claim(&c, "r1", 0).await.expect("no job");
    let failed = ReportRequest {
        error_code: Some("registry insecure".into()),
        runner_id: "r1".into(),
        status: JobStatus::Failed,
        error_message: Some("PUSH failed: registry 10.0.0.3 speaks plain HTTP".into()),
        image: None,
        commit_sha: None,
    };
    let refused = c.report(job.id, &failed).await.err();
    assert_eq!(refused.as_ref().and_then(|e| e.status()), Some(400));
    assert!(
        refused
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("errorCode"),
        "the refusal names the field"
    );
    let still = c.get_job(job.id).await.unwrap();
    assert_eq!(
        still.status,
        JobStatus::Running,
        "a refused report changes nothing"
    );

    // A code this build does not know (a newer runner's) is kept as it came.
    for code in ["REGISTRY_INSECURE", "A_NEWER_CODE"] {
        let job = if code == "REGISTRY_INSECURE" {
            job.id
        } else {
            let j = create(&c, user_payload("7", "30002")).await;
            claim(&c, "r1", 0).await.expect("no job");
            j.id
        };
        let done = c
            .report(
                job,
                &ReportRequest {
                    error_code: Some(code.into()),
                    ..failed.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(done.error_code.as_deref(), Some(code));
        let read = c.get_job(job).await.unwrap();
        assert_eq!(read.error_code.as_deref(), Some(code));
        assert!(
            read.error_message
                .unwrap_or_default()
                .contains("plain HTTP")
        );
    }
    // Old runners send no code: the job has none, and the message is all there is.
    let j = create(&c, user_payload("7", "30003")).await;
    claim(&c, "r1", 0).await.expect("no job");
    let done = report(&c, j.id, "r1", JobStatus::Failed).await;
    assert_eq!(done.error_code, None);
}
