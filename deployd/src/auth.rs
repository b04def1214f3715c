//! One secret per channel, compared in constant time, and CIDR allowlists by peer address.
//! A handler names its channel's extractor (`DeploySecret`, `RunnerToken`, `NodeToken`,
//! `AdminToken`) in its signature, so it cannot run without the check.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
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

fn require(
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
                if state.metrics.legacy_request(ip) {
                    tracing::warn!(%ip, "legacy runner without X-Runner-Token accepted from the allowlist (said once an hour per address; counted in deployd_legacy_runner_requests_total)");
                }
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

/// Whether a request also carries a valid admin token from an allowed address (an
/// operator acting on the estate's API, e.g. to choose an app's route); quiet when not.
pub fn is_admin(state: &AppState, headers: &HeaderMap, ip: IpAddr) -> bool {
    let a = &state.settings.auth;
    let values: Vec<_> = headers.get_all(headers::ADMIN_TOKEN).iter().collect();
    allowed(&state.allow.admin, ip)
        && matches!(values.as_slice(), [one] if matches(one.as_bytes(), &a.admin_token))
}

/// A channel a handler can name: its marker type picks the header, secret and allowlist.
pub trait ChannelKind {
    const CHANNEL: Channel;
}

/// The marker types of the channels.
pub mod channel {
    use super::{Channel, ChannelKind};

    pub struct Deploy;
    pub struct Runner;
    pub struct Node;
    pub struct Admin;
    /// One handler for both: the estate's API on the deploy secret, the admin page on the
    /// admin token.
    pub struct DeployOrAdmin<const ADMIN: bool>;

    impl ChannelKind for Deploy {
        const CHANNEL: Channel = Channel::Deploy;
    }
    impl ChannelKind for Runner {
        const CHANNEL: Channel = Channel::Runner;
    }
    impl ChannelKind for Node {
        const CHANNEL: Channel = Channel::Node;
    }
    impl ChannelKind for Admin {
        const CHANNEL: Channel = Channel::Admin;
    }
    impl<const ADMIN: bool> ChannelKind for DeployOrAdmin<ADMIN> {
        const CHANNEL: Channel = if ADMIN {
            Channel::Admin
        } else {
            Channel::Deploy
        };
    }
}

/// A request that passed the check of channel `C`, and who sent it.
pub struct Authed<C> {
    pub caller: Caller,
    channel: PhantomData<C>,
}

/// The estate's API (`X-Deploy-Secret`).
pub type DeploySecret = Authed<channel::Deploy>;
/// A runner (`X-Runner-Token`); `caller.legacy` when a legacy runner sent none.
pub type RunnerToken = Authed<channel::Runner>;
/// A runtime node's agentd (`X-Node-Token`).
pub type NodeToken = Authed<channel::Node>;
/// An operator (`X-Admin-Token`).
pub type AdminToken = Authed<channel::Admin>;
/// The deploy secret, or the admin token when `ADMIN`.
pub type DeployOrAdminToken<const ADMIN: bool> = Authed<channel::DeployOrAdmin<ADMIN>>;

impl<C: ChannelKind> FromRequestParts<Arc<AppState>> for Authed<C> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.body_text()))?;
        let caller = require(state, C::CHANNEL, &parts.headers, peer.ip())?;
        Ok(Authed {
            caller,
            channel: PhantomData,
        })
    }
}
