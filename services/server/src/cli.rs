//! The commands. Each prints its result on stdout, and any failure as one line on stderr
//! with a non-zero exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use participe_core::domain::{Email, HostName, NewPassword, Slug, custom_domain};
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::fleet::registry::{self, ListFilter};
use participe_core::migrations::{self, TenantMigrations, fleet};
use participe_core::{Error as CoreError, TenantStatus};

use crate::config::{Cli, Command, CreateArgs, Global, ListArgs, MigrateArgs, OperatorCommand, TenantCommand};
use crate::database::Database;
use crate::{Error, demo, serve, telemetry};

/// Entry point of the `participe` binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    let default_level = match cli.command {
        Command::Serve(_) | Command::Demo(_) | Command::Worker(_) => "info",
        _ => "warn",
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = runtime.block_on(async { telemetry::init(default_level) });
    let result = runtime.block_on(run(cli));
    telemetry.shutdown();
    drop(runtime);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's error without its usage block, on one line.
fn clap_one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let head: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    one_line(&head.join(" "))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), Error> {
    let Cli { global, command } = cli;
    let base = HostName::parse(&global.base_domain)
        .map_err(|e| Error::Usage(format!("--base-domain / PARTICIPE_BASE_DOMAIN: {e}")))?;
    match command {
        Command::Serve(args) => serve::serve(&global, base, args, false).await,
        Command::Worker(args) => serve::serve(&global, base, args, true).await,
        Command::Demo(args) => demo::run(&global, base, args).await,
        // `migrate` creates or checks the platform schema itself.
        Command::Migrate(args) => with_database(&global, false, async |db| migrate(db, args).await).await,
        Command::Tenant(cmd) => with_database(&global, true, async |db| tenant(db, &global, base, cmd).await).await,
        Command::Operator(cmd) => {
            // Asked before the database starts, so that the prompt stands alone.
            let password = read_new_password()?;
            with_database(&global, true, async |db| operator(db, cmd, password).await).await
        }
    }
}

/// A new password: prompted twice without echo on a terminal, else the first line of
/// standard input (for scripts: `printf '%s\n' "$PASSWORD" | participe operator create …`).
fn read_new_password() -> Result<NewPassword, Error> {
    let (password, confirmation) = if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password("Mot de passe : ").map_err(|e| Error::Usage(format!("password: {e}")))?;
        let second =
            rpassword::prompt_password("Confirmation : ").map_err(|e| Error::Usage(format!("password: {e}")))?;
        (first, second)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::Usage(format!("password: {e}")))?;
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        (line.clone(), line)
    };
    NewPassword::parse(&password, &confirmation).map_err(|e| Error::Usage(format!("password: {e}")))
}

async fn operator(db: &Database, cmd: OperatorCommand, password: NewPassword) -> Result<(), Error> {
    match cmd {
        OperatorCommand::Create { email, name } => {
            let email = Email::parse(&email).map_err(|e| Error::Usage(format!("--email: {e}")))?;
            let created = participe_core::operators::create(&db.pool, &email, &name, &password, &actor()).await?;
            println!("operator {} created", created.operator.email);
            println!(
                "second factor secret (enter it in an authenticator app, shown once): {}",
                created.totp_secret
            );
            println!("{}", created.totp_url);
            Ok(())
        }
    }
}

/// Opens the database, runs a short command, and closes everything, also on Ctrl-C or
/// SIGTERM (a private cluster this process started is then stopped cleanly).
async fn with_database<F>(global: &Global, needs_schema: bool, command: F) -> Result<(), Error>
where
    F: AsyncFnOnce(&Database) -> Result<(), Error>,
{
    let db = tokio::select! {
        db = Database::open(global) => db?,
        _ = serve::shutdown_signal() => return Err(Error::Interrupted),
    };
    let result = async {
        if db.is_embedded() {
            // The private cluster is this installation's own: keep it current unasked.
            migrations::migrate_platform(&db.pool).await?;
        } else if needs_schema {
            require_platform_schema(&db).await?;
        }
        tokio::select! {
            r = command(&db) => r,
            _ = serve::shutdown_signal() => Err(Error::Interrupted),
        }
    }
    .await;
    db.close().await;
    result
}

