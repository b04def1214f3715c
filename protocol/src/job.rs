//! Jobs: the payload a deploy starts from, the job record, and the runner protocol bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?}; one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED"
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    #[default]
    BuildAndDeploy,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        "BUILD_AND_DEPLOY"
    }
}

/// Phases a runner reports in its heartbeats.
pub mod phase {
    pub const CLAIMED: &str = "CLAIMED";
    pub const CLONE: &str = "CLONE";
    pub const BUILD: &str = "BUILD";
    pub const PUSH: &str = "PUSH";
    pub const DEPLOY: &str = "DEPLOY";
    pub const ORDER: [&str; 4] = [CLONE, BUILD, PUSH, DEPLOY];
}

/// Accepts a JSON string or number and keeps it as a string: the existing API sends
/// `appId` and `userId` as numbers.
pub fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(i64),
        U(u64),
    }
    match Raw::deserialize(d) {
        Ok(Raw::S(s)) => Ok(s),
        Ok(Raw::I(i)) => Ok(i.to_string()),
        Ok(Raw::U(u)) => Ok(u.to_string()),
        Err(_) => Err(serde::de::Error::custom("expected a string or an integer")),
    }
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "string_or_number")] String);
    Option::<Wrap>::deserialize(d).map(|o| o.map(|w| w.0))
}

/// What a deploy starts from. Stage 1 names an `image`; stage 2 names a `repoSshUrl` to build.
/// Unknown keys are kept in `extra`: the payload is the estate's extension point.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobPayload {
    #[serde(deserialize_with = "string_or_number")]
    pub app_id: String,
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_ssh_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl JobPayload {
    pub const DEFAULT_PORT: u16 = 3000;

    pub fn container_port_or_default(&self) -> u16 {
        self.container_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(Self::DEFAULT_PORT)
    }

    pub fn base_path_or_default(&self) -> String {
        self.base_path
            .clone()
            .unwrap_or_else(|| format!("/runtime/{}", self.app_id))
    }

    pub fn git_ref_or_default(&self) -> &str {
        self.git_ref.as_deref().unwrap_or("main")
    }

    pub fn dockerfile_path_or_default(&self) -> &str {
        self.dockerfile_path.as_deref().unwrap_or("Dockerfile")
    }

    /// Every field checked; the error names the field as the wire spells it.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.validate_with(false)
    }

    /// As [`JobPayload::validate`]; `allow_local_repos` also accepts `file:///abs/path`
    /// repositories (a local stack, where runner and repository share one machine).
    pub fn validate_with(&self, allow_local_repos: bool) -> Result<(), FieldError> {
        self.check(allow_local_repos, true)
    }

    /// As [`JobPayload::validate_with`] for the fields given: a payload deployd completes
    /// from the app's record may name neither image nor repository yet.
    pub fn validate_given(&self, allow_local_repos: bool) -> Result<(), FieldError> {
        self.check(allow_local_repos, false)
    }

    fn check(&self, allow_local_repos: bool, need_source: bool) -> Result<(), FieldError> {
        use crate::validate as v;
        let f = |field: &str, r: Result<(), String>| r.map_err(|m| FieldError::new(field, m));
        f("payload.appId", v::id(&self.app_id))?;
        if let Some(u) = &self.user_id {
            f("payload.userId", v::id(u))?;
        }
        match (&self.image, &self.repo_ssh_url) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "payload.image",
                    "give either image (stage 1) or repoSshUrl (stage 2), not both",
                ));
            }
            (None, None) if need_source => {
                return Err(FieldError::new(
                    "payload.image",
                    "one of image (stage 1) or repoSshUrl (stage 2) is required",
                ));
            }
            _ => {}
        }
        if let Some(img) = &self.image {
            f("payload.image", v::ImageRef::parse(img).map(|_| ()))?;
        }
        if let Some(p) = self.container_port {
            f("payload.containerPort", v::port(p).map(|_| ()))?;
        }
        if let Some(u) = &self.repo_ssh_url {
            match u.strip_prefix("file://") {
                Some(path) if allow_local_repos => {
                    let ok = path.starts_with('/')
                        && !path.split('/').any(|s| s == "..")
                        && !path.chars().any(|c| c.is_control());
                    if !ok {
                        return Err(FieldError::new(
                            "payload.repoSshUrl",
                            "a local repository is file:///absolute/path",
                        ));
                    }
                }
                Some(_) => {
                    return Err(FieldError::new(
                        "payload.repoSshUrl",
                        "file:// repositories are accepted only by a local stack (jobs.allow_local_repos)",
                    ));
                }
                None => f("payload.repoSshUrl", v::repo_ssh_url(u))?,
            }
        }
        if let Some(r) = &self.git_ref {
            f("payload.gitRef", v::git_ref(r))?;
        }
        if let Some(p) = &self.dockerfile_path {
            f("payload.dockerfilePath", v::repo_relative_path(p))?;
        }
        if let Some(p) = &self.build_context {
            f("payload.buildContext", v::repo_relative_path(p))?;
        }
        if let Some(r) = &self.image_repo {
            let parsed =
                v::ImageRef::parse(r).map_err(|m| FieldError::new("payload.imageRepo", m))?;
            if parsed.tag.is_some() || parsed.digest.is_some() {
                return Err(FieldError::new(
                    "payload.imageRepo",
                    "must name a repository without a tag (use imageTag)",
                ));
            }
        }
        if let Some(t) = &self.image_tag {
            f(
                "payload.imageTag",
                v::ImageRef::parse(&format!("x:{t}")).map(|_| ()).map_err(|_| {
                    "must be 1-128 of letters, digits, '_', '.', '-', not starting with '.' or '-'"
                        .to_string()
                }),
            )?;
        }
        if let Some(p) = &self.base_path {
            f("payload.basePath", v::base_path(p))?;
        }
        if let Some(p) = &self.health_path
            && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(FieldError::new(
                "payload.healthPath",
                "must start with '/' and contain no spaces",
            ));
        }
        if let Some(env) = &self.env {
            if env.len() > 200 {
                return Err(FieldError::new(
                    "payload.env",
                    "holds more than 200 variables",
                ));
            }
            for k in env.keys() {
                let ok = !k.is_empty()
                    && k.len() <= 128
                    && !k.starts_with(|c: char| c.is_ascii_digit())
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(FieldError::new(
                        format!("payload.env.{k}"),
                        "a variable name is letters, digits and '_', not starting with a digit",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A validation failure on one named field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// `POST /deploy/jobs`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobRequest {
    #[serde(rename = "type", default)]
    pub job_type: JobType,
    pub payload: JobPayload,
}

/// The runtime node a job deploys to, as the claim answer carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeNodeRef {
    pub node_name: String,
    pub agent_base_url: String,
    pub gateway_base_url: String,
}

/// A job as deployd answers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: i64,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub status: JobStatus,
    pub app_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    pub payload: JobPayload,
    #[serde(default)]
    pub runner_id: Option<String>,
    #[serde(default)]
    pub lease_expire_at: Option<Timestamp>,
    pub attempt: i64,
    pub max_attempts: i64,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub phase_message: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// The stable code of the failure, when the runner or deployd named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub commit_sha: Option<String>,
    #[serde(default)]
    pub runtime_node: Option<RuntimeNodeRef>,
    #[serde(default)]
    pub deploy_url: Option<String>,
    #[serde(default)]
    pub cancel_requested: bool,
    #[serde(default)]
    pub log_length: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
}

/// `POST /deploy/jobs/claim`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    pub runner_id: String,
    #[serde(default = "default_lease")]
    pub lease_seconds: i64,
    #[serde(default)]
    pub wait_seconds: i64,
    /// The agent's version line (`0.1.0 (2657bbe)`). Optional: older agents send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
}

