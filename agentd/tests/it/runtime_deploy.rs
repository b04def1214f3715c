//! The runtime role against the real Docker engine and registry: deploy from the registry,
//! serve through the gateway, status, logs, stop, delete; failures keep the old version.

use std::time::Duration;

use crate::common::*;
use agentd::docker::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_from_the_registry_serves_the_page_and_status_logs_stop_delete_work() {
    let Some(s) = services() else { return };
    let tag = rand_hex();
    let img = image(
        &s,
        "t-pull",
        &tag,
        App::Serves(&format!("hello from {tag}")),
    )
    .await;
    // Only the registry has it now: the deploy must pull with the credentials.
    let engine = Engine::connect("").await.unwrap();
    engine.remove_image(&img).await.unwrap();
    let d = testkit::deployd::start_for_real_nodes().await;
    let t = start_runtime(&s, &d.url, |_| {}).await;

    let (st, ans) = t.deploy("7", "20002", &img).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["status"], "DEPLOYED");
    assert_eq!(ans["previewUrl"], format!("{}/runtime/20002/", t.gateway));
    let name = ans["containerName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(name.starts_with("rt-u-7-20002-"), "{name}");

    let (st, body) = t.page("/runtime/20002/").await;
    assert_eq!(
        (st, body.trim()),
        (200, format!("hello from {tag}").as_str())
    );
    let (st, _) = t.page("/runtime/20002").await;
    assert_eq!(st, 200, "the bare base path reaches the app too");
    let (st, _) = t.page("/runtime/20003/").await;
    assert_eq!(st, 404);

    let (st, status) = t.get("/agent/apps/status?userId=7&appId=20002").await;
    assert_eq!(st, 200);
    assert_eq!(status["exists"], true);
    assert_eq!(status["running"], true);
    assert_eq!(status["image"], img.as_str());
    assert_eq!(status["port"], 3000);
    assert_eq!(status["containerName"], name.as_str());

    // Labels: ours and the estate's Traefik labels with the exact-prefix rule.
    let info = engine
        .inspect(&name, "funai-runtime-net")
        .await
        .unwrap()
        .expect("container gone");
    assert_eq!(
        info.labels.get("funai.app-id").map(String::as_str),
        Some("20002")
    );
    assert_eq!(
        info.labels.get("funai.user-id").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        info.labels.get("funai.job-id").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        info.labels
            .get("traefik.http.routers.rt-app-20002.rule")
            .map(String::as_str),
        Some("Path(`/runtime/20002`) || PathPrefix(`/runtime/20002/`)")
    );
    assert_eq!(
        info.labels
            .get("traefik.http.services.rt-svc-20002.loadbalancer.server.port")
            .map(String::as_str),
        Some("3000")
    );
    assert_eq!(
        info.labels
            .get("traefik.http.middlewares.rt-mw-20002.stripprefix.prefixes")
            .map(String::as_str),
        Some("/runtime/20002")
    );

    // Limits, restart policy and the network come from the settings; no host port.
    let raw = engine
        .raw()
        .inspect_container(
            &name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap();
    let networks: Vec<String> = raw
        .network_settings
        .and_then(|n| n.networks)
        .map(|m| m.into_keys().collect())
        .unwrap_or_default();
    assert_eq!(networks, ["funai-runtime-net"]);
    let hc = raw.host_config.unwrap_or_default();
    assert_eq!(hc.memory, Some(512 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(1_000_000_000));
    assert_eq!(hc.pids_limit, Some(256));
    // podman names a container's bridge network mode `bridge`, whichever bridge network.
    assert!(
        matches!(
            hc.network_mode.as_deref(),
            Some("funai-runtime-net" | "bridge")
        ),
        "{:?}",
        hc.network_mode
    );
    assert_eq!(
        hc.restart_policy
            .and_then(|r| r.name)
            .map(|n| n.to_string())
            .as_deref(),
        Some("unless-stopped")
    );
    assert!(
        hc.port_bindings.unwrap_or_default().is_empty(),
        "an app container publishes no host port"
    );

    // The node heartbeat reached deployd with the container counted.
    let nodes = d.client().list_nodes().await.unwrap();
    let node = nodes
        .iter()
        .find(|n| n.node_name == t.node)
        .unwrap_or_else(|| panic!("no heartbeat: {nodes:?}"));
    assert!(node.disk_free_bytes > 0 && node.disk_free_pct > 0.0);
    assert_eq!(node.agent_base_url, t.api);

    let (st, logs) = t.get("/agent/apps/20002/logs?tail=5").await;
    assert_eq!(st, 200, "{logs}");
    assert_eq!(logs["containerName"], name.as_str());

    let (st, ans) = t
        .post(
            "/agent/apps/stop",
            &serde_json::json!({"userId": 7, "appId": 20002}),
        )
        .await;
    assert_eq!(
        (st, ans["status"].as_str()),
        (200, Some("STOPPED")),
        "{ans}"
    );
    let (st, _) = t.page("/runtime/20002/").await;
    assert_eq!(st, 404, "a stopped app is not routed");
    // As the old agent answered: a stopped app no longer exists for its callers; ours
    // keeps the container aside and says so.
    let (_, status) = t.get("/agent/apps/status?userId=7&appId=20002").await;
    assert_eq!(
        (
            status["exists"].as_bool(),
            status["running"].as_bool(),
            status["stopped"].as_bool()
        ),
        (Some(false), Some(false), Some(true)),
        "{status}"
    );

    let (st, ans) = t
        .post(
            "/agent/apps/delete",
            &serde_json::json!({"userId": "7", "appId": "20002"}),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    assert!(t.container_names().await.is_empty());
    let (_, status) = t.get("/agent/apps/status?userId=7&appId=20002").await;
    assert_eq!(status["exists"], false);
    let (st, _) = t.get("/agent/apps/20002/logs").await;
    assert_eq!(st, 404);
    // Stopping what the node no longer holds is a 200 that says so (idempotent cleanups).
    let (st, ans) = t
        .post(
            "/agent/apps/stop",
            &serde_json::json!({"userId": "7", "appId": "20002"}),
        )
        .await;
    assert_eq!(
        (st, &ans["held"]),
        (200, &serde_json::json!(false)),
        "{ans}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_or_silent_new_version_fails_and_the_old_one_keeps_serving() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let exits = image(&s, "t-rt", "exits", App::Exits).await;
    let silent = image(&s, "t-rt", "silent", App::Silent).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| r.health_timeout_seconds = 3).await;
    let app = format!("a{}", rand_hex());
    let (st, ans) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");
    let before = t.container_names().await;

    let started = std::time::Instant::now();
    let (st, ans) = t.deploy("1", &app, &exits).await;
    assert_eq!(st, 502, "{ans}");
    let detail = ans["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("exited with code 3"), "{detail}");
    assert!(
        detail.contains("boom-from-the-app") && detail.contains("second-line"),
        "log tail missing: {detail}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a crash must fail at once, took {:?}",
        started.elapsed()
    );
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await,
        (200, "version one\n".to_string())
    );
    assert_eq!(
        t.container_names().await,
        before,
        "the crashed container is removed"
    );

    let (st, ans) = t.deploy("1", &app, &silent).await;
    assert_eq!(st, 502, "{ans}");
    let detail = ans["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("never became healthy on port 3000 within 3 s"),
        "{detail}"
    );
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await,
        (200, "version one\n".to_string())
    );
    assert_eq!(t.container_names().await, before);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_12_and_app_123_each_reach_their_own_app() {
    let Some(s) = services() else { return };
    let a = image(&s, "t-rt", "twelve", App::Serves("app twelve")).await;
    let b = image(
        &s,
        "t-rt",
        "one-two-three",
        App::Serves("app one-two-three"),
    )
    .await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let (s1, _) = t.deploy("1", "12", &a).await;
    let (s2, _) = t.deploy("1", "123", &b).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(t.page("/runtime/12/").await.1.trim(), "app twelve");
    assert_eq!(t.page("/runtime/123/").await.1.trim(), "app one-two-three");
    assert_eq!(t.page("/runtime/12").await.1.trim(), "app twelve");
    assert_eq!(t.page("/runtime/1234/").await.0, 404);
    assert_eq!(
        t.page("/runtime/12/index.html").await.1.trim(),
        "app twelve"
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_and_change_no_container() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let (st, _) = t.deploy("1", "bad1", &v1).await;
    assert_eq!(st, 200);
    let before = t.container_names().await;
    let base =
        serde_json::json!({"userId": "1", "appId": "bad1", "image": v1, "containerPort": 3000});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, status, needle) in [
        (with("appId", "a/b".into()), 422, "appId"),
        (with("appId", "..".into()), 422, "appId"),
        (with("containerPort", 0.into()), 422, "containerPort"),
        (with("containerPort", 70000.into()), 422, "containerPort"),
        (with("containerPort", "x".into()), 422, "containerPort"),
        (with("image", "my image:1".into()), 422, "image"),
        (with("basePath", "/runtime/../etc".into()), 422, "basePath"),
        (serde_json::json!({"appId": "bad1"}), 422, "userId"),
    ] {
        let (st, ans) = t.post("/agent/apps/deploy", &body).await;
        assert_eq!(st, status, "{body}: {ans}");
        // The old agent's framework's shape: a list of {type, loc, msg}.
        assert_eq!(ans["detail"][0]["loc"][1], needle, "{body}: {ans}");
        assert!(ans["detail"][0]["msg"].is_string(), "{body}: {ans}");
        assert_eq!(ans["code"], "BAD_REQUEST", "{body}: {ans}");
    }
    let (st, ans) = t
        .post(
            "/agent/apps/stop",
            &serde_json::json!({"userId": "1", "appId": "nope"}),
        )
        .await;
    assert_eq!(
        (st, &ans["held"]),
        (200, &serde_json::json!(false)),
        "{ans}"
    );
    // Wrong and missing tokens.
    let http = reqwest::Client::new();
    for token in [Some("wrong"), None] {
        let mut rb = http
            .post(format!("{}/agent/apps/delete", t.api))
            .json(&base);
        if let Some(tk) = token {
            rb = rb.header("X-Runtime-Token", tk);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("X-Runtime-Token"))
        );
        assert_eq!(v["code"], "AGENT_AUTH", "{v}");
    }
    assert_eq!(
        t.container_names().await,
        before,
        "a bad request changed containers"
    );
    assert_eq!(t.page("/runtime/bad1/").await.0, 200);
    t.cleanup().await;
}

/// Traefik cannot run here (no package, no image to pull): this stand-in answers the one
/// call of its API that agentd makes, `GET /api/http/routers/{name}`, as Traefik answers it.
async fn traefik_stand_in(routes: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    use axum::extract::Path;
    use axum::http::StatusCode;
    let api = axum::Router::new().route(
        "/api/http/routers/{name}",
        axum::routing::get(move |Path(name): Path<String>| async move {
            if routes.load(std::sync::atomic::Ordering::SeqCst) {
                let body =
                    serde_json::json!({"name": name, "provider": "docker", "status": "enabled"});
                (StatusCode::OK, axum::Json(body))
            } else {
                let body = serde_json::json!({"message": "router not found"});
                (StatusCode::NOT_FOUND, axum::Json(body))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traefik_that_does_not_route_the_app_fails_the_deploy_with_its_code() {
    let Some(s) = services() else { return };
    let tag = rand_hex();
    let img = image(&s, "t-traefik", &tag, App::Serves("routed")).await;
    let routes = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let api = traefik_stand_in(routes.clone()).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let t = start_runtime(&s, &d.url, |r| {
        r.gateway.kind = agentd::settings::GatewayKind::Traefik;
        r.gateway.traefik_api = api;
    })
    .await;

    let (st, ans) = t.deploy("7", "20011", &img).await;
    assert_eq!(st, 502, "{ans}");
    assert_eq!(ans["code"], "ROUTE_NOT_ANSWERING", "{ans}");
    let detail = ans["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("has no router rt-app-20011@docker") && detail.contains("docker provider"),
        "{detail}"
    );
    assert!(
        t.container_names().await.is_empty(),
        "the unrouted container is removed: {:?}",
        t.container_names().await
    );

    routes.store(true, std::sync::atomic::Ordering::SeqCst);
    let (st, ans) = t.deploy("7", "20011", &img).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["status"], "DEPLOYED");
    t.cleanup().await;
}
