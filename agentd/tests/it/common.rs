//! agentd's test helpers live in `testkit::agentd`, shared with the benchmarks.
#![allow(unused_imports)]

pub use testkit::agentd::*;
