//! Keeps every replica's caches true to the database. Triggers send `NOTIFY` when the
//! registry (`participe_registry`), a tenant's site data (`participe_site`, payload: the
//! schema) or its content (`participe_content`, same payload) change; this listener, one per process, on a connection of its own, drops the
//! matching entries; sessions written or deleted (`participe_session`, payload: the
//! session's id) leave the web side's session cache through a [`Follower`]. Notifications
//! sent while the connection was down are lost, so a reconnection drops everything.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::site::{BrandingCache, CONTENT_CHANNEL, PageCache, SITE_CHANNEL};
use crate::tenancy::resolver::{REGISTRY_CHANNEL, Resolver};

/// Channel of the notices of sessions written or deleted (payload: the session's id).
pub const SESSION_CHANNEL: &str = "participe_session";

/// A cache whose entries the notices of its channel drop (sessions, accounts).
pub trait Follower: Send + Sync {
    fn channel(&self) -> &'static str;
    fn forget(&self, payload: &str);
    fn forget_all(&self);
}

/// Follows changes until the process ends. `listen_pool` must be a pool of its own (one
/// connection): a listener holds its connection for good.
pub async fn follow(
    listen_pool: PgPool,
    resolver: Resolver,
    branding: BrandingCache,
    pages: PageCache,
    followers: Vec<std::sync::Arc<dyn Follower>>,
) {
    let forget_all = || {
        resolver.invalidate_all();
        branding.invalidate_all();
        pages.invalidate_all();
        followers.iter().for_each(|f| f.forget_all());
    };
    let channels: Vec<&str> = [REGISTRY_CHANNEL, SITE_CHANNEL, CONTENT_CHANNEL]
        .into_iter()
        .chain(followers.iter().map(|f| f.channel()))
        .collect();
    loop {
        match PgListener::connect_with(&listen_pool).await {
            Ok(mut listener) => match listener.listen_all(channels.iter().copied()).await {
                Ok(()) => {
                    forget_all();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == SITE_CHANNEL => {
                                branding.invalidate_schema(n.payload());
                                pages.invalidate_schema(n.payload());
                            }
                            Ok(Some(n)) if n.channel() == CONTENT_CHANNEL => pages.invalidate_schema(n.payload()),
                            Ok(Some(n)) if followers.iter().any(|f| f.channel() == n.channel()) => followers
                                .iter()
                                .filter(|f| f.channel() == n.channel())
                                .for_each(|f| f.forget(n.payload())),
                            // The registry changed: a tenant may have gone, or changed name.
                            Ok(Some(_)) => forget_all(),
                            // Connection lost; the listener reconnects on the next call.
                            Ok(None) => forget_all(),
                            Err(e) => {
                                tracing::warn!(error = %e, "change listener failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for changes; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot connect the change listener; retrying"),
        }
        forget_all();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
