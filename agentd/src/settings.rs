//! agentd's settings (DESIGN §6): a section per role, either or both.

use std::path::Path;

use protocol::Secret;
use protocol::config::LogFormat;
use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/funai/agentd.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub deploy_url: String,
    /// `text` (the default) or `json`: one JSON object a line for a log shipper.
    pub log_format: LogFormat,
    pub runner: Option<RunnerSettings>,
    pub runtime: Option<RuntimeSettings>,
    /// Periodic probes of this host's edges of the security-group matrix, sent to deployd.
    pub check: CheckSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            deploy_url: "http://127.0.0.1:7002".into(),
            log_format: LogFormat::Text,
            runner: None,
            runtime: None,
            check: CheckSettings::default(),
        }
    }
}

/// `[check]`: each role probes its edges of the matrix (DESIGN §7) every `interval_seconds`
/// and reports to deployd (`functl check --all`). No topology, no probes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckSettings {
    /// The topology file (roles to addresses, extra edges); empty: no probes.
    pub topology: String,
    pub interval_seconds: u64,
    /// Per probe: the TCP connect, and again the handshake.
    pub timeout_ms: u64,
    /// Also probe every pair the matrix does not allow, which must be closed.
    pub expect_closed: bool,
    /// Probes in flight at once.
    pub parallel: usize,
    /// known_hosts for the SSH probe; empty: the runner's `git_known_hosts`.
    pub known_hosts: String,
    /// The runner also logs in to the Git server with its deploy key.
    pub ssh_auth: bool,
    pub ssh_user: String,
}

