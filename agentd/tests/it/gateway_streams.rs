//! What web apps need from the embedded gateway, with the suite's own web app
//! (`funai-testapp`) in a container behind agentd's runtime and real clients: WebSockets both
//! ways and through a redeploy, Server-Sent Events and uploads streamed as they come, a
//! container that dies behind agentd's back, and the access log.

use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// The test app at two versions, built once for the whole run.
async fn images(s: &Services) -> (String, String) {
    static IMAGES: OnceLock<(String, String)> = OnceLock::new();
    if let Some(v) = IMAGES.get() {
        return v.clone();
    }
    let v = (
        testapp_image(s, "t-testapp", "v1").await,
        testapp_image(s, "t-testapp", "v2").await,
    );
    IMAGES.get_or_init(|| v).clone()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(t: &TestRuntime, app: &str) -> Ws {
    let url = format!(
        "{}/runtime/{app}/ws",
        t.gateway.replacen("http://", "ws://", 1)
    );
    let (ws, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap_or_else(|_| panic!("{url}: no answer"))
    .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

/// Sends `text` and answers the next text message.
async fn echo(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text)).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return t.as_str().to_string(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no echo of {text:?}: {other:?}"),
        }
    }
}

async fn page(t: &TestRuntime, app: &str) -> (u16, String) {
    t.page(&format!("/runtime/{app}/")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_passes_both_ways_and_a_redeploy_lets_it_finish() {
    let Some(s) = services() else { return };
    let (v1, v2) = images(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| r.drain_timeout_seconds = 60).await;
    let app = format!("w{}", rand_hex());
    let (st, ans) = t.deploy("3", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");

    let mut old = ws_connect(&t, &app).await;
    assert_eq!(echo(&mut old, "hello").await, "v1:hello");
    assert_eq!(echo(&mut old, "again").await, "v1:again");

    // The redeploy switches the route at once and waits for the open socket.
    let rt = t.rt.clone();
    let req = deploy_req("3", &app, &v2);
    let deploy = tokio::spawn(async move { rt.deploy(req).await });
    until(
        "the route switched to v2",
        Duration::from_secs(60),
        async || (page(&t, &app).await == (200, "funai-testapp v2\n".into())).then_some(()),
    )
    .await;
    let mut new = ws_connect(&t, &app).await;
    assert_eq!(echo(&mut new, "hi").await, "v2:hi");
    assert_eq!(
        echo(&mut old, "still there").await,
        "v1:still there",
        "the socket opened before the redeploy goes on with the old container"
    );
    assert!(
        t.container_names().await.len() == 2,
        "the old container is kept while its socket is open"
    );

    old.close(None).await.unwrap();
    let ans = tokio::time::timeout(Duration::from_secs(30), deploy)
        .await
        .expect("the deploy ends once the old socket closed")
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ans.status, "DEPLOYED");
    assert_eq!(t.container_names().await, vec![ans.container_name]);
    assert_eq!(echo(&mut new, "after").await, "v2:after");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_still_open_at_the_drain_deadline_is_closed() {
    let Some(s) = services() else { return };
    let (v1, v2) = images(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| r.drain_timeout_seconds = 1).await;
    let app = format!("w{}", rand_hex());
    assert_eq!(t.deploy("3", &app, &v1).await.0, 200);
    let mut old = ws_connect(&t, &app).await;
    assert_eq!(echo(&mut old, "hello").await, "v1:hello");

    let (st, ans) = t.deploy("3", &app, &v2).await;
    assert_eq!(st, 200, "{ans}");
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match old.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the old socket was never closed");
    let mut new = ws_connect(&t, &app).await;
    assert_eq!(echo(&mut new, "hi").await, "v2:hi");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_uploads_stream_through_as_they_come() {
    let Some(s) = services() else { return };
    let (v1, _) = images(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let app = format!("e{}", rand_hex());
    assert_eq!(t.deploy("3", &app, &v1).await.0, 200);
    let base = format!("{}/runtime/{app}", t.gateway);
    let http = reqwest::Client::new();

    // The app sends `one` and holds the stream open: a buffering proxy shows nothing.
    let resp = http.get(format!("{base}/events")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut events = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("data: one\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("the first event never came through while the stream was open")
            .expect("the stream ended")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let r = http
        .post(format!("{base}/events/release"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the second event never came")
    {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert_eq!(seen, "data: one\n\ndata: two\n\n");

    // An upload the client sends a MiB at a time, each only once the app has read the one
    // before: a proxy that holds the body until its end never lets the second go.
    const MIB: usize = 1 << 20;
    const PARTS: usize = 16;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
    let upload = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/upload");
        async move { http.post(url).body(body).send().await?.text().await }
    });
    let received = async || -> u64 {
        let r = reqwest::get(format!("{base}/upload/received"))
            .await
            .unwrap();
        r.text().await.unwrap().trim().parse().unwrap()
    };
    for part in 1..=PARTS {
        tx.send(Ok(vec![b'x'; MIB])).await.unwrap();
        let want = (part * MIB) as u64;
        until(
            &format!("the app read {part} MiB of the upload"),
            Duration::from_secs(20),
            async || (received().await >= want).then_some(()),
        )
        .await;
    }
    drop(tx);
    let answer = upload.await.unwrap().unwrap();
    assert_eq!(answer.trim(), (PARTS * MIB).to_string());
    t.cleanup().await;
}

/// A receiver as a stream, for a request body sent piece by piece.
fn tokio_stream_of<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        Some((v, rx))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_dies_behind_agentds_back_answers_502_at_once_and_shows_down() {
    let Some(s) = services() else { return };
    let (v1, v2) = images(&s).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.restart_policy = agentd::settings::RestartPolicy::No;
    })
    .await;
    let app = format!("d{}", rand_hex());
    let (st, ans) = t.deploy("3", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");
    let container = ans["containerName"].as_str().unwrap().to_string();
    assert_eq!(page(&t, &app).await.0, 200);

    let engine = agentd::docker::Engine::connect("").await.unwrap();
    engine
        .raw()
        .kill_container(
            &container,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    let (st, body) = until(
        "the gateway knows the app is down",
        Duration::from_secs(10),
        async || {
            let (st, body) = page(&t, &app).await;
            (st == 502).then_some((st, body))
        },
    )
    .await;
    assert_eq!(st, 502);
    assert!(
        body.contains(&format!("app {app} is down: its container exited")),
        "{body}"
    );
    let hb = t.rt.heartbeat().await.unwrap();
    let held = hb.apps.unwrap_or_default();
    let mine = held
        .iter()
        .find(|a| a.app_id == app)
        .expect("the app is listed");
    assert!(
        !mine.running,
        "the heartbeat says the app is down: {mine:?}"
    );
    let metrics = t.rt.render_metrics().await;
    assert!(
        metrics.contains("agentd_gateway_backends_down_total 1"),
        "{metrics}"
    );

    // Started again by hand: routed again at its address.
    engine
        .raw()
        .start_container(
            &container,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap();
    until(
        "the app serves again",
        Duration::from_secs(20),
        async || (page(&t, &app).await == (200, "funai-testapp v1\n".into())).then_some(()),
    )
    .await;

    // Dead again, the next deploy does not wait on it.
    engine
        .raw()
        .kill_container(
            &container,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    until("down again", Duration::from_secs(10), async || {
        (page(&t, &app).await.0 == 502).then_some(())
    })
    .await;
    let (st, ans) = t.deploy("3", &app, &v2).await;
    assert_eq!(st, 200, "{ans}");
    assert_eq!(page(&t, &app).await, (200, "funai-testapp v2\n".into()));
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_has_a_json_line_per_answer_in_a_file_per_app() {
    let Some(s) = services() else { return };
    let (v1, _) = images(&s).await;
    let logs = tempfile::tempdir().unwrap();
    let template = logs.path().join("apps/{appId}.log").display().to_string();
    let t = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.gateway.access_log = template
    })
    .await;
    let app = format!("l{}", rand_hex());
    assert_eq!(t.deploy("3", &app, &v1).await.0, 200);
    assert_eq!(page(&t, &app).await.0, 200);
    let (st, _) = t
        .page(&format!("/runtime/{app}/nothing?token=sekrit-query"))
        .await;
    assert_eq!(st, 404);
    let mut ws = ws_connect(&t, &app).await;
    assert_eq!(echo(&mut ws, "hello").await, "v1:hello");
    ws.close(None).await.unwrap();

    let file = logs.path().join(format!("apps/{app}.log"));
    let lines: Vec<serde_json::Value> = until(
        "three lines in the app's log",
        Duration::from_secs(20),
        async || {
            let text = std::fs::read_to_string(&file).ok()?;
            let v: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect();
            (v.len() >= 3).then_some(v)
        },
    )
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("sekrit"), "a query reached the log: {text}");
    let by_path = |p: &str| {
        lines
            .iter()
            .find(|l| l["path"] == p)
            .unwrap_or_else(|| panic!("no line for {p}: {lines:?}"))
    };
    let ok = by_path(&format!("/runtime/{app}/"));
    assert_eq!(ok["app"], app.as_str());
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["bytes"], "funai-testapp v1\n".len());
    assert_eq!(ok["peer"], "127.0.0.1");
    assert!(
        ok["ms"].as_f64().is_some() && ok["time"].as_str().is_some(),
        "{ok}"
    );
    assert_eq!(by_path(&format!("/runtime/{app}/nothing"))["status"], 404);
    let ws_line = by_path(&format!("/runtime/{app}/ws"));
    assert_eq!(ws_line["status"], 101);
    assert_eq!(ws_line["upgrade"], true);
    t.cleanup().await;
}
