//! The one wrapper around the Docker engine. Each operation maps its failure to a named
//! error carrying the engine's own words; 404s are matched where they make an operation
//! idempotent; streams are drained to the end.

use std::collections::HashMap;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings, HostConfig,
    NetworkCreateRequest, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use protocol::Secret;
use protocol::agent::LogStream;
use protocol::failure::FailureCode;
pub use protocol::node::EngineInfo;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine: {message}")]
    Connect { message: String },
    #[error("cannot create network {name}: {message}")]
    Network { name: String, message: String },
    #[error("cannot pull image {image}: {message}")]
    PullImage { image: String, message: String },
    #[error("cannot create container {name}: {message}")]
    CreateContainer { name: String, message: String },
    #[error("cannot start container {name}: {message}")]
    StartContainer { name: String, message: String },
    #[error("cannot inspect container {name}: {message}")]
    InspectContainer { name: String, message: String },
    #[error("cannot stop container {name}: {message}")]
    StopContainer { name: String, message: String },
    #[error("cannot remove container {name}: {message}")]
    RemoveContainer { name: String, message: String },
    #[error("cannot list containers: {message}")]
    ListContainers { message: String },
    #[error("cannot read the logs of container {name}: {message}")]
    Logs { name: String, message: String },
    #[error("cannot remove image {image}: {message}")]
    RemoveImage { image: String, message: String },
    #[error("build of {tag} failed: {message}")]
    BuildImage { tag: String, message: String },
    #[error("cannot push image {image}: {message}")]
    PushImage { image: String, message: String },
    #[error("cannot read the engine's settings (info): {message}")]
    Info { message: String },
    /// The engine lacks something agentd needs; `message` says what and how to fix it.
    #[error("{message}")]
    Lacks { message: String },
}

impl DockerError {
    /// A failure of the registry (pull) rather than of the engine.
    pub fn is_registry(&self) -> bool {
        matches!(
            self,
            DockerError::PullImage { .. } | DockerError::PushImage { .. }
        ) && self.code() != FailureCode::EngineUnreachable
    }

    fn message(&self) -> &str {
        match self {
            DockerError::Connect { message }
            | DockerError::Network { message, .. }
            | DockerError::PullImage { message, .. }
            | DockerError::CreateContainer { message, .. }
            | DockerError::StartContainer { message, .. }
            | DockerError::InspectContainer { message, .. }
            | DockerError::StopContainer { message, .. }
            | DockerError::RemoveContainer { message, .. }
            | DockerError::ListContainers { message }
            | DockerError::Logs { message, .. }
            | DockerError::RemoveImage { message, .. }
            | DockerError::BuildImage { message, .. }
            | DockerError::PushImage { message, .. }
            | DockerError::Info { message }
            | DockerError::Lacks { message } => message,
        }
    }

    /// The failure code: the engine not answering, the registry's case as the engine
    /// words it, or the engine refusing.
    pub fn code(&self) -> FailureCode {
        if matches!(self, DockerError::Connect { .. }) || self.message().starts_with(ENGINE_DOWN) {
            return FailureCode::EngineUnreachable;
        }
        match self {
            DockerError::PullImage { message, .. } | DockerError::PushImage { message, .. } => {
                protocol::failure::registry_code(message)
            }
            DockerError::BuildImage { .. } => FailureCode::BuildFailed,
            _ => FailureCode::EngineFailed,
        }
    }
}

/// A registry the engine could not reach over HTTPS may speak plain HTTP (Harbor on port 80
/// at a private address, as the estate runs it): the engine, not told it is insecure, tried
/// `https://REG/v2/` and was refused. When `http://REG/v2/` (port 80, or the port the image
/// names) answers as a registry, the failure is `REGISTRY_INSECURE` with what to do;
/// otherwise it stays as it was.
pub async fn plain_http_behind_443(
    code: FailureCode,
    words: &str,
) -> (FailureCode, Option<String>) {
    if code != FailureCode::RegistryUnreachable {
        return (code, None);
    }
    let Some(refused) = protocol::failure::https_refused(words) else {
        return (code, None);
    };
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(3))
        .build()
    else {
        return (code, None);
    };
    let reg = &refused.registry;
    match client.get(format!("http://{reg}/v2/")).send().await {
        Ok(r)
            if r.headers().contains_key("docker-distribution-api-version")
                || matches!(r.status().as_u16(), 200 | 401) =>
        {
            let answers_on = match reg.rsplit_once(':') {
                Some((_, p)) if !p.ends_with(']') && p.parse::<u16>().is_ok() => {
                    format!("port {p}")
                }
                _ => "port 80".to_string(),
            };
            (
                FailureCode::RegistryInsecure,
                Some(format!(
                    "{} — registry {reg} answers plain HTTP on {answers_on} while the engine tried HTTPS on {} and was refused",
                    protocol::failure::insecure_registry_fix(reg),
                    refused.port
                )),
            )
        }
        _ => (code, None),
    }
}

