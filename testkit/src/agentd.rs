//! For tests and benchmarks: the services of scripts/services.sh, test images built FROM
//! scratch with a static busybox, and an agentd runtime hosted in-process on port 0.

use std::sync::Arc;
use std::time::Duration;

use ::agentd::docker::{Engine, RegistryAuth};
use ::agentd::runtime::Runtime;
use ::agentd::settings::{RuntimeSettings, Settings};
use protocol::Secret;
use protocol::agent::DeployAppRequest;
use tokio_util::sync::CancellationToken;

/// The same value deployd's test harness sends to runtime agents.
pub const RUNTIME_TOKEN: &str = "runtime-token";

pub struct Services {
    pub registry: String,
    pub user: String,
    pub password: String,
    pub busybox: String,
}

/// The services the suite needs. Under CI they must be there: a missing one fails loudly.
/// Elsewhere a test without them says so and passes over its body.
pub fn services() -> Option<Services> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("FUNAI_TEST_REGISTRY"),
        get("FUNAI_TEST_REGISTRY_USER"),
        get("FUNAI_TEST_REGISTRY_PASSWORD"),
    ) {
        (Some(registry), Some(user), Some(password)) => Some(Services {
            registry,
            user,
            password,
            busybox: get("FUNAI_TEST_BUSYBOX").unwrap_or_else(|| "/bin/busybox".into()),
        }),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "FUNAI_TEST_REGISTRY* are not set: run the suite through scripts/test.sh, which starts Docker and the registry"
                );
            }
            eprintln!(
                "SKIPPED: no test registry; run scripts/test.sh (or source /tmp/funai-test-services/env)"
            );
            None
        }
    }
}

pub fn rand_hex() -> String {
    use rand::Rng;
    format!("{:08x}", rand::rng().random::<u32>())
}

/// What a test image does.
#[derive(Clone, Copy, Debug)]
pub enum App<'a> {
    /// busybox httpd on 3000 serving `page`.
    Serves(&'a str),
    /// Prints a line and exits 3.
    Exits,
    /// Runs but never listens.
    Silent,
}

fn tar_context(busybox: &str, app: App<'_>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, path, data)
            .unwrap_or_else(|e| panic!("tar {path}: {e}"));
    };
    let bb = std::fs::read(busybox)
        .unwrap_or_else(|e| panic!("read {busybox} (apt install busybox-static): {e}"));
    add(&mut b, "busybox", &bb, 0o755);
    let (page, cmd) = match app {
        App::Serves(p) => (
            p.to_string(),
            r#"["httpd","-f","-p","3000","-h","/www"]"#.to_string(),
        ),
        App::Exits => (
            "-".into(),
            r#"["sh","-c","echo boom-from-the-app; echo second-line >&2; exit 3"]"#.into(),
        ),
        App::Silent => ("-".into(), r#"["sleep","3600"]"#.into()),
    };
    add(
        &mut b,
        "www/index.html",
        format!("{page}\n").as_bytes(),
        0o644,
    );
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\nCMD {cmd}\n"
    );
    add(&mut b, "Dockerfile", dockerfile.as_bytes(), 0o644);
    b.into_inner().expect("tar")
}

pub fn auth(s: &Services) -> RegistryAuth {
    RegistryAuth {
        server: s.registry.clone(),
        username: s.user.clone(),
        password: Secret::new(s.password.clone()),
    }
}

/// Builds the image of `app` as `{registry}/funaistudio/{repo}:{tag}` and pushes it.
pub async fn image(s: &Services, repo: &str, tag: &str, app: App<'_>) -> String {
    build_and_push(s, tar_context(&s.busybox, app), repo, tag).await
}

/// Builds as `{registry}/funaistudio/{repo}:{tag}`, and pushes, an image whose busybox `sh`
/// runs `script` with `page` at `/www/index.html`. There is nothing but busybox in it: the
/// script calls its applets as `/bin/busybox NAME` (`/bin/busybox sleep 5; exec /bin/busybox
/// httpd -f -p 3000 -h /www` serves after 5 s).
pub async fn script_image(s: &Services, repo: &str, tag: &str, page: &str, script: &str) -> String {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, path, data)
            .unwrap_or_else(|e| panic!("tar {path}: {e}"));
    };
    let bb = std::fs::read(&s.busybox)
        .unwrap_or_else(|e| panic!("read {} (apt install busybox-static): {e}", s.busybox));
    add("busybox", &bb, 0o755);
    add("www/index.html", format!("{page}\n").as_bytes(), 0o644);
    let cmd = serde_json::json!(["sh", "-c", script]);
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\nCMD {cmd}\n"
    );
    add("Dockerfile", dockerfile.as_bytes(), 0o644);
    build_and_push(s, b.into_inner().expect("tar"), repo, tag).await
}

