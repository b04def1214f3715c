//! The estate's old callers (its Python runner and API) replayed against agentd's real
//! runtime and Docker: their requests as raw JSON, and the answers read as they read the old
//! agent's. Stop and delete are idempotent, a delete says what became of the images and the
//! database, a stopped app no longer exists, an unknown app's container has its old name, the
//! inputs the old agent took are taken, and a 422 lists the refused fields as FastAPI did.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use agentd::settings::MongoSettings;
use protocol::Secret;
use serde_json::{Value, json};

/// The app listens only 5 s after it starts: a deploy of it is in flight that long.
const SERVES_AFTER_5S: &str = "/bin/busybox sleep 5; exec /bin/busybox httpd -f -p 3000 -h /www";

/// An old caller: plain JSON over HTTP with the node's runtime token, nothing of ours.
struct OldCaller {
    api: String,
    http: reqwest::Client,
}

impl OldCaller {
    fn of(t: &TestRuntime) -> OldCaller {
        OldCaller {
            api: t.api.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn answer(r: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
        let r = r
            .header("X-Runtime-Token", RUNTIME_TOKEN)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let st = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what} answered {st} with no JSON ({e}): {text:?}"));
        (st, v)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.api)).json(&body);
        Self::answer(r, &format!("POST {path} {body}")).await
    }

    /// A body exactly as given, JSON or not.
    async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .header("Content-Type", "application/json")
            .body(body);
        Self::answer(r, &format!("POST {path} {body:?}")).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.api));
        Self::answer(r, &format!("GET {path}")).await
    }

    async fn status(&self, user: &str, app: &str) -> Value {
        let (st, v) = self
            .get(&format!("/agent/apps/status?userId={user}&appId={app}"))
            .await;
        assert_eq!(st, 200, "status of {app}: {v}");
        v
    }
}

/// Asserts a 422 whose `detail` is FastAPI's list, each entry `{type, loc, msg}` with `loc`
/// starting at `body`, `query` or `path`; answers the entries.
fn fastapi_422(st: u16, v: &Value, what: &str) -> Vec<Value> {
    assert_eq!(st, 422, "{what}: {v}");
    let entries = v["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: detail is not a list: {v}"))
        .clone();
    assert!(!entries.is_empty(), "{what}: {v}");
    for e in &entries {
        assert!(e["type"].is_string() && e["msg"].is_string(), "{what}: {e}");
        let first = e["loc"][0].as_str().unwrap_or_default();
        assert!(
            ["body", "query", "path"].contains(&first),
            "{what}: loc {e}"
        );
    }
    entries
}

