//! deployd's integration tests against real components: the HTTP contract, the runner protocol, placement, replicas on a shared database, faults.
//!
//! One test binary, a module per subject: the workspace is linked once for all of them.

// Helpers outside #[test] functions too: clippy.toml's allow-unwrap-in-tests covers only
// the test functions themselves.
#![allow(clippy::unwrap_used)]

mod admin_page;
mod auth;
mod bad_input;
mod binary;
mod checks;
mod common;
mod estate_apps;
mod estate_tables;
mod faults;
mod hostile;
mod jobs_and_placement;
mod legacy_runner;
mod metrics;
mod packaging;
mod replicas;
mod route_table;
mod runner_protocol;
mod versions;
