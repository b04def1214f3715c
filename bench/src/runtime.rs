//! Runtime figures: deploy→first 200 through the gateway beside `docker pull && docker run`
//! and a curl loop; requests during redeploys under load; agentd's resident memory.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agentd::docker::Engine;
use testkit::agentd::{self as testing, App, Services};

use crate::{Row, median, ms};

/// Polls `url` until it answers 200; the time it took.
async fn until_200(http: &reqwest::Client, url: &str, limit: Duration) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    loop {
        if let Ok(r) = http.get(url).timeout(Duration::from_secs(2)).send().await
            && r.status().as_u16() == 200
        {
            return Ok(t0.elapsed());
        }
        anyhow::ensure!(t0.elapsed() < limit, "{url} never answered 200");
        tokio::task::yield_now().await;
    }
}

fn docker(config_dir: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .env("DOCKER_CONFIG", config_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub async fn run(s: &Services, rounds: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let engine = Engine::connect("").await?;
    let http = reqwest::Client::new();
    let tag = testing::rand_hex();
    let img = testing::image(s, "bench-rt", &tag, App::Serves("bench")).await;

    // agentd: deploy call → first 200 through the gateway, image pulled from the registry.
    let t = testing::start_runtime(s, "http://127.0.0.1:9", |r| r.stop_grace_seconds = 1).await;
    let mut ours = Vec::new();
    for i in 0..rounds {
        engine.remove_image(&img).await?;
        let app = format!("b{i}{tag}");
        let t0 = Instant::now();
        let (st, ans) = t.deploy("1", &app, &img).await;
        anyhow::ensure!(st == 200, "deploy: {ans}");
        until_200(
            &http,
            &format!("{}/runtime/{app}/", t.gateway),
            Duration::from_secs(60),
        )
        .await?;
        ours.push(t0.elapsed());
        t.post(
            "/agent/apps/delete",
            &serde_json::json!({"userId": "1", "appId": app}),
        )
        .await;
    }
    t.cleanup().await;

    // Baseline: docker pull && docker run, then curl until 200, same image, same registry.
    let cfg = tempfile::tempdir()?;
    let mut login = Command::new("docker")
        .env("DOCKER_CONFIG", cfg.path())
        .args(["login", "-u", &s.user, "--password-stdin", &s.registry])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = login.stdin.take() {
        use std::io::Write;
        stdin.write_all(s.password.as_bytes())?;
    }
    anyhow::ensure!(login.wait()?.success(), "docker login failed");
    let mut base = Vec::new();
    for i in 0..rounds {
        engine.remove_image(&img).await?;
        let name = format!("bench-bare-{i}-{tag}");
        let t0 = Instant::now();
        docker(cfg.path(), &["pull", "-q", &img])?;
        docker(
            cfg.path(),
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "funai-runtime-net",
                &img,
            ],
        )?;
        let ip = docker(
            cfg.path(),
            &[
                "inspect",
                "-f",
                "{{(index .NetworkSettings.Networks \"funai-runtime-net\").IPAddress}}",
                &name,
            ],
        )?;
        until_200(
            &http,
            &format!("http://{ip}:3000/"),
            Duration::from_secs(60),
        )
        .await?;
        base.push(t0.elapsed());
        docker(cfg.path(), &["rm", "-f", &name])?;
    }
    let (a, b) = (median(&mut ours), median(&mut base));
    rows.push(Row {
        what: format!("agentd deploy call → first 200 through the gateway, image pulled from the registry (median of {rounds})"),
        figure: ms(a),
        baseline_what: "`docker pull && docker run` + HTTP loop until 200, same image".into(),
        baseline: ms(b),
        ratio: format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64()),
    });

    // Ten redeploys under load.
    let v2 = testing::image(s, "bench-rt", &format!("{tag}-2"), App::Serves("bench two")).await;
    let t = testing::start_runtime(s, "http://127.0.0.1:9", |r| r.stop_grace_seconds = 1).await;
    let app = format!("load{tag}");
    t.deploy("1", &app, &img).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let url = format!("{}/runtime/{app}/", t.gateway);
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (stop, ok, bad, url) = (stop.clone(), ok.clone(), bad.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..500_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match http.get(&url).send().await {
                    Ok(r) if r.status().as_u16() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let t0 = Instant::now();
    for i in 0..10 {
        let (st, ans) = t
            .deploy("1", &app, if i % 2 == 0 { &v2 } else { &img })
            .await;
        anyhow::ensure!(st == 200, "redeploy {i}: {ans}");
    }
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await?;
    }
    rows.push(Row {
        what: "10 redeploys under load (2 clients without pause through the gateway)".into(),
        figure: format!(
            "{} served, {} failed, {:.1} s",
            ok.load(Ordering::Relaxed),
            bad.load(Ordering::Relaxed),
            took.as_secs_f64()
        ),
        baseline_what: "failed requests allowed".into(),
        baseline: "0".into(),
        ratio: "–".into(),
    });
    t.cleanup().await;
    Ok(rows)
}

/// Resident memory of the agentd binary, idle and with `apps` apps deployed.
pub async fn agentd_rss(
    s: &Services,
    agentd_bin: &std::path::Path,
    apps: usize,
) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let node = format!("t-{}", testing::rand_hex());
    let port = |()| -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (api_port, gw_port) = (port(())?, port(())?);
    let cfg = dir.path().join("agentd.toml");
    std::fs::write(
        &cfg,
        format!(
            "deploy_url = \"http://127.0.0.1:9\"\n[runtime]\nlisten = \"127.0.0.1:{api_port}\"\nnode_name = \"{node}\"\n\
             node_token = \"n\"\nruntime_token = \"{tok}\"\ndata_dir = \"{d}\"\nstop_grace_seconds = 1\nregistry = \"{r}\"\n\
             registry_username = \"{u}\"\nregistry_password = \"{p}\"\n[runtime.gateway]\nlisten = \"127.0.0.1:{gw_port}\"\n",
            tok = testing::RUNTIME_TOKEN,
            d = dir.path().display(),
            r = s.registry,
            u = s.user,
            p = s.password
        ),
    )?;
    let mut child = Command::new(agentd_bin)
        .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let api = format!("http://127.0.0.1:{api_port}");
    let http = reqwest::Client::new();
    until_200(
        &http,
        &format!("{api}/internal/health"),
        Duration::from_secs(30),
    )
    .await?;
    let rss = |pid: u32| -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
        Ok(kb)
    };
    let idle = rss(child.id())?;
    let img = testing::image(s, "bench-rt", "rss", App::Serves("rss")).await;
    for i in 0..apps {
        let r = http
            .post(format!("{api}/agent/apps/deploy"))
            .header("X-Runtime-Token", testing::RUNTIME_TOKEN)
            .json(&testing::deploy_req("1", &format!("rss{i}"), &img))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "deploy rss{i}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    for i in 0..apps {
        until_200(
            &http,
            &format!("http://127.0.0.1:{gw_port}/runtime/rss{i}/"),
            Duration::from_secs(10),
        )
        .await?;
    }
    let loaded = rss(child.id())?;
    let _ = child.kill();
    let _ = child.wait();
    let engine = Engine::connect("").await?;
    for c in engine
        .list_by_label(&format!("funai.node={node}"), "funai-runtime-net")
        .await?
    {
        engine.remove(&c.name).await?;
    }
    Ok(vec![Row {
        what: format!("agentd resident memory, idle / with {apps} apps routed"),
        figure: format!(
            "{:.1} MiB / {:.1} MiB",
            idle as f64 / 1024.0,
            loaded as f64 / 1024.0
        ),
        baseline_what: "–".into(),
        baseline: "–".into(),
        ratio: "–".into(),
    }])
}
