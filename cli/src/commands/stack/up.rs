//! `functl up [--demo]`: start deployd and agentd (runner + runtime + gateway) on this
//! machine with generated secrets under one directory; `--demo` deploys examples/hello-app.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use protocol::Secret;
use protocol::client::DeployClient;
use protocol::job::{CreateJobRequest, JobPayload, JobType};

use super::state::{Daemon, Stack, find_binary, proc_stat};
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output;

/// The files of examples/hello-app, carried in the binary so the demo works from anywhere.
const HELLO_DOCKERFILE: &str = include_str!("../../../../examples/hello-app/Dockerfile");
const HELLO_INDEX: &str = include_str!("../../../../examples/hello-app/www/index.html");
const HELLO_DOCKERIGNORE: &str = include_str!("../../../../examples/hello-app/.dockerignore");
const HELLO_README: &str = include_str!("../../../../examples/hello-app/README.md");

#[derive(Debug, Args)]
pub struct Cmd {
    /// Where the stack keeps its state, configs, logs and database
    #[arg(long, default_value = ".funai", value_name = "DIR")]
    dir: PathBuf,
    /// Deploy examples/hello-app through the whole pipeline and print the page it serves
    #[arg(long)]
    demo: bool,
    /// deployd's port on 127.0.0.1
    #[arg(long, default_value_t = 7002, value_name = "PORT")]
    deployd_port: u16,
    /// agentd's runtime API port on 127.0.0.1
    #[arg(long, default_value_t = 7005, value_name = "PORT")]
    agent_port: u16,
    /// The gateway's port on 127.0.0.1 (apps at /runtime/{appId}/)
    #[arg(long, default_value_t = 8080, value_name = "PORT")]
    gateway_port: u16,
}

