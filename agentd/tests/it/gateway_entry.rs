//! One entry for every node: two runtime agentds behind one deployd, an app on each, and
//! every app answering through either node's gateway (the other's passed on by deployd's
//! route table), and a route table that follows the app when it moves.

use std::time::Duration;

use protocol::client::DeployClient;
use protocol::job::{ClaimRequest, JobPayload, JobStatus, ReportRequest};

use crate::common::*;

/// The estate's runner by hand: a job of `app` placed by deployd, deployed on the runtime of
/// the node deployd chose, reported done. Answers that node.
async fn place_and_deploy(
    c: &DeployClient,
    nodes: &[&TestRuntime],
    app: &str,
    image: &str,
) -> String {
    let job = create_job(
        c,
        JobPayload {
            app_id: app.into(),
            user_id: Some("6".into()),
            image: Some(image.into()),
            ..Default::default()
        },
    )
    .await;
    let claimed = c
        .claim(&ClaimRequest {
            runner_id: "entry-runner".into(),
            lease_seconds: 60,
            wait_seconds: 5,
            agent_version: None,
        })
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(claimed.id, job.id);
    let node = claimed.runtime_node.expect("placed").node_name;
    let t = nodes
        .iter()
        .find(|t| t.node == node)
        .unwrap_or_else(|| panic!("placed on {node}, not one of the test's"));
    let (st, ans) = t.deploy("6", app, image).await;
    assert_eq!(st, 200, "{ans}");
    c.report(
        job.id,
        &ReportRequest {
            runner_id: "entry-runner".into(),
            status: JobStatus::Succeeded,
            error_message: None,
            image: None,
            commit_sha: None,
            error_code: None,
        },
    )
    .await
    .unwrap();
    node
}

async fn through(t: &TestRuntime, app: &str) -> (u16, String) {
    t.page(&format!("/runtime/{app}/")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_app_answers_through_either_nodes_gateway() {
    let Some(s) = services() else { return };
    let (v1, v2) = (
        testapp_image(&s, "t-testapp", "v1").await,
        testapp_image(&s, "t-testapp", "v2").await,
    );
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let one = start_runtime(&s, &d.url, |r| r.heartbeat_seconds = 1).await;
    let two = start_runtime(&s, &d.url, |r| r.heartbeat_seconds = 1).await;
    wait_for_node(&c, &one.node).await;
    wait_for_node(&c, &two.node).await;

    // An app on each node: the first placed where deployd likes, the second with that node
    // draining.
    let a = format!("ea{}", rand_hex());
    let b = format!("eb{}", rand_hex());
    let first = place_and_deploy(&c, &[&one, &two], &a, &v1).await;
    c.node_action(&first, "drain").await.unwrap();
    let second = place_and_deploy(&c, &[&one, &two], &b, &v2).await;
    assert_ne!(first, second);
    c.node_action(&first, "undrain").await.unwrap();

    // Within a heartbeat interval each gateway knows the other's app.
    for t in [&one, &two] {
        for (app, page) in [(&a, "funai-testapp v1\n"), (&b, "funai-testapp v2\n")] {
            let (st, body) = until(
                &format!("{app} through the gateway of {}", t.node),
                Duration::from_secs(20),
                async || {
                    let got = through(t, app).await;
                    (got.0 == 200).then_some(got)
                },
            )
            .await;
            assert_eq!((st, body.as_str()), (200, page));
        }
    }
    // The app behind the other node sees the client's request as the entry passed it on.
    let holder = if first == one.node { &two } else { &one };
    let r = reqwest::get(format!("{}/runtime/{a}/headers", holder.gateway))
        .await
        .unwrap();
    let headers = r.text().await.unwrap();
    assert!(
        headers.contains(&format!("x-forwarded-prefix: /runtime/{a}\n")),
        "{headers}"
    );
    // A path no node holds is a 404 from the entry, not a loop.
    let (st, body) = through(&one, "nobody-here").await;
    assert_eq!(st, 404, "{body}");

    for t in [&one, &two] {
        let m = t.rt.render_metrics().await;
        assert!(
            m.lines()
                .any(|l| l.starts_with("agentd_gateway_forwarded_total ") && !l.ends_with(" 0")),
            "{m}"
        );
    }
    one.cleanup().await;
    two.cleanup().await;
}