async fn require_platform_schema(db: &Database) -> Result<(), Error> {
    let (_, applied) = migrations::platform_state(&db.pool).await?;
    if applied.is_none() {
        return Err(Error::Usage(
            "the database has no Participe schema yet: run `participe migrate` first".into(),
        ));
    }
    Ok(())
}

fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn parse_slug(s: &str) -> Result<Slug, Error> {
    Slug::parse(s).map_err(|e| Error::Usage(format!("slug: {e}")))
}

async fn migrate(db: &Database, args: MigrateArgs) -> Result<(), Error> {
    let set = TenantMigrations::embedded();
    if args.check {
        let (platform_latest, platform_applied) = migrations::platform_state(&db.pool).await?;
        let states = fleet::check(&db.pool, &set).await?;
        let behind: Vec<_> = states.iter().filter(|s| s.is_behind()).collect();
        let platform_behind = platform_applied.unwrap_or(0) < platform_latest;
        if args.json {
            let report = serde_json::json!({
                "platform": { "latest": platform_latest, "applied": platform_applied },
                "tenant_latest": set.latest(),
                "tenants": states.len(),
                "behind": behind,
            });
            println!("{report}");
        } else {
            println!(
                "platform schema: version {} of {platform_latest}",
                platform_applied.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
            );
            println!(
                "tenant schemas: {} of {} at version {}",
                states.len() - behind.len(),
                states.len(),
                set.latest()
            );
            for s in &behind {
                println!("  {}: {}", s.slug, serde_json::to_string(&s.drift).unwrap_or_default());
            }
        }
        if platform_behind || !behind.is_empty() {
            return Err(Error::CheckFailed(format!(
                "{} tenant schema(s){} behind this release's migrations: run `participe migrate`",
                behind.len(),
                if platform_behind {
                    " and the platform schema"
                } else {
                    ""
                }
            )));
        }
        return Ok(());
    }

    migrations::migrate_platform(&db.pool).await?;
    let progress = CliProgress::new(args.json);
    let report = fleet::migrate(&db.pool, &set, args.jobs.into(), &progress).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "{} tenant schema(s) migrated, {} already current, {} failed",
            report.migrated.len(),
            report.already_current,
            report.failed.len()
        );
        for (slug, e) in &report.failed {
            println!("  {slug}: {e}");
        }
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckFailed(format!(
            "{} tenant schema(s) could not be migrated; run again once fixed",
            report.failed.len()
        )))
    }
}

/// A progress bar on a terminal, plain lines otherwise (logs, CI, Kubernetes jobs).
struct CliProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    done: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
}

impl CliProgress {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} tenant schemas ({eta} left) {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        CliProgress {
            bar,
            quiet,
            done: Default::default(),
            total: Default::default(),
        }
    }
}

impl fleet::Progress for CliProgress {
    fn start(&self, total: usize) {
        self.total.store(total, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        } else if !self.quiet {
            println!("{total} tenant schema(s) to migrate");
        }
    }

