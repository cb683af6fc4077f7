//! Keeps every replica's caches true to the database. Triggers send `NOTIFY` when the
//! registry (`participe_registry`), a tenant's site data (`participe_site`, payload: the
//! schema) or its content (`participe_content`, same payload) change; this listener, one per process, on a connection of its own, drops the
//! matching entries. Notifications sent while the connection was down are lost, so a
//! reconnection drops everything.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::site::{BrandingCache, CONTENT_CHANNEL, PageCache, SITE_CHANNEL};
use crate::tenancy::resolver::{REGISTRY_CHANNEL, Resolver};

/// Follows changes until the process ends. `listen_pool` must be a pool of its own (one
/// connection): a listener holds its connection for good.
pub async fn follow(listen_pool: PgPool, resolver: Resolver, branding: BrandingCache, pages: PageCache) {
    let forget_all = || {
        resolver.invalidate_all();
        branding.invalidate_all();
        pages.invalidate_all();
    };
    loop {
        match PgListener::connect_with(&listen_pool).await {
            Ok(mut listener) => match listener
                .listen_all([REGISTRY_CHANNEL, SITE_CHANNEL, CONTENT_CHANNEL])
                .await
            {
                Ok(()) => {
                    forget_all();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == SITE_CHANNEL => {
                                branding.invalidate_schema(n.payload());
                                pages.invalidate_schema(n.payload());
                            }
                            Ok(Some(n)) if n.channel() == CONTENT_CHANNEL => pages.invalidate_schema(n.payload()),
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
