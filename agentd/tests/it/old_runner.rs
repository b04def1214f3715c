//! The estate's own runner, replayed: its requests as it sends them (no runner token, the
//! payload's fields, a deploy call it gives up on after its timeout, a poll for jobs) against
//! a real deployd and agentd's real runtime and Docker. The job, the app record and the
//! gateway must tell the truth whatever the old runner reports.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};
use testkit::deployd::TestDeployd;

/// The old runner's one HTTP client: JSON, no token, its own timeout.
struct OldRunner {
    id: &'static str,
    deployd: String,
    http: reqwest::Client,
    /// How long it waits for a deploy call.
    deploy_timeout: Duration,
}

/// What one round of the old runner reported.
#[derive(Debug, PartialEq)]
enum Round {
    Reported(&'static str),
}

impl OldRunner {
    fn new(id: &'static str, d: &TestDeployd, deploy_timeout: Duration) -> Self {
        Self {
            id,
            deployd: d.url.clone(),
            http: reqwest::Client::new(),
            deploy_timeout,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.deployd))
            .json(&body)
            .send()
            .await
            .expect("deployd answers");
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or_default())
    }

    /// Polls for a job as the old runner does (no long-poll), for up to 30 s.
    async fn claim(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (st, v) = self
                .post("/deploy/jobs/claim", json!({ "runnerId": self.id }))
                .await;
            assert_eq!(st, 200, "{v}");
            if !v["data"].is_null() {
                return v["data"].clone();
            }
            assert!(Instant::now() < deadline, "no job to claim");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A phase heartbeat; false when deployd says the job is no longer RUNNING.
    async fn beat(&self, job: &Value, phase: &str) -> bool {
        let (st, v) = self
            .post(
                &format!("/deploy/jobs/{}/heartbeat", job["id"]),
                json!({ "runnerId": self.id, "phase": phase }),
            )
            .await;
        assert_eq!(st, 200, "the old runner raises on anything but 200: {v}");
        v["data"]["status"] == "RUNNING"
    }

    async fn report(&self, job: &Value, status: &'static str, error: Option<&str>) -> Round {
        let mut body = json!({ "runnerId": self.id, "status": status });
        if let Some(e) = error {
            body["errorMessage"] = json!(e);
        }
        let (st, v) = self
            .post(&format!("/deploy/jobs/{}/report", job["id"]), body)
            .await;
        assert_eq!(st, 200, "{v}");
        Round::Reported(status)
    }

    /// One job, as the old runner handles a stage-1 job: heartbeat, deploy call, report
    /// (with no image).
    async fn round(&self, job: &Value) -> Round {
        if !self.beat(job, "DEPLOY").await {
            return self
                .report(job, "FAILED", Some("job no longer running"))
                .await;
        }
        let p = &job["payload"];
        let agent = job["runtimeNode"]["agentBaseUrl"].as_str().expect("a node");
        let call = self
            .http
            .post(format!("{agent}/agent/apps/deploy"))
            .header("X-Runtime-Token", testkit::agentd::RUNTIME_TOKEN)
            .timeout(self.deploy_timeout)
            .json(&json!({
                "userId": p["userId"],
                "appId": p["appId"],
                "image": p["image"],
                "containerPort": p["containerPort"].as_i64().unwrap_or(3000),
                "basePath": p["basePath"],
            }))
            .send()
            .await;
        match call {
            Ok(r) if r.status().is_success() => self.report(job, "SUCCEEDED", None).await,
            Ok(r) => {
                let st = r.status().as_u16();
                self.report(job, "FAILED", Some(&format!("{st} Server Error")))
                    .await
            }
            Err(e) if e.is_timeout() => self.report(job, "FAILED", Some("Read timed out")).await,
            Err(e) => panic!("deploy call: {e}"),
        }
    }
}