/// Builds the image of a tar `context` (with its Dockerfile) as
/// `{registry}/funaistudio/{repo}:{tag}` and pushes it.
async fn build_and_push(s: &Services, context: Vec<u8>, repo: &str, tag: &str) -> String {
    let engine = Engine::connect("").await.unwrap();
    let name = format!("{}/funaistudio/{repo}:{tag}", s.registry);
    engine
        .build(context, "Dockerfile", &name, |_| {})
        .await
        .unwrap();
    engine.push(&name, Some(&auth(s)), |_| {}).await.unwrap();
    name
}

pub struct TestRuntime {
    pub rt: Arc<Runtime>,
    pub api: String,
    pub gateway: String,
    pub node: String,
    pub shutdown: CancellationToken,
    pub dir: tempfile::TempDir,
    pub settings: Settings,
}

impl Drop for TestRuntime {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn runtime_settings(s: &Services, node: &str, dir: &std::path::Path) -> RuntimeSettings {
    RuntimeSettings {
        listen: "127.0.0.1:0".into(),
        node_name: node.to_string(),
        node_token: Secret::new("node-token"),
        runtime_token: Secret::new(RUNTIME_TOKEN),
        data_dir: dir.display().to_string(),
        health_timeout_seconds: 20,
        drain_timeout_seconds: 10,
        stop_grace_seconds: 2,
        registry: s.registry.clone(),
        registry_username: s.user.clone(),
        registry_password: Secret::new(s.password.clone()),
        ..RuntimeSettings::default()
    }
}

/// An agentd runtime role on port 0 with its embedded gateway; `tweak` adjusts settings.
pub async fn start_runtime(
    s: &Services,
    deploy_url: &str,
    tweak: impl FnOnce(&mut RuntimeSettings),
) -> TestRuntime {
    let dir = tempfile::tempdir().unwrap();
    let node = format!("t-{}", rand_hex());
    start_runtime_in(s, deploy_url, &node, dir, tweak).await
}

pub async fn start_runtime_in(
    s: &Services,
    deploy_url: &str,
    node: &str,
    dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut RuntimeSettings),
) -> TestRuntime {
    crate::log_when_asked();
    let mut rs = runtime_settings(s, node, dir.path());
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", api.local_addr().unwrap());
    let gw_url = format!("http://{}", gw.local_addr().unwrap());
    rs.agent_base_url = api_url.clone();
    rs.gateway_base_url = gw_url.clone();
    tweak(&mut rs);
    let settings = Settings {
        deploy_url: deploy_url.to_string(),
        log_format: Default::default(),
        runner: None,
        runtime: Some(rs),
        check: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let rt = ::agentd::serve_runtime(&settings, api, Some(gw), shutdown.clone())
        .await
        .unwrap_or_else(|e| panic!("agentd runtime did not start: {e:#}"));
    TestRuntime {
        rt,
        api: api_url,
        gateway: gw_url,
        node: node.to_string(),
        shutdown,
        dir,
        settings,
    }
}

pub fn deploy_req(user: &str, app: &str, image: &str) -> DeployAppRequest {
    DeployAppRequest {
        user_id: user.into(),
        app_id: app.into(),
        image: image.into(),
        container_port: 3000,
        base_path: None,
        env: None,
        health_path: None,
        job_id: Some(1),
    }
}

impl TestRuntime {
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.api))
            .header("X-Runtime-Token", RUNTIME_TOKEN)
            .json(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or_default())
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.api))
            .header("X-Runtime-Token", RUNTIME_TOKEN)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or_default())
    }

    pub async fn deploy(&self, user: &str, app: &str, image: &str) -> (u16, serde_json::Value) {
        self.post(
            "/agent/apps/deploy",
            &serde_json::to_value(deploy_req(user, app, image)).unwrap_or_default(),
        )
        .await
    }

    /// GET through the gateway: status and body.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.gateway))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("gateway {path}: {e}"));
        let st = r.status().as_u16();
        (st, r.text().await.unwrap_or_default())
    }

    /// The names of this node's app containers, running or not.
    pub async fn container_names(&self) -> Vec<String> {
        let engine = Engine::connect("").await.unwrap();
        let mut v: Vec<String> = engine
            .list_by_label(&format!("funai.node={}", self.node), "funai-runtime-net")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        v.sort();
        v
    }

    /// Removes every container of this node (test cleanup).
    pub async fn cleanup(&self) {
        let engine = Engine::connect("").await.unwrap();
        for c in self.container_names().await {
            let _ = engine.remove(&c).await;
        }
    }
}

