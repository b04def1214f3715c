//! Each failure an operator meets is provoked once, and the job's error names the phase
//! and the cause in words that say what to do.

use std::time::{Duration, Instant};

use crate::common::*;
use protocol::failure::FailureCode;
use protocol::job::{JobPayload, JobStatus};

fn payload(app: &str, url: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some("4".into()),
        repo_ssh_url: Some(url.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_failure_names_its_phase_and_cause() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let plain = std::env::var("FUNAI_TEST_PLAIN_REGISTRY").ok();
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |r| r.health_timeout_seconds = 3).await;
    wait_for_node(&c, &rt.node).await;
    let name = format!("fail-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "fails"));
    let broken = format!("broken-{}", rand_hex());
    let mut files = app_files(&s.busybox, "never");
    files[0].1 = b"FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo about-to-fail; exit 7\"]\nCMD [\"/bin/busybox\"]\n".to_vec();
    let broken_url = g.create_repo(&broken, &files);

    type Tweak = Box<dyn FnOnce(&mut agentd::settings::RunnerSettings)>;
    let wrong_known_hosts = g.wrong_known_hosts.display().to_string();
    let stranger_key = g.stranger_key.display().to_string();
    let mut cases: Vec<(&str, Tweak, JobPayload, Vec<&str>, FailureCode)> = vec![
        (
            "host key mismatch",
            Box::new(move |r| r.git_known_hosts = wrong_known_hosts),
            payload("f1", &url),
            vec!["CLONE failed", "host key mismatch", "[127.0.0.1]:2222"],
            FailureCode::GitHostKey,
        ),
        (
            "deploy key refused",
            Box::new(move |r| r.git_ssh_key = stranger_key),
            payload("f2", &url),
            vec!["CLONE failed", "refused the deploy key"],
            FailureCode::GitAuth,
        ),
        (
            "repository path not on the Git server",
            Box::new(|_| {}),
            payload("f9", &format!("{}/no-such-repo-{}.git", g.url, rand_hex())),
            vec![
                "CLONE failed",
                "does not exist on the Git server",
                "repoSshUrl",
            ],
            FailureCode::GitRepoNotFound,
        ),
        (
            "ref not found",
            Box::new(|_| {}),
            JobPayload {
                git_ref: Some("no-such-branch".into()),
                ..payload("f3", &url)
            },
            vec![
                "CLONE failed",
                "ref no-such-branch not found",
                "branches: main",
            ],
            FailureCode::GitRefNotFound,
        ),
        (
            "Dockerfile missing",
            Box::new(|_| {}),
            JobPayload {
                dockerfile_path: Some("docker/Dockerfile".into()),
                ..payload("f4", &url)
            },
            vec![
                "BUILD failed",
                "Dockerfile \"docker/Dockerfile\" is missing",
            ],
            FailureCode::BuildContext,
        ),
        (
            "build step failed",
            Box::new(|_| {}),
            payload("f5", &broken_url),
            vec![
                "BUILD failed",
                "build step 3/4",
                "about-to-fail",
                "non-zero code: 7",
            ],
            FailureCode::BuildFailed,
        ),
        (
            "registry refused the credentials",
            Box::new(|r| r.registry_password = protocol::Secret::new("wrong-password")),
            payload("f6", &url),
            vec!["PUSH failed", "refused the credentials of user \"funai\""],
            FailureCode::RegistryAuth,
        ),
        (
            "app never healthy",
            Box::new(|_| {}),
            JobPayload {
                container_port: Some(4000),
                ..payload("f8", &url)
            },
            vec!["DEPLOY failed", "never became healthy on port 4000"],
            FailureCode::PortNotListening,
        ),
    ];
    match &plain {
        Some(p) => {
            let p = p.clone();
            cases.push((
                "plain-HTTP registry",
                Box::new(move |r| {
                    r.registry = p;
                    r.registry_username = String::new();
                }),
                payload("f7", &url),
                vec!["PUSH failed", "speaks plain HTTP", "insecure-registries"],
                FailureCode::RegistryInsecure,
            ));
            // Plain HTTP on port 80 (the estate's Harbor): the engine tries HTTPS on 443,
            // is refused, and the runner finds the registry answering plain HTTP on 80.
            let p80 = std::env::var("FUNAI_TEST_PLAIN_REGISTRY_80")
                .unwrap_or_else(|_| panic!("FUNAI_TEST_PLAIN_REGISTRY_80 missing"));
            cases.push((
                "plain-HTTP registry on port 80",
                Box::new(move |r| {
                    r.registry = p80;
                    r.registry_username = String::new();
                }),
                payload("f10", &url),
                vec![
                    "PUSH failed",
                    "answers plain HTTP on port 80",
                    "tried HTTPS on 443",
                    "insecure-registries",
                ],
                FailureCode::RegistryInsecure,
            ))
        }
        None => assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "FUNAI_TEST_PLAIN_REGISTRY missing under CI"
        ),
    }
    for (what, tweak, p, needles, code) in cases {
        let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), tweak).await;
        let job = create_job(&c, p).await;
        let (done, log) = follow_job(&c, job.id).await;
        runner.stop().await;
        assert_eq!(done.status, JobStatus::Failed, "{what}: {log}");
        assert_eq!(
            done.error_code.as_deref(),
            Some(code.as_str()),
            "{what}: {:?}",
            done.error_message
        );
        let err = done.error_message.clone().unwrap_or_default();
        for n in needles {
            assert!(err.contains(n), "{what}: {n:?} not in the error:\n{err}");
        }
        assert!(
            log.contains(&err.lines().next().unwrap_or_default().to_string()),
            "{what}: the log ends with the cause:\n{log}"
        );
        assert!(
            !err.contains("wrong-password") && !log.contains(&s.password),
            "{what}: a secret leaked"
        );
    }
    // The old version keeps serving: nothing was deployed by any failed job.
    assert!(
        rt.container_names().await.is_empty(),
        "{:?}",
        rt.container_names().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_or_a_commit_is_deployed_and_cancel_stops_a_build() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let runner = start_runner(&s, &g, &d.url, "r-refs", |r| r.lease_seconds = 3).await;
    let name = format!("refs-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "tagged one"));
    g.tag(&name, "v1.0.0");
    let first = g.commit(&name, &[], "empty");
    g.commit(
        &name,
        &[("www/index.html".into(), b"head of main\n".to_vec())],
        "later",
    );
    let app = format!("r{}", rand_hex());

    let job = create_job(
        &c,
        JobPayload {
            git_ref: Some("v1.0.0".into()),
            ..payload(&app, &url)
        },
    )
    .await;
    let (done, log) = follow_job(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{log}");
    let page = reqwest::get(done.deploy_url.clone().unwrap_or_default())
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap_or_default().trim(), "tagged one");

    let job = create_job(
        &c,
        JobPayload {
            git_ref: Some(first.clone()),
            ..payload(&app, &url)
        },
    )
    .await;
    let (done, log) = follow_job(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{log}");
    assert_eq!(done.commit_sha.as_deref(), Some(first.as_str()));

    // A slow build is cancelled by an operator; the runner stops and reports CANCELLED.
    let slow = format!("slow-{}", rand_hex());
    let mut files = app_files(&s.busybox, "slow");
    files[0].1 = b"FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"30\"]\nCMD [\"/bin/busybox\"]\n".to_vec();
    let slow_url = g.create_repo(&slow, &files);
    let job = create_job(&c, payload(&format!("s{}", rand_hex()), &slow_url)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = c.get_job(job.id).await.unwrap();
        if j.phase.as_deref() == Some("BUILD") {
            break;
        }
        assert!(Instant::now() < deadline, "never reached BUILD: {j:?}");
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    c.cancel_job(job.id).await.unwrap();
    let (done, log) = follow_job(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancel took {:?}",
        started.elapsed()
    );
    assert!(
        done.error_message
            .unwrap_or_default()
            .contains("cancelled during BUILD")
    );
    runner.stop().await;
    rt.cleanup().await;
}

/// Forwards a Unix socket of the test's to the real Docker engine, until aborted; then the
/// socket is gone, as an engine that stopped after agentd started.
fn engine_proxy(path: &std::path::Path) -> tokio::task::JoinHandle<()> {
    let listener =
        tokio::net::UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {path:?}: {e}"));
    tokio::spawn(async move {
        // Dropped with this task when it is aborted: every forwarded connection ends too.
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            conns.spawn(async move {
                if let Ok(mut engine) =
                    tokio::net::UnixStream::connect("/var/run/docker.sock").await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_that_stops_answering_after_start_is_named() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    let proxy = engine_proxy(&sock);
    let host = format!("unix://{}", sock.display());
    let rt = start_runtime(&s, &d.url, |r| r.docker_host = host).await;
    wait_for_node(&c, &rt.node).await;
    // agentd started through the engine; now the engine goes away.
    proxy.abort();
    let _ = proxy.await;
    std::fs::remove_file(&sock).unwrap();
    let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), |_| {}).await;
    let job = create_job(
        &c,
        JobPayload {
            app_id: format!("e{}", rand_hex()),
            user_id: Some("4".into()),
            image: Some(format!("{}/funaistudio/absent:1", s.registry)),
            ..Default::default()
        },
    )
    .await;
    let (done, log) = follow_job(&c, job.id).await;
    runner.stop().await;
    assert_eq!(done.status, JobStatus::Failed, "{log}");
    assert_eq!(
        done.error_code.as_deref(),
        Some(FailureCode::EngineUnreachable.as_str()),
        "{:?}",
        done.error_message
    );
    let err = done.error_message.unwrap_or_default();
    assert!(
        err.contains("DEPLOY failed") && err.contains("the container engine does not answer"),
        "{err}"
    );
}
