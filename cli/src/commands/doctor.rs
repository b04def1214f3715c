//! `functl doctor`: names the cause of the estate's usual failures from what deployd knows
//! and what can be probed from here, each with its fix.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::{Cell, Color, ContentArrangement};
use probe::{SshOptions, ssh_probe};
use protocol::Timestamp;
use protocol::check::StoredCheckReport;
use protocol::client::ClientError;
use protocol::job::{Job, JobListQuery, JobStatus};
use protocol::node::{EstateSettings, NodeHealth, RuntimeNode};
use protocol::runner::{Runner, RunnerHealth};
use serde::Serialize;

use crate::commands::parse;
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{format, json, table};

const DEFAULT_KNOWN_HOSTS: &str = "/etc/funai/known_hosts";

#[derive(Debug, Args)]
pub struct Cmd {
    /// Diagnose one job (and the node it was placed on)
    #[arg(long, value_name = "ID", value_parser = parse::job_id, conflicts_with_all = ["app", "node"])]
    job: Option<i64>,

    /// Diagnose an app: its latest job and its node
    #[arg(long, value_name = "ID", value_parser = parse::id, conflicts_with = "node")]
    app: Option<String>,

    /// Diagnose one runtime node
    #[arg(long, value_name = "NAME", value_parser = parse::node_name)]
    node: Option<String>,

    /// Per-probe timeout in milliseconds (agents, Git server, registry)
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    timeout_ms: u64,

    /// known_hosts for the Git server probe [default: /etc/funai/known_hosts when it exists]
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the diagnosis.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// What was looked at: `job-pending`, `node-agent`, `git-clone`, ...
    pub check: &'static str,
    /// The job, node, app or runner it is about.
    pub subject: String,
    pub status: Status,
    pub finding: String,
    pub fix: String,
}

