//! Who is asking: the client's IP address (for rate limits and the audit log), taken from
//! the connection, or from `X-Forwarded-For` when Participe runs behind trusted proxies
//! (`PARTICIPE_TRUSTED_PROXIES`: how many hops to trust, counted from the right).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::{AppState, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let hops = app.config.trusted_proxies;
        if hops == 0 {
            return Ok(ClientIp(peer));
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
        Ok(ClientIp(ip))
    }
}
