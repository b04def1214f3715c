//! agentd killed with SIGKILL: its apps keep answering; restarted, it adopts them, routes
//! them again and removes what an interrupted deploy left behind. And deployd's app stop
//! and cleanup reach the node's agentd.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use agentd::docker::{ContainerSpec, Engine};
use protocol::job::{AppRef, ClaimRequest, CreateJobRequest, JobPayload, JobStatus, ReportRequest};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn spawn_agentd(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agentd"))
        .args(["--config", config.to_str().unwrap_or_default(), "run"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn agentd")
}

async fn wait_health(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/internal/health")).await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "agentd at {url} never became healthy"
        );
        tokio::task::yield_now().await;
    }
}

async fn get_text(url: &str) -> Result<(u16, String), String> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let st = r.status().as_u16();
    Ok((st, r.text().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_agentd_leaves_apps_serving_and_adopts_them_on_restart() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let v2 = image(&s, "t-rt", "v2", App::Serves("version two")).await;
    let dir = tempfile::tempdir().unwrap();
    let node = format!("t-{}", rand_hex());
    let (api_port, gw_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let gw = format!("http://127.0.0.1:{gw_port}");
    let config = dir.path().join("agentd.toml");
    std::fs::write(
        &config,
        format!(
            r#"deploy_url = "http://127.0.0.1:9"
[runtime]
listen = "127.0.0.1:{api_port}"
node_name = "{node}"
node_token = "node-token"
runtime_token = "{RUNTIME_TOKEN}"
agent_base_url = "{api}"
gateway_base_url = "{gw}"
data_dir = "{data}"
stop_grace_seconds = 2
registry = "{reg}"
registry_username = "{user}"
registry_password = "{pw}"
[runtime.gateway]
kind = "embedded"
listen = "127.0.0.1:{gw_port}"
"#,
            data = dir.path().display(),
            reg = s.registry,
            user = s.user,
            pw = s.password
        ),
    )
    .unwrap();
    let mut child = spawn_agentd(&config);
    wait_health(&api).await;
    let http = reqwest::Client::new();
    let mut names = HashMap::new();
    for (app, img) in [("31", &v1), ("32", &v2)] {
        let r = http
            .post(format!("{api}/agent/apps/deploy"))
            .header("X-Runtime-Token", RUNTIME_TOKEN)
            .json(&deploy_req("3", app, img))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        names.insert(
            app,
            v["containerName"].as_str().unwrap_or_default().to_string(),
        );
    }
    assert_eq!(
        get_text(&format!("{gw}/runtime/31/")).await,
        Ok((200, "version one\n".into()))
    );

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        get_text(&format!("{gw}/runtime/31/")).await.is_err(),
        "the gateway died with agentd"
    );
    // The apps themselves keep answering.
    let engine = Engine::connect("").await.unwrap();
    for (app, want) in [("31", "version one\n"), ("32", "version two\n")] {
        let info = engine
            .inspect(&names[app], "funai-runtime-net")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("container of {app} gone"));
        assert!(info.running);
        let ip = info.ip.unwrap_or_default();
        assert_eq!(
            get_text(&format!("http://{ip}:3000/")).await,
            Ok((200, want.to_string())),
            "app {app}"
        );
    }
    // An interrupted redeploy of app 31 left a newer container behind.
    let leftover = format!("rt-u-3-31-{}", rand_hex());
    let mut labels = engine
        .inspect(&names["31"], "funai-runtime-net")
        .await
        .ok()
        .flatten()
        .map(|i| i.labels)
        .unwrap_or_default();
    labels.insert(
        "funai.created-ms".into(),
        (chrono::Utc::now().timestamp_millis() + 1000).to_string(),
    );
    engine
        .create_and_start(&ContainerSpec {
            name: leftover.clone(),
            image: v2.clone(),
            labels,
            network: "funai-runtime-net".into(),
            restart_policy: agentd::settings::RestartPolicy::No,
            init: true,
            ..Default::default()
        })
        .await
        .unwrap();

    let mut child = spawn_agentd(&config);
    wait_health(&api).await;
    assert_eq!(
        get_text(&format!("{gw}/runtime/31/")).await,
        Ok((200, "version one\n".into()))
    );
    assert_eq!(
        get_text(&format!("{gw}/runtime/32/")).await,
        Ok((200, "version two\n".into()))
    );
    assert!(
        engine
            .inspect(&leftover, "funai-runtime-net")
            .await
            .unwrap()
            .is_none(),
        "the leftover of the interrupted deploy was not removed"
    );
    let _ = child.kill();
    let _ = child.wait();
    for n in names.values() {
        let _ = engine.remove(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployd_app_stop_and_cleanup_reach_the_nodes_agentd() {
    let Some(s) = services() else { return };
    let tag = rand_hex();
    let img = image(&s, "t-cleanup", &tag, App::Serves("to be cleaned")).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let t = start_runtime(&s, &d.url, |r| {
        r.runtime_token = protocol::Secret::new(testkit::deployd::RUNTIME_TOKEN)
    })
    .await;
    let c = d.client();
    // The node registers itself by heartbeat; wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c
        .list_nodes()
        .await
        .map(|n| n.iter().any(|x| x.node_name == t.node))
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "no node heartbeat");
        tokio::task::yield_now().await;
    }
    let app = format!("c{tag}");
    let job = c
        .create_job(&CreateJobRequest {
            job_type: Default::default(),
            payload: JobPayload {
                app_id: app.clone(),
                user_id: Some("5".into()),
                image: Some(img.clone()),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    // A runner's part, by hand: claim, ask the chosen node to deploy, report.
    let claimed = c
        .claim(&ClaimRequest {
            runner_id: "r-test".into(),
            lease_seconds: 60,
            wait_seconds: 5,
            agent_version: None,
        })
        .await
        .unwrap()
        .expect("nothing claimed");
    assert_eq!(claimed.id, job.id);
    let node = claimed.runtime_node.clone().expect("no runtime node");
    let r = reqwest::Client::new()
        .post(format!("{}/agent/apps/deploy", node.agent_base_url))
        .header("X-Runtime-Token", testkit::deployd::RUNTIME_TOKEN)
        .json(&deploy_req("5", &app, &img))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    c.report(
        job.id,
        &ReportRequest {
            error_code: None,
            runner_id: "r-test".into(),
            status: JobStatus::Succeeded,
            error_message: None,
            image: Some(img.clone()),
            commit_sha: None,
        },
    )
    .await
    .unwrap();
    let url = claimed.deploy_url.clone().unwrap_or_default();
    assert_eq!(get_text(&url).await, Ok((200, "to be cleaned\n".into())));

    let app_ref = AppRef {
        user_id: Some("5".into()),
        app_id: app.clone(),
    };
    let stopped = c.stop_app(&app_ref).await.unwrap();
    assert_eq!(stopped["status"], "STOPPED");
    assert_eq!(
        c.app(&app)
            .await
            .map(|a| a.status.to_string())
            .ok()
            .as_deref(),
        Some("STOPPED")
    );
    assert_eq!(get_text(&url).await.map(|r| r.0), Ok(404));

    let cleaned = c.cleanup_app(&app_ref).await.unwrap();
    assert_eq!(cleaned["purge"]["deletedJobs"], 1, "{cleaned}");
    assert_eq!(cleaned["purge"]["deletedPlacements"], 1, "{cleaned}");
    assert_eq!(cleaned["imageTags"][0], img.as_str(), "{cleaned}");
    assert_eq!(cleaned["runtime"]["status"], "DELETED", "{cleaned}");
    assert!(t.container_names().await.is_empty());
    assert!(c.app(&app).await.is_err(), "the app run was purged");
    // Stopping an app deployd does not know is a 404 with the reason.
    let err = c
        .stop_app(&app_ref)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("404") && err.contains("not placed"), "{err}");
}
