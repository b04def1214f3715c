//! Hostile input: a fuzz run over every JSON body deployd accepts (no panic, no 500 for a
//! client's mistake), header smuggling in tokens, oversized bodies, slow-loris clients.
//! Each is refused with its status and nothing changes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use testkit::deployd::{self as testing, ADMIN_TOKEN, DEPLOY_SECRET, NODE_TOKEN, RUNNER_TOKEN};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("../../etc"),
            Just("-oProxyCommand=x"),
            Just("a/b"),
            Just("\u{0}"),
            Just("ssh://x/y"),
            Just("..")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body with one field (at any depth) replaced by anything, or removed.
fn mutated(valid: Value) -> impl Strategy<Value = Value> {
    let paths = paths(&valid, vec![]);
    (0..paths.len().max(1), any_json(), any::<bool>()).prop_map(move |(i, replacement, remove)| {
        let mut v = valid.clone();
        if let Some(path) = paths.get(i) {
            set(&mut v, path, if remove { None } else { Some(replacement) });
        }
        v
    })
}

fn paths(v: &Value, prefix: Vec<String>) -> Vec<Vec<String>> {
    let mut out = vec![];
    if let Value::Object(m) = v {
        for (k, x) in m {
            let mut p = prefix.clone();
            p.push(k.clone());
            out.push(p.clone());
            out.extend(paths(x, p));
        }
    }
    out
}

