//! Where functl finds deployd and its secrets: `~/.config/functl/config.toml` (or
//! `$XDG_CONFIG_HOME/functl/config.toml`, or `--config`), overridden by the chosen context's
//! `[contexts.NAME]` table, overridden by `FUNCTL_*` environment variables, overridden by flags.
//!
//! A context is one estate (production, staging, a local stack): chosen by `--context`, else
//! `FUNCTL_CONTEXT`, else the file's `current_context` (`functl context use NAME` writes it).

use std::collections::BTreeMap;
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
    "registry_insecure",
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
    /// The registry speaks plain HTTP: a bare `host[:port]` in `registry` means `http://`.
    /// Without it, registry commands also take the local engine's insecure-registries.
    pub registry_insecure: bool,
    /// The context used when neither `--context` nor `FUNCTL_CONTEXT` names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    /// `[contexts.NAME]`: settings of one estate, over the ones at the top of the file.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, Context>,
    /// The context these settings were taken from, if any.
    #[serde(skip)]
    pub context: Option<String>,
}

/// The settings a context may hold; those it leaves out come from the top of the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub deploy_url: Option<String>,
    pub deploy_secret: Option<Secret>,
    pub admin_token: Option<Secret>,
    pub registry: Option<String>,
    pub registry_username: Option<String>,
    pub registry_password: Option<Secret>,
    pub registry_namespace: Option<String>,
    pub registry_insecure: Option<bool>,
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
            registry_insecure: false,
            current_context: None,
            contexts: BTreeMap::new(),
            context: None,
        }
    }
}

/// Values given as global flags; they win over the file and the environment.
#[derive(Debug, Default)]
pub struct Overrides {
    pub deploy_url: Option<String>,
    pub deploy_secret: Option<String>,
    pub admin_token: Option<String>,
    /// `--context` or `FUNCTL_CONTEXT`.
    pub context: Option<String>,
}

/// Which file the settings came from, to name it in hints.
#[derive(Debug, Clone)]
pub enum ConfigFile {
    /// `--config` or `FUNCTL_CONFIG`: must exist.
    Explicit(PathBuf),
    /// `$XDG_CONFIG_HOME/functl/config.toml` or `$HOME/.config/functl/config.toml`: may be
    /// absent.
    Default(PathBuf),
    /// No `$HOME` and no `--config`: environment and flags only.
    None,
}

impl ConfigFile {
    /// `xdg` is `$XDG_CONFIG_HOME`: used when set to an absolute path, as the XDG base
    /// directory specification says; else `$HOME/.config`.
    pub fn resolve(
        explicit: Option<PathBuf>,
        home: Option<PathBuf>,
        xdg: Option<PathBuf>,
    ) -> ConfigFile {
        let in_config_dir = |dir: PathBuf| dir.join("functl").join("config.toml");
        match (explicit, xdg, home) {
            (Some(p), _, _) => ConfigFile::Explicit(p),
            (None, Some(xdg), _) if xdg.is_absolute() => ConfigFile::Default(in_config_dir(xdg)),
            (None, _, Some(home)) if !home.as_os_str().is_empty() => {
                ConfigFile::Default(in_config_dir(home.join(".config")))
            }
            (None, _, _) => ConfigFile::None,
        }
    }

    /// The path as a person would type it: `~/.config/functl/config.toml` for the default
    /// under the home directory.
    pub fn display(&self) -> String {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        match self {
            ConfigFile::Explicit(p) => p.display().to_string(),
            ConfigFile::Default(p) => match home.and_then(|h| p.strip_prefix(h).ok()) {
                Some(rel) if !rel.as_os_str().is_empty() => format!("~/{}", rel.display()),
                _ => p.display().to_string(),
            },
            ConfigFile::None => "~/.config/functl/config.toml".to_string(),
        }
    }

