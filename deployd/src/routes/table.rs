//! The route table: which runtime node's gateway serves each app's base path, for one public
//! entry in front of several nodes. As JSON (`GET /admin/routes`, and for the node agents
//! with their node token at `GET /internal/runtime-nodes/routes`), as the dynamic
//! configuration Traefik's HTTP provider polls (`GET /admin/routes/traefik`), and as an
//! nginx `map` to include (`GET /admin/routes/nginx`). The entry forwards the whole path: a
//! node's gateway strips the base path itself.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::app::AppRunStatus;
use protocol::job::JobPayload;
use serde_json::json;

use super::St;
use crate::AppState;
use crate::auth::{AdminToken, NodeToken};
use crate::error::{ApiResult, ok};

pub use protocol::node::NodeRoute as Route;

/// A base path as the table writes it into Traefik rules and nginx regexes: what a route
/// can be (`/`, letters, digits, `-`, `_`, `.`, `~`), nothing that would end a rule.
fn writable(base: &str) -> bool {
    base.starts_with('/')
        && base.len() > 1
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c))
}

/// The routes of the apps a node serves (ready, down, or while a job of it runs or after
/// one failed, where it was served), longest base path first.
pub async fn table(state: &AppState) -> Result<Vec<Route>, crate::error::ApiError> {
    let gateways: HashMap<String, String> = state
        .store
        .list_nodes(state.now())
        .await?
        .into_iter()
        .filter(|n| !n.gateway_base_url.is_empty())
        .map(|n| {
            (
                n.node_name,
                n.gateway_base_url.trim_end_matches('/').to_string(),
            )
        })
        .collect();
    let own: HashMap<String, String> = state
        .store
        .base_path_overrides()
        .await?
        .into_iter()
        .collect();
    let mut routes = Vec::new();
    for run in state.store.list_app_runs().await? {
        // Where the app is served: while a job moves it (or after the move failed) that
        // is the node it was on, not the one the job was placed on, so an entry keeps
        // sending to the copy that answers until the new one does. A first deploy routes
        // to the node it is placed on.
        let node = match run.status {
            AppRunStatus::Ready | AppRunStatus::Down | AppRunStatus::Deploying => {
                run.serving_node.clone().or_else(|| run.node_name.clone())
            }
            AppRunStatus::Failed => run.serving_node.clone(),
            _ => None,
        };
        let Some(node) = node else {
            continue;
        };
        let Some(url) = gateways.get(&node) else {
            continue;
        };
        let base = match own.get(&run.app_id) {
            Some(b) => Some(b.clone()),
            None => crate::defaults::base_path_of(
                state,
                &JobPayload {
                    app_id: run.app_id.clone(),
                    user_id: run.user_id.clone(),
                    ..Default::default()
                },
            ),
        };
        let Some(base) = base.filter(|b| writable(b)) else {
            tracing::warn!(app = %run.app_id, "no route for the table: its base path is unknown or cannot be written");
            continue;
        };
        routes.push(Route {
            app_id: run.app_id,
            base_path: base.trim_end_matches('/').to_string(),
            node_name: node,
            gateway_url: url.clone(),
            status: run.status,
        });
    }
    routes.sort_by(|a, b| {
        b.base_path
            .len()
            .cmp(&a.base_path.len())
            .then(a.base_path.cmp(&b.base_path))
    });
    Ok(routes)
}

pub async fn json_admin(State(state): St, _: AdminToken) -> ApiResult {
    Ok(ok(table(&state).await?))
}

pub async fn json_node(State(state): St, _: NodeToken) -> ApiResult {
    Ok(ok(table(&state).await?))
}

/// A name Traefik accepts for a router or service: letters, digits and `-`.
fn traefik_name(prefix: &str, s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{prefix}-{s}")
}

/// Traefik's dynamic configuration (the `http` provider's JSON): a router per app matching
/// its base path and below it, a service per node (its gateway), the path passed unchanged.
pub fn traefik(routes: &[Route]) -> serde_json::Value {
    let mut routers = BTreeMap::new();
    let mut services = BTreeMap::new();
    for r in routes {
        let service = traefik_name("funai-node", &r.node_name);
        routers.insert(
            traefik_name("funai-app", &r.app_id),
            json!({
                "rule": format!("Path(`{0}`) || PathPrefix(`{0}/`)", r.base_path),
                "service": service,
            }),
        );
        services.entry(service).or_insert_with(|| {
            json!({"loadBalancer": {"servers": [{"url": r.gateway_url}], "passHostHeader": true}})
        });
    }
    json!({"http": {"routers": routers, "services": services}})
}

pub async fn traefik_admin(
    State(state): St,
    _: AdminToken,
) -> Result<Response, crate::error::ApiError> {
    let routes = table(&state).await?;
    Ok(axum::Json(traefik(&routes)).into_response())
}

/// An nginx `map` from the request path to the gateway that serves it, for the `http`
/// block: `proxy_pass $funai_gateway;` then forwards the path unchanged.
pub fn nginx(routes: &[Route]) -> String {
    let mut out = format!(
        "# deployd's route table ({} routes): include in nginx's http block; in the entry's\n\
         # server: location / {{ if ($funai_gateway = \"\") {{ return 404; }} proxy_pass $funai_gateway; }}\n\
         map $uri $funai_gateway {{\n    default \"\";\n",
        routes.len()
    );
    for r in routes {
        let re = r.base_path.replace('.', "\\.");
        out.push_str(&format!(
            "    \"~^{re}(/|$)\" \"{}\";  # app {} on {}\n",
            r.gateway_url, r.app_id, r.node_name
        ));
    }
    out.push_str("}\n");
    out
}

pub async fn nginx_admin(
    State(state): St,
    _: AdminToken,
) -> Result<Response, crate::error::ApiError> {
    let routes = table(&state).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        nginx(&routes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(app: &str, base: &str, node: &str) -> Route {
        Route {
            app_id: app.into(),
            base_path: base.into(),
            node_name: node.into(),
            gateway_url: format!("http://{node}.test:80"),
            status: AppRunStatus::Ready,
        }
    }

    #[test]
    fn traefik_gets_a_router_per_app_and_a_service_per_node() {
        let v = traefik(&[
            route("20002", "/runtime/20002", "rt-01"),
            route("7", "/apps/7", "rt-02"),
            route("8", "/apps/8", "rt-02"),
        ]);
        assert_eq!(
            v["http"]["routers"]["funai-app-20002"]["rule"],
            "Path(`/runtime/20002`) || PathPrefix(`/runtime/20002/`)"
        );
        assert_eq!(
            v["http"]["routers"]["funai-app-7"]["service"],
            "funai-node-rt-02"
        );
        assert_eq!(v["http"]["services"].as_object().map(|o| o.len()), Some(2));
        assert_eq!(
            v["http"]["services"]["funai-node-rt-01"]["loadBalancer"]["servers"][0]["url"],
            "http://rt-01.test:80"
        );
    }

    #[test]
    fn nginx_maps_each_base_path_and_below_it_to_its_gateway() {
        let text = nginx(&[route("a.b", "/apps/a.b", "rt-01")]);
        assert!(
            text.contains("\"~^/apps/a\\.b(/|$)\" \"http://rt-01.test:80\";"),
            "{text}"
        );
        assert!(text.contains("default \"\";"), "{text}");
    }

    #[test]
    fn a_base_path_that_would_end_a_rule_is_not_written() {
        for bad in ["/a`b", "/a b", "/a\"b", "", "/", "apps/1"] {
            assert!(!writable(bad), "{bad}");
        }
        assert!(writable("/runtime/20002"));
    }
}
