//! Every endpoint with no token, a wrong token, another channel's token and the right one;
//! the allowlists from a disallowed address; refusal to start on placeholder secrets.

use protocol::headers;
use reqwest::Method;
use testkit::deployd::{self as testing, ADMIN_TOKEN, DEPLOY_SECRET, NODE_TOKEN, RUNNER_TOKEN};

struct Endpoint {
    method: Method,
    path: &'static str,
    header: &'static str,
    secret: &'static str,
    body: Option<serde_json::Value>,
}

fn endpoints() -> Vec<Endpoint> {
    use serde_json::json;
    let d = |method, path, body| Endpoint {
        method,
        path,
        header: headers::DEPLOY_SECRET,
        secret: DEPLOY_SECRET,
        body,
    };
    let r = |path, body| Endpoint {
        method: Method::POST,
        path,
        header: headers::RUNNER_TOKEN,
        secret: RUNNER_TOKEN,
        body,
    };
    let a = |method, path, body| Endpoint {
        method,
        path,
        header: headers::ADMIN_TOKEN,
        secret: ADMIN_TOKEN,
        body,
    };
    let app = json!({"userId": "1", "appId": "1"});
    vec![
        d(
            Method::POST,
            "/deploy/jobs",
            Some(
                json!({"type":"BUILD_AND_DEPLOY","payload":{"appId":"1","userId":"1","image":"busybox"}}),
            ),
        ),
        d(Method::GET, "/deploy/jobs", None),
        d(Method::GET, "/deploy/jobs/by-app?appId=1", None),
        d(Method::GET, "/deploy/jobs/1", None),
        d(Method::POST, "/deploy/jobs/1/cancel", None),
        d(Method::GET, "/deploy/jobs/1/log?offset=0", None),
        d(Method::POST, "/deploy/apps/stop", Some(app.clone())),
        d(Method::POST, "/deploy/apps/purge", Some(app.clone())),
        d(Method::POST, "/deploy/apps/cleanup", Some(app)),
        r(
            "/deploy/jobs/claim",
            Some(json!({"runnerId":"r1","waitSeconds":0})),
        ),
        r("/deploy/jobs/1/heartbeat", Some(json!({"runnerId":"r1"}))),
        r(
            "/deploy/jobs/1/report",
            Some(json!({"runnerId":"r1","status":"SUCCEEDED"})),
        ),
        Endpoint {
            method: Method::POST,
            path: "/internal/runtime-nodes/heartbeat",
            header: headers::NODE_TOKEN,
            secret: NODE_TOKEN,
            body: Some(
                json!({"nodeName":"rt-01","agentBaseUrl":"http://127.0.0.1:7005","gatewayBaseUrl":"http://127.0.0.1:8080","diskFreePct":50.0,"diskFreeBytes":1000,"containerCount":0}),
            ),
        },
        a(Method::GET, "/admin/nodes", None),
        a(Method::POST, "/admin/nodes/rt-x/drain", None),
        a(Method::DELETE, "/admin/nodes/rt-x", None),
        a(Method::GET, "/admin/placements", None),
        a(
            Method::POST,
            "/admin/placements/reassign",
            Some(json!({"appId":"1","nodeName":"rt-x"})),
        ),
        a(Method::GET, "/admin/runners", None),
        a(Method::GET, "/admin/apps", None),
        a(Method::GET, "/admin/apps/1", None),
        a(Method::GET, "/admin/apps/1/logs?tail=5", None),
        a(Method::GET, "/admin/apps/1/container", None),
        a(Method::GET, "/admin/audit", None),
        a(Method::GET, "/admin/jobs", None),
        a(Method::GET, "/admin/jobs/1", None),
        a(Method::POST, "/admin/jobs/1/cancel", None),
        a(Method::GET, "/admin/jobs/1/log", None),
        a(Method::POST, "/admin/nodes/rt-x/apps/1/stop", None),
    ]
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    e: &Endpoint,
    token: Option<(&str, &str)>,
) -> (u16, serde_json::Value) {
    let mut rb = http.request(e.method.clone(), format!("{base}{}", e.path));
    if let Some((h, v)) = token {
        rb = rb.header(h, v);
    }
    if let Some(b) = &e.body {
        rb = rb.json(b);
    }
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|err| panic!("{} {}: {err}", e.method, e.path));
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_checks_its_own_secret() {
    let d = testing::start().await;
    let http = reqwest::Client::new();
    let all_secrets = [DEPLOY_SECRET, RUNNER_TOKEN, NODE_TOKEN, ADMIN_TOKEN];
    for e in endpoints() {
        let (st, body) = call(&http, &d.url, &e, None).await;
        assert_eq!(st, 401, "{} {} without a token: {body}", e.method, e.path);
        assert_eq!(body["code"], 401, "envelope code equals the status");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("missing"),
            "{body}"
        );

        let (st, _) = call(&http, &d.url, &e, Some((e.header, "wrong-token"))).await;
        assert_eq!(st, 401, "{} {} with a wrong token", e.method, e.path);

        for other in all_secrets.iter().filter(|s| **s != e.secret) {
            let (st, _) = call(&http, &d.url, &e, Some((e.header, other))).await;
            assert_eq!(
                st, 401,
                "{} {} accepted another channel's secret",
                e.method, e.path
            );
        }

        let (st, body) = call(&http, &d.url, &e, Some((e.header, e.secret))).await;
        assert!(
            st != 401 && st != 403,
            "{} {} refused the right token: {st} {body}",
            e.method,
            e.path
        );
        assert_eq!(
            body["code"].as_u64(),
            Some(st as u64),
            "{} {}: {body}",
            e.method,
            e.path
        );
    }
    // Health needs no token.
    let st = http
        .get(format!("{}/internal/health", d.url))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(st.ok(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlists_refuse_other_addresses_even_with_the_right_token() {
    let d = testing::start_with(|s| {
        s.auth.admin_allowed_ips = vec!["127.0.0.1/32".into()];
        s.auth.node_allowed_ips = vec!["127.0.0.1".into()];
        s.auth.runner_allowed_ips = vec!["127.0.0.0/31".into()];
    })
    .await;
    let from_1 = reqwest::Client::builder()
        .local_address(Some("127.0.0.1".parse().unwrap()))
        .build()
        .unwrap();
    let from_2 = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    for e in endpoints()
        .iter()
        .filter(|e| e.header != headers::DEPLOY_SECRET)
    {
        let (st, body) = call(&from_2, &d.url, e, Some((e.header, e.secret))).await;
        assert_eq!(st, 403, "{} {} from 127.0.0.2: {body}", e.method, e.path);
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("127.0.0.2"),
            "{body}"
        );
        let (st, _) = call(&from_1, &d.url, e, Some((e.header, e.secret))).await;
        assert!(
            st != 401 && st != 403,
            "{} {} from 127.0.0.1: {st}",
            e.method,
            e.path
        );
    }
    // The deploy channel (the estate's API) has no allowlist.
    let e = &endpoints()[1];
    let (st, _) = call(&from_2, &d.url, e, Some((e.header, e.secret))).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_runners_without_a_token_only_from_the_allowlist() {
    let d = testing::start_with(|s| {
        s.auth.allow_legacy_runners = true;
        s.auth.runner_allowed_ips = vec!["127.0.0.1/32".into()];
    })
    .await;
    let client = |ip: &str| {
        reqwest::Client::builder()
            .local_address(Some(ip.parse().unwrap()))
            .build()
            .unwrap()
    };
    let claim = endpoints()
        .into_iter()
        .find(|e| e.path == "/deploy/jobs/claim")
        .expect("claim");
    let (st, body) = call(&client("127.0.0.1"), &d.url, &claim, None).await;
    assert_eq!(st, 200, "{body}");
    let (st, _) = call(&client("127.0.0.2"), &d.url, &claim, None).await;
    assert_eq!(st, 403);
    let runners = d.client().runners().await.unwrap();
    assert!(runners.iter().any(|r| r.runner_id == "r1" && r.legacy));
}

type Tweak = Box<dyn Fn(&mut deployd::Settings)>;

#[tokio::test]
async fn refuses_to_start_with_placeholder_or_shared_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "auth.admin_token",
            Box::new(|s| s.auth.admin_token = "CHANGE_ME".into()),
        ),
        (
            "auth.deploy_secret",
            Box::new(|s| s.auth.deploy_secret = "".into()),
        ),
        (
            "same value",
            Box::new(|s| s.auth.node_token = s.auth.runner_token.clone()),
        ),
        (
            "allowlist",
            Box::new(|s| s.auth.admin_allowed_ips = vec!["10.0.0.0/33".into()]),
        ),
        (
            "runner_allowed_ips",
            Box::new(|s| s.auth.allow_legacy_runners = true),
        ),
    ];
    for (expect, tweak) in cases {
        let mut s = testing::settings(dir.path());
        tweak(&mut s);
        let err = match deployd::build_state(s, Default::default()).await {
            Ok(_) => panic!("started despite {expect}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("refusing to start"), "{err}");
        assert!(
            err.contains(expect) || (expect == "allowlist" && err.contains("not a CIDR")),
            "{expect}: {err}"
        );
        assert!(
            !err.contains(RUNNER_TOKEN),
            "a secret leaked into the error: {err}"
        );
    }
}
