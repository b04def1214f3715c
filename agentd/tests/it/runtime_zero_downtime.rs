//! Redeploys under load lose no request; a second deploy of the same app in flight is
//! refused; Mongo settings are injected only when configured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::*;
use agentd::docker::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redeploy_under_load_loses_no_request() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let v2 = image(&s, "t-rt", "v2", App::Serves("version two")).await;
    let t = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let app = format!("z{}", rand_hex());
    let (st, ans) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 200, "{ans}");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let url = format!("{}/runtime/{app}/", t.gateway);
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (stop, ok, failures, url) = (stop.clone(), ok.clone(), failures.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            // Bounded: stops when told, or after 200 000 requests at most.
            for _ in 0..200_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match http.get(&url).timeout(Duration::from_secs(30)).send().await {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        if st == 200 && (body == "version one\n" || body == "version two\n") {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("{st} {body:?}"));
                        }
                    }
                    Err(e) => failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(e.to_string()),
                }
            }
        }));
    }
    let mut served_before = 0;
    for i in 0..10 {
        // Every round runs while requests flow.
        while ok.load(Ordering::Relaxed) <= served_before {
            tokio::task::yield_now().await;
        }
        let img = if i % 2 == 0 { &v2 } else { &v1 };
        let (st, ans) = t.deploy("1", &app, img).await;
        assert_eq!(st, 200, "redeploy {i}: {ans}");
        let want = if i % 2 == 0 {
            "version two"
        } else {
            "version one"
        };
        assert_eq!(
            t.page(&format!("/runtime/{app}/")).await.1.trim(),
            want,
            "after redeploy {i}"
        );
        served_before = ok.load(Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let failures = failures.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let served = ok.load(Ordering::Relaxed);
    eprintln!(
        "redeploys under load: {served} requests served, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed of {}: {:?}",
        failures.len(),
        served,
        &failures[..failures.len().min(5)]
    );
    assert!(served > 100, "too few requests to prove anything: {served}");
    assert_eq!(
        t.container_names().await.len(),
        1,
        "old containers are removed"
    );
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_deploy_of_the_same_app_in_flight_gets_409() {
    let Some(s) = services() else { return };
    let silent = image(&s, "t-rt", "silent", App::Silent).await;
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let t =
        Arc::new(start_runtime(&s, "http://127.0.0.1:9", |r| r.health_timeout_seconds = 30).await);
    let app = format!("f{}", rand_hex());
    let first = {
        let (t, app, silent) = (t.clone(), app.clone(), silent.clone());
        tokio::spawn(async move { t.deploy("1", &app, &silent).await })
    };
    // The first deploy is in flight once its container exists.
    while t.container_names().await.is_empty() {
        tokio::task::yield_now().await;
    }
    let (st, ans) = t.deploy("1", &app, &v1).await;
    assert_eq!(st, 409, "{ans}");
    assert!(
        ans["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already in flight")
    );
    // Another app is not blocked.
    let (st, _) = t.deploy("1", &format!("{app}x"), &v1).await;
    assert_eq!(st, 200);
    first.abort();
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_settings_are_injected_only_when_configured() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let engine = Engine::connect("").await.unwrap();
    let env_of = |name: String| {
        let engine = engine.clone();
        async move {
            engine
                .raw()
                .inspect_container(
                    &name,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .ok()
                .and_then(|c| c.config)
                .and_then(|c| c.env)
                .unwrap_or_default()
        }
    };
    let with = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.mongo = Some(agentd::settings::MongoSettings {
            url: protocol::Secret::new("mongodb://app:pw@127.0.0.1:27017"),
            options: "authSource=admin".into(),
        })
    })
    .await;
    let (st, ans) = with.deploy("42", "7001", &v1).await;
    assert_eq!(st, 200, "{ans}");
    let env = env_of(
        ans["containerName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
    .await;
    let uri = "mongodb://app:pw@127.0.0.1:27017/db_u42_a7001?authSource=admin";
    assert!(env.contains(&format!("MONGODB_URI={uri}")), "{env:?}");
    assert!(env.contains(&format!("MONGO_URL={uri}")), "{env:?}");
    assert!(
        env.contains(&"FUNAI_MONGO_DB_NAME=db_u42_a7001".to_string()),
        "{env:?}"
    );
    with.cleanup().await;

    let without = start_runtime(&s, "http://127.0.0.1:9", |_| {}).await;
    let (st, ans) = without.deploy("42", "7002", &v1).await;
    assert_eq!(st, 200, "{ans}");
    let env = env_of(
        ans["containerName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
    .await;
    assert!(
        !env.iter()
            .any(|e| e.starts_with("MONGO") || e.starts_with("FUNAI_MONGO")),
        "{env:?}"
    );
    without.cleanup().await;
}
