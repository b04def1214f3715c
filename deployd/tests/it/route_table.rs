//! The route table for one entry in front of several runtime nodes: each app's base path and
//! the gateway of the node that holds it, as JSON, as Traefik's dynamic configuration and as
//! an nginx map, following placements.

use protocol::job::JobStatus;
use serde_json::Value;

use crate::common::*;

async fn get(d: &testkit::deployd::TestDeployd, path: &str, header: (&str, &str)) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", d.url))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

const ADMIN: (&str, &str) = ("X-Admin-Token", testkit::deployd::ADMIN_TOKEN);

/// Runs a job of `app` to `status` on whichever node deployd places it; answers that node.
async fn run(c: &protocol::client::DeployClient, app: &str, status: JobStatus) -> String {
    let job = create(c, payload(app)).await;
    let claimed = claim(c, "r1", 5).await.expect("a job");
    assert_eq!(claimed.id, job.id);
    report(c, job.id, "r1", status).await;
    claimed.runtime_node.expect("placed").node_name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_names_the_gateway_of_the_node_that_holds_each_app() {
    let d = testkit::deployd::start().await;
    let c = d.client();
    node(&c, "rt-01", 90.0, 100_000_000_000).await;
    node(&c, "rt-02", 50.0, 100_000_000_000).await;
    assert_eq!(run(&c, "11", JobStatus::Succeeded).await, "rt-01");
    node(&c, "rt-01", 40.0, 100_000_000_000).await;
    node(&c, "rt-02", 95.0, 100_000_000_000).await;
    assert_eq!(run(&c, "12", JobStatus::Succeeded).await, "rt-02");
    // Never served: no route.
    run(&c, "13", JobStatus::Failed).await;

    let (st, body) = get(&d, "/admin/routes", ADMIN).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let routes = v["data"].as_array().unwrap();
    assert_eq!(routes.len(), 2, "{body}");
    let of = |app: &str| {
        routes
            .iter()
            .find(|r| r["appId"] == app)
            .unwrap_or_else(|| panic!("no route of {app}: {body}"))
            .clone()
    };
    assert_eq!(of("11")["basePath"], "/runtime/11");
    assert_eq!(of("11")["nodeName"], "rt-01");
    assert_eq!(of("11")["gatewayUrl"], "http://gw-rt-01.test");
    assert_eq!(of("12")["gatewayUrl"], "http://gw-rt-02.test");

    let (st, body) = get(&d, "/admin/routes/traefik", ADMIN).await;
    assert_eq!(st, 200, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        t["http"]["routers"]["funai-app-12"],
        serde_json::json!({"rule": "Path(`/runtime/12`) || PathPrefix(`/runtime/12/`)", "service": "funai-node-rt-02"})
    );
    assert_eq!(
        t["http"]["services"]["funai-node-rt-01"]["loadBalancer"]["servers"][0]["url"],
        "http://gw-rt-01.test"
    );

    let (st, text) = get(&d, "/admin/routes/nginx", ADMIN).await;
    assert_eq!(st, 200, "{text}");
    assert!(
        text.contains("\"~^/runtime/11(/|$)\" \"http://gw-rt-01.test\";"),
        "{text}"
    );
    assert!(!text.contains("/runtime/13"), "{text}");

    // Moved to the other node: the table follows.
    let (st, body) = {
        let r = reqwest::Client::new()
            .post(format!("{}/admin/placements/reassign", d.url))
            .header(ADMIN.0, ADMIN.1)
            .json(&serde_json::json!({"appId": "11", "nodeName": "rt-02"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(st, 200, "{body}");
    // While the job moving it runs, and after it failed, the app stays routed to the node
    // whose copy answers; once a job succeeds on the other node, the table follows.
    let routed = async |app: &str| {
        let (_, body) = get(&d, "/admin/routes", ADMIN).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["appId"] == app)
            .map(|r| (r["nodeName"].clone(), r["status"].clone()))
            .unwrap_or_else(|| panic!("no route of {app}: {body}"))
    };
    let job = create(&c, payload("11")).await;
    let claimed = claim(&c, "r1", 5).await.expect("a job");
    assert_eq!(claimed.runtime_node.unwrap().node_name, "rt-02");
    assert_eq!(routed("11").await, ("rt-01".into(), "DEPLOYING".into()));
    report(&c, job.id, "r1", JobStatus::Failed).await;
    assert_eq!(routed("11").await, ("rt-01".into(), "FAILED".into()));
    assert_eq!(run(&c, "11", JobStatus::Succeeded).await, "rt-02");
    let (st, body) = get(
        &d,
        "/internal/runtime-nodes/routes",
        ("X-RT-Node-Token", testkit::deployd::NODE_TOKEN),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let moved = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["appId"] == "11")
        .cloned()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(moved["nodeName"], "rt-02", "{body}");

    // Without the admin token: refused, nothing told.
    let (st, body) = get(&d, "/admin/routes/nginx", ("X-Admin-Token", "wrong")).await;
    assert_eq!(st, 401, "{body}");
    assert!(!body.contains("runtime/11"), "{body}");
}
