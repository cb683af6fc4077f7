//! Backup and restore of one tenant: `participe tenant export <slug> FILE` and
//! `participe tenant import FILE --slug <new>`.
//!
//! **The archive** is a tar file compressed with gzip (`.tar.gz`), readable with `tar xzf`:
//!
//! - `manifest.json`, always the first entry: format and version, the source tenant's
//!   registry row (id, slug, name, kind, INSEE code, SIREN, population, trial end, plan,
//!   status), the schema version and its migration history (version, description,
//!   checksum), every table with its columns, row count, size and SHA-256, every sequence's
//!   position, every uploaded file with its size and SHA-256, and the list of what is *not*
//!   carried over ([`NOT_INCLUDED`]);
//! - `tables/<table>.copy`: the table's rows as PostgreSQL's `COPY … TO STDOUT` text format
//!   (one line per row, tab-separated, `\N` for null), with the column list of the manifest.
//!   Text rather than binary because it is the format `pg_dump` itself relies on across
//!   PostgreSQL versions, and a person can read it; the session settings that shape it
//!   (date style, interval style, float digits, bytea output, time zone) are fixed for both
//!   the export and the import;
//! - `files/<path>`: the tenant's uploaded files, `<path>` being the key under
//!   `tenants/<tenant id>/` in the storage.
//!
//! The archive holds personal data (citizens' addresses and password hashes): it is created
//! readable by its owner only (0600).
//!
//! **Export** reads the registry row, the catalog, the sequences and every table in one
//! `REPEATABLE READ, READ ONLY` transaction, so the tables agree with each other and with the
//! recorded schema version even while the portal is in use. Its first statement takes the
//! schema's migration lock in shared mode, so `participe migrate` does not change the schema
//! during the export (and the export waits for a migration in progress). That transaction is
//! opened here rather than with `TenantTx::begin`, whose `begin` cannot carry an isolation
//! level; every statement names the schema explicitly (`"t_x"."table"`), identifiers coming
//! from the catalog of a checked `SchemaName` and double-quoted. Uploaded files are read after
//! the tables: a logo replaced during the export may be missing (run it again). The rows and
//! files are spooled to anonymous temporary files (unlinked from the start, so a crash leaves
//! none), then the archive is written to `FILE.partial`, flushed to disk, and renamed to
//! `FILE`: a crash at any point leaves no `FILE`, at most a `FILE.partial`, which the next
//! export overwrites. An existing `FILE` is never overwritten. (The spooled rows sit beside
//! `FILE` until it is written: plan for about twice the archive's uncompressed size there.)
//!
//! **Import** first reads the whole archive into anonymous temporary files (in `TMPDIR`),
//! checking every entry against the manifest (name, size, SHA-256, nothing missing or extra,
//! the gzip checksum to the end) and the manifest against this build: a format or a schema
//! newer than this release's migrations, or a history that differs from them, is refused
//! before the database is touched. Then everything happens in **one database transaction**: the registry
//! row and the schema created by the provisioning code with this build's migrations up to the
//! archive's version ([`TenantMigrations::up_to`]), the source's registry state (status,
//! plan, trial end), the tables emptied of what those migrations seeded and loaded with
//! `COPY … FROM STDIN` in foreign-key order, the sequences set, storage keys rewritten to the
//! new tenant's id, then the fleet runner's per-schema migration up to this build's latest,
//! and the audit line. PostgreSQL's DDL is transactional: an error, a lost connection or a
//! killed process before the commit leaves no registry row and no schema.
//!
//! Loading needs no superuser: while the tables load, their user triggers are disabled with
//! `alter table … disable trigger user` (allowed to the owner of the tables, which the
//! importing role is since it creates the schema), so that the journal's append-only trigger,
//! `updated_at` and change notifications stay out of the way; foreign keys stay checked, which
//! is why tables load parents first (rows of one table referring to each other are checked at
//! the end of their `COPY`). `session_replication_role = replica` would skip the foreign-key
//! checks too, but needs a superuser (or a PostgreSQL 15 `grant set`), which production roles
//! are not.
//!
//! **Files and keys.** Storage keys embed the tenant's id (`tenants/<id>/…`), and tables hold
//! keys (`settings.logo_path`). The new tenant has a new id: its files are stored under it,
//! and every text, JSON or text-array value that contains `tenants/<old id>/` is rewritten to
//! `tenants/<new id>/` during the load (a UUID cannot appear there by chance). Files are
//! written to the storage before the transaction commits, so the tenant never exists without
//! them; a failed import deletes what it wrote, and a crash leaves files under an id that no
//! tenant has, unreachable (object storage lifecycle rules or a later sweep may remove them).
//!
//! **Not carried over**: see [`NOT_INCLUDED`]. A new slug makes a new tenant: staff
//! memberships and invitations, custom domains, the parent link, the platform audit log and
//! sessions stay with the platform and the source tenant. Citizens' accounts, contributions,
//! comments, reports, pages, settings and the staff journal are in the tenant's schema and
//! come back as they were.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use participe_storage::Storage;
use sha2::{Digest, Sha256};
use sqlx::{Executor, PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{provisioning, registry};
use crate::domain::{InseeCode, SchemaName, Siren, Slug, TenantKind};
use crate::migrations::{TenantMigrations, fleet};
use crate::tenancy::Tenant;

/// `format` of every manifest.
pub const FORMAT: &str = "participe-tenant-archive";
/// Bumped when a change would mislead an older reader; older formats stay readable.
pub const FORMAT_VERSION: u32 = 1;
/// How tables are written: PostgreSQL's `COPY` text format.
pub const TABLE_FORMAT: &str = "postgresql-copy-text";

const MANIFEST: &str = "manifest.json";
/// A manifest is small; a bigger one is not ours.
const MANIFEST_MAX_BYTES: u64 = 64 << 20;

/// What an archive does not carry, written into every manifest (and the operations guide).
pub const NOT_INCLUDED: &[&str] = &[
    "staff memberships and pending invitations (public.membership, public.invitation): staff accounts belong to the platform; invite the tenant's staff to the new tenant",
    "custom domains (public.tenant_domain): they stay with the exported tenant; attach them to the new one once the old one lets go of them",
    "the link to a parent tenant (public.tenant.parent_id); the parent's slug is recorded in source.parent",
    "the platform audit log, scheduled moderation mails and sessions (public.platform_audit, public.moderation_notice, public.web_session): citizens and staff sign in again",
    "the schema's migration history table (schema_migration): recreated on import from the release's own migrations, checked against the versions and checksums recorded in migrations",
];

/// Session settings that shape the text of `COPY`: fixed on both sides.
const COPY_SETTINGS: &str = "set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; \
     set local extra_float_digits = 3; set local bytea_output = 'hex'; set local timezone = 'UTC'";

/// Why an export or an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A database error, an unknown tenant, or a slug already taken (`Invalid` on `slug`).
    #[error("{0}")]
    Core(#[from] crate::Error),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Not an archive, a damaged one, or one this build cannot restore.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The uploaded files' storage.
    #[error("uploaded files: {0}")]
    Storage(#[from] participe_storage::Error),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        ArchiveError::Core(crate::Error::Database(e))
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// The release that wrote it.
    pub participe_version: String,
    pub source: SourceTenant,
    /// Highest tenant migration applied to the exported schema.
    pub schema_version: i64,
    /// The exported schema's migration history.
    pub migrations: Vec<MigrationRecord>,
    pub table_format: String,
    pub tables: Vec<TableRecord>,
    pub sequences: Vec<SequenceRecord>,
    pub files: Vec<FileRecord>,
    pub not_included: Vec<String>,
}

/// The exported tenant's registry row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceTenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub insee_code: Option<String>,
    pub siren: Option<String>,
    pub population: Option<i32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub trial_ends_at: Option<OffsetDateTime>,
    pub plan: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Recorded for information; not restored.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MigrationRecord {
    pub version: i64,
    pub description: String,
    /// Hex of the checksum sqlx computes for the migration's file (SHA-384).
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableRecord {
    pub name: String,
    /// In the order of the `COPY` lines.
    pub columns: Vec<String>,
    pub rows: u64,
    pub entry: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceRecord {
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileRecord {
    /// The key under `tenants/<tenant id>/`.
    pub path: String,
    pub entry: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// `FILE.partial`: where an export writes before the rename.
pub fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    file.with_file_name(name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A double-quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Table names become entry names: kept to what a path segment can safely be.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A file's path under the tenant's folder, as storage keys allow (no `..`, no empty part).
fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        })
}

fn tenant_folder(id: Uuid) -> String {
    format!("tenants/{id}/")
}

/// An anonymous temporary file (unlinked at once: nothing outlives the process) and what
/// was written to it.
struct Spooled {
    file: std::fs::File,
    bytes: u64,
}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

/// Writes the archive of the tenant `slug` to `file` (see the module's documentation);
/// returns its manifest.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn export(pool: &PgPool, storage: &Storage, slug: &Slug, file: &Path) -> Result<Manifest, ArchiveError> {
    if tokio::fs::symlink_metadata(file).await.is_ok() {
        return Err(invalid(file, "already exists; remove it or choose another file name"));
    }
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let meta = tokio::fs::metadata(&dir).await.map_err(io_error(&dir))?;
    if !meta.is_dir() {
        return Err(invalid(&dir, "not a directory"));
    }

    let (manifest, parts) = snapshot(pool, storage, slug, &dir).await?;

    let file = file.to_path_buf();
    let written = manifest.clone();
    tokio::task::spawn_blocking(move || write_archive(&file, &written, parts))
        .await
        .map_err(|e| ArchiveError::Io {
            path: PathBuf::from("archive writer"),
            source: io::Error::other(e),
        })??;
    tracing::info!(tenant = %slug, rows = manifest.rows(), files = manifest.files.len(), "tenant exported");
    Ok(manifest)
}

/// Reads everything in one consistent snapshot, spooling rows and files to temporary files
/// in `dir`. Returns the manifest and the entries in archive order after it.
async fn snapshot(
    pool: &PgPool,
    storage: &Storage,
    slug: &Slug,
    dir: &Path,
) -> Result<(Manifest, Vec<(String, Spooled)>), ArchiveError> {
    let mut tx = pool
        .begin_with("begin isolation level repeatable read, read only")
        .await?;
    // The first statement takes the snapshot, and the schema's migration lock in shared mode.
    let t = sqlx::query!(
        r#"select pg_advisory_xact_lock_shared(hashtextextended('participe:migrate:' || t.schema_name, 0)) as "locked",
                  t.id, t.slug, t.name, t.kind, t.insee_code, t.siren, t.population, t.trial_ends_at, t.plan,
                  t.status, t.status_reason, t.schema_name, t.created_at, p.slug as "parent?"
             from public.tenant t left join public.tenant p on p.id = t.parent_id
            where t.slug = $1"#,
        slug.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| crate::Error::NotFound(format!("aucun portail « {slug} »")))?;
    let schema = SchemaName::from_registry(&t.schema_name).map_err(|e| crate::Error::invalid("schema", e.0))?;
    tx.execute(COPY_SETTINGS).await?;

    let has_history: bool = sqlx::query_scalar("select to_regclass($1) is not null")
        .bind(format!("{}.schema_migration", schema.quoted()))
        .fetch_one(&mut *tx)
        .await?;
    if !has_history {
        return Err(crate::Error::NotFound(format!("le schéma {schema} du portail « {slug} » est introuvable")).into());
    }
    let history: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(&format!(
        "select version, description, checksum from {}.schema_migration order by version",
        schema.quoted()
    ))
    .fetch_all(&mut *tx)
    .await?;
    let schema_version = history.iter().map(|h| h.0).max().unwrap_or(0);

    let tables = catalog_tables(&mut tx, &schema).await?;
    let sequence_names: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind = 'S' order by c.relname",
    )
    .bind(schema.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut sequences = Vec::new();
    for name in sequence_names {
        let (last_value, is_called): (i64, bool) = sqlx::query_as(&format!(
            "select last_value, is_called from {}.{}",
            schema.quoted(),
            ident(&name)
        ))
        .fetch_one(&mut *tx)
        .await?;
        sequences.push(SequenceRecord {
            name,
            last_value,
            is_called,
        });
    }

    let mut parts = Vec::new();
    let mut table_records = Vec::new();
    for (name, columns) in tables {
        if !plain_name(&name) {
            return Err(invalid(
                Path::new(&name),
                "table name unsuitable for an archive entry (letters, digits and _ only)",
            ));
        }
        let statement = format!(
            "copy {}.{} ({}) to stdout",
            schema.quoted(),
            ident(&name),
            columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        );
        let std_file = tempfile::tempfile_in(dir).map_err(io_error(dir))?;
        let mut out = tokio::fs::File::from_std(std_file);
        let mut hasher = Sha256::new();
        let (mut bytes, mut rows) = (0u64, 0u64);
        {
            let mut stream = tx.copy_out_raw(&statement).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
                // Text format: one line per row, newlines inside values escaped as `\n`.
                rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                out.write_all(&chunk).await.map_err(io_error(dir))?;
            }
        }
        out.flush().await.map_err(io_error(dir))?;
        let entry = format!("tables/{name}.copy");
        table_records.push(TableRecord {
            name,
            columns,
            rows,
            entry: entry.clone(),
            bytes,
            sha256: hex(&hasher.finalize()),
        });
        parts.push((
            entry,
            Spooled {
                file: out.into_std().await,
                bytes,
            },
        ));
    }
    tx.rollback().await?;

    // Files, after the rows: a key the rows name was stored before they were written.
    let folder = tenant_folder(t.id);
    let mut files = Vec::new();
    for key in storage.list(&folder).await? {
        let Some(path) = key.strip_prefix(&folder).filter(|p| plain_path(p)) else {
            continue;
        };
        let Some(content) = storage.get(&key).await? else {
            // Deleted since the listing (a logo replaced meanwhile).
            continue;
        };
        let mut std_file = tempfile::tempfile_in(dir).map_err(io_error(dir))?;
        std_file.write_all(&content).map_err(io_error(dir))?;
        let entry = format!("files/{path}");
        files.push(FileRecord {
            path: path.to_string(),
            entry: entry.clone(),
            bytes: content.len() as u64,
            sha256: hex(&Sha256::digest(&content)),
        });
        parts.push((
            entry,
            Spooled {
                file: std_file,
                bytes: content.len() as u64,
            },
        ));
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        exported_at: OffsetDateTime::now_utc(),
        participe_version: env!("CARGO_PKG_VERSION").into(),
        source: SourceTenant {
            id: t.id,
            slug: t.slug,
            name: t.name,
            kind: t.kind,
            insee_code: t.insee_code,
            siren: t.siren,
            population: t.population,
            trial_ends_at: t.trial_ends_at,
            plan: t.plan,
            status: t.status,
            status_reason: t.status_reason,
            created_at: t.created_at,
            parent: t.parent,
        },
        schema_version,
        migrations: history
            .into_iter()
            .map(|(version, description, checksum)| MigrationRecord {
                version,
                description,
                checksum: hex(&checksum),
            })
            .collect(),
        table_format: TABLE_FORMAT.into(),
        tables: table_records,
        sequences,
        files,
        not_included: NOT_INCLUDED.iter().map(|s| s.to_string()).collect(),
    };
    Ok((manifest, parts))
}

/// Tables of `schema` but the migration history, each with its columns in order (generated
/// columns left out: they are computed again), sorted by name.
async fn catalog_tables(
    conn: &mut PgConnection,
    schema: &SchemaName,
) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    sqlx::query_as(
        "select c.relname::text,
                array(select a.attname::text from pg_attribute a
                       where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
                       order by a.attnum)
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind = 'r' and c.relname <> 'schema_migration'
          order by c.relname",
    )
    .bind(schema.as_str())
    .fetch_all(conn)
    .await
}

/// Writes `FILE.partial`, flushes it to disk, renames it to `FILE`.
fn write_archive(file: &Path, manifest: &Manifest, parts: Vec<(String, Spooled)>) -> Result<(), ArchiveError> {
    let partial = partial_path(file);
    let io = io_error(&partial);
    let result = (|| -> io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let out = options.open(&partial)?;
        let gz = flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = manifest.exported_at.unix_timestamp().max(0) as u64;
        let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
        append(&mut tar, MANIFEST, json.len() as u64, mtime, &json[..])?;
        for (entry, mut spooled) in parts {
            spooled.file.rewind()?;
            let reader = BufReader::new(&spooled.file).take(spooled.bytes);
            append(&mut tar, &entry, spooled.bytes, mtime, reader)?;
        }
        let gz = tar.into_inner()?;
        let out = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(io(e));
    }
    std::fs::rename(&partial, file).map_err(io_error(file))?;
    // The rename itself reaches the disk with its directory.
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, size: u64, mtime: u64, data: impl Read) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
}