/// How the words of an error begin when the engine itself did not answer (its socket is
/// gone, refused, or timed out), as opposed to the engine answering with an error.
const ENGINE_DOWN: &str = "the container engine does not answer";
/// How long a removed container may stay in the engine's list before removal fails.
const REMOVAL_CONFIRMED_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The engine's status code and own words.
fn words(e: &bollard::errors::Error) -> (Option<u16>, String) {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => (Some(*status_code), message.trim().to_string()),
        E::DockerStreamError { error } => (None, error.trim().to_string()),
        E::IOError { .. }
        | E::HyperLegacyError { .. }
        | E::SocketNotFoundError(_)
        | E::RequestTimeoutError => (None, format!("{ENGINE_DOWN}: {e}")),
        other => (None, other.to_string()),
    }
}

/// podman names a container whose process has ended `stopped` until its clean-up makes it
/// `exited` (and, with a restart policy, between every restart); the Docker API knows no
/// such state and the answer does not parse. The answer read again with `exited` in
/// `field`, when that was the trouble.
fn read_stopped_as_exited<T: serde::de::DeserializeOwned>(
    e: &bollard::errors::Error,
    field: &str,
) -> Option<T> {
    match e {
        bollard::errors::Error::JsonDataError { contents, .. }
            if contents.contains(&format!("\"{field}\":\"stopped\"")) =>
        {
            serde_json::from_str(&contents.replace(
                &format!("\"{field}\":\"stopped\""),
                &format!("\"{field}\":\"exited\""),
            ))
            .ok()
        }
        _ => None,
    }
}

fn is_404(e: &bollard::errors::Error) -> bool {
    words(e).0 == Some(404)
}

/// Registry credentials for pulls and pushes.
#[derive(Clone, Default)]
pub struct RegistryAuth {
    pub server: String,
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl RegistryAuth {
    fn credentials(&self) -> Option<DockerCredentials> {
        (!self.username.is_empty()).then(|| DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.expose().to_string()),
            serveraddress: Some(self.server.clone()),
            ..Default::default()
        })
    }
}

/// What a new app container is made of.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub network: String,
    pub nano_cpus: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub pids_limit: Option<i64>,
    pub restart_policy: crate::settings::RestartPolicy,
    pub init: bool,
}

/// What agentd needs to know of a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    pub status: String,
    pub exit_code: Option<i64>,
    /// How often the engine restarted it: above 0 means the process exited at least once.
    pub restart_count: i64,
    /// The address on `network`, when attached and running.
    pub ip: Option<String>,
    /// When it last started and last exited, and whether the kernel killed it for memory
    /// (from an inspect; a listing does not tell).
    pub started_at: Option<protocol::Timestamp>,
    pub finished_at: Option<protocol::Timestamp>,
    pub oom_killed: Option<bool>,
}

#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// Where it answers (`docker_host`, else `DOCKER_HOST`, else the local socket).
    addr: String,
}

