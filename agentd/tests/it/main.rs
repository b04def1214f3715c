//! agentd's integration tests against a real Docker engine, registry and sshd: the runtime, the runner, faults.
//!
//! One test binary, a module per subject: the workspace is linked once for all of them.

// Helpers outside #[test] functions too: clippy.toml's allow-unwrap-in-tests covers only
// the test functions themselves.
#![allow(clippy::unwrap_used)]

mod binary;
mod common;
mod engine_podman;
mod faults;
mod gateway_entry;
mod gateway_headers;
mod gateway_streams;
mod gateway_tls;
mod old_runner;
mod plain_http_registry;
mod runner_concurrency;
mod runner_failures;
mod runner_lifecycle;
mod runner_pipeline;
mod runtime_deploy;
mod runtime_estate;
mod runtime_handoff;
mod runtime_old_agent;
mod runtime_restart;
mod runtime_zero_downtime;
