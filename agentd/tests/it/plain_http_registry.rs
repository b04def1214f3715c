//! A registry that speaks plain HTTP on port 80 at a private address (the estate's Harbor),
//! in a network namespace of the test's own: the runner's tag retention talks plain HTTP to
//! it when the engine lists it as insecure, and a push or pull by an engine that does not
//! list it (so it tries HTTPS on 443 and is refused) fails as REGISTRY_INSECURE with what
//! to do.

use std::time::Duration;

use crate::common::*;
use protocol::failure::FailureCode;
use protocol::job::{JobPayload, JobStatus};
use testkit::netns_registry::NetnsRegistry;

fn payload(app: &str, url: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some("4".into()),
        repo_ssh_url: Some(url.into()),
        ..Default::default()
    }
}

fn day(d: u32) -> String {
    format!("2026-01-{d:02}T10:00:00Z")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_talks_plain_http_to_a_registry_the_engine_lists_as_insecure() {
    let test = "retention_talks_plain_http_to_a_registry_the_engine_lists_as_insecure";
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    // The runner and the runtime node as an operator sets them up for this registry:
    // their engine lists it in insecure-registries, and nothing else says it is plain HTTP.
    let Some(engine) = reg.engine(test, &[&reg.addr]).await else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let (host, addr) = (engine.host.clone(), reg.addr.clone());
    let (user, password) = (reg.user.clone(), reg.password.clone());
    let rt = start_runtime(&s, &d.url, |r| {
        r.docker_host = host.clone();
        r.registry = addr.clone();
        r.registry_username = user.clone();
        r.registry_password = protocol::Secret::new(password.clone());
        r.health_timeout_seconds = 30;
    })
    .await;
    wait_for_node(&c, &rt.node).await;

    let app = format!("ph{}", rand_hex());
    let repo = format!("funaistudio/u4-app{app}");
    // Four older builds already in the registry, built on four days of January.
    for (i, tag) in ["old1", "old2", "old3", "old4"].iter().enumerate() {
        reg.push_image(&repo, &day(i as u32 + 1), &[tag]).await;
    }
    let url = g.create_repo(&app, &app_files(&s.busybox, "plain http"));
    let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), |r| {
        r.docker_host = host.clone();
        r.registry = addr.clone();
        r.registry_username = user.clone();
        r.registry_password = protocol::Secret::new(password.clone());
        r.registry_insecure = false;
        r.keep_tags = 3;
    })
    .await;
    let job = create_job(&c, payload(&app, &url)).await;
    let (done, log) = follow_job(&c, job.id).await;
    runner.stop().await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{:?}\n{log}\n{}",
        done.error_message,
        engine.log()
    );
    let image = done.image.clone().unwrap_or_default();
    let built = image.rsplit(':').next().unwrap_or_default().to_string();
    assert!(
        image.starts_with(&format!("{}/{repo}:", reg.addr)),
        "{image}"
    );
    assert!(
        log.contains(&format!(
            "tag retention talks plain HTTP to http://{}: the engine's insecure-registries lists {}",
            reg.addr, reg.addr
        )),
        "{log}"
    );
    assert!(
        log.contains("tag retention: kept 3") && log.contains("deleted 2 (old2, old1)"),
        "{log}"
    );
    let mut want = vec!["old3".to_string(), "old4".to_string(), built];
    want.sort();
    assert_eq!(reg.tags(&repo).await, want, "{log}");

    // The app runs from the image the runtime node pulled over plain HTTP.
    let (status, page) = rt.page(&format!("/runtime/{app}/")).await;
    assert_eq!((status, page.trim()), (200, "plain http"));
    let own = engine.connect().await;
    for cont in own
        .list_by_label(&format!("funai.node={}", rt.node), "funai-runtime-net")
        .await
        .unwrap_or_default()
    {
        let _ = own.remove(&cont.name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_refused_on_443_names_the_registry_the_engine_treats_as_https() {
    let test = "a_push_refused_on_443_names_the_registry_the_engine_treats_as_https";
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let app = format!("ph{}", rand_hex());
    let url = g.create_repo(&app, &app_files(&s.busybox, "never pushed"));
    // The machine's engine does not list the registry: it tries https://ADDR/v2/ on 443.
    // runner.registry_insecure is set, as an operator might think enough.
    let (addr, user, password) = (reg.addr.clone(), reg.user.clone(), reg.password.clone());
    let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), |r| {
        r.registry = addr;
        r.registry_username = user;
        r.registry_password = protocol::Secret::new(password);
        r.registry_insecure = true;
    })
    .await;
    let job = create_job(&c, payload(&app, &url)).await;
    let (done, log) = follow_job(&c, job.id).await;
    runner.stop().await;
    assert_eq!(done.status, JobStatus::Failed, "{log}");
    assert_eq!(
        done.error_code.as_deref(),
        Some(FailureCode::RegistryInsecure.as_str()),
        "{:?}",
        done.error_message
    );
    let err = done.error_message.unwrap_or_default();
    for needle in [
        "PUSH failed: the engine treats ".to_string(),
        format!("{} as https: add it to insecure-registries", reg.addr),
        "/etc/docker/daemon.json".to_string(),
        "systemctl restart docker".to_string(),
        format!("registry {} answers plain HTTP on port 80", reg.addr),
        "tried HTTPS on 443 and was refused".to_string(),
        "runner.registry_insecure = true is set, but it reaches only the runner's tag retention"
            .to_string(),
        format!("dial tcp {}:443", reg.addr),
    ] {
        assert!(err.contains(&needle), "{needle:?} not in the error:\n{err}");
    }
    assert!(!err.contains(&reg.password), "{err}");
    assert!(
        log.contains(err.lines().next().unwrap_or_default()),
        "{log}"
    );
    assert!(
        reg.tags(&format!("funaistudio/u4-app{app}"))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_refused_on_443_names_the_registry_the_engine_treats_as_https() {
    let test = "a_pull_refused_on_443_names_the_registry_the_engine_treats_as_https";
    let Some(s) = services() else {
        return;
    };
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    let repo = format!("funaistudio/u4-appph{}", rand_hex());
    reg.push_image(&repo, &day(3), &["v1"]).await;
    let (addr, user, password) = (reg.addr.clone(), reg.user.clone(), reg.password.clone());
    let rt = start_runtime(&s, "http://127.0.0.1:9", |r| {
        r.registry = addr;
        r.registry_username = user;
        r.registry_password = protocol::Secret::new(password);
    })
    .await;
    let image = format!("{}/{repo}:v1", reg.addr);
    let (status, body) =
        tokio::time::timeout(Duration::from_secs(60), rt.deploy("4", "pullfails", &image))
            .await
            .unwrap_or_else(|_| panic!("the deploy did not answer"));
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "REGISTRY_INSECURE", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    for needle in [
        format!(
            "the engine treats {} as https: add it to insecure-registries",
            reg.addr
        ),
        "/etc/docker/daemon.json".to_string(),
        format!("registry {} answers plain HTTP on port 80", reg.addr),
        format!("cannot pull image {image}"),
    ] {
        assert!(
            detail.contains(&needle),
            "{needle:?} not in the answer:\n{detail}"
        );
    }
    assert!(rt.container_names().await.is_empty());
}