impl Engine {
    /// Connects to the local engine and negotiates the API version (the engine may be as
    /// old as API 1.41).
    ///
    /// `host` is a `unix://` socket or a `tcp://`/`http://` address; empty means
    /// `DOCKER_HOST`, else the local Docker socket.
    pub async fn connect(host: &str) -> Result<Engine, DockerError> {
        const TIMEOUT_SECONDS: u64 = 120;
        let docker = if host.is_empty() {
            Docker::connect_with_local_defaults()
        } else if host.starts_with("unix://") {
            Docker::connect_with_unix(host, TIMEOUT_SECONDS, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, TIMEOUT_SECONDS, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::Connect {
                message: format!(
                    "docker_host {host:?} is neither unix:///path nor tcp://host:port"
                ),
            });
        }
        .map_err(|e| DockerError::Connect {
            message: format!("{host}: {}", words(&e).1),
        })?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| DockerError::Connect {
                message: words(&e).1,
            })?;
        docker.ping().await.map_err(|e| DockerError::Connect {
            message: words(&e).1,
        })?;
        let addr = match host {
            "" => std::env::var("DOCKER_HOST").unwrap_or_else(|_| "local".into()),
            h => h.to_string(),
        };
        Ok(Engine { docker, addr })
    }

    pub fn raw(&self) -> &Docker {
        &self.docker
    }

    /// Which registries this engine talks plain HTTP to: its `insecure-registries`, as its
    /// `GET /info` reports them.
    pub async fn registry_config(&self) -> Result<registry::EngineRegistries, DockerError> {
        let info = self.docker.info().await.map_err(|e| DockerError::Info {
            message: words(&e).1,
        })?;
        let config = info.registry_config.unwrap_or_default();
        let index = config
            .index_configs
            .unwrap_or_default()
            .into_iter()
            .map(|(name, i)| (name, i.secure.unwrap_or(true)));
        Ok(registry::EngineRegistries::new(
            index,
            config.insecure_registry_cidrs.unwrap_or_default(),
        ))
    }

    /// What the engine is: `docker` or `podman` (its `/version` names a `Podman Engine`
    /// component), its version, and the API version negotiated with it.
    pub async fn describe(&self) -> Result<EngineInfo, DockerError> {
        let v = self.docker.version().await.map_err(|e| DockerError::Info {
            message: words(&e).1,
        })?;
        let podman = v
            .components
            .iter()
            .flatten()
            .find(|c| c.name.starts_with("Podman"));
        Ok(EngineInfo {
            kind: if podman.is_some() { "podman" } else { "docker" }.to_string(),
            version: podman
                .map(|c| c.version.clone())
                .or(v.version)
                .unwrap_or_default(),
            api_version: self.docker.client_version().to_string(),
        })
    }

    /// Checks at start-up what agentd needs of the engine, and refuses with the fix when
    /// something is missing: API 1.41 or later, the `bridge` network driver (with
    /// `bridge`), and on podman the init binary that a container created with `init` needs
    /// (podman's `/info` does not tell it: a probe container is created and removed, once
    /// per process and engine; Docker ships its init with the engine).
    pub async fn check_needs(&self, bridge: bool, init: bool) -> Result<EngineInfo, DockerError> {
        let info = self.describe().await?;
        let api = self.docker.client_version();
        if (api.major_version, api.minor_version) < (1, 41) {
            return Err(DockerError::Lacks {
                message: format!(
                    "the {} engine {} speaks Docker API {api}; agentd needs 1.41 or later: upgrade it (Debian bookworm's docker.io or podman)",
                    info.kind, info.version
                ),
            });
        }
        if bridge {
            let plugins = self.docker.info().await.map_err(|e| DockerError::Info {
                message: words(&e).1,
            })?;
            let drivers = plugins.plugins.and_then(|p| p.network).unwrap_or_default();
            if !drivers.iter().any(|d| d == "bridge") {
                let fix = if info.kind == "podman" {
                    "apt install netavark aardvark-dns (or containernetworking-plugins) and set network_backend in /etc/containers/containers.conf"
                } else {
                    "start dockerd without --bridge=none"
                };
                return Err(DockerError::Lacks {
                    message: format!(
                        "the {} engine has no bridge network driver (it has: {}), which agentd's app network needs: {fix}",
                        info.kind,
                        if drivers.is_empty() {
                            "none".to_string()
                        } else {
                            drivers.join(", ")
                        }
                    ),
                });
            }
        }
        if init && info.kind == "podman" {
            self.check_podman_init().await?;
        }
        Ok(info)
    }

    /// Creates (never starts) a container with `init` from an empty imported image, and
    /// removes both: podman refuses the create when its init binary is missing.
    async fn check_podman_init(&self) -> Result<(), DockerError> {
        static PASSED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let host = self.addr.clone();
        if PASSED.lock().map(|p| p.contains(&host)).unwrap_or(false) {
            return Ok(());
        }
        let unique = format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let image = format!("funai-agentd-probe-{unique}");
        let lacks = |what: &str, e: &bollard::errors::Error| DockerError::Lacks {
            message: format!(
                "cannot check podman's container-init binary ({what}): {}",
                words(e).1
            ),
        };
        // An empty root file system: a tar of nothing (its end-of-archive blocks).
        let opts = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(image.clone()),
            ..Default::default()
        };
        let root = bollard::body_full(bytes::Bytes::from(vec![0u8; 10240]));
        let mut stream = self.docker.create_image(Some(opts), Some(root), None);
        let mut id = None;
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| lacks("import of an empty image", &e))?;
            if let Some(err) = item.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Lacks {
                    message: format!(
                        "cannot check podman's container-init binary (import of an empty image): {err}"
                    ),
                });
            }
            id = id.or(item.id);
        }
        let image_ref = id.unwrap_or_else(|| image.clone());
        let name = format!("funai-agentd-probe-{unique}");
        let body = ContainerCreateBody {
            image: Some(image_ref.clone()),
            cmd: Some(vec!["/probe".into()]),
            host_config: Some(HostConfig {
                init: Some(true),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let created = self.docker.create_container(Some(opts), body).await;
        if created.is_ok() {
            let _ = self.remove(&name).await;
        }
        let _ = self.remove_image(&image_ref).await;
        match created {
            Ok(_) => {
                if let Ok(mut p) = PASSED.lock() {
                    p.push(host);
                }
                Ok(())
            }
            Err(e) => {
                let said = words(&e).1;
                if said.contains("container-init") || said.contains("init binary") {
                    Err(DockerError::Lacks {
                        message: format!(
                            "podman cannot find its container-init binary, which app containers (runtime.init = true) need: apt install catatonit (or set init_path in /etc/containers/containers.conf); podman said: {said}"
                        ),
                    })
                } else {
                    Err(lacks("create of a container with init", &e))
                }
            }
        }
    }

    pub async fn ensure_network(&self, name: &str) -> Result<(), DockerError> {
        // An engine before API 1.44 creates a second network of the same name when two
        // agents ask at once, and then every use of the name is ambiguous: one at a time in
        // this process, and the younger twins of another's removed below.
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = ONE_AT_A_TIME.lock().await;
        let err = |e: bollard::errors::Error| DockerError::Network {
            name: name.into(),
            message: words(&e).1,
        };
        let mut same = self.networks_named(name).await.map_err(err)?;
        if same.is_empty() {
            let req = NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from([(
                    "funai.managed".to_string(),
                    "agentd".to_string(),
                )])),
                ..Default::default()
            };
            match self.docker.create_network(req).await {
                Ok(_) => {}
                // Created concurrently by another agent on an engine that refuses twins.
                Err(e) if words(&e).0 == Some(409) => {}
                Err(e) => return Err(err(e)),
            }
            same = self.networks_named(name).await.map_err(err)?;
        }
        // The oldest stays; a twin nothing is attached to goes.
        for (id, _) in same.iter().skip(1) {
            match self.docker.remove_network(id).await {
                Ok(()) => {
                    tracing::warn!(network = %name, id = %id, "removed a second network of the same name")
                }
                Err(e) => {
                    tracing::warn!(network = %name, id = %id, error = %words(&e).1, "two networks have this name and the younger cannot be removed: remove it by hand (docker network rm ID)")
                }
            }
        }
        Ok(())
    }

    /// The networks called exactly `name`, oldest first, as (id, created).
    async fn networks_named(
        &self,
        name: &str,
    ) -> Result<Vec<(String, String)>, bollard::errors::Error> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let opts = bollard::query_parameters::ListNetworksOptions {
            filters: Some(filters),
        };
        let mut v: Vec<(String, String)> = self
            .docker
            .list_networks(Some(opts))
            .await?
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| Some((n.id?, n.created.unwrap_or_default())))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        Ok(v)
    }

    /// Pulls `image`, draining the progress stream; an image already present whose pull
    /// fails is still an error (the registry is the source of truth).
    pub async fn pull(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<(), DockerError> {
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        let creds = auth.and_then(RegistryAuth::credentials);
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::PullImage {
                            image: image.into(),
                            message: err,
                        });
                    }
                }
                Err(e) => {
                    return Err(DockerError::PullImage {
                        image: image.into(),
                        message: words(&e).1,
                    });
                }
            }
        }
        Ok(())
    }

    /// True when the engine holds `image`.
    pub async fn has_image(&self, image: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_404(&e) => Ok(false),
            Err(e) => Err(DockerError::PullImage {
                image: image.into(),
                message: words(&e).1,
            }),
        }
    }

    pub async fn create_and_start(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        use crate::settings::RestartPolicy as Policy;
        let policy = match spec.restart_policy {
            Policy::Always => RestartPolicyNameEnum::ALWAYS,
            Policy::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
            Policy::No => RestartPolicyNameEnum::NO,
            Policy::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                nano_cpus: spec.nano_cpus,
                memory: spec.memory_bytes,
                pids_limit: spec.pids_limit,
                init: Some(spec.init),
                restart_policy: Some(RestartPolicy {
                    name: Some(policy),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            // API 1.41 takes exactly one network at create time.
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings::default(),
                )])),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| DockerError::CreateContainer {
                name: spec.name.clone(),
                message: words(&e).1,
            })?;
        if let Err(e) = self
            .docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            let message = words(&e).1;
            let _ = self.remove(&spec.name).await;
            return Err(DockerError::StartContainer {
                name: spec.name.clone(),
                message,
            });
        }
        Ok(created.id)
    }

    pub async fn inspect(
        &self,
        name: &str,
        network: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        match self
            .docker
            .inspect_container(
                name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => Ok(Some(info_from_inspect(c, network))),
            Err(e) if is_404(&e) => Ok(None),
            Err(e) => match read_stopped_as_exited(&e, "Status") {
                Some(c) => Ok(Some(info_from_inspect(c, network))),
                None => Err(DockerError::InspectContainer {
                    name: name.into(),
                    message: words(&e).1,
                }),
            },
        }
    }

    /// Stops a container; gone already is fine.
    pub async fn stop(&self, name: &str, grace_seconds: i32) -> Result<(), DockerError> {
        let opts = StopContainerOptions {
            t: Some(grace_seconds),
            ..Default::default()
        };
        match self.docker.stop_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) || words(&e).0 == Some(304) => Ok(()),
            Err(e) => Err(DockerError::StopContainer {
                name: name.into(),
                message: words(&e).1,
            }),
        }
    }

    /// Removes a container (forcefully) and answers once it is gone; gone already is fine.
    /// An engine may answer a removal before the container has left its list, or refuse it
    /// as a conflict (podman with a removal of its own under way, or restarting a container
    /// that exited): the container is looked up after each removal, and removed again while
    /// it is still there.
    pub async fn remove(&self, name: &str) -> Result<(), DockerError> {
        let deadline = std::time::Instant::now() + REMOVAL_CONFIRMED_WITHIN;
        loop {
            self.remove_once(name).await?;
            let gone = matches!(
                self.docker
                    .inspect_container(
                        name,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await,
                Err(ref e) if is_404(e)
            );
            if gone {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(DockerError::RemoveContainer {
                    name: name.into(),
                    message: format!(
                        "still there {} s after its removal was answered",
                        REMOVAL_CONFIRMED_WITHIN.as_secs()
                    ),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn remove_once(&self, name: &str) -> Result<(), DockerError> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_404(&e) => Ok(()),
            // A conflict (a removal already in progress, a restart under way): the caller
            // looks whether the container is gone, and removes it again if not.
            Err(e) if words(&e).0 == Some(409) => Ok(()),
            Err(e) => Err(DockerError::RemoveContainer {
                name: name.into(),
                message: words(&e).1,
            }),
        }
    }

    /// Every container (running or not) carrying `label`, optionally `label=value`.
    pub async fn list_by_label(
        &self,
        label: &str,
        network: &str,
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = match self.docker.list_containers(Some(opts)).await {
            Ok(list) => list,
            Err(e) => {
                read_stopped_as_exited(&e, "State").ok_or_else(|| DockerError::ListContainers {
                    message: words(&e).1,
                })?
            }
        };
        Ok(list
            .into_iter()
            .map(|c| info_from_summary(c, network))
            .collect())
    }

    /// What happens to the containers carrying `label` from now on, as (container name,
    /// action: `start`, `die`, `destroy`, ...), for as long as the engine streams it. An
    /// error ends the stream (the engine restarted, the socket went).
    pub fn container_events(
        &self,
        label: &str,
    ) -> impl futures_util::Stream<Item = Result<(String, String), String>> + Send + use<> {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![label.to_string()]),
        ]);
        let opts = bollard::query_parameters::EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        self.docker.events(Some(opts)).filter_map(|ev| {
            std::future::ready(match ev {
                Err(e) => Some(Err(words(&e).1)),
                Ok(m) => {
                    let action = m.action.unwrap_or_default();
                    // podman and older engines say `died`, `remove`; one name each here.
                    let action = match action.as_str() {
                        "died" => "die".to_string(),
                        "remove" => "destroy".to_string(),
                        _ => action,
                    };
                    m.actor
                        .and_then(|a| a.attributes)
                        .and_then(|mut at| at.remove("name"))
                        .map(|name| Ok((name, action)))
                }
            })
        })
    }

    /// The last `tail` lines of a container's output.
    pub async fn logs_tail(&self, name: &str, tail: u32) -> Result<String, DockerError> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.to_string(),
            ..Default::default()
        };
        let mut out = String::new();
        let mut stream = self.docker.logs(name, Some(opts));
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) => {
                    return Err(DockerError::Logs {
                        name: name.into(),
                        message: words(&e).1,
                    });
                }
            }
        }
        Ok(out)
    }

    /// A container's output as the engine streams it, stdout and stderr apart: the last
    /// `tail` chunks (all when `None`) written since `since` (Unix seconds), then, with
    /// `follow`, new output until the container stops. Dropping the stream ends the
    /// engine's request.
    pub fn logs_stream(
        &self,
        name: &str,
        tail: Option<u64>,
        since: Option<i64>,
        follow: bool,
    ) -> impl futures_util::Stream<Item = Result<(LogStream, bytes::Bytes), DockerError>> + Send + use<>
    {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            follow,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            since: since.map_or(0, |s| s.clamp(0, i64::from(i32::MAX)) as i32),
            ..Default::default()
        };
        let name = name.to_string();
        self.docker
            .logs(&name, Some(opts))
            .map(move |item| match item {
                Ok(LogOutput::StdErr { message }) => Ok((LogStream::Stderr, message)),
                Ok(
                    LogOutput::StdOut { message }
                    | LogOutput::Console { message }
                    | LogOutput::StdIn { message },
                ) => Ok((LogStream::Stdout, message)),
                Err(e) => Err(DockerError::Logs {
                    name: name.clone(),
                    message: words(&e).1,
                }),
            })
    }

    /// Removes an image; gone already or still used by another container is fine.
    pub async fn remove_image(&self, image: &str) -> Result<bool, DockerError> {
        let opts = RemoveImageOptions {
            force: false,
            noprune: false,
            ..Default::default()
        };
        match self.docker.remove_image(image, Some(opts), None).await {
            Ok(_) => Ok(true),
            Err(e) if is_404(&e) || words(&e).0 == Some(409) => Ok(false),
            Err(e) => Err(DockerError::RemoveImage {
                image: image.into(),
                message: words(&e).1,
            }),
        }
    }
}