    fn migrated(&self, slug: &str, versions: &[i64]) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.set_message(slug.to_string());
            bar.inc(1);
        } else if !self.quiet {
            let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
            println!("[{done}/{total}] {slug}: applied {versions:?}");
        }
    }

    fn failed(&self, slug: &str, error: &CoreError) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.println(format!("{slug}: {error}"));
            bar.inc(1);
        } else if !self.quiet {
            let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
            println!("[{done}/{total}] {slug}: FAILED {}", one_line(&error.to_string()));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

async fn tenant(db: &Database, global: &Global, base: HostName, cmd: TenantCommand) -> Result<(), Error> {
    let pool = &db.pool;
    match cmd {
        TenantCommand::Create(args) => create(db, &base, args).await,
        TenantCommand::List(args) => list(db, args).await,
        TenantCommand::Show { slug, json } => {
            let details = registry::details(pool, &parse_slug(&slug)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&details).unwrap_or_default());
            } else {
                let t = &details.tenant;
                println!("slug:     {}", t.slug);
                println!("name:     {}", t.name);
                println!("kind:     {}", t.kind);
                if let Some(code) = &details.insee_code {
                    println!("insee:    {code}");
                }
                if let Some(siren) = &details.siren {
                    println!("siren:    {siren}");
                }
                if let Some(parent) = &details.parent {
                    println!("parent:   {parent}");
                }
                println!(
                    "status:   {}{}",
                    t.status,
                    t.status_reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                println!("schema:   {} (version {})", t.schema, details.schema_version);
                println!("created:  {}", details.created_at.date());
                println!("portal:   {}.{base}", t.slug);
                for d in &details.domains {
                    println!("domain:   {}{}", d.host, if d.is_primary { " (primary)" } else { "" });
                }
            }
            Ok(())
        }
        TenantCommand::Suspend { slug, reason } => {
            let t = registry::set_status(
                pool,
                &parse_slug(&slug)?,
                TenantStatus::Suspended,
                reason.as_deref(),
                &actor(),
            )
            .await?;
            println!("{}: suspended", t.slug);
            Ok(())
        }
        TenantCommand::Resume { slug } => {
            let t = registry::set_status(pool, &parse_slug(&slug)?, TenantStatus::Active, None, &actor()).await?;
            println!("{}: active", t.slug);
            Ok(())
        }
        TenantCommand::AddDomain { slug, domain, primary } => {
            let host = custom_domain(&domain, &base).map_err(|e| Error::Usage(format!("domain: {e}")))?;
            let slug = parse_slug(&slug)?;
            registry::add_domain(pool, &slug, &host, primary, &actor()).await?;
            println!("{slug}: {host} attached");
            Ok(())
        }
        TenantCommand::RemoveDomain { slug, domain } => {
            let host = HostName::parse(&domain).map_err(|e| Error::Usage(format!("domain: {e}")))?;
            let slug = parse_slug(&slug)?;
            registry::remove_domain(pool, &slug, &host, &actor()).await?;
            println!("{slug}: {host} detached");
            Ok(())
        }
        TenantCommand::Export { slug, file } => export(global, db, &parse_slug(&slug)?, &file).await,
        TenantCommand::Import { file, slug } => import(global, db, &file, &parse_slug(&slug)?).await,
    }
}

async fn create(db: &Database, base: &HostName, args: CreateArgs) -> Result<(), Error> {
    let input = NewTenantInput {
        slug: args.slug,
        name: args.name,
        kind: args.kind.as_str().to_string(),
        insee_code: args.insee,
        siren: args.siren,
        parent: args.parent,
        domains: args.domains,
        population: None,
    };
    let new = input.parse(base).map_err(Error::Invalid)?;
    let tenant = provisioning::provision(&db.pool, &TenantMigrations::embedded(), &new, &actor()).await?;
    println!("{}: created (schema {})", tenant.slug, tenant.schema);
    Ok(())
}