fn secret() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn port_free(port: u16, flag: &str) -> anyhow::Result<()> {
    std::net::TcpListener::bind(("127.0.0.1", port))
        .map(drop)
        .map_err(|e| {
            anyhow::anyhow!("port 127.0.0.1:{port} is taken ({e}): choose another with {flag}")
        })
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", self.dir.display()))?;
        let dir = self.dir.canonicalize()?;
        let (stack, mut children) = match Stack::load(&dir)? {
            Some(s) if s.daemons.iter().all(Daemon::alive) => {
                eprintln!("the stack in {} is already up", dir.display());
                (s, Vec::new())
            }
            Some(s) => {
                // Stale (a reboot, a killed daemon): stop what is left, then start afresh.
                let gone: Vec<&str> = s
                    .daemons
                    .iter()
                    .filter(|d| !d.alive())
                    .map(|d| d.name.as_str())
                    .collect();
                let mut stopped = Vec::new();
                for d in &s.daemons {
                    if d.stop(Duration::from_secs(10))? {
                        stopped.push(format!("{} (pid {})", d.name, d.pid));
                    }
                }
                eprintln!(
                    "the stack in {} was stale: {} not running{}; starting it afresh",
                    dir.display(),
                    gone.join(" and "),
                    if stopped.is_empty() {
                        String::new()
                    } else {
                        format!(", stopped {}", stopped.join(", "))
                    }
                );
                self.start(&dir).await?
            }
            None => self.start(&dir).await?,
        };
        let cfg: crate::config::Config =
            toml::from_str(&std::fs::read_to_string(stack.functl_config())?)?;
        let client = DeployClient::new(&stack.deploy_url)
            .deploy_secret(Some(cfg.deploy_secret.clone()))
            .admin_token(Some(cfg.admin_token.clone()));
        if let Err(e) = wait_ready(&client, &stack, &mut children).await {
            if children.is_empty() {
                return Err(e);
            }
            // What this `up` started goes again: no half stack holding the ports.
            let mut stopped = Vec::new();
            for d in &stack.daemons {
                if d.stop(Duration::from_secs(10))? {
                    stopped.push(d.name.as_str());
                }
            }
            let _ = std::fs::remove_file(Stack::path(&stack.dir));
            if stopped.is_empty() {
                return Err(e);
            }
            return Err(e.context(format!(
                "stopped {} again; logs stay in {}",
                stopped.join(" and "),
                stack.dir.join("logs").display()
            )));
        }
        drop(children);
        forget_ghost_nodes(&client, &stack).await?;
        if !ctx.json() {
            output::println(&format!(
                "stack up in {}\n  deployd  {}\n  agentd   {} (runner local-runner, node {})\n  gateway  {}\n  logs     {}\nuse it:   export FUNCTL_CONFIG={}",
                dir.display(),
                stack.deploy_url,
                stack.agent_url,
                stack.node_name,
                stack.gateway_url,
                dir.join("logs").display(),
                stack.functl_config().display()
            ))?;
        }
        if !self.demo {
            if ctx.json() {
                crate::output::json::print(&stack)?;
            }
            return Ok(Exit::Success);
        }
        self.demo(&client, &stack, ctx).await
    }

    async fn start(&self, dir: &Path) -> anyhow::Result<(Stack, Vec<Started>)> {
        port_free(self.deployd_port, "--deployd-port")?;
        port_free(self.agent_port, "--agent-port")?;
        port_free(self.gateway_port, "--gateway-port")?;
        let deployd_bin = find_binary("deployd")?;
        let agentd_bin = find_binary("agentd")?;
        for sub in ["logs", "runner", "runtime"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let (deploy, runner, node, admin, runtime) =
            (secret(), secret(), secret(), secret(), secret());
        let node_name = node_identity(dir)?;
        let deploy_url = format!("http://127.0.0.1:{}", self.deployd_port);
        let agent_url = format!("http://127.0.0.1:{}", self.agent_port);
        let gateway_url = format!("http://127.0.0.1:{}", self.gateway_port);
        let deployd_cfg = dir.join("deployd.toml");
        write_private(
            &deployd_cfg,
            &format!(
                "# written by functl up\nlisten = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{db}\"\n\n[auth]\ndeploy_secret = \"{deploy}\"\nrunner_token = \"{runner}\"\nnode_token = \"{node}\"\nadmin_token = \"{admin}\"\nruntime_token = \"{runtime}\"\n\n[jobs]\nallow_local_repos = true\n\n[nodes]\n# The one node is this machine: place apps unless its disk is all but full.\ndisk_free_min_pct = 1.0\n",
                port = self.deployd_port,
                db = dir.join("deployd.db").display(),
            ),
        )?;
        let agentd_cfg = dir.join("agentd.toml");
        write_private(
            &agentd_cfg,
            &format!(
                "# written by functl up: both roles on this machine, one Docker engine, no registry\ndeploy_url = \"{deploy_url}\"\n\n[runner]\nrunner_id = \"local-runner\"\nrunner_token = \"{runner}\"\nruntime_token = \"{runtime}\"\nworkdir = \"{work}\"\nregistry = \"\"\nallow_local_repos = true\n\n[runtime]\nlisten = \"127.0.0.1:{ap}\"\nnode_name = \"{node_name}\"\nnode_token = \"{node}\"\nruntime_token = \"{runtime}\"\nagent_base_url = \"{agent_url}\"\ngateway_base_url = \"{gateway_url}\"\ndata_dir = \"{data}\"\npull = \"if-missing\"\nstop_grace_seconds = 5\n\n[runtime.gateway]\nkind = \"embedded\"\nlisten = \"127.0.0.1:{gp}\"\n",
                work = dir.join("runner").display(),
                ap = self.agent_port,
                data = dir.join("runtime").display(),
                gp = self.gateway_port,
            ),
        )?;
        let functl_cfg = crate::config::Config {
            deploy_url: deploy_url.clone(),
            deploy_secret: Secret::new(deploy.clone()),
            admin_token: Secret::new(admin.clone()),
            ..Default::default()
        };
        // The config's Serialize hides secrets; this file must hold them.
        write_private(
            &dir.join("functl.toml"),
            &format!(
                "# written by functl up: export FUNCTL_CONFIG={}\ndeploy_url = \"{}\"\ndeploy_secret = \"{deploy}\"\nadmin_token = \"{admin}\"\n",
                dir.join("functl.toml").display(),
                functl_cfg.deploy_url
            ),
        )?;
        let spawn = |name: &str,
                     bin: &Path,
                     args: &[&str],
                     cfg: &Path|
         -> anyhow::Result<(Daemon, Started)> {
            use std::os::unix::process::CommandExt;
            let log = dir.join("logs").join(format!("{name}.log"));
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            let child = std::process::Command::new(bin)
                .args(["--config", &cfg.to_string_lossy()])
                .args(args)
                .env_remove("DEPLOYD_CONFIG")
                .env_remove("AGENTD_CONFIG")
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                // Its own process group: a Ctrl-C to functl does not stop the stack.
                .process_group(0)
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", bin.display()))?;
            let daemon = Daemon {
                name: name.to_string(),
                pid: child.id(),
                binary: bin.canonicalize()?,
                config: cfg.to_path_buf(),
                log,
                started: proc_stat(child.id()).map(|(_, t)| t),
            };
            Ok((daemon, (name.to_string(), child)))
        };
        let (d, dc) = spawn("deployd", &deployd_bin, &["serve"], &deployd_cfg)?;
        let (a, ac) = spawn("agentd", &agentd_bin, &["run"], &agentd_cfg)?;
        let stack = Stack {
            dir: dir.to_path_buf(),
            deploy_url,
            agent_url,
            gateway_url,
            node_name,
            started_at: chrono::Utc::now().to_rfc3339(),
            daemons: vec![d, a],
        };
        stack.save()?;
        Ok((stack, vec![dc, ac]))
    }

    async fn demo(&self, client: &DeployClient, stack: &Stack, ctx: &Ctx) -> anyhow::Result<Exit> {
        let server = find_binary("funai-hello")?;
        let repo = stack.dir.join("demo").join("hello-app");
        write_demo_repo(&repo, &server)?;
        let url = format!("file://{}", repo.display());
        let job = client
            .create_job(&CreateJobRequest {
                job_type: JobType::BuildAndDeploy,
                payload: JobPayload {
                    app_id: "hello".into(),
                    user_id: Some("demo".into()),
                    repo_ssh_url: Some(url.clone()),
                    ..Default::default()
                },
            })
            .await?;
        eprintln!("demo: job {} deploys {url}", job.id);
        let job = crate::commands::deploy::follow(client, job, ctx.json()).await?;
        let exit = crate::commands::deploy::finish(job.clone(), ctx.json())?;
        if exit != Exit::Success {
            return Ok(exit);
        }
        let page_url = job.deploy_url.clone().unwrap_or_default();
        let page = reqwest::get(&page_url)
            .await
            .map_err(|e| anyhow::anyhow!("GET {page_url}: {e}"))?;
        let status = page.status();
        let body = page.text().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("GET {page_url} answered {status}");
        }
        if !ctx.json() {
            output::println(&format!("demo: {page_url} serves:\n{}", body.trim_end()))?;
        }
        Ok(Exit::Success)
    }
}