// ---------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub tenant: Tenant,
    pub manifest: Manifest,
    /// Migrations applied after loading (the archive was older than this build).
    pub migrated: Vec<i64>,
    pub schema_version: i64,
}

/// Restores the archive `file` as a new tenant `slug` (see the module's documentation).
/// `set` is this build's tenant migrations.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn import(
    pool: &PgPool,
    storage: &Storage,
    set: &TenantMigrations,
    file: &Path,
    slug: &Slug,
    actor: &str,
) -> Result<ImportReport, ArchiveError> {
    // Cheap refusals first; provisioning checks the slug again inside the transaction.
    if registry::find_by_slug(pool, slug).await?.is_some() {
        return Err(slug_taken(slug).into());
    }
    let path = file.to_path_buf();
    let checked = set.clone();
    let (manifest, mut parts) = tokio::task::spawn_blocking(move || read_archive(&path, &checked))
        .await
        .map_err(|e| ArchiveError::Io {
            path: file.to_path_buf(),
            source: io::Error::other(e),
        })??;
    let new = new_tenant(&manifest, slug).map_err(|m| invalid(file, m))?;

    let mut tx = pool.begin().await?;
    let tenant = provisioning::provision_in(&mut tx, &set.clone().up_to(manifest.schema_version), &new, actor).await?;
    let s = &manifest.source;
    sqlx::query!(
        "update tenant set status = $2, status_reason = $3, plan = $4, trial_ends_at = $5 where id = $1",
        tenant.id,
        s.status,
        s.status_reason,
        s.plan,
        s.trial_ends_at
    )
    .execute(&mut *tx)
    .await?;
    load(&mut tx, &tenant, &manifest, &mut parts, file).await?;
    let migrated = fleet::migrate_schema(&mut tx, set, tenant.id, &tenant.schema).await?;
    sqlx::query!("select set_config('search_path', 'public', true)")
        .fetch_one(&mut *tx)
        .await?;
    crate::platform_audit::record(
        &mut tx,
        actor,
        "tenant.import",
        Some(tenant.id),
        serde_json::json!({
            "slug": tenant.slug,
            "source": { "id": s.id, "slug": s.slug },
            "exported_at": manifest.exported_at.format(&time::format_description::well_known::Rfc3339).ok(),
            "schema_version": manifest.schema_version,
            "migrated": migrated,
            "rows": manifest.rows(),
            "files": manifest.files.len(),
        }),
    )
    .await?;

    // Files go in before the commit, so the tenant never exists without them.
    let folder = tenant_folder(tenant.id);
    let mut stored = Vec::new();
    let mut outcome: Result<(), ArchiveError> = Ok(());
    for record in &manifest.files {
        let key = format!("{folder}{}", record.path);
        let content = match parts.remove(&record.entry) {
            Some(mut spooled) => read_spooled(&mut spooled.file).map_err(io_error(file)),
            None => Err(invalid(file, format!("{} is missing", record.entry))),
        };
        let put = match content {
            Ok(content) => storage.put(&key, &content).await.map_err(ArchiveError::from),
            Err(e) => Err(e),
        };
        match put {
            Ok(()) => stored.push(key),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if outcome.is_ok() {
        outcome = tx.commit().await.map_err(ArchiveError::from);
    }
    if let Err(e) = outcome {
        for key in &stored {
            let _ = storage.delete(key).await;
        }
        return Err(e);
    }
    let schema_version = migrated.last().copied().unwrap_or(manifest.schema_version);
    tracing::info!(tenant = %tenant.slug, source = %manifest.source.slug, "tenant imported");
    Ok(ImportReport {
        tenant,
        manifest,
        migrated,
        schema_version,
    })
}

fn slug_taken(slug: &Slug) -> crate::Error {
    crate::Error::invalid("slug", format!("le nom court « {slug} » est déjà utilisé"))
}

fn read_spooled(file: &mut std::fs::File) -> io::Result<Vec<u8>> {
    file.rewind()?;
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    Ok(content)
}

/// The registry row of the new tenant, from the source's (no domains, parent or owner).
fn new_tenant(manifest: &Manifest, slug: &Slug) -> Result<provisioning::NewTenant, String> {
    let s = &manifest.source;
    let kind: TenantKind = s.kind.parse().map_err(|e| format!("source.kind: {e}"))?;
    let insee_code = s
        .insee_code
        .as_deref()
        .map(|c| InseeCode::parse(kind, c))
        .transpose()
        .map_err(|e| format!("source.insee_code: {e}"))?;
    let siren = s
        .siren
        .as_deref()
        .map(Siren::parse)
        .transpose()
        .map_err(|e| format!("source.siren: {e}"))?;
    Ok(provisioning::NewTenant {
        slug: slug.clone(),
        name: s.name.clone(),
        kind,
        insee_code,
        siren,
        parent: None,
        domains: vec![],
        population: s.population,
        owner: None,
        trial_days: None,
    })
}

/// Reads and checks the whole archive: the manifest against this build's migrations, every
/// entry against the manifest. Returns the entries spooled to temporary files.
fn read_archive(file: &Path, set: &TenantMigrations) -> Result<(Manifest, HashMap<String, Spooled>), ArchiveError> {
    let not_archive = |e: io::Error| invalid(file, format!("not a Participe tenant archive ({e})"));
    let input = std::fs::File::open(file).map_err(io_error(file))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(input)));
    let mut entries = archive.entries().map_err(not_archive)?;

    let manifest: Manifest = {
        let entry = entries
            .next()
            .ok_or_else(|| invalid(file, "not a Participe tenant archive (empty)"))?
            .map_err(not_archive)?;
        let name = entry.path_bytes().into_owned();
        if name != MANIFEST.as_bytes() {
            return Err(invalid(
                file,
                format!("not a Participe tenant archive (its first entry is not {MANIFEST})"),
            ));
        }
        let mut json = Vec::new();
        entry
            .take(MANIFEST_MAX_BYTES)
            .read_to_end(&mut json)
            .map_err(not_archive)?;
        let value: serde_json::Value = serde_json::from_slice(&json)
            .map_err(|e| invalid(file, format!("not a Participe tenant archive ({MANIFEST}: {e})")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(invalid(
                file,
                format!("not a Participe tenant archive ({MANIFEST} is not {FORMAT:?})"),
            ));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) {
            return Err(invalid(
                file,
                format!(
                    "archive format {version} is newer than this release reads ({FORMAT_VERSION}): import it with a newer Participe"
                ),
            ));
        }
        serde_json::from_value(value).map_err(|e| invalid(file, format!("damaged {MANIFEST}: {e}")))?
    };
    check_manifest(&manifest, set).map_err(|m| invalid(file, m))?;

    let mut expected: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for (entry, bytes, sha) in manifest
        .tables
        .iter()
        .map(|t| (&t.entry, t.bytes, &t.sha256))
        .chain(manifest.files.iter().map(|f| (&f.entry, f.bytes, &f.sha256)))
    {
        if expected.insert(entry, (bytes, sha)).is_some() {
            return Err(invalid(file, format!("damaged {MANIFEST}: {entry} listed twice")));
        }
    }
    let temp = std::env::temp_dir();
    let mut parts = HashMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| invalid(file, format!("damaged archive ({e})")))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(&(bytes, sha)) = expected.get(name.as_str()) else {
            return Err(invalid(file, format!("damaged archive: unexpected entry {name}")));
        };
        if parts.contains_key(&name) {
            return Err(invalid(file, format!("damaged archive: {name} appears twice")));
        }
        if entry.header().entry_type() != tar::EntryType::Regular || entry.size() != bytes {
            return Err(invalid(
                file,
                format!("damaged archive: {name} is not the file the manifest describes"),
            ));
        }
        let spool = tempfile::tempfile_in(&temp).map_err(io_error(&temp))?;
        let mut writer = HashingWriter {
            inner: BufWriter::new(spool),
            hasher: Sha256::new(),
            bytes: 0,
        };
        io::copy(&mut entry.take(bytes), &mut writer).map_err(|e| invalid(file, format!("damaged archive ({e})")))?;
        let HashingWriter {
            inner,
            hasher,
            bytes: read,
        } = writer;
        let spool = inner.into_inner().map_err(|e| io_error(&temp)(e.into_error()))?;
        let digest = hex(&hasher.finalize());
        if read != bytes || digest != sha {
            return Err(invalid(
                file,
                format!("damaged archive: {name} does not match its checksum"),
            ));
        }
        parts.insert(name, Spooled { file: spool, bytes });
    }
    if let Some(missing) = expected.keys().find(|k| !parts.contains_key(**k)) {
        return Err(invalid(file, format!("damaged archive: {missing} is missing")));
    }
    // Read to the end, so that gzip's own checksum is verified too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| invalid(file, format!("damaged archive ({e})")))?;
    Ok((manifest, parts))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether this build can restore the archive: a known format, and a schema history that is
