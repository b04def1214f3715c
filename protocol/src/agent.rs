//! Requests and answers of agentd's runtime API (port 7005, `X-Runtime-Token`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
}

/// Error body of agentd: `{"detail": "...", "code": "PORT_NOT_LISTENING"}` (the code
/// when agentd knows the cause; the old agent sent only `detail`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentError {
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}