/// The demo's Git repository, committed on `main`: examples/hello-app, and under `rootfs/`
/// the demo's web server (`funai-hello`, built with functl) with the shared libraries it
/// loads, at the paths where it looks for them, so the image needs no base image.
fn write_demo_repo(repo: &Path, server: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(repo.join("www"))?;
    std::fs::write(repo.join("Dockerfile"), HELLO_DOCKERFILE)?;
    std::fs::write(repo.join("www").join("index.html"), HELLO_INDEX)?;
    std::fs::write(repo.join(".dockerignore"), HELLO_DOCKERIGNORE)?;
    std::fs::write(repo.join("README.md"), HELLO_README)?;
    // A demo repository written by an older functl held a busybox.
    let _ = std::fs::remove_file(repo.join("busybox"));
    let rootfs = repo.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    let mut files = vec![(server.to_path_buf(), PathBuf::from("/bin/funai-hello"))];
    files.extend(
        shared_libraries(server)?
            .into_iter()
            .map(|l| (l.clone(), l)),
    );
    for (from, to) in files {
        let dest = rootfs.join(to.strip_prefix("/").unwrap_or(&to));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, &dest).map_err(|e| {
            anyhow::anyhow!("cannot copy {} into the demo app: {e}", from.display())
        })?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    }
    let git = |args: &[&str]| -> anyhow::Result<()> {
        let out = std::process::Command::new("git")
            .current_dir(repo)
            .args([
                "-c",
                "user.name=functl demo",
                "-c",
                "user.email=demo@funai.invalid",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .output()
            .map_err(|e| anyhow::anyhow!("the demo needs git: {e}"))?;
        if !out.status.success() {
            anyhow::bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    if !repo.join(".git").exists() {
        git(&["init", "-q", "-b", "main"])?;
    }
    git(&["add", "-A"])?;
    git(&["commit", "-q", "--allow-empty", "-m", "hello-app"])?;
    Ok(())
}

/// The shared libraries `bin` loads (its ELF interpreter included), as `ldd` lists them;
/// none for a static binary.
fn shared_libraries(bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run ldd on {}: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to carry.
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)",
        // "linux-vdso.so.1 (0x…)" (in the kernel, nothing to copy).
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        } else if line.contains("not found") {
            anyhow::bail!(
                "{} needs a library that is missing: {}",
                bin.display(),
                line.trim()
            );
        }
    }
    Ok(libs)
}

