//! Requests and answers of agentd's runtime API (port 7005, `X-Runtime-Token`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::job::string_or_number;

fn default_port() -> i64 {
    3000
}

/// `containerPort` as the old agent's framework took it: an integer, a whole float
/// (`3000.0`) or a string of one (`"3000"`, spaces around allowed). Anything else is refused
/// with what was given; the range is checked by the runtime.
pub fn port_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        I(i64),
        U(u64),
        F(f64),
        S(String),
        Other(serde_json::Value),
    }
    let bad = |got: String| {
        serde::de::Error::custom(format!(
            "expected an integer or a numeric string, got {got}"
        ))
    };
    match Raw::deserialize(d)? {
        Raw::I(i) => Ok(i),
        Raw::U(u) => i64::try_from(u).map_err(|_| bad(u.to_string())),
        Raw::F(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(f as i64),
        Raw::F(f) => Err(bad(f.to_string())),
        Raw::S(s) => match s.trim() {
            t if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.len() <= 18 => {
                t.parse().map_err(|_| bad(format!("{s:?}")))
            }
            _ => Err(bad(format!("{:?}", s.chars().take(40).collect::<String>()))),
        },
        Raw::Other(v) => Err(bad(match v {
            serde_json::Value::Null => "null".into(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Array(_) => "a list".into(),
            serde_json::Value::Object(_) => "an object".into(),
            other => other.to_string(),
        })),
    }
}

/// `POST /agent/apps/deploy`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployAppRequest {
    #[serde(deserialize_with = "string_or_number")]
    pub user_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub app_id: String,
    pub image: String,
    /// An integer on our side; the old agent's callers may send a numeric string.
    #[serde(default = "default_port", deserialize_with = "port_number")]
    pub container_port: i64,
    /// Absent, empty or `/`: the node's `base_path_template`. Spaces around, a missing
    /// leading `/` and trailing slashes are normalised away (the old agent accepted them).
    #[serde(default)]
    pub base_path: Option<String>,
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub health_path: Option<String>,
    #[serde(default)]
    pub job_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployAppAnswer {
    pub app_id: String,
    pub container_name: String,
    pub status: String,
    pub preview_url: String,
}

/// `POST /agent/apps/stop` and `/agent/apps/delete`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentAppRef {
    #[serde(deserialize_with = "string_or_number")]
    pub user_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub app_id: String,
}

/// `POST /agent/apps/stop`: `{appId, status: "STOPPED"}` as the old agent answered, also
/// for an app the node does not hold (stop is idempotent); `held` and `message` say which.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StopAppAnswer {
    pub app_id: String,
    pub status: String,
    /// The node held a container of the app (false: there was nothing to stop).
    #[serde(default = "yes")]
    pub held: bool,
    /// The container stopped and kept (`rt-u-{userId}-{appId}-{shortId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn yes() -> bool {
    true
}

/// `POST /agent/apps/delete`: `{appId, status: "DELETED", images, mongo}` as the old agent
/// answered, also for an app the node does not hold (delete is idempotent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteAppAnswer {
    pub app_id: String,
    pub status: String,
    /// The node held a container of the app (false: there was nothing to delete).
    #[serde(default = "yes")]
    pub held: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub images: DeletedImages,
    pub mongo: AppDatabase,
    #[serde(default)]
    pub removed_containers: Vec<String>,
    /// The same as `images.removed` (the name of our first answers).
    #[serde(default)]
    pub removed_images: Vec<String>,
}

/// The images the app's containers ran: removed, or kept because another container uses
/// them. One already gone is in neither.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeletedImages {
    pub removed: Vec<String>,
    pub kept: Vec<String>,
}

/// What became of the app's Mongo database on delete, in the old agent's words: `enabled`
/// whether the node drops databases, `dropped` whether it did, `dbName` the database (with
/// `[runtime.mongo]`), `reason` why not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppDatabase {
    pub enabled: bool,
    pub dropped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /agent/apps/status`, in the old agent's meaning: `exists` while the app holds a
/// container that a stop has not put aside (running or not: one that crashed still exists;
/// the old agent's stop removed the container), `running` while it runs. A stop keeps the
/// container: `stopped` says so, and `containerName`, `image`, `state` describe it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatusAnswer {
    pub app_id: String,
    /// The app's container; for an app without one, the name the old agent gave every
    /// container of the app, `rt-u-{userId}-{appId}` (ours add `-{shortId}` to it so that
    /// two can run during a deploy).
    #[serde(default)]
    pub container_name: Option<String>,
    pub exists: bool,
    pub running: bool,
    /// The app was stopped (`POST /agent/apps/stop`) and its container kept.
    #[serde(default)]
    pub stopped: bool,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    /// What the engine says of the container: `running`, `restarting`, `exited`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// How often the engine restarted it (its restart policy at work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// The exit code of its last exit; absent while it runs (the engine forgets the code
    /// of an exit it restarted from: `lastExitAt` still tells when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit_at: Option<Timestamp>,
    /// The kernel killed it for memory at its last exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_killed: Option<bool>,
    /// The base path the container is routed under (`/runtime/{appId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
}

