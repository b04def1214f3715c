//! Versions: the version an agent sends with its node heartbeat and its claim is kept and
//! shown in the admin listings (an older agent sends none and still works), a bad one is
//! refused and changes nothing, `/metrics` names the build, and a build outside a Git
//! checkout calls its commit unknown.

use protocol::headers;
use protocol::job::{ClaimRequest, JobStatus};
use protocol::node::NodeHeartbeat;
use testkit::deployd::{ADMIN_TOKEN, NODE_TOKEN, RUNNER_TOKEN, TestDeployd};

use crate::common::*;

// The build scripts' own logic, run here on a directory of our choosing.
#[allow(dead_code)]
mod build {
    include!("../../../protocol/build_version.rs");
}

const V1: &str = "0.1.0 (2657bbe)";
const V2: &str = "0.2.0 (abcdef1)";

fn hb(name: &str, version: Option<&str>) -> NodeHeartbeat {
    NodeHeartbeat {
        agent_version: version.map(str::to_string),
        ..node_hb(name, 80.0, 100_000_000_000, 0)
    }
}

fn claim_as(runner: &str, version: Option<&str>) -> ClaimRequest {
    ClaimRequest {
        runner_id: runner.to_string(),
        lease_seconds: 30,
        wait_seconds: 0,
        agent_version: version.map(str::to_string),
    }
}

