//! Requests and answers of agentd's runtime API (port 7005, `X-Runtime-Token`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::job::string_or_number;

fn default_port() -> i64 {
    3000
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
    #[serde(default = "default_port")]
    pub container_port: i64,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StopAppAnswer {
    pub app_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatusAnswer {
    pub app_id: String,
    #[serde(default)]
    pub container_name: Option<String>,
    pub exists: bool,
    pub running: bool,
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
/// when agentd knows the cause; the old agent sent only `detail`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentError {
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}
