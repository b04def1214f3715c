//! The reports of the connectivity checks (DESIGN §7) as they travel: what a probe expected,
//! saw and why, sent by agents to deployd and read back by `functl check --all` and
//! `functl doctor`. The matrix, the topology file and the probes are the `probe` crate's.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What a probe does once TCP is connected (a report names it for each result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// The TCP connect is the whole probe.
    Tcp,
    /// `GET /internal/health` answers 2xx (deployd 7002, agentd 7005).
    Health,
    /// `GET /v2/` over plain HTTP answers 200 or 401 (a Distribution registry or Harbor).
    Registry,
    /// `GET /v2/` over TLS answers 200 or 401.
    RegistryTls,
    /// An SSH handshake whose host key is checked against known_hosts (and, asked for, a
    /// login with the deploy key).
    Ssh,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Tcp => "tcp",
            ProbeKind::Health => "health",
            ProbeKind::Registry => "registry",
            ProbeKind::RegistryTls => "registry-tls",
            ProbeKind::Ssh => "ssh",
        }
    }

    pub fn parse(s: &str) -> Option<ProbeKind> {
        [
            ProbeKind::Tcp,
            ProbeKind::Health,
            ProbeKind::Registry,
            ProbeKind::RegistryTls,
            ProbeKind::Ssh,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the matrix says of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Open,
    Closed,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Open => "open",
            Expect::Closed => "closed",
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seen {
    /// TCP connected and, on an allowed edge, the protocol answered as it should.
    Open,
    /// No TCP connection: refused, no answer within the timeout, or no route.
    Closed,
    /// TCP connected but the protocol's handshake failed: something else answers, or the
    /// service is unwell (the cause says which).
    Broken,
}

impl Seen {
    pub fn as_str(self) -> &'static str {
        match self {
            Seen::Open => "open",
            Seen::Closed => "closed",
            Seen::Broken => "broken",
        }
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One probe's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub from: String,
    pub to: String,
    pub address: String,
    pub port: u16,
    pub expected: Expect,
    pub seen: Seen,
    pub probe: ProbeKind,
    /// Time to the TCP answer (connected or refused), in milliseconds; none on a timeout.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Why the probe saw what it saw (`connection refused`, `host key mismatch ...`).
    #[serde(default)]
    pub cause: Option<String>,
    /// The matrix's reason for an allowed edge.
    #[serde(default)]
    pub why: Option<String>,
}

impl ProbeResult {
    /// The pair is as the matrix wants it.
    pub fn ok(&self) -> bool {
        matches!(
            (self.expected, self.seen),
            (Expect::Open, Seen::Open) | (Expect::Closed, Seen::Closed)
        )
    }
}

/// All probes of one host in one round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The roles of the host that probed.
    pub roles: Vec<String>,
    /// Its own addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    pub probed_at: Timestamp,
    pub timeout_ms: u64,
    pub results: Vec<ProbeResult>,
}

impl CheckReport {
    pub fn violations(&self) -> usize {
        self.results.iter().filter(|r| !r.ok()).count()
    }

    /// Checks a report from the wire: bounded sizes, known enums, addresses that parse.
    pub fn validate(&self) -> Result<(), String> {
        const MAX_RESULTS: usize = 4096;
        if self.results.len() > MAX_RESULTS {
            return Err(format!(
                "results: {} entries, at most {MAX_RESULTS}",
                self.results.len()
            ));
        }
        if self.roles.len() > 32 || self.addresses.len() > 256 {
            return Err("roles or addresses: too many entries".into());
        }
        for r in &self.roles {
            crate::validate::id(r).map_err(|m| format!("roles: {r:?} {m}"))?;
        }
        for a in &self.addresses {
            a.parse::<std::net::IpAddr>()
                .map_err(|_| format!("addresses: {a:?} is not an IP address"))?;
        }
        if self.timeout_ms == 0 || self.timeout_ms > 600_000 {
            return Err("timeoutMs must be 1..=600000".into());
        }
        for (i, r) in self.results.iter().enumerate() {
            let at = |m: String| format!("results[{i}].{m}");
            for (field, v) in [("from", &r.from), ("to", &r.to)] {
                if v.is_empty() || v.len() > 256 {
                    return Err(at(format!("{field}: 1-256 characters")));
                }
                for part in v.split('+') {
                    crate::validate::id(part).map_err(|m| at(format!("{field}: {part:?} {m}")))?;
                }
            }
            r.address
                .parse::<std::net::IpAddr>()
                .map_err(|_| at(format!("address: {:?} is not an IP address", r.address)))?;
            if r.port == 0 {
                return Err(at("port: must be 1-65535".into()));
            }
            if let Some(l) = r.latency_ms
                && !(l.is_finite() && l >= 0.0)
            {
                return Err(at("latencyMs: must be a finite, non-negative number".into()));
            }
            for (field, v, max) in [("cause", &r.cause, 2000), ("why", &r.why, 200)] {
                if let Some(v) = v
                    && v.len() > max
                {
                    return Err(at(format!("{field}: at most {max} bytes")));
                }
            }
        }
        Ok(())
    }
}

/// `POST /deploy/runners/checks`: a runner's latest round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunnerChecks {
    pub runner_id: String,
    pub checks: CheckReport,
}

