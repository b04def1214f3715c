//! A real deployd in-process on port 0 with a temporary SQLite file, for tests and benches.

use std::sync::Arc;

use protocol::Secret;
use protocol::client::DeployClient;
use tokio_util::sync::CancellationToken;

use crate::{AppState, Settings};

pub const DEPLOY_SECRET: &str = "deploy-secret";
pub const RUNNER_TOKEN: &str = "runner-token";
pub const NODE_TOKEN: &str = "node-token";
pub const ADMIN_TOKEN: &str = "admin-token";
pub const RUNTIME_TOKEN: &str = "runtime-token";

pub struct TestDeployd {
    pub url: String,
    pub settings: Settings,
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test: fixed test secrets, a database in `dir`.
pub fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("deployd.db").display()),
        ..Settings::default()
    };
    s.auth.deploy_secret = Secret::new(DEPLOY_SECRET);
    s.auth.runner_token = Secret::new(RUNNER_TOKEN);
    s.auth.node_token = Secret::new(NODE_TOKEN);
    s.auth.admin_token = Secret::new(ADMIN_TOKEN);
    s.auth.runtime_token = Secret::new(RUNTIME_TOKEN);
    s
}

pub async fn start() -> TestDeployd {
    start_with(|_| {}).await
}

/// Starts deployd after `tweak` adjusted the test settings. Panics when it cannot start:
/// a test has nothing sensible to do then.
pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestDeployd {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut s = settings(dir.path());
    tweak(&mut s);
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .unwrap_or_else(|e| panic!("bind {}: {e}", s.listen));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local addr: {e}"));
    let shutdown = CancellationToken::new();
    let state = crate::build_state(s.clone(), shutdown.clone())
        .await
        .unwrap_or_else(|e| panic!("deployd did not start: {e:#}"));
    let handle = tokio::spawn(crate::serve_state(state.clone(), listener));
    TestDeployd {
        url: format!("http://{addr}"),
        settings: s,
        state,
        dir,
        shutdown,
        handle: Some(handle),
    }
}

impl TestDeployd {
    /// A client holding every secret.
    pub fn client(&self) -> DeployClient {
        DeployClient::new(&self.url)
            .deploy_secret(Some(Secret::new(DEPLOY_SECRET)))
            .runner_token(Some(Secret::new(RUNNER_TOKEN)))
            .node_token(Some(Secret::new(NODE_TOKEN)))
            .admin_token(Some(Secret::new(ADMIN_TOKEN)))
    }

    /// Stops the server and waits for in-flight requests to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(h) => h.await.map_err(|e| anyhow::anyhow!("deployd task: {e}"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TestDeployd {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
