//! A person at a terminal: tmux types `functl nodes drain rt-01`, reads the prompt and
//! answers it, as a person would.

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(session: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session]);
        if screen.contains(needle) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared; the screen:\n{screen}"
        );
        std::thread::yield_now();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_the_drain_prompt_in_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "tmux is required under CI"
        );
        eprintln!("SKIPPED: no tmux");
        return;
    }
    let d = testkit::deployd::start().await;
    let c = d.client();
    c.node_heartbeat(&protocol::node::NodeHeartbeat {
        node_name: "rt-01".into(),
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
    let session = format!("functl-test-{}", std::process::id());
    let home = d.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let envs = [
        format!("HOME={}", home.display()),
        format!("FUNCTL_DEPLOY_URL={}", d.url),
        format!("FUNCTL_DEPLOY_SECRET={}", testkit::deployd::DEPLOY_SECRET),
        format!("FUNCTL_ADMIN_TOKEN={}", testkit::deployd::ADMIN_TOKEN),
        "NO_COLOR=1".to_string(),
        "PS1=$ ".to_string(),
    ];
    let mut args: Vec<&str> = vec!["new-session", "-d", "-s", &session, "-x", "150", "-y", "40"];
    for e in &envs {
        args.push("-e");
        args.push(e);
    }
    args.extend(["bash", "--norc", "--noprofile"]);
    tmux(&args);
    let line = format!("{} nodes drain rt-01", env!("CARGO_BIN_EXE_functl"));
    tmux(&["send-keys", "-t", &session, &line, "Enter"]);
    let screen = wait_for(&session, "[y/N]");
    assert!(screen.contains("Drain node rt-01?"), "{screen}");
    // Nothing happens before the answer.
    let before = c.list_nodes().await.unwrap();
    assert_eq!(before[0].status.as_str(), "HEALTHY");
    tmux(&["send-keys", "-t", &session, "y"]);
    let screen = wait_for(&session, "node rt-01 DRAINING");
    tmux(&["kill-session", "-t", &session]);
    let after = c.list_nodes().await.unwrap();
    assert_eq!(after[0].status.as_str(), "DRAINING", "{screen}");
}
