//! The topology file (DESIGN §7): roles mapped to addresses, extra allowed edges; and the
//! plan of probes from one host that follows from it and the built-in matrix.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use protocol::check::{Expect, ProbeKind};

use crate::matrix::{Rule, builtin, infer_probe, role};

pub const DEFAULT_TOPOLOGY_PATH: &str = "/etc/funai/topology.toml";

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read the topology file {path}: {message}")]
    Read { path: String, message: String },
    #[error("topology {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    allow: Vec<AllowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    from: String,
    to: String,
    port: i64,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    probe: Option<String>,
}

/// Roles with their addresses and every allowed edge (the built-in matrix plus the file's).
#[derive(Debug, Clone)]
pub struct Topology {
    pub roles: BTreeMap<String, Vec<IpAddr>>,
    pub rules: Vec<Rule>,
}

/// One probe to run: from this host to `address:port`, expected open or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The role(s) of this host the edge starts from, `+`-joined.
    pub from: String,
    /// The role(s) that live at `address`, `+`-joined.
    pub to: String,
    pub address: IpAddr,
    pub port: u16,
    pub expected: Expect,
    pub probe: ProbeKind,
    /// The matrix's reason for an allowed edge.
    pub why: Option<String>,
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|e| TopologyError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Topology::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a topology; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Topology, TopologyError> {
        let invalid = |message: String| TopologyError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let file: TopologyFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.roles.is_empty() {
            return Err(invalid(
                "no [roles]: map each role to its addresses, e.g. deploy = [\"10.0.0.100\"]".into(),
            ));
        }
        let mut roles = BTreeMap::new();
        for (name, addrs) in file.roles {
            protocol::validate::id(&name)
                .map_err(|m| invalid(format!("role name {name:?} {m}")))?;
            let mut parsed: Vec<IpAddr> = Vec::new();
            for a in addrs {
                let ip: IpAddr = a.trim().parse().map_err(|_| {
                    invalid(format!(
                        "roles.{name}: {a:?} is not an IP address (the topology maps roles to addresses, not host names)"
                    ))
                })?;
                if ip.is_unspecified() || ip.is_multicast() {
                    return Err(invalid(format!("roles.{name}: {ip} is not a host address")));
                }
                if !parsed.contains(&ip) {
                    parsed.push(ip);
                }
            }
            roles.insert(name, parsed);
        }
        let mut rules = builtin();
        for (i, a) in file.allow.into_iter().enumerate() {
            let at = format!("allow[{i}]");
            for (field, r) in [("from", &a.from), ("to", &a.to)] {
                if !roles.contains_key(r.as_str()) && !role::ALL.contains(&r.as_str()) {
                    return Err(invalid(format!(
                        "{at}.{field}: role {r:?} is neither in [roles] nor in the built-in matrix ({})",
                        role::ALL.join(", ")
                    )));
                }
            }
            let port = u16::try_from(a.port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid(format!("{at}.port: {} is not a port (1-65535)", a.port)))?;
            let probe = match a.probe.as_deref() {
                None => infer_probe(&a.to, port),
                Some(p) => ProbeKind::parse(p).ok_or_else(|| {
                    invalid(format!(
                        "{at}.probe: {p:?} is unknown; one of tcp, health, registry, registry-tls, ssh"
                    ))
                })?,
            };
            let why = a.why.unwrap_or_else(|| "topology file".to_string());
            if why.len() > 200 || why.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "{at}.why: at most 200 characters on one line"
                )));
            }
            let dup = rules
                .iter()
                .any(|r| r.from == a.from && r.to == a.to && r.port == port);
            if !dup {
                rules.push(Rule {
                    from: a.from,
                    to: a.to,
                    port,
                    why,
                    probe,
                });
            }
        }
        Ok(Topology { roles, rules })
    }

    /// Every role that has one of `addresses`, in name order.
    pub fn roles_of(&self, addresses: &[IpAddr]) -> Vec<String> {
        self.roles
            .iter()
            .filter(|(_, addrs)| addrs.iter().any(|a| addresses.contains(a)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether `name` is a role this topology or the matrix knows.
    pub fn knows_role(&self, name: &str) -> bool {
        self.roles.contains_key(name) || role::ALL.contains(&name)
    }

    /// The ports of the matrix: every port some rule allows. A pair on these ports that no
    /// rule allows must be closed.
    pub fn ports(&self) -> BTreeSet<u16> {
        self.rules.iter().map(|r| r.port).collect()
    }

    /// The probes from a host of roles `from` whose own addresses are `own`: every allowed
    /// edge, and with `expect_closed` every other (address, port) of the matrix's ports.
    /// A host never probes itself for closed ports; `public` is outside the estate and is
    /// never a target.
    pub fn plan(&self, from: &[String], own: &[IpAddr], expect_closed: bool) -> Vec<Target> {
        let me: BTreeSet<IpAddr> = own.iter().copied().collect();
        let mut own = me.clone();
        for f in from {
            if let Some(addrs) = self.roles.get(f) {
                own.extend(addrs.iter().copied());
            }
        }
        let mut allowed: BTreeMap<(IpAddr, u16), Target> = BTreeMap::new();
        for rule in self.rules.iter().filter(|r| from.contains(&r.from)) {
            for addr in self.roles.get(&rule.to).into_iter().flatten() {
                // An edge between hosts of one role (a gateway passing an app on to another
                // node's) is not probed from a host to itself.
                if rule.from == rule.to && me.contains(addr) {
                    continue;
                }
                allowed
                    .entry((*addr, rule.port))
                    .and_modify(|t| {
                        join_name(&mut t.from, &rule.from);
                        join_name(&mut t.to, &rule.to);
                        if t.probe == ProbeKind::Tcp {
                            t.probe = rule.probe;
                        }
                    })
                    .or_insert_with(|| Target {
                        from: rule.from.clone(),
                        to: rule.to.clone(),
                        address: *addr,
                        port: rule.port,
                        expected: Expect::Open,
                        probe: rule.probe,
                        why: Some(rule.why.clone()),
                    });
            }
        }
        let mut out: Vec<Target> = allowed.values().cloned().collect();
        if expect_closed {
            let mut at: BTreeMap<IpAddr, Vec<&str>> = BTreeMap::new();
            for (name, addrs) in &self.roles {
                if name == role::PUBLIC {
                    continue;
                }
                for a in addrs {
                    at.entry(*a).or_default().push(name);
                }
            }
            let from_name = from.join("+");
            let ports = self.ports();
            for (addr, names) in at {
                if own.contains(&addr) {
                    continue;
                }
                for port in &ports {
                    if !allowed.contains_key(&(addr, *port)) {
                        out.push(Target {
                            from: from_name.clone(),
                            to: names.join("+"),
                            address: addr,
                            port: *port,
                            expected: Expect::Closed,
                            probe: ProbeKind::Tcp,
                            why: None,
                        });
                    }
                }
            }
        }
        out
    }
}

fn join_name(names: &mut String, add: &str) {
    if !names.split('+').any(|n| n == add) {
        names.push('+');
        names.push_str(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[roles]
public    = ["198.51.100.7"]
api       = ["192.0.2.91"]
workspace = ["192.0.2.87"]
deploy    = ["192.0.2.100"]
runner    = ["192.0.2.101"]
runtime   = ["192.0.2.102"]
git       = ["192.0.2.103"]
registry  = ["192.0.2.103"]
mongo     = ["192.0.2.104"]

[[allow]]
from = "runner"
to = "registry"
port = 5000
"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn topo() -> Topology {
        Topology::parse(EXAMPLE, "example").unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        Topology::parse(text, "t.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_design_example_parses_with_its_extra_edge() {
        let t = topo();
        assert_eq!(t.roles.len(), 9);
        let extra = t.rules.iter().find(|r| r.port == 5000);
        assert!(
            extra.is_some_and(|r| r.probe == ProbeKind::Registry && r.from == "runner"),
            "{extra:?}"
        );
        assert!(t.ports().contains(&5000));
        assert_eq!(
            t.roles_of(&[ip("192.0.2.103"), ip("127.0.0.1")]),
            vec!["git", "registry"]
        );
    }

    #[test]
    fn a_runner_probes_its_allowed_edges_and_everything_else_closed() {
        let t = topo();
        let plan = t.plan(&["runner".into()], &[ip("192.0.2.101")], true);
        let open: BTreeSet<(String, u16)> = plan
            .iter()
            .filter(|p| p.expected == Expect::Open)
            .map(|p| (p.address.to_string(), p.port))
            .collect();
        let want: BTreeSet<(String, u16)> = [
            ("192.0.2.100", 7002),
            ("192.0.2.102", 7005),
            ("192.0.2.103", 2222),
            ("192.0.2.103", 80),
            ("192.0.2.103", 443),
            ("192.0.2.103", 5000),
        ]
        .iter()
        .map(|(a, p)| (a.to_string(), *p))
        .collect();
        assert_eq!(open, want);
        let ssh = plan.iter().find(|p| p.port == 2222);
        assert!(
            ssh.is_some_and(|p| p.probe == ProbeKind::Ssh && p.to == "git"),
            "{ssh:?}"
        );
        let reg = plan
            .iter()
            .find(|p| p.port == 80 && p.address == ip("192.0.2.103"));
        assert_eq!(reg.map(|p| p.to.as_str()), Some("registry"));
        // 6 other hosts (public is not a target, itself is not probed) x 9 ports, less the open ones.
        let closed = plan.iter().filter(|p| p.expected == Expect::Closed).count();
        assert_eq!(closed, 6 * 9 - 6);
        assert!(plan.iter().all(|p| p.address != ip("192.0.2.101")));
        assert!(plan.iter().all(|p| p.address != ip("198.51.100.7")));
        let git_closed = plan
            .iter()
            .find(|p| p.address == ip("192.0.2.103") && p.port == 7002);
        assert_eq!(git_closed.map(|p| p.to.as_str()), Some("git+registry"));
    }

    #[test]
    fn a_runtime_gateway_reaches_every_other_runtime_gateway_but_not_itself() {
        let t = Topology::parse(
            "[roles]\nruntime = [\"192.0.2.102\", \"192.0.2.112\"]\ndeploy = [\"192.0.2.100\"]\n",
            "two.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let plan = t.plan(&["runtime".into()], &[ip("192.0.2.102")], true);
        let to_other = plan
            .iter()
            .find(|p| p.address == ip("192.0.2.112") && p.port == 80);
        assert!(
            to_other.is_some_and(|p| p.expected == Expect::Open && p.to == "runtime"),
            "{plan:?}"
        );
        assert!(
            plan.iter().all(|p| p.address != ip("192.0.2.102")),
            "{plan:?}"
        );
    }

    #[test]
    fn without_expect_closed_only_allowed_edges_are_probed() {
        let plan = topo().plan(&["deploy".into()], &[], false);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].port, 7005);
        assert_eq!(plan[0].why.as_deref(), Some("app stop and cleanup"));
    }

    #[test]
    fn a_host_of_two_roles_merges_their_edges() {
        let t = topo();
        let plan = t.plan(&["runner".into(), "runtime".into()], &[], true);
        let to_deploy: Vec<_> = plan
            .iter()
            .filter(|p| p.address == ip("192.0.2.100") && p.port == 7002)
            .collect();
        assert_eq!(to_deploy.len(), 1);
        assert_eq!(to_deploy[0].from, "runner+runtime");
        // The runtime's own address is this host's too: never probed for closed ports.
        assert!(
            plan.iter()
                .all(|p| p.address != ip("192.0.2.102") || p.expected == Expect::Open)
        );
    }

    #[test]
    fn the_packaged_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config/topology.toml");
        let t = Topology::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.roles_of(&[ip("10.0.0.103")]), vec!["git", "registry"]);
        assert!(t.roles["public"].is_empty());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(err("[roles]\napi = [\"api.internal\"]\n").contains("not an IP address"));
        assert!(err("").contains("no [roles]"));
        assert!(err("[roles]\napi = [\"10.0.0.1\"]\nextra = 1\n").contains("extra"));
        assert!(
            err("[roles]\napi = [\"10.0.0.1\"]\n[[allow]]\nfrom = \"api\"\nto = \"nobody\"\nport = 1\n")
                .contains("\"nobody\"")
        );
        assert!(
            err("[roles]\napi = [\"10.0.0.1\"]\n[[allow]]\nfrom = \"api\"\nto = \"api\"\nport = 70000\n")
                .contains("not a port")
        );
        assert!(
            err("[roles]\napi = [\"10.0.0.1\"]\n[[allow]]\nfrom = \"api\"\nto = \"api\"\nport = 1\nprobe = \"udp\"\n")
                .contains("udp")
        );
        assert!(err("[roles]\n\"a b\" = [\"10.0.0.1\"]\n").contains("role name"));
        assert!(err("[roles]\napi = [\"0.0.0.0\"]\n").contains("not a host address"));
        assert!(err("[roles\n").contains("t.toml"));
    }
}
