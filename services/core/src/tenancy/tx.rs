use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::Tenant;

/// The only way to a tenant's tables: a transaction whose `search_path` is the tenant's
/// schema and nothing else, set with `set_config(.., is_local => true)` so it ends with the
/// transaction. A pooled connection therefore never carries one tenant's path into another
/// request; the pool's reset-on-release (`db::connect`) is the second guard.
///
/// Tenant queries take `&mut TenantTx` and run on [`TenantTx::conn`]. Dropping a `TenantTx`
/// without [`TenantTx::commit`] rolls it back.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    tenant: Tenant,
}

impl TenantTx {
    #[tracing::instrument(name = "tenant_tx.begin", skip_all, fields(tenant = %tenant.slug))]
    pub async fn begin(pool: &PgPool, tenant: &Tenant) -> Result<Self, sqlx::Error> {
        // BEGIN and set_config travel in one round trip. The schema name cannot be a bind
        // parameter in a simple-protocol batch; it is a `SchemaName`, whose alphabet
        // ([a-z0-9_], checked again when read from the registry) needs no escaping.
        let begin = format!(
            "begin; select set_config('search_path', '{}', true)",
            tenant.schema.as_str()
        );
        let tx = pool.begin_with(begin).await?;
        Ok(TenantTx {
            tx,
            tenant: tenant.clone(),
        })
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The connection to run tenant queries on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}
