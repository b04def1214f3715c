//! Runtime node heartbeats.

use axum::extract::State;
use protocol::check::Reporter;
use protocol::node::NodeHeartbeat;
use protocol::validate;

use super::{St, check_name};
use crate::auth::NodeToken;
use crate::error::{ApiError, ApiResult, ok};
use crate::extract::JsonBody;

fn check_url(field: &str, v: &str) -> Result<(), ApiError> {
    let ok = (v.starts_with("http://") || v.starts_with("https://"))
        && v.len() <= 512
        && v.len() > "http://".len()
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "must be an http:// or https:// URL without spaces",
        ))
    }
}

pub async fn heartbeat(
    State(state): St,
    node: NodeToken,
    body: Result<JsonBody<NodeHeartbeat>, ApiError>,
) -> ApiResult {
    let JsonBody(mut hb) = body?;
    check_name("nodeName", &hb.node_name)?;
    check_url("agentBaseUrl", &hb.agent_base_url)?;
    check_url("gatewayBaseUrl", &hb.gateway_base_url)?;
    if !(0.0..=100.0).contains(&hb.disk_free_pct) {
        return Err(ApiError::field("diskFreePct", "must be 0..=100"));
    }
    if hb.disk_free_bytes < 0 {
        return Err(ApiError::field("diskFreeBytes", "must not be negative"));
    }
    if hb.container_count < 0 {
        return Err(ApiError::field("containerCount", "must not be negative"));
    }
    if let Some(c) = &hb.checks {
        c.validate().map_err(|m| ApiError::field("checks", m))?;
    }
    if let Some(v) = &hb.agent_version {
        validate::agent_version(v).map_err(|m| ApiError::field("agentVersion", m))?;
    }
    if let Some(e) = &hb.engine {
        e.validate().map_err(|m| ApiError::field("engine", m))?;
    }
    if let Some(apps) = &mut hb.apps {
        if apps.len() > protocol::node::MAX_NODE_APPS {
            return Err(ApiError::field(
                "apps",
                format!("lists more than {} apps", protocol::node::MAX_NODE_APPS),
            ));
        }
        // An entry deployd cannot use (an image known only by its id after its tag was
        // removed) is left out; the beat itself counts.
        apps.retain(|a| {
            validate::id(&a.app_id).is_ok()
                && a.user_id.as_deref().is_none_or(|u| validate::id(u).is_ok())
                && validate::ImageRef::parse(&a.image).is_ok()
        });
    }
    let remote = node.caller.ip.to_string();
    let up = state
        .store
        .upsert_node(&hb, Some(&remote), state.now())
        .await?;
    if let Some(c) = &hb.checks {
        state
            .store
            .save_check_report(Reporter::Node, &hb.node_name, Some(&remote), c, state.now())
            .await?;
    }
    if let Some(apps) = &hb.apps {
        for fix in state
            .store
            .reconcile_node_apps(&hb.node_name, apps, state.now())
            .await?
        {
            tracing::info!(node = %hb.node_name, "app record corrected from the node: {fix}");
        }
    }
    // A node that was unknown or stale may unblock jobs waiting for a placement.
    if up.came_up {
        tracing::info!(node = %hb.node_name, "runtime node is up");
        state.wake_jobs();
    }
    Ok(ok(up.node))
}