impl Default for CheckSettings {
    fn default() -> Self {
        Self {
            topology: String::new(),
            interval_seconds: 60,
            timeout_ms: 2000,
            expect_closed: true,
            parallel: 64,
            known_hosts: String::new(),
            ssh_auth: true,
            ssh_user: "git".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerSettings {
    pub runner_id: String,
    /// The container engine's API: `unix:///run/podman/podman.sock`, `tcp://host:2375`;
    /// empty: `DOCKER_HOST`, else the local Docker socket.
    pub docker_host: String,
    pub runner_token: Secret,
    pub runtime_token: Secret,
    pub workdir: String,
    pub concurrency: u32,
    pub git_ssh_key: String,
    pub git_known_hosts: String,
    /// host[:port] of the registry; empty: no push, the image stays on this engine (a
    /// local stack whose runtime shares it).
    pub registry: String,
    pub namespace: String,
    pub registry_username: String,
    pub registry_password: Secret,
    /// The registry speaks plain HTTP although the engine's `insecure-registries` does not
    /// say so (the engine's list is read as well).
    pub registry_insecure: bool,
    /// The image repository below the registry when a job names none (deployd names it).
    pub image_repo_template: String,
    pub keep_tags: u32,
    pub lease_seconds: i64,
    /// How long a claim waits at deployd for a job (long-poll).
    pub claim_wait_seconds: i64,
    pub clone_timeout_seconds: u64,
    pub build_timeout_seconds: u64,
    pub push_timeout_seconds: u64,
    /// Covers the runtime's pull and health wait; a 409 (deploy in flight) is retried within it.
    pub deploy_timeout_seconds: u64,
    /// Clone `file://` repositories too (a local stack: `functl up`).
    pub allow_local_repos: bool,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            runner_id: "runner-01".into(),
            runner_token: Secret::default(),
            runtime_token: Secret::default(),
            workdir: "/var/lib/funai/runner".into(),
            docker_host: String::new(),
            concurrency: 1,
            git_ssh_key: "/etc/funai/deploy_key".into(),
            git_known_hosts: "/etc/funai/known_hosts".into(),
            registry: "127.0.0.1:5000".into(),
            namespace: "funaistudio".into(),
            registry_username: String::new(),
            registry_password: Secret::default(),
            registry_insecure: false,
            image_repo_template: protocol::template::DEFAULT_IMAGE_REPO.into(),
            keep_tags: 3,
            lease_seconds: 30,
            claim_wait_seconds: 20,
            clone_timeout_seconds: 300,
            build_timeout_seconds: 1800,
            push_timeout_seconds: 900,
            deploy_timeout_seconds: 300,
            allow_local_repos: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    pub listen: String,
    /// The container engine's API, as for the runner.
    pub docker_host: String,
    pub node_name: String,
    pub node_token: Secret,
    pub runtime_token: Secret,
    pub agent_base_url: String,
    pub gateway_base_url: String,
    pub data_dir: String,
    pub network: String,
    pub health_timeout_seconds: u64,
    pub drain_timeout_seconds: u64,
    pub heartbeat_seconds: u64,
    /// The route of an app whose deploy names no `basePath` (deployd always names one).
    pub base_path_template: String,
    /// Credentials for pulls from this registry (host[:port]); others are pulled anonymously.
    pub registry: String,
    pub registry_username: String,
    pub registry_password: Secret,
    /// Limits of each app container; 0 means none.
    pub cpus: f64,
    pub memory_mb: i64,
    pub pids_limit: i64,
    pub restart_policy: RestartPolicy,
    /// Run an init process as PID 1 so that apps get SIGTERM and exit when stopped.
    pub init: bool,
    /// `always` or `if-missing`.
    pub pull: PullPolicy,
    /// How long a drained old container gets to exit on SIGTERM before it is killed.
    pub stop_grace_seconds: u32,
    /// A stop or delete of an app while a deploy (or another stop or delete) of it is in
    /// flight: `false` refuses it with 409 `DEPLOY_IN_FLIGHT`, so that a deploy is never cut
    /// halfway; `true` waits for that change to end, then stops or deletes and answers 200, as
    /// the old agent answered (it removed the container under a deploy in flight).
    pub stop_waits_for_deploy: bool,
    pub gateway: GatewaySettings,
    pub mongo: Option<MongoSettings>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MongoSettings {
    /// `mongodb://user:password@host:27017`, without a database; the password is a secret.
    pub url: Secret,
    /// Appended as the query string, e.g. `authSource=admin`.
    pub options: String,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:7005".into(),
            node_name: "rt-01".into(),
            node_token: Secret::default(),
            runtime_token: Secret::default(),
            agent_base_url: "http://127.0.0.1:7005".into(),
            gateway_base_url: "http://127.0.0.1".into(),
            data_dir: "/var/lib/funai".into(),
            network: "funai-runtime-net".into(),
            health_timeout_seconds: 60,
            drain_timeout_seconds: 30,
            heartbeat_seconds: 15,
            base_path_template: protocol::template::DEFAULT_BASE_PATH.into(),
            registry: "127.0.0.1:5000".into(),
            registry_username: String::new(),
            registry_password: Secret::default(),
            cpus: 1.0,
            memory_mb: 512,
            pids_limit: 256,
            restart_policy: RestartPolicy::UnlessStopped,
            docker_host: String::new(),
            init: true,
            pull: PullPolicy::Always,
            stop_grace_seconds: 10,
            stop_waits_for_deploy: false,
            gateway: GatewaySettings::default(),
            mongo: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    pub kind: GatewayKind,
    pub listen: String,
    /// With `kind = "traefik"`: Traefik's API (`http://127.0.0.1:8080`), asked after each new
    /// container is healthy whether it routes the app; empty: not asked.
    pub traefik_api: String,
    /// Peers (CIDRs or addresses) whose `Forwarded` and `X-Forwarded-*` headers the embedded
    /// gateway keeps and appends to; from any other peer they are replaced. Empty: none.
    pub trusted_proxies: Vec<String>,
    /// The embedded gateway's access log, one JSON line per answer: a file, a path with
    /// `{appId}` for one file per app, or `-` for standard output. Empty: off.
    pub access_log: String,
    /// HTTPS on the embedded gateway, beside `listen`.
    pub tls: Option<GatewayTlsSettings>,
}

/// `[runtime.gateway.tls]`: the certificate and key (PEM), read again on SIGHUP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayTlsSettings {
    pub listen: String,
    /// The certificate chain, leaf first.
    pub cert_file: String,
    pub key_file: String,
    /// Answer plain HTTP on `listen` with a redirect to HTTPS (308).
    pub redirect_http: bool,
}

impl Default for GatewayTlsSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:443".into(),
            cert_file: String::new(),
            key_file: String::new(),
            redirect_http: false,
        }
    }
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            kind: GatewayKind::Embedded,
            listen: "0.0.0.0:80".into(),
            traefik_api: String::new(),
            trusted_proxies: Vec::new(),
            access_log: String::new(),
            tls: None,
        }
    }
}

