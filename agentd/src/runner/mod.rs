//! The runner role: claim (long-poll), clone over SSH, build, push, ask the runtime node to
//! deploy, report; heartbeats carry the phase, the job log streams as it happens, and a
//! heartbeat answered 409 stops the work.

mod context;
mod dockerignore;
mod failure;
mod git;
mod joblog;
mod phase;
mod retention;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::agent::{AgentError, DeployAppAnswer, DeployAppRequest};
use protocol::client::{ClientError, DeployClient};
use protocol::failure::FailureCode;
use protocol::job::{ClaimRequest, HeartbeatRequest, Job, JobStatus, ReportRequest};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::docker::{DockerError, Engine, RegistryAuth};
use crate::settings::RunnerSettings;
pub use context::ContextError;
pub use git::GitError;
use joblog::JobLog;
use phase::JobState;
pub use phase::Phase;

/// Why a job did not succeed, named by its phase.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("CLONE failed: {0}")]
    Clone(#[from] GitError),
    #[error("BUILD failed: {0}")]
    Context(#[from] ContextError),
    #[error("BUILD failed: {message}")]
    Build { code: FailureCode, message: String },
    #[error("PUSH failed: {message}")]
    Push { code: FailureCode, message: String },
    /// The code as the runtime node's agent named it (it may be newer than this build).
    #[error("DEPLOY failed: {message}")]
    Deploy { code: String, message: String },
    #[error("{phase} timed out after {seconds} s")]
    Timeout { phase: Phase, seconds: u64 },
    #[error("{0}")]
    Stopped(Stop),
    #[error("{0}")]
    Internal(String),
}

/// Why deployd took the job back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// An operator cancelled: report CANCELLED.
    Cancelled(String),
    /// The lease is gone (another runner has the job): report nothing.
    LeaseLost(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Cancelled(m) => write!(f, "cancelled: {m}"),
            Stop::LeaseLost(m) => write!(f, "lease lost: {m}"),
        }
    }
}

/// What a successful pipeline produced.
struct Outcome {
    image: String,
    commit: Option<String>,
    preview_url: String,
}

pub struct Runner {
    pub settings: RunnerSettings,
    client: DeployClient,
    engine: Engine,
    http: reqwest::Client,
}

impl Runner {
    pub async fn start(
        settings: RunnerSettings,
        deploy_url: &str,
    ) -> Result<Arc<Runner>, DockerError> {
        let engine = Engine::connect(&settings.docker_host).await?;
        // Builds and pushes need no network driver and no init.
        let seen = engine.check_needs(false, false).await?;
        tracing::info!(engine = %seen.kind, version = %seen.version, api = %seen.api_version, "runner: container engine");
        let client =
            DeployClient::new(deploy_url).runner_token(Some(settings.runner_token.clone()));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Ok(Arc::new(Runner {
            settings,
            client,
            engine,
            http,
        }))
    }

    /// The client this runner calls deployd with.
    pub fn deployd(&self) -> &DeployClient {
        &self.client
    }

