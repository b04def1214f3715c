//! Typed async client of deployd, used by functl and by agentd's runner and runtime roles.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::AppLogChunk;
use crate::app::{AppContainer, AppLogsQuery, AppRun};
use crate::check::{RunnerChecks, StoredCheckReport};
use crate::envelope::Envelope;
use crate::headers;
use crate::job::{
    AppRef, ClaimRequest, CreateJobRequest, HeartbeatAnswer, HeartbeatRequest, Job, JobListQuery,
    LogAppendAnswer, LogChunk, PurgeAnswer, ReportRequest,
};
use crate::node::{
    AuditEntry, EstateSettings, NodeHeartbeat, Placement, ReassignRequest, RuntimeNode,
};
use crate::runner::Runner;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// deployd answered with an error envelope; `message` is the server's own words.
    #[error("deployd answered {status}: {message}")]
    Api { status: u16, message: String },
    /// The log offsets disagree: the server holds `server_length` bytes.
    #[error("log offset mismatch: deployd holds {server_length} bytes")]
    LogRange { server_length: i64 },
    #[error("cannot reach deployd at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unexpected answer from deployd at {url}: {message}")]
    Decode { url: String, message: String },
    #[error("{0} is not configured")]
    MissingCredential(&'static str),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::LogRange { .. } => Some(416),
            _ => None,
        }
    }
}

/// Which secret a call carries.
#[derive(Clone, Copy)]
enum Channel {
    None,
    Deploy,
    Runner,
    Node,
    Admin,
}

#[derive(Clone)]
pub struct DeployClient {
    base: String,
    http: reqwest::Client,
    deploy_secret: Option<Secret>,
    runner_token: Option<Secret>,
    node_token: Option<Secret>,
    admin_token: Option<Secret>,
}

