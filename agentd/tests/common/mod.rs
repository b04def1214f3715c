//! agentd's test helpers live in `agentd::testing`, shared with the benchmarks.
#![allow(unused_imports)]

pub use agentd::testing::*;
