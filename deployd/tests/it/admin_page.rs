//! The admin page in a real browser (headless Chromium driven over the DevTools protocol):
//! it loads, takes the admin token, lists a node, drains it, and the API shows it draining.
//! A screenshot is kept as a test artifact.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Browser {
    child: Child,
    ws: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .map(|c| c.to_string())
}

fn launch(bin: &str) -> Browser {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let stderr = child.stderr.take().expect("no stderr");
    let mut lines = BufReader::new(stderr).lines();
    let ws = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("DevTools listening on ") => {
                break l
                    .split("DevTools listening on ")
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
            }
            Some(_) => {}
            None => panic!("chromium exited before listening"),
        }
    };
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Browser {
        child,
        ws,
        _profile: profile,
    }
}

struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(Message::text(msg)).await.unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("devtools closed")
                .unwrap();
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap_or_default();
                if v["id"].as_u64() == Some(id) {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        r["result"]["value"].clone()
    }

    async fn wait_for(&mut self, expr: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval(expr).await != json!(true) {
            let err = self.eval("document.getElementById('error') ? document.getElementById('error').textContent : ''").await;
            assert!(
                Instant::now() < deadline,
                "the page never showed {what} (error shown: {err})"
            );
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_lists_a_node_and_drains_it() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "chromium is required under CI (apt install chromium)"
        );
        eprintln!("SKIPPED: no chromium");
        return;
    };
    let d = testkit::deployd::start().await;
    let c = d.client();
    c.node_heartbeat(&protocol::node::NodeHeartbeat {
        node_name: "rt-01".into(),
        agent_base_url: "http://127.0.0.1:9".into(),
        gateway_base_url: "http://127.0.0.1:9".into(),
        disk_free_pct: 42.5,
        disk_free_bytes: 50 << 30,
        container_count: 3,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    })
    .await
    .unwrap();
    c.create_job(&protocol::job::CreateJobRequest {
        job_type: Default::default(),
        payload: protocol::job::JobPayload {
            app_id: "20002".into(),
            user_id: Some("1".into()),
            image: Some("127.0.0.1:5000/funaistudio/u1-app20002:abc".into()),
            ..Default::default()
        },
    })
    .await
    .unwrap();

    let browser = launch(&bin);
    let http_base = browser
        .ws
        .split("/devtools/")
        .next()
        .unwrap_or_default()
        .replace("ws://", "http://");
    let targets: Value = reqwest::get(format!("{http_base}/json/list"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default();
    let page_ws = targets
        .as_array()
        .and_then(|a| a.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .unwrap_or_else(|| panic!("no page target: {targets}"))
        .to_string();
    let (ws, _) = tokio_tungstenite::connect_async(page_ws.as_str())
        .await
        .unwrap();
    let mut page = Page { ws, next: 0 };
    page.call("Page.enable", json!({})).await;
    page.call(
        "Page.navigate",
        json!({ "url": format!("{}/admin/", d.url) }),
    )
    .await;
    page.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('signin')",
        "the sign-in form",
    )
    .await;
    // Nothing is shown before the token is typed in.
    assert_eq!(
        page.eval("document.getElementById('main').hidden").await,
        json!(true)
    );

    page.eval(&format!(
        "document.getElementById('token').value = '{}'; document.getElementById('signin').requestSubmit(); true",
        testkit::deployd::ADMIN_TOKEN
    ))
    .await;
    page.wait_for(
        "!!document.querySelector('#nodes tr[data-node=\"rt-01\"]')",
        "node rt-01",
    )
    .await;
    let row = page
        .eval("document.querySelector('#nodes tr[data-node=\"rt-01\"]').textContent")
        .await;
    let row = row.as_str().unwrap_or_default().to_string();
    assert!(row.contains("HEALTHY") && row.contains("42.5%"), "{row}");
    page.wait_for("!!document.querySelector('#jobs tr[data-job]')", "the job")
        .await;
    // The token lives in this tab's session storage only.
    assert_eq!(
        page.eval(&format!(
            "sessionStorage.getItem('funai.adminToken') === '{}' && localStorage.length === 0 && document.cookie === ''",
            testkit::deployd::ADMIN_TOKEN
        ))
        .await,
        json!(true)
    );

    page.eval("document.getElementById('drain-rt-01').click(); true")
        .await;
    page.wait_for(
        "!!document.getElementById('undrain-rt-01')",
        "the drained node",
    )
    .await;
    let nodes = c.list_nodes().await.unwrap();
    assert_eq!(nodes[0].status.as_str(), "DRAINING");

    let shot = page
        .call("Page.captureScreenshot", json!({ "format": "png" }))
        .await;
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap_or_default())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {}", out.display());
}
