//! Faults on the real components: a runner killed mid-push, agentd killed mid-deploy, the
//! registry stopped during a push, the Git server stopped before a clone, a node's disk
//! crossing the threshold, a node that stops heartbeating.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use protocol::client::DeployClient;
use protocol::job::{CreateJobRequest, Job, JobPayload, JobStatus};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn agentd(config: &std::path::Path) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_agentd"))
            .args(["--config", config.to_str().unwrap_or_default(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn create(c: &DeployClient, p: JobPayload) -> Job {
    c.create_job(&CreateJobRequest {
        job_type: Default::default(),
        payload: p,
    })
    .await
    .unwrap()
}

async fn until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::task::yield_now().await;
    }
}

async fn terminal(c: &DeployClient, id: i64) -> Job {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let chunk = c.read_log(id, 0, 10).await.unwrap();
        if chunk.status.is_terminal() {
            return c.get_job(id).await.unwrap();
        }
        assert!(Instant::now() < deadline, "job {id} never ended");
    }
}

async fn phase_is(c: &DeployClient, id: i64, phase: &str) -> bool {
    c.get_job(id)
        .await
        .map(|j| j.phase.as_deref() == Some(phase))
        .unwrap_or(false)
}

/// An app whose image has a large random layer, so that its push takes a moment.
fn heavy_app(s: &Services) -> Vec<(String, Vec<u8>)> {
    let mut files = app_files(&s.busybox, "heavy");
    files[0].1 = b"FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nRUN [\"/bin/busybox\", \"dd\", \"if=/dev/urandom\", \"of=/blob\", \"bs=1M\", \"count=96\"]\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"3000\", \"-h\", \"/www\"]\n".to_vec();
    files
}

