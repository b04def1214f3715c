//! Runners as deployd knows them: registered by what they send.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunnerHealth {
    Healthy,
    Stale,
}

impl std::fmt::Display for RunnerHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunnerHealth::Healthy => "HEALTHY",
            RunnerHealth::Stale => "STALE",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Runner {
    pub runner_id: String,
    pub status: RunnerHealth,
    pub last_seen_at: Timestamp,
    #[serde(default)]
    pub remote_addr: Option<String>,
    /// A runner of the existing estate that sends no token.
    pub legacy: bool,
    pub running_jobs: i64,
    pub jobs_claimed: i64,
    pub created_at: Timestamp,
    /// The version its agent sent with its last claim; none from an older agent.
    #[serde(default)]
    pub agent_version: Option<String>,
}
