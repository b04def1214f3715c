//! The deploy switch without downtime, as named steps each logged: pull, start new, wait
//! healthy, switch the route, drain old, remove old. A new container that never gets
//! healthy is removed and the old one keeps serving. A deploy whose base path another app
//! of this node holds is refused before the pull.
//!
//! The steps run in a task of their own: a caller that stops waiting (the estate's runner
//! gives up after 30 s) does not stop a deploy halfway. Each ends switched or rolled back,
//! and says so in the log whether or not anyone still listens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::agent::{DeployAppAnswer, DeployAppRequest};
use protocol::failure::FailureCode;

use super::flight::{self, DeployRun, DeploySpec, DeployTurn, Outcome};
use super::{Runtime, RuntimeError, check_ids, container_labels, container_prefix, mongo_db_name};
use crate::docker::{ContainerSpec, RegistryAuth};
use crate::gateway::Backend;
use crate::settings::{GatewayKind, PullPolicy};

/// How long Traefik gets to report a new container's router.
const TRAEFIK_WAIT: Duration = Duration::from_secs(10);

impl Runtime {
    /// Pull, start new, wait healthy, switch, drain old, remove old, in a task that goes on
    /// when the caller stops waiting; answers its result. The same deploy asked again while
    /// it runs gets that result too; another deploy of the app is refused as in flight.
    pub async fn deploy(self: &Arc<Self>, req: DeployAppRequest) -> Outcome {
        let app = req.app_id.clone();
        let turn = validate_deploy(&req, &self.settings.base_path_template).and_then(|plan| {
            let spec = DeploySpec::new(&req, plan.port, &plan.base_path);
            Ok((self.flights.deploy(&app, spec)?, plan))
        });
        let result = match turn {
            Err(e) => {
                // Not yet checked: the caller's words, quoted.
                tracing::warn!(app = ?req.app_id, user = ?req.user_id, image = ?req.image, code = e.code().as_str(), error = %e, "deploy refused");
                return Err(Arc::new(e));
            }
            Ok((DeployTurn::Join(result), _)) => {
                tracing::info!(app = %app, user = %req.user_id, image = %req.image, "deploy: the same deploy is in flight, waiting for its result");
                result
            }
            Ok((DeployTurn::Run(run), plan)) => {
                let result = run.subscribe();
                tokio::spawn(self.clone().deploy_task(req, plan, run));
                result
            }
        };
        flight::outcome(result, &app).await
    }

    /// One deploy to its end, counted for `/metrics`, logged, and its result handed to
    /// every caller still waiting.
    async fn deploy_task(self: Arc<Self>, req: DeployAppRequest, plan: DeployPlan, run: DeployRun) {
        let t0 = Instant::now();
        let r = match self.deploy_steps(&req, &plan).await {
            Err(e) => Err(explained(e).await),
            ok => ok,
        };
        self.metrics.deploy_ended(&r, t0.elapsed());
        let outcome = r.map_err(Arc::new);
        let waiting = run.publish(outcome.clone());
        let (app, user, image) = (&req.app_id, &req.user_id, &req.image);
        match (&outcome, waiting) {
            (Ok(ans), 0) => {
                tracing::info!(app = %app, user = %user, image = %image, container = %ans.container_name, "deployed after its caller left")
            }
            (Ok(_), _) => {}
            (Err(e), 0) => {
                tracing::warn!(app = %app, user = %user, image = %image, code = e.code().as_str(), error = %e, "deploy failed after its caller left")
            }
            (Err(e), _) => {
                tracing::warn!(app = %app, user = %user, image = %image, code = e.code().as_str(), error = %e, "deploy failed")
            }
        }
    }

    async fn deploy_steps(
        &self,
        req: &DeployAppRequest,
        plan: &DeployPlan,
    ) -> Result<DeployAppAnswer, RuntimeError> {
        let started = Instant::now();
        let app = req.app_id.as_str();
        self.check_path_free(app, &plan.base_path).await?;
        self.pull(req).await?;
        let name = self.start_new(req, plan).await?;
        let addr = self.wait_new_healthy(req, plan, &name).await?;
        if let Err(e) = self.traefik_routes(app).await {
            tracing::warn!(app = %app, container = %name, error = %e, "deploy: Traefik does not route the app, removing the new container; the old one keeps serving");
            if let Err(rm) = self.engine.remove(&name).await {
                tracing::error!(container = %name, error = %rm, "cannot remove the new container");
            }
            return Err(e);
        }
        let old = self.switch_route(app, plan, &name, addr).await;
        self.drain_old(app, &name, &old).await;
        self.remove_old(app, &name).await;
        self.beat_soon();
        tracing::info!(app = %app, container = %name, elapsed_ms = started.elapsed().as_millis() as u64, "deployed");
        Ok(DeployAppAnswer {
            app_id: req.app_id.clone(),
            container_name: name,
            status: "DEPLOYED".into(),
            preview_url: format!(
                "{}{}/",
                self.settings.gateway_base_url.trim_end_matches('/'),
                plan.base_path
            ),
        })
    }