fn runner_config(
    dir: &std::path::Path,
    d: &str,
    s: &Services,
    g: &GitServer,
    id: &str,
    registry: &str,
) -> std::path::PathBuf {
    let p = dir.join(format!("{id}.toml"));
    std::fs::write(
        &p,
        format!(
            "deploy_url = \"{d}\"\n[runner]\nrunner_id = \"{id}\"\nrunner_token = \"{}\"\nruntime_token = \"{RUNTIME_TOKEN}\"\nworkdir = \"{}/{id}\"\ngit_ssh_key = \"{}\"\ngit_known_hosts = \"{}\"\nregistry = \"{registry}\"\nregistry_username = \"{}\"\nregistry_password = \"{}\"\nlease_seconds = 3\nclaim_wait_seconds = 5\n",
            testkit::deployd::RUNNER_TOKEN,
            dir.display(),
            g.key.display(),
            g.known_hosts.display(),
            if registry == s.registry { s.user.as_str() } else { "" },
            if registry == s.registry { s.password.as_str() } else { "" },
        ),
    )
    .unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_killed_mid_push_loses_the_job_to_another() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let d = testkit::deployd::start_for_real_nodes_with(|st| st.jobs.sweep_interval_ms = 200).await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    until("node", Duration::from_secs(20), || async {
        !c.list_nodes().await.unwrap_or_default().is_empty()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = runner_config(dir.path(), &d.url, &s, &g, "doomed-push", &s.registry);
    let doomed = agentd(&cfg);
    let url = g.create_repo(&format!("heavy-{}", rand_hex()), &heavy_app(&s));
    let app = format!("hp{}", rand_hex());
    let job = create(
        &c,
        JobPayload {
            app_id: app.clone(),
            user_id: Some("2".into()),
            repo_ssh_url: Some(url),
            ..Default::default()
        },
    )
    .await;
    until("the PUSH phase", Duration::from_secs(120), || {
        phase_is(&c, job.id, "PUSH")
    })
    .await;
    drop(doomed); // SIGKILL mid-push
    let survivor = start_runner(&s, &g, &d.url, "survivor-push", |_| {}).await;
    let done = terminal(&c, job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{:?}",
        done.error_message
    );
    assert_eq!(
        (done.attempt, done.runner_id.as_deref()),
        (2, Some("survivor-push"))
    );
    assert_eq!(rt.container_names().await.len(), 1, "deployed once");
    survivor.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_registry_stopped_during_a_push_fails_the_job_with_the_cause() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    // A registry of this test's own, on loopback (the engine pushes to it over HTTP).
    let dir = tempfile::tempdir().unwrap();
    let rport = port();
    std::fs::write(
        dir.path().join("registry.yml"),
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}/data\nhttp:\n  addr: 127.0.0.1:{rport}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let registry = Kill(
        Command::new("docker-registry")
            .args([
                "serve",
                dir.path().join("registry.yml").to_str().unwrap_or_default(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry"),
    );
    until("the registry", Duration::from_secs(20), || async move {
        reqwest::get(format!("http://127.0.0.1:{rport}/v2/"))
            .await
            .is_ok()
    })
    .await;
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    until("node", Duration::from_secs(20), || async {
        !c.list_nodes().await.unwrap_or_default().is_empty()
    })
    .await;
    let reg = format!("127.0.0.1:{rport}");
    let runner = start_runner(&s, &g, &d.url, "r-regstop", |r| {
        r.registry = reg.clone();
        r.registry_username = String::new();
    })
    .await;
    let url = g.create_repo(&format!("heavy-{}", rand_hex()), &heavy_app(&s));
    let job = create(
        &c,
        JobPayload {
            app_id: format!("rs{}", rand_hex()),
            user_id: Some("2".into()),
            repo_ssh_url: Some(url),
            ..Default::default()
        },
    )
    .await;
    until("the PUSH phase", Duration::from_secs(120), || {
        phase_is(&c, job.id, "PUSH")
    })
    .await;
    drop(registry);
    let done = terminal(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let err = done.error_message.unwrap_or_default();
    assert!(err.starts_with("PUSH failed"), "{err}");
    assert!(err.contains(&reg), "{err}");
    assert!(rt.container_names().await.is_empty());
    runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_git_server_stopped_fails_the_clone_and_a_restart_heals() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    // A second sshd of this test's own, from the suite's config on another port.
    let dir = tempfile::tempdir().unwrap();
    let sport = port();
    let base = std::fs::read_to_string(g.known_hosts.with_file_name("sshd_config")).unwrap();
    let cfg = base
        .replace("Port 2222", &format!("Port {sport}"))
        .lines()
        .filter(|l| !l.starts_with("PidFile"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + &format!("PidFile {}/sshd.pid\n", dir.path().display());
    std::fs::write(dir.path().join("sshd_config"), cfg).unwrap();
    let known = std::fs::read_to_string(&g.known_hosts)
        .unwrap_or_default()
        .replace("]:2222 ", &format!("]:{sport} "));
    std::fs::write(dir.path().join("known_hosts"), known).unwrap();
    let start_sshd = || {
        Kill(
            Command::new("/usr/sbin/sshd")
                .args([
                    "-D",
                    "-f",
                    dir.path().join("sshd_config").to_str().unwrap_or_default(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    until("node", Duration::from_secs(20), || async {
        !c.list_nodes().await.unwrap_or_default().is_empty()
    })
    .await;
    let kh = dir.path().join("known_hosts").display().to_string();
    let runner = start_runner(&s, &g, &d.url, "r-gitstop", |r| r.git_known_hosts = kh).await;
    let name = format!("gs-{}", rand_hex());
    g.create_repo(&name, &app_files(&s.busybox, "git back"));
    let url = format!(
        "{}/{name}.git",
        g.url.replace(":2222", &format!(":{sport}"))
    );
    let app = format!("gs{}", rand_hex());
    // The Git server is down: the clone fails, naming it.
    let job = create(
        &c,
        JobPayload {
            app_id: app.clone(),
            user_id: Some("2".into()),
            repo_ssh_url: Some(url.clone()),
            ..Default::default()
        },
    )
    .await;
    let done = terminal(&c, job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let err = done.error_message.unwrap_or_default();
    assert!(
        err.contains("CLONE failed: cannot reach the Git server")
            && err.contains(&sport.to_string()),
        "{err}"
    );
    // It comes back: the next deploy goes through.
    let _sshd = start_sshd();
    until("sshd", Duration::from_secs(10), || async move {
        std::net::TcpStream::connect(("127.0.0.1", sport)).is_ok()
    })
    .await;
    let job = create(
        &c,
        JobPayload {
            app_id: app,
            user_id: Some("2".into()),
            repo_ssh_url: Some(url),
            ..Default::default()
        },
    )
    .await;
    let done = terminal(&c, job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{:?}",
        done.error_message
    );
    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agentd_killed_mid_deploy_keeps_the_old_version_and_cleans_up_on_restart() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    let silent = image(&s, "t-rt", "silent", App::Silent).await;
    let dir = tempfile::tempdir().unwrap();
    let node = format!("t-{}", rand_hex());
    let (ap, gp) = (port(), port());
    let cfg = dir.path().join("agentd.toml");
    std::fs::write(
        &cfg,
        format!(
            "deploy_url = \"http://127.0.0.1:9\"\n[runtime]\nlisten = \"127.0.0.1:{ap}\"\nnode_name = \"{node}\"\nnode_token = \"n\"\nruntime_token = \"{RUNTIME_TOKEN}\"\ndata_dir = \"{}\"\nhealth_timeout_seconds = 60\nstop_grace_seconds = 1\nregistry = \"{}\"\nregistry_username = \"{}\"\nregistry_password = \"{}\"\n[runtime.gateway]\nlisten = \"127.0.0.1:{gp}\"\n",
            dir.path().display(), s.registry, s.user, s.password
        ),
    )
    .unwrap();
    let api = format!("http://127.0.0.1:{ap}");
    let first = agentd(&cfg);
    until("agentd", Duration::from_secs(30), || {
        let api = api.clone();
        async move { reqwest::get(format!("{api}/internal/health")).await.is_ok() }
    })
    .await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{api}/agent/apps/deploy"))
        .header("X-Runtime-Token", RUNTIME_TOKEN)
        .json(&deploy_req("1", "k1", &v1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = format!("http://127.0.0.1:{gp}/runtime/k1/");
    assert_eq!(
        reqwest::get(&page)
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default(),
        "version one\n"
    );
    // A redeploy to a version that never becomes healthy; agentd dies during its health wait.
    let pending = {
        let (http, api, silent) = (http.clone(), api.clone(), silent.clone());
        tokio::spawn(async move {
            http.post(format!("{api}/agent/apps/deploy"))
                .header("X-Runtime-Token", RUNTIME_TOKEN)
                .json(&deploy_req("1", "k1", &silent))
                .send()
                .await
        })
    };
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    let label = format!("funai.node={node}");
    until("the new container", Duration::from_secs(30), || {
        let (engine, label) = (engine.clone(), label.clone());
        async move {
            engine
                .list_by_label(&label, "funai-runtime-net")
                .await
                .map(|v| v.len() == 2)
                .unwrap_or(false)
        }
    })
    .await;
    drop(first); // SIGKILL mid-deploy
    assert!(
        pending.await.map(|r| r.is_err()).unwrap_or(true),
        "the deploy call cannot have finished"
    );
    // The old version still answers on its own address.
    let old = engine
        .list_by_label(&label, "funai-runtime-net")
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.image == v1)
        .expect("the old container is gone");
    let ip = engine
        .inspect(&old.name, "funai-runtime-net")
        .await
        .ok()
        .flatten()
        .and_then(|i| i.ip)
        .unwrap_or_default();
    assert_eq!(
        reqwest::get(format!("http://{ip}:3000/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default(),
        "version one\n"
    );
    // Restarted, agentd routes the old version again and removes the half-deployed one.
    let _second = agentd(&cfg);
    until("the route back", Duration::from_secs(30), || {
        let page = page.clone();
        async move {
            reqwest::get(&page)
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false)
        }
    })
    .await;
    assert_eq!(
        reqwest::get(&page)
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default(),
        "version one\n"
    );
    let left = engine
        .list_by_label(&label, "funai-runtime-net")
        .await
        .unwrap_or_default();
    assert_eq!(
        left.len(),
        1,
        "{:?}",
        left.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert_eq!(left[0].image, v1);
    for c in left {
        let _ = engine.remove(&c.name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_stops_placement_and_a_silent_node_goes_stale() {
    let Some(s) = services() else { return };
    let v1 = image(&s, "t-rt", "v1", App::Serves("version one")).await;
    // The node's data directory on a small tmpfs, so that it can really fill up.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=8m",
            "tmpfs",
            data.to_str().unwrap_or_default(),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "mounting a tmpfs needs root under CI"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(data.clone());
    let d = testkit::deployd::start_with(|st| st.nodes.heartbeat_stale_seconds = 2).await;
    let c = d.client();
    let data_dir = data.display().to_string();
    let rt = start_runtime(&s, &d.url, move |r| {
        r.data_dir = data_dir;
        r.heartbeat_seconds = 1;
    })
    .await;
    let node = rt.node.clone();
    until("a healthy node", Duration::from_secs(20), || async {
        c.list_nodes()
            .await
            .map(|n| {
                n.iter()
                    .any(|x| x.node_name == node && x.status.as_str() == "HEALTHY")
            })
            .unwrap_or(false)
    })
    .await;
    // Fill the disk past the threshold (15 % free).
    std::fs::write(data.join("ballast"), vec![0u8; 7 * 1024 * 1024]).unwrap();
    until(
        "the full disk reported",
        Duration::from_secs(20),
        || async {
            c.list_nodes()
                .await
                .map(|n| {
                    n.iter()
                        .any(|x| x.node_name == node && x.disk_free_pct < 15.0)
                })
                .unwrap_or(false)
        },
    )
    .await;
    let job = create(
        &c,
        JobPayload {
            app_id: format!("dk{}", rand_hex()),
            user_id: Some("1".into()),
            image: Some(v1.clone()),
            ..Default::default()
        },
    )
    .await;
    let claim = c
        .claim(&protocol::job::ClaimRequest {
            runner_id: "r-disk".into(),
            lease_seconds: 30,
            wait_seconds: 0,
            agent_version: None,
        })
        .await
        .unwrap();
    assert!(
        claim.is_none(),
        "a node below the disk threshold got a new app"
    );
    // Space again: the job is placed there.
    std::fs::remove_file(data.join("ballast")).unwrap();
    until("the job placed", Duration::from_secs(20), || async {
        matches!(
            c.claim(&protocol::job::ClaimRequest { runner_id: "r-disk".into(), lease_seconds: 30, wait_seconds: 1, agent_version: None }).await,
            Ok(Some(j)) if j.id == job.id
        )
    })
    .await;
    // The node stops heartbeating: deployd shows it STALE, and functl too.
    rt.shutdown.cancel();
    until("STALE", Duration::from_secs(20), || async {
        c.list_nodes()
            .await
            .map(|n| {
                n.iter()
                    .any(|x| x.node_name == node && x.status.as_str() == "STALE")
            })
            .unwrap_or(false)
    })
    .await;
}
