//! A whole deploy with known secret values, through the real daemons: no secret appears in
//! any daemon log, job log, print-config, metrics, or error message a person sees.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::agentd::*;

fn bin(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_functl")).with_file_name(name)
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_an_output_or_an_error() {
    let (Some(s), Some(g)) = (services(), git_server()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let secrets = [
        ("deploy", "Sekret-deploy-51b7e0"),
        ("runner", "Sekret-runner-8c2d41"),
        ("node", "Sekret-node-a9f3c2"),
        ("admin", "Sekret-admin-0d6e7b"),
        ("runtime", "Sekret-runtime-e41f90"),
        ("mongo", "Sekret-mongo-77aa12"),
    ];
    let sec = |k: &str| {
        secrets
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| *v)
            .unwrap_or_default()
    };
    let (dp, ap, gp) = (port(), port(), port());
    std::fs::write(
        w.join("deployd.toml"),
        format!(
            "listen = \"127.0.0.1:{dp}\"\ndatabase_url = \"sqlite://{}/d.db\"\n[nodes]\ndisk_free_min_pct = 0.0\n[auth]\ndeploy_secret = \"{}\"\nrunner_token = \"{}\"\nnode_token = \"{}\"\nadmin_token = \"{}\"\nruntime_token = \"{}\"\n",
            w.display(), sec("deploy"), sec("runner"), sec("node"), sec("admin"), sec("runtime")
        ),
    )
    .unwrap();
    std::fs::write(
        w.join("agentd.toml"),
        format!(
            "deploy_url = \"http://127.0.0.1:{dp}\"\n[runner]\nrunner_id = \"r-secret\"\nrunner_token = \"{}\"\nruntime_token = \"{}\"\nworkdir = \"{}/work\"\ngit_ssh_key = \"{}\"\ngit_known_hosts = \"{}\"\nregistry = \"{}\"\nregistry_username = \"{}\"\nregistry_password = \"{}\"\nclaim_wait_seconds = 5\n[runtime]\nlisten = \"127.0.0.1:{ap}\"\nnode_name = \"t-secret\"\nnode_token = \"{}\"\nruntime_token = \"{}\"\nagent_base_url = \"http://127.0.0.1:{ap}\"\ngateway_base_url = \"http://127.0.0.1:{gp}\"\ndata_dir = \"{}/rt\"\nstop_grace_seconds = 1\nregistry = \"{}\"\nregistry_username = \"{}\"\nregistry_password = \"{}\"\n[runtime.gateway]\nlisten = \"127.0.0.1:{gp}\"\n[runtime.mongo]\nurl = \"mongodb://app:{}@127.0.0.1:27017\"\n",
            sec("runner"), sec("runtime"), w.display(), g.key.display(), g.known_hosts.display(), s.registry, s.user, s.password,
            sec("node"), sec("runtime"), w.display(), s.registry, s.user, s.password, sec("mongo")
        ),
    )
    .unwrap();
    let log = |n: &str| std::fs::File::create(w.join(n)).unwrap();
    let deployd = Kill(
        Command::new(bin("deployd"))
            .args([
                "--config",
                w.join("deployd.toml").to_str().unwrap_or_default(),
                "serve",
            ])
            .env("RUST_LOG", "debug")
            .stdout(log("deployd.out"))
            .stderr(log("deployd.log"))
            .spawn()
            .unwrap(),
    );
    let agentd = Kill(
        Command::new(bin("agentd"))
            .args([
                "--config",
                w.join("agentd.toml").to_str().unwrap_or_default(),
                "run",
            ])
            .env("RUST_LOG", "debug")
            .stdout(log("agentd.out"))
            .stderr(log("agentd.log"))
            .spawn()
            .unwrap(),
    );
    let functl = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        let child = Command::new(env!("CARGO_BIN_EXE_functl"))
            .args(&args)
            .env_clear()
            .env("HOME", w)
            .env("FUNCTL_DEPLOY_URL", format!("http://127.0.0.1:{dp}"))
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // A hung command fails the test instead of hanging the suite.
        let watchdog = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(240);
            while Instant::now() < deadline {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return;
                }
                std::thread::park_timeout(Duration::from_millis(200));
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        let out = child.wait_with_output().unwrap();
        watchdog.thread().unpark();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let good = || {
        vec![
            ("FUNCTL_DEPLOY_SECRET", sec("deploy").to_string()),
            ("FUNCTL_ADMIN_TOKEN", sec("admin").to_string()),
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, out) = functl(
            vec!["runners".into(), "list".into(), "-o".into(), "json".into()],
            good(),
        );
        if code == 0
            && out.contains("r-secret")
            && functl(vec!["nodes".into(), "list".into()], good())
                .1
                .contains("t-secret")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemons never came up: {out}"
        );
        tokio::task::yield_now().await;
    }
    let mut seen = String::new();
    let name = format!("secret-{}", rand_hex());
    let url = g.create_repo(&name, &app_files(&s.busybox, "keep it secret"));
    let (code, out) = functl(
        vec![
            "deploy".into(),
            "--app".into(),
            "5150".into(),
            "--user".into(),
            "8".into(),
            "--repo".into(),
            url,
            "--wait".into(),
        ],
        good(),
    );
    assert_eq!(code, 0, "{out}");
    seen += &out;
    for args in [
        vec!["jobs", "logs", "1"],
        vec!["jobs", "show", "1"],
        vec!["apps", "show", "5150"],
        vec!["jobs", "list", "-o", "json"],
    ] {
        let (code, out) = functl(args.iter().map(|a| a.to_string()).collect(), good());
        assert_eq!(code, 0, "{args:?}: {out}");
        seen += &out;
    }
    // Errors a person meets: a wrong secret, a wrong admin token, a bad deploy.
    let (code, out) = functl(
        vec!["jobs".into(), "list".into()],
        vec![("FUNCTL_DEPLOY_SECRET", format!("{}x", sec("deploy")))],
    );
    assert_eq!(code, 3);
    seen += &out;
    let (code, out) = functl(
        vec!["nodes".into(), "list".into()],
        vec![("FUNCTL_ADMIN_TOKEN", sec("deploy").to_string())],
    );
    assert_eq!(code, 3);
    seen += &out;
    let (code, out) = functl(
        vec![
            "deploy".into(),
            "--app".into(),
            "a/b".into(),
            "--image".into(),
            "x".into(),
        ],
        good(),
    );
    assert_eq!(code, 2);
    seen += &out;
    // Configs as printed, metrics as scraped.
    for (b, cfg) in [("deployd", "deployd.toml"), ("agentd", "agentd.toml")] {
        let out = Command::new(bin(b))
            .args([
                "--config",
                w.join(cfg).to_str().unwrap_or_default(),
                "print-config",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        seen += &String::from_utf8_lossy(&out.stdout);
    }
    seen += &reqwest::get(format!("http://127.0.0.1:{dp}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    seen += &reqwest::get(format!("http://127.0.0.1:{ap}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    // A runtime call with a wrong token, and the daemons' own words.
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{ap}/agent/apps/stop"))
        .header("X-Runtime-Token", sec("node"))
        .json(&serde_json::json!({"userId": "8", "appId": "5150"}))
        .send()
        .await
        .unwrap();
    seen += &r.text().await.unwrap_or_default();
    drop(agentd);
    drop(deployd);
    for f in ["deployd.log", "deployd.out", "agentd.log", "agentd.out"] {
        seen += &std::fs::read_to_string(w.join(f)).unwrap_or_default();
    }
    assert!(
        seen.contains("==> deployed"),
        "the deploy's own log was collected"
    );
    assert!(
        seen.len() > 10_000,
        "too little was collected to prove anything: {} bytes",
        seen.len()
    );
    for (what, value) in secrets
        .iter()
        .copied()
        .chain([("registry", s.password.as_str())])
    {
        if let Some(i) = seen.find(value) {
            let from = seen[..i]
                .char_indices()
                .rev()
                .nth(300)
                .map(|(j, _)| j)
                .unwrap_or(0);
            panic!(
                "the {what} secret appears in what a person or a log sees:\n...{}",
                &seen[from..(i + value.len()).min(seen.len())]
            );
        }
    }
    // The app did get the Mongo URL: secrets go where they are needed, and only there.
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    for c in engine
        .list_by_label("funai.node=t-secret", "funai-runtime-net")
        .await
        .unwrap_or_default()
    {
        let env = engine
            .raw()
            .inspect_container(
                &c.name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok()
            .and_then(|i| i.config)
            .and_then(|c| c.env)
            .unwrap_or_default();
        assert!(
            env.iter()
                .any(|e| e.starts_with("MONGODB_URI=") && e.contains(sec("mongo")))
        );
        let _ = engine.remove(&c.name).await;
    }
}
