//! The connectivity checks of DESIGN §7 as an engine: the built-in security-group matrix, the
//! topology file, this host's addresses, and the probes (TCP, health, registry, SSH with
//! libssh2). What the probes find travels as `protocol::check` reports.

mod engine;
pub mod host;
pub mod matrix;
pub mod ssh;
pub mod topology;

pub use engine::{ProbeOptions, probe, run};
pub use matrix::{Rule, role};
pub use ssh::{HostKeyVerdict, KnownHostsFile, SshOptions, ssh_probe};
pub use topology::{DEFAULT_TOPOLOGY_PATH, Target, Topology, TopologyError};
