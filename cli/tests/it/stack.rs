//! `functl up --demo`, `functl status`, `functl down`: the README's first command, run as a
//! person would, against the real daemons (found beside functl) and the real Docker engine.

use std::process::Stdio;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn functl(cwd: &std::path::Path, args: &[&str]) -> Run {
    run(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_functl")),
        cwd,
        args,
    )
    .await
}

/// As root, functl runs in a mount namespace of its own where every busybox of the machine
/// reads as an empty file: the demo must need nothing but Docker and the build.
async fn functl_without_busybox(cwd: &std::path::Path, args: &[&str]) -> Run {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root {
        eprintln!("not root: busybox stays visible to functl up --demo");
        return functl(cwd, args).await;
    }
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-ec",
        "for b in /bin/busybox /usr/bin/busybox /sbin/busybox /usr/sbin/busybox; do \
           if [ -e \"$b\" ]; then mount --bind /dev/null \"$b\"; fi; done; \
         if [ -s /bin/busybox ] || [ -s /usr/bin/busybox ]; then echo busybox still visible >&2; exit 99; fi; \
         exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_functl"),
    ]);
    run(cmd, cwd, args).await
}

async fn run(mut cmd: tokio::process::Command, cwd: &std::path::Path, args: &[&str]) -> Run {
    let out = cmd
        .current_dir(cwd)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", cwd)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_demo_serves_the_example_page_and_down_stops_only_what_up_started() {
    if std::env::var("FUNAI_TEST_DOCKER").is_err() {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "Docker is required under CI"
        );
        eprintln!("SKIPPED: no Docker (run scripts/test.sh)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dp, ap, gp) = (free_port(), free_port(), free_port());
    let ports = [
        "--deployd-port".to_string(),
        dp.to_string(),
        "--agent-port".to_string(),
        ap.to_string(),
        "--gateway-port".to_string(),
        gp.to_string(),
    ];
    let mut args: Vec<&str> = vec!["up", "--demo"];
    args.extend(ports.iter().map(String::as_str));
    let run = functl_without_busybox(dir.path(), &args).await;
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let url = format!("http://127.0.0.1:{gp}/runtime/hello/");
    assert!(
        run.stdout.contains(&format!("demo: {url} serves:")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("<h1>Hello from Fun AI Studio</h1>"),
        "{}",
        run.stdout
    );
    let page = reqwest::get(&url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("Hello from Fun AI Studio"));
    // The secrets were generated and the files that hold them are private.
    let meta = std::fs::metadata(dir.path().join(".funai/deployd.toml")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let status = functl(dir.path(), &["status"]).await;
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert!(
        status.stdout.contains("hello") && status.stdout.contains("READY"),
        "{}",
        status.stdout
    );
    // The generated functl config drives the other commands.
    let cfg = dir.path().join(".funai/functl.toml");
    let apps = functl(
        dir.path(),
        &["--config", cfg.to_str().unwrap_or_default(), "apps", "list"],
    )
    .await;
    assert_eq!(apps.code, 0, "{}", apps.stderr);
    assert!(apps.stdout.contains("hello"));

    // `up` again is harmless.
    let again = functl(
        dir.path(),
        &args[..1]
            .iter()
            .copied()
            .chain(ports.iter().map(String::as_str))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already up"), "{}", again.stderr);

    let state = std::fs::read_to_string(dir.path().join(".funai/stack.toml")).unwrap_or_default();
    let down = functl(dir.path(), &["down"]).await;
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        down.stdout.contains("removed apps: hello"),
        "{}",
        down.stdout
    );
    assert!(
        down.stdout.contains("stopped agentd") && down.stdout.contains("deployd"),
        "{}",
        down.stdout
    );
    for line in state.lines().filter(|l| l.starts_with("pid = ")) {
        let pid = line.trim_start_matches("pid = ").trim();
        // Gone, or a zombie waiting for a reaper: either way no longer running.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("");
        assert!(
            stat.is_empty() || state == "Z" || state == "X",
            "pid {pid} still runs: {stat}"
        );
    }
    assert!(reqwest::get(&url).await.is_err(), "the gateway is gone");
    let status = functl(dir.path(), &["status"]).await;
    assert_eq!(status.code, 1);
    let down = functl(dir.path(), &["down"]).await;
    assert_eq!(down.code, 0);
    assert!(down.stdout.contains("nothing to stop"), "{}", down.stdout);

    // The node keeps its identity across down and up: one node, the same name.
    let node = std::fs::read_to_string(dir.path().join(".funai/node-name")).unwrap();
    let node = node.trim().to_string();
    let up = |extra: &'static [&'static str]| {
        let mut a: Vec<String> = vec!["up".into()];
        a.extend(ports.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let up_args = up(&[]);
    let up_args: Vec<&str> = up_args.iter().map(String::as_str).collect();
    let again = functl(dir.path(), &up_args).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(node_names(dir.path(), &cfg).await, vec![node.clone()]);

    // A daemon killed behind the stack's back: the next `up` says the stack was stale,
    // stops what is left and starts afresh.
    let state = std::fs::read_to_string(dir.path().join(".funai/stack.toml")).unwrap();
    let deployd_pid = state
        .split("[[daemons]]")
        .find(|d| d.contains("name = \"deployd\""))
        .and_then(|d| d.lines().find_map(|l| l.strip_prefix("pid = ")))
        .unwrap()
        .trim()
        .to_string();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &deployd_pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let stale = functl(dir.path(), &up_args).await;
    assert_eq!(stale.code, 0, "{}", stale.stderr);
    assert!(
        stale.stderr.contains("was stale: deployd not running")
            && stale.stderr.contains("stopped agentd"),
        "{}",
        stale.stderr
    );
    assert_eq!(node_names(dir.path(), &cfg).await, vec![node.clone()]);

    // A node an earlier functl registered under another name is removed, so no deploy is
    // placed on it.
    let down = functl(dir.path(), &["down"]).await;
    assert_eq!(down.code, 0, "{}", down.stderr);
    std::fs::write(dir.path().join(".funai/node-name"), "local-renamed\n").unwrap();
    let renamed = functl(dir.path(), &up_args).await;
    assert_eq!(renamed.code, 0, "{}", renamed.stderr);
    assert!(
        renamed.stderr.contains(&format!(
            "removed runtime node {node} (left by an earlier stack"
        )),
        "{}",
        renamed.stderr
    );
    assert_eq!(
        node_names(dir.path(), &cfg).await,
        vec!["local-renamed".to_string()]
    );
    let down = functl(dir.path(), &["down"]).await;
    assert_eq!(down.code, 0, "{}", down.stderr);
}

/// The runtime nodes deployd lists, by name.
async fn node_names(cwd: &std::path::Path, cfg: &std::path::Path) -> Vec<String> {
    let list = functl(
        cwd,
        &[
            "--config",
            cfg.to_str().unwrap_or_default(),
            "-o",
            "json",
            "nodes",
            "list",
        ],
    )
    .await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let mut names: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["nodeName"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A daemon that exits at start (agentd without an engine) is named with its exit status and
/// its log, and what `up` started is stopped again (a second `up` is not needed to free the
/// ports). No Docker needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_exits_at_start_is_named_with_its_log_and_nothing_is_left_running() {
    let dir = tempfile::tempdir().unwrap();
    let (dp, ap, gp) = (free_port(), free_port(), free_port());
    let (dp_s, ap_s, gp_s) = (dp.to_string(), ap.to_string(), gp.to_string());
    let args = [
        "up",
        "--deployd-port",
        &dp_s,
        "--agent-port",
        &ap_s,
        "--gateway-port",
        &gp_s,
    ];
    // `run` clears the environment: `env` puts DOCKER_HOST back for functl and its daemons.
    let mut cmd = tokio::process::Command::new("env");
    cmd.args([
        "DOCKER_HOST=unix:///nonexistent/docker.sock",
        env!("CARGO_BIN_EXE_functl"),
    ]);
    let run = run(cmd, dir.path(), &args).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("agentd exited (exit status: 1)")
            && run.stderr.contains("cannot reach the Docker engine")
            && run.stderr.contains("/nonexistent/docker.sock"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("stopped deployd again"),
        "{}",
        run.stderr
    );
    // deployd's port is free again, and there is no stack left to stop.
    std::net::TcpListener::bind(("127.0.0.1", dp)).unwrap();
    let down = functl(dir.path(), &["down"]).await;
    assert!(down.stdout.contains("nothing to stop"), "{}", down.stdout);
}
