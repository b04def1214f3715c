//! The health wait of a new container: running, TCP open on its port, and a 2xx/3xx on its
//! health path when it has one; a container that exits fails at once with its last lines.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::failure::FailureCode;

use super::{Runtime, RuntimeError};
use crate::docker::ContainerInfo;

impl Runtime {
    /// A container seen failing, looked at again back to back until the engine shows a
    /// stopped run with its exit code (40 looks at most): podman may answer "not running"
    /// before it has recorded the code, and restarts a crashing container so fast that
    /// most looks see the next run (running, code 0).
    async fn exit_seen(
        &self,
        name: &str,
        mut info: ContainerInfo,
    ) -> Result<ContainerInfo, RuntimeError> {
        for _ in 0..40 {
            if !info.running && info.exit_code.is_some_and(|c| c != 0) {
                break;
            }
            match self.engine.inspect(name, &self.settings.network).await? {
                Some(again) => info = again,
                None => break,
            }
        }
        Ok(info)
    }

    /// Healthy: running, TCP open on the port, and a 2xx/3xx on `health_path` when set.
    /// A container that exits fails at once with its last lines.
    pub(super) async fn wait_healthy(
        &self,
        name: &str,
        port: u16,
        health_path: Option<&str>,
    ) -> Result<SocketAddr, RuntimeError> {
        let limit = Duration::from_secs(self.settings.health_timeout_seconds);
        let deadline = tokio::time::Instant::now() + limit;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = String::from("no address on the network yet");
        loop {
            tick.tick().await;
            let info = self
                .engine
                .inspect(name, &self.settings.network)
                .await?
                .ok_or_else(|| {
                    RuntimeError::Unhealthy(
                        FailureCode::ContainerExited,
                        format!("container {name} disappeared while starting"),
                    )
                })?;
            if !info.running || info.restart_count > 0 || info.status == "restarting" {
                let info = self.exit_seen(name, info).await?;
                let tail = self.engine.logs_tail(name, 20).await.unwrap_or_default();
                return Err(RuntimeError::Unhealthy(
                    FailureCode::ContainerExited,
                    format!(
                        "container {name} exited{} before becoming healthy; its last lines:\n{}",
                        info.exit_code
                            .filter(|c| *c != 0)
                            .map(|c| format!(" with code {c}"))
                            .unwrap_or_default(),
                        tail.trim_end()
                    ),
                ));
            }
            if let Some(ip) = info
                .ip
                .as_ref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            {
                let addr = SocketAddr::new(ip, port);
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
                {
                    Ok(Ok(_)) => match health_path {
                        None => return Ok(addr),
                        Some(path) => {
                            let url = format!("http://{addr}{path}");
                            match self.http.get(&url).send().await {
                                Ok(r) if r.status().is_success() || r.status().is_redirection() => {
                                    return Ok(addr);
                                }
                                Ok(r) => last = format!("GET {path} answered {}", r.status()),
                                Err(e) => last = format!("GET {path} failed: {e}"),
                            }
                        }
                    },
                    Ok(Err(e)) => last = format!("TCP {addr}: {e}"),
                    Err(_) => last = format!("TCP {addr}: no answer within 1 s"),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::Unhealthy(
                    FailureCode::PortNotListening,
                    format!(
                        "the app never became healthy on port {port} within {} s ({last})",
                        limit.as_secs()
                    ),
                ));
            }
        }
    }
}