    /// The file's path, if there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigFile::Explicit(p) | ConfigFile::Default(p) => Some(p),
            ConfigFile::None => None,
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
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(var, _)| {
                var.strip_prefix(ENV_PREFIX)
                    .is_some_and(|key| ENV_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)))
            })
            .collect();
        // Keys the environment or a flag sets: a context does not override those.
        let mut pinned: Vec<String> = env
            .iter()
            .map(|(var, _)| var[ENV_PREFIX.len()..].to_ascii_lowercase())
            .collect();
        let chosen = flags.context.clone();
        let mut overrides: Vec<(&str, toml::Value)> = Vec::new();
        let flag_values = [
            ("deploy_url", flags.deploy_url),
            ("deploy_secret", flags.deploy_secret),
            ("admin_token", flags.admin_token),
        ];
        for (key, value) in flag_values {
            if let Some(v) = value {
                pinned.push(key.to_string());
                overrides.push((key, toml::Value::String(v)));
            }
        }
        // Without a home directory there is no default file; an empty path reads as absent.
        let source = match file {
            ConfigFile::Explicit(p) => Source::Explicit(p),
            ConfigFile::Default(p) => Source::Default(p),
            ConfigFile::None => Source::Default(Path::new("")),
        };
        let mut config: Config = protocol::config::load(source, ENV_PREFIX, env, overrides)?;
        config.apply_context(chosen, file, &pinned)?;
        config.check()?;
        Ok(config)
    }

    /// Takes the chosen context's settings, except those the environment or flags set.
    fn apply_context(
        &mut self,
        chosen: Option<String>,
        file: &ConfigFile,
        pinned: &[String],
    ) -> Result<(), ConfigError> {
        let (name, origin) = match chosen {
            Some(n) => (n, "--context / FUNCTL_CONTEXT".to_string()),
            None => match self.current_context.clone() {
                Some(n) => (n, format!("current_context in {}", file.display())),
                None => return Ok(()),
            },
        };
        let Some(ctx) = self.contexts.get(&name).cloned() else {
            let known: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
            return Err(ConfigError::Invalid {
                origin,
                message: format!(
                    "no context {name:?} in {}; {}",
                    file.display(),
                    if known.is_empty() {
                        "it has no [contexts.NAME] tables".to_string()
                    } else {
                        format!("known: {}", known.join(", "))
                    }
                ),
            });
        };
        let free = |key: &str| !pinned.iter().any(|p| p == key);
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(v) = ctx.$field.clone() && free(stringify!($field)) {
                    self.$field = v;
                }
            )*};
        }
        take!(
            deploy_url,
            deploy_secret,
            admin_token,
            registry,
            registry_username,
            registry_password,
            registry_namespace,
            registry_insecure
        );
        self.context = Some(name);
        Ok(())
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
        let file = ConfigFile::resolve(None, Some(home.path().to_path_buf()), None);
        (home, file)
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = ConfigFile::resolve(None, Some(home.path().to_path_buf()), None);
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
    fn registry_insecure_comes_from_file_context_or_environment() {
        let (_home, file) = write_home_config(
            "registry = \"10.0.0.103\"\n[contexts.estate]\nregistry_insecure = true\n",
        );
        let c = with_context(&file, &[], None);
        assert!(!c.registry_insecure);
        let c = with_context(&file, &[], Some("estate"));
        assert!(c.registry_insecure);
        let c = with_context(&file, &[("FUNCTL_REGISTRY_INSECURE", "true")], None);
        assert!(c.registry_insecure);
        // The environment wins over the context, in both directions.
        let c = with_context(
            &file,
            &[("FUNCTL_REGISTRY_INSECURE", "false")],
            Some("estate"),
        );
        assert!(!c.registry_insecure);
        let err = Config::load(
            &file,
            env(&[("FUNCTL_REGISTRY_INSECURE", "maybe")]),
            Overrides::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("registry_insecure"), "{err}");
    }

    #[test]
    fn explicit_file_must_exist() {
        let file = ConfigFile::resolve(Some(PathBuf::from("/nonexistent/functl.toml")), None, None);
        let err = Config::load(&file, env(&[]), Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent/functl.toml"), "{err}");
    }

    #[test]
    fn no_home_means_environment_only() {
        let file = ConfigFile::resolve(None, None, None);
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

    const ESTATES: &str = "deploy_url = \"http://top:7002\"\nadmin_token = \"top-admin\"\ncurrent_context = \"staging\"\n\n[contexts.prod]\ndeploy_url = \"http://prod:7002\"\ndeploy_secret = \"prod-secret\"\n\n[contexts.staging]\ndeploy_url = \"http://staging:7002\"\n";

    fn with_context(file: &ConfigFile, vars: &[(&str, &str)], context: Option<&str>) -> Config {
        Config::load(
            file,
            env(vars),
            Overrides {
                context: context.map(str::to_string),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_context_overrides_the_top_and_is_overridden_by_environment_and_flags() {
        let (_home, file) = write_home_config(ESTATES);
        // current_context picks staging; what staging leaves out comes from the top.
        let c = with_context(&file, &[], None);
        assert_eq!(c.context.as_deref(), Some("staging"));
        assert_eq!(c.deploy_url, "http://staging:7002");
        assert_eq!(c.admin_token.expose(), "top-admin");
        // --context (or FUNCTL_CONTEXT, which clap hands over the same way) wins.
        let c = with_context(&file, &[], Some("prod"));
        assert_eq!(c.context.as_deref(), Some("prod"));
        assert_eq!(c.deploy_url, "http://prod:7002");
        assert_eq!(c.deploy_secret.expose(), "prod-secret");
        // An environment variable wins over the context.
        let c = with_context(
            &file,
            &[("FUNCTL_DEPLOY_URL", "http://env:7002")],
            Some("prod"),
        );
        assert_eq!(c.deploy_url, "http://env:7002");
        assert_eq!(c.deploy_secret.expose(), "prod-secret");
        assert!(!format!("{c:?}").contains("prod-secret"));
    }

    #[test]
    fn an_unknown_context_is_refused_naming_the_known_ones() {
        let (_home, file) = write_home_config(ESTATES);
        let err = Config::load(
            &file,
            env(&[]),
            Overrides {
                context: Some("prdo".into()),
                ..Default::default()
            },
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("no context \"prdo\"") && err.contains("known: prod, staging"),
            "{err}"
        );
        let (_home, file) = write_home_config("current_context = \"gone\"\n");
        let err = Config::load(&file, env(&[]), Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("current_context") && err.contains("no [contexts.NAME] tables"),
            "{err}"
        );
    }

    #[test]
    fn xdg_config_home_is_honoured_when_absolute() {
        let f = ConfigFile::resolve(None, Some("/home/op".into()), Some("/xdg".into()));
        assert_eq!(f.path(), Some(Path::new("/xdg/functl/config.toml")));
        let f = ConfigFile::resolve(None, Some("/home/op".into()), Some("relative".into()));
        assert_eq!(
            f.path(),
            Some(Path::new("/home/op/.config/functl/config.toml"))
        );
        let f = ConfigFile::resolve(Some("/x.toml".into()), None, Some("/xdg".into()));
        assert_eq!(f.path(), Some(Path::new("/x.toml")));
    }
}
