//! Test helpers of the workspace, a dev-dependency only (never inside a shipped library):
//! a real deployd in-process on port 0 ([`deployd`]), the suite's services and an agentd
//! runtime and runner in-process ([`agentd`]). They hold the tests' own secrets.
//!
//! A helper that cannot set up what a test needs panics with the reason: that is the
//! test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agentd;
pub mod deployd;
