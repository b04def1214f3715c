//! `functl check`: the security-group matrix (DESIGN §7) probed from this host, or with
//! `--all` as deployd last heard it from every agent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::{Cell, Color};
use probe::{DEFAULT_TOPOLOGY_PATH, ProbeOptions, SshOptions, Topology, TopologyError, host};
use protocol::check::{CheckReport, ProbeResult};
use serde::Serialize;

use crate::ctx::Ctx;
use crate::exit::{Exit, usage_error};
use crate::output::{format, json, table};

const DEFAULT_KNOWN_HOSTS: &str = "/etc/funai/known_hosts";
const DEFAULT_KEY: &str = "/etc/funai/deploy_key";

#[derive(Debug, Args)]
pub struct Cmd {
    /// Topology file: roles mapped to addresses, extra [[allow]] edges [default: /etc/funai/topology.toml]
    #[arg(long, env = "FUNCTL_TOPOLOGY", value_name = "FILE")]
    topology: Option<PathBuf>,

    /// This host's role(s), comma-separated [default: the roles of this host's addresses]
    #[arg(long, value_name = "ROLE", value_delimiter = ',', value_parser = crate::commands::parse::id)]
    from: Vec<String>,

    /// Also probe every pair the matrix does not allow, from this host to each role's
    /// addresses on the matrix's ports: each must fail to connect
    #[arg(long)]
    expect_closed: bool,

    /// On the SSH edge, also log in with the deploy key (--key)
    #[arg(long)]
    auth: bool,

    /// Per-probe timeout in milliseconds: for the TCP connect, and again for the handshake
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    timeout_ms: u64,

    /// Probes in flight at once
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    parallel: u64,

    /// known_hosts that the Git server's host key must be in [default: /etc/funai/known_hosts when it exists; else the key is not checked]
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,

    /// The deploy key --auth logs in with [default: /etc/funai/deploy_key]
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,

    /// The user --auth logs in as
    #[arg(long, value_name = "USER", default_value = "git")]
    ssh_user: String,

    /// Show the whole matrix as deployd last heard it from the agents, with each result's age
    #[arg(long, conflicts_with_all = ["topology", "from", "expect_closed", "auth", "known_hosts", "key"])]
    all: bool,
}

/// The `--output json` document of a local check.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalOutput<'a> {
    topology: String,
    elapsed_ms: f64,
    probes: usize,
    violations: usize,
    #[serde(flatten)]
    report: &'a CheckReport,
}

/// The `--output json` document of `--all`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AllOutput<'a> {
    now: protocol::Timestamp,
    violations: i64,
    reports: &'a [protocol::check::StoredCheckReport],
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if self.all {
            return all(ctx).await;
        }
        let (path, topology) = load_topology(self.topology.as_deref())?;
        let own = host::local_addresses()
            .map_err(|e| anyhow::anyhow!("cannot read this host's addresses: {e}"))?;
        let from = if self.from.is_empty() {
            let roles = topology.roles_of(&own);
            if roles.is_empty() {
                let shown: Vec<String> = own.iter().map(|a| a.to_string()).collect();
                return Err(usage_error(format!(
                    "this host's addresses ({}) belong to no role of {}: pass --from ROLE",
                    shown.join(", "),
                    path.display()
                )));
            }
            roles
        } else {
            for r in &self.from {
                if !topology.knows_role(r) {
                    let known: Vec<&str> = topology.roles.keys().map(String::as_str).collect();
                    return Err(usage_error(format!(
                        "--from {r}: no such role in {} or the built-in matrix (roles: {})",
                        path.display(),
                        known.join(", ")
                    )));
                }
            }
            self.from.clone()
        };
        let options = self.probe_options()?;
        let plan = topology.plan(&from, &own, self.expect_closed);
        let started = Instant::now();
        let results = probe::run(plan, &options).await;
        let elapsed = started.elapsed();
        let report = CheckReport {
            roles: from,
            addresses: own
                .iter()
                .filter(|a| !a.is_loopback())
                .map(|a| a.to_string())
                .collect(),
            probed_at: chrono::Utc::now(),
            timeout_ms: self.timeout_ms,
            results,
        };
        let violations = report.violations();
        if ctx.json() {
            json::print(&LocalOutput {
                topology: path.display().to_string(),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                probes: report.results.len(),
                violations,
                report: &report,
            })?;
        } else {
            print_results(ctx, report.results.iter().map(|r| (None, r)))?;
            eprintln!(
                "{} probes from {} ({}) in {}: {}",
                report.results.len(),
                report.roles.join("+"),
                if report.addresses.is_empty() {
                    "no address".to_string()
                } else {
                    report.addresses.join(", ")
                },
                seconds(elapsed),
                match violations {
                    0 => "the matrix holds".to_string(),
                    1 => "1 violation".to_string(),
                    n => format!("{n} violations"),
                }
            );
        }
        Ok(if violations == 0 {
            Exit::Success
        } else {
            Exit::Failure
        })
    }

    fn probe_options(&self) -> anyhow::Result<ProbeOptions> {
        let known_hosts = match &self.known_hosts {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(DEFAULT_KNOWN_HOSTS)).filter(|p| p.exists()),
        };
        let key = if self.auth {
            let k = self
                .key
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KEY));
            if !k.exists() {
                return Err(usage_error(format!(
                    "--auth: the deploy key {} does not exist: pass --key FILE",
                    k.display()
                )));
            }
            Some(k)
        } else {
            None
        };
        if self.ssh_user.is_empty() || self.ssh_user.chars().any(|c| c.is_whitespace()) {
            return Err(usage_error("--ssh-user must be a user name"));
        }
        Ok(ProbeOptions {
            timeout: Duration::from_millis(self.timeout_ms),
            parallel: self.parallel as usize,
            ssh: SshOptions {
                user: self.ssh_user.clone(),
                known_hosts,
                key,
            },
        })
    }
}

