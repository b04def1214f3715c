//! agentd: the node daemon. The runner role claims and executes jobs; the runtime role runs
//! app containers and routes the gateway (DESIGN §3.2, §3.3).

pub mod settings;

pub use settings::Settings;