impl Engine {
    /// Builds `tag` with the classic builder from a tar of the context; every output line
    /// goes to `on_line` as it arrives.
    pub async fn build(
        &self,
        context_tar: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        on_line: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let whole = futures_util::stream::once(async move {
            Ok::<_, std::io::Error>(bytes::Bytes::from(context_tar))
        });
        self.build_streamed(whole, dockerfile, tag, on_line).await
    }

    /// As [`Engine::build`], the context tar arriving as a stream that the engine reads as
    /// it goes (a large context is never held whole).
    pub async fn build_streamed(
        &self,
        context_tar: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>>
        + Send
        + 'static,
        dockerfile: &str,
        tag: &str,
        mut on_line: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let opts = bollard::query_parameters::BuildImageOptions {
            dockerfile: dockerfile.to_string(),
            t: Some(tag.to_string()),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut stream =
            self.docker
                .build_image(opts, None, Some(bollard::body_try_stream(context_tar)));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(line) = info.stream.as_deref() {
                        on_line(line);
                    }
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::BuildImage {
                            tag: tag.into(),
                            message: err,
                        });
                    }
                }
                Err(e) => {
                    return Err(DockerError::BuildImage {
                        tag: tag.into(),
                        message: words(&e).1,
                    });
                }
            }
        }
        Ok(())
    }

    /// Pushes `image` (`repo:tag`), draining the progress stream; `on_line` gets each status.
    pub async fn push(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        mut on_line: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let (repo, tag) = match image.rfind(':') {
            Some(i) if !image[i..].contains('/') => (&image[..i], Some(image[i + 1..].to_string())),
            _ => (image, None),
        };
        let opts = bollard::query_parameters::PushImageOptions {
            tag,
            ..Default::default()
        };
        let creds = auth.and_then(RegistryAuth::credentials);
        let mut stream = self.docker.push_image(repo, Some(opts), creds);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::PushImage {
                            image: image.into(),
                            message: err,
                        });
                    }
                    if let Some(st) = info.status.as_deref() {
                        on_line(st);
                    }
                }
                Err(e) => {
                    return Err(DockerError::PushImage {
                        image: image.into(),
                        message: words(&e).1,
                    });
                }
            }
        }
        Ok(())
    }
}

