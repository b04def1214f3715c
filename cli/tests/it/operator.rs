//! Operator commands against real components: rollback returns the previous page; drain
//! --migrate moves two apps between two runtime agentds on one engine with no failed
//! request, neither from clients that look the app up nor through either node's gateway as
//! the entry; registry prune keeps the newest tags and never a running one.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use protocol::client::DeployClient;
use protocol::job::{CreateJobRequest, Job, JobPayload, JobStatus, ReportRequest};
use testkit::agentd::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn functl(
    d: &testkit::deployd::TestDeployd,
    extra_env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("FUNCTL_DEPLOY_URL", &d.url)
        .env("FUNCTL_DEPLOY_SECRET", testkit::deployd::DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), out)
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn wait_nodes(c: &DeployClient, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.list_nodes().await.map(|x| x.len()).unwrap_or(0) < n {
        assert!(Instant::now() < deadline, "nodes never heartbeated");
        tokio::task::yield_now().await;
    }
}

async fn deploy_and_wait(c: &DeployClient, app: &str, image: &str) -> Job {
    let job = c
        .create_job(&CreateJobRequest {
            job_type: Default::default(),
            payload: JobPayload {
                app_id: app.into(),
                user_id: Some("3".into()),
                image: Some(image.into()),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let chunk = c.read_log(job.id, 0, 10).await.unwrap();
        let j = c.get_job(job.id).await.unwrap();
        if j.status.is_terminal() {
            assert_eq!(
                j.status,
                JobStatus::Succeeded,
                "{:?}: {}",
                j.error_message,
                chunk.content
            );
            return j;
        }
        assert!(Instant::now() < deadline, "job {} never ended", job.id);
    }
}

async fn page(url: &str) -> String {
    reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .text()
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_returns_the_previous_page() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let v2 = image(&s, "t-rt", "v2", App::Serves("version two")).await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_nodes(&c, 1).await;
    let g = GitServer {
        url: String::new(),
        repos: Default::default(),
        key: Default::default(),
        stranger_key: Default::default(),
        known_hosts: Default::default(),
        wrong_known_hosts: Default::default(),
    };
    let runner = start_runner(&s, &g, &d.url, "r-rollback", |_| {}).await;
    let app = format!("rb{}", rand_hex());
    deploy_and_wait(&c, &app, &v1).await;
    let j2 = deploy_and_wait(&c, &app, &v2).await;
    let url = j2.deploy_url.clone().unwrap_or_default();
    assert_eq!(page(&url).await.trim(), "version two");

    let run = functl(&d, &[], &["rollback", "--app", &app]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("deploys {v1} (was {v2})")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("deployed: "), "{}", run.stdout);
    assert_eq!(page(&url).await.trim(), "version one");
    // And forward again by tag.
    let run = functl(&d, &[], &["rollback", "--app", &app, "--to", "v2"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(page(&url).await.trim(), "version two");
    let run = functl(&d, &[], &["rollback", "--app", &app, "--to", "v9"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("never ran v9"), "{}", run.stderr);
    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drain_migrate_moves_two_apps_with_no_failed_request() {
    let Some(s) = services() else { return };
    let a_img = image(&s, "t-rt", "twelve", App::Serves("app twelve")).await;
    let b_img = image(
        &s,
        "t-rt",
        "one-two-three",
        App::Serves("app one-two-three"),
    )
    .await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let node_a = start_runtime(&s, &d.url, |_| {}).await;
    wait_nodes(&c, 1).await;
    let g = GitServer {
        url: String::new(),
        repos: Default::default(),
        key: Default::default(),
        stranger_key: Default::default(),
        known_hosts: Default::default(),
        wrong_known_hosts: Default::default(),
    };
    let runner = start_runner(&s, &g, &d.url, "r-drain", |_| {}).await;
    let apps = [format!("m1{}", rand_hex()), format!("m2{}", rand_hex())];
    deploy_and_wait(&c, &apps[0], &a_img).await;
    deploy_and_wait(&c, &apps[1], &b_img).await;
    let node_b = start_runtime(&s, &d.url, |_| {}).await;
    wait_nodes(&c, 2).await;

    // Clients look each app up in deployd before every request, as the API entry does; and
    // others call one fixed entry, each node's gateway, which passes on to the node that
    // holds the app.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(std::sync::Mutex::new(Vec::<String>::new())),
    );
    let mut clients = Vec::new();
    let mut callers = Vec::new();
    for (app, want) in [
        (apps[0].clone(), "app twelve"),
        (apps[1].clone(), "app one-two-three"),
    ] {
        callers.push((app.clone(), want, None));
        for entry in [&node_a.gateway, &node_b.gateway] {
            callers.push((app.clone(), want, Some(format!("{entry}/runtime/{app}/"))));
        }
    }
    for (app, want, entry) in callers {
        let (stop, ok, failed, c) = (stop.clone(), ok.clone(), failed.clone(), c.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let url = match (&entry, c.app(&app).await) {
                    (Some(url), _) => url.clone(),
                    (None, Ok(run)) => run.deploy_url.unwrap_or_default(),
                    (None, Err(e)) => {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("lookup: {e}"));
                        continue;
                    }
                };
                match http.get(&url).timeout(Duration::from_secs(10)).send().await {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let body = r.text().await.unwrap_or_default();
                        if body.trim() == want {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("{url}: {body:?}"));
                        }
                    }
                    Ok(r) => failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("{url}: {}", r.status())),
                    Err(e) => failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("{url}: {e}")),
                }
            }
        }));
    }
    while ok.load(Ordering::Relaxed) < 20 {
        tokio::task::yield_now().await;
    }
    let run = functl(
        &d,
        &[],
        &[
            "nodes",
            "drain",
            &node_a.node,
            "--migrate",
            "--grace",
            "1",
            "--yes",
        ],
    )
    .await;
    let served_during = ok.load(Ordering::Relaxed);
    let forwarded = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("agentd_gateway_forwarded_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let passed_by_a = forwarded(&node_a.rt.render_metrics().await);
    // Keep the clients going a little on the new node: the drained node's gateway, an
    // entry, now passes every request on (its route table read again when it missed, well
    // within one heartbeat interval).
    let target = served_during + 60;
    while ok.load(Ordering::Relaxed) < target {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        forwarded(&node_a.rt.render_metrics().await) > passed_by_a,
        "the drained node's gateway passed nothing on to the new one"
    );
    assert!(
        run.stdout.contains("2 app(s) moved, 0 not"),
        "{}",
        run.stdout
    );
    let failed = failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    eprintln!(
        "drain --migrate: {} requests served, {} failed",
        ok.load(Ordering::Relaxed),
        failed.len()
    );
    assert!(failed.is_empty(), "{:?}", &failed[..failed.len().min(5)]);
    for app in &apps {
        let run = c.app(app).await.unwrap();
        assert_eq!(run.node_name.as_deref(), Some(node_b.node.as_str()));
        assert!(
            run.deploy_url
                .unwrap_or_default()
                .starts_with(&node_b.gateway)
        );
        let on_a = node_a.rt.status("3", app).await.unwrap();
        assert!(
            on_a.stopped && !on_a.running,
            "{app} still runs on the drained node"
        );
    }
    let nodes = c.list_nodes().await.unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n.node_name == node_a.node && n.status.as_str() == "DRAINING")
    );
    runner.stop().await;
    node_a.cleanup().await;
    node_b.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_keeps_three_tags_per_app_and_never_the_running_one() {
    let Some(s) = services() else { return };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let run_id = rand_hex();
    let ns = format!("prune{run_id}");
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    let auth = auth(&s);
    // Five distinct images (distinct `created`), pushed as t1..t5 to twenty app repositories.
    let mut built = Vec::new();
    for v in 1..=5 {
        built.push(
            image(
                &s,
                &format!("{ns}-src"),
                &format!("t{v}"),
                App::Serves(&format!("v{v} {run_id}")),
            )
            .await,
        );
    }
    let apps: Vec<String> = (0..20).map(|i| format!("{i}")).collect();
    for app in &apps {
        for (v, src) in built.iter().enumerate() {
            let repo = format!("{}/{ns}/u3-app{app}", s.registry);
            let tag = format!("t{}", v + 1);
            engine
                .raw()
                .tag_image(
                    src,
                    Some(bollard::query_parameters::TagImageOptions {
                        repo: Some(repo.clone()),
                        tag: Some(tag.clone()),
                    }),
                )
                .await
                .unwrap();
            engine
                .push(&format!("{repo}:{tag}"), Some(&auth), |_| {})
                .await
                .unwrap();
        }
    }
    // deployd says what runs: t5 everywhere, except app 0 which was rolled back to t1.
    for app in &apps {
        let tag = if app == "0" { "t1" } else { "t5" };
        let img = format!("{}/{ns}/u3-app{app}:{tag}", s.registry);
        let job = c
            .create_job(&CreateJobRequest {
                job_type: Default::default(),
                payload: JobPayload {
                    app_id: format!("{ns}{app}"),
                    user_id: Some(format!("u{app}")),
                    image: Some(img.clone()),
                    ..Default::default()
                },
            })
            .await
            .unwrap();
        c.node_heartbeat(&protocol::node::NodeHeartbeat {
            node_name: "rt-prune".into(),
            agent_base_url: "http://127.0.0.1:9".into(),
            gateway_base_url: "http://127.0.0.1:9".into(),
            disk_free_pct: 50.0,
            disk_free_bytes: 1 << 40,
            container_count: 0,
            checks: None,
            agent_version: None,
            apps: None,
            engine: None,
        })
        .await
        .unwrap();
        let claimed = c
            .claim(&protocol::job::ClaimRequest {
                runner_id: "r-fake".into(),
                lease_seconds: 30,
                wait_seconds: 0,
                agent_version: None,
            })
            .await
            .unwrap()
            .expect("nothing claimed");
        c.report(
            claimed.id,
            &ReportRequest {
                error_code: None,
                runner_id: "r-fake".into(),
                status: JobStatus::Succeeded,
                error_message: None,
                image: Some(img),
                commit_sha: None,
            },
        )
        .await
        .unwrap();
        let _ = job;
    }
    let env = [
        ("FUNCTL_REGISTRY", s.registry.as_str()),
        ("FUNCTL_REGISTRY_USERNAME", s.user.as_str()),
        ("FUNCTL_REGISTRY_PASSWORD", s.password.as_str()),
        ("FUNCTL_REGISTRY_NAMESPACE", ns.as_str()),
    ];
    let registry = registry::RegistryClient::new(
        &s.registry,
        Some(s.user.clone()),
        Some(protocol::Secret::new(s.password.clone())),
    )
    .unwrap();
    let tags_of = |app: String| {
        let registry = registry.clone();
        let repo = format!("{ns}/u3-app{app}");
        async move {
            let mut t = registry.tags(&repo).await.unwrap();
            t.sort();
            t
        }
    };

    let dry = functl(&d, &env, &["registry", "prune", "--all", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    assert!(
        dry.stdout.contains("20 repositories, 39 tag(s) to delete"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("dry run: nothing deleted"));
    assert_eq!(
        tags_of("7".into()).await.len(),
        5,
        "--dry-run deleted something"
    );

    let refused = functl(&d, &env, &["registry", "prune", "--all"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("pass --yes"));
    assert_eq!(tags_of("7".into()).await.len(), 5);

    let started = Instant::now();
    let done = functl(
        &d,
        &env,
        &["registry", "prune", "--all", "--keep", "3", "--yes"],
    )
    .await;
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    eprintln!("prune of 20 apps x 5 tags: {:?}", started.elapsed());
    assert!(
        done.stdout.contains("deleted 39 tag(s); 0 failed"),
        "{}",
        done.stdout
    );
    assert!(
        done.stderr.contains("garbage collection"),
        "{}",
        done.stderr
    );
    for app in &apps {
        let tags = tags_of(app.clone()).await;
        if app == "0" {
            assert_eq!(
                tags,
                vec!["t1", "t3", "t4", "t5"],
                "the running t1 stays beside the newest three"
            );
        } else {
            assert_eq!(tags, vec!["t3", "t4", "t5"], "app {app}");
        }
    }
}
