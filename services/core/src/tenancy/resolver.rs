//! Host → what to serve. Resolution is cached per host (unknown hosts too, so a flood of
//! made-up hosts costs one query each at most once per entry), and every replica forgets
//! the whole cache when the registry changes: triggers on `tenant` and `tenant_domain`
//! send `NOTIFY participe_registry`, which `fleet::notifications` turns into
//! `invalidate_all`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use sqlx::PgPool;

use super::{Tenant, lookup};
use crate::Result;
use crate::domain::HostName;

pub const REGISTRY_CHANNEL: &str = "participe_registry";

/// What a request's `Host` designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// A tenant's portal (platform sub-domain or custom domain); the tenant may be suspended.
    Portal(Arc<Tenant>),
    /// `console.<base>`, the tenant console.
    Console,
    /// `ops.<base>`, the operator console.
    Ops,
    /// A tenant's verified custom domain that is not its primary one: answered with a
    /// permanent redirect to the primary domain.
    Redirect { tenant: Arc<Tenant>, to: String },
    /// A custom domain added but not verified yet: it serves only its verification file.
    Verification { token: String },
    /// The base domain itself.
    Apex,
    /// Nothing we serve: a made-up host, a removed domain, a malformed header.
    Unknown,
}

impl Site {
    /// A short, bounded label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Site::Portal(_) | Site::Redirect { .. } => "portal",
            Site::Verification { .. } => "verification",
            Site::Console => "console",
            Site::Ops => "ops",
            Site::Apex => "apex",
            Site::Unknown => "unknown",
        }
    }

    pub fn tenant(&self) -> Option<&Arc<Tenant>> {
        match self {
            Site::Portal(t) | Site::Redirect { tenant: t, .. } => Some(t),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    base: HostName,
    console: HostName,
    ops: HostName,
    cache: Cache<HostName, Site>,
    /// Bumped by every invalidation; a lookup that started before one does not cache its
    /// (possibly stale) answer.
    generation: AtomicU64,
}

impl Resolver {
    pub fn new(pool: PgPool, base: HostName) -> Self {
        let sub =
            |label: &str| HostName::parse(&format!("{label}.{base}")).expect("a label under a valid base is valid");
        Resolver {
            inner: Arc::new(Inner {
                console: sub("console"),
                ops: sub("ops"),
                base,
                pool,
                cache: Cache::builder()
                    .max_capacity(100_000)
                    // A safety net only: invalidation normally comes from NOTIFY.
                    .time_to_live(Duration::from_secs(300))
                    .build(),
                generation: AtomicU64::new(0),
            }),
        }
    }

    pub fn base(&self) -> &HostName {
        &self.inner.base
    }

    pub fn console_host(&self) -> &HostName {
        &self.inner.console
    }

    pub fn ops_host(&self) -> &HostName {
        &self.inner.ops
    }

    /// Resolves a raw `Host` header value.
    pub async fn resolve(&self, raw_host: &str) -> Result<Site> {
        match HostName::parse(raw_host) {
            Ok(host) => self.resolve_host(&host).await,
            Err(_) => Ok(Site::Unknown),
        }
    }

    pub async fn resolve_host(&self, host: &HostName) -> Result<Site> {
        let inner = &self.inner;
        if *host == inner.console {
            return Ok(Site::Console);
        }
        if *host == inner.ops {
            return Ok(Site::Ops);
        }
        if *host == inner.base {
            return Ok(Site::Apex);
        }
        if let Some(site) = inner.cache.get(host) {
            return Ok(site);
        }
        let generation = inner.generation.load(Ordering::Acquire);
        let site = self.lookup(host).await?;
        if inner.generation.load(Ordering::Acquire) == generation {
            inner.cache.insert(host.clone(), site.clone());
        }
        Ok(site)
    }

    #[tracing::instrument(name = "resolver.lookup", skip_all, fields(host = %host))]
    async fn lookup(&self, host: &HostName) -> Result<Site> {
        let inner = &self.inner;
        if let Some(label) = host.platform_label(&inner.base) {
            return Ok(match lookup::find_by_slug_str(&inner.pool, label).await? {
                Some(tenant) => Site::Portal(Arc::new(tenant)),
                None => Site::Unknown,
            });
        }
        if host.is_under(&inner.base) {
            return Ok(Site::Unknown);
        }
        Ok(match lookup::find_by_domain(&inner.pool, host).await? {
            None => Site::Unknown,
            Some(m) if !m.verified => match m.verification_token {
                Some(token) => Site::Verification { token },
                None => Site::Unknown,
            },
            Some(m) => match m.primary_host {
                Some(primary) if !m.is_primary => Site::Redirect {
                    tenant: Arc::new(m.tenant),
                    to: primary,
                },
                _ => Site::Portal(Arc::new(m.tenant)),
            },
        })
    }

    pub fn invalidate_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.cache.invalidate_all();
    }
}