/// Which output of the container a log chunk came from; `error` ends a stream that broke
/// off (its text says why).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    Error,
}

/// One line of `GET /agent/apps/{appId}/logs?format=ndjson` (and of deployd's
/// `/admin/apps/{appId}/logs`, which passes the agent's lines through): a chunk of the
/// container's output as the engine gave it, usually one line with its newline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppLogChunk {
    pub stream: LogStream,
    pub text: String,
}

/// Error body of agentd: `{"detail": "...", "code": "PORT_NOT_LISTENING"}` (the code
/// when agentd knows the cause; the old agent sent only `detail`). A 422's `detail` is a
/// list ([`AgentInvalid`]); read here, it becomes one line (`body.appId: Field required`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentError {
    #[serde(deserialize_with = "detail_text")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The 422 body, as the old agent's framework (FastAPI) sends it:
/// `{"detail": [{"type": "missing", "loc": ["body", "appId"], "msg": "Field required"}]}`,
/// and our `code`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentInvalid {
    pub detail: Vec<InvalidField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// One refused part of a request: `loc` is where (`body`, `query` or `path`, then the
/// field), `type` what kind of refusal (`missing`, `json_invalid`, `value_error`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvalidField {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<Loc>,
    pub msg: String,
}

/// A step of an [`InvalidField`]'s `loc`: a name, or a position (a list's index, or the
/// byte of the body where its JSON broke).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Loc {
    Index(u64),
    Key(String),
}

impl std::fmt::Display for InvalidField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut at = String::new();
        for l in &self.loc {
            if !at.is_empty() {
                at.push('.');
            }
            match l {
                Loc::Index(i) => at.push_str(&i.to_string()),
                Loc::Key(k) => at.push_str(k),
            }
        }
        if at.is_empty() {
            write!(f, "{}", self.msg)
        } else {
            write!(f, "{at}: {}", self.msg)
        }
    }
}

/// `detail` as one line: a string as it is, a list of refused fields joined with `; `.
fn detail_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Fields(Vec<InvalidField>),
        Other(serde_json::Value),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Fields(v) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        Raw::Other(v) => v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port_of(v: serde_json::Value) -> Result<i64, String> {
        let body =
            serde_json::json!({"userId": 1, "appId": 2, "image": "r/a:1", "containerPort": v});
        serde_json::from_value::<DeployAppRequest>(body)
            .map(|r| r.container_port)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn container_port_is_an_integer_or_a_numeric_string() {
        assert_eq!(port_of(serde_json::json!(3000)), Ok(3000));
        assert_eq!(port_of(serde_json::json!("3000")), Ok(3000));
        assert_eq!(port_of(serde_json::json!(" 8080 ")), Ok(8080));
        assert_eq!(port_of(serde_json::json!(3000.0)), Ok(3000));
        for bad in [
            serde_json::json!("x"),
            serde_json::json!(""),
            serde_json::json!("30.5"),
            serde_json::json!("-1"),
            serde_json::json!(30.5),
            serde_json::json!(true),
            serde_json::json!(null),
            serde_json::json!([3000]),
        ] {
            let e = port_of(bad.clone()).unwrap_err();
            assert!(
                e.contains("expected an integer or a numeric string"),
                "{bad}: {e}"
            );
        }
        let absent = serde_json::json!({"userId": "1", "appId": "2", "image": "r/a:1"});
        let r: DeployAppRequest = serde_json::from_value(absent).unwrap();
        assert_eq!(r.container_port, 3000);
        // Our own runner sends an integer.
        assert_eq!(serde_json::to_value(&r).unwrap()["containerPort"], 3000);
    }

    #[test]
    fn an_error_detail_reads_as_a_line_whether_text_or_a_list() {
        let e: AgentError = serde_json::from_value(serde_json::json!({
            "detail": [
                {"type": "missing", "loc": ["body", "appId"], "msg": "Field required"},
                {"type": "json_invalid", "loc": ["body", 17], "msg": "JSON decode error"}
            ],
            "code": "BAD_REQUEST"
        }))
        .unwrap();
        assert_eq!(
            e.detail,
            "body.appId: Field required; body.17: JSON decode error"
        );
        let e: AgentError = serde_json::from_value(serde_json::json!({"detail": "no"})).unwrap();
        assert_eq!((e.detail.as_str(), e.code), ("no", None));
    }
}