fn default_lease() -> i64 {
    30
}

/// `POST /deploy/jobs/{id}/heartbeat`
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatRequest {
    pub runner_id: String,
    #[serde(default)]
    pub extend_seconds: Option<i64>,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub phase_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAnswer {
    pub job_id: i64,
    pub lease_expire_at: Timestamp,
    pub cancel_requested: bool,
    /// The job's state: RUNNING; CANCELLED to a runner of the estate (no token) whose job
    /// an operator cancelled, which stops renewing on any other state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
}

/// `POST /deploy/jobs/{id}/report`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    pub runner_id: String,
    pub status: JobStatus,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// Why it failed, as a stable code ([`crate::failure::FailureCode`]); runners of the
    /// estate send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Answer of `POST /deploy/jobs/{id}/log`: the server's length of what it received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogAppendAnswer {
    pub length: i64,
}

/// Answer of `GET /deploy/jobs/{id}/log`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogChunk {
    pub job_id: i64,
    pub offset: i64,
    pub next_offset: i64,
    pub content: String,
    pub status: JobStatus,
    /// True when the job is terminal and every byte has been read.
    pub complete: bool,
    #[serde(default)]
    pub truncated: bool,
}

/// Query of `GET /deploy/jobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `{userId, appId}` of stop, purge and cleanup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRef {
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    pub app_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PurgeAnswer {
    pub deleted_jobs: i64,
    pub deleted_app_runs: i64,
    pub deleted_placements: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_arrive_as_numbers_or_strings() {
        let p: JobPayload = serde_json::from_str(
            r#"{"appId":20002,"userId":7,"image":"busybox","custom":{"a":1}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.app_id, "20002");
        assert_eq!(p.user_id.as_deref(), Some("7"));
        assert_eq!(p.extra.get("custom"), Some(&serde_json::json!({"a":1})));
        let back = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(back["custom"]["a"], 1);
        assert_eq!(back["appId"], "20002");
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = JobPayload {
            app_id: "a/b".into(),
            image: Some("busybox".into()),
            ..Default::default()
        };
        assert_eq!(
            p.validate().map_err(|e| e.field),
            Err("payload.appId".to_string())
        );
        p.app_id = "1".into();
        p.image = None;
        p.repo_ssh_url = Some("ssh://git@127.0.0.1:2222/r.git".into());
        p.git_ref = Some("-x".into());
        assert_eq!(
            p.validate().map_err(|e| e.field),
            Err("payload.gitRef".to_string())
        );
        p.git_ref = None;
        p.dockerfile_path = Some("../Dockerfile".into());
        assert_eq!(
            p.validate().map_err(|e| e.field),
            Err("payload.dockerfilePath".to_string())
        );
    }
}
