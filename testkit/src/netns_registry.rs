//! A registry that speaks plain HTTP on port 80 at an address that is not loopback, as the
//! estate's Harbor does: Debian's `docker-registry` inside a network namespace of the test's
//! own, joined to the host by a veth pair in a /24 of 10.199.0.0/16 that nothing else on
//! the machine uses. The machine's Docker engine does not list it in its insecure-registries,
//! so it tries HTTPS on 443 there and is refused. [`NetnsRegistry::engine`] starts a second,
//! throw-away Docker engine that does list it (as an operator who fixed the runner would),
//! its networks inside the same /24.
//!
//! Namespaces carry `fpr{pid}x{hex}`; what a killed run left behind is swept by the next.
//! Needs root; under CI a machine that cannot run it fails the test, elsewhere the test
//! says SKIPPED.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::agentd::docker::Engine;

/// The /16 the test registries live in; only their namespaces and veths ever hold it.
const NET: &str = "10.199";
/// Where the throw-away engines keep their state: one directory per engine, named after
/// the test process, so that a later run can tell which ones are left over.
const ENGINES_DIR: &str = "/tmp/funai-test-engines";

/// /24s taken by this process (the machine's address list tells about other processes).
static TAKEN: Mutex<Option<HashSet<u8>>> = Mutex::new(None);

pub struct NetnsRegistry {
    /// `10.199.K.2`: how images name it (port 80, unsaid).
    pub addr: String,
    /// The host's end of the veth pair, `10.199.K.1`.
    pub host_addr: String,
    pub user: String,
    pub password: String,
    /// The namespace it runs in.
    pub netns: String,
    octet: u8,
    dir: tempfile::TempDir,
    child: Option<Child>,
    http: reqwest::Client,
}