fn info_from_inspect(c: ContainerInspectResponse, network: &str) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    let ip = c
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut m| m.remove(network))
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty());
    let config = c.config.unwrap_or_default();
    let restart_count = c.restart_count.unwrap_or(0);
    let image = config
        .labels
        .as_ref()
        .and_then(|l| l.get("funai.image").cloned())
        .or(config.image)
        .unwrap_or_default();
    ContainerInfo {
        restart_count,
        started_at: engine_time(state.started_at.as_deref()),
        finished_at: engine_time(state.finished_at.as_deref()),
        oom_killed: state.oom_killed,
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image,
        labels: config.labels.unwrap_or_default(),
        running,
        status: state.status.map(|s| s.to_string()).unwrap_or_default(),
        exit_code: state.exit_code,
        ip,
    }
}

fn info_from_summary(c: ContainerSummary, network: &str) -> ContainerInfo {
    let running = c.state.map(|s| s.to_string() == "running").unwrap_or(false);
    let ip = c
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut m| m.remove(network))
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty());
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c
            .labels
            .as_ref()
            .and_then(|l| l.get("funai.image").cloned())
            .or(c.image)
            .unwrap_or_default(),
        labels: c.labels.unwrap_or_default(),
        running,
        status: c.status.unwrap_or_default(),
        exit_code: None,
        restart_count: 0,
        ip,
        started_at: None,
        finished_at: None,
        oom_killed: None,
    }
}