/// Who sent a stored report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reporter {
    /// A runtime node, with its heartbeat.
    Node,
    /// A runner.
    Runner,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Node => "node",
            Reporter::Runner => "runner",
        }
    }

    pub fn parse(s: &str) -> Option<Reporter> {
        match s {
            "node" => Some(Reporter::Node),
            "runner" => Some(Reporter::Runner),
            _ => None,
        }
    }
}

/// `GET /admin/checks`: the latest report of each host, as deployd last heard it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoredCheckReport {
    pub reporter: Reporter,
    /// The node name or runner id.
    pub name: String,
    #[serde(default)]
    pub remote_addr: Option<String>,
    pub received_at: Timestamp,
    pub violations: i64,
    pub report: CheckReport,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> ProbeResult {
        ProbeResult {
            from: "runner".into(),
            to: "git+registry".into(),
            address: "10.0.0.3".into(),
            port: 2222,
            expected: Expect::Open,
            seen: Seen::Open,
            probe: ProbeKind::Ssh,
            latency_ms: Some(0.4),
            cause: None,
            why: Some("clone over SSH".into()),
        }
    }

    fn report(results: Vec<ProbeResult>) -> CheckReport {
        CheckReport {
            roles: vec!["runner".into()],
            addresses: vec!["10.0.0.1".into()],
            probed_at: chrono::Utc::now(),
            timeout_ms: 2000,
            results,
        }
    }

    #[test]
    fn a_violation_is_an_expectation_not_met() {
        let mut r = result();
        assert!(r.ok());
        r.seen = Seen::Broken;
        assert!(!r.ok());
        r.expected = Expect::Closed;
        assert!(!r.ok());
        r.seen = Seen::Closed;
        assert!(r.ok());
        r.expected = Expect::Open;
        assert!(!r.ok());
        assert_eq!(report(vec![r, result()]).violations(), 1);
    }

    #[test]
    fn reports_are_camel_case_and_round_trip() {
        let rep = report(vec![result()]);
        let v = serde_json::to_value(&rep).unwrap_or_default();
        assert_eq!(v["results"][0]["latencyMs"], 0.4);
        assert_eq!(v["results"][0]["expected"], "open");
        assert_eq!(v["results"][0]["probe"], "ssh");
        let back: CheckReport = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, rep);
    }

    #[test]
    fn wire_reports_are_validated() {
        assert!(report(vec![result()]).validate().is_ok());
        let mut bad = result();
        bad.address = "not-an-ip".into();
        assert!(
            report(vec![bad])
                .validate()
                .err()
                .unwrap_or_default()
                .contains("results[0].address")
        );
        let mut bad = result();
        bad.to = "git+re gistry".into();
        assert!(report(vec![bad]).validate().is_err());
        let mut bad = result();
        bad.cause = Some("x".repeat(3000));
        assert!(report(vec![bad]).validate().is_err());
        let mut rep = report(vec![]);
        rep.timeout_ms = 0;
        assert!(rep.validate().is_err());
    }

    #[test]
    fn probe_kinds_round_trip() {
        for k in [
            ProbeKind::Tcp,
            ProbeKind::Health,
            ProbeKind::Registry,
            ProbeKind::RegistryTls,
            ProbeKind::Ssh,
        ] {
            assert_eq!(ProbeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProbeKind::parse("udp"), None);
    }
}
