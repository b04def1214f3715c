//! Helpers shared by deployd's integration tests: a real deployd on port 0 and typed calls.
#![allow(dead_code)]

use protocol::client::DeployClient;
use protocol::job::{
    ClaimRequest, CreateJobRequest, Job, JobPayload, JobStatus, JobType, ReportRequest,
};
use protocol::node::NodeHeartbeat;
use testkit::deployd::TestDeployd;

/// A stage-1 job of `app`, owned by a user of its own (`o{app}`): the per-user limit never
/// binds across apps here; `user_payload` names the user.
pub fn payload(app: &str) -> JobPayload {
    JobPayload {
        app_id: app.to_string(),
        user_id: Some(format!("o{app}")),
        image: Some("127.0.0.1:5000/funaistudio/app:1".into()),
        ..Default::default()
    }
}

pub fn user_payload(user: &str, app: &str) -> JobPayload {
    JobPayload {
        user_id: Some(user.to_string()),
        ..payload(app)
    }
}

pub async fn create(c: &DeployClient, p: JobPayload) -> Job {
    c.create_job(&CreateJobRequest {
        job_type: JobType::BuildAndDeploy,
        payload: p,
    })
    .await
    .expect("create job")
}

pub fn node_hb(name: &str, pct: f64, bytes: i64, containers: i64) -> NodeHeartbeat {
    NodeHeartbeat {
        node_name: name.to_string(),
        agent_base_url: format!("http://127.0.0.1:7005/{name}"),
        gateway_base_url: format!("http://gw-{name}.test"),
        disk_free_pct: pct,
        disk_free_bytes: bytes,
        container_count: containers,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    }
}

pub async fn node(c: &DeployClient, name: &str, pct: f64, bytes: i64) {
    c.node_heartbeat(&node_hb(name, pct, bytes, 0))
        .await
        .unwrap_or_else(|e| panic!("node heartbeat {name}: {e}"));
}

pub async fn claim(c: &DeployClient, runner: &str, wait: i64) -> Option<Job> {
    c.claim(&ClaimRequest {
        runner_id: runner.to_string(),
        lease_seconds: 30,
        wait_seconds: wait,
        agent_version: None,
    })
    .await
    .expect("claim")
}

pub async fn report(c: &DeployClient, id: i64, runner: &str, status: JobStatus) -> Job {
    c.report(
        id,
        &ReportRequest {
            error_code: None,
            runner_id: runner.to_string(),
            status,
            error_message: None,
            image: None,
            commit_sha: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("report {id}: {e}"))
}

/// A deployd with one healthy node, ready to hand out jobs.
pub async fn with_node() -> (TestDeployd, DeployClient) {
    let d = testkit::deployd::start().await;
    let c = d.client();
    node(&c, "rt-01", 80.0, 100_000_000_000).await;
    (d, c)
}

/// The count of rows of a table, read straight from the database (any engine).
pub async fn count_rows(d: &TestDeployd, table: &str) -> i64 {
    d.count_rows(table).await
}

/// The load tests (thousands of jobs, 64 runners each: two in `replicas`, one in
/// `runner_protocol`) take turns: two at once on a two-core machine starve each other's
/// deployd of database connections (30 s waits, 500s), which measures the machine, not
/// deployd.
pub static LOAD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