    /// Claims and runs jobs until `shutdown`, `concurrency` at a time; running jobs finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let sem = Arc::new(Semaphore::new(self.settings.concurrency as usize));
        let mut backoff = Duration::from_millis(500);
        loop {
            let permit = tokio::select! {
                p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.cancelled() => break,
            };
            let req = ClaimRequest {
                runner_id: self.settings.runner_id.clone(),
                lease_seconds: self.settings.lease_seconds,
                wait_seconds: self.settings.claim_wait_seconds,
                agent_version: Some(env!("FUNAI_VERSION").to_string()),
            };
            // The lease runs from before the claim was sent: a safe lower bound.
            let claimed_at = Instant::now();
            let claimed = tokio::select! {
                r = self.client.claim(&req) => r,
                _ = shutdown.cancelled() => break,
            };
            match claimed {
                Ok(Some(job)) => {
                    backoff = Duration::from_millis(500);
                    let me = self.clone();
                    tokio::spawn(async move {
                        me.execute(job, claimed_at).await;
                        drop(permit);
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "claim failed; retrying in {:?}", backoff);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        // Let running jobs finish before the process ends.
        let _ = sem.acquire_many(self.settings.concurrency).await;
    }

    fn lease(&self) -> Duration {
        Duration::from_secs(self.settings.lease_seconds.max(1) as u64)
    }

    async fn execute(self: Arc<Self>, job: Job, claimed_at: Instant) {
        let state = Arc::new(JobState::new(claimed_at + self.lease()));
        tracing::info!(job = job.id, app = %job.app_id, attempt = job.attempt, "job started");
        let (log, log_task) = JobLog::start(self.client.clone(), job.id, job.log_length);
        log.line(&format!(
            "==> job {} attempt {}/{} on runner {}",
            job.id, job.attempt, job.max_attempts, self.settings.runner_id
        ));
        let hb = tokio::spawn(self.clone().heartbeat(job.id, state.clone()));
        // Each phase's step stops at the job's cancellation; the pipeline itself always
        // runs to its end, so that what a phase started (a clone, a tar writer) is stopped
        // and waited for before the working copy goes.
        let result = self.pipeline(&job, &log, &state).await;
        hb.abort();
        let report = match &result {
            Ok(o) => {
                log.line(&format!("==> deployed {} at {}", o.image, o.preview_url));
                Some(ReportRequest {
                    error_code: None,
                    runner_id: self.settings.runner_id.clone(),
                    status: JobStatus::Succeeded,
                    error_message: None,
                    image: Some(o.image.clone()),
                    commit_sha: o.commit.clone(),
                })
            }
            Err(RunError::Stopped(Stop::LeaseLost(m))) => {
                log.line(&format!(
                    "==> stopped: lease lost ({m}); another runner may take the job"
                ));
                None
            }
            Err(RunError::Stopped(Stop::Cancelled(m))) => {
                log.line(&format!("==> cancelled: {m}"));
                Some(ReportRequest {
                    error_code: None,
                    runner_id: self.settings.runner_id.clone(),
                    status: JobStatus::Cancelled,
                    error_message: Some(format!("cancelled during {}", state.phase())),
                    image: None,
                    commit_sha: None,
                })
            }
            Err(e) => {
                log.line(&format!("==> {e}"));
                Some(ReportRequest {
                    error_code: Some(e.code()),
                    runner_id: self.settings.runner_id.clone(),
                    status: JobStatus::Failed,
                    error_message: Some(e.to_string()),
                    image: None,
                    commit_sha: None,
                })
            }
        };
        // The whole log reaches deployd before the job turns terminal.
        drop(log);
        log_task.finish().await;
        if let Some(r) = report {
            self.report(job.id, &r, state.lease_until()).await;
        }
        match &result {
            Ok(_) => tracing::info!(job = job.id, "job succeeded"),
            Err(e) => tracing::warn!(job = job.id, error = %e, "job did not succeed"),
        }
    }

    /// Sends the final report, retrying with backoff while the lease holds: a deployd that
    /// restarts meanwhile still learns the outcome, and the job is not run a second time.
    /// Past the lease deployd re-queues the job; reporting then would race another runner.
    async fn report(&self, job_id: i64, r: &ReportRequest, lease_until: Instant) {
        let mut wait = Duration::from_millis(250);
        loop {
            match self.client.report(job_id, r).await {
                Ok(_) => return,
                Err(ClientError::Api { status, message }) if (400..500).contains(&status) => {
                    tracing::warn!(job = job_id, status, %message, "report refused");
                    return;
                }
                Err(e) => {
                    let left = lease_until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        tracing::error!(job = job_id, error = %e,
                            "report failed and the lease has lapsed; deployd will re-queue the job");
                        return;
                    }
                    tracing::warn!(job = job_id, error = %e,
                        "report failed; retrying in {:?} ({:?} of lease left)", wait.min(left), left);
                    tokio::time::sleep(wait.min(left)).await;
                    wait = (wait * 2).min(Duration::from_secs(4));
                }
            }
        }
    }

    /// Extends the lease every lease/3 and at each phase change; a 409 stops the job.
    async fn heartbeat(self: Arc<Self>, job_id: i64, state: Arc<JobState>) {
        let period = Duration::from_secs((self.settings.lease_seconds / 3).max(1) as u64);
        loop {
            let req = HeartbeatRequest {
                runner_id: self.settings.runner_id.clone(),
                extend_seconds: Some(self.settings.lease_seconds),
                phase: Some(state.phase().as_str().to_string()),
                phase_message: None,
            };
            let sent = Instant::now();
            match self.client.heartbeat(job_id, &req).await {
                Ok(_) => state.lease_extended(sent, self.lease()),
                Err(ClientError::Api {
                    status: 409,
                    message,
                }) => {
                    let stop = if message.contains("cancel requested") {
                        Stop::Cancelled(message)
                    } else {
                        Stop::LeaseLost(message)
                    };
                    tracing::warn!(job = job_id, %stop, "deployd took the job back");
                    state.take_back(stop);
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = job_id, error = %e, "heartbeat failed; the lease runs on")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = state.phase_changed.notified() => {}
            }
        }
    }

    fn registry_auth(&self) -> Option<RegistryAuth> {
        (!self.settings.registry_username.is_empty()).then(|| RegistryAuth {
            server: self.settings.registry.clone(),
            username: self.settings.registry_username.clone(),
            password: self.settings.registry_password.clone(),
        })
    }

    async fn pipeline(
        &self,
        job: &Job,
        log: &JobLog,
        state: &JobState,
    ) -> Result<Outcome, RunError> {
        let p = &job.payload;
        let node = job.runtime_node.clone().ok_or_else(|| RunError::Deploy {
            code: FailureCode::Internal.as_str().into(),
            message: "deployd chose no runtime node for this job".into(),
        })?;
        let (image, commit, built) = match (&p.image, &p.repo_ssh_url) {
            (Some(img), _) => {
                log.line(&format!("==> stage 1: deploying the given image {img}"));
                (img.clone(), None, false)
            }
            (None, Some(url)) => {
                let work = tempfile::Builder::new()
                    .prefix(&format!("job-{}-", job.id))
                    .tempdir_in(self.workdir()?)
                    .map_err(|e| {
                        RunError::Internal(format!(
                            "cannot create a working copy under {}: {e}",
                            self.settings.workdir
                        ))
                    })?;
                let (image, commit) = self
                    .clone_build_push(job, url, work.path().to_path_buf(), log, state)
                    .await?;
                drop(work);
                (image, Some(commit), true)
            }
            (None, None) => {
                return Err(RunError::Internal(
                    "the payload names neither image nor repoSshUrl".into(),
                ));
            }
        };

        state.enter(Phase::Deploy);
        log.line(&format!(
            "==> DEPLOY {image} on {} ({})",
            node.node_name, node.agent_base_url
        ));
        let answer = self
            .step(
                state,
                Phase::Deploy,
                self.deploy(job, &node.agent_base_url, &image, log),
            )
            .await?;
        log.line(&format!(
            "runtime answered: {} {} at {}",
            answer.status, answer.container_name, answer.preview_url
        ));

        if built && !self.settings.registry.is_empty() {
            retention::keep_newest(&self.settings, &image, log).await;
            match self.engine.remove_image(&image).await {
                Ok(_) => {}
                Err(e) => log.line(&format!("warning: the local build image stays: {e}")),
            }
        }
        Ok(Outcome {
            image,
            commit,
            preview_url: answer.preview_url,
        })
    }

    /// Runs one phase's work under the phase's deadline from the settings.
    async fn step<T>(
        &self,
        state: &JobState,
        phase: Phase,
        work: impl std::future::Future<Output = Result<T, RunError>>,
    ) -> Result<T, RunError> {
        state.step(phase, phase.limit(&self.settings), work).await
    }

    fn workdir(&self) -> Result<PathBuf, RunError> {
        let w = PathBuf::from(&self.settings.workdir);
        std::fs::create_dir_all(&w).map_err(|e| {
            RunError::Internal(format!("cannot create workdir {}: {e}", w.display()))
        })?;
        Ok(w)
    }

    async fn clone_build_push(
        &self,
        job: &Job,
        url: &str,
        dir: PathBuf,
        log: &JobLog,
        state: &JobState,
    ) -> Result<(String, String), RunError> {
        let p = &job.payload;
        let git_ref = p.git_ref_or_default().to_string();
        state.enter(Phase::Clone);
        log.line(&format!("==> CLONE {url} ({git_ref})"));
        if url.starts_with("file://") && !self.settings.allow_local_repos {
            return Err(RunError::Clone(GitError::Clone {
                url: url.to_string(),
                message: "file:// repositories are cloned only with runner.allow_local_repos"
                    .into(),
            }));
        }
        let spec = git::CloneSpec {
            url: url.to_string(),
            git_ref: git_ref.clone(),
            key: PathBuf::from(&self.settings.git_ssh_key),
            known_hosts: PathBuf::from(&self.settings.git_known_hosts),
            dest: dir.join("src"),
        };
        let abort = Arc::new(AtomicBool::new(false));
        let mut clone = tokio::task::spawn_blocking({
            let spec = spec.clone();
            let abort = abort.clone();
            move || git::clone_and_checkout(&spec, abort, |_| {})
        });
        let cloned = self
            .step(state, Phase::Clone, async {
                (&mut clone)
                    .await
                    .map_err(|e| RunError::Internal(format!("clone task: {e}")))?
                    .map_err(RunError::Clone)
            })
            .await;
        if cloned.is_err() && !clone.is_finished() {
            // Timed out or taken back: libgit2 stops at its next progress callback, and
            // the working copy is removed only once it has.
            abort.store(true, Ordering::SeqCst);
            let _ = clone.await;
        }
        let commit = cloned?;
        log.line(&format!("checked out {git_ref} at {commit}"));

        state.enter(Phase::Build);
        let tag = p
            .image_tag
            .clone()
            .unwrap_or_else(|| commit[..12].to_string());
        let repo = self.image_repo(p)?;
        let image = format!("{repo}:{tag}");
        let src = spec.dest.clone();
        let bc = p.build_context.clone();
        let df = p.dockerfile_path_or_default().to_string();
        let ctx = tokio::task::spawn_blocking(move || context::plan(&src, bc.as_deref(), &df))
            .await
            .map_err(|e| RunError::Internal(format!("context task: {e}")))??;
        log.line(&format!(
            "==> BUILD {image} (context {}, {} files, Dockerfile {})",
            p.build_context.as_deref().unwrap_or("."),
            ctx.files,
            p.dockerfile_path_or_default()
        ));
        let dockerfile = ctx.dockerfile.clone();
        let (tar, mut writer) = ctx.stream();
        let mut steps = BuildTrace::default();
        let built = self
            .step(state, Phase::Build, async {
                self.engine
                    .build_streamed(tar, &dockerfile, &image, |line| {
                        let line = docker_step_lines(line);
                        log.raw(&line);
                        steps.push(&line);
                    })
                    .await
                    .map_err(|e| {
                        let message = match &e {
                            DockerError::BuildImage { message, .. } => steps.describe(message),
                            other => other.to_string(),
                        };
                        RunError::Build {
                            code: e.code(),
                            message,
                        }
                    })
            })
            .await;
        // The engine's request is gone by now, and with it the reader: the writer ends.
        let written = (&mut writer)
            .await
            .map_err(|e| RunError::Internal(format!("context task: {e}")))?;
        match (built, written) {
            (Ok(()), _) => {}
            // The engine saw a broken context: say why it broke.
            (Err(RunError::Build { .. }), Err(e)) => return Err(RunError::Context(e)),
            (Err(e), _) => return Err(e),
        }

        state.enter(Phase::Push);
        if self.settings.registry.is_empty() {
            log.line(&format!(
                "==> PUSH skipped: no registry is configured; {image} stays on this engine"
            ));
            return Ok((image, commit));
        }
        log.line(&format!("==> PUSH {image}"));
        let mut last_status = String::new();
        let auth = self.registry_auth();
        let push = self.engine.push(&image, auth.as_ref(), |st| {
            // Layer progress repeats itself; the log gets each distinct status once.
            if st != last_status
                && !st.starts_with("Pushing")
                && !st.starts_with("Preparing")
                && !st.starts_with("Waiting")
            {
                log.line(st);
                last_status = st.to_string();
            }
        });
        self.step(state, Phase::Push, async {
            match push.await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let words = e.to_string();
                    let (code, hint) = crate::docker::plain_http_behind_443(e.code(), &words).await;
                    let message = self.explain_push(&image, &words, code, hint);
                    Err(RunError::Push { code, message })
                }
            }
        })
        .await?;
        Ok((image, commit))
    }

