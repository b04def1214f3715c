//! Hostile and malformed input: each gets its 4xx naming the field, and nothing changes.

use crate::common::*;
use protocol::headers;
use testkit::deployd::{self as testing, DEPLOY_SECRET, NODE_TOKEN, RUNNER_TOKEN};

async fn snapshot(d: &testkit::deployd::TestDeployd) -> Vec<i64> {
    let mut v = Vec::new();
    for t in ["job", "node", "placement", "log", "runner"] {
        v.push(count_rows(d, t).await);
    }
    v
}

async fn post_raw(url: &str, header: &str, secret: &str, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(url)
        .header(header, secret)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let st = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(
        v["code"].as_u64(),
        Some(st as u64),
        "envelope code equals status: {v}"
    );
    (st, v["message"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_job_bodies_are_refused_with_the_field_named() {
    let (d, c) = with_node().await;
    // One real job so that "unchanged" means something.
    create(&c, payload("keep")).await;
    let before = snapshot(&d).await;
    let url = format!("{}/deploy/jobs", d.url);
    // Oversized bodies are refused in tests/hostile.rs, from the head alone.
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "not valid JSON"),
        ("".into(), 400, "empty"),
        ("[]".into(), 400, "invalid"),
        (r#"{"type":"BUILD_AND_DEPLOY"}"#.into(), 400, "payload"),
        (r#"{"type":"DESTROY","payload":{"appId":"1","image":"busybox"}}"#.into(), 400, "type"),
        (r#"{"payload":{"appId":{"x":1},"image":"busybox"}}"#.into(), 400, "payload.appId"),
        (r#"{"payload":{"appId":"a/b","image":"busybox"}}"#.into(), 400, "payload.appId"),
        (r#"{"payload":{"appId":"..","image":"busybox"}}"#.into(), 400, "payload.appId"),
        (r#"{"payload":{"appId":"1","userId":"../u","image":"busybox"}}"#.into(), 400, "payload.userId"),
        (r#"{"payload":{"appId":"1","image":"busybox","containerPort":"abc"}}"#.into(), 400, "payload.containerPort"),
        (r#"{"payload":{"appId":"1","image":"busybox","containerPort":70000}}"#.into(), 400, "payload.containerPort"),
        (r#"{"payload":{"appId":"1","image":"busybox","containerPort":0}}"#.into(), 400, "payload.containerPort"),
        (r#"{"payload":{"appId":"1","image":"my image"}}"#.into(), 400, "payload.image"),
        (r#"{"payload":{"appId":"1"}}"#.into(), 400, "payload.userId"),
        (r#"{"payload":{"appId":"1","userId":"2"}}"#.into(), 400, "payload.repoSshUrl"),
        (r#"{"payload":{"appId":"1","repoSshUrl":"ssh://git@127.0.0.1:2222/r.git","gitRef":"--upload-pack=x"}}"#.into(), 400, "payload.gitRef"),
        (r#"{"payload":{"appId":"1","repoSshUrl":"-oProxyCommand=x"}}"#.into(), 400, "payload.repoSshUrl"),
        (r#"{"payload":{"appId":"1","repoSshUrl":"ssh://git@h/r.git","dockerfilePath":"../../etc/passwd"}}"#.into(), 400, "payload.dockerfilePath"),
        (r#"{"payload":{"appId":"1","repoSshUrl":"ssh://git@h/r.git","buildContext":"/etc"}}"#.into(), 400, "payload.buildContext"),
        (r#"{"payload":{"appId":"1","image":"busybox","env":{"BAD-NAME":"x"}}}"#.into(), 400, "payload.env"),
        (r#"{"payload":{"appId":"1","image":"busybox","basePath":"/runtime/../x"}}"#.into(), 400, "payload.basePath"),
    ];
    for (body, status, needle) in cases {
        let (st, msg) = post_raw(
            &url,
            headers::DEPLOY_SECRET,
            DEPLOY_SECRET,
            body.clone().into_bytes(),
        )
        .await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(st, status, "{shown}: {msg}");
        assert!(
            msg.contains(needle),
            "{shown}: message {msg:?} does not name {needle:?}"
        );
    }
    assert_eq!(snapshot(&d).await, before, "the database changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_paths_and_protocol_bodies_are_refused() {
    let (d, c) = with_node().await;
    let job = create(&c, payload("keep")).await;
    let before = snapshot(&d).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", d.url);
        async move {
            let r = http
                .get(&url)
                .header(headers::DEPLOY_SECRET, DEPLOY_SECRET)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let st = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            (st, v["message"].as_str().unwrap_or_default().to_string())
        }
    };
    for (path, status, needle) in [
        ("/deploy/jobs/abc".to_string(), 400, "job id"),
        ("/deploy/jobs/999999".to_string(), 404, "not found"),
        ("/deploy/jobs?limit=500".to_string(), 400, "limit"),
        ("/deploy/jobs?limit=x".to_string(), 400, "limit"),
        ("/deploy/jobs?appId=a%2Fb".to_string(), 400, "appId"),
        ("/deploy/jobs?status=DONE".to_string(), 400, "status"),
        ("/deploy/jobs/by-app".to_string(), 400, "appId"),
        (
            format!("/deploy/jobs/{}/log?offset=-1", job.id),
            400,
            "offset",
        ),
        (
            format!("/deploy/jobs/{}/log?waitSeconds=3600", job.id),
            400,
            "waitSeconds",
        ),
        (
            format!("/deploy/jobs/{}/log?offset=99", job.id),
            416,
            "past the end",
        ),
        ("/nowhere".to_string(), 404, "no such endpoint"),
    ] {
        let (st, msg) = get(path.clone()).await;
        assert_eq!(st, status, "{path}: {msg}");
        assert!(msg.contains(needle), "{path}: {msg:?} lacks {needle:?}");
    }

    let node_url = format!("{}/internal/runtime-nodes/heartbeat", d.url);
    let hb = |over: serde_json::Value| {
        let mut v = serde_json::json!({"nodeName":"rt-09","agentBaseUrl":"http://127.0.0.1:7005","gatewayBaseUrl":"http://127.0.0.1:80","diskFreePct":50.0,"diskFreeBytes":1000,"containerCount":0});
        if let (Some(m), Some(o)) = (v.as_object_mut(), over.as_object()) {
            for (k, x) in o {
                m.insert(k.clone(), x.clone());
            }
        }
        serde_json::to_vec(&v).unwrap_or_default()
    };
    for (over, needle) in [
        (serde_json::json!({"nodeName": "../etc"}), "nodeName"),
        (serde_json::json!({"nodeName": "a b"}), "nodeName"),
        (serde_json::json!({"diskFreePct": 200.0}), "diskFreePct"),
        (serde_json::json!({"diskFreePct": "lots"}), "diskFreePct"),
        (serde_json::json!({"containerCount": -1}), "containerCount"),
        (
            serde_json::json!({"agentBaseUrl": "file:///etc/passwd"}),
            "agentBaseUrl",
        ),
    ] {
        let (st, msg) =
            post_raw(&node_url, headers::NODE_TOKEN, NODE_TOKEN, hb(over.clone())).await;
        assert_eq!(st, 400, "{over}: {msg}");
        assert!(msg.contains(needle), "{over}: {msg}");
    }

    let claim_url = format!("{}/deploy/jobs/claim", d.url);
    for (body, needle) in [
        (r#"{"runnerId":"a b"}"#, "runnerId"),
        (r#"{"runnerId":"r1","waitSeconds":99}"#, "waitSeconds"),
        (r#"{"runnerId":"r1","leaseSeconds":0}"#, "leaseSeconds"),
        (r#"{"runnerId":5}"#, "runnerId"),
    ] {
        let (st, msg) = post_raw(
            &claim_url,
            headers::RUNNER_TOKEN,
            RUNNER_TOKEN,
            body.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(st, 400, "{body}: {msg}");
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let report_url = format!("{}/deploy/jobs/{}/report", d.url, job.id);
    for (body, needle) in [
        (r#"{"runnerId":"r1","status":"RUNNING"}"#, "status"),
        (r#"{"runnerId":"r1","status":"WHATEVER"}"#, "status"),
        (
            r#"{"runnerId":"r1","status":"SUCCEEDED","commitSha":"not-hex"}"#,
            "commitSha",
        ),
        (
            r#"{"runnerId":"r1","status":"SUCCEEDED","image":"Bad Image"}"#,
            "image",
        ),
    ] {
        let (st, msg) = post_raw(
            &report_url,
            headers::RUNNER_TOKEN,
            RUNNER_TOKEN,
            body.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(st, 400, "{body}: {msg}");
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    // Log appends: a missing or wrong Content-Range.
    let log_url = format!("{}/deploy/jobs/{}/log", d.url, job.id);
    for (range, needle) in [
        (None, "Content-Range"),
        (Some("bytes x-y/*"), "Content-Range"),
        (Some("0-99"), "covers 100 bytes"),
    ] {
        let mut rb = http
            .post(&log_url)
            .header(headers::RUNNER_TOKEN, RUNNER_TOKEN)
            .body("hello");
        if let Some(r) = range {
            rb = rb.header("Content-Range", r);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(
            v["message"].as_str().unwrap_or_default().contains(needle),
            "{v}"
        );
    }
    assert_eq!(snapshot(&d).await, before, "the database changed");
    let _ = testing::ADMIN_TOKEN;
}
