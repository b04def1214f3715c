//! Where functl finds deployd and its secrets: `~/.config/functl/config.toml` (or `--config`),
//! overridden by `FUNCTL_*` environment variables, overridden by flags.

use std::path::{Path, PathBuf};

use protocol::Secret;
use protocol::config::{ConfigError, Source};
use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "FUNCTL_";
pub const DEFAULT_DEPLOY_URL: &str = "http://127.0.0.1:7002";

/// The keys that environment variables may set, as `FUNCTL_{KEY}`.
const ENV_KEYS: &[&str] = &[
    "deploy_url",
    "deploy_secret",
    "admin_token",
    "registry",
    "registry_username",
    "registry_password",
    "registry_namespace",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// deployd's base URL.
    pub deploy_url: String,
    /// Sent as `X-DEPLOY-SECRET` on jobs and deploys.
    pub deploy_secret: Secret,
    /// Sent as `X-Admin-Token` on nodes, apps and runners.
    pub admin_token: Secret,
    /// The registry (Harbor) host, for registry commands.
    pub registry: String,
    pub registry_username: String,
    pub registry_password: Secret,
    /// The project (Harbor) or namespace app images live under.
    pub registry_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            deploy_url: DEFAULT_DEPLOY_URL.to_string(),
            deploy_secret: Secret::default(),
            admin_token: Secret::default(),
            registry: String::new(),
            registry_username: String::new(),
            registry_password: Secret::default(),
            registry_namespace: "funaistudio".to_string(),
        }
    }
}

/// Values given as global flags; they win over the file and the environment.
#[derive(Debug, Default)]
pub struct Overrides {
    pub deploy_url: Option<String>,
    pub deploy_secret: Option<String>,
    pub admin_token: Option<String>,
}

/// Which file the settings came from, to name it in hints.
#[derive(Debug, Clone)]
pub enum ConfigFile {
    /// `--config` or `FUNCTL_CONFIG`: must exist.
    Explicit(PathBuf),
    /// `$HOME/.config/functl/config.toml`: may be absent.
    Default(PathBuf),
    /// No `$HOME` and no `--config`: environment and flags only.
    None,
}

impl ConfigFile {
    pub fn resolve(explicit: Option<PathBuf>, home: Option<PathBuf>) -> ConfigFile {
        match (explicit, home) {
            (Some(p), _) => ConfigFile::Explicit(p),
            (None, Some(home)) if !home.as_os_str().is_empty() => {
                ConfigFile::Default(home.join(".config").join("functl").join("config.toml"))
            }
            (None, _) => ConfigFile::None,
        }
    }

    /// The path as a person would type it: `~/.config/functl/config.toml` for the default.
    pub fn display(&self) -> String {
        match self {
            ConfigFile::Explicit(p) => p.display().to_string(),
            ConfigFile::Default(_) | ConfigFile::None => "~/.config/functl/config.toml".to_string(),
        }
    }
}

