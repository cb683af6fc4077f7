//! Reading and changing the registry rows of tenants and their domains (`public` schema).
//! Every change an operator makes is written to `platform_audit` in the same transaction.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{HostName, Slug, TenantKind};
use crate::platform_audit;
pub use crate::tenancy::lookup::{DomainMatch, find_by_domain, find_by_id, find_by_slug, get_by_slug};
use crate::tenancy::{Tenant, TenantStatus, tenant_row};
use crate::{Error, Result};

/// Everything the registry knows about one tenant, for `tenant show` and the ops console.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantDetails {
    pub tenant: Tenant,
    pub insee_code: Option<String>,
    pub siren: Option<String>,
    pub parent: Option<String>,
    pub schema_version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub trial_ends_at: Option<OffsetDateTime>,
    pub population: Option<i32>,
    pub domains: Vec<Domain>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Domain {
    pub host: String,
    pub is_primary: bool,
    pub verified: bool,
}

/// One line of `tenant list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantSummary {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub schema_version: i64,
    pub domains: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn not_found(slug: &Slug) -> Error {
    Error::NotFound(format!("aucun portail « {slug} »"))
}

#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn details(pool: &PgPool, slug: &Slug) -> Result<TenantDetails> {
    let r = sqlx::query!(
        r#"select t.id, t.slug, t.name, t.kind, t.schema_name, t.status, t.status_reason,
                  t.read_only_since is not null as "read_only!",
                  (select d.host from tenant_domain d
                    where d.tenant_id = t.id and d.is_primary and d.verified_at is not null) as primary_domain, t.insee_code, t.siren, p.slug as "parent?", t.schema_version, t.created_at,
                  t.trial_ends_at, t.population,
                  coalesce(
                      (select jsonb_agg(jsonb_build_object('host', d.host, 'is_primary', d.is_primary,
                                                          'verified', d.verified_at is not null)
                                        order by d.is_primary desc, d.host)
                         from tenant_domain d where d.tenant_id = t.id),
                      '[]') as "domains!"
             from tenant t left join tenant p on p.id = t.parent_id
            where t.slug = $1"#,
        slug.as_str()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| not_found(slug))?;
    let domains: Vec<serde_json::Value> = serde_json::from_value(r.domains).unwrap_or_default();
    Ok(TenantDetails {
        insee_code: r.insee_code,
        siren: r.siren,
        parent: r.parent,
        schema_version: r.schema_version,
        created_at: r.created_at,
        trial_ends_at: r.trial_ends_at,
        population: r.population,
        tenant: Tenant::try_from(tenant_row!(r))?,
        domains: domains
            .into_iter()
            .map(|d| Domain {
                host: d["host"].as_str().unwrap_or_default().to_string(),
                is_primary: d["is_primary"].as_bool().unwrap_or(false),
                verified: d["verified"].as_bool().unwrap_or(false),
            })
            .collect(),
    })
}

/// Filters for `list`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<TenantStatus>,
    pub kind: Option<TenantKind>,
}

