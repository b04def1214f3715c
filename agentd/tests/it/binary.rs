//! The agentd binary: print-config with secrets redacted, refusal of placeholder secrets,
//! and a clean exit on SIGTERM.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_agentd");

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("agentd.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn print_config_hides_secrets_and_layers_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "[runtime]\nnode_name = \"rt-07\"\nnode_token = \"sekrit-node-value\"\nruntime_token = \"sekrit-rt-value\"\n\
         registry_password = \"sekrit-registry-value\"\n[runtime.mongo]\nurl = \"mongodb://u:sekrit-mongo@127.0.0.1:27017\"\n",
    );
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "print-config"])
        .env("AGENTD_RUNTIME__HEALTH_TIMEOUT_SECONDS", "42")
        .env("AGENTD_DEPLOY_URL", "http://127.0.0.1:7777")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("node_name = \"rt-07\""), "{text}");
    assert!(text.contains("health_timeout_seconds = 42"), "{text}");
    assert!(
        text.contains("deploy_url = \"http://127.0.0.1:7777\""),
        "{text}"
    );
    assert!(text.contains("node_token = \"***\""), "{text}");
    assert!(!text.contains("sekrit"), "a secret was printed: {text}");
}

#[test]
fn placeholder_secrets_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "[runtime]\nnode_token = \"CHANGE_ME\"\nruntime_token = \"x-real\"\n",
    );
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runtime.node_token") && err.contains("CHANGE_ME"),
        "{err}"
    );

    let cfg = write(dir.path(), "[runtime]\nnode_tokn = \"x\"\n");
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("node_tokn"));
}

#[test]
fn runtime_role_exits_cleanly_on_sigterm() {
    if std::env::var("FUNAI_TEST_DOCKER").is_err() {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "Docker is required under CI"
        );
        eprintln!("SKIPPED: no Docker (run scripts/test.sh)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap()
    };
    let (api, gw) = (port(), port());
    let cfg = write(
        dir.path(),
        &format!(
            "deploy_url = \"http://127.0.0.1:9\"\n[runtime]\nlisten = \"127.0.0.1:{api}\"\nnode_name = \"t-sigterm\"\n\
             node_token = \"n-tok\"\nruntime_token = \"r-tok\"\ndata_dir = \"{}\"\n[runtime.gateway]\nlisten = \"127.0.0.1:{gw}\"\n",
            dir.path().display()
        ),
    );
    let mut child = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", api)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", gw)).is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agentd never listened"
        );
        std::thread::yield_now();
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    use std::io::Read;
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(err.contains("shutting down"), "{err}");
}

#[test]
fn man_pages_have_not_drifted() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Command::new(BIN)
        .args([
            "generate-man",
            "--dir",
            tmp.path().to_str().unwrap_or_default(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../man");
    let list = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("agentd"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(
        list(tmp.path()),
        list(&committed),
        "regenerate: agentd generate-man --dir man"
    );
    for f in list(tmp.path()) {
        assert!(
            std::fs::read(tmp.path().join(&f)).ok() == std::fs::read(committed.join(&f)).ok(),
            "man/{f} drifted: agentd generate-man --dir man"
        );
    }
}

#[test]
fn packaged_example_configs_parse_and_keep_their_placeholders_out_of_print_config() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config");
    for f in ["agentd-runner.toml", "agentd-runtime.toml"] {
        let out = Command::new(BIN)
            .args([
                "--config",
                dir.join(f).to_str().unwrap_or_default(),
                "print-config",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("CHANGE_ME"),
            "{f}: a secret was printed"
        );
        // And the daemon refuses to run on them until the placeholders are replaced.
        let run = Command::new(BIN)
            .args(["--config", dir.join(f).to_str().unwrap_or_default(), "run"])
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{f}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("CHANGE_ME placeholder"),
            "{f}"
        );
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // One build script run made both the binary and these tests.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("agentd {}\n", env!("FUNAI_VERSION"))
    );
    testkit::assert_version_of_this_checkout(
        env!("FUNAI_VERSION"),
        env!("CARGO_PKG_VERSION"),
        env!("FUNAI_COMMIT"),
        env!("CARGO_MANIFEST_DIR"),
    );
}

#[test]
fn log_format_is_text_or_json_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "log_format = \"xml\"\n");
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("log_format") && err.contains("`text`") && err.contains("`json`"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap_or_default(), "print-config"])
        .env("AGENTD_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("log_format = \"json\""),
        "{out:?}"
    );
}

/// A TCP port below 1024 that nothing on 127.0.0.1 listens on.
fn free_low_port() -> u16 {
    (600..1000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The packaged unit runs agentd as an unprivileged user with one capability: binding a port
/// below 1024, for a gateway on 80/443. Read from the unit, then tried with the real binary
/// as `nobody` with and without that capability (the same ambient capability systemd gives).
#[test]
fn the_packaged_unit_lets_the_unprivileged_gateway_listen_on_port_80() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/systemd/agentd.service"
    ))
    .unwrap();
    let value = |key: &str| {
        unit.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .next_back()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(value("User"), "funai");
    assert_eq!(value("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
    assert_eq!(value("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");

    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0);
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: this test must bind as another user"
        );
        eprintln!("SKIPPED: binding as nobody needs root to switch users");
        return;
    }
    let Some(docker_gid) = std::process::Command::new("getent")
        .args(["group", "docker"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|l| l.split(':').nth(2).map(|g| g.trim().to_string()))
        .filter(|g| !g.is_empty())
    else {
        panic!("no docker group: the runtime role reaches the engine through it");
    };
    // Everything nobody needs, outside any private directory of the checkout.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("agentd");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (api, gw) = (free_port(), free_low_port());
    let cfg = write(
        dir.path(),
        &format!(
            "deploy_url = \"http://127.0.0.1:9\"\n[runtime]\nlisten = \"127.0.0.1:{api}\"\nnode_name = \"caps-{api}\"\n\
             node_token = \"node-token-caps\"\nruntime_token = \"runtime-token-caps\"\ndata_dir = \"{}\"\n\
             [runtime.gateway]\nlisten = \"127.0.0.1:{gw}\"\n",
            data.display()
        ),
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = |caps: bool| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534"]);
        c.arg(format!("--groups={docker_gid}"));
        if caps {
            c.args([
                "--inh-caps=+net_bind_service",
                "--ambient-caps=+net_bind_service",
            ]);
        }
        c.arg(&bin)
            .args(["--config", cfg.to_str().unwrap_or_default(), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };

    // Without the capability: refused, saying what grants it.
    let out = as_nobody(false).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{gw} (runtime.gateway.listen)"
        )) && err.contains("CAP_NET_BIND_SERVICE"),
        "{err}"
    );

    // With it, as the unit gives it: the gateway listens and the agent answers.
    let mut child = as_nobody(true).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let healthy = || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", api)) else {
            return false;
        };
        let mut answer = String::new();
        s.write_all(b"GET /internal/health HTTP/1.0\r\nHost: agentd\r\n\r\n")
            .and_then(|_| s.read_to_string(&mut answer))
            .is_ok()
            && answer.starts_with("HTTP/1.")
            && answer.get(8..).is_some_and(|r| r.starts_with(" 200"))
    };
    loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", gw)).is_ok() && healthy();
        if up {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("agentd exited ({status}) as nobody with the capability: {err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never listened on port {gw}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "agentd did not stop cleanly on SIGTERM: {status}"
    );
}
