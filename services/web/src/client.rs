//! Who is asking, and which host they asked: the client's IP address (for rate limits and
//! the audit log), taken from the connection, or from `X-Forwarded-For` when Participe runs
//! behind trusted proxies (`PARTICIPE_TRUSTED_PROXIES`: how many hops to trust, counted from
//! the right); and the request's host, read once by the dispatcher. Both are computed there
//! and handed to the surfaces as request extensions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::{AppState, Error};

impl<S: Send + Sync> FromRequestParts<S> for RequestHost {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<RequestHost>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("request without the dispatcher's host".into()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The host a request was served for, normalised (`HostName::parse`), as the dispatcher read
/// it: the request target's authority and the `Host` header agreed, and resolved to the site
/// serving it. Sessions are bound to it; links in mails never use it (they use the tenant's
/// own address, `WebConfig::tenant_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost(pub participe_core::domain::HostName);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        // The dispatcher already worked it out for this request.
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        Ok(ClientIp::of(parts, app))
    }
}

impl ClientIp {
    pub fn of(parts: &Parts, app: &AppState) -> ClientIp {
        let peer = parts
            .extensions
            .get::<ConnectInfo<crate::listener::Peer>>()
            .map(|c| c.0.0.ip())
            .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let hops = app.config.trusted_proxies;
        if hops == 0 {
            return ClientIp(peer);
        }
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        // The last `hops` entries were added by our proxies; the one before them is the
        // client as the outermost trusted proxy saw it.
        let ip = forwarded
            .len()
            .checked_sub(hops)
            .and_then(|i| forwarded.get(i))
            .copied()
            .unwrap_or(peer);
        ClientIp(ip)
    }
}