/// The Git server of scripts/services.sh: sshd on 127.0.0.1:2222, bare repositories.
pub struct GitServer {
    /// `ssh://git@127.0.0.1:2222/.../repos`: a repository's URL is this plus `/{name}.git`.
    pub url: String,
    pub repos: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub stranger_key: std::path::PathBuf,
    pub known_hosts: std::path::PathBuf,
    pub wrong_known_hosts: std::path::PathBuf,
}

pub fn git_server() -> Option<GitServer> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("FUNAI_TEST_GIT_URL"), get("FUNAI_TEST_GIT_REPOS")) {
        (Some(url), Some(repos)) => Some(GitServer {
            url,
            repos: repos.into(),
            key: get("FUNAI_TEST_GIT_KEY").unwrap_or_default().into(),
            stranger_key: get("FUNAI_TEST_GIT_STRANGER_KEY")
                .unwrap_or_default()
                .into(),
            known_hosts: get("FUNAI_TEST_GIT_KNOWN_HOSTS").unwrap_or_default().into(),
            wrong_known_hosts: get("FUNAI_TEST_GIT_WRONG_KNOWN_HOSTS")
                .unwrap_or_default()
                .into(),
        }),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "FUNAI_TEST_GIT_* are not set: run the suite through scripts/test.sh, which starts sshd"
                );
            }
            eprintln!(
                "SKIPPED: no test Git server; run scripts/test.sh (or source /tmp/funai-test-services/env)"
            );
            None
        }
    }
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Fun AI Test",
            "-c",
            "user.email=test@funai.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files of an app that busybox httpd serves on 3000: Dockerfile, busybox, www/index.html.
pub fn app_files(busybox: &str, page: &str) -> Vec<(String, Vec<u8>)> {
    let bb = std::fs::read(busybox).unwrap_or_else(|e| panic!("read {busybox}: {e}"));
    vec![
        (
            "Dockerfile".into(),
            b"FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"3000\", \"-h\", \"/www\"]\n".to_vec(),
        ),
        ("busybox".into(), bb),
        ("www/index.html".into(), format!("{page}\n").into_bytes()),
        (".dockerignore".into(), b"*.md\n".to_vec()),
        ("README.md".into(), b"not in the image\n".to_vec()),
    ]
}

impl GitServer {
    /// Creates the bare repository `{name}.git` with one commit of `files` on `main`;
    /// answers its SSH URL.
    pub fn create_repo(&self, name: &str, files: &[(String, Vec<u8>)]) -> String {
        let bare = self.repos.join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare"]);
        self.commit(name, files, "first");
        format!("{}/{name}.git", self.url)
    }