    /// Where the built image goes: the job's `imageRepo` (deployd renders it from its
    /// template; one without a registry host is below this runner's registry), else this
    /// runner's `image_repo_template`.
    fn image_repo(&self, p: &protocol::job::JobPayload) -> Result<String, RunError> {
        let repo = match &p.image_repo {
            Some(r) => r.clone(),
            None => protocol::template::render(
                &self.settings.image_repo_template,
                protocol::template::Names {
                    app_id: &p.app_id,
                    user_id: p.user_id.as_deref(),
                    namespace: &self.settings.namespace,
                },
            )
            .map_err(|missing| RunError::Build {
                code: FailureCode::BadRequest,
                message: format!(
                    "the job names no {missing}, which runner.image_repo_template needs"
                ),
            })?,
        };
        let names_host = protocol::validate::ImageRef::parse(&repo)
            .map(|r| r.registry.is_some())
            .unwrap_or(false);
        Ok(if names_host {
            repo
        } else {
            format!("{}/{repo}", self.local_or_registry())
        })
    }

    /// The registry host of built images; a local stack without one names its images
    /// `funai.local/...`, which no pull ever reaches.
    fn local_or_registry(&self) -> String {
        match self.settings.registry.trim_end_matches('/') {
            "" => "funai.local".to_string(),
            r => r.to_string(),
        }
    }

