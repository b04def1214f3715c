//! Connectivity checks reported by agents: the runtime node's with its heartbeat (optional,
//! so the estate's agents that send none still beat), the runner's on its own endpoint; the
//! latest per host kept in SQL and served to admins; bad reports refused with the field.
//! Runs on every engine (`FUNAI_TEST_DB`).

use crate::common::node_hb;
use chrono::Utc;
use protocol::check::{CheckReport, Expect, ProbeKind, ProbeResult, Reporter, RunnerChecks, Seen};

fn result(port: u16, seen: Seen) -> ProbeResult {
    ProbeResult {
        from: "runtime".into(),
        to: "deploy".into(),
        address: "10.0.0.100".into(),
        port,
        expected: Expect::Open,
        seen,
        probe: ProbeKind::Health,
        latency_ms: Some(0.3),
        cause: Some("GET /internal/health: 200".into()),
        why: Some("node heartbeat".into()),
    }
}

fn report(role: &str, results: Vec<ProbeResult>) -> CheckReport {
    CheckReport {
        roles: vec![role.into()],
        addresses: vec!["10.0.0.102".into()],
        probed_at: Utc::now(),
        timeout_ms: 2000,
        results,
    }
}

#[tokio::test]
async fn the_latest_check_of_each_agent_is_kept_and_served() {
    let d = testkit::deployd::start().await;
    let c = d.client();

    // A heartbeat without checks, as the existing estate's agents send it, still beats.
    let raw = serde_json::json!({
        "nodeName": "rt-old", "agentBaseUrl": "http://127.0.0.1:7005",
        "gatewayBaseUrl": "http://127.0.0.1", "diskFreePct": 50.0,
        "diskFreeBytes": 1000, "containerCount": 0
    });
    let r = reqwest::Client::new()
        .post(format!("{}/internal/runtime-nodes/heartbeat", d.url))
        .header("X-RT-Node-Token", testkit::deployd::NODE_TOKEN)
        .json(&raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(c.checks().await.unwrap().is_empty());

    let mut hb = node_hb("rt-01", 50.0, 1000, 0);
    hb.checks = Some(report("runtime", vec![result(7002, Seen::Open)]));
    c.node_heartbeat(&hb).await.unwrap();
    // A later round replaces the first; a beat without checks leaves it.
    hb.checks = Some(report(
        "runtime",
        vec![result(7002, Seen::Closed), result(27017, Seen::Open)],
    ));
    c.node_heartbeat(&hb).await.unwrap();
    hb.checks = None;
    c.node_heartbeat(&hb).await.unwrap();

    c.runner_checks(&RunnerChecks {
        runner_id: "runner-01".into(),
        checks: report("runner", vec![result(7002, Seen::Open)]),
    })
    .await
    .unwrap();

    let all = c.checks().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let node = all
        .iter()
        .find(|r| r.reporter == Reporter::Node)
        .expect("no node report");
    assert_eq!(node.name, "rt-01");
    assert_eq!(node.violations, 1);
    assert_eq!(node.report.results.len(), 2);
    assert_eq!(node.remote_addr.as_deref(), Some("127.0.0.1"));
    let runner = all
        .iter()
        .find(|r| r.reporter == Reporter::Runner)
        .expect("no runner report");
    assert_eq!(runner.name, "runner-01");
    assert_eq!(runner.violations, 0);
    assert_eq!(runner.report.roles, vec!["runner".to_string()]);

    let s = c.settings().await.unwrap();
    assert_eq!(s.heartbeat_stale_seconds, 60);
    assert_eq!(s.disk_free_min_pct, 15.0);
    assert!((s.now - Utc::now()).num_seconds().abs() < 5);
}

#[tokio::test]
async fn bad_reports_are_refused_with_the_field_and_admin_data_needs_the_token() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    let mut bad = result(7002, Seen::Open);
    bad.address = "not-an-address".into();
    let mut hb = node_hb("rt-02", 50.0, 1000, 0);
    hb.checks = Some(report("runtime", vec![bad.clone()]));
    let err = c
        .node_heartbeat(&hb)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("400") && err.contains("checks"), "{err}");
    assert!(err.contains("results[0].address"), "{err}");

    let err = c
        .runner_checks(&RunnerChecks {
            runner_id: "bad id".into(),
            checks: report("runner", vec![]),
        })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("runnerId"), "{err}");

    let wrong_token = reqwest::Client::new()
        .post(format!("{}/deploy/runners/checks", d.url))
        .header("X-Runner-Token", "nope")
        .json(&RunnerChecks {
            runner_id: "r".into(),
            checks: report("runner", vec![]),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_token.status().as_u16(), 401);
    for path in ["/admin/checks", "/admin/settings"] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", d.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    assert!(c.checks().await.unwrap().is_empty());
}
