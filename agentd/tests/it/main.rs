//! agentd's integration tests against a real Docker engine, registry and sshd: the runtime, the runner, faults.
mod binary;
mod common;
mod faults;
mod plain_http_registry;
mod runner_concurrency;
mod runner_failures;
mod runner_lifecycle;
mod runner_pipeline;
mod runtime_deploy;
mod runtime_estate;
mod runtime_restart;
mod runtime_zero_downtime;