    /// The push failure in words that say what to do, by its code (read once, from the
    /// engine's words, in `protocol::failure::registry_code`); `hint` is what a probe of the
    /// registry found (plain HTTP behind a refused 443).
    fn explain_push(
        &self,
        image: &str,
        msg: &str,
        code: FailureCode,
        hint: Option<String>,
    ) -> String {
        let reg = protocol::validate::ImageRef::parse(image)
            .ok()
            .and_then(|r| r.registry)
            .unwrap_or_else(|| self.settings.registry.clone());
        // runner.registry_insecure tells the runner's own HTTP client, never the engine.
        let setting = if self.settings.registry_insecure && reg == self.settings.registry {
            "; runner.registry_insecure = true is set, but it reaches only the runner's tag retention, not the engine"
        } else {
            ""
        };
        match (code, hint) {
            (FailureCode::RegistryInsecure, Some(hint)) => format!("{hint}{setting} ({msg})"),
            (FailureCode::RegistryInsecure, None) => format!(
                "registry {reg} speaks plain HTTP and {}{setting} ({msg})",
                protocol::failure::insecure_registry_fix(&reg)
            ),
            (FailureCode::RegistryAuth, _) => format!(
                "registry {reg} refused the credentials of user {:?} for {image}: check runner.registry_username and registry_password ({msg})",
                self.settings.registry_username
            ),
            (FailureCode::RegistryUnreachable, _) => {
                format!("registry {reg} is unreachable: {msg}")
            }
            (_, Some(hint)) => format!("{hint} ({msg})"),
            _ => format!("{image}: {msg}"),
        }
    }

