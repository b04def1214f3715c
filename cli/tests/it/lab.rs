//! A small estate on one machine for `functl check`: one network namespace per host of
//! DESIGN §7, joined by a bridge that lives in a namespace of its own, the security groups as
//! iptables rules inside each host, and real listeners (deployd, agentd, sshd, the registry,
//! busybox httpd where a plain TCP listener fits). Every namespace carries a prefix unique
//! to this run and is deleted when the lab is dropped, test failure or not; no traffic
//! leaves these namespaces.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The /24 the lab's hosts live in; it exists only inside the lab's namespaces.
pub const NET: &str = "10.213.7";

/// Hosts: name (also the namespace suffix), last octet, roles. git and registry share a
/// host, as in DESIGN's example.
pub const HOSTS: &[(&str, u8, &[&str])] = &[
    ("public", 7, &["public"]),
    ("api", 91, &["api"]),
    ("workspace", 87, &["workspace"]),
    ("deploy", 100, &["deploy"]),
    ("runner", 101, &["runner"]),
    ("runtime", 102, &["runtime"]),
    ("git", 103, &["git", "registry"]),
    ("mongo", 104, &["mongo"]),
];

/// DESIGN §7 written out by host, independently of functl's own copy: (from, to, port).
pub const ALLOWED: &[(&str, &str, u16)] = &[
    ("public", "api", 80),
    ("public", "api", 443),
    ("public", "runtime", 80),
    ("public", "runtime", 443),
    ("api", "workspace", 80),
    ("api", "runtime", 80),
    ("api", "workspace", 7001),
    ("api", "deploy", 7002),
    ("runner", "deploy", 7002),
    ("runtime", "deploy", 7002),
    ("runner", "runtime", 7005),
    ("deploy", "runtime", 7005),
    ("runner", "git", 2222),
    ("workspace", "git", 2222),
    ("workspace", "api", 8080),
    ("runtime", "mongo", 27017),
    ("runner", "git", 80),
    ("runner", "git", 443),
    ("runtime", "git", 80),
    ("runtime", "git", 443),
];

/// The matrix's ports: every other pair on them must be closed.
pub const PORTS: &[u16] = &[80, 443, 2222, 7001, 7002, 7005, 8080, 27017];

pub const DEPLOY_SECRET: &str = "lab-deploy-secret";
pub const RUNNER_TOKEN: &str = "lab-runner-token";
pub const NODE_TOKEN: &str = "lab-node-token";
pub const ADMIN_TOKEN: &str = "lab-admin-token";
pub const RUNTIME_TOKEN: &str = "lab-runtime-token";

pub fn addr(host: &str) -> String {
    let octet = HOSTS
        .iter()
        .find(|h| h.0 == host)
        .map(|h| h.1)
        .unwrap_or_else(|| panic!("no host {host}"));
    format!("{NET}.{octet}")
}

/// What functl must report from `host`: (address, port) → open (true) or closed (false).
pub fn expected_from(host: &str) -> BTreeMap<(String, u16), bool> {
    let mut out = BTreeMap::new();
    for (to, _, _) in HOSTS.iter().filter(|h| h.0 != host && h.0 != "public") {
        for port in PORTS {
            out.insert((addr(to), *port), false);
        }
    }
    for (_, to, port) in ALLOWED.iter().filter(|a| a.0 == host) {
        out.insert((addr(to), *port), true);
    }
    out
}

/// The tools the lab needs, or what is missing.
pub fn missing_tools() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"));
    if !root {
        return Some("network namespaces and iptables need root".into());
    }
    for tool in [
        "ip",
        "iptables",
        "iptables-restore",
        "ss",
        "ssh-keygen",
        "docker-registry",
        "busybox",
        "openssl",
        "htpasswd",
    ] {
        if which(tool).is_none() {
            return Some(format!(
                "{tool} is not installed (scripts/services.sh installs it)"
            ));
        }
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("/usr/sbin/sshd is missing (openssh-server)".into());
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    if !passwd.lines().any(|l| l.starts_with("git:")) {
        return Some("no git user (scripts/services.sh sshd_up creates it)".into());
    }
    if !Path::new("/var/run/docker.sock").exists() {
        return Some("no Docker engine (agentd needs one)".into());
    }
    for b in ["deployd", "agentd"] {
        if !bin(b).exists() {
            return Some(format!(
                "{} is not built: cargo build -p deployd -p agentd (scripts/test.sh builds every target)",
                bin(b).display()
            ));
        }
    }
    None
}

/// Under CI a missing tool fails the test; elsewhere the test says SKIPPED and passes.
pub fn ready(test: &str) -> bool {
    match missing_tools() {
        None => true,
        Some(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {why}");
            }
            eprintln!("SKIPPED: {test}: {why}");
            false
        }
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

pub fn functl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_functl"))
}

