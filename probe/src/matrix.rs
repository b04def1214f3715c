//! The security-group matrix of DESIGN §7 as data: who may open which port on whom, why,
//! and how a probe proves the service behind the port is the right one.

use protocol::check::ProbeKind;

/// Role names of the built-in matrix, as the topology file's `[roles]` spells them.
pub mod role {
    pub const PUBLIC: &str = "public";
    pub const API: &str = "api";
    pub const WORKSPACE: &str = "workspace";
    pub const DEPLOY: &str = "deploy";
    pub const RUNNER: &str = "runner";
    pub const RUNTIME: &str = "runtime";
    pub const GIT: &str = "git";
    pub const REGISTRY: &str = "registry";
    pub const MONGO: &str = "mongo";

    /// Every role the built-in matrix names.
    pub const ALL: [&str; 9] = [
        PUBLIC, API, WORKSPACE, DEPLOY, RUNNER, RUNTIME, GIT, REGISTRY, MONGO,
    ];
}

/// One allowed edge: `from` may open `port` on `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub why: String,
    pub probe: ProbeKind,
}

/// A row of the built-in matrix.
struct Row(&'static str, &'static str, u16, &'static str, ProbeKind);

use ProbeKind::{Health, Registry, RegistryTls, Ssh, Tcp};
use role::*;

/// DESIGN §7, one row per port. Every other (from, to, port) on these ports must be closed.
const MATRIX: &[Row] = &[
    Row(PUBLIC, API, 80, "users", Tcp),
    Row(PUBLIC, API, 443, "users", Tcp),
    Row(PUBLIC, RUNTIME, 80, "apps through the runtime gateway", Tcp),
    Row(
        PUBLIC,
        RUNTIME,
        443,
        "apps through the runtime gateway",
        Tcp,
    ),
    Row(API, WORKSPACE, 80, "/ws/** preview forwarded", Tcp),
    Row(API, RUNTIME, 80, "/apps/** forwarded to the gateway", Tcp),
    Row(
        RUNTIME,
        RUNTIME,
        80,
        "an app of another node, passed on by the gateway that is the entry",
        Tcp,
    ),
    Row(API, WORKSPACE, 7001, "workspace operations", Tcp),
    Row(API, DEPLOY, 7002, "create and query jobs", Health),
    Row(RUNNER, DEPLOY, 7002, "claim, heartbeat, report", Health),
    Row(RUNTIME, DEPLOY, 7002, "node heartbeat", Health),
    Row(RUNNER, RUNTIME, 7005, "deploy", Health),
    Row(DEPLOY, RUNTIME, 7005, "app stop and cleanup", Health),
    Row(RUNNER, GIT, 2222, "clone over SSH", Ssh),
    Row(WORKSPACE, GIT, 2222, "push over SSH", Ssh),
    Row(WORKSPACE, API, 8080, "workspace node heartbeat", Tcp),
    Row(RUNTIME, MONGO, 27017, "app data", Tcp),
    Row(RUNNER, REGISTRY, 80, "image push", Registry),
    Row(RUNNER, REGISTRY, 443, "image push", RegistryTls),
    Row(RUNTIME, REGISTRY, 80, "image pull", Registry),
    Row(RUNTIME, REGISTRY, 443, "image pull", RegistryTls),
];

/// The probe a port of a role gets when the topology's `[[allow]]` does not say.
pub fn infer_probe(to_role: &str, port: u16) -> ProbeKind {
    match (to_role, port) {
        (_, 7002 | 7005) => ProbeKind::Health,
        (_, 2222) => ProbeKind::Ssh,
        (role::REGISTRY, 443) => ProbeKind::RegistryTls,
        (role::REGISTRY, _) => ProbeKind::Registry,
        _ => ProbeKind::Tcp,
    }
}

/// The built-in matrix as rules.
pub fn builtin() -> Vec<Rule> {
    MATRIX
        .iter()
        .map(|Row(from, to, port, why, probe)| Rule {
            from: from.to_string(),
            to: to.to_string(),
            port: *port,
            why: why.to_string(),
            probe: *probe,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_names_only_known_roles_and_infers_its_own_probes() {
        for r in builtin() {
            assert!(role::ALL.contains(&r.from.as_str()), "{r:?}");
            assert!(role::ALL.contains(&r.to.as_str()), "{r:?}");
            assert_eq!(infer_probe(&r.to, r.port), r.probe, "{r:?}");
        }
    }

    #[test]
    fn the_matrix_has_one_row_per_edge_and_port() {
        let rules = builtin();
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                assert!(
                    !(a.from == b.from && a.to == b.to && a.port == b.port),
                    "{a:?} twice"
                );
            }
        }
        assert_eq!(rules.len(), 21);
    }
}
