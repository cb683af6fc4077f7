//! Migrating every tenant schema: several at a time, each in its own transaction under its
//! own advisory lock (so two replicas running `participe migrate` together never apply the
//! same migration twice), resumable because each finished schema is committed, and a drift
//! check that reads every schema's history in one query.

use futures::StreamExt;
use sqlx::{Executor, PgPool};
use uuid::Uuid;

use super::{HISTORY_TABLE, TenantMigrations};
use crate::domain::SchemaName;
use crate::{Error, Result};

/// Where one tenant schema stands against the migrations of this build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Drift {
    UpToDate,
    /// Migrations of this build not applied yet: `participe migrate` will apply them.
    Behind {
        missing: Vec<i64>,
    },
    /// Versions applied that this build does not know: a newer release migrated it.
    Ahead {
        unknown: Vec<i64>,
    },
    /// Applied migrations whose file changed since: a landed migration was edited.
    Modified {
        versions: Vec<i64>,
    },
    /// The tenant's schema or its history table is gone.
    MissingSchema,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaState {
    pub tenant_id: Uuid,
    pub slug: String,
    pub schema: String,
    pub applied: i64,
    pub drift: Drift,
}

impl SchemaState {
    pub fn is_behind(&self) -> bool {
        !matches!(self.drift, Drift::UpToDate | Drift::Ahead { .. })
    }
}

/// Compares every tenant schema's recorded history with `set`, in one query.
#[tracing::instrument(skip_all)]
pub async fn check(pool: &PgPool, set: &TenantMigrations) -> Result<Vec<SchemaState>> {
    let rows = sqlx::query!(
        r#"select tenant_id as "tenant_id!", slug as "slug!", schema_name as "schema_name!", versions, checksums
             from tenant_migration_state()"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let missing_schema = r.versions.is_none();
            let versions = r.versions.unwrap_or_default();
            let checksums = r.checksums.unwrap_or_default();
            let drift = if missing_schema {
                Drift::MissingSchema
            } else {
                drift_of(set, &versions, &checksums)
            };
            SchemaState {
                tenant_id: r.tenant_id,
                slug: r.slug,
                schema: r.schema_name,
                applied: versions.iter().copied().max().unwrap_or(0),
                drift,
            }
        })
        .collect())
}

fn drift_of(set: &TenantMigrations, versions: &[i64], checksums: &[Vec<u8>]) -> Drift {
    let modified: Vec<i64> = versions
        .iter()
        .zip(checksums)
        .filter(|(v, sum)| set.get(**v).is_some_and(|m| m.checksum.as_ref() != sum.as_slice()))
        .map(|(v, _)| *v)
        .collect();
    if !modified.is_empty() {
        return Drift::Modified { versions: modified };
    }
    let missing: Vec<i64> = set
        .iter()
        .map(|m| m.version)
        .filter(|v| !versions.contains(v))
        .collect();
    if !missing.is_empty() {
        return Drift::Behind { missing };
    }
    let unknown: Vec<i64> = versions.iter().copied().filter(|v| set.get(*v).is_none()).collect();
    if !unknown.is_empty() {
        return Drift::Ahead { unknown };
    }
    Drift::UpToDate
}

/// What the runner tells whoever watches it (a progress bar, plain lines, nothing).
pub trait Progress: Send + Sync {
    fn start(&self, _total: usize) {}
    fn migrated(&self, _slug: &str, _versions: &[i64]) {}
    fn failed(&self, _slug: &str, _error: &Error) {}
    fn finish(&self) {}
}

/// A `Progress` that says nothing.
pub struct Quiet;
impl Progress for Quiet {}

#[derive(Debug, Default, serde::Serialize)]
pub struct FleetReport {
    pub migrated: Vec<(String, Vec<i64>)>,
    pub already_current: usize,
    pub failed: Vec<(String, String)>,
}

