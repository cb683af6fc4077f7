//! The platform's audit log (`platform_audit`): who did what to which tenant — operators,
//! the CLI, billing, provisioning. Below every module that writes to it.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::Result;

/// Appends a line to the platform audit log, inside the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    tenant_id: Option<Uuid>,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "insert into platform_audit (actor, action, tenant_id, detail) values ($1, $2, $3, $4)",
        actor,
        action,
        tenant_id,
        detail
    )
    .execute(conn)
    .await?;
    Ok(())
}
