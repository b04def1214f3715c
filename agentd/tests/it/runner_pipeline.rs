//! The runner against real components: sshd + git-shell, the Docker engine, the registry,
//! an agentd runtime and deployd, all on this machine.

use crate::common::*;
use protocol::job::{JobPayload, JobStatus};

fn repo_payload(app: &str, url: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some("9".into()),
        repo_ssh_url: Some(url.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repository_is_cloned_built_pushed_deployed_and_served() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let runner = start_runner(&s, &g, &d.url, "runner-e2e", |_| {}).await;

    let name = format!("app-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "first version"));
    let app = format!("e{}", rand_hex());
    let job = create_job(&c, repo_payload(&app, &url)).await;
    let (done, log) = follow_job(&c, job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{:?}\n{log}",
        done.error_message
    );
    assert!(log.contains("==> CLONE"), "{log}");
    assert!(
        log.contains("Step 1/5 : FROM scratch"),
        "build steps in the log:\n{log}"
    );
    assert!(log.contains("==> PUSH"), "{log}");
    assert!(log.contains("==> DEPLOY"), "{log}");
    let commit = done.commit_sha.clone().unwrap_or_default();
    assert_eq!(commit.len(), 40);
    let image = done.image.clone().unwrap_or_default();
    assert_eq!(
        image,
        format!("{}/funaistudio/u9-app{app}:{}", s.registry, &commit[..12])
    );
    let page = reqwest::get(done.deploy_url.clone().unwrap_or_default())
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "first version");

    // A second commit serves the new page.
    g.commit(
        &name,
        &[("www/index.html".into(), b"second version\n".to_vec())],
        "second",
    );
    let job2 = create_job(&c, repo_payload(&app, &url)).await;
    let (done2, _) = follow_job(&c, job2.id).await;
    assert_eq!(
        done2.status,
        JobStatus::Succeeded,
        "{:?}",
        done2.error_message
    );
    let page = reqwest::get(done2.deploy_url.clone().unwrap_or_default())
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(page.trim(), "second version");
    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_deploys_leave_the_newest_three_tags_with_the_running_one() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let runner = start_runner(&s, &g, &d.url, "runner-keep", |_| {}).await;
    let name = format!("keep-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "round 0"));
    let app = format!("k{}", rand_hex());
    let mut images = Vec::new();
    for round in 1..=5 {
        if round > 1 {
            g.commit(
                &name,
                &[(
                    "www/index.html".into(),
                    format!("round {round}\n").into_bytes(),
                )],
                "next",
            );
        }
        let job = create_job(&c, repo_payload(&app, &url)).await;
        let (done, log) = follow_job(&c, job.id).await;
        assert_eq!(done.status, JobStatus::Succeeded, "round {round}: {log}");
        images.push(done.image.clone().unwrap_or_default());
        if round == 5 {
            assert!(log.contains("tag retention: kept 3"), "{log}");
        }
    }
    let registry = registry::RegistryClient::new(
        &s.registry,
        Some(s.user.clone()),
        Some(protocol::Secret::new(s.password.clone())),
    )
    .unwrap();
    let repo = format!("funaistudio/u9-app{app}");
    let mut tags = registry.tags(&repo).await.unwrap();
    tags.sort();
    let mut newest: Vec<String> = images[2..]
        .iter()
        .map(|i| i.rsplit(':').next().unwrap_or_default().to_string())
        .collect();
    newest.sort();
    assert_eq!(tags, newest, "exactly the newest three remain");
    let running = rt
        .rt
        .status("9", &app)
        .await
        .unwrap()
        .image
        .unwrap_or_default();
    assert_eq!(running, images[4]);
    assert!(tags.contains(&running.rsplit(':').next().unwrap_or_default().to_string()));
    runner.stop().await;
    rt.cleanup().await;
}