/// Migrates every tenant schema that is behind `set`, `jobs` schemas at a time. A failing
/// schema does not stop the others; it is reported and stays behind for the next run.
#[tracing::instrument(skip_all, fields(jobs))]
pub async fn migrate(
    pool: &PgPool,
    set: &TenantMigrations,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<FleetReport> {
    let states = check(pool, set).await?;
    let mut report = FleetReport::default();
    let mut todo = Vec::new();
    for s in states {
        match &s.drift {
            Drift::Behind { .. } => todo.push(s),
            Drift::UpToDate | Drift::Ahead { .. } => report.already_current += 1,
            Drift::Modified { versions } => report.failed.push((
                s.slug.clone(),
                format!("migrations {versions:?} changed after being applied; restore the original files"),
            )),
            Drift::MissingSchema => report
                .failed
                .push((s.slug.clone(), format!("schema {} is missing", s.schema))),
        }
    }
    progress.start(todo.len());
    let mut results = futures::stream::iter(todo)
        .map(|s| async move {
            let outcome = migrate_one(pool, set, s.tenant_id, &s.schema).await;
            (s.slug, outcome)
        })
        .buffer_unordered(jobs.max(1));
    while let Some((slug, outcome)) = results.next().await {
        match outcome {
            Ok(versions) => {
                progress.migrated(&slug, &versions);
                if versions.is_empty() {
                    report.already_current += 1;
                } else {
                    report.migrated.push((slug, versions));
                }
            }
            Err(e) => {
                tracing::warn!(tenant = %slug, error = %e, "tenant migration failed");
                progress.failed(&slug, &e);
                report.failed.push((slug, e.to_string()));
            }
        }
    }
    progress.finish();
    report.migrated.sort();
    Ok(report)
}

/// Migrates one schema under its advisory lock; re-reads the history once the lock is held,
/// because another runner may have done the work meanwhile.
#[tracing::instrument(skip_all, fields(schema = %schema))]
pub async fn migrate_one(pool: &PgPool, set: &TenantMigrations, tenant_id: Uuid, schema: &str) -> Result<Vec<i64>> {
    let schema = SchemaName::from_registry(schema).map_err(|e| Error::invalid("schema", e.0))?;
    let mut tx = pool.begin().await?;
    let versions = migrate_schema(&mut tx, set, tenant_id, &schema).await?;
    tx.commit().await?;
    Ok(versions)
}

/// What [`migrate_one`] does, inside a transaction the caller owns (an archive's import
/// migrates the schema it has just loaded before committing anything). Leaves the
/// transaction's `search_path` on the schema.
pub(crate) async fn migrate_schema(
    conn: &mut sqlx::PgConnection,
    set: &TenantMigrations,
    tenant_id: Uuid,
    schema: &SchemaName,
) -> Result<Vec<i64>> {
    // The lock first (left to right), then the schema's path for the rest of the transaction.
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('participe:migrate:' || $1::text, 0)),
                set_config('search_path', $1, true)",
        schema.as_str()
    )
    .fetch_one(&mut *conn)
    .await?;
    conn.execute(HISTORY_TABLE).await?;
    let applied: Vec<i64> = sqlx::query_scalar!("select version from schema_migration")
        .fetch_all(&mut *conn)
        .await?;
    let versions = set.apply_pending(conn, &applied).await?;
    if !versions.is_empty() {
        let latest = applied.iter().chain(&versions).copied().max().unwrap_or(0);
        sqlx::query!(
            "update public.tenant set schema_version = $2 where id = $1",
            tenant_id,
            latest
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(versions)
}

/// Applies the whole set to a brand-new schema inside the provisioning transaction.
pub(crate) async fn install(conn: &mut sqlx::PgConnection, set: &TenantMigrations, schema: &SchemaName) -> Result<i64> {
    sqlx::query!("select set_config('search_path', $1, true)", schema.as_str())
        .fetch_one(&mut *conn)
        .await?;
    conn.execute(HISTORY_TABLE).await?;
    set.apply_pending(conn, &[]).await?;
    sqlx::query!("select set_config('search_path', 'public', true)")
        .fetch_one(&mut *conn)
        .await?;
    Ok(set.latest())
}
