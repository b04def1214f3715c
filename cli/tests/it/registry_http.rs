//! `functl registry prune` and `functl doctor` against a registry that speaks plain HTTP on
//! port 80 at a private address (the estate's Harbor), in a network namespace of the test's
//! own: prune takes the repositories from deployd's app records (no catalog, which Harbor
//! refuses to robot accounts), talks plain HTTP to the registry when told so or when the
//! local engine lists it as insecure, and doctor names a push refused on 443 as a registry
//! the engine treats as https.

use std::process::Stdio;
use std::time::{Duration, Instant};

use protocol::client::DeployClient;
use protocol::job::{ClaimRequest, CreateJobRequest, JobPayload, JobStatus, ReportRequest};
use protocol::node::NodeHeartbeat;
use testkit::agentd::*;
use testkit::deployd::TestDeployd;
use testkit::netns_registry::NetnsRegistry;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// functl with deployd's secrets and `env`; `DOCKER_HOST` names no engine unless `env`
/// gives one, so that the machine's engine never decides what the registry speaks.
async fn functl(d: &TestDeployd, env: &[(&str, &str)], args: &[&str]) -> Run {
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("FUNCTL_DEPLOY_URL", &d.url)
        .env("FUNCTL_DEPLOY_SECRET", testkit::deployd::DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn day(d: u32) -> String {
    format!("2026-01-{d:02}T10:00:00Z")
}

/// deployd records that `app` of user 3 runs `image`: a job for it, claimed and reported
/// done through the runner protocol.
async fn record_run(c: &DeployClient, app: &str, image: &str) {
    c.create_job(&CreateJobRequest {
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
    c.node_heartbeat(&NodeHeartbeat {
        node_name: "rt-plain".into(),
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
        .claim(&ClaimRequest {
            runner_id: "r-plain".into(),
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
            runner_id: "r-plain".into(),
            status: JobStatus::Succeeded,
            error_message: None,
            image: Some(image.into()),
            commit_sha: None,
        },
    )
    .await
    .unwrap();
}

/// Three apps of user 3 with tags t1..t5 each (built on days 1..5), app 0 rolled back to
/// t1; beside them a repository no app record names, and one in another namespace.
async fn estate(reg: &NetnsRegistry, c: &DeployClient) -> (Vec<String>, String, String) {
    let run = rand_hex();
    let apps: Vec<String> = (0..3).map(|i| format!("rh{run}{i}")).collect();
    let tags = ["t1", "t2", "t3", "t4", "t5"];
    for app in &apps {
        let repo = format!("funaistudio/u3-app{app}");
        for (i, tag) in tags.iter().enumerate() {
            reg.push_image(&repo, &day(i as u32 + 1), &[tag]).await;
        }
        let running = if app.ends_with('0') { "t1" } else { "t5" };
        record_run(c, app, &format!("{}/{repo}:{running}", reg.addr)).await;
    }
    let orphan = format!("funaistudio/u3-apporphan{run}");
    let other = format!("other{run}/u3-app{}", apps[0]);
    for repo in [&orphan, &other] {
        for (i, tag) in tags.iter().enumerate() {
            reg.push_image(repo, &day(i as u32 + 1), &[tag]).await;
        }
    }
    (apps, orphan, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_all_takes_the_apps_from_deployd_and_talks_plain_http_to_a_private_registry() {
    let test = "prune_all_takes_the_apps_from_deployd_and_talks_plain_http_to_a_private_registry";
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let (apps, orphan, other) = estate(&reg, &c).await;
    let creds = [
        ("FUNCTL_REGISTRY", reg.addr.as_str()),
        ("FUNCTL_REGISTRY_USERNAME", reg.user.as_str()),
        ("FUNCTL_REGISTRY_PASSWORD", reg.password.as_str()),
    ];
    let mut env = creds.to_vec();
    env.push(("FUNCTL_REGISTRY_INSECURE", "true"));

    // Without being told, a bare private address is https: refused on 443, and said so.
    let https = functl(&d, &creds, &["registry", "prune", "--all", "--dry-run"]).await;
    assert_eq!(https.code, 1, "{}", https.both());
    assert!(
        https.stdout.contains(&format!("https://{}/v2/", reg.addr))
            && https.stdout.contains("mark it insecure"),
        "{}",
        https.both()
    );

    let dry = functl(&d, &env, &["registry", "prune", "--all", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.both());
    assert!(
        dry.stderr.contains(&format!(
            "note: plain HTTP to http://{}: registry_insecure is set",
            reg.addr
        )),
        "{}",
        dry.stderr
    );
    // Two tags go from each app, one from app 0 whose running t1 stays; the repository no
    // app record names is not among them.
    assert!(
        dry.stdout.contains("3 repositories, 5 tag(s) to delete"),
        "{}",
        dry.both()
    );
    assert!(!dry.stdout.contains(&orphan), "{}", dry.stdout);
    assert!(dry.stdout.contains("dry run: nothing deleted"));

    // The flag says the same as the setting.
    let flag = functl(
        &d,
        &creds,
        &[
            "registry",
            "prune",
            "--app",
            &apps[1],
            "--registry-insecure",
            "--dry-run",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(flag.code, 0, "{}", flag.both());
    let plan: serde_json::Value = serde_json::from_str(&flag.stdout).unwrap();
    assert_eq!(
        plan["repositories"][0]["delete"],
        serde_json::json!(["t2", "t1"]),
        "{plan}"
    );

    let done = functl(&d, &env, &["registry", "prune", "--all", "--yes"]).await;
    assert_eq!(done.code, 0, "{}", done.both());
    assert!(
        done.stdout.contains("deleted 5 tag(s); 0 failed"),
        "{}",
        done.both()
    );
    for app in &apps {
        let tags = reg.tags(&format!("funaistudio/u3-app{app}")).await;
        if app.ends_with('0') {
            assert_eq!(tags, ["t1", "t3", "t4", "t5"], "the running t1 stays");
        } else {
            assert_eq!(tags, ["t3", "t4", "t5"], "app {app}");
        }
    }
    assert_eq!(reg.tags(&orphan).await.len(), 5, "{orphan} was touched");
    assert_eq!(reg.tags(&other).await.len(), 5, "{other} was touched");

    // The registry's catalog, only when asked: it also holds the repository of no app.
    let catalog = functl(
        &d,
        &env,
        &["registry", "prune", "--all", "--from-catalog", "--dry-run"],
    )
    .await;
    assert_eq!(catalog.code, 0, "{}", catalog.both());
    assert!(
        catalog.stdout.contains(&orphan)
            && catalog
                .stdout
                .contains("4 repositories, 2 tag(s) to delete"),
        "{}",
        catalog.both()
    );
    assert!(!catalog.stdout.contains(&other), "{}", catalog.stdout);

    // An app deployd has no image of: said so, with the way to the catalog.
    let unknown = functl(
        &d,
        &env,
        &["registry", "prune", "--app", "nosuchapp", "--dry-run"],
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.both());
    assert!(
        unknown
            .stderr
            .contains("deployd records no image of app nosuchapp")
            && unknown.stderr.contains("--from-catalog"),
        "{}",
        unknown.stderr
    );
    for r in [&https, &dry, &done, &catalog, &unknown] {
        assert!(!r.both().contains(&reg.password), "the password leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_takes_plain_http_from_the_local_engines_insecure_registries() {
    let test = "prune_takes_plain_http_from_the_local_engines_insecure_registries";
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    // An engine that lists the registry's whole /24 (the CIDR form of insecure-registries).
    let cidr = format!(
        "{}.0/24",
        reg.addr.rsplit_once('.').map(|x| x.0).unwrap_or_default()
    );
    let Some(engine) = reg.engine(test, &[&cidr]).await else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let (apps, _, _) = estate(&reg, &c).await;
    let env = [
        ("FUNCTL_REGISTRY", reg.addr.as_str()),
        ("FUNCTL_REGISTRY_USERNAME", reg.user.as_str()),
        ("FUNCTL_REGISTRY_PASSWORD", reg.password.as_str()),
        ("DOCKER_HOST", engine.host.as_str()),
    ];
    let run = functl(&d, &env, &["registry", "prune", "--app", &apps[2], "--yes"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "note: plain HTTP to http://{}: {} lies in {cidr}, one of the engine's insecure-registries",
            reg.addr, reg.addr
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("deleted 2 tag(s); 0 failed"),
        "{}",
        run.both()
    );
    assert_eq!(
        reg.tags(&format!("funaistudio/u3-app{}", apps[2])).await,
        ["t3", "t4", "t5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn doctor_names_a_push_refused_on_443_as_a_registry_the_engine_treats_as_https() {
    let test = "doctor_names_a_push_refused_on_443_as_a_registry_the_engine_treats_as_https";
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let Some(reg) = NetnsRegistry::start(test).await else {
        return;
    };
    let d = testkit::deployd::start_with(|s| s.nodes.disk_free_min_pct = 1.0).await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let app = format!("rh{}", rand_hex());
    let url = g.create_repo(&app, &app_files(&s.busybox, "doctor"));
    // The machine's engine does not list the registry: the push tries HTTPS on 443.
    let (addr, user, password) = (reg.addr.clone(), reg.user.clone(), reg.password.clone());
    let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), |r| {
        r.registry = addr;
        r.registry_username = user;
        r.registry_password = protocol::Secret::new(password);
    })
    .await;
    let job = c
        .create_job(&CreateJobRequest {
            job_type: Default::default(),
            payload: JobPayload {
                app_id: app.clone(),
                user_id: Some("3".into()),
                repo_ssh_url: Some(url),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let j = c.get_job(job.id).await.unwrap();
        if j.status.is_terminal() {
            break j;
        }
        assert!(Instant::now() < deadline, "job {} did not finish", job.id);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    runner.stop().await;
    assert_eq!(done.status, JobStatus::Failed, "{done:?}");
    assert_eq!(done.error_code.as_deref(), Some("REGISTRY_INSECURE"));

    // What the operator reads: the job's error, then doctor on the job.
    let show = functl(&d, &[], &["jobs", "show", &job.id.to_string()]).await;
    assert!(
        show.stdout.contains(&format!(
            "the engine treats {} as https: add it to insecure-registries",
            reg.addr
        )),
        "{}",
        show.both()
    );
    let run = functl(
        &d,
        &[],
        &["doctor", "--job", &job.id.to_string(), "-o", "json"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.both());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let finding = doc["findings"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["check"] == "registry-push" && f["status"] == "fail")
        })
        .unwrap_or_else(|| panic!("no failed registry-push finding: {doc:#}"))
        .clone();
    let finding_text = finding["finding"].as_str().unwrap_or_default();
    let fix = finding["fix"].as_str().unwrap_or_default();
    assert!(
        finding_text.contains(&format!(
            "the registry speaks plain HTTP and the runner host's container engine treats {} as https",
            reg.addr
        )) && finding_text.contains(&format!(
            "from here: http://{}/v2/ answers 401 (https://{}/v2/: cannot connect",
            reg.addr, reg.addr
        )),
        "{finding_text}"
    );
    assert!(
        fix.contains(&format!(
            "on the runner host, the engine treats {} as https: add it to insecure-registries",
            reg.addr
        )) && fix.contains("/etc/docker/daemon.json")
            && fix.contains("systemctl restart docker"),
        "{fix}"
    );
    assert!(!run.both().contains(&reg.password), "the password leaked");
    rt.cleanup().await;
}
