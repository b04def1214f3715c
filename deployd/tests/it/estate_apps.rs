//! The estate's conventions at deployd: a job that names only its app, owners that never
//! change silently, routes and image repositories from the `[apps]` templates, a route
//! that belongs to one app, and the runbooks' paths.

use crate::common::*;
use protocol::headers;
use protocol::job::{Job, JobStatus};
use serde_json::{Value, json};
use testkit::deployd::{ADMIN_TOKEN, DEPLOY_SECRET, TestDeployd};

/// `POST /deploy/jobs` as the estate's API sends it (raw JSON), optionally with an admin
/// token beside the deploy secret; answers the status and the envelope.
async fn post_job(d: &TestDeployd, payload: Value, admin: bool) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/deploy/jobs", d.url))
        .header(headers::DEPLOY_SECRET, DEPLOY_SECRET)
        .json(&json!({ "type": "BUILD_AND_DEPLOY", "payload": payload }));
    if admin {
        rb = rb.header(headers::ADMIN_TOKEN, ADMIN_TOKEN);
    }
    let resp = rb.send().await.expect("deployd answers");
    let st = resp.status().as_u16();
    (st, resp.json().await.expect("an envelope"))
}

async fn created(d: &TestDeployd, payload: Value) -> Job {
    let (st, v) = post_job(d, payload.clone(), false).await;
    assert_eq!(st, 200, "{payload}: {v}");
    serde_json::from_value(v["data"].clone()).expect("a job")
}