fn set(v: &mut Value, path: &[String], to: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        match cur.get_mut(p) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        match to {
            Some(x) => {
                m.insert(last.clone(), x);
            }
            None => {
                m.remove(last);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_bodies_never_crash_or_answer_500() {
    let (d, c) = with_node().await;
    // A job in every state the endpoints act on.
    let running = create(&c, payload("fz-running")).await;
    claim(&c, "r-fuzz", 0).await.expect("no job");
    let jid = running.id;
    let endpoints: Vec<(&str, String, &str, &str, Value)> = vec![
        (
            "POST",
            "/deploy/jobs".into(),
            "X-DEPLOY-SECRET",
            DEPLOY_SECRET,
            json!({"type":"BUILD_AND_DEPLOY","payload":{"appId":"fz1","userId":"1","repoSshUrl":"ssh://git@127.0.0.1:2222/r.git","gitRef":"main","dockerfilePath":"Dockerfile","buildContext":"app","containerPort":3000,"basePath":"/runtime/fz1","env":{"A":"b"}}}),
        ),
        (
            "POST",
            "/deploy/jobs/claim".into(),
            "X-Runner-Token",
            RUNNER_TOKEN,
            json!({"runnerId":"r-fz","leaseSeconds":30,"waitSeconds":0}),
        ),
        (
            "POST",
            format!("/deploy/jobs/{jid}/heartbeat"),
            "X-Runner-Token",
            RUNNER_TOKEN,
            json!({"runnerId":"r-fuzz","extendSeconds":30,"phase":"BUILD","phaseMessage":"x"}),
        ),
        (
            "POST",
            format!("/deploy/jobs/{jid}/report"),
            "X-Runner-Token",
            RUNNER_TOKEN,
            json!({"runnerId":"r-other","status":"FAILED","errorMessage":"x","image":"a/b:c","commitSha":"abc"}),
        ),
        (
            "POST",
            "/internal/runtime-nodes/heartbeat".into(),
            "X-RT-Node-Token",
            NODE_TOKEN,
            json!({"nodeName":"rt-fz","agentBaseUrl":"http://127.0.0.1:9","gatewayBaseUrl":"http://127.0.0.1:9","diskFreePct":50.0,"diskFreeBytes":1,"containerCount":0}),
        ),
        (
            "POST",
            "/deploy/apps/purge".into(),
            "X-DEPLOY-SECRET",
            DEPLOY_SECRET,
            json!({"userId":"1","appId":"fz-none"}),
        ),
        (
            "POST",
            "/deploy/apps/stop".into(),
            "X-DEPLOY-SECRET",
            DEPLOY_SECRET,
            json!({"userId":"1","appId":"fz-none"}),
        ),
        (
            "POST",
            "/deploy/apps/cleanup".into(),
            "X-DEPLOY-SECRET",
            DEPLOY_SECRET,
            json!({"userId":"1","appId":"fz-none"}),
        ),
        (
            "POST",
            "/internal/wake".into(),
            "X-DEPLOY-SECRET",
            DEPLOY_SECRET,
            json!({"from":"replica-fz","jobs":false,"created":1,"logs":[1,2],"hello":true}),
        ),
        (
            "POST",
            "/admin/placements/reassign".into(),
            "X-Admin-Token",
            ADMIN_TOKEN,
            json!({"appId":"fz-none","nodeName":"rt-none"}),
        ),
    ];
    let http = reqwest::Client::new();
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200u32);
    // A fixed seed: the same inputs every run, so a failure can be replayed.
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mut executed = 0u64;
    let mut by_status = std::collections::BTreeMap::new();
    for (method, path, header, secret, valid) in &endpoints {
        let strategy = prop_oneof![3 => mutated(valid.clone()), 1 => any_json()];
        for _ in 0..cases {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            let r = http
                .request(
                    method.parse().unwrap_or(reqwest::Method::POST),
                    format!("{}{path}", d.url),
                )
                .header(*header, *secret)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} died on {body}: {e}"));
            let st = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(st != 500, "{path} answered 500 to {body}: {v}");
            assert_eq!(
                v["code"].as_u64(),
                Some(st as u64),
                "{path}: not an envelope for {body}: {v}"
            );
            *by_status.entry(st).or_insert(0u64) += 1;
            executed += 1;
        }
    }
    // Raw bytes that are not JSON at all.
    for _ in 0..cases {
        let bytes = prop::collection::vec(any::<u8>(), 0..256)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let r = http
            .post(format!("{}/deploy/jobs", d.url))
            .header("X-DEPLOY-SECRET", DEPLOY_SECRET)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        executed += 1;
    }
    let health = http
        .get(format!("{}/internal/health", d.url))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(health.ok(), Some(200));
    eprintln!(
        "fuzz: {executed} requests over {} endpoints, answers by status: {by_status:?}",
        endpoints.len() + 1
    );
}

/// Sends `bytes` and reads the answer without closing the sending side first: the server
/// must answer from what it has.
fn raw_head_only(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(bytes).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn raw(addr: &str, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_headers_and_oversized_bodies_are_refused_and_change_nothing() {
    let (d, c) = with_node().await;
    let addr = d.url.trim_start_matches("http://").to_string();
    let before = count_rows(&d, "job").await;
    let body = r#"{"payload":{"appId":"smuggle","userId":"1","image":"busybox"}}"#;
    let cases: Vec<(String, &str)> = vec![
        // The secret folded over two lines (obsolete line folding).
        (
            format!(
                "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: deploy-\r\n secret\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            "400",
        ),
        // Two secrets, one of them right.
        (
            format!(
                "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: wrong\r\nX-DEPLOY-SECRET: {DEPLOY_SECRET}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            "401",
        ),
        // The secret with a byte beyond ASCII glued on.
        (
            format!(
                "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: {DEPLOY_SECRET}\u{00e9}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            "401",
        ),
        // Content-Length and chunked at once: a request-smuggling classic.
        (
            format!(
                "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: {DEPLOY_SECRET}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nPOST /deploy/jobs HTTP/1.1\r\n\r\n"
            ),
            "400",
        ),
        // A NUL inside a header.
        (
            format!(
                "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: {DEPLOY_SECRET}\0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            "400",
        ),
    ];
    for (req, want) in cases {
        let answer = raw(&addr, req.as_bytes());
        let status_line = answer.lines().next().unwrap_or_default().to_string();
        assert!(
            status_line.contains(&format!(" {want} ")) || (answer.is_empty() && want == "400"),
            "{req:?} answered {status_line:?}"
        );
    }
    // 10 MiB announced: refused from the head alone, before a byte of the body is sent.
    let answer = raw_head_only(
        &addr,
        format!(
            "POST /deploy/jobs HTTP/1.1\r\nHost: x\r\nX-DEPLOY-SECRET: {DEPLOY_SECRET}\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Chunked, with no length announced: refused once the limit is passed.
    let mut chunked = format!(
        "POST /deploy/jobs/1/log HTTP/1.1\r\nHost: x\r\nX-Runner-Token: {RUNNER_TOKEN}\r\nContent-Range: bytes 0-10485759/*\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let piece = vec![b'x'; 1024 * 1024 + 1];
    chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
    chunked.extend_from_slice(&piece);
    chunked.extend_from_slice(b"\r\n");
    let answer = raw_head_only(&addr, &chunked);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert_eq!(
        count_rows(&d, "job").await,
        before,
        "a refused request changed the jobs"
    );
    assert_eq!(count_rows(&d, "log").await, 0);
    let _ = c;
    let _ = testing::ADMIN_TOKEN;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_client_is_cut_off_and_others_are_served() {
    let d = testing::start_with(|s| s.header_read_timeout_ms = 500).await;
    let addr = d.url.trim_start_matches("http://").to_string();
    // Twenty clients that never finish their request head.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /internal/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        slow.push(s);
    }
    // Meanwhile a normal client is served.
    let st = reqwest::get(format!("{}/internal/health", d.url))
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(st.ok(), Some(200));
    let started = Instant::now();
    for mut s in slow {
        let mut buf = Vec::new();
        // The server closes the connection (after an error answer or without one).
        let n = s.read_to_end(&mut buf);
        assert!(n.is_ok(), "the slow connection was not closed: {n:?}");
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "slow clients held on for {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_message_is_refused_on_every_engine() {
    let (d, c) = with_node().await;
    let job = create(&c, payload("nul")).await;
    claim(&c, "r-nul", 0).await.expect("no job");
    let http = reqwest::Client::new();
    for (path, body, field) in [
        (
            format!("/deploy/jobs/{}/heartbeat", job.id),
            json!({"runnerId":"r-nul","phaseMessage":"a\u{0}b"}),
            "phaseMessage",
        ),
        (
            format!("/deploy/jobs/{}/report", job.id),
            json!({"runnerId":"r-nul","status":"FAILED","errorMessage":"a\u{0}b"}),
            "errorMessage",
        ),
    ] {
        let r = http
            .post(format!("{}{path}", d.url))
            .header("X-Runner-Token", RUNNER_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let v: Value = r.json().await.unwrap_or_default();
        assert!(
            v["message"].as_str().unwrap_or_default().contains(field),
            "{v}"
        );
    }
    let j = c.get_job(job.id).await.unwrap();
    assert_eq!(
        j.status,
        protocol::job::JobStatus::Running,
        "a refused report changed the job"
    );
}
