//! `functl doctor` names the cause of each of the estate's usual failures, each provoked
//! once with the real components: a real deployd in-process (its clock moved forward instead
//! of sleeping), real runner and runtime agents, the registry and the Git server of
//! scripts/services.sh.

use std::process::Stdio;
use std::time::{Duration, Instant};

use protocol::client::DeployClient;
use protocol::job::{ClaimRequest, CreateJobRequest, Job, JobPayload};
use protocol::node::NodeHeartbeat;
use testkit::agentd::*;
use testkit::deployd::TestDeployd;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn functl(d: &TestDeployd, args: &[&str]) -> Run {
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("FUNCTL_DEPLOY_URL", &d.url)
        .env("FUNCTL_DEPLOY_SECRET", testkit::deployd::DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
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

/// `functl doctor ARGS -o json`: the exit code and the findings.
async fn doctor(d: &TestDeployd, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    let run = functl(d, &all).await;
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor {args:?}: not JSON ({e}):\n{}\n{}",
            run.stdout, run.stderr
        )
    });
    (
        run.code,
        doc["findings"].as_array().cloned().unwrap_or_default(),
    )
}

/// The finding of `check` that failed, with its text; panics with every finding otherwise.
fn failed<'a>(findings: &'a [serde_json::Value], check: &str) -> &'a serde_json::Value {
    findings
        .iter()
        .find(|f| f["check"] == check && f["status"] == "fail")
        .unwrap_or_else(|| panic!("no failed {check} finding in {findings:#?}"))
}

fn text(f: &serde_json::Value) -> String {
    format!(
        "{} | {}",
        f["finding"].as_str().unwrap_or_default(),
        f["fix"].as_str().unwrap_or_default()
    )
}

fn hb(name: &str, agent: &str, pct: f64) -> NodeHeartbeat {
    NodeHeartbeat {
        node_name: name.into(),
        agent_base_url: agent.into(),
        gateway_base_url: "http://127.0.0.1".into(),
        disk_free_pct: pct,
        disk_free_bytes: 10 * 1024 * 1024 * 1024,
        container_count: 0,
        checks: None,
        agent_version: None,
        apps: None,
        engine: None,
    }
}

async fn create(c: &DeployClient, payload: JobPayload) -> Job {
    c.create_job(&CreateJobRequest {
        job_type: Default::default(),
        payload,
    })
    .await
    .expect("create job")
}

fn image_payload(app: &str, image: &str) -> JobPayload {
    JobPayload {
        app_id: app.into(),
        user_id: Some("7".into()),
        image: Some(image.into()),
        ..Default::default()
    }
}

async fn claim(c: &DeployClient, runner: &str) -> Option<Job> {
    c.claim(&ClaimRequest {
        runner_id: runner.into(),
        lease_seconds: 30,
        wait_seconds: 0,
        agent_version: None,
    })
    .await
    .expect("claim")
}