async fn list(db: &Database, args: ListArgs) -> Result<(), Error> {
    let filter = ListFilter {
        status: args
            .status
            .as_deref()
            .map(|s| s.parse())
            .transpose()
            .map_err(|e: participe_core::domain::Invalid| Error::Usage(e.0))?,
        kind: args
            .kind
            .map(|k| k.as_str().parse())
            .transpose()
            .map_err(|e: participe_core::domain::Invalid| Error::Usage(e.0))?,
    };
    const PAGE: i64 = 500;
    let mut after: Option<String> = None;
    let mut first = true;
    loop {
        let page = registry::list(&db.pool, &filter, after.as_deref(), PAGE).await?;
        for t in &page {
            if args.json {
                println!("{}", serde_json::to_string(t).unwrap_or_default());
            } else {
                if first {
                    println!(
                        "{:<24} {:<12} {:<10} {:>7} {:>7}  NAME",
                        "SLUG", "KIND", "STATUS", "SCHEMA", "DOMAINS"
                    );
                    first = false;
                }
                println!(
                    "{:<24} {:<12} {:<10} {:>7} {:>7}  {}",
                    t.slug, t.kind, t.status, t.schema_version, t.domains, t.name
                );
            }
        }
        if (page.len() as i64) < PAGE {
            break;
        }
        after = page.last().map(|t| t.slug.clone());
    }
    if first && !args.json {
        println!("no tenant yet: create one with `participe tenant create` or `participe demo`");
    }
    Ok(())
}

/// The uploaded files' storage that `serve` uses, for `tenant export` and `tenant import`:
/// the S3 bucket named by PARTICIPE_S3_BUCKET (and the other PARTICIPE_S3_* variables) when
/// set, else `<data dir>/files`.
async fn archive_storage(global: &Global) -> Result<participe_storage::Storage, Error> {
    #[derive(Parser)]
    struct FromEnvironment {
        #[command(flatten)]
        serve: crate::config::ServeArgs,
    }
    let settings = FromEnvironment::try_parse_from(["participe"]).map_err(|e| Error::Usage(clap_one_line(&e)))?;
    let storage = match settings.serve.s3_config().map_err(Error::Usage)? {
        Some(config) => participe_storage::Storage::s3(config).map_err(|e| Error::Usage(e.to_string()))?,
        None => participe_storage::Storage::local(global.data_dir().join("files")),
    };
    storage.verify().await.map_err(Error::Storage)?;
    Ok(storage)
}

fn archive_error(e: participe_core::fleet::archive::ArchiveError) -> Error {
    use participe_core::fleet::archive::ArchiveError;
    match e {
        ArchiveError::Core(e) => e.into(),
        ArchiveError::Io { path, source } => Error::Io(path.display().to_string(), source),
        ArchiveError::Invalid { path, message } => Error::Io(
            path.display().to_string(),
            std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        ),
        ArchiveError::Storage(e) => Error::Storage(e),
    }
}

async fn export(global: &Global, db: &Database, slug: &Slug, file: &std::path::Path) -> Result<(), Error> {
    use participe_core::fleet::archive;
    let storage = archive_storage(global).await?;
    let manifest = archive::export(&db.pool, &storage, slug, file)
        .await
        .map_err(archive_error)?;
    println!(
        "{slug}: exported to {} (schema version {}, {} tables, {} row(s), {} file(s))",
        file.display(),
        manifest.schema_version,
        manifest.tables.len(),
        manifest.rows(),
        manifest.files.len()
    );
    Ok(())
}

async fn import(global: &Global, db: &Database, file: &std::path::Path, slug: &Slug) -> Result<(), Error> {
    use participe_core::fleet::archive;
    let storage = archive_storage(global).await?;
    let report = archive::import(&db.pool, &storage, &TenantMigrations::embedded(), file, slug, &actor())
        .await
        .map_err(archive_error)?;
    let m = &report.manifest;
    let version = if report.migrated.is_empty() {
        format!("version {}", report.schema_version)
    } else {
        format!("version {} migrated to {}", m.schema_version, report.schema_version)
    };
    println!(
        "{}: imported from {} (schema {}, {version}, {} row(s), {} file(s))",
        report.tenant.slug,
        m.source.slug,
        report.tenant.schema,
        m.rows(),
        m.files.len()
    );
    println!(
        "not carried over: staff memberships and invitations, custom domains, the parent link; invite the staff to {}",
        report.tenant.slug
    );
    Ok(())
}
