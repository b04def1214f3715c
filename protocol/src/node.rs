//! Runtime nodes: the heartbeat a node sends and the record deployd keeps.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::check::CheckReport;

/// `POST /internal/runtime-nodes/heartbeat`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeHeartbeat {
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
    pub disk_free_pct: f64,
    pub disk_free_bytes: i64,
    pub container_count: i64,
    /// The node's latest connectivity check, when it runs them (`[check]` in agentd.toml).
    /// Optional: the existing estate's agents send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<CheckReport>,
    /// The agent's version line (`0.1.0 (2657bbe)`). Optional: older agents send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Every app the node holds, its newest container each. deployd fills an app's image
    /// from it when a runner's report had none and corrects a record the node contradicts.
    /// Optional: the existing estate's agents send none (and nothing is corrected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<NodeApp>>,
    /// The container engine the node runs its apps on. Optional: older agents send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineInfo>,
}

/// The container engine of a node (`docker` or `podman`), its version and the Docker
/// API version agentd negotiated with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EngineInfo {
    pub kind: String,
    pub version: String,
    pub api_version: String,
}

impl EngineInfo {
    /// What a heartbeat may carry: a kind of lower-case letters, a version and an API
    /// version of printable characters, each at most 32 long.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("kind", &self.kind),
            ("version", &self.version),
            ("apiVersion", &self.api_version),
        ];
        for (name, value) in fields {
            if value.is_empty() || value.len() > 32 {
                return Err(format!("{name} must be 1 to 32 characters long"));
            }
            if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(format!(
                    "{name} contains {c:?}; only printable ASCII characters without spaces are allowed"
                ));
            }
        }
        if !self.kind.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(format!(
                "kind {:?} is not a word of lower-case letters (docker, podman)",
                self.kind
            ));
        }
        Ok(())
    }
}

/// `podman 4.3.1 (API 1.41)`
impl std::fmt::Display for EngineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (API {})",
            self.kind, self.version, self.api_version
        )
    }
}

/// One app on a node, as its heartbeat carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeApp {
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub image: String,
    pub running: bool,
    /// When its container was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// Most apps one heartbeat may list.
pub const MAX_NODE_APPS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodeHealth {
    Healthy,
    Stale,
    Draining,
    Disabled,
}

impl NodeHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeHealth::Healthy => "HEALTHY",
            NodeHealth::Stale => "STALE",
            NodeHealth::Draining => "DRAINING",
            NodeHealth::Disabled => "DISABLED",
        }
    }
}

impl std::fmt::Display for NodeHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeNode {
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
    pub disk_free_pct: f64,
    pub disk_free_bytes: i64,
    pub container_count: i64,
    pub enabled: bool,
    pub draining: bool,
    /// True when no heartbeat came within `heartbeat_stale_seconds`.
    pub stale: bool,
    pub status: NodeHealth,
    pub placements: i64,
    #[serde(default)]
    pub last_heartbeat_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The version its agent sent with its last heartbeat; none from an older agent.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// The container engine its last heartbeat named; none from an older agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub app_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    pub node_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `POST /admin/placements/reassign`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReassignRequest {
    #[serde(deserialize_with = "crate::job::string_or_number")]
    pub app_id: String,
    pub node_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[serde(default)]
    pub detail: Option<String>,
}

/// `GET /admin/settings`: the thresholds deployd judges by, and its clock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EstateSettings {
    /// deployd's own time when it answered: ages and leases are judged by this clock.
    pub now: Timestamp,
    pub heartbeat_stale_seconds: i64,
    pub disk_free_min_pct: f64,
    pub runner_stale_seconds: i64,
    pub lease_seconds: i64,
    pub max_attempts: i64,
}

/// One line of deployd's route table (`GET /admin/routes`, `/internal/runtime-nodes/routes`):
/// an app's base path and the gateway of the node that holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeRoute {
    pub app_id: String,
    pub base_path: String,
    pub node_name: String,
    pub gateway_url: String,
    pub status: crate::app::AppRunStatus,
}