    /// Pulls the image, unless it is present and the node pulls only what is missing.
    async fn pull(&self, req: &DeployAppRequest) -> Result<(), RuntimeError> {
        if self.settings.pull == PullPolicy::IfMissing && self.engine.has_image(&req.image).await? {
            tracing::info!(app = %req.app_id, image = %req.image, "deploy: image present, no pull");
            return Ok(());
        }
        tracing::info!(app = %req.app_id, image = %req.image, "deploy: pull");
        self.engine
            .pull(&req.image, self.registry_auth(&req.image).as_ref())
            .await
            .map_err(plain_http_pull)?;
        Ok(())
    }

    /// Starts `rt-u-{userId}-{appId}-{shortId}` beside the one serving; answers its name.
    async fn start_new(
        &self,
        req: &DeployAppRequest,
        plan: &DeployPlan,
    ) -> Result<String, RuntimeError> {
        let s = &self.settings;
        let name = format!(
            "{}-{}",
            container_prefix(&req.user_id, &req.app_id),
            short_id()
        );
        let spec = ContainerSpec {
            name: name.clone(),
            image: req.image.clone(),
            env: self.container_env(req),
            labels: container_labels(&s.node_name, &s.network, req, &plan.base_path),
            network: s.network.clone(),
            nano_cpus: (s.cpus > 0.0).then_some((s.cpus * 1e9) as i64),
            memory_bytes: (s.memory_mb > 0).then(|| s.memory_mb * 1024 * 1024),
            pids_limit: (s.pids_limit > 0).then_some(s.pids_limit),
            restart_policy: s.restart_policy,
            init: s.init,
        };
        tracing::info!(app = %req.app_id, container = %name, "deploy: start new");
        self.engine.create_and_start(&spec).await?;
        Ok(name)
    }

    /// Waits for the new container; one that never gets healthy is removed and the old one
    /// keeps serving.
    async fn wait_new_healthy(
        &self,
        req: &DeployAppRequest,
        plan: &DeployPlan,
        name: &str,
    ) -> Result<SocketAddr, RuntimeError> {
        tracing::info!(app = %req.app_id, container = %name, "deploy: wait healthy");
        match self
            .wait_healthy(name, plan.port, req.health_path.as_deref())
            .await
        {
            Ok(a) => Ok(a),
            Err(e) => {
                tracing::warn!(app = %req.app_id, container = %name, error = %e, "deploy: new container unhealthy, removing it; the old one keeps serving");
                if let Err(rm) = self.engine.remove(name).await {
                    tracing::error!(container = %name, error = %rm, "cannot remove the unhealthy container");
                }
                Err(e)
            }
        }
    }