    async fn deploy(
        &self,
        job: &Job,
        agent: &str,
        image: &str,
        log: &JobLog,
    ) -> Result<DeployAppAnswer, RunError> {
        let p = &job.payload;
        let req = DeployAppRequest {
            user_id: p.user_id.clone().ok_or_else(|| RunError::Deploy {
                code: FailureCode::BadRequest.as_str().into(),
                message: "the job names no userId: deployd fills it for a known app; give it for a new one".into(),
            })?,
            app_id: p.app_id.clone(),
            image: image.to_string(),
            container_port: p.container_port_or_default() as i64,
            base_path: Some(p.base_path_or_default()),
            env: p.env.clone(),
            health_path: p.health_path.clone(),
            job_id: Some(job.id),
        };
        let url = format!("{}/agent/apps/deploy", agent.trim_end_matches('/'));
        let mut wait = Duration::from_millis(500);
        loop {
            let resp = self
                .http
                .post(&url)
                .header(
                    protocol::headers::RUNTIME_TOKEN,
                    self.settings.runtime_token.expose(),
                )
                .json(&req)
                .send()
                .await
                .map_err(|e| RunError::Deploy {
                    code: FailureCode::AgentUnreachable.as_str().into(),
                    message: format!("the runtime node at {agent} is unreachable: {e}"),
                })?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await.unwrap_or_default();
            match status {
                200..=299 => {
                    return serde_json::from_slice(&body).map_err(|e| RunError::Deploy {
                        code: FailureCode::AgentFailed.as_str().into(),
                        message: format!("the runtime node answered something unexpected: {e}"),
                    });
                }
                409 if serde_json::from_slice::<AgentError>(&body)
                    .ok()
                    .and_then(|e| e.code)
                    .is_none_or(|c| c == FailureCode::DeployInFlight.as_str()) =>
                {
                    // A deploy of this app is in flight there (an agent that names no code
                    // means the same); it is not ours to fail. Another 409 (a route another
                    // app holds) is final.
                    log.line(&format!(
                        "runtime busy with another deploy of app {}; retrying",
                        p.app_id
                    ));
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                _ => {
                    let (detail, code) = match serde_json::from_slice::<AgentError>(&body) {
                        Ok(e) => (e.detail, e.code),
                        Err(_) => (
                            String::from_utf8_lossy(&body).chars().take(500).collect(),
                            None,
                        ),
                    };
                    let code = code
                        .filter(|c| protocol::failure::is_valid_code(c))
                        .unwrap_or_else(|| {
                            let c = match status {
                                401 => FailureCode::AgentAuth,
                                _ => FailureCode::AgentFailed,
                            };
                            c.as_str().into()
                        });
                    return Err(RunError::Deploy {
                        code,
                        message: format!("the runtime node answered {status}: {detail}"),
                    });
                }
            }
        }
    }
}

/// The build output with podman's step lines (`STEP 2/3: RUN ...`) spelled as Docker's
/// classic builder spells them (`Step 2/3 : RUN ...`), so that a job log reads the same
/// whichever engine built it.
fn docker_step_lines(chunk: &str) -> std::borrow::Cow<'_, str> {
    if !chunk.contains("STEP ") {
        return std::borrow::Cow::Borrowed(chunk);
    }
    let mut out = String::with_capacity(chunk.len() + 8);
    for line in chunk.split_inclusive('\n') {
        match line.strip_prefix("STEP ").and_then(|r| r.split_once(": ")) {
            Some((n, rest))
                if n.contains('/') && n.chars().all(|c| c.is_ascii_digit() || c == '/') =>
            {
                out.push_str(&format!("Step {n} : {rest}"));
            }
            _ => out.push_str(line),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The last build step and lines, to say which step failed.
#[derive(Default)]
struct BuildTrace {
    step: Option<String>,
    last: VecDeque<String>,
}

impl BuildTrace {
    fn push(&mut self, chunk: &str) {
        for line in chunk.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            // Docker's classic builder says `Step 2/3 : RUN ...`, podman's (buildah)
            // `STEP 2/3: RUN ...`.
            if let Some(step) = line
                .strip_prefix("Step ")
                .or_else(|| line.strip_prefix("STEP "))
            {
                self.step = Some(step.to_string());
                self.last.clear();
            } else {
                self.last.push_back(line.to_string());
                if self.last.len() > 10 {
                    self.last.pop_front();
                }
            }
        }
    }

    fn describe(&self, message: &str) -> String {
        // podman's builder says `exit status 7` where Docker's says `returned a non-zero
        // code: 7`: one wording whichever engine built.
        let reworded;
        let message = match message.rsplit_once("exit status ") {
            Some((_, code))
                if !message.contains("non-zero code")
                    && !code.is_empty()
                    && code.chars().all(|c| c.is_ascii_digit()) =>
            {
                reworded = format!("{message} (the command returned a non-zero code: {code})");
                reworded.as_str()
            }
            _ => message,
        };
        let step = self
            .step
            .as_deref()
            .map(|s| format!("build step {s} failed"))
            .unwrap_or_else(|| "the build failed before its first step".into());
        let lines: Vec<&str> = self
            .last
            .iter()
            .map(String::as_str)
            .filter(|l| !l.contains(message))
            .collect();
        if lines.is_empty() {
            format!("{step}: {message}")
        } else {
            format!("{step}: {message}; last lines:\n{}", lines.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BuildTrace;

    #[test]
    fn a_failed_step_is_named_with_its_last_lines() {
        let mut t = BuildTrace::default();
        t.push("Step 1/3 : FROM scratch\n ---> \n");
        t.push("Step 2/3 : RUN /bin/busybox false\n");
        t.push(" ---> Running in abc\nsomething went wrong\n");
        let d = t.describe("The command '/bin/busybox false' returned a non-zero code: 1");
        assert!(
            d.starts_with("build step 2/3 : RUN /bin/busybox false failed"),
            "{d}"
        );
        assert!(d.contains("something went wrong"), "{d}");
    }

    #[test]
    fn podmans_step_lines_read_as_dockers() {
        assert_eq!(
            super::docker_step_lines("STEP 1/2: FROM scratch\n--> abc\nSTEP 2/2: CMD [\"x\"]\n"),
            "Step 1/2 : FROM scratch\n--> abc\nStep 2/2 : CMD [\"x\"]\n"
        );
        assert_eq!(
            super::docker_step_lines("building at STEP \"RUN x\": exit status 7\n"),
            "building at STEP \"RUN x\": exit status 7\n"
        );
    }

    #[test]
    fn a_failed_step_of_podmans_builder_is_named_too() {
        let mut t = BuildTrace::default();
        t.push("STEP 1/3: FROM scratch\nSTEP 2/3: COPY busybox /bin/busybox\n--> 1a2b3c\n");
        t.push("STEP 3/3: RUN /bin/busybox false\n");
        let d = t.describe("building at STEP \"RUN /bin/busybox false\": exit status 1");
        assert!(
            d.starts_with("build step 3/3: RUN /bin/busybox false failed"),
            "{d}"
        );
        assert!(d.contains("returned a non-zero code: 1"), "{d}");
    }
}