async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = l.local_addr().map(|a| a.port()).unwrap_or(1);
    drop(l);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_why_a_job_waits_a_lease_lapses_and_a_node_fails() {
    // The sweeper stays away: a lapsed lease stays visible until the doctor has seen it.
    let d = testkit::deployd::start_with(|s| s.jobs.sweep_interval_ms = 3_600_000).await;
    let c = d.client();
    let job = create(&c, image_payload("a1", "127.0.0.1:5000/funaistudio/a1:1")).await;
    let id = job.id.to_string();

    // No runner has ever claimed.
    let (code, f) = doctor(&d, &["--job", &id]).await;
    assert_eq!(code, 1);
    assert!(
        text(failed(&f, "job-pending")).contains("no runner has ever claimed"),
        "{f:#?}"
    );

    // A runner claims, but no node can take the job: none, then one below the disk threshold.
    assert!(claim(&c, "r-1").await.is_none());
    let (_, f) = doctor(&d, &["--job", &id]).await;
    assert!(
        text(failed(&f, "job-pending")).contains("no runtime node has ever sent a heartbeat"),
        "{f:#?}"
    );
    c.node_heartbeat(&hb("rt-full", &d.url, 5.0)).await.unwrap();
    assert!(claim(&c, "r-1").await.is_none());
    let (_, f) = doctor(&d, &["--job", &id]).await;
    let t = text(failed(&f, "job-pending"));
    assert!(t.contains("no runtime node can take it"), "{t}");
    assert!(t.contains("rt-full has 5.0% disk free, below 15%"), "{t}");
    let (code, f) = doctor(&d, &["--node", "rt-full"]).await;
    assert_eq!(code, 1);
    let t = text(failed(&f, "node-disk"));
    assert!(
        t.contains("below the 15% threshold") && t.contains("prune"),
        "{t}"
    );

    // Every runner stale (the clock moves past runner_stale_seconds).
    d.state.clock.advance(Duration::from_secs(120));
    let (_, f) = doctor(&d, &["--job", &id]).await;
    let t = text(failed(&f, "job-pending"));
    assert!(
        t.contains("every runner is stale") && t.contains("r-1 last seen 2m ago"),
        "{t}"
    );

    // A healthy node takes the job; its runner then stops heartbeating: the lease lapses.
    c.node_heartbeat(&hb("rt-ok", &d.url, 60.0)).await.unwrap();
    let running = claim(&c, "r-2").await.expect("the job was not claimed");
    assert_eq!(running.id, job.id);
    let (code, f) = doctor(&d, &["--job", &id]).await;
    assert_eq!(code, 0, "{f:#?}");
    assert!(
        f.iter()
            .any(|x| x["check"] == "job-lease" && x["status"] == "ok"),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|x| x["check"] == "node-agent" && x["status"] == "ok" && x["subject"] == "rt-ok"),
        "{f:#?}"
    );
    d.state.clock.advance(Duration::from_secs(25));
    let (code, f) = doctor(&d, &["--job", &id]).await;
    assert_eq!(code, 0);
    assert!(
        f.iter()
            .any(|x| x["check"] == "job-lease" && x["status"] == "warn"),
        "{f:#?}"
    );
    d.state.clock.advance(Duration::from_secs(15));
    let (code, f) = doctor(&d, &["--job", &id]).await;
    assert_eq!(code, 1);
    let t = text(failed(&f, "job-lease"));
    assert!(
        t.contains("lease lapsed 10s ago")
            && t.contains("runner r-2")
            && t.contains("stopped heartbeating"),
        "{t}"
    );

    // The node holding the app's placement goes stale.
    d.state.clock.advance(Duration::from_secs(60));
    let (code, f) = doctor(&d, &["--node", "rt-ok"]).await;
    assert_eq!(code, 1);
    let t = text(failed(&f, "node-stale"));
    assert!(
        t.contains("STALE")
            && t.contains("holds 1 placement")
            && t.contains("drain rt-ok --migrate"),
        "{t}"
    );

    // A node that heartbeats but whose agent nobody can reach.
    let port = closed_port().await;
    c.node_heartbeat(&hb("rt-gone", &format!("http://127.0.0.1:{port}"), 60.0))
        .await
        .unwrap();
    let (code, f) = doctor(&d, &["--node", "rt-gone"]).await;
    assert_eq!(code, 1);
    // Its agent is of before engine reports: said, and not a fault.
    let old = f
        .iter()
        .find(|x| x["check"] == "node-engine")
        .unwrap_or_else(|| panic!("no node-engine finding in {f:#?}"));
    assert_eq!(old["status"], "ok");
    assert!(
        text(old).contains("did not name its container engine"),
        "{old}"
    );
    let t = text(failed(&f, "node-agent"));
    assert!(
        t.contains("heartbeats")
            && t.contains("unreachable from here")
            && t.contains("agent_base_url"),
        "{t}"
    );

    // The estate at once: the table for people names the same causes.
    let run = functl(&d, &["doctor"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let header: Vec<&str> = run
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["CHECK", "STATUS", "FINDING", "FIX"]);
    for needle in [
        "node-stale rt-ok",
        "node-agent rt-gone",
        "node-disk rt-full",
        "job-lease",
    ] {
        assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("failed"), "{}", run.stderr);
    // Secrets never show.
    assert!(!run.stdout.contains(testkit::deployd::ADMIN_TOKEN));

    let unknown = functl(&d, &["doctor", "--node", "nope"]).await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no runtime node nope"),
        "{}",
        unknown.stderr
    );
    let usage = functl(&d, &["doctor", "--job", "1", "--node", "x"]).await;
    assert_eq!(usage.code, 2);
}