impl std::fmt::Debug for DeployClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl DeployClient {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self::with_http(base_url, http)
    }

    pub fn with_http(base_url: &str, http: reqwest::Client) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            deploy_secret: None,
            runner_token: None,
            node_token: None,
            admin_token: None,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn deploy_secret(mut self, s: Option<Secret>) -> Self {
        self.deploy_secret = s.filter(|s| !s.is_empty());
        self
    }
    pub fn runner_token(mut self, s: Option<Secret>) -> Self {
        self.runner_token = s.filter(|s| !s.is_empty());
        self
    }
    pub fn node_token(mut self, s: Option<Secret>) -> Self {
        self.node_token = s.filter(|s| !s.is_empty());
        self
    }
    pub fn admin_token(mut self, s: Option<Secret>) -> Self {
        self.admin_token = s.filter(|s| !s.is_empty());
        self
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        channel: Channel,
    ) -> Result<RequestBuilder, ClientError> {
        let url = format!("{}{}", self.base, path);
        let rb = self.http.request(method, url);
        let (header, secret, what) = match channel {
            Channel::None => return Ok(rb),
            Channel::Deploy => (
                headers::DEPLOY_SECRET,
                &self.deploy_secret,
                "the deploy secret",
            ),
            Channel::Runner => (
                headers::RUNNER_TOKEN,
                &self.runner_token,
                "the runner token",
            ),
            Channel::Node => (headers::NODE_TOKEN, &self.node_token, "the node token"),
            Channel::Admin => (headers::ADMIN_TOKEN, &self.admin_token, "the admin token"),
        };
        // A legacy runner sends no token at all; every other channel needs its secret.
        match (secret, channel) {
            (Some(s), _) => Ok(rb.header(header, s.expose())),
            (None, Channel::Runner) => Ok(rb),
            (None, _) => Err(ClientError::MissingCredential(what)),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        rb: RequestBuilder,
    ) -> Result<Option<T>, ClientError> {
        let req = rb.build().map_err(|source| ClientError::Transport {
            url: self.base.clone(),
            source,
        })?;
        let url = req.url().to_string();
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        let env: Envelope<serde_json::Value> = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(_) if !status.is_success() => {
                return Err(ClientError::Api {
                    status: status.as_u16(),
                    message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                });
            }
            Err(e) => {
                return Err(ClientError::Decode {
                    url,
                    message: e.to_string(),
                });
            }
        };
        if status == StatusCode::RANGE_NOT_SATISFIABLE || env.code == 416 {
            let server_length = env
                .data
                .as_ref()
                .and_then(|d| d.get("length"))
                .and_then(|l| l.as_i64())
                .unwrap_or(0);
            return Err(ClientError::LogRange { server_length });
        }
        if !status.is_success() || env.code != 200 {
            return Err(ClientError::Api {
                status: if env.code != 0 {
                    env.code
                } else {
                    status.as_u16()
                },
                message: env.message,
            });
        }
        match env.data {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| ClientError::Decode {
                    url,
                    message: e.to_string(),
                }),
        }
    }

    async fn call<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, ClientError> {
        let url = self.base.clone();
        self.send(rb).await?.ok_or_else(|| ClientError::Decode {
            url,
            message: "the answer carried no data".into(),
        })
    }

    fn json<B: Serialize>(rb: RequestBuilder, body: &B) -> RequestBuilder {
        rb.json(body)
    }

    // ---- public ----

    pub async fn health(&self) -> Result<serde_json::Value, ClientError> {
        self.call(self.request(Method::GET, "/internal/health", Channel::None)?)
            .await
    }

    // ---- jobs (X-DEPLOY-SECRET) ----

    pub async fn create_job(&self, req: &CreateJobRequest) -> Result<Job, ClientError> {
        let rb = self.request(Method::POST, "/deploy/jobs", Channel::Deploy)?;
        self.call(Self::json(rb, req)).await
    }

    pub async fn get_job(&self, id: i64) -> Result<Job, ClientError> {
        self.call(self.request(Method::GET, &format!("/deploy/jobs/{id}"), Channel::Deploy)?)
            .await
    }

    pub async fn list_jobs(&self, q: &JobListQuery) -> Result<Vec<Job>, ClientError> {
        let rb = self
            .request(Method::GET, "/deploy/jobs", Channel::Deploy)?
            .query(q);
        self.call(rb).await
    }

    pub async fn jobs_by_app(
        &self,
        app_id: &str,
        limit: Option<i64>,
    ) -> Result<Vec<Job>, ClientError> {
        let mut rb = self
            .request(Method::GET, "/deploy/jobs/by-app", Channel::Deploy)?
            .query(&[("appId", app_id)]);
        if let Some(l) = limit {
            rb = rb.query(&[("limit", l)]);
        }
        self.call(rb).await
    }

    pub async fn cancel_job(&self, id: i64) -> Result<Job, ClientError> {
        self.call(self.request(
            Method::POST,
            &format!("/deploy/jobs/{id}/cancel"),
            Channel::Deploy,
        )?)
        .await
    }

    /// Reads the log from `offset`; with `wait_seconds > 0` deployd holds the request until
    /// new bytes arrive or the job ends.
    pub async fn read_log(
        &self,
        id: i64,
        offset: i64,
        wait_seconds: i64,
    ) -> Result<LogChunk, ClientError> {
        let rb = self
            .request(
                Method::GET,
                &format!("/deploy/jobs/{id}/log"),
                Channel::Deploy,
            )?
            .query(&[("offset", offset), ("waitSeconds", wait_seconds)])
            .timeout(Duration::from_secs(wait_seconds.max(0) as u64 + 30));
        self.call(rb).await
    }

    pub async fn stop_app(&self, app: &AppRef) -> Result<serde_json::Value, ClientError> {
        let rb = self.request(Method::POST, "/deploy/apps/stop", Channel::Deploy)?;
        self.call(Self::json(rb, app)).await
    }

    pub async fn purge_app(&self, app: &AppRef) -> Result<PurgeAnswer, ClientError> {
        let rb = self.request(Method::POST, "/deploy/apps/purge", Channel::Deploy)?;
        self.call(Self::json(rb, app)).await
    }

    pub async fn cleanup_app(&self, app: &AppRef) -> Result<serde_json::Value, ClientError> {
        let rb = self.request(Method::POST, "/deploy/apps/cleanup", Channel::Deploy)?;
        self.call(Self::json(rb, app)).await
    }

    // ---- runner protocol (X-Runner-Token) ----

    /// Long-polls for a job; `None` when none came within `waitSeconds`.
    pub async fn claim(&self, req: &ClaimRequest) -> Result<Option<Job>, ClientError> {
        let rb = self
            .request(Method::POST, "/deploy/jobs/claim", Channel::Runner)?
            .timeout(Duration::from_secs(req.wait_seconds.max(0) as u64 + 30));
        self.send(Self::json(rb, req)).await
    }

    pub async fn heartbeat(
        &self,
        id: i64,
        req: &HeartbeatRequest,
    ) -> Result<HeartbeatAnswer, ClientError> {
        let rb = self.request(
            Method::POST,
            &format!("/deploy/jobs/{id}/heartbeat"),
            Channel::Runner,
        )?;
        self.call(Self::json(rb, req)).await
    }

    /// Appends `bytes` at `start`; [`ClientError::LogRange`] carries the server's length
    /// when the offsets disagree, to resend from there.
    pub async fn append_log(
        &self,
        id: i64,
        start: i64,
        bytes: Vec<u8>,
    ) -> Result<LogAppendAnswer, ClientError> {
        let end = start + bytes.len() as i64 - 1;
        let rb = self
            .request(
                Method::POST,
                &format!("/deploy/jobs/{id}/log"),
                Channel::Runner,
            )?
            .header("Content-Range", format!("bytes {start}-{end}/*"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes);
        self.call(rb).await
    }

    pub async fn report(&self, id: i64, req: &ReportRequest) -> Result<Job, ClientError> {
        let rb = self.request(
            Method::POST,
            &format!("/deploy/jobs/{id}/report"),
            Channel::Runner,
        )?;
        self.call(Self::json(rb, req)).await
    }

    /// Sends a runner's latest connectivity check.
    pub async fn runner_checks(
        &self,
        req: &RunnerChecks,
    ) -> Result<serde_json::Value, ClientError> {
        let rb = self.request(Method::POST, "/deploy/runners/checks", Channel::Runner)?;
        self.call(Self::json(rb, req)).await
    }

    // ---- runtime nodes (X-RT-Node-Token) ----

    pub async fn node_heartbeat(&self, hb: &NodeHeartbeat) -> Result<RuntimeNode, ClientError> {
        let rb = self.request(
            Method::POST,
            "/internal/runtime-nodes/heartbeat",
            Channel::Node,
        )?;
        self.call(Self::json(rb, hb)).await
    }

    /// The route table: which node's gateway serves each app, for a gateway that is also
    /// the entry of the others.
    pub async fn node_routes(&self) -> Result<Vec<crate::node::NodeRoute>, ClientError> {
        self.call(self.request(Method::GET, "/internal/runtime-nodes/routes", Channel::Node)?)
            .await
    }

    // ---- admin (X-Admin-Token) ----

    pub async fn list_nodes(&self) -> Result<Vec<RuntimeNode>, ClientError> {
        self.call(self.request(Method::GET, "/admin/nodes", Channel::Admin)?)
            .await
    }

    /// `action` is one of drain, undrain, enable, disable.
    pub async fn node_action(&self, name: &str, action: &str) -> Result<RuntimeNode, ClientError> {
        let rb = self.request(
            Method::POST,
            &format!("/admin/nodes/{name}/{action}"),
            Channel::Admin,
        )?;
        self.call(rb).await
    }

    /// Stops `app_id` on the node `name` (the old node of a migration).
    pub async fn stop_app_on_node(
        &self,
        name: &str,
        app_id: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let rb = self.request(
            Method::POST,
            &format!("/admin/nodes/{name}/apps/{app_id}/stop"),
            Channel::Admin,
        )?;
        self.call(rb).await
    }

    pub async fn remove_node(
        &self,
        name: &str,
        force: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let rb = self
            .request(
                Method::DELETE,
                &format!("/admin/nodes/{name}"),
                Channel::Admin,
            )?
            .query(&[("force", force)]);
        self.call(rb).await
    }

    pub async fn placements(&self, node: Option<&str>) -> Result<Vec<Placement>, ClientError> {
        let mut rb = self.request(Method::GET, "/admin/placements", Channel::Admin)?;
        if let Some(n) = node {
            rb = rb.query(&[("nodeName", n)]);
        }
        self.call(rb).await
    }

    /// Gives an app to another user (`POST /admin/apps/{appId}/owner`).
    pub async fn move_app(
        &self,
        app_id: &str,
        req: &crate::app::MoveAppRequest,
    ) -> Result<serde_json::Value, ClientError> {
        let rb = self.request(
            Method::POST,
            &format!("/admin/apps/{app_id}/owner"),
            Channel::Admin,
        )?;
        self.call(Self::json(rb, req)).await
    }

    pub async fn reassign(&self, req: &ReassignRequest) -> Result<Placement, ClientError> {
        let rb = self.request(Method::POST, "/admin/placements/reassign", Channel::Admin)?;
        self.call(Self::json(rb, req)).await
    }

    pub async fn runners(&self) -> Result<Vec<Runner>, ClientError> {
        self.call(self.request(Method::GET, "/admin/runners", Channel::Admin)?)
            .await
    }

    pub async fn apps(&self) -> Result<Vec<AppRun>, ClientError> {
        self.call(self.request(Method::GET, "/admin/apps", Channel::Admin)?)
            .await
    }

    pub async fn app(&self, app_id: &str) -> Result<AppRun, ClientError> {
        self.call(self.request(
            Method::GET,
            &format!("/admin/apps/{app_id}"),
            Channel::Admin,
        )?)
        .await
    }

    /// The latest connectivity check of every agent that sends them.
    pub async fn checks(&self) -> Result<Vec<StoredCheckReport>, ClientError> {
        self.call(self.request(Method::GET, "/admin/checks", Channel::Admin)?)
            .await
    }

    /// deployd's thresholds and clock.
    pub async fn settings(&self) -> Result<EstateSettings, ClientError> {
        self.call(self.request(Method::GET, "/admin/settings", Channel::Admin)?)
            .await
    }

    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, ClientError> {
        let rb = self
            .request(Method::GET, "/admin/audit", Channel::Admin)?
            .query(&[("limit", limit)]);
        self.call(rb).await
    }

    // ---- an app's container, through the agent of its node (X-Admin-Token) ----

    /// The app's container state on its node, and its public URL.
    pub async fn app_container(&self, app_id: &str) -> Result<AppContainer, ClientError> {
        self.call(self.request(
            Method::GET,
            &format!("/admin/apps/{app_id}/container"),
            Channel::Admin,
        )?)
        .await
    }

    /// Opens the output of the app's container; with `follow` the reader keeps yielding
    /// new output until the container stops or the reader is dropped (which ends the
    /// request upstream too).
    pub async fn app_logs(
        &self,
        app_id: &str,
        q: &AppLogsQuery,
    ) -> Result<AppLogReader, ClientError> {
        let rb = self
            .request(
                Method::GET,
                &format!("/admin/apps/{app_id}/logs"),
                Channel::Admin,
            )?
            .query(q);
        let req = rb.build().map_err(|source| ClientError::Transport {
            url: self.base.clone(),
            source,
        })?;
        let url = req.url().to_string();
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        if !resp.status().is_success() {
            // The error is an envelope, read as every other answer is.
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(
                match serde_json::from_slice::<Envelope<serde_json::Value>>(&bytes) {
                    Ok(env) => ClientError::Api {
                        status: if env.code != 0 { env.code } else { status },
                        message: env.message,
                    },
                    Err(_) => ClientError::Api {
                        status,
                        message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                    },
                },
            );
        }
        Ok(AppLogReader {
            resp,
            url,
            buf: Vec::new(),
        })
    }
}

/// The NDJSON answer of [`DeployClient::app_logs`], a chunk at a time.
pub struct AppLogReader {
    resp: reqwest::Response,
    url: String,
    buf: Vec<u8>,
}

impl AppLogReader {
    /// The next chunk of output; `None` when the stream ended.
    pub async fn next(&mut self) -> Result<Option<AppLogChunk>, ClientError> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line)
                    .map(Some)
                    .map_err(|e| ClientError::Decode {
                        url: self.url.clone(),
                        message: e.to_string(),
                    });
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => self.buf.extend_from_slice(&bytes),
                Ok(None) if self.buf.iter().all(u8::is_ascii_whitespace) => return Ok(None),
                Ok(None) => {
                    // A last line without its newline.
                    self.buf.push(b'\n');
                }
                Err(source) => {
                    return Err(ClientError::Transport {
                        url: self.url.clone(),
                        source,
                    });
                }
            }
        }
    }
}
