//! Backup and restore of one tenant (`participe tenant export` / `tenant import`): a round
//! trip gives back every row and file, an older archive is migrated forward, a newer one is
//! refused, a killed export or import leaves nothing half-made, bad input is one line.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use participe_core::domain::{Email, NewPassword, Slug};
use participe_core::fleet::archive::{self, ArchiveError};
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::fleet::registry;
use participe_core::migrations::{TenantMigrations, fleet};
use participe_core::{Tenant, TenantStatus, TenantTx, citizens, dispositifs, participation, site};
use participe_storage::{ImageKind, Storage};
use sqlx::PgPool;

/// A valid 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

/// Fills a tenant through the core's own functions: settings and logo, pages, the charter,
/// a call with themes and a council with members, citizens with tokens, contributions,
/// comments with a reply, a report, journal lines. Every tenant table gets rows.
async fn fill(pool: &PgPool, storage: &Storage, tenant: &Tenant) {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    site::update_branding(
        &mut tx,
        &site::BrandingUpdate {
            display_name: Some("Ville d'Archive".into()),
            tagline: "Tab\there, new\nline, back\\slash, « guillemets »".into(),
            home_title: "Bienvenue".into(),
            home_text: "**Participez** !".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let logo = Storage::image_key(tenant.id, "logo", ImageKind::Png, PNG);
    storage.put(&logo, PNG).await.unwrap();
    site::set_logo(&mut tx, Some(&logo)).await.unwrap();
    storage
        .put(
            &format!("tenants/{}/documents/2025/compte-rendu.pdf", tenant.id),
            b"%PDF-1.4 compte rendu",
        )
        .await
        .unwrap();
    site::create_page(
        &mut tx,
        &site::PageWrite {
            slug: "histoire".into(),
            kind: "libre".into(),
            title: "Notre histoire".into(),
            body: "Depuis 1789…".into(),
            in_footer: true,
            published: true,
        },
    )
    .await
    .unwrap();
    let charter = site::publish_charter_version(&mut tx, "Charte", "Soyez courtois.", "admin@example.fr")
        .await
        .unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let call = dispositifs::create(
        &mut tx,
        &dispositifs::DispositifWrite {
            slug: "budget".into(),
            kind: dispositifs::Kind::Appel,
            title: "Budget participatif".into(),
            summary: "Vos idées".into(),
            description: "Proposez.".into(),
            opens_on: Some(today - time::Duration::days(1)),
            closes_on: Some(today + time::Duration::days(30)),
            rules: String::new(),
            themes: vec!["Mobilité".into(), "Écoles".into()],
        },
    )
    .await
    .unwrap();
    let council = dispositifs::create(
        &mut tx,
        &dispositifs::DispositifWrite {
            slug: "conseil-jeunes".into(),
            kind: dispositifs::Kind::Conseil,
            title: "Conseil des jeunes".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: None,
            closes_on: None,
            rules: "Une réunion par mois.".into(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    dispositifs::add_member(&mut tx, council, "Camille", "Présidente", "Habitante")
        .await
        .unwrap();
    let password = NewPassword::parse("une phrase de passe solide", "une phrase de passe solide").unwrap();
    let mut citizens_ids = Vec::new();
    for (email, name) in [("alice@example.fr", "Alice"), ("bob@example.fr", "Bob")] {
        let email = Email::parse(email).unwrap();
        let created = citizens::sign_up(
            &mut tx,
            &citizens::NewCitizen {
                email: &email,
                display_name: name,
                profile: citizens::Profile::Citoyen,
                password: &password,
                charter_version: Some(charter),
            },
        )
        .await
        .unwrap();
        let citizens::SignUp::Created { citizen, .. } = created else {
            panic!("a new account")
        };
        citizens_ids.push(citizen.id);
    }
    let (alice, bob) = (citizens_ids[0], citizens_ids[1]);
    citizens::issue_token(&mut tx, bob, citizens::TokenPurpose::Reset)
        .await
        .unwrap();
    let themes = participation::themes(&mut tx, call).await.unwrap();
    let input = participation::ContributionInput::parse(
        "Plus de pistes cyclables",
        "Entre la gare et le lycée.\n\nMerci !",
        &themes[0].id.to_string(),
        &themes,
    )
    .unwrap();
    let contribution = participation::create_contribution(&mut tx, call, alice, &input)
        .await
        .unwrap();
    let comment = participation::add_comment(&mut tx, contribution, None, bob, "D'accord.")
        .await
        .unwrap();
    participation::add_comment(&mut tx, contribution, Some(comment), alice, "Merci Bob.")
        .await
        .unwrap();
    participation::report(
        &mut tx,
        participation::Target::Comment(comment),
        alice,
        participation::Reason::Spam,
        "",
        3,
    )
    .await
    .unwrap();
    for action in ["page.create", "branding.update"] {
        site::audit(
            &mut tx,
            uuid::Uuid::new_v4(),
            "admin@example.fr",
            action,
            "histoire",
            serde_json::json!({ "logo": logo }),
            "192.0.2.1".parse().unwrap(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Every table of `schema` but the migration history: its rows as JSON, in a stable order.
async fn dump(pool: &PgPool, schema: &str) -> BTreeMap<String, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind = 'r' and c.relname <> 'schema_migration' order by 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let rows: String = sqlx::query_scalar(&format!(
            r#"select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]')::text from "{schema}"."{table}" t"#
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.insert(table, rows);
    }
    out
}

/// (name, last_value, is_called) of every sequence of `schema`.
async fn sequences(pool: &PgPool, schema: &str) -> Vec<(String, i64, bool)> {
    sqlx::query_as(
        "select sequencename::text, coalesce(last_value, 0), last_value is not null
           from pg_sequences where schemaname = $1 order by 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn history(pool: &PgPool, schema: &str) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as(&format!(
        r#"select version, checksum from "{schema}".schema_migration order by version"#
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every file under the tenant's folder: (path under it, bytes).
async fn files(storage: &Storage, tenant: &Tenant) -> Vec<(String, Vec<u8>)> {
    let folder = format!("tenants/{}/", tenant.id);
    let mut out = Vec::new();
    for key in storage.list(&folder).await.unwrap() {
        let bytes = storage.get(&key).await.unwrap().unwrap();
        out.push((key.strip_prefix(&folder).unwrap().to_string(), bytes));
    }
    out
}

async fn schema_exists(pool: &PgPool, schema: &str) -> bool {
    sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn tenant_exists(pool: &PgPool, slug: &str) -> bool {
    sqlx::query_scalar("select exists (select 1 from tenant where slug = $1)")
        .bind(slug)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn schema_of(slug: &str) -> String {
    format!("t_{}", slug.replace('-', "_"))
}

#[tokio::test]
async fn an_exported_tenant_comes_back_identical_under_a_new_slug() {
    let pool = pool(&database_url(), 4).await;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(dir.path().join("files"));
    let source = create_tenant(&pool, "archive", "Ville d'Archive").await;
    fill(&pool, &storage, &source).await;
    registry::set_status(&pool, &source.slug, TenantStatus::Suspended, Some("impayé"), "test")
        .await
        .unwrap();
    sqlx::query(
        "update tenant set plan = 'essentiel', population = 98000, trial_ends_at = now() + interval '3 days',
                           insee_code = '59350' where id = $1",
    )
    .bind(source.id)
    .execute(&pool)
    .await
    .unwrap();

    let file = dir.path().join("archive.tar.gz");
    let manifest = archive::export(&pool, &storage, &source.slug, &file).await.unwrap();
    assert!(file.is_file() && !archive::partial_path(&file).exists());
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600,
        "personal data: the owner's only"
    );
    assert_eq!(manifest.format, archive::FORMAT);
    assert_eq!(manifest.source.slug, source.slug.as_str());
    assert_eq!(manifest.schema_version, TenantMigrations::embedded().latest());
    assert_eq!(manifest.files.len(), 2);
    assert!(!manifest.not_included.is_empty());
    let rows: BTreeMap<&str, u64> = manifest.tables.iter().map(|t| (t.name.as_str(), t.rows)).collect();
    for table in [
        "settings",
        "page",
        "staff_audit",
        "charter_version",
        "dispositif",
        "dispositif_theme",
        "council_member",
        "citizen",
        "citizen_token",
        "contribution",
        "comment",
        "report",
    ] {
        assert!(rows.get(table).copied().unwrap_or(0) > 0, "{table} has rows: {rows:?}");
    }
    // The file is the manifest's first entry and a plain tar.gz.
    let listing = Command::new("tar").arg("tzf").arg(&file).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(listing.starts_with("manifest.json\n"), "{listing}");
    assert!(listing.contains("tables/citizen.copy") && listing.contains("files/documents/2025/compte-rendu.pdf"));

    let new_slug = unique_slug("restored");
    let report = archive::import(
        &pool,
        &storage,
        &TenantMigrations::embedded(),
        &file,
        &slug(&new_slug),
        "test",
    )
    .await
    .unwrap();
    let restored = report.tenant;
    assert_eq!(restored.slug.as_str(), new_slug);
    assert_ne!(restored.id, source.id);
    assert!(report.migrated.is_empty());

    // Every row, identical; storage keys follow the new tenant's id.
    let before = dump(&pool, source.schema.as_str()).await;
    let after = dump(&pool, restored.schema.as_str()).await;
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    let (old_folder, new_folder) = (format!("tenants/{}/", source.id), format!("tenants/{}/", restored.id));
    for (table, rows) in &before {
        assert_eq!(
            rows.replace(&old_folder, &new_folder),
            after[table],
            "table {table} differs"
        );
    }
    assert!(before["settings"].contains(&old_folder), "the logo key was rewritten");
    assert_eq!(
        history(&pool, source.schema.as_str()).await,
        history(&pool, restored.schema.as_str()).await
    );
    let source_sequences = sequences(&pool, source.schema.as_str()).await;
    assert!(!source_sequences.is_empty());
    assert_eq!(source_sequences, sequences(&pool, restored.schema.as_str()).await);

    // Every file, byte for byte, under the new id; the portal's logo is found.
    assert_eq!(files(&storage, &source).await, files(&storage, &restored).await);
    let mut tx = TenantTx::begin(&pool, &restored).await.unwrap();
    let logo = site::branding(&mut tx).await.unwrap().logo_path.unwrap();
    assert!(logo.starts_with(&new_folder), "{logo}");
    assert_eq!(storage.get_image(&logo).await.unwrap().unwrap().0, PNG);

    // The registry row: what the source had, but no domain, member or parent.
    let registry_row = |id: uuid::Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<
                _,
                (
                    String,
                    String,
                    Option<String>,
                    String,
                    Option<String>,
                    Option<String>,
                    Option<i32>,
                    Option<time::OffsetDateTime>,
                    i64,
                ),
            >(
                "select name, kind, insee_code, status, status_reason, plan, population, trial_ends_at, schema_version
                   from tenant where id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(registry_row(source.id).await, registry_row(restored.id).await);
    let members: i64 = sqlx::query_scalar(
        "select (select count(*) from membership where tenant_id = $1) + (select count(*) from tenant_domain where tenant_id = $1)",
    )
    .bind(restored.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(members, 0);

    // The loaded schema works as a provisioned one: identities go on after the restored
    // rows, and the triggers disabled for the load are back (the journal is append-only).
    site::audit(
        &mut tx,
        uuid::Uuid::new_v4(),
        "admin@example.fr",
        "after.import",
        "",
        serde_json::json!({}),
        "192.0.2.1".parse().unwrap(),
    )
    .await
    .unwrap();
    let ids: (i64, i64) = sqlx::query_as("select max(id), count(*) from staff_audit")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let journal = manifest.tables.iter().find(|t| t.name == "staff_audit").unwrap().rows as i64;
    assert_eq!(ids, (journal + 1, journal + 1));
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&pool, &restored).await.unwrap();
    let refused = sqlx::query("update staff_audit set action = 'rewritten'")
        .execute(tx.conn())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    drop(tx);

    // The source is untouched, and the same archive cannot take a used slug.
    assert_eq!(dump(&pool, source.schema.as_str()).await, before);
    let again = archive::import(
        &pool,
        &storage,
        &TenantMigrations::embedded(),
        &file,
        &restored.slug,
        "test",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&again, ArchiveError::Core(e) if e.to_string().contains("déjà utilisé")),
        "{again}"
    );
    // An existing file is never overwritten.
    let err = archive::export(&pool, &storage, &source.slug, &file).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

/// A tenant provisioned with the migrations up to `version` only, as an older release made it.
async fn provision_at(pool: &PgPool, set: &TenantMigrations, prefix: &str) -> Tenant {
    let new = NewTenantInput {
        slug: unique_slug(prefix),
        name: "Commune d'avant".into(),
        kind: "commune".into(),
        ..Default::default()
    }
    .parse(&base())
    .unwrap();
    provisioning::provision(pool, set, &new, "test").await.unwrap()
}

#[tokio::test]
async fn an_older_archive_is_migrated_forward_and_a_newer_one_refused() {
    // Tenants at other versions than this build's: a database of their own.
    let pool = pool(&fresh_database("archive-versions").await, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(dir.path().join("files"));
    let embedded = TenantMigrations::embedded();
    assert!(embedded.latest() > 3);

    // Version 3: site, console and dispositifs; no citizens yet. Filled with plain SQL, as
    // the code of that release wrote it.
    let old = provision_at(&pool, &embedded.clone().up_to(3), "old").await;
    let mut tx = TenantTx::begin(&pool, &old).await.unwrap();
    sqlx::raw_sql(
        "insert into page (slug, kind, title, body) values ('histoire', 'libre', 'Histoire', 'Il était une fois');
         insert into dispositif (slug, kind, title, status) values ('budget', 'appel', 'Budget', 'publie');
         insert into dispositif_theme (dispositif_id, name) select id, 'Écoles' from dispositif;
         insert into staff_audit (staff_email, action) values ('a@example.fr', 'page.create');
         insert into charter_version (version, title, body, published_by) values (1, 'Charte', 'Texte', 'a@example.fr');",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let before = dump(&pool, old.schema.as_str()).await;
    assert!(!before.contains_key("citizen"));

    let file = dir.path().join("old.tar.gz");
    let manifest = archive::export(&pool, &storage, &old.slug, &file).await.unwrap();
    assert_eq!(manifest.schema_version, 3);
    assert_eq!(manifest.migrations.len(), 3);

    let new_slug = unique_slug("forward");
    let report = archive::import(&pool, &storage, &embedded, &file, &slug(&new_slug), "test")
        .await
        .unwrap();
    let latest = embedded.latest();
    assert_eq!(report.migrated, (4..=latest).collect::<Vec<_>>());
    assert_eq!(report.schema_version, latest);
    let after = dump(&pool, report.tenant.schema.as_str()).await;
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "table {table}");
    }
    assert_eq!(after["citizen"], "[]", "tables of later migrations exist, empty");
    let version: i64 = sqlx::query_scalar("select schema_version from tenant where id = $1")
        .bind(report.tenant.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, latest);
    let states = fleet::check(&pool, &embedded).await.unwrap();
    let state = states.iter().find(|s| s.slug == new_slug).unwrap();
    assert_eq!(state.drift, fleet::Drift::UpToDate);
    assert_eq!(
        history(&pool, report.tenant.schema.as_str()).await.len() as i64,
        latest,
        "the history of this build's migrations"
    );

    // From a newer release (one migration this build does not know): refused before
    // anything is created.
    let newer_set = embedded
        .clone()
        .with_extra(latest + 1, "future", "create table future_note (id int primary key)");
    let newer = provision_at(&pool, &newer_set, "newer").await;
    let newer_file = dir.path().join("newer.tar.gz");
    archive::export(&pool, &storage, &newer.slug, &newer_file)
        .await
        .unwrap();
    let refused_slug = unique_slug("refused");
    let err = archive::import(&pool, &storage, &embedded, &newer_file, &slug(&refused_slug), "test")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("newer than this release"), "{err}");
    assert!(!tenant_exists(&pool, &refused_slug).await);
    assert!(!schema_exists(&pool, &schema_of(&refused_slug)).await);
    // The release that has it imports it.
    archive::import(&pool, &storage, &newer_set, &newer_file, &slug(&refused_slug), "test")
        .await
        .unwrap();
}

// ----------------------------------------------------------------------------------------
// The command line
// ----------------------------------------------------------------------------------------

fn participe(url: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_participe"));
    cmd.env_remove("RUST_LOG")
        .env("DATABASE_URL", url)
        .env("PARTICIPE_DATA_DIR", data_dir)
        .env("PARTICIPE_BASE_DOMAIN", "localhost")
        .stdin(Stdio::null());
    for var in ["PARTICIPE_S3_BUCKET", "PARTICIPE_S3_ENDPOINT", "PARTICIPE_S3_PREFIX"] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(url: &str, data_dir: &Path, args: &[&str]) -> Output {
    participe(url, data_dir).args(args).output().expect("run participe")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A failure is exactly one line on stderr, starting with `error:`.
fn assert_one_line_error(o: &Output, code: i32, contains: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {} stderr: {}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "{err:?} should contain {contains:?}");
}

/// A tenant big enough for an export or an import to take a moment: `rows` contributions.
async fn big_tenant(pool: &PgPool, storage: &Storage, rows: i64) -> Tenant {
    let tenant = create_tenant(pool, "big", "Grande Ville").await;
    fill(pool, storage, &tenant).await;
    let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
    sqlx::query(
        "insert into contribution (dispositif_id, author_id, title, body, created_at)
         select (select id from dispositif where slug = 'budget'), (select id from citizen order by email limit 1),
                'Idée n° ' || i, repeat('Une proposition détaillée pour la commune. ', 12) || i,
                now() - make_interval(secs => i)
           from generate_series(1, $1) i",
    )
    .bind(rows)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    tenant
}

/// Waits until a `COPY` of `command` ('COPY TO' or 'COPY FROM') has processed some rows of a
/// table in this database, then kills the process; panics if the process ends first.
async fn kill_during_copy(pool: &PgPool, child: &mut std::process::Child, command: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the process ended ({status}) before it could be killed during {command}: make the tenant bigger");
        }
        let copying: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_stat_progress_copy
                             where datname = current_database() and command = $1 and tuples_processed > 1000)",
        )
        .bind(command)
        .fetch_one(pool)
        .await
        .unwrap();
        if copying {
            break;
        }
        assert!(Instant::now() < deadline, "no {command} seen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
}

/// Until PostgreSQL has noticed the killed client and ended its transaction.
async fn wait_for_no_session(pool: &PgPool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if others == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a killed process's transaction is still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn killed_exports_and_imports_leave_nothing_half_made() {
    let url = fresh_database("archive-crash").await;
    let pool = pool(&url, 2).await;
    let data_dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(data_dir.path().join("files"));
    let source = big_tenant(&pool, &storage, 120_000).await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("big.tar.gz");
    let file_arg = file.to_str().unwrap();

    // An export killed while it reads the tables: no archive.
    let mut child = participe(&url, data_dir.path())
        .args(["tenant", "export", source.slug.as_str(), file_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_during_copy(&pool, &mut child, "COPY TO").await;
    assert!(!file.exists(), "no archive after a killed export");

    // An export killed while it writes the archive: at most FILE.partial.
    let mut child = participe(&url, data_dir.path())
        .args(["tenant", "export", source.slug.as_str(), file_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = archive::partial_path(&file);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !partial.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the export ended before writing");
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!file.exists(), "only FILE.partial may be left");

    // A complete export (over the partial file left behind).
    let o = run(
        &url,
        data_dir.path(),
        &["tenant", "export", source.slug.as_str(), file_arg],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("{}: exported to {file_arg}", source.slug)),
        "{}",
        stdout(&o)
    );
    assert!(file.is_file() && !partial.exists());

    // An import killed while it loads the rows: no registry row, no schema.
    let new_slug = unique_slug("phoenix");
    let mut child = participe(&url, data_dir.path())
        .args(["tenant", "import", file_arg, "--slug", &new_slug])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_during_copy(&pool, &mut child, "COPY FROM").await;
    wait_for_no_session(&pool).await;
    assert!(!tenant_exists(&pool, &new_slug).await, "no half-created tenant row");
    assert!(
        !schema_exists(&pool, &schema_of(&new_slug)).await,
        "no half-created schema"
    );

    // Run again: it succeeds, every row is there.
    let o = run(
        &url,
        data_dir.path(),
        &["tenant", "import", file_arg, "--slug", &new_slug],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("{new_slug}: imported from {}", source.slug)),
        "{}",
        stdout(&o)
    );
    let restored = registry::get_by_slug(&pool, &slug(&new_slug)).await.unwrap();
    let count = |schema: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!(r#"select count(*) from "{schema}".contribution"#))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(source.schema.to_string()).await, 120_001);
    assert_eq!(count(restored.schema.to_string()).await, 120_001);
    assert_eq!(files(&storage, &source).await, files(&storage, &restored).await);
}

#[tokio::test]
async fn bad_input_is_one_line_and_creates_nothing() {
    let url = fresh_database("archive-errors").await;
    let pool = pool(&url, 2).await;
    let data_dir = tempfile::tempdir().unwrap();
    let storage = Storage::local(data_dir.path().join("files"));
    let source = create_tenant(&pool, "source", "Ville Source").await;
    fill(&pool, &storage, &source).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar.gz");
    let o = run(
        &url,
        data_dir.path(),
        &["tenant", "export", source.slug.as_str(), good.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tenants_before: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&pool)
        .await
        .unwrap();

    let new_slug = unique_slug("nouveau");
    let import = |file: &Path, slug: &str| {
        run(
            &url,
            data_dir.path(),
            &["tenant", "import", file.to_str().unwrap(), "--slug", slug],
        )
    };

    let missing = dir.path().join("missing.tar.gz");
    assert_one_line_error(&import(&missing, &new_slug), 1, "missing.tar.gz: No such file");

    let text = dir.path().join("notes.tar.gz");
    std::fs::write(&text, "ceci n'est pas une archive\n").unwrap();
    assert_one_line_error(&import(&text, &new_slug), 1, "not a Participe tenant archive");

    let plain_gzip = dir.path().join("other.tar.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && echo hello > hello.txt && tar czf {} hello.txt",
            dir.path().display(),
            plain_gzip.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_one_line_error(&import(&plain_gzip, &new_slug), 1, "not a Participe tenant archive");

    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert_one_line_error(&import(&truncated, &new_slug), 1, "truncated.tar.gz:");

    assert_one_line_error(&import(&good, source.slug.as_str()), 1, "--slug: le nom court");
    assert_one_line_error(&import(&good, "Pas Un Slug"), 2, "slug");

    assert_one_line_error(
        &run(
            &url,
            data_dir.path(),
            &[
                "tenant",
                "export",
                "inconnu",
                dir.path().join("x.tar.gz").to_str().unwrap(),
            ],
        ),
        1,
        "aucun portail « inconnu »",
    );
    assert_one_line_error(
        &run(
            &url,
            data_dir.path(),
            &["tenant", "export", source.slug.as_str(), good.to_str().unwrap()],
        ),
        1,
        "already exists",
    );
    assert_one_line_error(
        &run(
            &url,
            data_dir.path(),
            &["tenant", "export", source.slug.as_str(), "/nonexistent-dir/x.tar.gz"],
        ),
        1,
        "/nonexistent-dir",
    );

    let tenants_after: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenants_before, tenants_after, "nothing created");
    assert!(!schema_exists(&pool, &schema_of(&new_slug)).await);
    assert!(!dir.path().join("x.tar.gz").exists());

    // And the good archive does import.
    let o = import(&good, &new_slug);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("not carried over"), "{}", stdout(&o));
}

// ----------------------------------------------------------------------------------------
// Object storage
// ----------------------------------------------------------------------------------------

/// moto's S3 server (scripts/install-test-deps puts it in target/test-venv), without
/// authentication: this test is about listing and copying, services/storage/tests/s3.rs
/// about signatures.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let venv = std::env::var_os("TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"));
        let binary = venv.join("bin/moto_server");
        assert!(
            binary.is_file(),
            "{} not found: run scripts/install-test-deps",
            binary.display()
        );
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto { child, port };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start");
    }

    fn storage(&self, bucket: &str, prefix: Option<&str>) -> Storage {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        Storage::s3(participe_storage::S3Config {
            bucket: bucket.into(),
            endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            region: "fr-par".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            prefix: prefix.map(Into::into),
        })
        .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn files_travel_between_object_storage_buckets() {
    let moto = Moto::start();
    let from = moto.storage("participe-from", Some("uploads"));
    let to = moto.storage("participe-to", None);
    let pool = pool(&database_url(), 2).await;
    let source = create_tenant(&pool, "s3", "Ville Objet").await;
    fill(&pool, &from, &source).await;
    // Another tenant's files and a key sharing the id's first characters stay out.
    from.put(&format!("tenants/{}x/other.png", source.id), PNG)
        .await
        .unwrap();
    assert_eq!(from.list(&format!("tenants/{}/", source.id)).await.unwrap().len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s3.tar.gz");
    let manifest = archive::export(&pool, &from, &source.slug, &file).await.unwrap();
    assert_eq!(manifest.files.len(), 2);
    let report = archive::import(
        &pool,
        &to,
        &TenantMigrations::embedded(),
        &file,
        &slug(&unique_slug("s3-copy")),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(files(&from, &source).await, files(&to, &report.tenant).await);
}
