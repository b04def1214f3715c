//! `functl up|down|status`: a whole local stack on one machine, on the embedded defaults:
//! deployd on SQLite, agentd with both roles and the embedded gateway, generated secrets,
//! all state under one directory (default `./.funai`).

pub mod down;
pub mod state;
pub mod status;
pub mod up;
