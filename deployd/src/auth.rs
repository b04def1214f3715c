//! One secret per channel, compared in constant time, and CIDR allowlists by peer address.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use protocol::{Secret, headers};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Deploy,
    Runner,
    Node,
    Admin,
}

/// Who passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub ip: IpAddr,
    /// A runner of the existing estate that sent no token.
    pub legacy: bool,
}

fn allowed(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    list.is_empty() || list.iter().any(|n| n.contains(&ip))
}

fn matches(given: &[u8], expected: &Secret) -> bool {
    let expected = expected.expose().as_bytes();
    // Length is not secret; the bytes are compared in constant time.
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

pub fn require(
    state: &AppState,
    channel: Channel,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Caller, ApiError> {
    let a = &state.settings.auth;
    let (header, secret, list) = match channel {
        Channel::Deploy => (headers::DEPLOY_SECRET, &a.deploy_secret, &[][..]),
        Channel::Runner => (
            headers::RUNNER_TOKEN,
            &a.runner_token,
            &state.allow.runner[..],
        ),
        Channel::Node => (headers::NODE_TOKEN, &a.node_token, &state.allow.node[..]),
        Channel::Admin => (headers::ADMIN_TOKEN, &a.admin_token, &state.allow.admin[..]),
    };
    if !allowed(list, ip) {
        tracing::warn!(%ip, ?channel, "request from an address outside the allowlist refused");
        return Err(ApiError::forbidden(format!(
            "address {ip} is not in the allowlist of this endpoint"
        )));
    }
    let values: Vec<_> = headers.get_all(header).iter().collect();
    match values.as_slice() {
        [] => {
            if channel == Channel::Runner
                && a.allow_legacy_runners
                && !state.allow.runner.is_empty()
            {
                tracing::warn!(%ip, "legacy runner without X-Runner-Token accepted from the allowlist");
                return Ok(Caller { ip, legacy: true });
            }
            Err(ApiError::unauthorized(format!("missing {header} header")))
        }
        [one] if matches(one.as_bytes(), secret) => Ok(Caller { ip, legacy: false }),
        [_] => {
            tracing::warn!(%ip, ?channel, "wrong token");
            Err(ApiError::unauthorized(format!("wrong {header}")))
        }
        _ => Err(ApiError::unauthorized(format!(
            "more than one {header} header"
        ))),
    }
}
