//! The local container engine's insecure-registries (`GET /info`), for the registry commands:
//! a registry the engine talks plain HTTP to speaks plain HTTP to functl as well.

use std::time::Duration;

use registry::EngineRegistries;

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The engine at `DOCKER_HOST` (else the local Docker socket), when one answers within a
/// moment; `None` otherwise: many operators' machines run no engine at all.
pub async fn registries() -> Option<EngineRegistries> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty());
    let builder = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3));
    let (client, url) = match host.as_deref() {
        None => {
            if !std::path::Path::new(DEFAULT_SOCKET).exists() {
                return None;
            }
            (
                builder.unix_socket(DEFAULT_SOCKET),
                "http://engine/info".to_string(),
            )
        }
        Some(h) => match h.strip_prefix("unix://") {
            Some(path) => (builder.unix_socket(path), "http://engine/info".to_string()),
            // TLS to a remote engine needs its client certificates: not read here.
            None if std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty()) => {
                return None;
            }
            None => {
                let addr = h
                    .strip_prefix("tcp://")
                    .or_else(|| h.strip_prefix("http://"))?;
                (
                    builder,
                    format!("http://{}/info", addr.trim_end_matches('/')),
                )
            }
        },
    };
    let info: serde_json::Value = client
        .build()
        .ok()?
        .get(url)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    Some(EngineRegistries::from_registry_config(
        &info["RegistryConfig"],
    ))
}
