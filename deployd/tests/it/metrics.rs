//! `/metrics` in Prometheus text: jobs by state, claims and their latency, lease expiries,
//! node health, deploy durations.

use std::time::Duration;

use crate::common::*;
use protocol::job::JobStatus;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let (d, c) = with_node().await;
    let a = create(&c, payload("m1")).await;
    let b = create(&c, payload("m2")).await;
    create(&c, payload("m3")).await;
    let ja = claim(&c, "r1", 0).await.expect("no job");
    assert_eq!(ja.id, a.id);
    report(&c, a.id, "r1", JobStatus::Succeeded).await;
    claim(&c, "r1", 0).await.expect("no job");
    d.state.clock.advance(Duration::from_secs(31));
    d.state.sweep_once().await.unwrap();
    let _ = b;

    let resp = reqwest::get(format!("{}/metrics", d.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(value(&text, "deployd_jobs{state=\"SUCCEEDED\"}"), 1.0);
    assert_eq!(
        value(&text, "deployd_jobs{state=\"PENDING\"}"),
        2.0,
        "the requeued and the untouched one"
    );
    assert_eq!(value(&text, "deployd_claims_total"), 2.0);
    assert_eq!(value(&text, "deployd_claim_latency_seconds_count"), 2.0);
    assert_eq!(value(&text, "deployd_lease_expiries_total"), 1.0);
    assert_eq!(
        value(&text, "deployd_reports_total{status=\"SUCCEEDED\"}"),
        1.0
    );
    assert_eq!(value(&text, "deployd_deploy_duration_seconds_count"), 1.0);
    // 31 s is within the 60 s a node may stay silent: it is still healthy.
    assert_eq!(
        value(&text, "deployd_runtime_nodes{health=\"HEALTHY\"}"),
        1.0
    );
    assert!(text.contains("# TYPE deployd_claim_latency_seconds histogram"));
    // Every sample line is `name{labels} number`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap_or_default();
        assert!(v.parse::<f64>().is_ok(), "bad sample line {l:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_admin_allowlist() {
    let d =
        testkit::deployd::start_with(|s| s.auth.admin_allowed_ips = vec!["127.0.0.1/32".into()])
            .await;
    let from_2 = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let st = from_2
        .get(format!("{}/metrics", d.url))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(st.ok(), Some(403));
    let st = reqwest::get(format!("{}/metrics", d.url))
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(st.ok(), Some(200));
}