/// exactly this build's migrations up to the archive's version.
fn check_manifest(manifest: &Manifest, set: &TenantMigrations) -> Result<(), String> {
    if manifest.table_format != TABLE_FORMAT {
        return Err(format!("unknown table format {:?}", manifest.table_format));
    }
    let latest = set.latest();
    if manifest.schema_version > latest {
        return Err(format!(
            "the archive's schema is at version {}, newer than this release's migrations (version {latest}): import it with a newer Participe",
            manifest.schema_version
        ));
    }
    let recorded: BTreeSet<i64> = manifest.migrations.iter().map(|m| m.version).collect();
    if recorded.iter().max().copied().unwrap_or(0) != manifest.schema_version {
        return Err(format!(
            "damaged {MANIFEST}: schema_version {} does not match its migrations",
            manifest.schema_version
        ));
    }
    for m in &manifest.migrations {
        match set.get(m.version) {
            None => {
                return Err(format!(
                    "the archive's schema has migration {} ({}), which this release does not know",
                    m.version, m.description
                ));
            }
            Some(ours) if hex(&ours.checksum) != m.checksum => {
                return Err(format!(
                    "the archive's migration {} ({}) differs from this release's",
                    m.version, m.description
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(gap) = set
        .iter()
        .map(|m| m.version)
        .find(|v| *v <= manifest.schema_version && !recorded.contains(v))
    {
        return Err(format!(
            "the archive's schema lacks migration {gap}, which this release applies before version {}",
            manifest.schema_version
        ));
    }
    for t in &manifest.tables {
        if !plain_name(&t.name) || t.entry != format!("tables/{}.copy", t.name) || t.columns.is_empty() {
            return Err(format!("damaged {MANIFEST}: table {:?}", t.name));
        }
    }
    for f in &manifest.files {
        if !plain_path(&f.path) || f.entry != format!("files/{}", f.path) {
            return Err(format!("damaged {MANIFEST}: file {:?}", f.path));
        }
    }
    Ok(())
}

/// Replaces what the migrations seeded with the archive's rows, in the new schema, inside the
/// import's transaction.
async fn load(
    conn: &mut PgConnection,
    tenant: &Tenant,
    manifest: &Manifest,
    parts: &mut HashMap<String, Spooled>,
    file: &Path,
) -> Result<(), ArchiveError> {
    let schema = &tenant.schema;
    sqlx::query("select set_config('search_path', $1, true)")
        .bind(schema.as_str())
        .fetch_one(&mut *conn)
        .await?;
    conn.execute(COPY_SETTINGS).await?;

    // The schema this build made at the archive's version must have the archive's tables.
    let tables: BTreeMap<String, Vec<String>> = catalog_tables(conn, schema).await?.into_iter().collect();
    let archived: BTreeMap<&str, &TableRecord> = manifest.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    for (name, columns) in &tables {
        match archived.get(name.as_str()) {
            None => {
                return Err(invalid(
                    file,
                    format!(
                        "the archive has no table {name}, which schema version {} has",
                        manifest.schema_version
                    ),
                ));
            }
            Some(t) if &t.columns != columns => {
                return Err(invalid(
                    file,
                    format!(
                        "table {name}: the archive's columns ({}) are not those of schema version {} ({})",
                        t.columns.join(", "),
                        manifest.schema_version,
                        columns.join(", ")
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = archived.keys().find(|n| !tables.contains_key(**n)) {
        return Err(invalid(
            file,
            format!(
                "the archive's table {extra} is not in schema version {}",
                manifest.schema_version
            ),
        ));
    }
    let order = load_order(conn, schema, tables.keys().cloned().collect())
        .await
        .map_err(|e| match e {
            LoadOrderError::Cycle(names) => invalid(
                file,
                format!(
                    "tables {} refer to each other in a cycle; this release cannot load them",
                    names.join(", ")
                ),
            ),
            LoadOrderError::Database(e) => e.into(),
        })?;

    let qualified = |name: &str| format!("{}.{}", schema.quoted(), ident(name));
    let all: Vec<String> = order.iter().map(|n| qualified(n)).collect();
    if !all.is_empty() {
        let disable: String = all
            .iter()
            .map(|t| format!("alter table {t} disable trigger user;"))
            .collect();
        // What the migrations seeded (the settings row) goes, children first. `delete` rather
        // than `truncate`: these are a few rows, and `truncate` makes new files for every
        // table and index.
        let delete: String = all.iter().rev().map(|t| format!("delete from {t};")).collect();
        conn.execute(format!("{disable}{delete}").as_str()).await?;
    }

    for name in &order {
        let record = archived[name.as_str()];
        let spooled = parts
            .remove(&record.entry)
            .ok_or_else(|| invalid(file, format!("{} is missing", record.entry)))?;
        let mut source = tokio::fs::File::from_std(spooled.file);
        tokio::io::AsyncSeekExt::rewind(&mut source)
            .await
            .map_err(io_error(file))?;
        let statement = format!(
            "copy {} ({}) from stdin",
            qualified(name),
            record.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        );
        let mut copy = conn.copy_in_raw(&statement).await?;
        if let Err(e) = copy.read_from(&mut source).await {
            let _ = copy.abort("reading the archive failed").await;
            return Err(e.into());
        }
        let rows = copy.finish().await?;
        if rows != record.rows {
            return Err(invalid(
                file,
                format!("table {name}: {rows} rows loaded, the manifest says {}", record.rows),
            ));
        }
    }

    for seq in &manifest.sequences {
        let exists: bool = sqlx::query_scalar("select to_regclass($1) is not null")
            .bind(qualified(&seq.name))
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Err(invalid(
                file,
                format!(
                    "the archive's sequence {} is not in schema version {}",
                    seq.name, manifest.schema_version
                ),
            ));
        }
        sqlx::query("select setval($1::regclass, $2, $3)")
            .bind(qualified(&seq.name))
            .bind(seq.last_value)
            .bind(seq.is_called)
            .fetch_one(&mut *conn)
            .await?;
    }

    rewrite_keys(conn, schema, manifest.source.id, tenant.id).await?;

    if !all.is_empty() {
        let enable: String = all
            .iter()
            .map(|t| format!("alter table {t} enable trigger user;"))
            .collect();
        conn.execute(enable.as_str()).await?;
    }
    Ok(())
}

enum LoadOrderError {
    Cycle(Vec<String>),
    Database(sqlx::Error),
}

/// Tables in an order where every table comes after those its foreign keys point to (a
/// table referring to itself is fine: its rows are checked at the end of its `COPY`); ties
/// by name.
async fn load_order(
    conn: &mut PgConnection,
    schema: &SchemaName,
    tables: BTreeSet<String>,
) -> Result<Vec<String>, LoadOrderError> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "select distinct child.relname::text, parent.relname::text
           from pg_constraint k
           join pg_class child on child.oid = k.conrelid
           join pg_class parent on parent.oid = k.confrelid
           join pg_namespace n on n.oid = child.relnamespace
          where k.contype = 'f' and n.nspname = $1 and parent.relnamespace = n.oid
            and child.oid <> parent.oid",
    )
    .bind(schema.as_str())
    .fetch_all(conn)
    .await
    .map_err(LoadOrderError::Database)?;
    topological(tables, &edges).map_err(LoadOrderError::Cycle)
}

/// Kahn's algorithm over `(child, parent)` edges; the smallest name first among the ready.
fn topological(tables: BTreeSet<String>, edges: &[(String, String)]) -> Result<Vec<String>, Vec<String>> {
    let mut waiting_on: BTreeMap<&str, BTreeSet<&str>> = tables.iter().map(|t| (t.as_str(), BTreeSet::new())).collect();
    for (child, parent) in edges {
        if tables.contains(parent)
            && let Some(parents) = waiting_on.get_mut(child.as_str())
        {
            parents.insert(parent.as_str());
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    while let Some(ready) = waiting_on
        .iter()
        .find(|(_, parents)| parents.is_empty())
        .map(|(t, _)| *t)
    {
        waiting_on.remove(ready);
        for parents in waiting_on.values_mut() {
            parents.remove(ready);
        }
        order.push(ready.to_string());
    }
    if waiting_on.is_empty() {
        Ok(order)
    } else {
        Err(waiting_on.keys().map(|t| t.to_string()).collect())
    }
}

/// Storage keys name the tenant's id: rewrites `tenants/<old>/` to `tenants/<new>/` in every
/// text, JSON and text-array column of the schema (user triggers are off meanwhile).
async fn rewrite_keys(conn: &mut PgConnection, schema: &SchemaName, old: Uuid, new: Uuid) -> Result<u64, sqlx::Error> {
    if old == new {
        return Ok(0);
    }
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
           from pg_attribute a
           join pg_class c on c.oid = a.attrelid
           join pg_namespace n on n.oid = c.relnamespace
           join pg_type t on t.oid = a.atttypid
          where n.nspname = $1 and c.relkind = 'r' and c.relname <> 'schema_migration'
            and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
            and t.typname in ('text', 'varchar', 'bpchar', 'json', 'jsonb', '_text', '_varchar')
          order by c.relname, a.attnum",
    )
    .bind(schema.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let (from, to) = (tenant_folder(old), tenant_folder(new));
    let mut by_table: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (table, column, type_name) in columns {
        by_table.entry(table).or_default().push((ident(&column), type_name));
    }
    let mut rewritten = 0;
    // One pass over each table, whatever its number of text columns.
    for (table, columns) in by_table {
        let set: Vec<String> = columns
            .iter()
            .map(|(c, type_name)| {
                format!("{c} = case when strpos({c}::text, $1) > 0 then replace({c}::text, $1, $2)::{type_name} else {c} end")
            })
            .collect();
        let matching: Vec<String> = columns
            .iter()
            .map(|(c, _)| format!("strpos({c}::text, $1) > 0"))
            .collect();
        let statement = format!(
            "update {}.{} set {} where {}",
            schema.quoted(),
            ident(&table),
            set.join(", "),
            matching.join(" or ")
        );
        rewritten += sqlx::query(&statement)
            .bind(&from)
            .bind(&to)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(rewritten)
}

/// The CLI runs these on a multi-threaded runtime: their futures must be Send.
#[allow(dead_code)]
fn futures_are_send(pool: &PgPool, storage: &Storage, set: &TenantMigrations, slug: &Slug) {
    fn send<T: Send>(_: T) {}
    send(export(pool, storage, slug, Path::new("x")));
    send(import(pool, storage, set, Path::new("x"), slug, "check"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn edges(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn parents_load_first() {
        let tables = names(&["comment", "contribution", "citizen", "dispositif", "report", "settings"]);
        let order = topological(
            tables,
            &edges(&[
                ("comment", "contribution"),
                ("comment", "citizen"),
                ("contribution", "dispositif"),
                ("contribution", "citizen"),
                ("report", "comment"),
                ("report", "contribution"),
                ("elsewhere", "citizen"),
            ]),
        )
        .unwrap();
        let at = |t: &str| order.iter().position(|o| o == t).unwrap();
        assert!(at("citizen") < at("contribution") && at("dispositif") < at("contribution"));
        assert!(at("contribution") < at("comment") && at("comment") < at("report"));
        assert_eq!(order.len(), 6);
    }

    #[test]
    fn cycles_are_named() {
        let err = topological(names(&["a", "b", "c"]), &edges(&[("a", "b"), ("b", "a")])).unwrap_err();
        assert_eq!(err, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn names_and_paths_stay_inside_the_archive() {
        assert!(plain_name("citizen_token"));
        assert!(!plain_name("Citizen") && !plain_name("a/b") && !plain_name(""));
        assert!(plain_path("logo-0a1b.png") && plain_path("docs/2025/cr.pdf"));
        for bad in ["../x", "a//b", "", "/etc/passwd", "a/./b"] {
            assert!(!plain_path(bad), "{bad}");
        }
        assert_eq!(ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(
            partial_path(Path::new("/backups/nord.tar.gz")),
            PathBuf::from("/backups/nord.tar.gz.partial")
        );
    }

    fn manifest(set: &TenantMigrations, version: i64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            exported_at: OffsetDateTime::UNIX_EPOCH,
            participe_version: "test".into(),
            source: SourceTenant {
                id: Uuid::nil(),
                slug: "nord".into(),
                name: "Nord".into(),
                kind: "departement".into(),
                insee_code: Some("59".into()),
                siren: None,
                population: None,
                trial_ends_at: None,
                plan: None,
                status: "active".into(),
                status_reason: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
                parent: None,
            },
            schema_version: version,
            migrations: set
                .iter()
                .filter(|m| m.version <= version)
                .map(|m| MigrationRecord {
                    version: m.version,
                    description: m.description.to_string(),
                    checksum: hex(&m.checksum),
                })
                .collect(),
            table_format: TABLE_FORMAT.into(),
            tables: vec![],
            sequences: vec![],
            files: vec![],
            not_included: vec![],
        }
    }

    #[test]
    fn archives_must_match_this_build() {
        let set = TenantMigrations::embedded();
        let latest = set.latest();
        assert_eq!(check_manifest(&manifest(&set, latest), &set), Ok(()));
        assert_eq!(
            check_manifest(&manifest(&set, 1), &set),
            Ok(()),
            "older: migrated on import"
        );

        let newer = set.clone().with_extra(latest + 1, "future", "select 1");
        let err = check_manifest(&manifest(&newer, latest + 1), &set).unwrap_err();
        assert!(err.contains("newer than this release"), "{err}");

        let mut edited = manifest(&set, latest);
        edited.migrations[0].checksum = "00".into();
        assert!(check_manifest(&edited, &set).unwrap_err().contains("differs"));

        let mut gap = manifest(&set, latest);
        gap.migrations.remove(0);
        assert!(check_manifest(&gap, &set).unwrap_err().contains("lacks migration"));

        let mut escaping = manifest(&set, latest);
        escaping.files.push(FileRecord {
            path: "../../etc/passwd".into(),
            entry: "files/../../etc/passwd".into(),
            bytes: 1,
            sha256: String::new(),
        });
        assert!(check_manifest(&escaping, &set).unwrap_err().contains("file"));
    }

    #[test]
    fn the_source_row_becomes_a_new_tenant() {
        let set = TenantMigrations::embedded();
        let m = manifest(&set, set.latest());
        let new = new_tenant(&m, &Slug::parse("nord-2").unwrap()).unwrap();
        assert_eq!(new.slug.as_str(), "nord-2");
        assert_eq!(new.insee_code.unwrap().as_str(), "59");
        assert!(new.domains.is_empty() && new.parent.is_none() && new.owner.is_none());
        let mut bad = m.clone();
        bad.source.kind = "mairie".into();
        assert!(new_tenant(&bad, &Slug::parse("nord-2").unwrap()).is_err());
    }
}
