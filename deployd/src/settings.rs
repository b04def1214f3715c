//! deployd's settings (DESIGN §6): file, then `DEPLOYD_*` environment, then flags.

use std::path::Path;

use ipnet::IpNet;
use protocol::Secret;
use protocol::config::LogFormat;
use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/funai/deployd.toml";

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub listen: String,
    /// How long a client may take to send a request head (slow clients are cut off).
    pub header_read_timeout_ms: u64,
    pub database_url: String,
    /// `text` (the default) or `json`: one JSON object a line for a log shipper.
    pub log_format: LogFormat,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub jobs: JobSettings,
    pub nodes: NodeSettings,
    pub apps: AppSettings,
}

/// The database URL may hold a password: `Debug` shows it as `***`, as it does the secrets.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("header_read_timeout_ms", &self.header_read_timeout_ms)
            .field(
                "database_url",
                &crate::store::redact_url(&self.database_url),
            )
            .field("log_format", &self.log_format)
            .field("database", &self.database)
            .field("auth", &self.auth)
            .field("jobs", &self.jobs)
            .field("nodes", &self.nodes)
            .field("apps", &self.apps)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:7002".into(),
            header_read_timeout_ms: 10_000,
            database_url: "sqlite:///var/lib/funai/deployd.db".into(),
            log_format: LogFormat::Text,
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            jobs: JobSettings::default(),
            nodes: NodeSettings::default(),
            apps: AppSettings::default(),
        }
    }
}

/// The connection pool and, with several replicas, how changes made by the others are seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Connections per deployd to MySQL/MariaDB or PostgreSQL (SQLite uses 8).
    pub max_connections: u32,
    /// MySQL/MariaDB: how often a replica looks for jobs changed by the others (an indexed
    /// query). PostgreSQL uses LISTEN/NOTIFY instead. Replicas also wake each other
    /// directly (`replica_url`); this poll is the fallback.
    pub change_poll_ms: u64,
    /// The URL the other replicas reach this one at (`http://10.0.0.5:7002`), kept in the
    /// replica table so that they wake this one's long-polls after their commits. Unset:
    /// the address deployd listens on, when it names one; with `0.0.0.0` and no URL, this
    /// replica is woken by the change feed only. Not used on SQLite (one process).
    pub replica_url: Option<String>,
    /// How often a replica refreshes its row and reads the others'; one not seen for three
    /// periods is left out.
    pub replica_refresh_ms: u64,
    /// MySQL/MariaDB: the suffix the estate's tables get when deployd finds them under its
    /// own table names (`fun_ai_deploy_job` becomes `fun_ai_deploy_job_estate`, rows kept).
    pub estate_suffix: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            change_poll_ms: 100,
            replica_url: None,
            replica_refresh_ms: 2000,
            estate_suffix: "_estate".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub deploy_secret: Secret,
    pub runner_token: Secret,
    pub node_token: Secret,
    pub admin_token: Secret,
    /// Sent to runtime agents as `X-Runtime-Token` for app stop and cleanup.
    pub runtime_token: Secret,
    pub node_allowed_ips: Vec<String>,
    pub admin_allowed_ips: Vec<String>,
    pub runner_allowed_ips: Vec<String>,
    pub allow_legacy_runners: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    pub lease_seconds: i64,
    pub max_attempts: i64,
    pub keep_per_app: i64,
    pub log_cap_bytes: i64,
    pub max_active_apps_per_user: i64,
    /// How often the sweeper looks for expired leases.
    pub sweep_interval_ms: u64,
    /// Images remembered per app for rollback.
    pub recent_images: i64,
    /// Accept `file://` repositories: only for a local stack (`functl up`).
    pub allow_local_repos: bool,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease_seconds: 30,
            max_attempts: 3,
            keep_per_app: 10,
            log_cap_bytes: 4 * 1024 * 1024,
            max_active_apps_per_user: 3,
            sweep_interval_ms: 1000,
            recent_images: 5,
            allow_local_repos: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSettings {
    pub heartbeat_stale_seconds: i64,
    pub disk_free_min_pct: f64,
    /// Runners not seen for this long are listed STALE.
    pub runner_stale_seconds: i64,
    /// A node's beat that changes only its disk figures, container count and time is
    /// answered from memory and written with the others this often (other replicas see
    /// it that much later; this one at once).
    pub heartbeat_flush_ms: u64,
}

impl Default for NodeSettings {
    fn default() -> Self {
        Self {
            heartbeat_stale_seconds: 60,
            disk_free_min_pct: 15.0,
            runner_stale_seconds: 90,
            heartbeat_flush_ms: 1000,
        }
    }
}

/// The estate's naming conventions (DESIGN §6): where an app is routed, where its image
/// lives, where its repository is. Placeholders `{appId}`, `{userId}`, `{namespace}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppSettings {
    /// The repository of an app deployd has never seen, e.g.
    /// `ssh://git@git.internal:2222/funai/u{userId}-app{appId}.git`; empty: a new app's
    /// first job must name its repository or image.
    pub repo_url_template: String,
    /// `/runtime/{appId}` or `/apps/{appId}`.
    pub base_path_template: String,
    /// Below the runners' registry: `{namespace}/u{userId}-app{appId}` or
    /// `{namespace}/apps/app-{appId}`.
    pub image_repo_template: String,
    /// `{namespace}` in the image repository (the runners' `namespace`).
    pub namespace: String,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            repo_url_template: String::new(),
            base_path_template: protocol::template::DEFAULT_BASE_PATH.into(),
            image_repo_template: protocol::template::DEFAULT_IMAGE_REPO.into(),
            namespace: "funaistudio".into(),
        }
    }
}