/// What the engine does when an app container exits; the TOML spells Docker's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    #[default]
    UnlessStopped,
    OnFailure,
}

/// Whether a deploy pulls its image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicy {
    /// The registry is the source of truth.
    #[default]
    Always,
    /// An image already on the engine is used as it is (a local stack whose runner builds
    /// on the same engine).
    IfMissing,
}

/// Who routes the gateway's paths to the app containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayKind {
    /// agentd serves the routes itself on `gateway.listen`.
    #[default]
    Embedded,
    /// A Traefik on the host reads the containers' labels; agentd routes nothing.
    Traefik,
}

impl Settings {
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: Vec<(&str, toml::Value)>,
    ) -> Result<Settings, protocol::config::ConfigError> {
        let source = match file {
            Some(p) => protocol::config::Source::Explicit(p),
            None => protocol::config::Source::Default(Path::new(DEFAULT_CONFIG_PATH)),
        };
        // Both roles present in the shape, so AGENTD_RUNNER__* and AGENTD_RUNTIME__* are typed.
        let shape = Settings {
            runner: Some(RunnerSettings::default()),
            runtime: Some(RuntimeSettings {
                mongo: Some(MongoSettings::default()),
                gateway: GatewaySettings {
                    tls: Some(GatewayTlsSettings::default()),
                    ..GatewaySettings::default()
                },
                ..RuntimeSettings::default()
            }),
            ..Settings::default()
        };
        protocol::config::load_shaped(&shape, source, "AGENTD_", env, overrides)
    }

    /// Refuses placeholder secrets and values out of range; a choice that is not one of its
    /// values is already refused by [`Settings::load`].
    pub fn check(&self) -> Result<(), String> {
        let c = &self.check;
        if !(5..=86_400).contains(&c.interval_seconds) {
            return Err("check.interval_seconds must be 5..=86400".into());
        }
        if !(50..=60_000).contains(&c.timeout_ms) {
            return Err("check.timeout_ms must be 50..=60000".into());
        }
        if !(1..=1024).contains(&c.parallel) {
            return Err("check.parallel must be 1..=1024".into());
        }
        if c.ssh_user.is_empty()
            || c.ssh_user
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control())
        {
            return Err("check.ssh_user must be a user name".into());
        }
        if self.runner.is_none() && self.runtime.is_none() {
            return Err(
                "neither [runner] nor [runtime] is configured: give agentd at least one role"
                    .into(),
            );
        }
        if let Some(r) = &self.runner {
            for (name, s) in [
                ("runner.runner_token", &r.runner_token),
                ("runner.runtime_token", &r.runtime_token),
            ] {
                if s.is_placeholder() {
                    return Err(format!("{name} is empty or a CHANGE_ME placeholder"));
                }
            }
            protocol::validate::name(&r.runner_id).map_err(|m| format!("runner.runner_id {m}"))?;
            if r.concurrency == 0 || r.concurrency > 64 {
                return Err("runner.concurrency must be 1..=64".into());
            }
            if !(3..=3600).contains(&r.lease_seconds) {
                return Err("runner.lease_seconds must be 3..=3600".into());
            }
            if !(0..=30).contains(&r.claim_wait_seconds) {
                return Err("runner.claim_wait_seconds must be 0..=30".into());
            }
            if r.keep_tags == 0 {
                return Err("runner.keep_tags must be at least 1".into());
            }
            protocol::template::check(&r.image_repo_template, &["{appId}"])
                .map_err(|m| format!("runner.image_repo_template: {m}"))?;
        }
        if let Some(r) = &self.runtime {
            for (name, s) in [
                ("runtime.node_token", &r.node_token),
                ("runtime.runtime_token", &r.runtime_token),
            ] {
                if s.is_placeholder() {
                    return Err(format!("{name} is empty or a CHANGE_ME placeholder"));
                }
            }
            protocol::validate::name(&r.node_name).map_err(|m| format!("runtime.node_name {m}"))?;
            protocol::template::check(&r.base_path_template, &["{appId}"])
                .map_err(|m| format!("runtime.base_path_template: {m}"))?;
            if r.base_path_template.contains("{namespace}") {
                return Err(
                    "runtime.base_path_template: {namespace} is a runner's setting, unknown to a runtime node"
                        .into(),
                );
            }
            crate::gateway::TrustedProxies::parse(&r.gateway.trusted_proxies)
                .map_err(|m| format!("runtime.gateway.trusted_proxies: {m}"))?;
            if let Some(t) = &r.gateway.tls {
                if r.gateway.kind != GatewayKind::Embedded {
                    return Err("runtime.gateway.tls is for the embedded gateway (kind = \"embedded\"); with Traefik, give Traefik the certificate".into());
                }
                if t.cert_file.is_empty() || t.key_file.is_empty() {
                    return Err("runtime.gateway.tls needs cert_file and key_file (PEM)".into());
                }
                if t.listen == r.gateway.listen {
                    return Err(format!(
                        "runtime.gateway.tls.listen {} is also runtime.gateway.listen: HTTPS needs a port of its own",
                        t.listen
                    ));
                }
            }
            if r.cpus < 0.0 || r.memory_mb < 0 || r.pids_limit < 0 {
                return Err("runtime.cpus, memory_mb and pids_limit must not be negative".into());
            }
            if let Some(m) = &r.mongo
                && !m.url.expose().starts_with("mongodb://")
                && !m.url.expose().starts_with("mongodb+srv://")
            {
                return Err(
                    "runtime.mongo.url must start with mongodb:// or mongodb+srv://".into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_runtime(toml: &str) -> Result<Settings, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("agentd.toml");
        std::fs::write(&path, format!("[runtime]\n{toml}")).map_err(|e| e.to_string())?;
        Settings::load(Some(&path), Vec::new(), vec![]).map_err(|e| e.to_string())
    }

    #[test]
    fn a_choice_outside_its_values_is_refused_at_load_naming_the_values() {
        for (key, bad, allowed) in [
            (
                "restart_policy = ",
                "\"sometimes\"",
                &["no", "always", "unless-stopped", "on-failure"][..],
            ),
            ("pull = ", "\"never\"", &["always", "if-missing"][..]),
            (
                "[runtime.gateway]\nkind = ",
                "\"nginx\"",
                &["embedded", "traefik"][..],
            ),
        ] {
            let err = load_runtime(&format!("{key}{bad}\n")).unwrap_err();
            for value in allowed {
                assert!(
                    err.contains(&format!("`{value}`")),
                    "{value} not named: {err}"
                );
            }
        }
    }

    #[test]
    fn choices_keep_their_toml_spellings() {
        let s = load_runtime(
            "restart_policy = \"on-failure\"\npull = \"if-missing\"\n[runtime.gateway]\nkind = \"traefik\"\n",
        )
        .unwrap();
        let rt = s.runtime.clone().unwrap();
        assert_eq!(rt.restart_policy, RestartPolicy::OnFailure);
        assert_eq!(rt.pull, PullPolicy::IfMissing);
        assert_eq!(rt.gateway.kind, GatewayKind::Traefik);
        let text = protocol::config::render(&s);
        for line in [
            "restart_policy = \"on-failure\"",
            "pull = \"if-missing\"",
            "kind = \"traefik\"",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }

    #[test]
    fn a_choice_set_from_the_environment_is_read_too() {
        let s = Settings::load(
            None,
            vec![("AGENTD_RUNTIME__PULL".to_string(), "if-missing".to_string())],
            vec![],
        )
        .unwrap();
        assert_eq!(s.runtime.unwrap().pull, PullPolicy::IfMissing);
    }
}