/// What `GET /admin/{what}` answers, as JSON: the wire names, not the Rust ones.
async fn admin_list(d: &TestDeployd, what: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/admin/{what}", d.url))
        .header(headers::ADMIN_TOKEN, ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {v}"))
        .clone()
}

/// The `agentVersion` the listing shows for the entry whose `key` is `name`.
async fn version_in(d: &TestDeployd, what: &str, key: &str, name: &str) -> serde_json::Value {
    let list = admin_list(d, what).await;
    let entry = list
        .iter()
        .find(|e| e[key] == name)
        .unwrap_or_else(|| panic!("{name} not in {list:?}"));
    assert!(
        entry.get("agentVersion").is_some(),
        "no agentVersion in {entry}"
    );
    entry["agentVersion"].clone()
}

async fn post_raw(
    d: &TestDeployd,
    path: &str,
    header: &str,
    token: &str,
    body: &str,
) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", d.url))
        .header(header, token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    (
        status,
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Bodies whose `agentVersion` is refused: empty, too long, a control character, not text.
fn bad_versions() -> Vec<String> {
    vec![
        "\"\"".into(),
        format!("\"{}\"", "9".repeat(65)),
        "\"0.1.0\\n(x)\"".into(),
        "\"0.1.0 \\u001b[31m\"".into(),
        "42".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_heartbeat_records_its_agent_version() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    // An agent of before versions: no field, and all is as before.
    let old = c.node_heartbeat(&hb("rt-old", None)).await.unwrap();
    assert_eq!(old.agent_version, None);
    let new = c.node_heartbeat(&hb("rt-new", Some(V1))).await.unwrap();
    assert_eq!(new.agent_version.as_deref(), Some(V1));
    assert_eq!(
        version_in(&d, "nodes", "nodeName", "rt-old").await,
        serde_json::Value::Null
    );
    assert_eq!(version_in(&d, "nodes", "nodeName", "rt-new").await, V1);

    // The agent restarts on a new build: its next beat (a known, fresh node) says so.
    c.node_heartbeat(&hb("rt-new", Some(V2))).await.unwrap();
    assert_eq!(version_in(&d, "nodes", "nodeName", "rt-new").await, V2);
    // And an older agent on the same node leaves no stale version behind.
    c.node_heartbeat(&hb("rt-new", None)).await.unwrap();
    assert_eq!(
        version_in(&d, "nodes", "nodeName", "rt-new").await,
        serde_json::Value::Null
    );
    c.node_heartbeat(&hb("rt-new", Some(V1))).await.unwrap();

    for bad in bad_versions() {
        let body = serde_json::to_value(hb("rt-new", None)).unwrap();
        let mut text = body.to_string();
        text.insert_str(text.len() - 1, &format!(",\"agentVersion\":{bad}"));
        let (status, message) = post_raw(
            &d,
            "/internal/runtime-nodes/heartbeat",
            headers::NODE_TOKEN,
            NODE_TOKEN,
            &text,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {message}");
        assert!(message.contains("agentVersion"), "{bad}: {message}");
        assert_eq!(
            version_in(&d, "nodes", "nodeName", "rt-new").await,
            V1,
            "{bad}"
        );
    }
    assert_eq!(c.list_nodes().await.unwrap().len(), 2);
}

fn engine(kind: &str, version: &str) -> protocol::node::EngineInfo {
    protocol::node::EngineInfo {
        kind: kind.into(),
        version: version.into(),
        api_version: "1.41".into(),
    }
}

/// The `engine` the node listing shows for `name`.
async fn engine_in(d: &TestDeployd, name: &str) -> serde_json::Value {
    let list = admin_list(d, "nodes").await;
    let entry = list
        .iter()
        .find(|e| e["nodeName"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list:?}"));
    entry.get("engine").cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_heartbeat_records_its_engine() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    // An agent of before engine reports: no field, and the node has no engine.
    let old = c.node_heartbeat(&hb("rt-old", Some(V1))).await.unwrap();
    assert_eq!(old.engine, None);
    assert_eq!(engine_in(&d, "rt-old").await, serde_json::Value::Null);
    // A new node comes up naming podman; the answer and the listing say so.
    let podman = engine("podman", "4.3.1");
    let up = NodeHeartbeat {
        engine: Some(podman.clone()),
        ..hb("rt-new", Some(V2))
    };
    assert_eq!(c.node_heartbeat(&up).await.unwrap().engine, Some(podman));
    assert_eq!(
        engine_in(&d, "rt-new").await,
        serde_json::json!({"kind": "podman", "version": "4.3.1", "apiVersion": "1.41"})
    );
    // The host moves to Docker: the next beat of the known, fresh node says so.
    let docker = engine("docker", "29.1.0");
    let moved = NodeHeartbeat {
        engine: Some(docker.clone()),
        ..hb("rt-new", Some(V2))
    };
    c.node_heartbeat(&moved).await.unwrap();
    let listed = c.list_nodes().await.unwrap();
    let node = listed.iter().find(|n| n.node_name == "rt-new").unwrap();
    assert_eq!(node.engine.as_ref(), Some(&docker));

    // A bad engine is refused and changes nothing.
    let bad = [
        serde_json::json!({"kind": "", "version": "1", "apiVersion": "1.41"}),
        serde_json::json!({"kind": "Docker Engine", "version": "1", "apiVersion": "1.41"}),
        serde_json::json!({"kind": "docker", "version": "1\n2", "apiVersion": "1.41"}),
        serde_json::json!({"kind": "docker", "version": "9".repeat(33), "apiVersion": "1.41"}),
        serde_json::json!({"kind": "docker", "version": "1"}),
        serde_json::json!("docker"),
    ];
    for e in bad {
        let mut body = serde_json::to_value(hb("rt-new", Some(V2))).unwrap();
        body["engine"] = e.clone();
        body["diskFreePct"] = serde_json::json!(1.5);
        let (status, message) = post_raw(
            &d,
            "/internal/runtime-nodes/heartbeat",
            headers::NODE_TOKEN,
            NODE_TOKEN,
            &body.to_string(),
        )
        .await;
        assert_eq!(status, 400, "{e}: {message}");
        assert!(message.contains("engine"), "{e}: {message}");
        let listed = c.list_nodes().await.unwrap();
        let node = listed.iter().find(|n| n.node_name == "rt-new").unwrap();
        assert_eq!(node.engine.as_ref(), Some(&docker), "{e}");
        assert_ne!(node.disk_free_pct, 1.5, "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_records_its_runners_agent_version() {
    let (d, c) = with_node().await;
    let job = create(&c, payload("v1")).await;
    let claimed = c.claim(&claim_as("r-new", Some(V1))).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(job.id));
    report(&c, job.id, "r-new", JobStatus::Succeeded).await;
    // An older runner claims without the field: it is listed all the same.
    assert!(c.claim(&claim_as("r-old", None)).await.unwrap().is_none());
    assert_eq!(version_in(&d, "runners", "runnerId", "r-new").await, V1);
    assert_eq!(
        version_in(&d, "runners", "runnerId", "r-old").await,
        serde_json::Value::Null
    );
    let typed = c.runners().await.unwrap();
    assert_eq!(
        typed
            .iter()
            .find(|r| r.runner_id == "r-new")
            .and_then(|r| r.agent_version.as_deref()),
        Some(V1)
    );

    // The runner comes back on a new build at once: its very next (empty) claim says so.
    assert!(
        c.claim(&claim_as("r-new", Some(V2)))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(version_in(&d, "runners", "runnerId", "r-new").await, V2);

    // A bad version is refused, and nothing is claimed or changed.
    let pending = create(&c, payload("v2")).await;
    for bad in bad_versions() {
        let body = format!("{{\"runnerId\":\"r-new\",\"waitSeconds\":0,\"agentVersion\":{bad}}}");
        let (status, message) = post_raw(
            &d,
            "/deploy/jobs/claim",
            headers::RUNNER_TOKEN,
            RUNNER_TOKEN,
            &body,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {message}");
        assert!(message.contains("agentVersion"), "{bad}: {message}");
        assert_eq!(
            version_in(&d, "runners", "runnerId", "r-new").await,
            V2,
            "{bad}"
        );
    }
    let still = c.get_job(pending.id).await.unwrap();
    assert_eq!(still.status, JobStatus::Pending);
    assert_eq!(admin_list(&d, "runners").await.len(), 2);
}

/// The commit this checkout is at, as the build names it.
fn checkout_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_the_build() {
    let d = testkit::deployd::start().await;
    let text = reqwest::get(format!("{}/metrics", d.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!(
        "build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("FUNAI_COMMIT")
    );
    assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
    assert!(text.contains("# TYPE build_info gauge"), "{text}");
}

#[test]
fn a_build_outside_a_git_checkout_names_no_commit_and_does_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let v = build::build_version("0.1.0", dir.path(), None);
    assert_eq!(v.line, "0.1.0 (unknown commit)");
    assert_eq!(v.commit, None);
    assert!(v.watch.is_empty(), "{:?}", v.watch);

    // A source tarball that knows its commit may say so.
    let given = build::build_version("0.1.0", dir.path(), Some("2657bbe0123".into()));
    assert_eq!(given.line, "0.1.0 (2657bbe)");
    let junk = build::build_version("0.1.0", dir.path(), Some("$(rm -rf /)".into()));
    assert_eq!(junk.line, "0.1.0 (unknown commit)");

    // Inside the checkout: the commit, and HEAD among the files that move it.
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let v = build::build_version("0.1.0", here, None);
    let commit = checkout_commit();
    if commit != "unknown" {
        assert_eq!(v.line, format!("0.1.0 ({commit})"));
        assert!(
            v.watch.iter().any(|p| p.ends_with("HEAD") && p.exists()),
            "{:?}",
            v.watch
        );
    }
}

/// Polls deployd's listing until `name` shows up (its agent's first beat or claim arrived).
async fn wait_listed(d: &TestDeployd, what: &str, key: &str, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !admin_list(d, what).await.iter().any(|e| e[key] == name) {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never showed in /admin/{what}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_sends_its_version_with_heartbeats_and_claims() {
    let (Some(s), Some(g)) = (testkit::agentd::services(), testkit::agentd::git_server()) else {
        return;
    };
    let d = testkit::deployd::start().await;
    // agentd is built from this same checkout: its version line is deployd's.
    let ours = env!("FUNAI_VERSION");

    let rt = testkit::agentd::start_runtime(&s, &d.url, |_| {}).await;
    wait_listed(&d, "nodes", "nodeName", &rt.node).await;
    assert_eq!(version_in(&d, "nodes", "nodeName", &rt.node).await, ours);
    // And the engine it runs on: this suite's deployd tests run on Docker.
    let engine = engine_in(&d, &rt.node).await;
    assert_eq!(engine["kind"], "docker", "{engine}");
    assert!(
        engine["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{engine}"
    );
    let text = reqwest::get(format!("{}/metrics", rt.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!(
        "build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("FUNAI_COMMIT")
    );
    assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");

    let runner = testkit::agentd::start_runner(&s, &g, &d.url, "r-real", |rs| {
        rs.claim_wait_seconds = 1;
    })
    .await;
    wait_listed(&d, "runners", "runnerId", "r-real").await;
    assert_eq!(version_in(&d, "runners", "runnerId", "r-real").await, ours);
    runner.stop().await;
}

/// deployd's binary with the test secrets and a database in `dir`.
fn deployd_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_deployd"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DEPLOYD_DATABASE_URL",
            format!("sqlite://{}/d.db", dir.display()),
        )
        .env("DEPLOYD_AUTH__DEPLOY_SECRET", "s3cret-deploy-value")
        .env("DEPLOYD_AUTH__RUNNER_TOKEN", "s3cret-runner-value")
        .env("DEPLOYD_AUTH__NODE_TOKEN", "s3cret-node-value")
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", "s3cret-admin-value");
    c
}

#[test]
fn deployd_logs_json_lines_when_asked() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = deployd_cmd(dir.path())
        .env("DEPLOYD_LOG_FORMAT", "json")
        .args(["--listen", "127.0.0.1:0", "serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let listening = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("deployd ended before listening: {seen:?}"))
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        seen.push(line);
        if v["message"] == "deployd listening" {
            break v;
        }
    };
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // Every line to the end is one JSON object, the shutdown's too.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    for line in &rest {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["time"].is_string(), "{line}");
    }
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");

    assert_eq!(listening["level"], "INFO", "{listening}");
    assert!(
        listening["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("deployd")),
        "{listening}"
    );
    assert!(
        listening["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{listening}"
    );
    let addr = listening["fields"]["addr"].as_str().unwrap_or_default();
    assert!(addr.starts_with("127.0.0.1:"), "{listening}");
    assert!(
        !seen.iter().chain(&rest).any(|l| l.contains("s3cret")),
        "a secret was logged"
    );
}

#[test]
fn an_unknown_log_format_is_refused_naming_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let out = deployd_cmd(dir.path())
        .env("DEPLOYD_LOG_FORMAT", "xml")
        .arg("print-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("log_format") && err.contains("`text`") && err.contains("`json`"),
        "{err}"
    );
    let shown = deployd_cmd(dir.path())
        .arg("print-config")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("log_format = \"text\""),
        "{shown:?}"
    );
}