fn finding(
    check: &'static str,
    subject: impl Into<String>,
    status: Status,
    finding: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        check,
        subject: subject.into(),
        status,
        finding: finding.into(),
        fix: fix.into(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Output<'a> {
    failed: usize,
    warnings: usize,
    findings: &'a [Finding],
}

/// What deployd knows, read once, and how to probe from here.
struct Estate {
    settings: EstateSettings,
    nodes: Vec<RuntimeNode>,
    runners: Vec<Runner>,
    checks: Vec<StoredCheckReport>,
    http: reqwest::Client,
    timeout: Duration,
    known_hosts: Option<PathBuf>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let deploy = ctx.deploy()?;
        let admin = ctx.admin()?;
        let timeout = Duration::from_millis(self.timeout_ms);
        let estate = Estate {
            settings: admin.settings().await?,
            nodes: admin.list_nodes().await?,
            runners: admin.runners().await?,
            checks: admin.checks().await?,
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(timeout)
                .timeout(timeout)
                .build()?,
            timeout,
            known_hosts: self
                .known_hosts
                .clone()
                .or_else(|| Some(PathBuf::from(DEFAULT_KNOWN_HOSTS)).filter(|p| p.exists())),
        };
        let mut out = Vec::new();
        match (&self.job, &self.app, &self.node) {
            (Some(id), _, _) => {
                let job = deploy.get_job(*id).await?;
                out.extend(estate.job(&job).await);
                if let Some(n) = job.runtime_node.as_ref().map(|n| n.node_name.clone())
                    && let Some(node) = estate.nodes.iter().find(|x| x.node_name == n)
                {
                    out.extend(estate.node(node).await);
                }
            }
            (_, Some(app), _) => {
                match deploy.jobs_by_app(app, Some(1)).await?.into_iter().next() {
                    Some(job) => out.extend(estate.job(&job).await),
                    None => out.push(finding(
                        "app",
                        app,
                        Status::Warn,
                        format!("app {app} has no job at deployd"),
                        "deploy it (functl deploy) or check the app id",
                    )),
                }
                let placed = match admin.app(app).await {
                    Ok(run) => run.node_name,
                    Err(ClientError::Api { status: 404, .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                if let Some(node) = placed
                    .as_deref()
                    .and_then(|n| estate.nodes.iter().find(|x| x.node_name == n))
                {
                    out.extend(estate.node(node).await);
                }
            }
            (_, _, Some(name)) => {
                let Some(node) = estate.nodes.iter().find(|x| &x.node_name == name) else {
                    let known: Vec<&str> =
                        estate.nodes.iter().map(|n| n.node_name.as_str()).collect();
                    anyhow::bail!(
                        "deployd knows no runtime node {name} (nodes: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    );
                };
                out.extend(estate.node(node).await);
            }
            (None, None, None) => {
                out.push(estate.runners_finding());
                for node in &estate.nodes {
                    out.extend(estate.node(node).await);
                }
                if estate.nodes.is_empty() {
                    out.push(finding(
                        "nodes",
                        "-",
                        Status::Warn,
                        "no runtime node has ever sent a heartbeat",
                        "start agentd with a [runtime] section whose deploy_url points at deployd and whose node_token matches auth.node_token",
                    ));
                }
                out.extend(estate.active_jobs(deploy).await?);
                out.extend(estate.recent_failures(deploy).await?);
                out.extend(estate.matrix());
            }
        }
        print(ctx, &out)?;
        Ok(if out.iter().any(|f| f.status == Status::Fail) {
            Exit::Failure
        } else {
            Exit::Success
        })
    }
}

fn print(ctx: &Ctx, findings: &[Finding]) -> anyhow::Result<()> {
    let failed = findings.iter().filter(|f| f.status == Status::Fail).count();
    let warnings = findings.iter().filter(|f| f.status == Status::Warn).count();
    if ctx.json() {
        return json::print(&Output {
            failed,
            warnings,
            findings,
        });
    }
    let mut t = table::new(&["CHECK", "STATUS", "FINDING", "FIX"], ctx.styled);
    // Findings are sentences: they wrap under their column on a terminal of known width.
    if t.width().is_some_and(|w| w >= 80) {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    for f in findings {
        let color = match f.status {
            Status::Ok => Color::Green,
            Status::Warn => Color::Yellow,
            Status::Fail => Color::Red,
        };
        t.add_row(vec![
            Cell::new(format!("{} {}", f.check, f.subject)),
            table::colored(f.status.as_str(), Some(color), ctx.styled),
            Cell::new(&f.finding),
            Cell::new(if f.fix.is_empty() { "-" } else { &f.fix }),
        ]);
    }
    table::print(&t)?;
    eprintln!("{failed} failed, {warnings} warnings");
    Ok(())
}

fn age(ts: &Timestamp, now: &Timestamp) -> String {
    format::age_at(ts, now)
}

fn secs(d: chrono::Duration) -> String {
    format::duration(d.num_seconds().max(0))
}

impl Estate {
    fn now(&self) -> Timestamp {
        self.settings.now
    }

    fn runners_finding(&self) -> Finding {
        let healthy: Vec<&Runner> = self
            .runners
            .iter()
            .filter(|r| r.status == RunnerHealth::Healthy)
            .collect();
        if self.runners.is_empty() {
            return finding(
                "runners",
                "-",
                Status::Warn,
                "no runner has ever claimed from deployd",
                "start agentd with a [runner] section: deploy_url pointing at deployd, runner_token = auth.runner_token; check runner→deploy 7002 (functl check --from runner)",
            );
        }
        if healthy.is_empty() {
            return finding(
                "runners",
                "-",
                Status::Warn,
                format!("every runner is stale: {}", self.runner_ages()),
                "agentd stopped claiming on those hosts: restart it there and check runner→deploy 7002",
            );
        }
        finding(
            "runners",
            "-",
            Status::Ok,
            format!(
                "{} of {} runners claiming ({})",
                healthy.len(),
                self.runners.len(),
                healthy
                    .iter()
                    .map(|r| r.runner_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "",
        )
    }

    fn runner_ages(&self) -> String {
        let now = self.now();
        self.runners
            .iter()
            .map(|r| {
                format!(
                    "{} last seen {}{}",
                    r.runner_id,
                    age(&r.last_seen_at, &now),
                    r.remote_addr
                        .as_deref()
                        .map(|a| format!(" from {a}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Usable for placement: healthy, enabled, not draining, not stale.
    fn usable(n: &RuntimeNode) -> bool {
        n.status == NodeHealth::Healthy
    }

    /// Why no node can take a new app, or `None` when one can.
    fn no_eligible_node(&self, sticky: Option<&str>) -> Option<String> {
        let min = self.settings.disk_free_min_pct;
        if sticky.is_some_and(|s| {
            self.nodes
                .iter()
                .any(|n| n.node_name == s && Self::usable(n))
        }) {
            return None;
        }
        if self
            .nodes
            .iter()
            .any(|n| Self::usable(n) && n.disk_free_pct >= min)
        {
            return None;
        }
        if self.nodes.is_empty() {
            return Some("no runtime node has ever sent a heartbeat".into());
        }
        let why: Vec<String> = self
            .nodes
            .iter()
            .map(|n| match n.status {
                NodeHealth::Healthy => format!(
                    "{} has {:.1}% disk free, below {min}%",
                    n.node_name, n.disk_free_pct
                ),
                other => format!("{} is {other}", n.node_name),
            })
            .collect();
        Some(why.join("; "))
    }

    /// A job's findings by its state.
    async fn job(&self, job: &Job) -> Vec<Finding> {
        match job.status {
            JobStatus::Pending => vec![self.pending(job, &[])],
            JobStatus::Running => vec![self.running(job)],
            JobStatus::Failed => self.failed(job).await,
            JobStatus::Succeeded | JobStatus::Cancelled => vec![finding(
                "job",
                job.id.to_string(),
                Status::Ok,
                format!(
                    "job {} of app {} {}{}",
                    job.id,
                    job.app_id,
                    job.status,
                    job.finished_at
                        .as_ref()
                        .map(|t| format!(" {}", age(t, &self.now())))
                        .unwrap_or_default()
                ),
                "",
            )],
        }
    }

    /// Why a PENDING job waits; `others` are more jobs waiting behind the same cause.
    fn pending(&self, job: &Job, others: &[i64]) -> Finding {
        let now = self.now();
        let waited = secs(now - job.created_at);
        let subject = if others.is_empty() {
            job.id.to_string()
        } else {
            format!("{} (+{} more)", job.id, others.len())
        };
        let what = format!("job {} of app {} PENDING for {waited}", job.id, job.app_id);
        if self.runners.is_empty() {
            return finding(
                "job-pending",
                subject,
                Status::Fail,
                format!("{what}: no runner has ever claimed from deployd"),
                "start agentd with a [runner] section (deploy_url = this deployd, runner_token = auth.runner_token) and open runner→deploy 7002",
            );
        }
        if self.runners.iter().all(|r| r.status == RunnerHealth::Stale) {
            return finding(
                "job-pending",
                subject,
                Status::Fail,
                format!(
                    "{what}: every runner is stale ({}; stale after {} s)",
                    self.runner_ages(),
                    self.settings.runner_stale_seconds
                ),
                "agentd stopped claiming on the runner hosts: restart it there (systemctl restart agentd) and check runner→deploy 7002",
            );
        }
        let sticky = job.runtime_node.as_ref().map(|n| n.node_name.as_str());
        if let Some(why) = self.no_eligible_node(sticky) {
            return finding(
                "job-pending",
                subject,
                Status::Fail,
                format!("{what}: no runtime node can take it ({why})"),
                "bring a node back (start agentd [runtime] on it; functl nodes undrain/enable NAME) or free disk on one (functl registry prune; docker image prune) — a job waits until a node is healthy, enabled, not draining, with enough disk",
            );
        }
        let busy: i64 = self.runners.iter().map(|r| r.running_jobs).sum();
        let long = (now - job.created_at).num_seconds() > 120;
        finding(
            "job-pending",
            subject,
            if long { Status::Warn } else { Status::Ok },
            format!("{what}: runners and nodes are up; it waits its turn ({busy} jobs running)"),
            if long {
                "add runners or raise runner.concurrency if the queue stays long"
            } else {
                ""
            },
        )
    }

    fn running(&self, job: &Job) -> Finding {
        let now = self.now();
        let runner = job.runner_id.as_deref().unwrap_or("?");
        let phase = job.phase.as_deref().unwrap_or("-");
        let attempt = format!("attempt {}/{}", job.attempt, job.max_attempts);
        let Some(lease) = job.lease_expire_at else {
            return finding(
                "job-lease",
                job.id.to_string(),
                Status::Warn,
                format!("job {} RUNNING on {runner} without a lease", job.id),
                "",
            );
        };
        let left = lease - now;
        let runner_seen = self
            .runners
            .iter()
            .find(|r| r.runner_id == runner)
            .map(|r| {
                format!(
                    "; {runner} last seen {}{}",
                    age(&r.last_seen_at, &now),
                    r.remote_addr
                        .as_deref()
                        .map(|a| format!(" from {a}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        if left.num_milliseconds() <= 0 {
            return finding(
                "job-lease",
                job.id.to_string(),
                Status::Fail,
                format!(
                    "job {} RUNNING in {phase} on runner {runner}, but its lease lapsed {} ago ({attempt}): the runner stopped heartbeating{runner_seen}",
                    job.id,
                    secs(-left)
                ),
                format!(
                    "check agentd on {runner} (alive? runner→deploy 7002 open?); the sweeper requeues the job{}",
                    if job.attempt >= job.max_attempts {
                        ", or fails it: this is the last attempt"
                    } else {
                        " for another attempt"
                    }
                ),
            );
        }
        // A runner beats every lease/3: a lease with less than a third left missed a beat.
        let third = self.settings.lease_seconds.max(3) / 3;
        if left.num_seconds() < third {
            return finding(
                "job-lease",
                job.id.to_string(),
                Status::Warn,
                format!(
                    "job {} RUNNING in {phase} on runner {runner}: its lease lapses in {} ({attempt}), a heartbeat is late{runner_seen}",
                    job.id,
                    secs(left)
                ),
                format!("watch agentd on {runner} and runner→deploy 7002"),
            );
        }
        finding(
            "job-lease",
            job.id.to_string(),
            Status::Ok,
            format!(
                "job {} RUNNING in {phase} on runner {runner}, lease good for {} ({attempt})",
                job.id,
                secs(left)
            ),
            "",
        )
    }

    /// A failed job: its error read for the known causes, confirmed by a probe where one helps.
    async fn failed(&self, job: &Job) -> Vec<Finding> {
        let err = job.error_message.clone().unwrap_or_default();
        let first = err.lines().next().unwrap_or_default().to_string();
        let subject = job.id.to_string();
        let Some(d) = classify(job.error_code.as_deref(), job.phase.as_deref(), &err) else {
            return vec![finding(
                "job",
                subject,
                Status::Fail,
                format!(
                    "job {} of app {} FAILED: {}",
                    job.id,
                    job.app_id,
                    format::truncate(&first, 300)
                ),
                format!("read the job log: functl jobs logs {}", job.id),
            )];
        };
        let mut f = finding(
            d.check,
            subject,
            Status::Fail,
            format!(
                "job {} of app {}: {} ({})",
                job.id,
                job.app_id,
                d.finding,
                format::truncate(&first, 240)
            ),
            d.fix,
        );
        match d.probe {
            Some(Probe::Git) => {
                if let Some(url) = job.payload.repo_ssh_url.as_deref()
                    && let Some((host, port)) = ssh_host_port(url)
                {
                    f.finding.push_str(&format!(
                        "; from here: {}",
                        self.probe_git(&host, port).await
                    ));
                }
            }
            Some(Probe::Registry(host)) => {
                let seen = self.probe_registry(&host).await;
                // Refused on 443 by a registry that answers plain HTTP: whatever the code
                // (an older agent, or one whose own probe could not reach the registry), the
                // engine treats it as https.
                if let Some(refused) = protocol::failure::https_refused(&err)
                    && seen.plain_http_only()
                    && let Some(d) = classify(
                        Some(protocol::failure::FailureCode::RegistryInsecure.as_str()),
                        job.phase.as_deref(),
                        &format!("registry {}", refused.registry),
                    )
                {
                    f.check = d.check;
                    f.finding = format!(
                        "job {} of app {}: {} ({})",
                        job.id,
                        job.app_id,
                        d.finding,
                        format::truncate(&first, 240)
                    );
                    f.fix = d.fix;
                }
                f.finding.push_str(&format!("; from here: {seen}"));
            }
            Some(Probe::Agent) => {
                if let Some(n) = &job.runtime_node {
                    let seen = match self.probe_agent(&n.agent_base_url).await {
                        Ok(s) => s,
                        Err(e) => e,
                    };
                    f.finding.push_str(&format!("; from here: {seen}"));
                }
            }
            None => {}
        }
        vec![f]
    }

    async fn node(&self, n: &RuntimeNode) -> Vec<Finding> {
        let now = self.now();
        let mut out = Vec::new();
        let name = n.node_name.clone();
        let beat = n
            .last_heartbeat_at
            .as_ref()
            .map(|t| age(t, &now))
            .unwrap_or_else(|| "never".into());
        if n.stale {
            out.push(if n.placements > 0 {
                finding(
                    "node-stale",
                    &name,
                    Status::Fail,
                    format!(
                        "node {name} is STALE (last heartbeat {beat}, stale after {} s) and holds {} placement(s): those apps cannot be redeployed until it is back",
                        self.settings.heartbeat_stale_seconds, n.placements
                    ),
                    format!(
                        "start agentd on {name} (and open runtime→deploy 7002), or move its apps: functl nodes drain {name} --migrate"
                    ),
                )
            } else {
                finding(
                    "node-stale",
                    &name,
                    Status::Warn,
                    format!("node {name} is STALE (last heartbeat {beat}) and holds no placement"),
                    format!("start agentd on {name}, or forget it: functl nodes rm {name}"),
                )
            });
        } else {
            out.push(finding(
                "node-heartbeat",
                &name,
                Status::Ok,
                format!(
                    "node {name} is {} (last heartbeat {beat}, {} placement(s))",
                    n.status, n.placements
                ),
                "",
            ));
        }
        let min = self.settings.disk_free_min_pct;
        if n.disk_free_pct < min {
            out.push(finding(
                "node-disk",
                &name,
                Status::Fail,
                format!(
                    "node {name} has {} free, below the {min}% threshold: new apps are not placed there",
                    format::disk_free(n.disk_free_pct, n.disk_free_bytes)
                ),
                format!(
                    "free disk on {name}: docker image prune -a on the node, functl registry prune; or add a node"
                ),
            ));
        } else {
            out.push(finding(
                "node-disk",
                &name,
                Status::Ok,
                format!(
                    "node {name} has {} free (threshold {min}%)",
                    format::disk_free(n.disk_free_pct, n.disk_free_bytes)
                ),
                "",
            ));
        }
        out.push(finding(
            "node-engine",
            &name,
            Status::Ok,
            match &n.engine {
                Some(e) => format!("node {name} runs its apps on {e}"),
                None => format!(
                    "node {name} did not name its container engine (its agent, {}, predates engine reports)",
                    n.agent_version.as_deref().unwrap_or("of no version")
                ),
            },
            "",
        ));
        // A node that heartbeats looks online; deployd and the runners must reach its agent.
        if !n.stale {
            match self.probe_agent(&n.agent_base_url).await {
                Ok(seen) => out.push(finding(
                    "node-agent",
                    &name,
                    Status::Ok,
                    format!("agent of {name} at {} answers from here: {seen}", n.agent_base_url),
                    "",
                )),
                Err(why) => out.push(finding(
                    "node-agent",
                    &name,
                    Status::Fail,
                    format!(
                        "node {name} heartbeats (last {beat}) but its agent at {} is unreachable from here: {why}",
                        n.agent_base_url
                    ),
                    "runtime.agent_base_url must be the address deployd and the runners reach (not 127.0.0.1 or a NAT address); agentd must listen there (runtime.listen); open deploy/runner→runtime 7005 (functl check --from runner)",
                )),
            }
        }
        out
    }

    async fn active_jobs(
        &self,
        deploy: &protocol::client::DeployClient,
    ) -> anyhow::Result<Vec<Finding>> {
        let list = |status: &str| JobListQuery {
            limit: Some(200),
            app_id: None,
            status: Some(status.to_string()),
        };
        let mut out = Vec::new();
        let mut pending = deploy.list_jobs(&list("PENDING")).await?;
        pending.sort_by_key(|j| j.id);
        // One finding per cause: the oldest job names it, the others are counted.
        let mut by_cause: BTreeMap<String, (Job, Vec<i64>)> = BTreeMap::new();
        for j in pending {
            let f = self.pending(&j, &[]);
            let key = f
                .finding
                .split_once(": ")
                .map(|x| x.1)
                .unwrap_or("")
                .to_string();
            match by_cause.get_mut(&key) {
                Some((_, rest)) => rest.push(j.id),
                None => {
                    by_cause.insert(key, (j, Vec::new()));
                }
            }
        }
        for (_, (job, rest)) in by_cause {
            out.push(self.pending(&job, &rest));
        }
        for j in deploy.list_jobs(&list("RUNNING")).await? {
            out.push(self.running(&j));
        }
        if out.is_empty() {
            out.push(finding(
                "jobs",
                "-",
                Status::Ok,
                "no job is PENDING or RUNNING",
                "",
            ));
        }
        Ok(out)
    }

    /// The newest job of each app among the latest, when it failed.
    async fn recent_failures(
        &self,
        deploy: &protocol::client::DeployClient,
    ) -> anyhow::Result<Vec<Finding>> {
        let jobs = deploy
            .list_jobs(&JobListQuery {
                limit: Some(100),
                app_id: None,
                status: None,
            })
            .await?;
        let mut newest: BTreeMap<String, Job> = BTreeMap::new();
        for j in jobs {
            match newest.get(&j.app_id) {
                Some(k) if k.id >= j.id => {}
                _ => {
                    newest.insert(j.app_id.clone(), j);
                }
            }
        }
        let mut out = Vec::new();
        for j in newest.values().filter(|j| j.status == JobStatus::Failed) {
            out.extend(self.failed(j).await);
        }
        Ok(out)
    }

    /// The agents' last checks: each violation of the matrix, as they saw it.
    fn matrix(&self) -> Vec<Finding> {
        let now = self.now();
        if self.checks.is_empty() {
            return vec![finding(
                "matrix",
                "-",
                Status::Warn,
                "no agent reports connectivity checks",
                "set [check] topology in each agentd.toml (runner and runtime hosts), or run functl check --expect-closed on each host",
            )];
        }
        let mut out = Vec::new();
        for rep in &self.checks {
            let who = format!("{}:{}", rep.reporter.as_str(), rep.name);
            for r in rep.report.results.iter().filter(|r| !r.ok()) {
                out.push(finding(
                    "matrix",
                    format!("{}→{}:{}", r.from, r.to, r.port),
                    Status::Fail,
                    format!(
                        "{who} (probed {}) found {} {}:{} {} where the matrix wants it {}: {}",
                        age(&rep.report.probed_at, &now),
                        r.to,
                        r.address,
                        r.port,
                        r.seen,
                        r.expected,
                        r.cause.as_deref().unwrap_or("-")
                    ),
                    match r.expected {
                        protocol::check::Expect::Open => format!(
                            "allow {}→{} port {} in the security groups and check the service listens",
                            r.from, r.to, r.port
                        ),
                        protocol::check::Expect::Closed => format!(
                            "close port {} on {} to {} in the security groups",
                            r.port, r.to, r.from
                        ),
                    },
                ));
            }
        }
        if out.is_empty() {
            out.push(finding(
                "matrix",
                "-",
                Status::Ok,
                format!("{} agent report(s), no violation", self.checks.len()),
                "",
            ));
        }
        out
    }

    async fn probe_agent(&self, base: &str) -> Result<String, String> {
        let url = format!("{}/internal/health", base.trim_end_matches('/'));
        match self.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                Ok(format!("GET /internal/health: {}", r.status().as_u16()))
            }
            Ok(r) => Err(format!(
                "GET /internal/health answered {}",
                r.status().as_u16()
            )),
            Err(e) => Err(describe(&e)),
        }
    }

    /// `GET /v2/` over HTTPS and over plain HTTP: what a registry speaks, seen from here.
    async fn probe_registry(&self, host: &str) -> RegistryProbe {
        let mut seen = RegistryProbe::default();
        for (scheme, slot) in [("https", &mut seen.https), ("http", &mut seen.http)] {
            let url = format!("{scheme}://{host}/v2/");
            *slot = Some(match self.http.get(&url).send().await {
                Ok(r) => {
                    let registry = r.headers().contains_key("docker-distribution-api-version")
                        || matches!(r.status().as_u16(), 200 | 401);
                    Ok((r.status().as_u16(), registry))
                }
                Err(e) => Err(describe(&e)),
            });
        }
        seen.host = host.to_string();
        seen
    }

    /// TCP, then the SSH handshake with the host key checked when known_hosts is at hand.
    async fn probe_git(&self, host: &str, port: u16) -> String {
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(a) => a.collect(),
            Err(e) => return format!("cannot resolve {host}: {e}"),
        };
        let Some(addr) = addrs.first().copied() else {
            return format!("{host} resolves to no address");
        };
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => {
                return format!(
                    "{addr} gives no answer within {} ms (port {port} filtered)",
                    self.timeout.as_millis()
                );
            }
            Ok(Err(e)) => return format!("{addr}: {e} (port {port} closed)"),
            Ok(Ok(_)) => {}
        }
        let connected = started.elapsed();
        let opts = SshOptions {
            user: "git".into(),
            known_hosts: self.known_hosts.clone(),
            key: None,
        };
        let timeout = self.timeout;
        match tokio::task::spawn_blocking(move || ssh_probe(addr, timeout, &opts)).await {
            Ok(Ok(note)) => format!(
                "port {port} open ({:.1} ms), {note}",
                connected.as_secs_f64() * 1000.0
            ),
            Ok(Err(e)) => format!("port {port} open, {e}"),
            Err(e) => format!("port {port} open, SSH probe failed: {e}"),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer within the timeout"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The innermost cause says it plainly (`Connection refused (os error 111)`).
    let mut deepest: &dyn std::error::Error = e;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    format!("{what}: {deepest}")
}

/// What `GET /v2/` of a registry answered from here, over each scheme.
#[derive(Debug, Default)]
struct RegistryProbe {
    host: String,
    /// The status and whether it answered as a registry, or why it did not answer.
    https: Option<Result<(u16, bool), String>>,
    http: Option<Result<(u16, bool), String>>,
}

impl RegistryProbe {
    /// HTTPS does not answer and plain HTTP answers as a registry.
    fn plain_http_only(&self) -> bool {
        matches!(self.https, Some(Err(_))) && matches!(self.http, Some(Ok((_, true))))
    }
}

impl std::fmt::Display for RegistryProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = &self.host;
        match (&self.https, &self.http) {
            (Some(Ok((st, _))), _) => write!(f, "https://{host}/v2/ answers {st}"),
            (Some(Err(why)), Some(Ok((st, true)))) => write!(
                f,
                "http://{host}/v2/ answers {st} (https://{host}/v2/: {why}): the registry speaks plain HTTP"
            ),
            (_, Some(Ok((st, _)))) => write!(f, "http://{host}/v2/ answers {st}"),
            (_, Some(Err(why))) => write!(f, "{host} {why}"),
            _ => write!(f, "{host}: no answer"),
        }
    }
}

/// What a probe from here can confirm about a failure.
#[derive(Debug, PartialEq, Eq)]
enum Probe {
    /// The Git server of the job's repoSshUrl.
    Git,
    /// The registry host.
    Registry(String),
    /// The agent of the job's runtime node.
    Agent,
}

/// A failure's cause as read from a job's error message.
#[derive(Debug)]
struct Diagnosis {
    check: &'static str,
    finding: String,
    fix: String,
    probe: Option<Probe>,
}

fn diag(check: &'static str, finding: &str, fix: &str, probe: Option<Probe>) -> Diagnosis {
    Diagnosis {
        check,
        finding: finding.to_string(),
        fix: fix.to_string(),
        probe,
    }
}

/// The registry host an error names: the host of `cannot pull image HOST/...`, of an
/// `https://HOST/v2/` URL, or of `registry HOST ...`.
fn registry_host(err: &str) -> Option<String> {
    let host = |s: &str| -> Option<String> {
        let h: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
            .collect();
        (h.contains('.') || h.contains(':')).then_some(h)
    };
    for marker in ["cannot pull image ", "https://", "http://", "registry "] {
        if let Some(i) = err.find(marker) {
            let rest = &err[i + marker.len()..];
            if let Some(h) = host(rest) {
                return Some(h);
            }
        }
    }
    None
}

/// A failure's cause and fix, from its code: the one table `functl doctor` reads. A job
/// written before codes existed gets its code from its message. `phase` is where the job
/// was when it failed (PUSH on the runner, DEPLOY on the runtime node).
fn classify(code: Option<&str>, phase: Option<&str>, err: &str) -> Option<Diagnosis> {
    use protocol::failure::{FailureCode as C, code_of_message};
    let code = code.and_then(C::parse).or_else(|| code_of_message(err))?;
    let m = err.to_ascii_lowercase();
    let pushing = phase == Some("PUSH") || (phase.is_none() && m.contains("push failed"));
    let (reg_check, side, side_key) = if pushing {
        ("registry-push", "runner host", "runner")
    } else {
        ("registry-pull", "runtime node", "runtime")
    };
    let host = registry_host(err);
    let registry = host.as_deref().unwrap_or("REGISTRY").to_string();
    Some(match code {
        C::GitHostKey => diag(
            "git-clone",
            "Git clone refused: the Git server's host key is not the one in the runner's known_hosts",
            "if the Git server was re-keyed, replace its line in runner.git_known_hosts (ssh-keyscan -p PORT HOST); if not, suspect whoever answers in its place",
            Some(Probe::Git),
        ),
        C::GitHostUnknown => diag(
            "git-clone",
            "Git clone refused: the Git server is not in the runner's known_hosts",
            "add its host key to runner.git_known_hosts: ssh-keyscan -p PORT HOST >> known_hosts",
            Some(Probe::Git),
        ),
        C::GitAuth => diag(
            "git-clone",
            "Git clone refused: the Git server refused the runner's deploy key",
            "add the public half of runner.git_ssh_key to the repository's deploy keys (or the git user's authorized_keys)",
            Some(Probe::Git),
        ),
        C::GitUnreachable => diag(
            "git-clone",
            "Git clone refused: the runner cannot reach the Git server's SSH port",
            "open runner→git 2222 in the security groups and check that sshd listens there (functl check --from runner)",
            Some(Probe::Git),
        ),
        C::GitRepoNotFound => diag(
            "git-clone",
            "Git clone failed: the repository path does not exist on the Git server",
            "create the repository on the Git server (the workspace pushes it there first), or correct repoSshUrl / [apps] repo_url_template in deployd.toml",
            Some(Probe::Git),
        ),
        C::GitLocalFiles => diag(
            "git-clone",
            "Git clone failed: the runner cannot read its deploy key or known_hosts",
            "check runner.git_ssh_key and runner.git_known_hosts: the files must exist and be readable by agentd",
            None,
        ),
        C::GitRefNotFound => diag(
            "git-clone",
            "Git ref not found",
            "push the branch or tag, or correct gitRef in the deploy",
            None,
        ),
        C::GitClone => diag(
            "git-clone",
            "Git clone failed",
            "read the job log (functl jobs logs ID) and probe the Git server (functl check --from runner --auth)",
            Some(Probe::Git),
        ),
        C::BuildContext => diag(
            "build",
            "the build context could not be made from the repository",
            "correct dockerfilePath or buildContext in the deploy (paths inside the repository), or add the Dockerfile",
            None,
        ),
        C::BuildFailed => diag(
            "build",
            "the image build failed",
            "read the failed build step in the job log (functl jobs logs ID)",
            None,
        ),
        C::RegistryInsecure => diag(
            reg_check,
            &format!(
                "registry {} refused: the registry speaks plain HTTP and the {side}'s container engine treats {registry} as https",
                if pushing { "push" } else { "pull" }
            ),
            &format!(
                "on the {side}, {}; or serve the registry over TLS",
                protocol::failure::insecure_registry_fix(&registry)
            ),
            host.map(Probe::Registry),
        ),
        C::RegistryAuth if pushing => diag(
            reg_check,
            "registry push refused: the registry refused the runner's credentials",
            "set runner.registry_username and registry_password to an account allowed to push to the project (Harbor: a project member or robot account with push rights)",
            None,
        ),
        C::RegistryAuth => diag(
            reg_check,
            "registry pull refused: the registry refused the runtime node's credentials",
            "set runtime.registry (the registry host, as in the image name), runtime.registry_username and registry_password on the node to an account allowed to pull",
            None,
        ),
        C::RegistryUnreachable => diag(
            reg_check,
            &format!(
                "registry {} failed: the {side} cannot reach the registry",
                if pushing { "push" } else { "pull" }
            ),
            &format!(
                "open {side_key}→registry 80/443 in the security groups (functl check --from {side_key})"
            ),
            host.map(Probe::Registry),
        ),
        C::ImageNotFound => diag(
            reg_check,
            "registry pull failed: the image is not in the registry",
            "push it first, or check the image name and tag (functl jobs show ID)",
            None,
        ),
        C::RegistryFailed => diag(
            reg_check,
            &format!("registry {} failed", if pushing { "push" } else { "pull" }),
            &format!(
                "read the error and probe the registry from the {side} (functl check --from {side_key})"
            ),
            host.map(Probe::Registry),
        ),
        C::PortNotListening => {
            let port: String = m
                .split("never became healthy on port ")
                .nth(1)
                .unwrap_or_default()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let port = if port.is_empty() { "PORT".into() } else { port };
            diag(
                "container-port",
                &format!("the app does not listen on its container port {port}"),
                &format!(
                    "deploy with containerPort set to the port the app listens on, or make the app listen on {port}"
                ),
                None,
            )
        }
        C::ContainerExited => diag(
            "container-start",
            "the app's container exits at start",
            "read the app's last lines in the job error (functl jobs show ID) and fix its start command or configuration",
            None,
        ),
        C::EngineUnreachable => diag(
            "container-engine",
            &format!(
                "the container engine on the {} does not answer",
                if pushing || phase == Some("BUILD") {
                    "runner host"
                } else {
                    "runtime node"
                }
            ),
            "start Docker (systemctl start docker) or podman's socket (systemctl start podman.socket) on that host, and check agentd's docker_host",
            None,
        ),
        C::EngineFailed => diag(
            "container-engine",
            "the container engine refused an operation",
            "read the engine's words in the job error; docker info and the engine's journal on that host say more",
            None,
        ),
        C::AgentUnreachable => diag(
            "runtime-agent",
            "the runner cannot reach the runtime node's agent",
            "open runner→runtime 7005 and check runtime.agent_base_url on the node",
            Some(Probe::Agent),
        ),
        C::AgentAuth => diag(
            "runtime-agent",
            "the runtime node refused the runner's token",
            "runner.runtime_token must equal runtime.runtime_token on the node",
            None,
        ),
        C::AgentFailed => diag(
            "runtime-agent",
            "the runtime node's agent refused the deploy",
            "read the agent's words in the job error and agentd's log on the node",
            Some(Probe::Agent),
        ),
        C::RouteNotAnswering => diag(
            "gateway-route",
            "the gateway does not route the app",
            "check the gateway on the node (Traefik: its dashboard lists router rt-app-APP; embedded: functl apps show APP)",
            None,
        ),
        C::LeaseExpired => diag(
            "job-lease",
            "the runner stopped heartbeating and the job ran out of attempts",
            "check agentd on the runner (crashed? killed by the OOM killer?) and runner→deploy 7002",
            None,
        ),
        C::PhaseTimeout => diag(
            "job-timeout",
            "a phase ran past its time limit",
            "read the job log for the phase that hung; raise the runner's *_timeout_seconds if the work is legitimately slow",
            None,
        ),
        C::BadRequest => diag(
            "request",
            "a request was refused as malformed",
            "read the field named in the error; a runner and a node of different versions may disagree on the contract",
            None,
        ),
        C::NotFound => diag(
            "request",
            "what the request named does not exist where it was sent",
            "check the app, job or node in the error (functl apps list, functl nodes list)",
            None,
        ),
        C::DeployInFlight => diag(
            "runtime-agent",
            "another deploy of the app was in flight on the node",
            "wait for it (functl jobs list --app APP) and deploy again",
            None,
        ),
        C::Cancelled => return None,
        C::DbHostNotAllowed => diag(
            "database",
            "the database refuses connections from deployd's host (MySQL error 1130)",
            "on the database: CREATE USER 'USER'@'DEPLOYD_HOST' IDENTIFIED BY '...'; GRANT ALL ON DB.* TO 'USER'@'DEPLOYD_HOST'",
            None,
        ),
        C::DbAuth => diag(
            "database",
            "the database refused deployd's user or password",
            "check database_url in deployd.toml against the database's accounts",
            None,
        ),
        C::DbUnreachable => diag(
            "database",
            "deployd cannot reach its database",
            "open deploy→database in the security groups and check that the server runs",
            None,
        ),
        C::Internal => return None,
    })
}

/// Host and port of an `ssh://[user@]host[:port]/path` or `user@host:path` URL.
fn ssh_host_port(url: &str) -> Option<(String, u16)> {
    if let Some(rest) = url.strip_prefix("ssh://") {
        let authority = rest.split('/').next()?;
        let hostport = authority.rsplit('@').next()?;
        if let Some(v6) = hostport.strip_prefix('[') {
            let (h, tail) = v6.split_once(']')?;
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(22);
            return Some((h.to_string(), port));
        }
        return match hostport.rsplit_once(':') {
            Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
            None => Some((hostport.to_string(), 22)),
        };
    }
    let (authority, _) = url.split_once(':')?;
    Some((authority.rsplit('@').next()?.to_string(), 22))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_and_runtime_errors_name_their_cause() {
        let cases = [
            (
                "CLONE failed: host key mismatch for the Git server [10.0.0.3]:2222: its key is not the one in /etc/funai/known_hosts",
                "git-clone",
                "host key",
            ),
            (
                "CLONE failed: the Git server 10.0.0.3 refused the deploy key /etc/funai/deploy_key: add its public key",
                "git-clone",
                "deploy key",
            ),
            (
                "CLONE failed: cannot reach the Git server 10.0.0.3: failed to connect",
                "git-clone",
                "reach",
            ),
            (
                "PUSH failed: registry 10.0.0.3:5000 speaks plain HTTP and is not in the engine's insecure-registries: add",
                "registry-push",
                "plain HTTP",
            ),
            (
                "PUSH failed: registry 127.0.0.1:5000 refused the credentials of user \"funai\" for x",
                "registry-push",
                "credentials",
            ),
            (
                "DEPLOY failed: the runtime node answered 502: cannot pull image 10.251.0.2:5000/funaistudio/a:1: Get \"https://10.251.0.2:5000/v2/\": http: server gave HTTP response to HTTPS client",
                "registry-pull",
                "plain HTTP",
            ),
            (
                "DEPLOY failed: the runtime node answered 502: cannot pull image 127.0.0.1:5000/funaistudio/a:1: Head \"http://127.0.0.1:5000/v2/funaistudio/a/manifests/1\": no basic auth credentials",
                "registry-pull",
                "credentials",
            ),
            (
                "DEPLOY failed: the runtime node answered 503: the app never became healthy on port 4000 within 3 s (TCP 172.18.0.3:4000: Connection refused)",
                "container-port",
                "4000",
            ),
        ];
        for (err, check, needle) in cases {
            let d = classify(None, None, err).unwrap_or_else(|| panic!("unclassified: {err}"));
            assert_eq!(d.check, check, "{err}");
            assert!(d.finding.contains(needle), "{err}: {}", d.finding);
        }
        assert!(classify(None, None, "something else entirely").is_none());
    }

    #[test]
    fn the_code_names_the_cause_whatever_the_words() {
        use protocol::failure::FailureCode as C;
        for code in C::ALL {
            let d = classify(
                Some(code.as_str()),
                Some("CLONE"),
                "reworded beyond recognition",
            );
            match code {
                C::Cancelled | C::Internal => assert!(d.is_none(), "{code}"),
                _ => {
                    let d = d.unwrap_or_else(|| panic!("{code} has no entry"));
                    assert!(!d.finding.is_empty() && !d.fix.is_empty(), "{code}");
                }
            }
        }
        let cases = [
            (
                "GIT_HOST_KEY",
                "CLONE",
                "git-clone",
                "host key",
                "ssh-keyscan",
            ),
            (
                "GIT_REPO_NOT_FOUND",
                "CLONE",
                "git-clone",
                "does not exist",
                "repoSshUrl",
            ),
            (
                "REGISTRY_INSECURE",
                "PUSH",
                "registry-push",
                "runner host's container engine",
                "insecure-registries",
            ),
            (
                "REGISTRY_INSECURE",
                "DEPLOY",
                "registry-pull",
                "runtime node's container engine",
                "insecure-registries",
            ),
            (
                "ENGINE_UNREACHABLE",
                "DEPLOY",
                "container-engine",
                "runtime node does not answer",
                "systemctl start docker",
            ),
            (
                "PORT_NOT_LISTENING",
                "DEPLOY",
                "container-port",
                "container port",
                "containerPort",
            ),
            ("DB_HOST_NOT_ALLOWED", "", "database", "1130", "GRANT"),
        ];
        for (code, phase, check, finding, fix) in cases {
            let d = classify(Some(code), Some(phase), "words")
                .unwrap_or_else(|| panic!("{code}: no diagnosis"));
            assert_eq!(d.check, check, "{code}");
            assert!(d.finding.contains(finding), "{code}: {}", d.finding);
            assert!(d.fix.contains(fix), "{code}: {}", d.fix);
        }
        // A code this build does not know falls back to the words.
        let d = classify(
            Some("A_NEWER_CODE"),
            None,
            "CLONE failed: host key mismatch for x",
        );
        assert_eq!(d.map(|d| d.check), Some("git-clone"));
    }

    #[test]
    fn a_plain_http_registry_is_named_with_what_to_do() {
        let err = "PUSH failed: registry 10.0.0.103 answers plain HTTP on port 80 (Get \"https://10.0.0.103/v2/\": dial tcp 10.0.0.103:443: connect: connection refused)";
        let d = classify(Some("REGISTRY_INSECURE"), Some("PUSH"), err)
            .unwrap_or_else(|| panic!("no diagnosis"));
        assert!(
            d.fix
                .contains("the engine treats 10.0.0.103 as https: add it to insecure-registries")
                && d.fix.contains("/etc/docker/daemon.json")
                && d.fix.contains("on the runner host"),
            "{}",
            d.fix
        );
        let probe = |https, http| RegistryProbe {
            host: "10.0.0.103".into(),
            https: Some(https),
            http: Some(http),
        };
        let refused = || Err("cannot connect: Connection refused (os error 111)".to_string());
        let p = probe(refused(), Ok((200, true)));
        assert!(p.plain_http_only());
        assert!(
            p.to_string().starts_with(
                "http://10.0.0.103/v2/ answers 200 (https://10.0.0.103/v2/: cannot connect"
            ) && p.to_string().ends_with("the registry speaks plain HTTP"),
            "{p}"
        );
        assert!(!probe(Ok((401, true)), Ok((200, true))).plain_http_only());
        assert!(!probe(refused(), Ok((404, false))).plain_http_only());
        assert!(!probe(refused(), refused()).plain_http_only());
    }

    #[test]
    fn the_registry_host_is_read_from_the_error() {
        assert_eq!(
            registry_host("cannot pull image 10.251.0.2:5000/funaistudio/a:1: Get").as_deref(),
            Some("10.251.0.2:5000")
        );
        assert_eq!(
            registry_host("PUSH failed: registry 10.0.0.3:5000 speaks plain HTTP").as_deref(),
            Some("10.0.0.3:5000")
        );
    }

    #[test]
    fn ssh_urls_give_host_and_port() {
        assert_eq!(
            ssh_host_port("ssh://git@127.0.0.1:2222/srv/repos/a.git"),
            Some(("127.0.0.1".into(), 2222))
        );
        assert_eq!(
            ssh_host_port("git@git.example:team/a.git"),
            Some(("git.example".into(), 22))
        );
        assert_eq!(
            ssh_host_port("ssh://git@[::1]:2222/a.git"),
            Some(("::1".into(), 2222))
        );
        assert_eq!(ssh_host_port("ssh://h/a.git"), Some(("h".into(), 22)));
    }
}