/// Claims the one pending job and reports it SUCCEEDED with `image`.
async fn run(d: &TestDeployd, image: Option<&str>) -> Job {
    let c = d.client();
    let job = claim(&c, "r1", 0).await.expect("a pending job");
    c.report(
        job.id,
        &protocol::job::ReportRequest {
            runner_id: "r1".into(),
            status: JobStatus::Succeeded,
            error_message: None,
            image: image.map(str::to_string),
            commit_sha: None,
            error_code: None,
        },
    )
    .await
    .expect("report")
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_naming_only_its_app_redeploys_it_as_deployd_knows_it() {
    let (d, _c) = with_node().await;
    created(
        &d,
        json!({
            "appId": 20002, "userId": 7,
            "repoSshUrl": "ssh://git@127.0.0.1:2222/funai/u7-app20002.git",
            "gitRef": "release", "dockerfilePath": "deploy/Dockerfile", "containerPort": 8080,
            "env": {"MODE": "prod"}
        }),
    )
    .await;
    run(&d, Some("127.0.0.1:5000/funaistudio/u7-app20002:abc")).await;

    // The API's deploy button: the ids only, as numbers.
    let again = created(&d, json!({ "appId": 20002 })).await;
    let p = &again.payload;
    assert_eq!(again.user_id.as_deref(), Some("7"));
    assert_eq!(p.user_id.as_deref(), Some("7"), "the owner, never invented");
    assert_eq!(
        p.repo_ssh_url.as_deref(),
        Some("ssh://git@127.0.0.1:2222/funai/u7-app20002.git")
    );
    assert_eq!(p.git_ref.as_deref(), Some("release"));
    assert_eq!(p.dockerfile_path.as_deref(), Some("deploy/Dockerfile"));
    assert_eq!(p.container_port, Some(8080));
    assert_eq!(
        p.env
            .as_ref()
            .and_then(|e| e.get("MODE"))
            .map(String::as_str),
        Some("prod")
    );
    assert_eq!(p.base_path.as_deref(), Some("/runtime/20002"));
    assert_eq!(p.image_repo.as_deref(), Some("funaistudio/u7-app20002"));
    run(&d, Some("127.0.0.1:5000/funaistudio/u7-app20002:def")).await;

    // A rollback names the image: the app's port and env come along, the owner too.
    let back = created(
        &d,
        json!({ "appId": "20002", "image": "127.0.0.1:5000/funaistudio/u7-app20002:abc" }),
    )
    .await;
    assert_eq!(back.payload.user_id.as_deref(), Some("7"));
    assert_eq!(back.payload.container_port, Some(8080));
    assert_eq!(
        back.payload.image_repo, None,
        "an image is deployed as named"
    );
    run(&d, Some("127.0.0.1:5000/funaistudio/u7-app20002:abc")).await;
    // After the rollback, the deploy button builds from the repository again.
    let next = created(&d, json!({ "appId": 20002, "userId": "7" })).await;
    assert_eq!(next.payload.image, None);
    assert_eq!(next.payload.git_ref.as_deref(), Some("release"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_app_needs_its_user_and_a_repository_or_the_template() {
    let (d, _c) = with_node().await;
    let before = count_rows(&d, "job").await;
    let (st, v) = post_job(&d, json!({ "appId": "n1" }), false).await;
    assert_eq!(st, 400, "{v}");
    assert!(
        message(&v).starts_with("payload.userId: app n1 is new"),
        "{v}"
    );
    assert_eq!(v["data"]["field"], "payload.userId");
    let (st, v) = post_job(&d, json!({ "appId": "n1", "userId": 3 }), false).await;
    assert_eq!(st, 400, "{v}");
    assert!(message(&v).contains("repo_url_template is not set"), "{v}");
    assert_eq!(v["data"]["field"], "payload.repoSshUrl");
    assert_eq!(count_rows(&d, "job").await, before, "nothing was queued");

    let d = testkit::deployd::start_with(|s| {
        s.apps.repo_url_template = "ssh://git@127.0.0.1:2222/funai/u{userId}-app{appId}.git".into()
    })
    .await;
    let (st, v) = post_job(&d, json!({ "appId": "n1" }), false).await;
    assert_eq!(
        (st, &v["data"]["field"]),
        (400, &json!("payload.userId")),
        "{v}"
    );
    let job = created(&d, json!({ "appId": "n1", "userId": 3 })).await;
    assert_eq!(
        job.payload.repo_ssh_url.as_deref(),
        Some("ssh://git@127.0.0.1:2222/funai/u3-appn1.git")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_keeps_its_owner_until_an_admin_moves_it() {
    let (d, c) = with_node().await;
    created(
        &d,
        json!({ "appId": "o1", "userId": "7", "image": "127.0.0.1:5000/x/o1:1" }),
    )
    .await;
    run(&d, Some("127.0.0.1:5000/x/o1:1")).await;

    let (st, v) = post_job(&d, json!({ "appId": "o1", "userId": "8" }), false).await;
    assert_eq!(st, 409, "{v}");
    assert!(
        message(&v).contains("app o1 belongs to user 7, not 8"),
        "{v}"
    );
    assert!(
        message(&v).contains("functl apps move --app o1 --user 8"),
        "{v}"
    );

    let admin = d.client();
    let moved = admin
        .move_app(
            "o1",
            &protocol::app::MoveAppRequest {
                user_id: "8".into(),
            },
        )
        .await
        .expect("move");
    assert_eq!(moved["previousUserId"], "7");
    assert_eq!(admin.app("o1").await.unwrap().user_id.as_deref(), Some("8"));
    let (st, v) = post_job(&d, json!({ "appId": "o1", "userId": "7" }), false).await;
    assert_eq!(st, 409, "{v}");
    let job = created(&d, json!({ "appId": "o1" })).await;
    assert_eq!(job.payload.user_id.as_deref(), Some("8"));
    let audit = c.audit(20).await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "app.move"
            && a.target == "o1"
            && a.detail.as_deref() == Some("user 7 -> 8")),
        "{audit:?}"
    );
    // Moving an app deployd never saw is a 404, and changes nothing.
    let err = admin
        .move_app(
            "ghost",
            &protocol::app::MoveAppRequest {
                user_id: "8".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_image_repositories_follow_the_templates() {
    let d = testkit::deployd::start_with(|s| {
        s.apps.base_path_template = "/apps/{appId}".into();
        s.apps.image_repo_template = "{namespace}/apps/app-{appId}".into();
        s.apps.namespace = "funaistudio".into();
    })
    .await;
    let c = d.client();
    node(&c, "rt-01", 80.0, 100_000_000_000).await;
    let job = created(
        &d,
        json!({ "appId": 5, "userId": 2, "repoSshUrl": "ssh://git@127.0.0.1:2222/a.git" }),
    )
    .await;
    assert_eq!(job.payload.base_path.as_deref(), Some("/apps/5"));
    assert_eq!(
        job.payload.image_repo.as_deref(),
        Some("funaistudio/apps/app-5")
    );
    // The old callers' spelling of the same route is the same route.
    created(
        &d,
        json!({ "appId": 6, "userId": 2, "image": "127.0.0.1:5000/i:1", "basePath": "/apps/6/" }),
    )
    .await;
    run(&d, Some("127.0.0.1:5000/funaistudio/apps/app-5:abc")).await;
    let apps = c.apps().await.unwrap();
    let five = apps.iter().find(|a| a.app_id == "5").expect("app 5 listed");
    assert_eq!(five.image_repo.as_deref(), Some("funaistudio/apps/app-5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_belongs_to_one_app() {
    let (d, _c) = with_node().await;
    created(
        &d,
        json!({ "appId": 6, "userId": 1, "image": "127.0.0.1:5000/a6:1" }),
    )
    .await;
    run(&d, None).await;
    let before = count_rows(&d, "job").await;
    // App 5 of user 2 asking for app 6's route.
    let (st, v) = post_job(
        &d,
        json!({ "appId": 5, "userId": 2, "image": "127.0.0.1:5000/a5:1", "basePath": "/runtime/6" }),
        false,
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        message(&v).contains("/runtime/6 is not app 5's route /runtime/5"),
        "{v}"
    );
    // Not even an admin takes a path where the template routes apps.
    let (st, v) = post_job(
        &d,
        json!({ "appId": 5, "userId": 2, "image": "127.0.0.1:5000/a5:1", "basePath": "/runtime/6" }),
        true,
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(count_rows(&d, "job").await, before, "nothing was queued");

    // An admin's own path, kept by the app's later deploys, refused to any other app.
    let job = {
        let (st, v) = post_job(
            &d,
            json!({ "appId": 5, "userId": 2, "image": "127.0.0.1:5000/a5:1", "basePath": "/landing" }),
            true,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        serde_json::from_value::<Job>(v["data"].clone()).unwrap()
    };
    assert_eq!(job.payload.base_path.as_deref(), Some("/landing"));
    run(&d, None).await;
    let again = created(&d, json!({ "appId": 5 })).await;
    assert_eq!(again.payload.base_path.as_deref(), Some("/landing"));
    run(&d, None).await;
    for path in ["/landing", "/landing/x"] {
        let (st, v) = post_job(
            &d,
            json!({ "appId": 7, "userId": 3, "image": "127.0.0.1:5000/a7:1", "basePath": path }),
            true,
        )
        .await;
        assert_eq!(st, 409, "{path}: {v}");
        assert!(message(&v).contains("app 5's route"), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbooks_paths_answer() {
    let (d, _c) = with_node().await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/admin/runtime-nodes/list", d.url))
        .header(headers::ADMIN_TOKEN, ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"][0]["nodeName"], "rt-01", "{v}");
    let r = http
        .get(format!("{}/admin/runtime-nodes/list", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let page = |path: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", d.url);
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let estate = page("/admin/nodes-admin.html").await;
    assert!(estate.contains("<html"), "{estate}");
    assert_eq!(estate, page("/admin/").await, "the same admin page");
}
