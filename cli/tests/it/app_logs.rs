//! `functl apps logs` and `functl apps show` from the operator's seat: deployd, an agentd
//! runtime with its gateway and a runner in-process, the registry and the Docker engine
//! real, and an app container that prints lines at start and when asked over HTTP.

use std::process::Stdio;
use std::time::Duration;

use testkit::agentd::*;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn command(d: &testkit::deployd::TestDeployd, args: &[&str]) -> tokio::process::Command {
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_functl"));
    cmd.args(args)
        .env_clear()
        .env("HOME", &home)
        .env("FUNCTL_DEPLOY_URL", &d.url)
        .env("FUNCTL_DEPLOY_SECRET", testkit::deployd::DEPLOY_SECRET)
        .env("FUNCTL_ADMIN_TOKEN", testkit::deployd::ADMIN_TOKEN)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn functl(d: &testkit::deployd::TestDeployd, args: &[&str]) -> Run {
    let out = tokio::time::timeout(Duration::from_secs(120), command(d, args).output())
        .await
        .unwrap_or_else(|_| panic!("functl {args:?} did not finish"))
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The peers of the established TCP connections whose local port is `port`.
fn connections_to(port: u16) -> std::collections::BTreeSet<String> {
    let out = std::process::Command::new("ss")
        .args(["-Htn", "state", "established", "(", "sport", "="])
        .arg(format!(":{port}"))
        .arg(")")
        .output()
        .expect("ss (iproute2)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect()
}

/// The value of a row of `apps show`'s record (`STATE      running` → `running`).
fn row<'a>(shown: &'a str, key: &str) -> &'a str {
    shown
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .filter(|rest| rest.starts_with("  "))
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no {key} row in:\n{shown}"))
}

/// An app that prints three lines on stdout, then serves on 3000; `GET /cgi-bin/say?WORD`
/// prints `out-WORD` on its stdout and `err-WORD` on its stderr. Answers its build context
/// as a tar.
fn talking_app(busybox: &str) -> Vec<u8> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let add = |path: &str, data: &[u8], mode: u32| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    add("busybox", &std::fs::read(busybox).unwrap(), 0o755);
    add("www/index.html", b"talking app\n", 0o644);
    // A CGI's stdout is the HTTP answer; PID 1 (httpd) holds the container's stdout.
    add(
        "www/cgi-bin/say",
        b"#!/bin/busybox sh\necho \"out-$QUERY_STRING\" > /proc/1/fd/1\necho \"err-$QUERY_STRING\" >&2\necho 'Content-Type: text/plain'\necho\necho said\n",
        0o755,
    );
    add(
        "Dockerfile",
        b"FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"sh\", \"-c\", \"echo ready-1; echo ready-2; echo ready-3; exec /bin/busybox httpd -f -p 3000 -h /www\"]\n",
        0o644,
    );
    let out = std::process::Command::new("tar")
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(dir.path())
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Reads `lines` until one equals `want`; panics with what came when the stream ends first.
async fn read_until<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut tokio::io::Lines<BufReader<R>>,
    want: &str,
) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line == want {
                return true;
            }
            seen.push(line);
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no {want:?} in what came: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apps_logs_and_show_read_the_container_through_its_node() {
    let Some(s) = services() else { return };
    let engine = agentd::docker::Engine::connect("").await.unwrap();
    let image = format!("{}/funaistudio/t-logs:{}", s.registry, rand_hex());
    engine
        .build(talking_app(&s.busybox), "Dockerfile", &image, |_| {})
        .await
        .unwrap();
    engine.push(&image, Some(&auth(&s)), |_| {}).await.unwrap();

    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    let rt = start_runtime(&s, &d.url, |_| {}).await;
    wait_for_node(&c, &rt.node).await;
    let g = GitServer {
        url: String::new(),
        repos: Default::default(),
        key: Default::default(),
        stranger_key: Default::default(),
        known_hosts: Default::default(),
        wrong_known_hosts: Default::default(),
    };
    let runner = start_runner(&s, &g, &d.url, "r-logs", |_| {}).await;
    let app = format!("lg{}", rand_hex());
    let job = create_job(
        &c,
        protocol::job::JobPayload {
            app_id: app.clone(),
            user_id: Some("5".into()),
            image: Some(image.clone()),
            ..Default::default()
        },
    )
    .await;
    let (job, log) = follow_job(&c, job.id).await;
    assert_eq!(
        job.status,
        protocol::job::JobStatus::Succeeded,
        "{:?}\n{log}",
        job.error_message
    );

    // The last two lines, exactly.
    let run = functl(&d, &["apps", "logs", &app, "--tail", "2"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "ready-2\nready-3\n", "{}", run.stderr);

    // -f: the history, then a line the app prints after the stream opened, each output
    // on its own side.
    let agent_port: u16 = rt.api.rsplit(':').next().unwrap().parse().unwrap();
    let mut child = command(&d, &["apps", "logs", &app, "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    read_until(&mut out, "ready-3").await;
    // The request deployd holds to the agent (maybe on a connection an earlier call opened).
    let following = connections_to(agent_port);
    assert!(
        !following.is_empty(),
        "deployd holds no request to the agent while following"
    );
    let word = rand_hex();
    let (st, body) = rt.page(&format!("/runtime/{app}/cgi-bin/say?{word}")).await;
    assert_eq!((st, body.trim()), (200, "said"));
    read_until(&mut out, &format!("out-{word}")).await;
    read_until(&mut err, &format!("err-{word}")).await;
    // Ctrl-C ends following (exit 130), not the app.
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(130));
    // functl gone, deployd lets go of its request to the agent.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while connections_to(agent_port).is_superset(&following) {
        assert!(
            std::time::Instant::now() < deadline,
            "the request to the agent outlived the client that asked"
        );
        tokio::task::yield_now().await;
    }

    // show: running, and the public URL answers.
    let shown = functl(&d, &["apps", "show", &app]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(row(&shown.stdout, "STATE"), "running", "{}", shown.stdout);
    assert_eq!(row(&shown.stdout, "RESTARTS"), "0", "{}", shown.stdout);
    assert_eq!(row(&shown.stdout, "LAST EXIT"), "-", "{}", shown.stdout);
    assert_eq!(
        row(&shown.stdout, "PUBLIC URL"),
        format!("{}/runtime/{app}/", rt.gateway)
    );
    assert!(
        row(&shown.stdout, "PROBE").starts_with("200 OK in "),
        "{}",
        shown.stdout
    );

    // Killed behind the agent's back: the engine's word on it.
    let status = c.app_container(&app).await.unwrap();
    let name = status.container.container_name.unwrap();
    engine
        .raw()
        .kill_container(
            &name,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    let mut exited = engine.raw().wait_container(
        &name,
        Some(bollard::query_parameters::WaitContainerOptions {
            condition: "not-running".into(),
        }),
    );
    use futures_util::StreamExt;
    // The wait answers with the exit code; bollard reports a non-zero one as an error.
    let _ = exited.next().await;
    let shown = functl(&d, &["apps", "show", &app]).await;
    eprintln!("apps show after the kill:\n{}", shown.stdout);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(row(&shown.stdout, "STATE"), "exited", "{}", shown.stdout);
    assert!(
        row(&shown.stdout, "LAST EXIT").starts_with("137 at 20"),
        "{}",
        shown.stdout
    );
    // What the probe gets depends on the gateway: the dead container's address may already
    // serve another engine user's container. It is shown either way.
    assert!(!row(&shown.stdout, "PROBE").is_empty());
    let json = functl(&d, &["apps", "show", &app, "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["appId"], app.as_str());
    assert_eq!(v["container"]["container"]["lastExitCode"], 137);
    assert_eq!(v["container"]["nodeName"], rt.node.as_str());

    // An app deployd never heard of, and a --since that is no time.
    let run = functl(&d, &["apps", "logs", "nosuchapp"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("app nosuchapp is unknown to deployd"),
        "{}",
        run.stderr
    );
    let run = functl(&d, &["apps", "logs", &app, "--since", "yesterday"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("\"yesterday\" is neither a duration"),
        "{}",
        run.stderr
    );
    let run = functl(&d, &["apps", "logs", &app, "--since", "10m"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("ready-1\n"), "{}", run.stdout);

    runner.stop().await;
    rt.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_logs_names_the_node_it_cannot_reach() {
    let d = testkit::deployd::start_for_real_nodes().await;
    let c = d.client();
    // A node that registered, holds the app, and no longer answers on its agent's port.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    c.node_heartbeat(&protocol::node::NodeHeartbeat {
        node_name: "rt-gone".into(),
        agent_base_url: gone.clone(),
        gateway_base_url: gone.clone(),
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
    let app = format!("lg{}", rand_hex());
    create_job(
        &c,
        protocol::job::JobPayload {
            app_id: app.clone(),
            user_id: Some("5".into()),
            image: Some("127.0.0.1:5000/funaistudio/t-logs:gone".into()),
            ..Default::default()
        },
    )
    .await;
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
    assert_eq!(
        claimed.runtime_node.map(|n| n.node_name),
        Some("rt-gone".into())
    );

    let run = functl(&d, &["apps", "logs", &app]).await;
    eprintln!("apps logs of a node that is gone: {}", run.stderr);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("runtime node rt-gone unreachable at {gone}")),
        "{}",
        run.stderr
    );
    let shown = functl(&d, &["apps", "show", &app]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        row(&shown.stdout, "CONTAINER").starts_with("unknown: deployd answered 502"),
        "{}",
        shown.stdout
    );
}