/// The `loc` of each entry, as the old callers read it.
fn locs(entries: &[Value]) -> Vec<Value> {
    entries.iter().map(|e| e["loc"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_delete_of_an_app_the_node_does_not_hold_answer_200_saying_so() {
    let Some(s) = services() else { return };
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let old = OldCaller::of(&t);
    let app = format!("n{}", rand_hex());

    // The old agent's idempotent cleanup: stop, then delete, of an app never deployed here.
    let (st, v) = old
        .post("/agent/apps/stop", json!({"userId": 7, "appId": app}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["appId"], &v["status"]),
        (&json!(app), &json!("STOPPED"))
    );
    assert_eq!(v["held"], false, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("no container on this node")),
        "{v}"
    );

    let (st, v) = old
        .post("/agent/apps/delete", json!({"userId": "7", "appId": app}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["appId"], &v["status"]),
        (&json!(app), &json!("DELETED"))
    );
    assert_eq!(v["held"], false, "{v}");
    assert_eq!(v["images"], json!({"removed": [], "kept": []}), "{v}");
    assert_eq!(v["mongo"]["dropped"], false, "{v}");
    assert_eq!(v["mongo"]["enabled"], false, "{v}");
    assert!(
        v["mongo"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no [runtime.mongo]")),
        "{v}"
    );

    // Its status names the container the old agent would have given it.
    let v = old.status("7", &app).await;
    assert_eq!(v["containerName"], format!("rt-u-7-{app}"), "{v}");
    assert_eq!(
        (&v["exists"], &v["running"]),
        (&json!(false), &json!(false))
    );
    assert!(
        t.container_names().await.is_empty(),
        "nothing was made by a stop or delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_callers_deploy_stop_status_and_delete_read_as_the_old_agents() {
    let Some(s) = services() else { return };
    let tag = rand_hex();
    let img = image(&s, "t-old-agent", &tag, App::Serves("old caller's app")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.mongo = Some(MongoSettings {
            url: Secret::new("mongodb://funai:pw@127.0.0.1:27017"),
            options: "authSource=admin".into(),
        });
    })
    .await;
    let old = OldCaller::of(&t);
    let app = format!("o{}", rand_hex());

    // The old runner's deploy: containerPort a numeric string, basePath empty.
    let (st, v) = old
        .post(
            "/agent/apps/deploy",
            json!({"userId": "7", "appId": app, "image": img, "containerPort": "3000", "basePath": ""}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "DEPLOYED");
    assert_eq!(v["previewUrl"], format!("{}/runtime/{app}/", t.gateway));
    let first = v["containerName"].as_str().unwrap_or_default().to_string();
    assert!(first.starts_with(&format!("rt-u-7-{app}-")), "{v}");
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await,
        (200, "old caller's app\n".to_string())
    );

    // Again at a base path with a trailing slash and no leading one, the port a string.
    let (st, v) = old
        .post(
            "/agent/apps/deploy",
            json!({"userId": 7, "appId": app, "image": img, "containerPort": " 3000 ", "basePath": format!("apps/{app}/")}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["previewUrl"], format!("{}/apps/{app}/", t.gateway));
    let name = v["containerName"].as_str().unwrap_or_default().to_string();
    assert_ne!(name, first, "a new container serves");
    assert_eq!(
        t.page(&format!("/apps/{app}/")).await,
        (200, "old caller's app\n".to_string())
    );

    let v = old.status("7", &app).await;
    assert_eq!(
        (&v["exists"], &v["running"], &v["stopped"]),
        (&json!(true), &json!(true), &json!(false)),
        "{v}"
    );
    assert_eq!(
        (&v["containerName"], &v["image"]),
        (&json!(name), &json!(img))
    );
    assert_eq!(v["port"], 3000, "{v}");

    // Stopped: the old agent removed the container, so it no longer existed. Ours keeps
    // it and says so.
    let (st, v) = old
        .post("/agent/apps/stop", json!({"userId": "7", "appId": app}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["held"]),
        (&json!("STOPPED"), &json!(true))
    );
    assert_eq!(v["containerName"], name.as_str(), "{v}");
    let v = old.status("7", &app).await;
    assert_eq!(
        (&v["exists"], &v["running"], &v["stopped"]),
        (&json!(false), &json!(false), &json!(true)),
        "{v}"
    );
    assert_eq!(v["containerName"], name.as_str(), "the kept container: {v}");
    assert_eq!(t.page(&format!("/apps/{app}/")).await.0, 404);
    let (st, v) = old
        .post("/agent/apps/stop", json!({"userId": "7", "appId": app}))
        .await;
    assert_eq!(
        (st, &v["status"]),
        (200, &json!("STOPPED")),
        "stop again: {v}"
    );

    // Delete: the container, the image it ran, and what became of the database.
    let (st, v) = old
        .post("/agent/apps/delete", json!({"userId": 7, "appId": app}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["held"]),
        (&json!("DELETED"), &json!(true))
    );
    assert_eq!(v["images"]["removed"], json!([img]), "{v}");
    assert_eq!(v["images"]["kept"], json!([]), "{v}");
    assert_eq!(
        (&v["mongo"]["dbName"], &v["mongo"]["dropped"]),
        (&json!(format!("db_u7_a{app}")), &json!(false)),
        "{v}"
    );
    assert!(
        !v.to_string().contains("funai:pw"),
        "the Mongo credentials stay on the node: {v}"
    );
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    assert!(!engine.has_image(&img).await.unwrap(), "the image is gone");
    assert!(t.container_names().await.is_empty());

    let v = old.status("7", &app).await;
    assert_eq!(
        (&v["exists"], &v["running"], &v["stopped"]),
        (&json!(false), &json!(false), &json!(false)),
        "{v}"
    );
    assert_eq!(v["containerName"], format!("rt-u-7-{app}"), "{v}");
    let (st, v) = old
        .post("/agent/apps/delete", json!({"userId": 7, "appId": app}))
        .await;
    assert_eq!((st, &v["held"]), (200, &json!(false)), "delete again: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_422_lists_the_refused_fields_as_the_old_agents_framework_did() {
    let Some(s) = services() else { return };
    let img = image(&s, "t-old-agent", "v1", App::Serves("version one")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let old = OldCaller::of(&t);
    let app = format!("v{}", rand_hex());
    let (st, v) = old
        .post(
            "/agent/apps/deploy",
            json!({"userId": 1, "appId": app, "image": img}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let before = t.container_names().await;

    // The brief's example, to the letter.
    let (st, v) = old
        .post("/agent/apps/deploy", json!({"userId": 1, "image": img}))
        .await;
    let entries = fastapi_422(st, &v, "no appId");
    assert_eq!(
        entries,
        vec![json!({"type": "missing", "loc": ["body", "appId"], "msg": "Field required"})]
    );

    // Every missing field at once.
    let (st, v) = old.post("/agent/apps/deploy", json!({})).await;
    let entries = fastapi_422(st, &v, "{}");
    assert_eq!(
        locs(&entries),
        vec![
            json!(["body", "userId"]),
            json!(["body", "appId"]),
            json!(["body", "image"])
        ]
    );
    assert!(entries.iter().all(|e| e["type"] == "missing"), "{v}");
    let (st, v) = old.post("/agent/apps/stop", json!({"userId": 1})).await;
    let entries = fastapi_422(st, &v, "stop without appId");
    assert_eq!(locs(&entries), vec![json!(["body", "appId"])]);

    // A field that does not fit, located; one field per entry.
    let deploy = |k: &str, val: Value| {
        let mut b = json!({"userId": 1, "appId": app, "image": img});
        b[k] = val;
        b
    };
    for (body, field, kind) in [
        (
            deploy("containerPort", json!("abc")),
            "containerPort",
            "int_parsing",
        ),
        (
            deploy("containerPort", json!(70000)),
            "containerPort",
            "value_error",
        ),
        (deploy("appId", json!("a/b")), "appId", "value_error"),
        (deploy("image", json!("my image:1")), "image", "value_error"),
        (
            deploy("basePath", json!("/runtime/../etc")),
            "basePath",
            "value_error",
        ),
        (deploy("userId", json!(true)), "userId", "value_error"),
    ] {
        let (st, v) = old.post("/agent/apps/deploy", body.clone()).await;
        let entries = fastapi_422(st, &v, &body.to_string());
        assert_eq!(locs(&entries), vec![json!(["body", field])], "{body}: {v}");
        assert_eq!(entries[0]["type"], kind, "{body}: {v}");
        assert!(
            entries[0]["msg"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "the words name the field: {v}"
        );
    }

    // Not JSON, not an object, nothing at all.
    let (st, v) = old
        .post_raw("/agent/apps/deploy", r#"{"userId": 1, "appId": "#)
        .await;
    let entries = fastapi_422(st, &v, "broken JSON");
    assert_eq!(entries[0]["type"], "json_invalid", "{v}");
    assert_eq!(entries[0]["loc"][0], "body", "{v}");
    assert!(
        entries[0]["loc"][1].is_u64(),
        "the byte where it broke: {v}"
    );
    let (st, v) = old.post_raw("/agent/apps/stop", "[1, 2]").await;
    let entries = fastapi_422(st, &v, "a list");
    assert_eq!(entries[0]["type"], "model_attributes_type", "{v}");
    let (st, v) = old.post_raw("/agent/apps/delete", "").await;
    let entries = fastapi_422(st, &v, "no body");
    assert_eq!(
        entries,
        vec![json!({"type": "missing", "loc": ["body"], "msg": "Field required"})]
    );

    // The status query.
    let (st, v) = old.get("/agent/apps/status").await;
    let entries = fastapi_422(st, &v, "status without a query");
    assert_eq!(
        locs(&entries),
        vec![json!(["query", "userId"]), json!(["query", "appId"])]
    );
    let (st, v) = old.get("/agent/apps/status?userId=1&appId=a%2Fb").await;
    let entries = fastapi_422(st, &v, "status of a/b");
    assert_eq!(locs(&entries), vec![json!(["query", "appId"])]);

    // Other errors keep their sentence and code.
    let (st, v) = old.get("/agent/apps/nope/nothing").await;
    assert_eq!(st, 404, "{v}");
    assert!(v["detail"].is_string(), "{v}");
    let r = reqwest::Client::new()
        .get(format!("{}/agent/apps/status?userId=1&appId={app}", t.api))
        .header("X-Runtime-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(v["detail"].is_string(), "{v}");
    assert_eq!(v["code"], "AGENT_AUTH", "{v}");

    assert_eq!(
        t.container_names().await,
        before,
        "a refused request changed containers"
    );
    assert_eq!(t.page(&format!("/runtime/{app}/")).await.0, 200);
    t.cleanup().await;
}

/// Waits until the node holds a container of the app: its deploy is in flight.
async fn until_deploying(t: &TestRuntime, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        if t.container_names().await.iter().any(|n| n.contains(app)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the deploy of {app} never started"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_deploy_is_refused_or_with_the_setting_waits_for_it() {
    let Some(s) = services() else { return };
    let slow = script_image(&s, "t-old-agent", "slow", "slow app", SERVES_AFTER_5S).await;
    for waits in [false, true] {
        let t = Arc::new(
            start_runtime(&s, "http://127.0.0.1:9", |r| {
                r.stop_waits_for_deploy = waits
            })
            .await,
        );
        let old = OldCaller::of(&t);
        let app = format!("w{}", rand_hex());
        let deploy = {
            let (t, app, slow) = (t.clone(), app.clone(), slow.clone());
            tokio::spawn(async move { t.deploy("1", &app, &slow).await })
        };
        until_deploying(&t, &app).await;
        let (st, v) = old
            .post("/agent/apps/stop", json!({"userId": 1, "appId": app}))
            .await;
        let (dst, dv) = deploy.await.unwrap();
        assert_eq!(dst, 200, "the deploy ends as it would: {dv}");
        if waits {
            assert_eq!(st, 200, "the stop waited for the deploy: {v}");
            assert_eq!(
                (&v["status"], &v["held"]),
                (&json!("STOPPED"), &json!(true))
            );
            assert_eq!(v["containerName"], dv["containerName"], "{v}");
            let v = old.status("1", &app).await;
            assert_eq!(
                (&v["exists"], &v["running"]),
                (&json!(false), &json!(false)),
                "{v}"
            );
        } else {
            assert_eq!(st, 409, "{v}");
            assert_eq!(v["code"], "DEPLOY_IN_FLIGHT", "{v}");
            assert!(v["detail"].is_string(), "{v}");
            let v = old.status("1", &app).await;
            assert_eq!(
                (&v["exists"], &v["running"]),
                (&json!(true), &json!(true)),
                "{v}"
            );
        }
        t.cleanup().await;
    }
}