/// A binary of the workspace built beside functl.
pub fn bin(name: &str) -> PathBuf {
    functl()
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sh(args: &[&str]) -> Output {
    run(Command::new(args[0]).args(&args[1..]))
}

/// The result of one functl run inside a namespace.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

pub struct Lab {
    /// `fck{pid}x{hex}`: every namespace of this lab starts with it.
    pub prefix: String,
    pub dir: tempfile::TempDir,
    pub topology: PathBuf,
    pub known_hosts: PathBuf,
    pub deploy_key: PathBuf,
    pub node_name: String,
    pub runner_id: String,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            // Whatever still runs in our namespaces goes with them; nothing else is touched.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Removes namespaces that an earlier run of this test left behind when it was killed: only
/// names of this lab's form whose creating process is gone.
fn sweep_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix("fck") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('x') else {
            continue;
        };
        if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

impl Lab {
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// Builds the namespaces, the bridge, the security groups and starts every listener;
    /// answers once every port the matrix allows is listening.
    pub fn build() -> Lab {
        sweep_leftovers();
        let prefix = format!("fck{}x{:04x}", std::process::id(), rand::random::<u16>());
        let dir = tempfile::tempdir().unwrap();
        // sshd reads authorized_keys as the git user.
        set_mode(dir.path(), 0o755);
        let mut lab = Lab {
            topology: dir.path().join("topology.toml"),
            known_hosts: dir.path().join("known_hosts"),
            deploy_key: dir.path().join("deploy_key"),
            node_name: format!("lab-{}", &prefix[3..]),
            runner_id: format!("lab-runner-{}", &prefix[3..]),
            prefix,
            dir,
            namespaces: Vec::new(),
            children: Vec::new(),
        };
        lab.network();
        lab.firewall();
        lab.write_topology();
        lab.listeners();
        lab.wait_listening(Duration::from_secs(60));
        lab
    }

    fn add_ns(&mut self, name: &str) {
        sh(&["ip", "netns", "add", name]);
        self.namespaces.push(name.to_string());
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    fn network(&mut self) {
        let sw = self.ns("sw");
        self.add_ns(&sw);
        sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        for (host, octet, _) in HOSTS {
            let ns = self.ns(host);
            self.add_ns(&ns);
            let port = format!("v-{host}");
            sh(&[
                "ip", "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            sh(&["ip", "-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let cidr = format!("{NET}.{octet}/24");
            sh(&["ip", "-n", &ns, "addr", "add", &cidr, "dev", "eth0"]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        }
    }

    /// The security groups: inbound dropped unless the matrix allows it from that source.
    fn firewall(&self) {
        for (host, _, _) in HOSTS {
            let mut rules = String::from(
                "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                 -A INPUT -i lo -j ACCEPT\n\
                 -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n",
            );
            for (from, _, port) in ALLOWED.iter().filter(|a| a.1 == *host) {
                rules.push_str(&format!("-A {}\n", rule(from, *port)));
            }
            rules.push_str("COMMIT\n");
            let mut child = Command::new("ip")
                .args(["netns", "exec", &self.ns(host), "iptables-restore"])
                .stdin(Stdio::piped())
                .spawn()
                .expect("iptables-restore");
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                stdin.write_all(rules.as_bytes()).unwrap();
            }
            let st = child.wait().unwrap();
            assert!(st.success(), "iptables-restore in {host}:\n{rules}");
        }
    }

    /// Opens `port` on `to` for `from` (a rule the matrix does not have).
    pub fn allow(&self, from: &str, to: &str, port: u16) {
        let r = rule(from, port);
        let mut args = vec!["ip", "netns", "exec"];
        let ns = self.ns(to);
        args.push(&ns);
        args.extend(["iptables", "-I"]);
        args.extend(r.split_whitespace());
        sh(&args);
    }

    /// Removes the rule that lets `from` reach `port` on `to`.
    pub fn revoke(&self, from: &str, to: &str, port: u16) {
        let r = rule(from, port);
        let mut args = vec!["ip", "netns", "exec"];
        let ns = self.ns(to);
        args.push(&ns);
        args.extend(["iptables", "-D"]);
        args.extend(r.split_whitespace());
        sh(&args);
    }

    fn write_topology(&self) {
        let mut roles: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (host, _, rs) in HOSTS {
            for r in *rs {
                roles.entry(r).or_default().push(addr(host));
            }
        }
        let mut text = String::from("# The lab's hosts, each a network namespace.\n[roles]\n");
        for (r, addrs) in roles {
            let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
            text.push_str(&format!("{r} = [{}]\n", list.join(", ")));
        }
        std::fs::write(&self.topology, text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(
        &mut self,
        host: &str,
        what: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) {
        let log = std::fs::File::create(self.path(&format!("{what}.log"))).unwrap();
        let err = log.try_clone().unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(host)])
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.dir.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        self.children.push((what.to_string(), child));
    }

    fn listeners(&mut self) {
        let busybox = which("busybox").unwrap_or_else(|| PathBuf::from("/bin/busybox"));
        let www = self.path("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "lab\n").unwrap();
        let www = www.display().to_string();
        for (host, port) in [
            ("api", 80),
            ("api", 443),
            ("api", 8080),
            ("workspace", 80),
            ("workspace", 7001),
            ("runtime", 443),
            ("mongo", 27017),
        ] {
            let p = port.to_string();
            self.spawn(
                host,
                &format!("httpd-{host}-{port}"),
                &busybox,
                &["httpd", "-f", "-p", &p, "-h", &www],
                &[],
            );
        }
        self.deployd();
        self.sshd();
        self.registries();
        self.agents();
    }

    fn deployd(&mut self) {
        let cfg = self.path("deployd.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = \"0.0.0.0:7002\"\ndatabase_url = \"sqlite://{}\"\n[auth]\ndeploy_secret = \"{DEPLOY_SECRET}\"\nrunner_token = \"{RUNNER_TOKEN}\"\nnode_token = \"{NODE_TOKEN}\"\nadmin_token = \"{ADMIN_TOKEN}\"\nruntime_token = \"{RUNTIME_TOKEN}\"\n",
                self.path("deployd.db").display()
            ),
        )
        .unwrap();
        let c = cfg.display().to_string();
        self.spawn("deploy", "deployd", &bin("deployd"), &["--config", &c], &[]);
    }

    fn sshd(&mut self) {
        let host_key = self.path("host_key");
        for k in [&host_key, &self.deploy_key] {
            sh(&[
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "lab",
                "-f",
                &k.display().to_string(),
            ]);
        }
        let public = |p: &Path| std::fs::read_to_string(p.with_extension("pub")).unwrap();
        let authorized = self.path("authorized_keys");
        std::fs::write(&authorized, public(&self.deploy_key)).unwrap();
        set_mode(&authorized, 0o644);
        let host_pub = public(&host_key);
        let key_fields: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            &self.known_hosts,
            format!("[{}]:2222 {}\n", addr("git"), key_fields.join(" ")),
        )
        .unwrap();
        let cfg = self.path("sshd_config");
        std::fs::write(
            &cfg,
            format!(
                "Port 2222\nListenAddress 0.0.0.0\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nAllowUsers git\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n",
                host_key.display(),
                self.path("sshd.pid").display(),
                authorized.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let c = cfg.display().to_string();
        self.spawn(
            "git",
            "sshd",
            Path::new("/usr/sbin/sshd"),
            &["-D", "-e", "-f", &c],
            &[],
        );
    }

    /// The registry on 80 (htpasswd: `/v2/` answers 401) and on 443 over TLS.
    fn registries(&mut self) {
        let htpasswd = self.path("htpasswd");
        let out = sh(&["htpasswd", "-Bbn", "lab", "lab-registry-password"]);
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        let (crt, key) = (self.path("registry.crt"), self.path("registry.key"));
        sh(&[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=lab-registry",
            "-addext",
            &format!("subjectAltName=IP:{}", addr("git")),
            "-keyout",
            &key.display().to_string(),
            "-out",
            &crt.display().to_string(),
        ]);
        for (name, extra) in [
            (
                "registry-80",
                format!(
                    "  addr: 0.0.0.0:80\nauth:\n  htpasswd:\n    realm: lab\n    path: {}\n",
                    htpasswd.display()
                ),
            ),
            (
                "registry-443",
                format!(
                    "  addr: 0.0.0.0:443\n  tls:\n    certificate: {}\n    key: {}\n",
                    crt.display(),
                    key.display()
                ),
            ),
        ] {
            let data = self.path(&format!("{name}-data"));
            std::fs::create_dir_all(&data).unwrap();
            let cfg = self.path(&format!("{name}.yml"));
            std::fs::write(
                &cfg,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n{extra}",
                    data.display()
                ),
            )
            .unwrap();
            let c = cfg.display().to_string();
            let program = which("docker-registry").unwrap_or_default();
            self.spawn("git", name, &program, &["serve", &c], &[]);
        }
    }

    /// agentd on the runtime host (API 7005, gateway 80) and on the runner host, both with
    /// `[check]` every 5 s.
    fn agents(&mut self) {
        let check = format!(
            "[check]\ntopology = \"{}\"\ninterval_seconds = 5\ntimeout_ms = 1000\n",
            self.topology.display()
        );
        let deploy_url = format!("http://{}:7002", addr("deploy"));
        let data = self.path("runtime-data");
        std::fs::create_dir_all(&data).unwrap();
        let runtime = self.path("agentd-runtime.toml");
        std::fs::write(
            &runtime,
            format!(
                "deploy_url = \"{deploy_url}\"\n[runtime]\nlisten = \"0.0.0.0:7005\"\nnode_name = \"{}\"\nnode_token = \"{NODE_TOKEN}\"\nruntime_token = \"{RUNTIME_TOKEN}\"\nagent_base_url = \"http://{}:7005\"\ngateway_base_url = \"http://{}\"\ndata_dir = \"{}\"\nheartbeat_seconds = 5\n[runtime.gateway]\nkind = \"embedded\"\nlisten = \"0.0.0.0:80\"\n{check}",
                self.node_name,
                addr("runtime"),
                addr("runtime"),
                data.display()
            ),
        )
        .unwrap();
        let work = self.path("runner-work");
        let runner = self.path("agentd-runner.toml");
        std::fs::write(
            &runner,
            format!(
                "deploy_url = \"{deploy_url}\"\n[runner]\nrunner_id = \"{}\"\nrunner_token = \"{RUNNER_TOKEN}\"\nruntime_token = \"{RUNTIME_TOKEN}\"\nworkdir = \"{}\"\ngit_ssh_key = \"{}\"\ngit_known_hosts = \"{}\"\nregistry = \"{}\"\nclaim_wait_seconds = 5\n{check}",
                self.runner_id,
                work.display(),
                self.deploy_key.display(),
                self.known_hosts.display(),
                addr("git"),
            ),
        )
        .unwrap();
        for (host, cfg) in [("runtime", runtime), ("runner", runner)] {
            let c = cfg.display().to_string();
            self.spawn(
                host,
                &format!("agentd-{host}"),
                &bin("agentd"),
                &["--config", &c, "run"],
                &[("RUST_LOG", "info")],
            );
        }
    }

    /// Waits until every port the matrix allows listens in its namespace.
    fn wait_listening(&mut self, limit: Duration) {
        let mut want: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
        for (_, to, port) in ALLOWED {
            want.entry(to).or_default().insert(*port);
        }
        let deadline = Instant::now() + limit;
        loop {
            let mut missing = Vec::new();
            for (host, ports) in &want {
                let listening = self.listening(host);
                for p in ports {
                    if !listening.contains(p) {
                        missing.push(format!("{host}:{p}"));
                    }
                }
            }
            if missing.is_empty() {
                return;
            }
            let mut exited = None;
            for (what, c) in &mut self.children {
                if let Ok(Some(st)) = c.try_wait() {
                    exited = Some((what.clone(), st));
                }
            }
            if let Some((what, st)) = exited {
                panic!(
                    "{what} exited ({st}) before listening:\n{}",
                    self.log(&what)
                );
            }
            assert!(
                Instant::now() < deadline,
                "not listening after {limit:?}: {}",
                missing.join(", ")
            );
            std::thread::yield_now();
        }
    }

    fn listening(&self, host: &str) -> BTreeSet<u16> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(host), "ss", "-Hltn"])
            .output()
            .expect("ss");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3))
            .filter_map(|a| a.rsplit(':').next()?.parse().ok())
            .collect()
    }

    pub fn log(&self, what: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{what}.log"))).unwrap_or_default()
    }

    /// `functl ARGS` inside `host`'s namespace, with a home of its own and deployd's
    /// admin token (deployd answers on loopback in the deploy host).
    pub fn functl(&self, host: &str, args: &[&str]) -> Run {
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        let started = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(host)])
            .arg(functl())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("FUNCTL_DEPLOY_URL", "http://127.0.0.1:7002")
            .env("FUNCTL_DEPLOY_SECRET", DEPLOY_SECRET)
            .env("FUNCTL_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdin(Stdio::null())
            .output()
            .expect("functl");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// `functl check --expect-closed` from `host` against the lab's topology, as JSON.
    pub fn check(&self, host: &str, extra: &[&str]) -> Run {
        let topology = self.topology.display().to_string();
        let known_hosts = self.known_hosts.display().to_string();
        let key = self.deploy_key.display().to_string();
        let mut args = vec![
            "check",
            "--topology",
            &topology,
            "--expect-closed",
            "--timeout-ms",
            "1000",
            "--known-hosts",
            &known_hosts,
            "--auth",
            "--key",
            &key,
        ];
        args.extend_from_slice(extra);
        self.functl(host, &args)
    }
}

fn rule(from: &str, port: u16) -> String {
    format!(
        "INPUT -s {}/32 -p tcp -m tcp --dport {port} -j ACCEPT",
        addr(from)
    )
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}
