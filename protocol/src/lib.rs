//! The wire contract of the Fun AI Studio release path, shared by deployd, agentd and
//! functl: wire types, the envelope, failure codes, validation, the check reports, and the
//! typed HTTP clients that speak them. The registry client, the probes and the daemons'
//! plumbing are crates of their own (`registry`, `probe`, `daemon`).

pub mod agent;
pub mod app;
pub mod check;
pub mod client;
pub mod config;
pub mod envelope;
pub mod failure;
pub mod job;
pub mod metrics;
pub mod node;
pub mod runner;
pub mod secret;
pub mod template;
pub mod validate;

pub use envelope::Envelope;
pub use secret::Secret;

/// Header names of the estate, spelled as the existing services spell them.
pub mod headers {
    pub const DEPLOY_SECRET: &str = "X-DEPLOY-SECRET";
    pub const RUNNER_TOKEN: &str = "X-Runner-Token";
    pub const NODE_TOKEN: &str = "X-RT-Node-Token";
    pub const ADMIN_TOKEN: &str = "X-Admin-Token";
    pub const RUNTIME_TOKEN: &str = "X-Runtime-Token";
}

/// Timestamps on the wire are RFC 3339 in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