/// The runtime node's name in this directory: made once, kept across `down` and `up`, so
/// deployd's record of the node (and the apps placed on it) stays the same node.
fn node_identity(dir: &Path) -> anyhow::Result<String> {
    let file = dir.join("node-name");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let name = text.trim();
        let valid = name.len() <= 64
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if valid {
            return Ok(name.to_string());
        }
        eprintln!(
            "{} holds no valid node name: making a new one",
            file.display()
        );
    }
    let name = format!("local-{}", &secret()[..6]);
    std::fs::write(&file, format!("{name}\n"))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    Ok(name)
}

/// Runtime nodes that earlier stacks in this directory registered under other names (up to
/// now each `up` made a new one): removed, so no deploy is placed on a node that is gone.
async fn forget_ghost_nodes(client: &DeployClient, stack: &Stack) -> anyhow::Result<()> {
    for node in client.list_nodes().await? {
        if node.node_name == stack.node_name || !node.node_name.starts_with("local-") {
            continue;
        }
        client.remove_node(&node.node_name, true).await?;
        eprintln!(
            "removed runtime node {} (left by an earlier stack in {}; this stack's node is {})",
            node.node_name,
            stack.dir.display(),
            stack.node_name
        );
    }
    Ok(())
}

/// A daemon this `up` started: its name and the handle on the process.
type Started = (String, std::process::Child);

/// deployd answers, the runtime node heartbeated, the runner claims.
/// The daemons this `up` started are watched through their handles (an exit is seen at
/// once, with its status); those of a stack already up through their pid and start time.
async fn wait_ready(
    client: &DeployClient,
    stack: &Stack,
    started: &mut [Started],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let fail = |what: &str| {
        let logs: Vec<String> = stack
            .daemons
            .iter()
            .map(|d| format!("--- {} ({})\n{}", d.name, d.log.display(), log_tail(&d.log)))
            .collect();
        anyhow::anyhow!("the stack did not come up: {what}\n{}", logs.join("\n"))
    };
    loop {
        if started.is_empty() {
            for d in &stack.daemons {
                if !d.alive() {
                    return Err(fail(&format!("{} is not running", d.name)));
                }
            }
        }
        for (name, child) in started.iter_mut() {
            if let Some(status) = child.try_wait()? {
                return Err(fail(&format!("{name} exited ({status})")));
            }
        }
        let node_up = client
            .list_nodes()
            .await
            .map(|n| n.iter().any(|x| x.node_name == stack.node_name))
            .unwrap_or(false);
        let runner_up = client
            .runners()
            .await
            .map(|r| r.iter().any(|x| x.runner_id == "local-runner"))
            .unwrap_or(false);
        if node_up && runner_up {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(fail("no node heartbeat or runner claim within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