impl Config {
    pub fn load(
        file: &ConfigFile,
        env: impl IntoIterator<Item = (String, String)>,
        flags: Overrides,
    ) -> Result<Config, ConfigError> {
        // Other `FUNCTL_*` variables (`FUNCTL_CONFIG`, read by clap, or ones a later version
        // reads) are not settings; refusing them would break every command.
        let env = env.into_iter().filter(|(var, _)| {
            var.strip_prefix(ENV_PREFIX)
                .is_some_and(|key| ENV_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)))
        });
        let mut overrides: Vec<(&str, toml::Value)> = Vec::new();
        let flag_values = [
            ("deploy_url", flags.deploy_url),
            ("deploy_secret", flags.deploy_secret),
            ("admin_token", flags.admin_token),
        ];
        for (key, value) in flag_values {
            if let Some(v) = value {
                overrides.push((key, toml::Value::String(v)));
            }
        }
        // Without a home directory there is no default file; an empty path reads as absent.
        let source = match file {
            ConfigFile::Explicit(p) => Source::Explicit(p),
            ConfigFile::Default(p) => Source::Default(p),
            ConfigFile::None => Source::Default(Path::new("")),
        };
        let config: Config = protocol::config::load(source, ENV_PREFIX, env, overrides)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let url = self.deploy_url.trim();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.len() <= "https://".len() {
            return Err(ConfigError::Invalid {
                origin: "deploy_url".into(),
                message: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        Ok(())
    }
}

/// What to tell a person whose config lacks `key`.
pub fn missing_hint(key: &str, file: &str) -> String {
    format!(
        "set {key} in {file} or {ENV_PREFIX}{} (or pass --{})",
        key.to_ascii_uppercase(),
        key.replace('_', "-")
    )
}

/// The hint for a [`protocol::client::ClientError::MissingCredential`] that got past the
/// checks in [`crate::ctx::Ctx`].
pub fn missing_credential_hint(what: &str) -> String {
    let key = match what {
        "the deploy secret" => "deploy_secret",
        "the admin token" => "admin_token",
        other => return format!("{other} is not configured"),
    };
    missing_hint(key, "~/.config/functl/config.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write_home_config(text: &str) -> (tempfile::TempDir, ConfigFile) {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = home.path().join(".config/functl");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("config.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        let file = ConfigFile::resolve(None, Some(home.path().to_path_buf()));
        (home, file)
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = ConfigFile::resolve(None, Some(home.path().to_path_buf()));
        let c =
            Config::load(&file, env(&[]), Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.deploy_url, DEFAULT_DEPLOY_URL);
        assert!(c.deploy_secret.is_empty());
        assert!(c.admin_token.is_empty());
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let (_home, file) = write_home_config(
            "deploy_url = \"http://file:7002\"\ndeploy_secret = \"from-file\"\nadmin_token = \"admin-file\"\nregistry = \"10.0.0.103\"\n",
        );
        let c = Config::load(
            &file,
            env(&[
                ("FUNCTL_DEPLOY_URL", "http://env:7002"),
                ("FUNCTL_DEPLOY_SECRET", "from-env"),
                ("FUNCTL_CONFIG", "/ignored/by/the/loader.toml"),
                ("FUNCTL_SOMETHING_LATER", "x"),
                ("OTHER_VAR", "x"),
            ]),
            Overrides {
                deploy_url: Some("http://flag:7002".into()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.deploy_url, "http://flag:7002");
        assert_eq!(c.deploy_secret.expose(), "from-env");
        assert_eq!(c.admin_token.expose(), "admin-file");
        assert_eq!(c.registry, "10.0.0.103");
    }

    #[test]
    fn explicit_file_must_exist() {
        let file = ConfigFile::resolve(Some(PathBuf::from("/nonexistent/functl.toml")), None);
        let err = Config::load(&file, env(&[]), Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent/functl.toml"), "{err}");
    }

    #[test]
    fn no_home_means_environment_only() {
        let file = ConfigFile::resolve(None, None);
        let c = Config::load(
            &file,
            env(&[("FUNCTL_ADMIN_TOKEN", "t")]),
            Overrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.admin_token.expose(), "t");
    }

    #[test]
    fn typos_in_the_file_are_named() {
        let (_home, file) = write_home_config("deploy_secert = \"x\"\n");
        let err = Config::load(&file, env(&[]), Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("deploy_secert"), "{err}");
    }

    #[test]
    fn deploy_url_must_be_http() {
        let file = ConfigFile::None;
        let r = Config::load(
            &file,
            env(&[("FUNCTL_DEPLOY_URL", "10.0.0.100:7002")]),
            Overrides::default(),
        );
        assert!(r.is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config {
            deploy_secret: Secret::new("s3cr3t-value"),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn hints_name_the_key_the_variable_and_the_flag() {
        assert_eq!(
            missing_hint("deploy_secret", "~/.config/functl/config.toml"),
            "set deploy_secret in ~/.config/functl/config.toml or FUNCTL_DEPLOY_SECRET (or pass --deploy-secret)"
        );
    }
}