    /// Commits `files` (added or replaced) on `main` of `{name}.git`; answers the commit id.
    pub fn commit(&self, name: &str, files: &[(String, Vec<u8>)], message: &str) -> String {
        let bare = self.repos.join(format!("{name}.git"));
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        git(w, &["init", "-q"]);
        let has_main = std::process::Command::new("git")
            .current_dir(&bare)
            .args(["rev-parse", "--verify", "-q", "refs/heads/main"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if has_main {
            git(
                w,
                &["fetch", "-q", bare.to_str().unwrap_or_default(), "main"],
            );
            git(w, &["checkout", "-q", "-B", "main", "FETCH_HEAD"]);
        } else {
            git(w, &["checkout", "-q", "-b", "main"]);
        }
        for (path, data) in files {
            let p = w.join(path);
            std::fs::create_dir_all(p.parent().unwrap_or(w)).unwrap();
            std::fs::write(&p, data).unwrap();
            if data.starts_with(b"\x7fELF") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        git(w, &["add", "-A"]);
        git(w, &["commit", "-q", "--allow-empty", "-m", message]);
        git(
            w,
            &["push", "-q", bare.to_str().unwrap_or_default(), "main"],
        );
        let out = std::process::Command::new("git")
            .current_dir(w)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Tags `main` of `{name}.git` as `tag`.
    pub fn tag(&self, name: &str, tag: &str) {
        let bare = self.repos.join(format!("{name}.git"));
        git(&bare, &["tag", tag, "main"]);
    }
}

pub struct TestRunner {
    pub runner: Arc<::agentd::runner::Runner>,
    pub shutdown: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<()>>,
    pub workdir: tempfile::TempDir,
}

impl Drop for TestRunner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestRunner {
    /// Stops claiming and waits for running jobs.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

pub fn runner_settings(
    s: &Services,
    g: &GitServer,
    id: &str,
    workdir: &std::path::Path,
) -> ::agentd::settings::RunnerSettings {
    ::agentd::settings::RunnerSettings {
        runner_id: id.to_string(),
        runner_token: Secret::new("runner-token"),
        runtime_token: Secret::new(RUNTIME_TOKEN),
        workdir: workdir.display().to_string(),
        git_ssh_key: g.key.display().to_string(),
        git_known_hosts: g.known_hosts.display().to_string(),
        registry: s.registry.clone(),
        namespace: "funaistudio".into(),
        registry_username: s.user.clone(),
        registry_password: Secret::new(s.password.clone()),
        claim_wait_seconds: 5,
        ..Default::default()
    }
}

/// A runner claiming from `deploy_url` until stopped; `tweak` adjusts its settings.
pub async fn start_runner(
    s: &Services,
    g: &GitServer,
    deploy_url: &str,
    id: &str,
    tweak: impl FnOnce(&mut ::agentd::settings::RunnerSettings),
) -> TestRunner {
    let workdir = tempfile::tempdir().unwrap();
    let mut rs = runner_settings(s, g, id, workdir.path());
    tweak(&mut rs);
    let runner = ::agentd::runner::Runner::start(rs, deploy_url)
        .await
        .expect("runner did not start");
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(runner.clone().run(shutdown.clone()));
    TestRunner {
        runner,
        shutdown,
        handle: Some(handle),
        workdir,
    }
}

/// Creates a BUILD_AND_DEPLOY job; panics on refusal (tests call it with valid payloads).
pub async fn create_job(
    c: &protocol::client::DeployClient,
    p: protocol::job::JobPayload,
) -> protocol::job::Job {
    c.create_job(&protocol::job::CreateJobRequest {
        job_type: Default::default(),
        payload: p,
    })
    .await
    .expect("create job")
}

/// Follows a job's log until it is complete; answers the final job and the whole log.
pub async fn follow_job(
    c: &protocol::client::DeployClient,
    id: i64,
) -> (protocol::job::Job, String) {
    let mut offset = 0;
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let chunk = c.read_log(id, offset, 20).await.unwrap();
        text.push_str(&chunk.content);
        offset = chunk.next_offset;
        if chunk.complete {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} did not finish:\n{text}"
        );
    }
    (c.get_job(id).await.unwrap(), text)
}

/// Waits until deployd lists the node `node` (its first heartbeat arrived).
pub async fn wait_for_node(c: &protocol::client::DeployClient, node: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !c
        .list_nodes()
        .await
        .map(|n| n.iter().any(|x| x.node_name == node))
        .unwrap_or(false)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "node {node} never heartbeated"
        );
        tokio::task::yield_now().await;
    }
}

/// The suite's web app (`funai-testapp` of this crate: a WebSocket echo, Server-Sent Events,
/// streamed uploads) built as `{registry}/funaistudio/{repo}:{version}` FROM scratch with the
/// libraries it links, and pushed; `version` is in every answer. The binary is
/// `FUNAI_TEST_APP`, else `funai-testapp` beside the test binary's directory (scripts/test.sh
/// builds it first).
pub async fn testapp_image(s: &Services, repo: &str, version: &str) -> String {
    let bin = std::env::var("FUNAI_TEST_APP")
        .ok()
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            // target/debug/deps/it-HASH -> target/debug/funai-testapp
            Some(exe.parent()?.parent()?.join("funai-testapp"))
        })
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("no funai-testapp binary: run `cargo build -p functl-testkit --bin funai-testapp` (scripts/test.sh does) or set FUNAI_TEST_APP")
        });
    let ldd = std::process::Command::new("ldd")
        .arg(&bin)
        .output()
        .unwrap_or_else(|e| panic!("ldd {}: {e}", bin.display()));
    let mut files = vec![("funai-testapp".to_string(), bin.clone())];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push((p.trim_start_matches('/').to_string(), p.into()));
        }
    }
    let mut b = tar::Builder::new(Vec::new());
    for (at, from) in &files {
        let data = std::fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, format!("root/{at}"), data.as_slice())
            .unwrap_or_else(|e| panic!("tar {at}: {e}"));
    }
    let dockerfile = format!(
        "FROM scratch\nCOPY root/ /\nEXPOSE 3000\nENTRYPOINT [\"/funai-testapp\"]\nCMD [\"{version}\"]\n"
    );
    let mut h = tar::Header::new_gnu();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())
        .expect("tar Dockerfile");
    build_and_push(s, b.into_inner().expect("tar"), repo, version).await
}

/// Asks `probe` until it answers, for at most `limit`; a test that never sees it fails
/// naming `what`.
pub async fn until<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
