//! The deployd binary: layered settings, print-config with secrets redacted, refusal to
//! start on placeholder secrets, and a real serve with graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_deployd");

fn base_cmd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DEPLOYD_DATABASE_URL",
            format!("sqlite://{}/d.db", dir.display()),
        )
        .env("DEPLOYD_AUTH__DEPLOY_SECRET", "s3cret-deploy-value")
        .env("DEPLOYD_AUTH__RUNNER_TOKEN", "s3cret-runner-value")
        .env("DEPLOYD_AUTH__NODE_TOKEN", "s3cret-node-value")
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", "s3cret-admin-value");
    c
}

#[test]
fn print_config_layers_file_env_and_flags_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("deployd.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:7777\"\n[jobs]\nlease_seconds = 45\nmax_attempts = 5\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = base_cmd(dir.path())
        .env("DEPLOYD_JOBS__MAX_ATTEMPTS", "7")
        .env("DEPLOYD_AUTH__ADMIN_ALLOWED_IPS", "127.0.0.1/32,10.0.0.0/8")
        .args([
            "--config",
            cfg.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:8888",
            "print-config",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("listen = \"127.0.0.1:8888\""),
        "flag wins: {text}"
    );
    assert!(
        text.contains("lease_seconds = 45"),
        "file value kept: {text}"
    );
    assert!(text.contains("max_attempts = 7"), "env beats file: {text}");
    assert!(text.contains("\"10.0.0.0/8\""), "{text}");
    assert!(text.contains("deploy_secret = \"***\""), "{text}");
    assert!(!text.contains("s3cret"), "a secret was printed: {text}");
}

#[test]
fn unknown_settings_and_placeholder_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = base_cmd(dir.path())
        .env("DEPLOYD_JOBS__LEASE_SECONDZ", "3")
        .arg("print-config")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lease_secondz"));

    let out = base_cmd(dir.path())
        .env("DEPLOYD_AUTH__ADMIN_TOKEN", "CHANGE_ME_admin")
        .args(["--listen", "127.0.0.1:0", "serve"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to start") && err.contains("auth.admin_token"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Pick a free port by binding and releasing it; the daemon binds it itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut child = base_cmd(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}"), "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /internal/health HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                break buf;
            }
            Err(_) if Instant::now() < deadline => std::thread::yield_now(),
            Err(e) => panic!("deployd never listened: {e}"),
        }
    };
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(body.contains("\"code\":200"), "{body}");
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "deployd did not exit cleanly on SIGTERM: {status:?}"
    );
    let mut err = String::new();
    use std::io::Read;
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(err.contains("shutting down"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_database_password_never_reaches_print_config_or_debug_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = "mysql://funai:s3cret-db-pass@127.0.0.1:3306/deployd";
    let out = base_cmd(dir.path())
        .env("DEPLOYD_DATABASE_URL", url)
        .arg("print-config")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("database_url = \"mysql://funai:***@127.0.0.1:3306/deployd\""),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    let settings = deployd::Settings {
        database_url: url.into(),
        ..Default::default()
    };
    let debug = format!("{settings:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("funai:***@"), "{debug}");
}