    /// With Traefik as the gateway and its API configured: waits until Traefik reports the
    /// app's router (`rt-app-{appId}` of its docker provider) enabled. A Traefik that does
    /// not see the container (another engine, another network, a provider turned off) is
    /// `ROUTE_NOT_ANSWERING`, not a deploy that silently serves nothing.
    async fn traefik_routes(&self, app: &str) -> Result<(), RuntimeError> {
        let g = &self.settings.gateway;
        if g.kind != GatewayKind::Traefik || g.traefik_api.is_empty() {
            return Ok(());
        }
        let api = g.traefik_api.trim_end_matches('/');
        let router = format!("rt-app-{app}@docker");
        let url = format!("{api}/api/http/routers/{router}");
        tracing::info!(app = %app, %router, "deploy: ask Traefik for the route");
        let deadline = tokio::time::Instant::now() + TRAEFIK_WAIT;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let last = loop {
            tick.tick().await;
            let seen = match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => match r.json::<serde_json::Value>().await {
                    Ok(v) if v["status"] == "enabled" => return Ok(()),
                    Ok(v) => format!("its router {router} is {}", v["status"]),
                    Err(e) => format!("its answer is unreadable: {e}"),
                },
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
                    format!("it has no router {router}")
                }
                Ok(r) => format!("its API answered {}", r.status()),
                Err(e) => format!("its API does not answer: {e}"),
            };
            if tokio::time::Instant::now() >= deadline {
                break seen;
            }
        };
        Err(RuntimeError::Unhealthy(
            FailureCode::RouteNotAnswering,
            format!(
                "Traefik at {api} does not route app {app} after {} s: {last}; check that Traefik's docker provider watches this engine and that Traefik is on network {}",
                TRAEFIK_WAIT.as_secs(),
                self.settings.network
            ),
        ))
    }

    /// Routes the app's path to the new container at once and writes it in the route book;
    /// answers the backends that served before.
    async fn switch_route(
        &self,
        app: &str,
        plan: &DeployPlan,
        name: &str,
        addr: SocketAddr,
    ) -> Vec<Arc<Backend>> {
        tracing::info!(app = %app, container = %name, "deploy: switch route");
        let backend = Backend::new(app, name, addr);
        let old = self.gateway.switch_app(app, &plan.base_path, backend);
        let mut book = self.book.lock().await;
        book.set(app, name, false);
        book.save();
        old
    }

    /// Lets the requests in flight on the old backends finish, up to `drain_timeout_seconds`.
    async fn drain_old(&self, app: &str, name: &str, old: &[Arc<Backend>]) {
        let drain = Duration::from_secs(self.settings.drain_timeout_seconds);
        for old in old.iter().filter(|b| b.container != name) {
            tracing::info!(app = %app, container = %old.container, inflight = old.inflight(), "deploy: drain old");
            if !old.wait_idle(drain).await {
                tracing::warn!(container = %old.container, inflight = old.inflight(), "drain deadline passed: cutting what is still open on it");
                old.cut();
            }
        }
    }

    /// Stops and removes every other container of the app. The new one serves already: one
    /// the engine does not remove now is said and left to the next deploy of the app or to
    /// adoption at restart, and the deploy stands.
    async fn remove_old(&self, app: &str, name: &str) {
        let left = |container: &str, e: &RuntimeError| {
            tracing::warn!(app = %app, container = %container, error = %e, "deploy: an old container is left; the new one serves, the next deploy or a restart of agentd removes it");
        };
        let containers = match self.app_containers(app).await {
            Ok(cs) => cs,
            Err(e) => return left("(cannot list them)", &e),
        };
        for c in containers.iter().filter(|c| c.name != name) {
            tracing::info!(app = %app, container = %c.name, "deploy: remove old");
            let removed = async {
                self.engine
                    .stop(&c.name, self.settings.stop_grace_seconds as i32)
                    .await?;
                self.engine.remove(&c.name).await
            };
            if let Err(e) = removed.await {
                left(&c.name, &e.into());
            }
        }
    }

    /// The job's env, and the Mongo variables where the job sets none of its own. No
    /// `PORT`: the image listens on `containerPort` (the estate's contract).
    fn container_env(&self, req: &DeployAppRequest) -> Vec<String> {
        let mut env: BTreeMap<String, String> = req.env.clone().unwrap_or_default();
        if let Some(m) = &self.settings.mongo {
            let db = mongo_db_name(&req.user_id, &req.app_id);
            let base = m.url.expose().trim_end_matches('/');
            let uri = if m.options.is_empty() {
                format!("{base}/{db}")
            } else {
                format!("{base}/{db}?{}", m.options)
            };
            for (k, v) in [
                ("MONGODB_URI", uri.clone()),
                ("MONGO_URL", uri),
                ("FUNAI_MONGO_DB_NAME", db),
            ] {
                env.entry(k.into()).or_insert(v);
            }
        }
        env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    fn registry_auth(&self, image: &str) -> Option<RegistryAuth> {
        let s = &self.settings;
        if s.registry_username.is_empty() {
            return None;
        }
        let parsed = protocol::validate::ImageRef::parse(image).ok()?;
        (parsed.registry.as_deref() == Some(s.registry.as_str())).then(|| RegistryAuth {
            server: s.registry.clone(),
            username: s.registry_username.clone(),
            password: s.registry_password.clone(),
        })
    }
}

/// A pull refused on 443 by a registry that answers plain HTTP says so, with what to do:
/// the caller and the log get the same words.
async fn explained(e: RuntimeError) -> RuntimeError {
    let words = e.to_string();
    match crate::docker::plain_http_behind_443(e.code(), &words).await {
        (code, Some(hint)) => RuntimeError::Registry(code, format!("{hint} ({words})")),
        (_, None) => e,
    }
}

