//! Proof that a collectivité controls a custom domain it adds: either the domain already
//! points at Participe and serves the verification file (`http://<domain>/.well-known/
//! participe-verification/<token>`, which the dispatcher answers for unverified domains), or
//! a DNS TXT record `_participe.<domain>` holds `participe-verification=<token>`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use participe_core::domain::HostName;

use crate::dispatch::VERIFICATION_PATH;

/// Where the checks look; both `None` in production (port 80, the system's resolver).
#[derive(Debug, Clone, Default)]
pub struct VerifierConfig {
    /// Send the HTTP check to this address whatever the domain resolves to (tests).
    pub http_target: Option<SocketAddr>,
    /// Ask this DNS server instead of the system's resolvers.
    pub dns_server: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Http,
    Dns,
}

/// The TXT record value that proves control of a domain.
pub fn txt_value(token: &str) -> String {
    format!("participe-verification={token}")
}

/// The name under which the TXT record goes.
pub fn txt_name(host: &HostName) -> String {
    format!("_participe.{host}")
}

pub async fn verify(config: &VerifierConfig, host: &HostName, token: &str) -> Option<Proof> {
    if by_http(config, host, token).await {
        return Some(Proof::Http);
    }
    if by_dns(config, host, token).await {
        return Some(Proof::Dns);
    }
    None
}

struct Fixed(SocketAddr);

impl reqwest::dns::Resolve for Fixed {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(addr));
            Ok(addrs)
        })
    }
}

async fn by_http(config: &VerifierConfig, host: &HostName, token: &str) -> bool {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent("Participe domain verification");
    let port = match config.http_target {
        Some(addr) => {
            builder = builder.dns_resolver(Arc::new(Fixed(addr)));
            format!(":{}", addr.port())
        }
        None => String::new(),
    };
    let Ok(client) = builder.build() else { return false };
    let url = format!("http://{host}{port}{VERIFICATION_PATH}{token}");
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => r.text().await.map(|body| body.trim() == token).unwrap_or(false),
        Ok(_) => false,
        Err(e) => {
            tracing::info!(%host, error = %e, "HTTP verification not reachable");
            false
        }
    }
}

async fn by_dns(config: &VerifierConfig, host: &HostName, token: &str) -> bool {
    let resolver = match config.dns_server {
        Some(addr) => {
            let mut c = ResolverConfig::new();
            c.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            TokioResolver::builder_with_config(c, TokioConnectionProvider::default()).build()
        }
        None => match TokioResolver::builder_tokio() {
            Ok(b) => b.build(),
            Err(e) => {
                tracing::warn!(error = %e, "no system DNS configuration");
                return false;
            }
        },
    };
    let expected = txt_value(token);
    let lookup = tokio::time::timeout(
        Duration::from_secs(5),
        resolver.txt_lookup(format!("{}.", txt_name(host))),
    )
    .await;
    match lookup {
        Ok(Ok(records)) => records.iter().any(|txt| {
            let value: String = txt
                .txt_data()
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect();
            value == expected
        }),
        _ => false,
    }
}
