//! The estate's own runner (no token, from the runner allowlist) against deployd: the route
//! in every claimed payload, a cancel in the form it reads, and a log that is not flooded.

use crate::common::*;
use protocol::job::JobStatus;
use serde_json::{Value, json};
use testkit::deployd::TestDeployd;

async fn legacy_deployd() -> TestDeployd {
    let d = testkit::deployd::start_with(|s| {
        s.auth.allow_legacy_runners = true;
        s.auth.runner_allowed_ips = vec!["127.0.0.1/32".into()];
    })
    .await;
    node(&d.client(), "rt-01", 80.0, 100_000_000_000).await;
    d
}

/// A call as the old runner makes it: JSON, no token.
async fn tokenless(d: &TestDeployd, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", d.url))
        .json(&body)
        .send()
        .await
        .expect("deployd answers");
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_reaches_the_estates_runner_as_a_cancelled_status() {
    let d = legacy_deployd().await;
    let c = d.client();
    let job = create(&c, payload("20002")).await;
    let (st, claimed) = tokenless(
        &d,
        "/deploy/jobs/claim",
        json!({"runnerId": "py-runner", "leaseSeconds": 30}),
    )
    .await;
    assert_eq!(st, 200, "{claimed}");
    assert_eq!(claimed["data"]["id"], job.id);
    assert_eq!(
        claimed["data"]["payload"]["basePath"], "/runtime/20002",
        "the route is in the payload"
    );
    let beat = format!("/deploy/jobs/{}/heartbeat", job.id);
    let (st, v) = tokenless(&d, &beat, json!({"runnerId": "py-runner"})).await;
    assert_eq!((st, &v["data"]["status"]), (200, &json!("RUNNING")), "{v}");

    c.cancel_job(job.id).await.expect("cancel");
    let (st, v) = tokenless(
        &d,
        &beat,
        json!({"runnerId": "py-runner", "phase": "DEPLOY"}),
    )
    .await;
    assert_eq!(st, 200, "the old runner reads a cancel as a 200: {v}");
    assert_eq!(v["data"]["status"], "CANCELLED", "{v}");
    assert_eq!(v["data"]["cancelRequested"], true, "{v}");
    // It stops and reports FAILED, in its words; the job is what the operator asked.
    let (st, v) = tokenless(
        &d,
        &format!("/deploy/jobs/{}/report", job.id),
        json!({"runnerId": "py-runner", "status": "FAILED", "errorMessage": "job no longer running"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let done = c.get_job(job.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Cancelled);
    assert_eq!(done.error_code.as_deref(), Some("CANCELLED"));
    let log = c.read_log(job.id, 0, 0).await.unwrap().content;
    assert!(
        log.contains("runner py-runner reported FAILED after the cancel: job no longer running"),
        "{log}"
    );
    assert_eq!(
        c.app("20002").await.unwrap().last_job_status,
        Some(JobStatus::Cancelled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_with_a_token_keeps_its_protocol_on_a_cancel() {
    let (d, c) = with_node().await;
    let job = create(&c, payload("t1")).await;
    claim(&c, "r1", 0).await.expect("a job");
    c.cancel_job(job.id).await.unwrap();
    let err = c
        .heartbeat(
            job.id,
            &protocol::job::HeartbeatRequest {
                runner_id: "r1".into(),
                extend_seconds: None,
                phase: None,
                phase_message: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    // A FAILED report after a cancel stays FAILED for a runner that was told by a 409.
    let done = report(&c, job.id, "r1", JobStatus::Failed).await;
    assert_eq!(done.status, JobStatus::Failed);
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokenless_runner_is_counted_on_every_call_and_warned_about_once() {
    let d = legacy_deployd().await;
    for _ in 0..5 {
        let (st, _) = tokenless(
            &d,
            "/deploy/jobs/claim",
            json!({"runnerId": "py-runner", "leaseSeconds": 30}),
        )
        .await;
        assert_eq!(st, 200);
    }
    let m = &d.state.metrics;
    assert_eq!(
        m.legacy_runner_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        5
    );
    assert_eq!(
        m.legacy_warned.lock().unwrap().len(),
        1,
        "one address warned about"
    );
    assert!(
        !m.legacy_request("127.0.0.1".parse().unwrap()),
        "not again within the hour"
    );
    let text = reqwest::get(format!("{}/metrics", d.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("deployd_legacy_runner_requests_total 6"),
        "{text}"
    );
}

/// A beat of rt-01 listing what it holds.
async fn beat_with(d: &TestDeployd, apps: Vec<protocol::node::NodeApp>) {
    let mut hb = node_hb("rt-01", 80.0, 100_000_000_000, apps.len() as i64);
    hb.apps = Some(apps);
    d.client().node_heartbeat(&hb).await.expect("heartbeat");
}

fn held(app: &str, image: &str, since: chrono::DateTime<chrono::Utc>) -> protocol::node::NodeApp {
    protocol::node::NodeApp {
        app_id: app.into(),
        user_id: Some(format!("o{app}")),
        image: image.into(),
        running: true,
        since: Some(since),
    }
}

/// Claimed and reported by the estate's runner, which names no image.
async fn legacy_run(d: &TestDeployd, app: &str, status: &str) -> i64 {
    let c = d.client();
    let job = create(
        &c,
        protocol::job::JobPayload {
            app_id: app.into(),
            user_id: Some(format!("o{app}")),
            repo_ssh_url: Some("ssh://git@127.0.0.1:2222/a.git".into()),
            ..Default::default()
        },
    )
    .await;
    let (st, v) = tokenless(
        d,
        "/deploy/jobs/claim",
        json!({"runnerId": "py-runner", "leaseSeconds": 30}),
    )
    .await;
    assert_eq!((st, &v["data"]["id"]), (200, &json!(job.id)), "{v}");
    let (st, v) = tokenless(
        d,
        &format!("/deploy/jobs/{}/report", job.id),
        json!({"runnerId": "py-runner", "status": status, "errorMessage": "502 Server Error"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    job.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_heartbeat_fills_and_corrects_what_the_estates_runner_reported() {
    let d = legacy_deployd().await;
    let c = d.client();
    // Deployed, reported without an image: the node's beat names it.
    let job = legacy_run(&d, "img1", "SUCCEEDED").await;
    assert_eq!(c.app("img1").await.unwrap().image, None);
    let image = "127.0.0.1:5000/funaistudio/uoimg1-appimg1:0123456789ab";
    beat_with(&d, vec![held("img1", image, chrono::Utc::now())]).await;
    assert_eq!(c.app("img1").await.unwrap().image.as_deref(), Some(image));
    assert_eq!(c.get_job(job).await.unwrap().image.as_deref(), Some(image));

    // Reported FAILED (the caller gave up) while the new container serves: READY.
    legacy_run(&d, "late1", "FAILED").await;
    assert_eq!(c.app("late1").await.unwrap().status.as_str(), "FAILED");
    let late = "127.0.0.1:5000/funaistudio/uolate1-applate1:abc";
    beat_with(
        &d,
        vec![
            held("img1", image, chrono::Utc::now()),
            held("late1", late, chrono::Utc::now()),
        ],
    )
    .await;
    let run = c.app("late1").await.unwrap();
    assert_eq!(run.status.as_str(), "READY", "{run:?}");
    assert_eq!(run.image.as_deref(), Some(late));
    // FAILED with only an older container serving (the old version kept): left FAILED.
    legacy_run(&d, "old1", "FAILED").await;
    let before = chrono::Utc::now() - chrono::Duration::hours(1);
    beat_with(
        &d,
        vec![
            held("img1", image, chrono::Utc::now()),
            held("late1", late, chrono::Utc::now()),
            held("old1", "127.0.0.1:5000/x/old1:1", before),
        ],
    )
    .await;
    assert_eq!(c.app("old1").await.unwrap().status.as_str(), "FAILED");

    // img1's container exited behind the node agent's back: DOWN, saying so; running
    // again: READY.
    let mut exited = held("img1", image, chrono::Utc::now());
    exited.running = false;
    beat_with(&d, vec![exited, held("late1", late, chrono::Utc::now())]).await;
    let down = c.app("img1").await.unwrap();
    assert_eq!(down.status.as_str(), "DOWN", "{down:?}");
    assert_eq!(
        down.error_message.as_deref(),
        Some("its container does not run on node rt-01")
    );
    beat_with(
        &d,
        vec![
            held("img1", image, chrono::Utc::now()),
            held("late1", late, chrono::Utc::now()),
        ],
    )
    .await;
    let up = c.app("img1").await.unwrap();
    assert_eq!(up.status.as_str(), "READY", "{up:?}");
    assert_eq!(up.error_message, None);

    // img1's container removed behind deployd's back: STOPPED, saying so; an app with a
    // job under way is left to its job.
    create(&c, payload("late1")).await;
    beat_with(&d, vec![]).await;
    let gone = c.app("img1").await.unwrap();
    assert_eq!(gone.status.as_str(), "STOPPED", "{gone:?}");
    assert_eq!(
        gone.error_message.as_deref(),
        Some("its container is gone from node rt-01")
    );
    assert_eq!(c.app("late1").await.unwrap().status.as_str(), "READY");
    // A beat that lists nothing usable is still a beat.
    beat_with(
        &d,
        vec![held("bad/id", "not an image!", chrono::Utc::now())],
    )
    .await;
}