/// A pull refused because the registry speaks plain HTTP says what to do on this node. (A
/// refused 443 is probed by [`explained`], which then knows the registry answers on 80.)
fn plain_http_pull(e: crate::docker::DockerError) -> crate::docker::DockerError {
    use crate::docker::DockerError;
    match e {
        DockerError::PullImage { image, message }
            if protocol::failure::registry_code(&message) == FailureCode::RegistryInsecure =>
        {
            let reg = protocol::validate::ImageRef::parse(&image)
                .ok()
                .and_then(|r| r.registry)
                .unwrap_or_else(|| "the registry".into());
            DockerError::PullImage {
                message: format!(
                    "{} ({message})",
                    protocol::failure::insecure_registry_fix(&reg)
                ),
                image,
            }
        }
        other => other,
    }
}

fn short_id() -> String {
    use rand::Rng;
    let n: u32 = rand::rng().random();
    format!("{n:08x}")
}

struct DeployPlan {
    port: u16,
    base_path: String,
}

/// `basePath` as the old agent took it: spaces around and trailing slashes dropped, a
/// leading `/` added; `None` when nothing is left (absent, `""`, `"/"`).
fn normalised_base_path(given: Option<&str>) -> Option<String> {
    let p = given?.trim().trim_end_matches('/');
    match p {
        "" => None,
        p if p.starts_with('/') => Some(p.to_string()),
        p => Some(format!("/{p}")),
    }
}

/// Checks the request and makes the plan. A `basePath` that is absent or empty is the
/// node's `base_path_template` for the app; one without its leading slash or with a trailing
/// one is normalised (the old agent accepted them).
fn validate_deploy(req: &DeployAppRequest, template: &str) -> Result<DeployPlan, RuntimeError> {
    let bad = |f: &str, m: String| RuntimeError::bad_input(&[f], m);
    check_ids(&req.user_id, &req.app_id)?;
    protocol::validate::ImageRef::parse(&req.image).map_err(|m| bad("image", m))?;
    let port = protocol::validate::port(req.container_port).map_err(|m| bad("containerPort", m))?;
    let base_path = match normalised_base_path(req.base_path.as_deref()) {
        Some(p) => {
            protocol::validate::base_path(&p).map_err(|m| bad("basePath", m))?;
            p
        }
        // The template is checked at start; what it makes of this app is the node's
        // setting at fault, not the caller.
        None => protocol::template::base_path(
            template,
            protocol::template::Names {
                app_id: &req.app_id,
                user_id: Some(&req.user_id),
                namespace: "",
            },
        )
        .map_err(|m| RuntimeError::Internal(format!("runtime.{m}")))?,
    };
    if let Some(p) = &req.health_path
        && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(bad(
            "healthPath",
            "must start with '/' and contain no spaces".into(),
        ));
    }
    if let Some(env) = &req.env {
        for (k, v) in env {
            let ok = !k.is_empty()
                && k.len() <= 128
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(RuntimeError::bad_input(
                    &["env", k],
                    "a variable name is letters, digits and '_'",
                ));
            }
            if v.contains('\0') {
                return Err(RuntimeError::bad_input(&["env", k], "must not contain NUL"));
            }
        }
    }
    Ok(DeployPlan { port, base_path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_path_is_normalised_as_the_old_agent_took_it() {
        for (given, want) in [
            (None, None),
            (Some(""), None),
            (Some("/"), None),
            (Some("  "), None),
            (Some("/runtime/5/"), Some("/runtime/5")),
            (Some("/runtime/5//"), Some("/runtime/5")),
            (Some(" /apps/5 "), Some("/apps/5")),
            (Some("apps/5"), Some("/apps/5")),
        ] {
            assert_eq!(normalised_base_path(given).as_deref(), want, "{given:?}");
        }
    }

    #[test]
    fn a_refused_field_names_its_place_in_the_body() {
        let req = DeployAppRequest {
            user_id: "1".into(),
            app_id: "5".into(),
            image: "r/a:1".into(),
            container_port: 3000,
            base_path: Some("apps/5/".into()),
            env: Some(BTreeMap::from([("A-B".to_string(), "x".to_string())])),
            health_path: None,
            job_id: None,
        };
        match validate_deploy(&req, "/runtime/{appId}") {
            Err(RuntimeError::BadInput { loc, msg }) => {
                assert_eq!(loc, ["env", "A-B"]);
                assert!(msg.starts_with("env.A-B: "), "{msg}");
            }
            other => panic!("{:?}", other.map(|p| p.base_path)),
        }
    }
}
