//! Both migration histories: the platform schema's (sqlx's runner, one schema) and the
//! tenant schemas' (our runner, thousands of schemas, see `fleet`).

pub mod fleet;

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Executor, PgConnection, PgPool};

use crate::Result;

static PLATFORM: Migrator = sqlx::migrate!("../../migrations/platform");
static TENANT: Migrator = sqlx::migrate!("../../migrations/tenant");

/// Brings the `public` schema up to date. sqlx's runner takes a database-wide advisory lock,
/// so replicas starting together apply each migration once.
#[tracing::instrument(skip_all)]
pub async fn migrate_platform(pool: &PgPool) -> Result<()> {
    PLATFORM.run(pool).await?;
    Ok(())
}

/// Versions of the platform migrations this build knows and the database has applied.
pub async fn platform_state(pool: &PgPool) -> Result<(i64, Option<i64>)> {
    let latest = PLATFORM.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> = sqlx::query_scalar(
        "select max(version) from _sqlx_migrations where success and to_regclass('public._sqlx_migrations') is not null",
    )
    .fetch_one(pool)
    .await
    .unwrap_or(None);
    Ok((latest, applied))
}

/// The ordered set of migrations every tenant schema must have.
#[derive(Debug, Clone)]
pub struct TenantMigrations {
    migrations: Vec<Migration>,
}

impl Default for TenantMigrations {
    fn default() -> Self {
        Self::embedded()
    }
}

impl TenantMigrations {
    /// The set compiled into this binary from `migrations/tenant`.
    pub fn embedded() -> Self {
        let mut migrations: Vec<Migration> = TENANT
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .cloned()
            .collect();
        migrations.sort_by_key(|m| m.version);
        TenantMigrations { migrations }
    }

    /// Every migration's SQL, in order: what the component registry's start-up check reads
    /// to know the tenant tables.
    pub fn sql(&self) -> String {
        self.migrations
            .iter()
            .map(|m| m.sql.as_ref())
            .collect::<Vec<&str>>()
            .join("\n")
    }

    /// This set plus one more migration: how the benchmark measures a real additive
    /// migration across the fleet without shipping it.
    pub fn with_extra(mut self, version: i64, description: &str, sql: &str) -> Self {
        self.migrations.push(Migration::new(
            version,
            Cow::Owned(description.to_string()),
            MigrationType::Simple,
            Cow::Owned(sql.to_string()),
            false,
        ));
        self.migrations.sort_by_key(|m| m.version);
        self
    }

    /// The migrations of this set up to `version` included: the schema a tenant had at that
    /// version, as an archive of it needs (`fleet::archive`).
    pub fn up_to(mut self, version: i64) -> Self {
        self.migrations.retain(|m| m.version <= version);
        self
    }

    pub fn latest(&self) -> i64 {
        self.migrations.last().map(|m| m.version).unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.migrations.iter()
    }

    pub(crate) fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.version == version)
    }

    /// Applies, on a connection inside a transaction whose `search_path` is the tenant's
    /// schema, every migration not in `applied`, records them, and returns their versions.
    /// The SQL of all pending migrations goes in one round trip.
    pub(crate) async fn apply_pending(&self, conn: &mut PgConnection, applied: &[i64]) -> Result<Vec<i64>> {
        // Everything owned before the first await: references held across it make the
        // future not `Send` (rustc's higher-ranked lifetime limitation).
        let mut batch = String::new();
        let mut versions = Vec::new();
        let mut descriptions = Vec::new();
        let mut checksums = Vec::new();
        for m in self.migrations.iter().filter(|m| !applied.contains(&m.version)) {
            batch.push_str(&m.sql);
            batch.push_str("\n;\n");
            versions.push(m.version);
            descriptions.push(m.description.to_string());
            checksums.push(m.checksum.to_vec());
        }
        if versions.is_empty() {
            return Ok(vec![]);
        }
        conn.execute(batch.as_str()).await?;
        sqlx::query!(
            "insert into schema_migration (version, description, checksum)
             select * from unnest($1::bigint[], $2::text[], $3::bytea[])",
            &versions,
            &descriptions,
            &checksums
        )
        .execute(&mut *conn)
        .await?;
        Ok(versions)
    }
}

/// The history table of a tenant schema; created by the runner, not by a migration, so
/// that it exists before the first one runs.
pub(crate) const HISTORY_TABLE: &str = include_str!("../../../../migrations/tenant_history.sql");
