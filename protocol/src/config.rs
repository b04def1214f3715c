//! Layered settings shared by the three programs: a TOML file, overridden by environment
//! variables (`PREFIX_SECTION__KEY`), overridden by flags. It lives here, not in `daemon`,
//! because functl loads its own config with it and should not link a server loop for that;
//! it needs nothing protocol does not already have (serde, toml).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid settings ({origin}): {message}")]
    Invalid { origin: String, message: String },
}

/// How deployd and agentd write their log lines (`log_format`): text for people, or one JSON
/// object a line (time, level, target, message, fields) for a log shipper. Any other value
/// is refused at load, naming these two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the file came from: given explicitly (must exist) or the default path (may be absent).
pub enum Source<'a> {
    Explicit(&'a Path),
    Default(&'a Path),
}

/// Loads `T` from its defaults, then the file, then `{prefix}*` environment variables, then
/// `overrides` (dotted keys from flags). Unknown keys are refused when `T` denies them.
pub fn load<T>(
    source: Source<'_>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: Vec<(&str, toml::Value)>,
) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned,
{
    load_shaped(&T::default(), source, env_prefix, env, overrides)
}

/// Like [`load`], with `shape` telling the type of each key an environment variable may
/// set: give optional sections a value there so that their keys are typed too.
pub fn load_shaped<T>(
    shape: &T,
    source: Source<'_>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: Vec<(&str, toml::Value)>,
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned,
{
    let shape = toml::Value::try_from(shape).map_err(|e| ConfigError::Invalid {
        origin: "defaults".into(),
        message: e.to_string(),
    })?;
    let mut merged = toml::Table::new();
    let mut origin = "defaults".to_string();

    let (path, must_exist) = match source {
        Source::Explicit(p) => (p, true),
        Source::Default(p) => (p, false),
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        path: path.to_path_buf(),
                        message: e.message().to_string(),
                    })?;
            merged = table;
            origin = format!("file {}", path.display());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {}
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    }

    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(env_prefix))
        .collect();
    env.sort();
    for (var, raw) in env {
        let key = var[env_prefix.len()..].to_ascii_lowercase();
        let keys: Vec<&str> = key.split("__").collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(ConfigError::Env {
                var,
                message: "empty key segment".into(),
            });
        }
        let value = typed_like(&shape, &keys, &raw);
        set_path(&mut merged, &keys, value).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
        origin = format!("{origin} + environment");
    }
    for (dotted, value) in overrides {
        let keys: Vec<&str> = dotted.split('.').collect();
        set_path(&mut merged, &keys, value).map_err(|message| ConfigError::Invalid {
            origin: "flags".into(),
            message,
        })?;
    }
    // The setting's path goes with the refusal: `runtime.restart_policy: unknown variant ...`.
    serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().message().to_string();
        ConfigError::Invalid {
            origin,
            message: if path.is_empty() || path == "." {
                message
            } else {
                format!("{path}: {message}")
            },
        }
    })
}

/// An environment value takes the type of the default at the same key, so that `"01"`
/// stays a string for a string setting and `"30"` becomes a number for a number setting.
fn typed_like(shape: &toml::Value, keys: &[&str], raw: &str) -> toml::Value {
    let mut cur = Some(shape);
    for k in keys {
        cur = cur.and_then(|v| v.get(k));
    }
    let parsed = || {
        format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    match cur {
        Some(toml::Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.into())),
        Some(toml::Value::Float(_)) => raw
            .trim()
            .parse::<f64>()
            .map(toml::Value::Float)
            .unwrap_or_else(|_| toml::Value::String(raw.into())),
        Some(toml::Value::Boolean(_)) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.into()),
        },
        Some(toml::Value::Array(_)) => match parsed() {
            Some(v @ toml::Value::Array(_)) => v,
            // A comma-separated list is what people type into an environment variable.
            _ => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.into()))
                    .collect(),
            ),
        },
        Some(_) => toml::Value::String(raw.into()),
        None => match parsed() {
            Some(v @ (toml::Value::Boolean(_) | toml::Value::Array(_))) => v,
            _ => toml::Value::String(raw.into()),
        },
    }
}

fn set_path(table: &mut toml::Table, keys: &[&str], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut cur = table;
    for k in parents {
        let entry = cur
            .entry(k.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("{k} is a value, not a section"))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// The effective settings as TOML, secrets shown as `***` (they serialize that way).
pub fn render<T: Serialize>(settings: &T) -> String {
    toml::to_string_pretty(settings).unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct S {
        listen: String,
        n: i64,
        flag: bool,
        ips: Vec<String>,
        sec: Sec,
    }
    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sec {
        name: String,
    }

    #[test]
    fn env_overrides_file_and_keeps_types() {
        let dir = std::env::temp_dir().join(format!("functl-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let f = dir.join("c.toml");
        std::fs::write(&f, "listen = \"a\"\nn = 1\n[sec]\nname = \"x\"\n").ok();
        let env = vec![
            ("T_N".to_string(), "30".to_string()),
            ("T_SEC__NAME".to_string(), "01".to_string()),
            ("T_IPS".to_string(), "10.0.0.0/8, 127.0.0.1/32".to_string()),
            ("T_FLAG".to_string(), "true".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let s: S = load(
            Source::Explicit(&f),
            "T_",
            env,
            vec![("listen", "b".into())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.listen, "b");
        assert_eq!(s.n, 30);
        assert!(s.flag);
        assert_eq!(s.sec.name, "01");
        assert_eq!(s.ips, vec!["10.0.0.0/8", "127.0.0.1/32"]);
    }

    #[test]
    fn a_log_format_is_text_or_json() {
        #[derive(Debug, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct L {
            log_format: LogFormat,
        }
        let load_env = |v: &str| -> Result<L, ConfigError> {
            let env = vec![("T_LOG_FORMAT".to_string(), v.to_string())];
            load(
                Source::Default(Path::new("/nonexistent/x.toml")),
                "T_",
                env,
                vec![],
            )
        };
        assert_eq!(
            load_env("json").map(|l| l.log_format).ok(),
            Some(LogFormat::Json)
        );
        assert_eq!(
            load_env("text").map(|l| l.log_format).ok(),
            Some(LogFormat::Text)
        );
        let e = load_env("xml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("log_format") && e.contains("`text`") && e.contains("`json`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let env = vec![("T_NOPE".to_string(), "1".to_string())];
        let r: Result<S, _> = load(
            Source::Default(Path::new("/nonexistent/x.toml")),
            "T_",
            env,
            vec![],
        );
        let e = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("nope"), "{e}");
    }
}