/// Under CI a missing capability fails the test; elsewhere it says SKIPPED and passes.
fn skip(test: &str, why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {why}");
    }
    eprintln!("SKIPPED: {test}: {why}");
    false
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// What the test needs that this machine lacks, if anything.
fn missing(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("network namespaces need root".into());
    }
    tools
        .iter()
        .find(|t| which(t).is_none())
        .map(|t| format!("{t} is not installed (scripts/services.sh installs it)"))
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pid_alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes namespaces and stops engines that a killed earlier run left: only names of
/// this module's form whose test process is gone.
fn sweep_leftovers() {
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let Some((pid, _)) = name.strip_prefix("fpr").and_then(|r| r.split_once('x')) else {
                continue;
            };
            if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) && !pid_alive(pid) {
                delete_netns(name);
            }
        }
    }
    let Ok(dirs) = std::fs::read_dir(ENGINES_DIR) else {
        return;
    };
    for d in dirs.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let Some((pid, _)) = name.split_once('x') else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let dir = d.path();
        // The engine is ours only if its command line names our directory.
        if let Ok(engine_pid) = std::fs::read_to_string(dir.join("dockerd.pid")) {
            let engine_pid = engine_pid.trim();
            let cmdline = std::fs::read(format!("/proc/{engine_pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                stop_pid(engine_pid, Duration::from_secs(20));
            }
        }
        if let Ok(bridge) = std::fs::read_to_string(dir.join("bridge")) {
            let _ = Command::new("ip")
                .args(["link", "del", bridge.trim()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn delete_netns(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).status();
}

/// SIGTERM, then SIGKILL once `grace` has passed.
fn stop_pid(pid: &str, grace: Duration) {
    let _ = Command::new("kill").args(["-TERM", pid]).status();
    let deadline = Instant::now() + grace;
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
}

/// A /24 of 10.199.0.0/16 that no interface or route of this machine uses yet.
fn free_octet() -> u8 {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    let used = format!("{}\n{}", sh(&["ip", "-o", "addr"]), sh(&["ip", "route"]));
    for _ in 0..512 {
        let k = rand::random::<u8>().max(1);
        if !taken.contains(&k) && !used.contains(&format!("{NET}.{k}.")) {
            taken.insert(k);
            return k;
        }
    }
    panic!("no free /24 left in {NET}.0.0/16");
}

impl NetnsRegistry {
    /// Starts it, with htpasswd credentials of its own; `None` (SKIPPED) where the machine
    /// cannot, outside CI.
    pub async fn start(test: &str) -> Option<NetnsRegistry> {
        if let Some(why) = missing(&["ip", "docker-registry", "htpasswd"]) {
            skip(test, &why);
            return None;
        }
        sweep_leftovers();
        let octet = free_octet();
        let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let netns = format!("fpr{}x{tag}", std::process::id());
        let veth = format!("fpr{tag}");
        let host_addr = format!("{NET}.{octet}.1");
        let addr = format!("{NET}.{octet}.2");
        let dir = tempfile::tempdir().unwrap();
        let user = "robot$funai-test".to_string();
        let password = format!("plain-{:016x}", rand::random::<u64>());
        let mut reg = NetnsRegistry {
            addr: addr.clone(),
            host_addr: host_addr.clone(),
            user,
            password,
            netns: netns.clone(),
            octet,
            dir,
            child: None,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        sh(&["ip", "netns", "add", &netns]);
        sh(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
        ]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{host_addr}/30"),
            "dev",
            &veth,
        ]);
        sh(&["ip", "link", "set", &veth, "up"]);
        sh(&[
            "ip",
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{addr}/30"),
            "dev",
            "eth0",
        ]);
        sh(&["ip", "-n", &netns, "link", "set", "eth0", "up"]);
        sh(&["ip", "-n", &netns, "link", "set", "lo", "up"]);

        let htpasswd = sh(&["htpasswd", "-Bbn", &reg.user, &reg.password]);
        let d = reg.dir.path();
        std::fs::write(d.join("htpasswd"), htpasswd).unwrap();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::write(
            d.join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}:80\nauth:\n  htpasswd:\n    realm: funai-plain\n    path: {}\n",
                d.join("data").display(),
                d.join("htpasswd").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &netns])
            .arg(which("docker-registry").unwrap_or_default())
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e}"));
        reg.child = Some(child);
        reg.wait_ready(Duration::from_secs(20)).await;
        Some(reg)
    }

    async fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let url = format!("http://{}/v2/", self.addr);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status() == reqwest::StatusCode::UNAUTHORIZED
            {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                panic!("docker-registry exited ({st}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the registry in {} does not answer {url}:\n{}",
                self.netns,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Monolithic blob upload: POST, then PUT the bytes with their digest.
    async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let resp = self
            .http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base()))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .expect("start blob upload");
        assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED, "start upload");
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("upload Location")
            .to_string();
        let mut url = reqwest::Url::parse(&self.base())
            .and_then(|b| b.join(&location))
            .expect("upload URL");
        url.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .http
            .put(url)
            .basic_auth(&self.user, Some(&self.password))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("finish blob upload");
        assert_eq!(resp.status(), reqwest::StatusCode::CREATED, "finish upload");
        digest
    }

    /// A one-layer image whose config says it was built at `created` (RFC 3339), put
    /// through the registry API under each of `tags`; answers the manifest digest.
    pub async fn push_image(&self, repo: &str, created: &str, tags: &[&str]) -> String {
        let layer = format!("layer of {repo} built {created}").into_bytes();
        let layer_digest = self.push_blob(repo, &layer).await;
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }))
        .unwrap();
        let config_digest = self.push_blob(repo, &config).await;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.len(),
                "digest": layer_digest,
            }],
        }))
        .unwrap();
        for tag in tags {
            let resp = self
                .http
                .put(format!("{}/v2/{repo}/manifests/{tag}", self.base()))
                .basic_auth(&self.user, Some(&self.password))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/vnd.docker.distribution.manifest.v2+json",
                )
                .body(manifest.clone())
                .send()
                .await
                .expect("put manifest");
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            assert_eq!(status, reqwest::StatusCode::CREATED, "put manifest: {text}");
        }
        sha256_digest(&manifest)
    }

    /// The tags of `repo`, sorted (none for an unknown repository).
    pub async fn tags(&self, repo: &str) -> Vec<String> {
        let resp = self
            .http
            .get(format!("{}/v2/{repo}/tags/list", self.base()))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .expect("list tags");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Vec::new();
        }
        let v: serde_json::Value = resp.json().await.expect("tags JSON");
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// A Docker engine of the test's own whose insecure-registries lists each of `insecure`
    /// (`host[:port]` or a CIDR), with the registry's credentials at hand; its bridges lie
    /// in this registry's /24. `None` (SKIPPED) where dockerd is missing, outside CI.
    pub async fn engine(&self, test: &str, insecure: &[&str]) -> Option<TestEngine> {
        if let Some(why) = missing(&["dockerd", "containerd", "runc"]) {
            skip(test, &why);
            return None;
        }
        Some(TestEngine::start(self.octet, insecure).await)
    }
}