/// A time the engine gave; its zero time (`0001-01-01T00:00:00Z`) means never.
fn engine_time(text: Option<&str>) -> Option<protocol::Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(text?).ok()?;
    (chrono::Datelike::year(&t) > 1).then(|| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerInspectResponse, ContainerSummary};

    fn unparsed(contents: &str) -> bollard::errors::Error {
        bollard::errors::Error::JsonDataError {
            message: "unknown variant `stopped`".into(),
            contents: contents.into(),
            column: 0,
        }
    }

    #[test]
    fn podmans_stopped_container_reads_as_exited_with_its_code() {
        let e = unparsed(
            r#"{"Id":"abc","Name":"/rt-u-1-a","RestartCount":2,"State":{"Status":"stopped","Running":false,"ExitCode":3}}"#,
        );
        let c: ContainerInspectResponse = super::read_stopped_as_exited(&e, "Status").unwrap();
        let info = super::info_from_inspect(c, "funai-runtime-net");
        assert!(!info.running);
        assert_eq!(info.status, "exited");
        assert_eq!(info.exit_code, Some(3));
        assert_eq!(info.restart_count, 2);

        let e = unparsed(r#"[{"Id":"abc","Names":["/rt-u-1-a"],"State":"stopped"}]"#);
        let list: Vec<ContainerSummary> = super::read_stopped_as_exited(&e, "State").unwrap();
        assert_eq!(list.len(), 1);
        assert!(!super::info_from_summary(list[0].clone(), "n").running);
    }

    #[test]
    fn another_unparsed_answer_stays_an_error() {
        let e = unparsed(r#"{"State":{"Status":"frozen"}}"#);
        assert!(super::read_stopped_as_exited::<ContainerInspectResponse>(&e, "Status").is_none());
    }
}
