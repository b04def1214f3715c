//! The runtime role meets the estate's contract, against the real Docker engine: no `PORT`
//! is injected and the job's env wins, a base path belongs to one app, and a deploy without
//! one is routed at the node's `base_path_template`.

use std::collections::BTreeMap;

use crate::common::*;
use agentd::docker::Engine;
use agentd::settings::MongoSettings;
use protocol::Secret;

/// The environment the engine gave the container.
async fn container_env(name: &str) -> Vec<String> {
    let engine = Engine::connect("")
        .await
        .unwrap_or_else(|e| panic!("docker: {e}"));
    let raw = engine
        .raw()
        .inspect_container(
            name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"));
    raw.config.and_then(|c| c.env).unwrap_or_default()
}

fn deploy_at(user: &str, app: &str, image: &str, base_path: &str) -> serde_json::Value {
    let mut req = deploy_req(user, app, image);
    req.base_path = Some(base_path.to_string());
    serde_json::to_value(req).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_gets_no_port_and_the_jobs_env_wins_over_the_runtimes() {
    let Some(s) = services() else { return };
    let img = image(&s, "t-estate", "env", App::Serves("env app")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.mongo = Some(MongoSettings {
            url: Secret::new("mongodb://funai:pw@127.0.0.1:27017"),
            options: "authSource=admin".into(),
        });
    })
    .await;
    let app = format!("e{}", rand_hex());
    let mut req = deploy_req("3", &app, &img);
    req.env = Some(BTreeMap::from([
        (
            "MONGODB_URI".to_string(),
            "mongodb://127.0.0.1:27018/own_db".to_string(),
        ),
        ("GREETING".to_string(), "hello".to_string()),
    ]));
    let (st, ans) = t
        .post("/agent/apps/deploy", &serde_json::to_value(&req).unwrap())
        .await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await,
        (200, "env app\n".to_string()),
        "the image listens on its containerPort by itself"
    );

    let env = container_env(ans["containerName"].as_str().unwrap_or_default()).await;
    assert!(
        !env.iter().any(|v| v.starts_with("PORT=")),
        "no PORT is injected: {env:?}"
    );
    let db = format!("db_u3_a{app}");
    for want in [
        "MONGODB_URI=mongodb://127.0.0.1:27018/own_db".to_string(),
        format!("MONGO_URL=mongodb://funai:pw@127.0.0.1:27017/{db}?authSource=admin"),
        format!("FUNAI_MONGO_DB_NAME={db}"),
        "GREETING=hello".to_string(),
    ] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert_eq!(
        env.iter().filter(|v| v.starts_with("MONGODB_URI=")).count(),
        1,
        "{env:?}"
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_path_another_app_holds_is_refused_and_that_app_keeps_serving() {
    let Some(s) = services() else { return };
    let six = image(&s, "t-estate", "six", App::Serves("app six")).await;
    let five = image(&s, "t-estate", "five", App::Serves("app five")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let (st, ans) = t.deploy("1", "6", &six).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(t.page("/runtime/6/").await.1, "app six\n");
    let before = t.container_names().await;

    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("2", "5", &five, "/runtime/6"),
        )
        .await;
    assert_eq!(st, 409, "{ans}");
    let detail = ans["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("basePath /runtime/6 is app 6's route on this node"),
        "{detail}"
    );
    assert_ne!(
        ans["code"], "DEPLOY_IN_FLIGHT",
        "waiting does not free the path: {ans}"
    );

    // An image that no registry has: a 409 rather than a failed pull shows that the
    // refusal comes before the pull.
    let absent = format!("{}/funaistudio/t-estate:absent-{}", s.registry, rand_hex());
    for path in ["/runtime/6/x", "/runtime/6/", "/runtime"] {
        let (st, ans) = t
            .post("/agent/apps/deploy", &deploy_at("2", "5", &absent, path))
            .await;
        assert_eq!(st, 409, "{path}: {ans}");
        let detail = ans["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("app 6's route"), "{path}: {detail}");
    }
    assert_eq!(
        t.container_names().await,
        before,
        "a refusal starts nothing"
    );
    assert_eq!(t.page("/runtime/6/").await, (200, "app six\n".to_string()));
    assert_eq!(
        t.page("/runtime/6/x").await.0,
        404,
        "nothing is routed there"
    );
    let (_, status) = t.get("/agent/apps/status?userId=2&appId=5").await;
    assert_eq!(status["exists"], false, "{status}");

    // Paths overlap by whole segments: /runtime/60 is free.
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("2", "5", &five, "/runtime/60"),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(t.page("/runtime/60/").await.1, "app five\n");
    assert_eq!(t.page("/runtime/6/").await.1, "app six\n");

    // The same app redeploys at its own path (given with a trailing slash).
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("1", "6", &six, "/runtime/6/"),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["previewUrl"], format!("{}/runtime/6/", t.gateway));

    // A stopped app still holds its path.
    let (st, ans) = t
        .post(
            "/agent/apps/stop",
            &serde_json::json!({"userId": "1", "appId": "6"}),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("2", "5", &five, "/runtime/6"),
        )
        .await;
    assert_eq!(st, 409, "{ans}");
    assert!(
        ans["detail"]
            .as_str()
            .is_some_and(|d| d.contains("app 6's route")),
        "{ans}"
    );
    assert_eq!(t.page("/runtime/60/").await.1, "app five\n");

    // An app moves its own path.
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("2", "5", &five, "/runtime/5"),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(t.page("/runtime/5/").await.1, "app five\n");
    assert_eq!(t.page("/runtime/60/").await.0, 404);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_apps_deploying_at_one_path_at_once_one_gets_it() {
    let Some(s) = services() else { return };
    let img = image(&s, "t-estate", "race", App::Serves("raced")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let (seven, eight) = (
        deploy_at("1", "7", &img, "/shared"),
        deploy_at("1", "8", &img, "/shared"),
    );
    let (a, b) = tokio::join!(
        t.post("/agent/apps/deploy", &seven),
        t.post("/agent/apps/deploy", &eight),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.1, b.1);
    let (winner, loser) = if a.0 == 200 { ("7", &b.1) } else { ("8", &a.1) };
    assert!(
        loser["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("app {winner}"))),
        "{loser}"
    );
    assert_eq!(t.page("/shared/").await, (200, "raced\n".to_string()));
    assert_eq!(t.container_names().await.len(), 1);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_without_base_path_is_routed_at_the_nodes_template() {
    let Some(s) = services() else { return };
    let img = image(&s, "t-estate", "tpl", App::Serves("templated")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.base_path_template = "/apps/{appId}".into();
    })
    .await;
    let app = format!("p{}", rand_hex());
    let (st, ans) = t.deploy("4", &app, &img).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(ans["previewUrl"], format!("{}/apps/{app}/", t.gateway));
    assert_eq!(
        t.page(&format!("/apps/{app}/")).await,
        (200, "templated\n".to_string())
    );
    assert_eq!(t.page(&format!("/runtime/{app}/")).await.0, 404);
    let (_, status) = t
        .get(&format!("/agent/apps/status?userId=4&appId={app}"))
        .await;
    assert_eq!(status["basePath"], format!("/apps/{app}"), "{status}");
    t.cleanup().await;
}

/// What deployd records of `app`, polled until `done` holds it (the node beats every second).
async fn app_record_until(
    c: &protocol::client::DeployClient,
    app: &str,
    what: &str,
    done: impl Fn(&protocol::app::AppRun) -> bool,
) -> protocol::app::AppRun {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let run = c.app(app).await.unwrap();
        if done(&run) {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deployd never recorded {what}: {run:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_heartbeat_tells_deployd_what_a_report_left_out() {
    let Some(s) = services() else { return };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let img = image(&s, "t-estate", "beat", App::Serves("beat app")).await;
    let t = start_runtime(&s, &d.url, |r| r.heartbeat_seconds = 1).await;
    wait_for_node(&c, &t.node).await;
    // The beat names the engine this pass runs on (scripts/test.sh runs it on both).
    let nodes = c.list_nodes().await.unwrap();
    let engine = nodes
        .iter()
        .find(|n| n.node_name == t.node)
        .and_then(|n| n.engine.clone())
        .expect("the node's engine");
    let podman = std::env::var("DOCKER_HOST").is_ok_and(|h| h.contains("podman"));
    assert_eq!(engine.kind, if podman { "podman" } else { "docker" });
    assert_eq!(
        engine,
        Engine::connect("").await.unwrap().describe().await.unwrap()
    );
    // The estate's runner: a build job, the deploy call, a report that names no image.
    let app = format!("b{}", rand_hex());
    let job = create_job(
        &c,
        protocol::job::JobPayload {
            app_id: app.clone(),
            user_id: Some("4".into()),
            repo_ssh_url: Some("ssh://git@127.0.0.1:2222/srv/app.git".into()),
            ..Default::default()
        },
    )
    .await;
    let claimed = c
        .claim(&protocol::job::ClaimRequest {
            runner_id: "py-runner".into(),
            lease_seconds: 60,
            wait_seconds: 5,
            agent_version: None,
        })
        .await
        .unwrap()
        .expect("the job");
    assert_eq!(claimed.id, job.id);
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &deploy_at("4", &app, &img, &format!("/runtime/{app}")),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    c.report(
        job.id,
        &protocol::job::ReportRequest {
            runner_id: "py-runner".into(),
            status: protocol::job::JobStatus::Succeeded,
            error_message: None,
            image: None,
            commit_sha: None,
            error_code: None,
        },
    )
    .await
    .unwrap();
    let run = app_record_until(&c, &app, "the image", |r| r.image.is_some()).await;
    assert_eq!(run.image.as_deref(), Some(img.as_str()));
    assert_eq!(
        c.get_job(job.id).await.unwrap().image.as_deref(),
        Some(img.as_str())
    );

    // Stopped behind agentd's back: the gateway answers 502 at once, the record says DOWN;
    // started again: READY.
    let engine = Engine::connect("").await.unwrap();
    let container = ans["containerName"].as_str().unwrap_or_default();
    engine.stop(container, 1).await.unwrap();
    let run = app_record_until(&c, &app, "DOWN", |r| r.status.as_str() == "DOWN").await;
    assert_eq!(
        run.error_message,
        Some(format!("its container does not run on node {}", t.node))
    );
    let (st, body) = t.page(&format!("/runtime/{app}/")).await;
    assert_eq!(st, 502, "{body}");
    engine
        .raw()
        .start_container(
            container,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap();
    let run = app_record_until(&c, &app, "READY again", |r| r.status.as_str() == "READY").await;
    assert_eq!(run.error_message, None);

    // The container removed behind agentd's back: the record says so.
    engine
        .raw()
        .remove_container(
            ans["containerName"].as_str().unwrap_or_default(),
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let run = app_record_until(&c, &app, "STOPPED", |r| r.status.as_str() == "STOPPED").await;
    assert_eq!(
        run.error_message,
        Some(format!("its container is gone from node {}", t.node))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_counts_each_apps_answers_and_their_time_on_metrics() {
    let Some(s) = services() else { return };
    let img = image(&s, "t-estate", "metrics", App::Serves("counted")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let app = format!("m{}", rand_hex());
    let (st, ans) = t
        .post(
            "/agent/apps/deploy",
            &serde_json::to_value(deploy_req("3", &app, &img)).unwrap(),
        )
        .await;
    assert_eq!(st, 200, "{ans}");
    for _ in 0..3 {
        assert_eq!(t.page(&format!("/runtime/{app}/")).await.0, 200);
    }
    assert_eq!(t.page(&format!("/runtime/{app}/no-such-page")).await.0, 404);
    let text = reqwest::get(format!("{}/metrics", t.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        format!("agentd_gateway_app_requests_total{{app=\"{app}\",code=\"2xx\"}} 3"),
        format!("agentd_gateway_app_requests_total{{app=\"{app}\",code=\"4xx\"}} 1"),
        format!("agentd_gateway_app_requests_total{{app=\"{app}\",code=\"5xx\"}} 0"),
        format!("agentd_gateway_app_latency_seconds_count{{app=\"{app}\"}} 4"),
        format!("agentd_gateway_app_latency_seconds_bucket{{app=\"{app}\",le=\"+Inf\"}} 4"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}