async fn finish(c: &DeployClient, id: i64) -> Job {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let j = c.get_job(id).await.unwrap();
        if j.status.is_terminal() {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} never finished: {j:?}");
        // Waits on the log's long-poll: no sleep.
        let _ = c.read_log(id, j.log_length, 2).await;
    }
}

async fn wait_node(c: &DeployClient, node: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let nodes = c.list_nodes().await.unwrap_or_default();
        if nodes.iter().any(|n| n.node_name == node && !n.stale) {
            return;
        }
        assert!(Instant::now() < deadline, "node {node} never heartbeated");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn doctor_names_the_cause_of_refused_git_registry_and_container_ports() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let plain = std::env::var("FUNAI_TEST_PLAIN_REGISTRY")
        .ok()
        .filter(|v| !v.is_empty());
    if plain.is_none() {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "FUNAI_TEST_PLAIN_REGISTRY missing under CI"
        );
    }
    // The build machine's own disk may sit below the estate's 15%: placement must not
    // depend on it here.
    let d = testkit::deployd::start_with(|s| s.nodes.disk_free_min_pct = 1.0).await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |r| r.health_timeout_seconds = 3).await;
    wait_node(&c, &rt.node).await;
    let repo = g.create_repo(
        &format!("doc-{}", rand_hex()),
        &app_files(&s.busybox, "doctor"),
    );
    let page = image(
        &s,
        &format!("doc-{}", rand_hex()),
        "1",
        App::Serves("doctor"),
    )
    .await;
    let closed = closed_port().await;
    let known_hosts = g.known_hosts.display().to_string();

    type Tweak = Box<dyn FnOnce(&mut agentd::settings::RunnerSettings)>;
    let git = |app: &str, url: &str| JobPayload {
        app_id: app.into(),
        user_id: Some("7".into()),
        repo_ssh_url: Some(url.into()),
        ..Default::default()
    };
    let wrong_known_hosts = g.wrong_known_hosts.display().to_string();
    let stranger = g.stranger_key.display().to_string();
    // (what, runner tweak, payload, check, needles in the finding and fix)
    let mut cases: Vec<(&str, Tweak, JobPayload, &str, Vec<String>)> = vec![
        (
            "host key mismatch",
            Box::new(move |r| r.git_known_hosts = wrong_known_hosts),
            git("d1", &repo),
            "git-clone",
            vec![
                "host key is not the one in the runner's known_hosts".into(),
                // The probe from here, with the right known_hosts, sees the real key.
                "from here: port 2222 open".into(),
                "host key ok".into(),
                "git_known_hosts".into(),
            ],
        ),
        (
            "deploy key refused",
            Box::new(move |r| r.git_ssh_key = stranger),
            git("d2", &repo),
            "git-clone",
            vec![
                "refused the runner's deploy key".into(),
                "deploy keys".into(),
            ],
        ),
        (
            "Git port closed",
            Box::new(|_| {}),
            git(
                "d3",
                &format!("ssh://git@127.0.0.1:{closed}/srv/repos/none.git"),
            ),
            "git-clone",
            vec![
                "cannot reach the Git server's SSH port".into(),
                format!("port {closed} closed"),
                "runner→git 2222".into(),
            ],
        ),
        (
            "push credentials",
            Box::new(|r| r.registry_password = protocol::Secret::new("wrong-password")),
            git("d4", &repo),
            "registry-push",
            vec![
                "refused the runner's credentials".into(),
                "registry_username".into(),
            ],
        ),
        (
            "pull credentials",
            Box::new(|_| {}),
            // The same registry under another name: the runtime sends no credentials to it.
            image_payload("d5", &page.replacen("127.0.0.1", "localhost", 1)),
            "registry-pull",
            vec![
                "refused the runtime node's credentials".into(),
                "runtime.registry".into(),
            ],
        ),
        (
            "container port",
            Box::new(|_| {}),
            JobPayload {
                container_port: Some(4000),
                ..image_payload("d6", &page)
            },
            "container-port",
            vec![
                "does not listen on its container port 4000".into(),
                "containerPort".into(),
            ],
        ),
    ];
    if let Some(p) = &plain {
        let reg = p.clone();
        cases.push((
            "push to a plain-HTTP registry",
            Box::new(move |r| {
                r.registry = reg;
                r.registry_username = String::new();
            }),
            git("d7", &repo),
            "registry-push",
            vec![
                "speaks plain HTTP".into(),
                format!("add \"{p}\" to insecure-registries"),
                "runner host".into(),
                format!("from here: http://{p}/v2/ answers 200"),
            ],
        ));
        cases.push((
            "pull from a plain-HTTP registry",
            Box::new(|_| {}),
            image_payload("d8", &format!("{p}/funaistudio/nothing:1")),
            "registry-pull",
            vec![
                "speaks plain HTTP".into(),
                format!("add \"{p}\" to insecure-registries"),
                "runtime node".into(),
            ],
        ));
    }
    for (what, tweak, payload, check, needles) in cases {
        let runner = start_runner(&s, &g, &d.url, &format!("r-{}", rand_hex()), tweak).await;
        let job = create(&c, payload).await;
        let done = finish(&c, job.id).await;
        runner.stop().await;
        assert_eq!(
            done.status,
            protocol::job::JobStatus::Failed,
            "{what}: {done:?}"
        );
        let id = job.id.to_string();
        let (code, f) = doctor(&d, &["--job", &id, "--known-hosts", &known_hosts]).await;
        assert_eq!(code, 1, "{what}: {f:#?}");
        let t = text(failed(&f, check));
        for n in &needles {
            assert!(
                t.contains(n.as_str()),
                "{what}: {n:?} not in:\n{t}\n(error: {:?})",
                done.error_message
            );
        }
        assert!(
            !t.contains("wrong-password") && !t.contains(&s.password),
            "{what}: a secret leaked"
        );
    }
    // The node itself is fine: heartbeats, its agent answers from here, and it names the
    // engine it runs on, as the engine itself tells it.
    let (code, f) = doctor(&d, &["--node", &rt.node]).await;
    assert_eq!(code, 0, "{f:#?}");
    assert!(f.iter().all(|x| x["status"] == "ok"), "{f:#?}");
    let v = bollard::Docker::connect_with_defaults()
        .unwrap()
        .version()
        .await
        .unwrap();
    let engine = f
        .iter()
        .find(|x| x["check"] == "node-engine")
        .map(text)
        .unwrap_or_else(|| panic!("no node-engine finding in {f:#?}"));
    let want = format!(
        "node {} runs its apps on docker {} (API ",
        rt.node,
        v.version.unwrap_or_default()
    );
    assert!(engine.contains(&want), "{want:?} not in {engine}");
    let listed = functl(&d, &["nodes", "list"]).await;
    assert!(
        listed.stdout.contains("ENGINE") && listed.stdout.contains(" docker "),
        "{}",
        listed.stdout
    );
    rt.cleanup().await;
}