/// The allowlists parsed once at start.
#[derive(Debug, Clone, Default)]
pub struct Allowlists {
    pub node: Vec<IpNet>,
    pub admin: Vec<IpNet>,
    pub runner: Vec<IpNet>,
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
        protocol::config::load(source, "DEPLOYD_", env, overrides)
    }

    /// Refuses what a daemon must not start with: empty or placeholder secrets, bad CIDRs,
    /// limits that make no sense.
    pub fn check(&self) -> Result<Allowlists, String> {
        let secrets = [
            ("auth.deploy_secret", &self.auth.deploy_secret),
            ("auth.runner_token", &self.auth.runner_token),
            ("auth.node_token", &self.auth.node_token),
            ("auth.admin_token", &self.auth.admin_token),
        ];
        for (name, s) in secrets {
            if s.is_placeholder() {
                return Err(format!(
                    "{name} is empty or a CHANGE_ME placeholder: set a real secret (env DEPLOYD_{})",
                    name.replace('.', "__").to_ascii_uppercase()
                ));
            }
        }
        let values: Vec<&str> = secrets.iter().map(|(_, s)| s.expose()).collect();
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                if values[i] == values[j] {
                    return Err(format!(
                        "{} and {} hold the same value: each channel needs its own secret",
                        secrets[i].0, secrets[j].0
                    ));
                }
            }
        }
        let parse = |name: &str, list: &[String]| -> Result<Vec<IpNet>, String> {
            list.iter()
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("auth.{name}: {s:?} is not a CIDR or an address"))
                })
                .collect()
        };
        let j = &self.jobs;
        if !(1..=3600).contains(&j.lease_seconds) {
            return Err("jobs.lease_seconds must be 1..=3600".into());
        }
        if !(1..=100).contains(&j.max_attempts) {
            return Err("jobs.max_attempts must be 1..=100".into());
        }
        if j.keep_per_app < 1 {
            return Err("jobs.keep_per_app must be at least 1".into());
        }
        if j.log_cap_bytes < 1024 {
            return Err("jobs.log_cap_bytes must be at least 1024".into());
        }
        if j.max_active_apps_per_user < 1 {
            return Err("jobs.max_active_apps_per_user must be at least 1".into());
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err("database.max_connections must be 1..=1000".into());
        }
        if !(10..=10_000).contains(&self.database.change_poll_ms) {
            return Err("database.change_poll_ms must be 10..=10000".into());
        }
        if !(100..=60_000).contains(&self.database.replica_refresh_ms) {
            return Err("database.replica_refresh_ms must be 100..=60000".into());
        }
        crate::store::estate::check_suffix(&self.database.estate_suffix)?;
        if let Some(u) = &self.database.replica_url {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() <= 512
                && u.len() > "https://".len()
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(format!(
                    "database.replica_url {u:?} must be an http:// or https:// URL without spaces"
                ));
            }
        }
        if self.nodes.heartbeat_stale_seconds < 1 {
            return Err("nodes.heartbeat_stale_seconds must be at least 1".into());
        }
        if !(1..=(self.nodes.heartbeat_stale_seconds as u64 * 500))
            .contains(&self.nodes.heartbeat_flush_ms)
        {
            return Err(
                "nodes.heartbeat_flush_ms must be at least 1 and at most half of heartbeat_stale_seconds".into(),
            );
        }
        if !(0.0..=100.0).contains(&self.nodes.disk_free_min_pct) {
            return Err("nodes.disk_free_min_pct must be 0..=100".into());
        }
        let a = &self.apps;
        use protocol::template::check as tpl;
        tpl(&a.base_path_template, &["{appId}"])
            .map_err(|m| format!("apps.base_path_template: {m}"))?;
        protocol::template::base_path(
            &a.base_path_template,
            protocol::template::Names {
                app_id: "1",
                user_id: Some("1"),
                namespace: &a.namespace,
            },
        )
        .map_err(|m| format!("apps.{m}"))?;
        tpl(&a.image_repo_template, &["{appId}"])
            .map_err(|m| format!("apps.image_repo_template: {m}"))?;
        if !a.repo_url_template.is_empty() {
            tpl(&a.repo_url_template, &["{appId}"])
                .map_err(|m| format!("apps.repo_url_template: {m}"))?;
        }
        protocol::validate::name(&a.namespace).map_err(|m| format!("apps.namespace {m}"))?;
        Ok(Allowlists {
            node: parse("node_allowed_ips", &self.auth.node_allowed_ips)?,
            admin: parse("admin_allowed_ips", &self.auth.admin_allowed_ips)?,
            runner: parse("runner_allowed_ips", &self.auth.runner_allowed_ips)?,
        })
    }
}
