//! A deploy outlives its caller: a caller that stops waiting (the estate's runner gives up
//! after 30 s) neither stops it nor leaves a half state; the same deploy asked again waits
//! for it and gets its answer; a failure nobody waits for is in agentd's log.

use std::future::Future;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use agentd::docker::Engine;

/// The app listens only 5 s after it starts.
const SERVES_AFTER_5S: &str = "/bin/busybox sleep 5; exec /bin/busybox httpd -f -p 3000 -h /www";
/// The app exits 5 s after it starts, saying why.
const EXITS_AFTER_5S: &str = "/bin/busybox sleep 5; echo the-app-gives-up; exit 3";

/// A caller that gives up after 2 s; answers how its call ended.
async fn impatient_deploy(api: &str, body: &serde_json::Value) -> reqwest::Error {
    let r = reqwest::Client::new()
        .post(format!("{api}/agent/apps/deploy"))
        .header("X-Runtime-Token", RUNTIME_TOKEN)
        .json(body)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    match r {
        Ok(r) => panic!("the deploy answered within 2 s: {}", r.status()),
        Err(e) => e,
    }
}

/// Asks `check` every 200 ms until it holds, for up to `limit`; fails with its last word.
async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        match check().await {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "not so within {limit:?}: {last}"),
        }
    }
}

