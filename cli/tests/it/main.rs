//! functl's tests: the commands against a real local stack, the generated docs, the connectivity matrix in network namespaces.
//!
//! One test binary, a module per subject: the workspace is linked once for all of them.

// Helpers outside #[test] functions too: clippy.toml's allow-unwrap-in-tests covers only
// the test functions themselves.
#![allow(clippy::unwrap_used)]

mod app_logs;
mod check_matrix;
mod cli;
mod contexts;
mod docs;
mod doctor;
mod lab;
mod operator;
mod pipeline;
mod registry_http;
mod scripting;
mod secrets;
mod stack;
mod tmux;
