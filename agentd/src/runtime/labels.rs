//! Labels on every app container: ours, and the Traefik labels of the existing estate.

use std::collections::HashMap;

use protocol::agent::DeployAppRequest;

pub const LABEL_APP: &str = "funai.app-id";
pub const LABEL_USER: &str = "funai.user-id";
pub const LABEL_JOB: &str = "funai.job-id";
pub const LABEL_NODE: &str = "funai.node";
pub const LABEL_PORT: &str = "funai.port";
pub const LABEL_BASE_PATH: &str = "funai.base-path";
pub const LABEL_CREATED_MS: &str = "funai.created-ms";
/// The image reference the container was created from: the engine shows only an id once
/// that tag is removed or moved.
pub const LABEL_IMAGE: &str = "funai.image";

pub fn container_labels(
    node: &str,
    network: &str,
    req: &DeployAppRequest,
    base_path: &str,
) -> HashMap<String, String> {
    let app = &req.app_id;
    let port = req.container_port.to_string();
    let mut l = HashMap::from([
        (LABEL_APP.to_string(), app.clone()),
        (LABEL_USER.to_string(), req.user_id.clone()),
        (
            LABEL_JOB.to_string(),
            req.job_id.map(|j| j.to_string()).unwrap_or_default(),
        ),
        (LABEL_NODE.to_string(), node.to_string()),
        (LABEL_IMAGE.to_string(), req.image.clone()),
        (LABEL_PORT.to_string(), port.clone()),
        (LABEL_BASE_PATH.to_string(), base_path.to_string()),
        (
            LABEL_CREATED_MS.to_string(),
            chrono::Utc::now().timestamp_millis().to_string(),
        ),
        ("traefik.enable".to_string(), "true".to_string()),
        ("traefik.docker.network".to_string(), network.to_string()),
    ]);
    let router = format!("traefik.http.routers.rt-app-{app}");
    let mw = format!("rt-mw-{app}");
    let svc = format!("rt-svc-{app}");
    // Exact prefix: a bare PathPrefix(`/runtime/12`) would also catch app 123.
    l.insert(format!("{router}.rule"), traefik_rule(base_path));
    l.insert(format!("{router}.middlewares"), mw.clone());
    l.insert(format!("{router}.service"), svc.clone());
    l.insert(
        format!("traefik.http.middlewares.{mw}.stripprefix.prefixes"),
        base_path.to_string(),
    );
    l.insert(
        format!("traefik.http.services.{svc}.loadbalancer.server.port"),
        port,
    );
    l
}

pub fn traefik_rule(base_path: &str) -> String {
    format!("Path(`{base_path}`) || PathPrefix(`{base_path}/`)")
}
