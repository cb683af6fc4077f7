//! Tenant exports started from the ops console: the request (a `tenant_export` row and its
//! job, in one transaction), the job itself (the same archive as `participe tenant export`,
//! written to a temporary file, then stored under `exports/<tenant id>/<id>.tar.gz`), and
//! the list operators download from. Archives hold personal data: only the ops console
//! serves them, and every download is written to the platform audit log.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::Slug;
use crate::fleet::archive;
use crate::jobs::{self, Kind};
use crate::{Error, Result};
use participe_storage::Storage;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Export {
    pub id: i64,
    pub tenant_id: Uuid,
    pub requested_by: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub storage_key: Option<String>,
    pub bytes: Option<i64>,
    /// The last attempt's error (a pending export is tried again).
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// Queues an export of the tenant; returns its id.
pub async fn request(pool: &PgPool, slug: &Slug, actor: &str) -> Result<i64> {
    let mut tx = pool.begin().await?;
    let tenant_id = sqlx::query_scalar!("select id from tenant where slug = $1", slug.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::NotFound(format!("aucun portail « {slug} »")))?;
    let id = sqlx::query_scalar!(
        "insert into tenant_export (tenant_id, requested_by) values ($1, $2) returning id",
        tenant_id,
        actor
    )
    .fetch_one(&mut *tx)
    .await?;
    jobs::enqueue(
        &mut tx,
        Some(tenant_id),
        Kind::TenantExport,
        serde_json::json!({ "export": id }),
        0,
    )
    .await?;
    crate::platform_audit::record(
        &mut tx,
        actor,
        "tenant.export",
        Some(tenant_id),
        serde_json::json!({ "export": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The storage key of an export's archive.
pub fn key(tenant_id: Uuid, id: i64) -> String {
    format!("exports/{tenant_id}/{id}.tar.gz")
}

/// Runs the export `id` (the job's work). Safe to run again: a finished export is left as
/// it is, and an archive stored by an attempt that died before recording it is replaced.
/// On the job's last attempt a failure marks the export failed; before, it keeps the error
/// and stays pending.
pub async fn run(pool: &PgPool, storage: &Storage, id: i64, last_attempt: bool) -> Result<()> {
    let Some(row) = sqlx::query!(
        "select e.state, e.tenant_id, t.slug from tenant_export e join tenant t on t.id = e.tenant_id where e.id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    else {
        // The tenant, and its exports with it, were deleted: nothing to do.
        return Ok(());
    };
    if row.state == "done" {
        return Ok(());
    }
    let outcome = archive_to_storage(pool, storage, &row.slug, row.tenant_id, id).await;
    match outcome {
        Ok((key, bytes)) => {
            sqlx::query!(
                "update tenant_export set state = 'done', storage_key = $2, bytes = $3, error = null,
                        finished_at = now() where id = $1",
                id,
                key,
                bytes
            )
            .execute(pool)
            .await?;
            Ok(())
        }
        Err(error) => {
            sqlx::query!(
                "update tenant_export set error = $2,
                        state = case when $3 then 'failed' else state end,
                        finished_at = case when $3 then now() end
                  where id = $1",
                id,
                error.to_string(),
                last_attempt
            )
            .execute(pool)
            .await?;
            Err(error)
        }
    }
}

async fn archive_to_storage(
    pool: &PgPool,
    storage: &Storage,
    slug: &str,
    tenant_id: Uuid,
    id: i64,
) -> Result<(String, i64)> {
    let slug = Slug::parse(slug).map_err(|e| Error::Failed(e.0))?;
    // The archive is written beside its spooled tables, in the temporary directory
    // (`TMPDIR`), then copied to the storage; the directory goes when this ends, crash or not
    // (an orphan left by a killed process is in `TMPDIR`, which a restart clears).
    let io = |e: std::io::Error| Error::Failed(format!("fichier temporaire de l'export : {e}"));
    let dir = tempfile::Builder::new()
        .prefix("participe-export-")
        .tempdir()
        .map_err(io)?;
    let file = dir.path().join("archive.tar.gz");
    archive::export(pool, storage, &slug, &file)
        .await
        .map_err(|e| Error::Failed(format!("export : {e}")))?;
    let bytes = i64::try_from(tokio::fs::metadata(&file).await.map_err(io)?.len()).unwrap_or(i64::MAX);
    let key = key(tenant_id, id);
    storage
        .put_file(&key, &file)
        .await
        .map_err(|e| Error::Failed(format!("stockage de l'archive : {e}")))?;
    Ok((key, bytes))
}

/// A tenant's exports, newest first.
pub async fn list(pool: &PgPool, tenant_id: Uuid, limit: i64) -> Result<Vec<Export>> {
    Ok(sqlx::query_as!(
        Export,
        "select id, tenant_id, requested_by, state, storage_key, bytes, error, created_at, finished_at
           from tenant_export where tenant_id = $1 order by id desc limit $2",
        tenant_id,
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// A finished export of the tenant, for download; records who downloaded it.
pub async fn for_download(pool: &PgPool, tenant_id: Uuid, id: i64, actor: &str) -> Result<Option<Export>> {
    let mut tx = pool.begin().await?;
    let export = sqlx::query_as!(
        Export,
        "select id, tenant_id, requested_by, state, storage_key, bytes, error, created_at, finished_at
           from tenant_export where tenant_id = $1 and id = $2 and state = 'done'",
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if export.is_some() {
        crate::platform_audit::record(
            &mut tx,
            actor,
            "tenant.export_download",
            Some(tenant_id),
            serde_json::json!({ "export": id }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(export)
}
