//! deployd's integration tests against real components: the HTTP contract, the runner protocol, placement, replicas on a shared database, faults.
mod admin_page;
mod auth;
mod bad_input;
mod binary;
mod checks;
mod common;
mod estate_apps;
mod faults;
mod hostile;
mod jobs_and_placement;
mod metrics;
mod packaging;
mod replicas;
mod runner_protocol;
mod versions;