async fn create(d: &TestDeployd, app: &str, image: &str) -> i64 {
    // The API's own request: ids as numbers, the image.
    let r = reqwest::Client::new()
        .post(format!("{}/deploy/jobs", d.url))
        .header("X-DEPLOY-SECRET", testkit::deployd::DEPLOY_SECRET)
        .json(&json!({"type": "BUILD_AND_DEPLOY", "payload": {"appId": app.parse::<i64>().unwrap(), "userId": 9, "image": image}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["data"]["id"].as_i64().unwrap_or_else(|| panic!("{v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_estates_runner_goes_end_to_end_and_the_records_tell_the_truth() {
    let Some(s) = services() else { return };
    let d = testkit::deployd::start_for_real_nodes_with(|st| {
        st.auth.allow_legacy_runners = true;
        st.auth.runner_allowed_ips = vec!["127.0.0.1/32".into()];
    })
    .await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |r| r.heartbeat_seconds = 1).await;
    wait_for_node(&c, &rt.node).await;
    let app = format!(
        "{}",
        40_000 + u32::from_str_radix(&rand_hex(), 16).unwrap() % 9_000
    );
    let v1 = image(&s, "t-old", "v1", App::Serves("v1")).await;
    let slow = testkit::agentd::script_image(
        &s,
        "t-old",
        "slow",
        "v2",
        "/bin/busybox sleep 5; exec /bin/busybox httpd -f -p 3000 -h /www",
    )
    .await;
    let runner = OldRunner::new("py-runner-01", &d, Duration::from_secs(30));

    // 1. A plain deploy: routed where deployd tells users to go.
    let id = create(&d, &app, &v1).await;
    let job = runner.claim().await;
    assert_eq!(job["id"], id);
    assert_eq!(job["payload"]["basePath"], format!("/runtime/{app}"));
    assert_eq!(runner.round(&job).await, Round::Reported("SUCCEEDED"));
    assert_eq!(
        rt.page(&format!("/runtime/{app}/")).await,
        (200, "v1\n".into())
    );
    let rec = c.app(&app).await.unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.image.as_deref()),
        ("READY", Some(v1.as_str()))
    );

    // 2. A deploy that outlasts the caller's timeout: the caller reports FAILED, the node
    //    finishes it, and the record follows the node.
    let quick = OldRunner::new("py-runner-01", &d, Duration::from_secs(2));
    create(&d, &app, &slow).await;
    let job = quick.claim().await;
    assert_eq!(quick.round(&job).await, Round::Reported("FAILED"));
    let done = c.get_job(job["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(done.error_message.as_deref(), Some("Read timed out"));
    until("v2 served", Duration::from_secs(60), async || {
        (rt.page(&format!("/runtime/{app}/")).await == (200, "v2\n".into())).then_some(())
    })
    .await;
    let rec = until(
        "the record READY on v2",
        Duration::from_secs(60),
        async || {
            let r = c.app(&app).await.ok()?;
            (r.status.as_str() == "READY" && r.image.as_deref() == Some(slow.as_str())).then_some(r)
        },
    )
    .await;
    assert_eq!(rec.node_name.as_deref(), Some(rt.node.as_str()));

    // 3. A cancel: the old runner reads it from a 200 heartbeat and stops; nothing is
    //    deployed and the job says CANCELLED.
    let id = create(&d, &app, &v1).await;
    let job = runner.claim().await;
    c.cancel_job(id).await.unwrap();
    assert_eq!(runner.round(&job).await, Round::Reported("FAILED"));
    let cancelled = c.get_job(id).await.unwrap();
    assert_eq!(cancelled.status.as_str(), "CANCELLED");
    assert_eq!(
        rt.page(&format!("/runtime/{app}/")).await,
        (200, "v2\n".into())
    );

    // 4. A runner killed after its claim: the lease runs out, the job is claimed again.
    let id = create(&d, &app, &v1).await;
    let lost = runner.claim().await;
    assert_eq!(lost["id"], id);
    d.state.clock.advance(Duration::from_secs(31));
    let other = OldRunner::new("py-runner-02", &d, Duration::from_secs(30));
    let again = other.claim().await;
    assert_eq!(
        (again["id"].as_i64(), again["attempt"].as_i64()),
        (Some(id), Some(2))
    );
    assert_eq!(other.round(&again).await, Round::Reported("SUCCEEDED"));
    assert_eq!(
        rt.page(&format!("/runtime/{app}/")).await,
        (200, "v1\n".into())
    );
}
