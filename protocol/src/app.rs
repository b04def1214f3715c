//! App runs: the last known state of each app.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::agent::AppStatusAnswer;
use crate::job::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppRunStatus {
    Deploying,
    Ready,
    Failed,
    Stopped,
    /// The node holds the app but its container does not run (it exited or was killed
    /// behind the node agent's back); READY again when it runs.
    Down,
}

impl AppRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppRunStatus::Deploying => "DEPLOYING",
            AppRunStatus::Ready => "READY",
            AppRunStatus::Failed => "FAILED",
            AppRunStatus::Stopped => "STOPPED",
            AppRunStatus::Down => "DOWN",
        }
    }
}

impl std::fmt::Display for AppRunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AppRunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "DEPLOYING" => Ok(AppRunStatus::Deploying),
            "READY" => Ok(AppRunStatus::Ready),
            "FAILED" => Ok(AppRunStatus::Failed),
            "STOPPED" => Ok(AppRunStatus::Stopped),
            "DOWN" => Ok(AppRunStatus::Down),
            other => Err(format!("unknown app run status {other:?}")),
        }
    }
}

/// One image an app ran, newest first in [`AppRun::recent_images`]: what rollback picks from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeployedImage {
    pub image: String,
    pub job_id: i64,
    #[serde(default)]
    pub commit_sha: Option<String>,
    pub deployed_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRun {
    pub app_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub last_job_id: Option<i64>,
    #[serde(default)]
    pub last_job_status: Option<JobStatus>,
    pub status: AppRunStatus,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub commit_sha: Option<String>,
    #[serde(default)]
    pub deploy_url: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub recent_images: Vec<DeployedImage>,
    pub updated_at: Timestamp,
    /// The repository of the app's images below the registry (`funaistudio/u7-app20002`):
    /// what `functl registry prune --all` prunes. deployd fills it in its answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repo: Option<String>,
    /// The node whose container serves the app now: `node_name` once a job succeeds there,
    /// the node it was on while a job moving it runs or after that job failed, none when
    /// no node serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_node: Option<String>,
}

/// `POST /admin/apps/{appId}/owner`: give an app to another user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveAppRequest {
    #[serde(deserialize_with = "crate::job::string_or_number")]
    pub user_id: String,
}

/// `GET /admin/apps/{appId}/logs`: which output of the app's container to send. The answer
/// is NDJSON, one [`crate::agent::AppLogChunk`] a line, streamed as the engine gives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppLogsQuery {
    /// The last N lines only (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<u64>,
    /// Only output written at or after this Unix time (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Keep the stream open and send new output as it comes.
    #[serde(default)]
    pub follow: bool,
}

/// `GET /admin/apps/{appId}/container`: the app's container as the agent of its node sees
/// it, and where the public reaches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppContainer {
    pub app_id: String,
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
    /// The node's gateway plus the base path the container is routed under.
    #[serde(default)]
    pub public_url: Option<String>,
    pub container: AppStatusAnswer,
}