impl Drop for NetnsRegistry {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The veth goes with the namespace.
        delete_netns(&self.netns);
        if let Some(t) = TAKEN.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            t.remove(&self.octet);
        }
    }
}

/// A second dockerd: its own data and exec roots, socket, containerd, default bridge and
/// address pool; no iptables, no IP forwarding change. The machine's engine is not touched
/// (its `docker0` stays: this one gets a bridge of its own, never `--bridge none`, with
/// which dockerd deletes `docker0`).
pub struct TestEngine {
    /// `unix:///...`: agentd's `docker_host`, and `DOCKER_HOST` for functl.
    pub host: String,
    dir: PathBuf,
    bridge: String,
    child: Option<Child>,
}

impl TestEngine {
    async fn start(octet: u8, insecure: &[&str]) -> TestEngine {
        std::fs::create_dir_all(ENGINES_DIR).unwrap();
        let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let dir = PathBuf::from(ENGINES_DIR).join(format!("{}x{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bridge = format!("fpe{tag}");
        std::fs::write(dir.join("bridge"), &bridge).unwrap();
        sh(&["ip", "link", "add", &bridge, "type", "bridge"]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{NET}.{octet}.65/27"),
            "dev",
            &bridge,
        ]);
        sh(&["ip", "link", "set", &bridge, "up"]);
        // An empty config file: the machine's daemon.json names its own data root.
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let socket = dir.join("docker.sock");
        let mut args: Vec<String> = [
            "--config-file",
            &dir.join("daemon.json").display().to_string(),
            "--data-root",
            &dir.join("data").display().to_string(),
            "--exec-root",
            &dir.join("exec").display().to_string(),
            "--pidfile",
            &dir.join("dockerd.pid").display().to_string(),
            "--host",
            &format!("unix://{}", socket.display()),
            "--bridge",
            &bridge,
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--storage-driver",
            "vfs",
            "--default-address-pool",
            &format!("base={NET}.{octet}.128/25,size=28"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for i in insecure {
            args.push("--insecure-registry".into());
            args.push(i.to_string());
        }
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new(which("dockerd").unwrap_or_else(|| "dockerd".into()))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("dockerd: {e}"));
        let mut engine = TestEngine {
            host: format!("unix://{}", socket.display()),
            dir,
            bridge,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if socket.exists() && Engine::connect(&engine.host).await.is_ok() {
                return engine;
            }
            if let Some(Ok(Some(st))) = engine.child.as_mut().map(Child::try_wait) {
                panic!("dockerd exited ({st}):\n{}", engine.log());
            }
            assert!(
                Instant::now() < deadline,
                "dockerd does not answer on {}:\n{}",
                engine.host,
                engine.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    pub async fn connect(&self) -> Engine {
        Engine::connect(&self.host).await.unwrap()
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        // dockerd stops its containers and its containerd when it gets SIGTERM.
        if let Some(c) = &mut self.child {
            stop_pid(&c.id().to_string(), Duration::from_secs(30));
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sha256:HEX` of `bytes`, as the registry names content (coreutils' `sha256sum`: testkit
/// links no hash crate).
fn sha256_digest(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(bytes).expect("write to sha256sum");
    }
    let out = child.wait_with_output().expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        text.split_whitespace().next().unwrap_or_default()
    )
}
