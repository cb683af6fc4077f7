//! Finding a tenant in the registry: by slug, id or custom domain. The kernel's own reads
//! (the resolver needs them); changing the registry is `crate::fleet::registry`.

use sqlx::PgPool;
use uuid::Uuid;

use super::{Tenant, TenantRow, tenant_row};

/// The registry's columns of `tenant t` as a [`TenantRow`], then `$rest` (the where clause).
macro_rules! tenant_query {
    ($rest:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            TenantRow,
            r#"select t.id, t.slug, t.name, t.kind, t.schema_name, t.status, t.status_reason,
                      t.read_only_since is not null as "read_only!",
                      (select d.host from tenant_domain d
                        where d.tenant_id = t.id and d.is_primary and d.verified_at is not null) as primary_domain
                 from tenant t "# + $rest,
            $($arg),*
        )
    };
}
use crate::domain::{HostName, Slug};
use crate::{Error, Result};

#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn find_by_slug(pool: &PgPool, slug: &Slug) -> Result<Option<Tenant>> {
    find_by_slug_str(pool, slug.as_str()).await
}

/// By slug as found in a host name: it may predate a word becoming reserved.
pub(crate) async fn find_by_slug_str(pool: &PgPool, slug: &str) -> Result<Option<Tenant>> {
    tenant_query!("where t.slug = $1", slug)
        .fetch_optional(pool)
        .await?
        .map(Tenant::try_from)
        .transpose()
}

pub async fn get_by_slug(pool: &PgPool, slug: &Slug) -> Result<Tenant> {
    find_by_slug(pool, slug)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun portail « {slug} »")))
}

#[tracing::instrument(skip_all)]
pub async fn find_by_id(pool: &PgPool, id: Uuid) -> Result<Option<Tenant>> {
    tenant_query!("where t.id = $1", id)
        .fetch_optional(pool)
        .await?
        .map(Tenant::try_from)
        .transpose()
}

/// What a custom domain leads to: its tenant, and whether it is verified and primary.
#[derive(Debug, Clone)]
pub struct DomainMatch {
    pub tenant: Tenant,
    pub verified: bool,
    pub is_primary: bool,
    pub verification_token: Option<String>,
    /// The tenant's verified primary domain, if it has one.
    pub primary_host: Option<String>,
}

#[tracing::instrument(skip_all, fields(host = %host))]
pub async fn find_by_domain(pool: &PgPool, host: &HostName) -> Result<Option<DomainMatch>> {
    let row = sqlx::query!(
        r#"select t.id, t.slug, t.name, t.kind, t.schema_name, t.status, t.status_reason,
                  t.read_only_since is not null as "read_only!",
                  d.verified_at is not null as "verified!", d.is_primary, d.verification_token,
                  (select p.host from tenant_domain p
                    where p.tenant_id = t.id and p.is_primary and p.verified_at is not null) as primary_domain
             from tenant_domain d join tenant t on t.id = d.tenant_id
            where d.host = $1"#,
        host.as_str()
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(DomainMatch {
            verified: r.verified,
            is_primary: r.is_primary,
            verification_token: r.verification_token,
            primary_host: r.primary_domain.clone(),
            tenant: Tenant::try_from(tenant_row!(r))?,
        })
    })
    .transpose()
}