/// Tenants in slug order, one page at a time (`after` is the last slug of the previous page).
#[tracing::instrument(skip_all)]
pub async fn list(pool: &PgPool, filter: &ListFilter, after: Option<&str>, limit: i64) -> Result<Vec<TenantSummary>> {
    let rows = sqlx::query_as!(
        TenantSummary,
        r#"select t.slug, t.name, t.kind, t.status, t.schema_version, t.created_at,
                  (select count(*) from tenant_domain d where d.tenant_id = t.id) as "domains!"
             from tenant t
            where ($1::text is null or t.status = $1)
              and ($2::text is null or t.kind = $2)
              and ($3::text is null or t.slug > $3)
            order by t.slug
            limit $4"#,
        filter.status.map(TenantStatus::as_str),
        filter.kind.map(TenantKind::as_str),
        after,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

pub async fn count(pool: &PgPool) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(r#"select status, count(*) as "n!" from tenant group by status order by status"#)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Suspends or resumes a tenant. Suspension keeps every row: the portal shows the
/// "portail suspendu" page until an operator resumes it.
#[tracing::instrument(skip_all, fields(tenant = %slug, status = %status))]
pub async fn set_status(
    pool: &PgPool,
    slug: &Slug,
    status: TenantStatus,
    reason: Option<&str>,
    actor: &str,
) -> Result<Tenant> {
    let mut tx = pool.begin().await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let row = sqlx::query!(
        "update tenant set status = $2, status_reason = $3 where slug = $1 returning id",
        slug.as_str(),
        status.as_str(),
        reason
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| not_found(slug))?;
    let action = match status {
        TenantStatus::Active => "tenant.resume",
        TenantStatus::Suspended => "tenant.suspend",
    };
    platform_audit::record(
        &mut tx,
        actor,
        action,
        Some(row.id),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    get_by_slug(pool, slug).await
}

/// Attaches a custom domain. Domains added by an operator count as verified (the operator
/// vouches for them); the console's proof by DNS or HTTP token comes with its own issue. The
/// first domain of a tenant, or one added with `primary`, becomes its primary domain.
#[tracing::instrument(skip_all, fields(tenant = %slug, host = %host))]
pub async fn add_domain(pool: &PgPool, slug: &Slug, host: &HostName, primary: bool, actor: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    let tenant_id = sqlx::query_scalar!("select id from tenant where slug = $1 for update", slug.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(slug))?;
    insert_domains(&mut tx, tenant_id, std::slice::from_ref(host), primary).await?;
    platform_audit::record(
        &mut tx,
        actor,
        "tenant.add_domain",
        Some(tenant_id),
        serde_json::json!({ "host": host }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts domains for a tenant; the first becomes primary when the tenant has none yet.
pub(crate) async fn insert_domains(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    hosts: &[HostName],
    make_primary: bool,
) -> Result<()> {
    for host in hosts {
        // Checked first for a clear message; the primary key below still decides races.
        // The message never says which portal owns the domain.
        let taken = sqlx::query_scalar!("select 1 as x from tenant_domain where host = $1", host.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if taken.is_some() {
            return Err(Error::invalid(
                "domain",
                format!("le domaine {host} est déjà rattaché à un portail"),
            ));
        }
        if make_primary {
            sqlx::query!(
                "update tenant_domain set is_primary = false where tenant_id = $1",
                tenant_id
            )
            .execute(&mut *conn)
            .await?;
        }
        let result = sqlx::query!(
            r#"insert into tenant_domain (host, tenant_id, is_primary, verified_at)
               values ($1, $2, $3 or not exists (select 1 from tenant_domain where tenant_id = $2 and is_primary), now())"#,
            host.as_str(),
            tenant_id,
            make_primary
        )
        .execute(&mut *conn)
        .await;
        match result {
            Err(e) if crate::error::violated_constraint(&e) == Some("tenant_domain_pkey") => {
                return Err(Error::invalid(
                    "domain",
                    format!("le domaine {host} est déjà rattaché à un portail"),
                ));
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(tenant = %slug, host = %host))]
pub async fn remove_domain(pool: &PgPool, slug: &Slug, host: &HostName, actor: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query!(
        r#"delete from tenant_domain d using tenant t
            where d.tenant_id = t.id and t.slug = $1 and d.host = $2
        returning t.id, d.is_primary"#,
        slug.as_str(),
        host.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(removed) = removed else {
        get_by_slug(pool, slug).await?;
        return Err(Error::invalid(
            "domain",
            format!("le domaine {host} n'est pas rattaché au portail « {slug} »"),
        ));
    };
    if removed.is_primary {
        // Another domain, if any, takes over as primary so redirects keep a target.
        sqlx::query!(
            r#"update tenant_domain set is_primary = true
                where host = (select host from tenant_domain where tenant_id = $1 order by created_at, host limit 1)"#,
            removed.id
        )
        .execute(&mut *tx)
        .await?;
    }
    platform_audit::record(
        &mut tx,
        actor,
        "tenant.remove_domain",
        Some(removed.id),
        serde_json::json!({ "host": host }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the operators' tenants table shows of one tenant. Counts and sizes come from
/// PostgreSQL's statistics and catalog (live tuples, `relpages` of tables, indexes and
/// their TOAST, as of the last vacuum or analyze), not from the tenant's tables: estimates,
/// read for a whole page of tenants in one query, without opening any tenant's data or
/// asking the file system (exact sizes cost a `stat` per file: [`schema_bytes`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub plan: Option<String>,
    /// `YYYY-MM-DD`: paid up to this day (manual billing).
    pub paid_until: Option<String>,
    /// The billing standing (`billing::standing::State::as_str`), and whether it made the
    /// portal read-only.
    pub billing: String,
    pub read_only: bool,
    pub schema_version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub trial_ends_at: Option<OffsetDateTime>,
    pub bytes: i64,
    pub citizens: i64,
    /// Estimated rows of each component's table for operators (`Manifest::ops_table`), by
    /// table name; a table a schema does not have yet is missing.
    pub tables: serde_json::Value,
}

/// Search and filters of the tenants table.
#[derive(Debug, Clone, Default)]
pub struct OverviewFilter {
    /// A piece of the name or slug.
    pub query: Option<String>,
    pub status: Option<TenantStatus>,
    pub kind: Option<TenantKind>,
    /// A plan code (`billing::Stratum::as_str`), or `none` for tenants without one.
    pub plan: Option<String>,
    /// A billing standing (`billing::standing::State::as_str`).
    pub billing: Option<crate::billing::standing::State>,
}

/// One page of the tenants table, in slug order, and how many tenants match in all.
#[tracing::instrument(skip_all)]
pub async fn overview(pool: &PgPool, filter: &OverviewFilter, limit: i64, offset: i64) -> Result<(Vec<Overview>, i64)> {
    let pattern = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let status = filter.status.map(TenantStatus::as_str);
    let kind = filter.kind.map(TenantKind::as_str);
    let plan = filter.plan.as_deref();
    let billing = filter.billing.map(crate::billing::standing::State::as_str);
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from tenant t
            where ($1::text is null or t.name ilike $1 or t.slug ilike $1)
              and ($2::text is null or t.status = $2) and ($3::text is null or t.kind = $3)
              and ($4::text is null or coalesce(t.plan, 'none') = $4)
              and ($5::text is null or t.billing_state = $5)"#,
        pattern,
        status,
        kind,
        plan,
        billing
    )
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as!(
        Overview,
        r#"with page as (
             select t.id, t.slug, t.name, t.kind, t.status, t.status_reason, t.plan, t.schema_version,
                    t.created_at, t.trial_ends_at, t.schema_name, to_char(t.paid_until, 'YYYY-MM-DD') as paid_until,
                    t.billing_state as billing, t.read_only_since is not null as read_only
               from tenant t
              where ($1::text is null or t.name ilike $1 or t.slug ilike $1)
                and ($2::text is null or t.status = $2) and ($3::text is null or t.kind = $3)
                and ($6::text is null or coalesce(t.plan, 'none') = $6)
                and ($7::text is null or t.billing_state = $7)
              order by t.slug limit $4 offset $5),
           rels as (
             select n.nspname as schema_name, c.oid, c.relname, c.relkind, c.relpages, c.reltoastrelid
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname in (select schema_name from page) and c.relkind in ('r', 'i')),
           sizes as (
             select r.schema_name,
                    (sum(r.relpages + coalesce((select t.relpages from pg_class t where t.oid = r.reltoastrelid), 0))
                      * current_setting('block_size')::bigint)::bigint as bytes
               from rels r group by r.schema_name),
           counts as (
             select r.schema_name,
                    sum(pg_stat_get_live_tuples(r.oid)) filter (where r.relname = 'citizen')::bigint as citizens,
                    jsonb_object_agg(r.relname::text, pg_stat_get_live_tuples(r.oid))
                      filter (where r.relname::text = any($8)) as tables
               from rels r where r.relkind = 'r' group by r.schema_name)
           select p.id, p.slug, p.name, p.kind, p.status, p.status_reason, p.plan, p.paid_until,
                  p.billing, p.read_only as "read_only!", p.schema_version, p.created_at, p.trial_ends_at,
                  coalesce(s.bytes, 0) as "bytes!", coalesce(c.citizens, 0) as "citizens!",
                  coalesce(c.tables, '{}') as "tables!: serde_json::Value"
             from page p left join sizes s using (schema_name) left join counts c using (schema_name)
            order by p.slug"#,
        pattern,
        status,
        kind,
        limit,
        offset,
        plan,
        billing,
        &crate::components::ops_tables() as &[&str]
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// The exact size on disk of a tenant's schema (tables with their indexes and TOAST), for
/// its page in the ops console.
pub async fn schema_bytes(pool: &PgPool, tenant: &Tenant) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as "bytes!"
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = $1 and c.relkind = 'r'"#,
        tenant.schema.as_str()
    )
    .fetch_one(pool)
    .await?)
}