/// The topology file given, or the default one; either must exist and hold a valid topology.
pub fn load_topology(given: Option<&Path>) -> anyhow::Result<(PathBuf, Topology)> {
    let path = given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TOPOLOGY_PATH));
    if given.is_none() && !path.exists() {
        return Err(usage_error(format!(
            "no topology file at {DEFAULT_TOPOLOGY_PATH}: pass --topology FILE (TOML: [roles] name = [\"address\", ...], optional [[allow]] from/to/port)"
        )));
    }
    match Topology::load(&path) {
        Ok(t) => Ok((path, t)),
        Err(e @ TopologyError::Read { .. }) | Err(e @ TopologyError::Invalid { .. }) => {
            Err(usage_error(e.to_string()))
        }
    }
}

async fn all(ctx: &Ctx) -> anyhow::Result<Exit> {
    let admin = ctx.admin()?;
    let reports = admin.checks().await?;
    let now = admin.settings().await?.now;
    let violations: i64 = reports.iter().map(|r| r.violations).sum();
    if ctx.json() {
        json::print(&AllOutput {
            now,
            violations,
            reports: &reports,
        })?;
    } else if reports.is_empty() {
        eprintln!(
            "no agent has reported a check yet: set [check] topology in each agentd.toml (runner and runtime hosts)"
        );
    } else {
        let rows = reports.iter().flat_map(|rep| {
            let who = format!("{}:{}", rep.reporter.as_str(), rep.name);
            let age = format::age_at(&rep.report.probed_at, &now);
            rep.report
                .results
                .iter()
                .map(move |r| (Some((who.clone(), age.clone())), r))
        });
        print_results(ctx, rows)?;
        for rep in &reports {
            eprintln!(
                "{}:{} probed {} ({} probes, {} violations), reported from {}",
                rep.reporter.as_str(),
                rep.name,
                format::age_at(&rep.report.probed_at, &now),
                rep.report.results.len(),
                rep.violations,
                rep.remote_addr.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(if violations == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// The results table; rows of `--all` carry their reporter and age.
fn print_results<'a>(
    ctx: &Ctx,
    rows: impl Iterator<Item = (Option<(String, String)>, &'a ProbeResult)>,
) -> anyhow::Result<()> {
    let rows: Vec<_> = rows.collect();
    let with_reporter = rows.iter().any(|(who, _)| who.is_some());
    let mut headers = vec![];
    if with_reporter {
        headers.push("REPORTER");
    }
    headers.extend([
        "FROM", "TO", "ADDRESS", "PORT", "EXPECTED", "SEEN", "LATENCY",
    ]);
    if with_reporter {
        headers.push("AGE");
    }
    headers.push("CAUSE");
    let mut t = table::new(&headers, ctx.styled);
    for (who, r) in rows {
        let mut row = Vec::new();
        if let Some((name, _)) = &who {
            row.push(Cell::new(name));
        }
        let color = if r.ok() { Color::Green } else { Color::Red };
        row.extend([
            Cell::new(&r.from),
            Cell::new(&r.to),
            Cell::new(&r.address),
            Cell::new(r.port),
            Cell::new(r.expected),
            table::colored(r.seen, Some(color), ctx.styled),
            Cell::new(
                r.latency_ms
                    .map(|l| format!("{l:.1} ms"))
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
        if let Some((_, age)) = &who {
            row.push(Cell::new(age));
        }
        let cause = match (&r.cause, &r.why) {
            (Some(c), _) => c.clone(),
            (None, Some(w)) => w.clone(),
            (None, None) => "-".into(),
        };
        row.push(Cell::new(format::truncate(&cause, 110)));
        t.add_row(row);
    }
    table::print(&t)
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