fn body(req: protocol::agent::DeployAppRequest) -> serde_json::Value {
    serde_json::to_value(req).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_whose_caller_gives_up_finishes_and_serves_alone() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-handoff", "v1", App::Serves("version one")).await;
    let slow = script_image(&s, "t-handoff", "slow", "slow version", SERVES_AFTER_5S).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let app = format!("h{}", rand_hex());
    let (st, ans) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");

    let e = impatient_deploy(&t.api, &body(deploy_req("1", &app, &slow))).await;
    assert!(e.is_timeout(), "the caller gave up by its timeout: {e}");

    let (t, app, slow) = (&t, &app, &slow);
    eventually(Duration::from_secs(60), move || async move {
        let (st, page) = t.page(&format!("/runtime/{app}/")).await;
        if page.trim() != "slow version" {
            return Err(format!("the gateway answers {st} {page:?}"));
        }
        let (_, status) = t
            .get(&format!("/agent/apps/status?userId=1&appId={app}"))
            .await;
        if status["image"] != slow.as_str() || status["running"] != true {
            return Err(format!("status {status}"));
        }
        let names = t.container_names().await;
        if names.len() != 1 || status["containerName"] != names[0].as_str() {
            return Err(format!("containers {names:?}, status {status}"));
        }
        Ok(())
    })
    .await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_deploy_asked_again_waits_for_it_and_another_is_refused() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-handoff", "v1", App::Serves("version one")).await;
    let slow = script_image(&s, "t-handoff", "slow", "slow version", SERVES_AFTER_5S).await;
    let t = Arc::new(start_runtime(&s, "http://127.0.0.1:9", |_| {}).await);
    let app = format!("j{}", rand_hex());
    let first = {
        let (t, app, slow) = (t.clone(), app.clone(), slow.clone());
        tokio::spawn(async move { t.deploy("1", &app, &slow).await })
    };
    // In flight once its container exists; the app listens 5 s later.
    let tr = &t;
    eventually(Duration::from_secs(30), move || async move {
        match tr.container_names().await.len() {
            0 => Err("no container yet".to_string()),
            _ => Ok(()),
        }
    })
    .await;

    let (st, refused) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 409, "{refused}");
    assert_eq!(refused["code"], "DEPLOY_IN_FLIGHT", "{refused}");

    // The same deploy as another caller words it: numbers, a trailing slash, an empty env,
    // no job id.
    let (st, again) = t
        .post(
            "/agent/apps/deploy",
            &serde_json::json!({
                "userId": 1,
                "appId": app,
                "image": slow,
                "containerPort": 3000,
                "basePath": format!("/runtime/{app}/"),
                "env": {},
            }),
        )
        .await;
    assert_eq!(st, 200, "the same deploy waits, it is not refused: {again}");
    let (st, first) = first.await.unwrap();
    assert_eq!(st, 200, "{first}");
    assert_eq!(again, first, "both callers get the one deploy's answer");
    assert_eq!(
        t.container_names().await,
        vec![
            first["containerName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        ]
    );
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await.1.trim(),
        "slow version"
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_failing_deploy_asked_again_gets_the_same_error() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-handoff", "v1", App::Serves("version one")).await;
    let exits = script_image(&s, "t-handoff", "exits", "-", EXITS_AFTER_5S).await;
    let t = Arc::new(start_runtime(&s, "http://127.0.0.1:9", |_| {}).await);
    let app = format!("k{}", rand_hex());
    let (st, ans) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");
    let first = {
        let (t, app, exits) = (t.clone(), app.clone(), exits.clone());
        tokio::spawn(async move { t.deploy("1", &app, &exits).await })
    };
    let tr = &t;
    eventually(Duration::from_secs(30), move || async move {
        match tr.container_names().await.len() {
            2 => Ok(()),
            n => Err(format!("{n} containers, the new one not yet started")),
        }
    })
    .await;

    let (st, again) = t.deploy("1", &app, &exits).await;
    let (st1, first) = first.await.unwrap();
    assert_eq!(
        (st1, &first["code"]),
        (502, &"CONTAINER_EXITED".into()),
        "{first}"
    );
    assert_eq!(
        (st, &again),
        (st1, &first),
        "both callers get the one deploy's error"
    );
    assert!(
        first["detail"]
            .as_str()
            .is_some_and(|d| d.contains("the-app-gives-up")),
        "{first}"
    );
    assert_eq!(
        t.page(&format!("/runtime/{app}/")).await.1.trim(),
        "version one"
    );
    assert_eq!(
        t.container_names().await,
        vec![
            ans["containerName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        ]
    );
    t.cleanup().await;
}

/// The agentd binary with the runtime role, its log lines (JSON) kept as they come.
struct Agentd {
    child: Child,
    api: String,
    gateway: String,
    node: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Agentd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agentd {
    async fn start(s: &Services) -> Agentd {
        let dir = tempfile::tempdir().unwrap();
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap()
        };
        let (api, gw) = (port(), port());
        let node = format!("t-{}", rand_hex());
        let cfg = dir.path().join("agentd.toml");
        std::fs::write(
            &cfg,
            format!(
                "deploy_url = \"http://127.0.0.1:9\"\nlog_format = \"json\"\n[runtime]\n\
                 listen = \"127.0.0.1:{api}\"\nnode_name = \"{node}\"\nnode_token = \"n-tok\"\n\
                 runtime_token = \"{RUNTIME_TOKEN}\"\ndata_dir = \"{}\"\nregistry = \"{}\"\n\
                 registry_username = \"{}\"\nregistry_password = \"{}\"\n\
                 health_timeout_seconds = 20\ndrain_timeout_seconds = 10\nstop_grace_seconds = 2\n\
                 agent_base_url = \"http://127.0.0.1:{api}\"\ngateway_base_url = \"http://127.0.0.1:{gw}\"\n\
                 [runtime.gateway]\nlisten = \"127.0.0.1:{gw}\"\n",
                dir.path().display(),
                s.registry,
                s.user,
                s.password,
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentd"))
            .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let agentd = Agentd {
            child,
            api: format!("http://127.0.0.1:{api}"),
            gateway: format!("http://127.0.0.1:{gw}"),
            node,
            log,
            _dir: dir,
        };
        let (health, logged) = (
            format!("{}/internal/health", agentd.api),
            agentd.log.clone(),
        );
        let (health, logged) = (&health, &logged);
        eventually(Duration::from_secs(30), move || async move {
            match reqwest::get(health).await {
                Ok(r) if r.status() == 200 => Ok(()),
                other => Err(format!(
                    "agentd does not answer ({other:?}); its log:\n{}",
                    logged.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
                )),
            }
        })
        .await;
        agentd
    }

    async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.api))
            .header("X-Runtime-Token", RUNTIME_TOKEN)
            .json(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    /// The log lines at `level` whose fields name `app`.
    fn lines_of(&self, level: &str, app: &str) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["level"] == level && l["fields"]["app"] == app)
            .collect()
    }

    async fn container_names(&self) -> Vec<String> {
        let engine = Engine::connect("").await.unwrap();
        engine
            .list_by_label(&format!("funai.node={}", self.node), "funai-runtime-net")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    }

    async fn cleanup(&self) {
        let engine = Engine::connect("").await.unwrap();
        for c in self.container_names().await {
            let _ = engine.remove(&c).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_failing_after_its_caller_left_rolls_back_and_says_why_in_the_log() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-handoff", "v1", App::Serves("version one")).await;
    let exits = script_image(&s, "t-handoff", "exits", "-", EXITS_AFTER_5S).await;
    let a = Agentd::start(&s).await;
    let app = format!("m{}", rand_hex());
    let (st, ans) = a
        .post("/agent/apps/deploy", &body(deploy_req("1", &app, &v1)))
        .await;
    assert_eq!(st, 200, "{ans}");

    let e = impatient_deploy(&a.api, &body(deploy_req("1", &app, &exits))).await;
    assert!(e.is_timeout(), "the caller gave up by its timeout: {e}");

    let (ar, appr) = (&a, &app);
    let warned = eventually(Duration::from_secs(60), move || async move {
        ar.lines_of("WARN", appr)
            .into_iter()
            .find(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("deploy failed"))
            })
            .ok_or_else(|| {
                format!(
                    "no warn line of the failure yet; agentd's log:\n{}",
                    ar.log.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
                )
            })
    })
    .await;
    assert_eq!(
        warned["message"], "deploy failed after its caller left",
        "{warned}"
    );
    let f = &warned["fields"];
    assert_eq!(
        (&f["user"], &f["image"], &f["code"]),
        (
            &"1".into(),
            &exits.as_str().into(),
            &"CONTAINER_EXITED".into()
        ),
        "{warned}"
    );
    let reason = f["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited") && reason.contains("the-app-gives-up"),
        "{warned}"
    );

    // Rolled back: the first version serves, routed, alone.
    let page = reqwest::get(format!("{}/runtime/{app}/", a.gateway))
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "version one");
    assert_eq!(
        a.container_names().await,
        vec![
            ans["containerName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        ],
        "no container of the failed deploy is left"
    );
    a.cleanup().await;
}
