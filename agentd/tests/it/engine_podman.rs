//! agentd on podman: a podman that cannot find its container-init binary is refused at
//! start with the fix, before any app container is made.

use std::process::Stdio;
use std::time::{Duration, Instant};

use agentd::settings::RuntimeSettings;

/// A second podman API service that does not see /usr/libexec/podman (a mount namespace of
/// its own with an empty directory over it): catatonit is missing for it alone.
struct PodmanWithoutInit {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for PodmanWithoutInit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn podman_on_this_run() -> bool {
    let podman = std::env::var("DOCKER_HOST").is_ok_and(|h| h.contains("podman"));
    if !podman && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPED: DOCKER_HOST is not podman's socket (scripts/services.sh podman_up)");
    }
    podman
}

#[tokio::test]
async fn a_podman_without_its_init_binary_is_refused_with_the_fix() {
    if std::env::var("FUNAI_TEST_DOCKER").is_err() || !podman_on_this_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("podman.sock");
    let child = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs tmpfs /usr/libexec/podman && exec podman system service --time=0 unix://{}",
            sock.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare and podman (apt install podman util-linux)");
    let svc = PodmanWithoutInit { child, dir };
    let host = format!("unix://{}", sock.display());
    let deadline = Instant::now() + Duration::from_secs(30);
    while agentd::docker::Engine::connect(&host).await.is_err() {
        assert!(Instant::now() < deadline, "podman did not answer on {host}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let network = format!("funai-noinit-{}", std::process::id());
    let settings = RuntimeSettings {
        node_name: "t-noinit".into(),
        docker_host: host.clone(),
        data_dir: svc.dir.path().display().to_string(),
        network: network.clone(),
        ..Default::default()
    };
    let Err(e) = agentd::runtime::Runtime::start(settings, None).await else {
        panic!("agentd started on a podman without its init binary");
    };
    let said = e.to_string();
    assert!(
        said.contains("podman cannot find its container-init binary")
            && said.contains("apt install catatonit"),
        "{said}"
    );
    // Refused before anything was made: no network, no probe left behind.
    let engine = agentd::docker::Engine::connect(&host).await.unwrap();
    let nets = engine
        .raw()
        .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
        .await
        .unwrap();
    assert!(
        !nets
            .iter()
            .any(|n| n.name.as_deref() == Some(network.as_str()))
    );
    let images = engine
        .raw()
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();
    assert!(
        !images
            .iter()
            .flat_map(|i| i.repo_tags.iter())
            .any(|t| t.contains("funai-agentd-probe")),
        "the probe image was left behind"
    );
    // The same engine with init off starts (nothing else is missing).
    let settings = RuntimeSettings {
        node_name: format!("t-noinit-{}", std::process::id()),
        docker_host: host,
        data_dir: svc.dir.path().display().to_string(),
        network: network.clone(),
        init: false,
        ..Default::default()
    };
    let rt = agentd::runtime::Runtime::start(settings, None)
        .await
        .unwrap();
    assert_eq!(rt.engine_info().kind, "podman");
    let _ = engine.raw().remove_network(&network).await;
}
