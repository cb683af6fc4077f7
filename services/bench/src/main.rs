//! The repository's benchmark (not a test): measures, in one run on one machine,
//!
//! 1. provisioning: median and p95 time to create a tenant (registry rows + schema + every
//!    tenant migration), over `--tenants` tenants;
//! 2. `migrate --check` over all of them (the one-query drift check);
//! 3. the conversion to components (tenant migrations 12 and 13) of a fleet provisioned
//!    before them with three dispositifs each, then a real additive tenant migration, both
//!    applied to all of them by the fleet runner;
//! 4. the portal home page at `--connections` keep-alive connections, requests/s and
//!    latency percentiles, against a static page of the same bytes served by the same
//!    server stack (same layers, same runtime), and the ratio between the two;
//! 5. a call with 1,000 contributions and 20,000 comments: its list page, and the page of
//!    a contribution with 200 comments, each against a static page of the same bytes;
//!    then the same pages for signed-in citizens and posting a comment (`signed_in.rs`);
//! 6. the operators' tenants table over the whole fleet, and the run's resident memory;
//! 7. a participatory budget: casting ballots, the vote page, results of a big box
//!    (`budgets.rs`).
//!
//! `--only budgets` runs the last part alone, `--only signed-in` the signed-in pages (both on
//! the demo tenants, without the fleet).
//!
//! It uses `DATABASE_URL`'s server when set (a throw-away database, dropped at the end), else
//! a private cluster in a temporary directory with PostgreSQL's default (durable) settings.
//! Run it with `scripts/bench` (release build); it prints a Markdown table for
//! docs/benchmarks.md.

mod budgets;
mod citizens;
mod signed_in;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use clap::Parser;
use participe_core::db;
use participe_core::domain::HostName;
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::migrations::{self, TenantMigrations, fleet};
use participe_server::app;
use sqlx::Executor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
#[command(about = "Participe's benchmark")]
struct Args {
    /// Tenants to provision (and migrate).
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of measured load per page (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tenant schemas migrated at once by the fleet runner.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Database connections of the server under load.
    #[arg(long, default_value_t = 16)]
    pool_size: u32,
    /// Citizens who cast a ballot in the budget part.
    #[arg(long, default_value_t = 3200)]
    voters: usize,
    /// Run one part alone: `budgets`, `signed-in`.
    #[arg(long, value_parser = ["budgets", "signed-in"])]
    only: Option<String>,
}

fn main() {
    let args = Args::parse();
    // Request logs are formatted as in production (JSON), then discarded.
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();

    // PostgreSQL first, from the main thread (it is told to stop when this thread ends).
    let (root, _cluster, _dir) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => (
            url.rsplit_once('/').map(|(r, _)| r.to_string()).unwrap_or(url),
            None,
            None,
        ),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("participe-bench-")
                .tempdir_in("/tmp")
                .expect("temp dir");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let cluster =
                participe_embedded_pg::Cluster::start_or_reuse(dir.path(), &Default::default()).expect("PostgreSQL");
            let root = cluster.url("postgres").rsplit_once('/').unwrap().0.to_string();
            (root, Some(cluster), Some(dir))
        }
    };
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    server_rt.block_on(run(args, root));
}

async fn run(args: Args, root: String) {
    let name = format!(
        "participe_bench_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
    let admin = db::connect(&format!("{root}/postgres"), 1).await.expect("connect");
    admin.execute(format!("create database {name}").as_str()).await.unwrap();
    let url = format!("{root}/{name}");
    let pool = db::connect(&url, args.pool_size).await.unwrap();
    migrations::migrate_platform(&pool).await.unwrap();
    let base = HostName::parse("localhost").unwrap();
    let set = TenantMigrations::embedded();
    let version: String = sqlx::query_scalar("select version()").fetch_one(&pool).await.unwrap();

    // One part alone, on the demo tenants, without the fleet.
    if let Some(part) = args.only.as_deref() {
        participe_server::demo::seed(&pool, &base).await.unwrap();
        let figures = match part {
            "budgets" => budget_part(&pool, &url, &base, &args).await,
            _ => {
                let busiest = seed_busy_call(&pool, &base).await;
                signed_in_part(&pool, &url, &base, &args, busiest).await
            }
        };
        print_machine(&version);
        println!("| measure | result | target |");
        println!("|---|---|---|");
        print_rows(&figures, part);
        pool.close().await;
        let _ = admin
            .execute(format!("drop database {name} with (force)").as_str())
            .await;
        return;
    }

    // 1. Provisioning, one tenant at a time, as the console and the CLI do it, at the
    //    schema from before components, each then given a dispositif of every kind, so that
    //    step 3 converts a fleet as wave 1 left it.
    let before_components = set.clone().up_to(11);
    let mut provision_ms = Vec::with_capacity(args.tenants);
    let mut fleet_tenants = Vec::with_capacity(args.tenants);
    for i in 0..args.tenants {
        let new = NewTenantInput {
            slug: format!("bench-{i:05}"),
            name: format!("Commune n° {i}"),
            kind: "commune".into(),
            ..Default::default()
        }
        .parse(&base)
        .unwrap();
        let t0 = Instant::now();
        let tenant = provisioning::provision(&pool, &before_components, &new, "bench")
            .await
            .unwrap();
        provision_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        let mut tx = participe_core::TenantTx::begin(&pool, &tenant).await.unwrap();
        sqlx::query(
            "insert into dispositif (slug, kind, title, status, opens_on) values
               ('appel', 'appel', 'Appel à contributions', 'publie', current_date),
               ('conseil', 'conseil', 'Conseil citoyen', 'publie', null),
               ('presentation', 'presentation', 'Notre démarche', 'publie', null)",
        )
        .execute(tx.conn())
        .await
        .unwrap();
        tx.commit().await.unwrap();
        fleet_tenants.push(tenant);
    }
    let provision_total: f64 = provision_ms.iter().sum::<f64>() / 1000.0;
    provision_ms.sort_by(f64::total_cmp);

    // 3a. The conversion to components over the whole fleet (every dispositif gets the
    //     components of its kind), as `participe migrate` runs it.
    let t0 = Instant::now();
    let report = fleet::migrate(&pool, &set, args.jobs, &fleet::Quiet).await.unwrap();
    let convert_s = t0.elapsed().as_secs_f64();
    assert_eq!(report.migrated.len(), args.tenants, "{:?}", report.failed);
    for tenant in [fleet_tenants.first(), fleet_tenants.last()].into_iter().flatten() {
        let mut tx = participe_core::TenantTx::begin(&pool, tenant).await.unwrap();
        let hosted: i64 = sqlx::query_scalar("select count(*) from dispositif_component")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(hosted >= 3, "{}: {hosted} components", tenant.slug);
    }

    // 2. The drift check (`participe migrate --check`), best of three.
    let mut check_s = f64::MAX;
    for _ in 0..3 {
        let t0 = Instant::now();
        let states = fleet::check(&pool, &set).await.unwrap();
        check_s = check_s.min(t0.elapsed().as_secs_f64());
        assert_eq!(states.len(), args.tenants);
        assert!(states.iter().all(|s| !s.is_behind()));
    }

    // 3. A real additive migration (a column with a default and an index) over the fleet.
    let next = set.latest() + 1;
    let extended = set.clone().with_extra(
        next,
        "bench: page summary",
        "alter table page add column summary text not null default '';\n\
         create index page_updated_idx on page (updated_at desc);",
    );
    let t0 = Instant::now();
    let report = fleet::migrate(&pool, &extended, args.jobs, &fleet::Quiet)
        .await
        .unwrap();
    let migrate_s = t0.elapsed().as_secs_f64();
    assert_eq!(report.migrated.len(), args.tenants, "{:?}", report.failed);

    // 4. Portal home against a static page of the same bytes.
    participe_server::demo::seed(&pool, &base).await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mailer =
        participe_mail::Mailer::new(None, outbox.path().to_path_buf(), "Participe <no-reply@localhost>").unwrap();
    let storage = participe_storage::Storage::local(outbox.path().join("files"));
    let state = app::state(
        pool.clone(),
        app::web_config(base.clone(), "http", None),
        mailer.clone(),
        storage.clone(),
    );
    // The same service without the visitors' page cache: what every page costs when it is
    // rendered.
    let uncached_state = state.variant(participe_core::site::PageCache::disabled(), state.limits.clone());
    app::follow_changes(&uncached_state, db::connect(&url, 1).await.unwrap()).await;
    let uncached_addr = serve(app::router(uncached_state)).await;
    app::follow_changes(&state, db::connect(&url, 1).await.unwrap()).await;
    let portal_addr = serve(app::router(state)).await;
    let host = "nord.localhost";
    let home = fetch(portal_addr, host, "/").await;
    assert!(
        home.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&home[..80.min(home.len())])
    );
    let body_start = home.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let bytes: &'static [u8] = Vec::leak(home[body_start..].to_vec());
    let static_router = app::with_layers(Router::new().route(
        "/",
        get(move || async move { ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes) }),
    ));
    let static_addr = serve(static_router).await;

    let duration = Duration::from_secs(args.seconds);
    let baseline = load(static_addr, host, "/", args.connections, duration);
    let portal = load(portal_addr, host, "/", args.connections, duration);
    let ratio = portal.rps / baseline.rps;

    // 5. A busy call: 1,000 contributions, 20,000 comments, 200 of them on one contribution.
    let busiest = seed_busy_call(&pool, &base).await;
    let list_path = "/participer/bench-appel";
    let page_path = format!("/participer/bench-appel/contributions/{busiest}");
    let mut busy = Vec::new();
    for (label, path) in [
        ("call list page (20 of 1,000)", list_path.to_string()),
        ("contribution page, 200 comments", page_path),
    ] {
        let page = fetch(portal_addr, host, &path).await;
        assert!(
            page.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&page[..200.min(page.len())])
        );
        let start = page.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let same: &'static [u8] = Vec::leak(page[start..].to_vec());
        let path_static = path.clone();
        let twin = app::with_layers(Router::new().route(
            &path_static,
            get(move || async move { ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], same) }),
        ));
        let twin_addr = serve(twin).await;
        let base_load = load(twin_addr, host, &path, args.connections, duration);
        let real = load(portal_addr, host, &path, args.connections, duration);
        let uncached = load(uncached_addr, host, &path, args.connections, duration);
        busy.push((label, same.len(), base_load, real, uncached));
    }

    // 5b. The same pages for signed-in citizens, and posting a comment.
    let signed_figures = signed_in_part(&pool, &url, &base, &args, busiest).await;

    // 6. The operators' tenants table over the whole fleet, signed in as an operator, with a
    //    day of traffic (24 hourly rows) recorded for every tenant.
    sqlx::query(
        "insert into tenant_traffic (tenant_id, hour, requests, errors, latency, last_request_at)
         select t.id, date_trunc('hour', now()) - make_interval(hours => h), 100, 1,
                array[40, 30, 10, 5, 5, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0]::bigint[],
                date_trunc('hour', now()) - make_interval(hours => h)
           from tenant t, generate_series(0, 23) h
         on conflict do nothing",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("analyze tenant_traffic").execute(&pool).await.unwrap();
    let ops_cookie = operator_session(&pool, portal_addr, "bench").await;
    let ops_host = "ops.localhost";
    let table = fetch_with(portal_addr, ops_host, "/", &ops_cookie).await;
    assert!(
        table.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&table[..200.min(table.len())])
    );
    let mut table_ms = Vec::new();
    for path in ["/", "/?page=10", "/?q=bench-00&statut=active"] {
        for _ in 0..20 {
            let t0 = Instant::now();
            let page = fetch_with(portal_addr, ops_host, path, &ops_cookie).await;
            table_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            assert!(page.starts_with(b"HTTP/1.1 200"));
        }
    }
    table_ms.sort_by(f64::total_cmp);
    let mut health_ms = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        let page = fetch_with(portal_addr, ops_host, "/sante", &ops_cookie).await;
        health_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert!(page.starts_with(b"HTTP/1.1 200"));
    }
    health_ms.sort_by(f64::total_cmp);
    let rss_mb = resident_mb();

    // 7. The server alone: `participe serve` (built beside this benchmark) as its own
    //    process on the same database, after one visit to every portal and the ops table.
    let server = server_process(&pool, &url, args.tenants).await;

    // 8. A participatory budget, on a server of its own.
    let budget_figures = budget_part(&pool, &url, &base, &args).await;

    let provision_median = percentile(&provision_ms, 50.0);
    let provision_p95 = percentile(&provision_ms, 95.0);
    print_machine(&version);
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| provisioning, median over {} tenants (p95) | {provision_median:.1} ms ({provision_p95:.1} ms; {provision_total:.1} s in all) | ≤ 100 ms |",
        args.tenants
    );
    println!(
        "| `migrate --check` over {} tenants | {check_s:.3} s | ≤ 2 s for 1,000 |",
        args.tenants
    );
    println!(
        "| conversion to components (tenant migrations 12–13, 3 dispositifs each) over {} tenants, {} at a time | {convert_s:.2} s | — |",
        args.tenants, args.jobs
    );
    println!(
        "| additive migration over {} tenants, {} at a time | {migrate_s:.2} s | ≤ 60 s for 1,000 |",
        args.tenants, args.jobs
    );
    println!(
        "| static page, same bytes ({} B), {} connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | baseline |",
        bytes.len(),
        args.connections,
        baseline.rps,
        baseline.p50,
        baseline.p99
    );
    println!(
        "| portal home, {} connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | p99 ≤ 10 ms |",
        args.connections, portal.rps, portal.p50, portal.p99
    );
    println!("| portal home / static throughput | {:.0} % | ≥ 25 % |", ratio * 100.0);
    for (label, size, base_load, real, uncached) in &busy {
        println!(
            "| static twin of the {label} ({size} B) | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | baseline |",
            base_load.rps, base_load.p50, base_load.p99
        );
        println!(
            "| {label}, visitors (page cache), {} connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({:.0} % of static) | p99 ≤ 15 ms |",
            args.connections,
            real.rps,
            real.p50,
            real.p99,
            real.rps / base_load.rps * 100.0
        );
        println!(
            "| {label}, rendered every time (no page cache), {} connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({:.0} % of static) | — |",
            args.connections,
            uncached.rps,
            uncached.p50,
            uncached.p99,
            uncached.rps / base_load.rps * 100.0
        );
    }
    println!(
        "| ops tenants table over {} tenants (3 pages × 20, one at a time) | p50 {:.1} ms, max {:.1} ms | ≤ 300 ms |",
        args.tenants,
        percentile(&table_ms, 50.0),
        table_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| ops fleet health page (slowest tenants over {} tenants' day of traffic, drift check, queue), 10 times | p50 {:.1} ms, max {:.1} ms | — |",
        args.tenants,
        percentile(&health_ms, 50.0),
        health_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| resident memory of the whole run (server, load generator, caches) after all of the above | {rss_mb:.0} MB | — |"
    );
    match server {
        Some((rss, peak)) => println!(
            "| `participe serve` alone: resident memory after visiting each of the {} portals and the ops table | {rss:.0} MB (peak {peak:.0} MB) | ≤ 150 MB |",
            args.tenants
        ),
        None => println!(
            "| `participe serve` alone | not measured: build it with `cargo build --release -p participe` | ≤ 150 MB |"
        ),
    }
    print_rows(&signed_figures, "signed-in");
    print_rows(&budget_figures, "budget");
    let busy_errors: usize = busy.iter().map(|(_, _, b, r, u)| b.errors + r.errors + u.errors).sum();
    if portal.errors + baseline.errors + busy_errors > 0 {
        println!(
            "\nnon-200 responses: portal {}, static {}, busy call {busy_errors}",
            portal.errors, baseline.errors
        );
    }

    pool.close().await;
    let _ = admin
        .execute(format!("drop database {name} with (force)").as_str())
        .await;
}

fn print_machine(version: &str) {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "machine: {cpus} CPUs, {}",
        version.split(" on ").next().unwrap_or(version)
    );
    println!();
}

fn print_rows(figures: &Figures, part: &str) {
    for row in &figures.rows {
        println!("{row}");
    }
    if figures.errors > 0 {
        println!("\nunexpected responses in the {part} part: {}", figures.errors);
    }
}

/// The production service's state for the parts with many signed-in citizens: its sign-in
/// limit per address lets the bench's thousands of them in from loopback. Mails go to a
/// directory that lives as long as the returned guard.
fn citizens_state(pool: &sqlx::PgPool, base: &HostName) -> (participe_web::AppState, tempfile::TempDir) {
    let outbox = tempfile::tempdir().unwrap();
    let mailer =
        participe_mail::Mailer::new(None, outbox.path().to_path_buf(), "Participe <no-reply@localhost>").unwrap();
    let storage = participe_storage::Storage::local(outbox.path().join("files"));
    let state = app::state(
        pool.clone(),
        app::web_config(base.clone(), "http", None),
        mailer,
        storage,
    );
    let mut limits = participe_web::ratelimit::RateLimits::new();
    limits.login = participe_web::ratelimit::Limit::new(1_000_000, 10, Duration::from_secs(15 * 60));
    (state.variant(state.pages.clone(), limits), outbox)
}

/// The budget part on a server of its own.
async fn budget_part(pool: &sqlx::PgPool, url: &str, base: &HostName, args: &Args) -> Figures {
    let (state, _outbox) = citizens_state(pool, base);
    app::follow_changes(&state, db::connect(url, 1).await.unwrap()).await;
    let addr = serve(app::router(state)).await;
    budgets::run(
        pool,
        addr,
        args.connections,
        args.voters,
        Duration::from_secs(args.seconds),
    )
    .await
}

/// The signed-in part on servers of their own: one as in production, one whose page cache
/// keeps nothing.
async fn signed_in_part(pool: &sqlx::PgPool, url: &str, base: &HostName, args: &Args, busiest: uuid::Uuid) -> Figures {
    let (served, _outbox) = citizens_state(pool, base);
    let rendered = served.variant(participe_core::site::PageCache::disabled(), served.limits.clone());
    app::follow_changes(&served, db::connect(url, 1).await.unwrap()).await;
    app::follow_changes(&rendered, db::connect(url, 1).await.unwrap()).await;
    let served = serve(app::router(served)).await;
    let rendered = serve(app::router(rendered)).await;
    signed_in::run(
        pool,
        served,
        rendered,
        args.connections,
        Duration::from_secs(args.seconds),
        busiest,
    )
    .await
}

/// Creates, on the `nord` demo tenant, a published call with 1,000 contributions by 200
/// citizens and 20,000 comments: 200 (100 with a reply each) on the busiest contribution,
/// 20 on each of the others. Returns the busiest one's id.
async fn seed_busy_call(pool: &sqlx::PgPool, base: &HostName) -> uuid::Uuid {
    let slug = participe_core::domain::Slug::parse("nord").unwrap();
    let tenant = participe_core::fleet::registry::get_by_slug(pool, &slug).await.unwrap();
    let _ = base;
    let mut tx = participe_core::TenantTx::begin(pool, &tenant).await.unwrap();
    let script = r#"
        insert into dispositif (slug, kind, title, summary, opens_on, closes_on, status)
        values ('bench-appel', 'appel', 'Un appel très suivi', 'Mille contributions.', current_date - 30, current_date + 30, 'publie');
        insert into dispositif_theme (dispositif_id, name, position)
        select d.id, 'Thème ' || n, n from dispositif d, generate_series(1, 5) n where d.slug = 'bench-appel';
        insert into citizen (email, display_name, profile, password_hash, email_confirmed_at)
        select 'bench-' || n || '@participe.invalid', 'Participant·e ' || n, 'citoyen', 'x', now()
          from generate_series(1, 200) n;
        insert into contribution (dispositif_id, theme_id, author_id, title, body, created_at, comment_count)
        select d.id,
               (select id from dispositif_theme t where t.dispositif_id = d.id order by position offset (n % 5) limit 1),
               (select id from citizen order by email offset (n % 200) limit 1),
               'Proposition n° ' || n,
               repeat('Une proposition détaillée, argumentée et concrète. ', 12),
               now() - make_interval(mins => n),
               case when n = 1 then 200 else 20 end
          from dispositif d, generate_series(1, 1000) n where d.slug = 'bench-appel';
    "#;
    sqlx::Executor::execute(tx.conn(), script).await.unwrap();
    let busiest: uuid::Uuid = sqlx::query_scalar("select id from contribution where title = 'Proposition n° 1'")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    // 100 top-level comments on the busiest, each with one reply; 20 top-level on each other.
    sqlx::query(
        "insert into comment (contribution_id, author_id, body, created_at)
         select $1, (select id from citizen order by email offset (n % 200) limit 1),
                'Un commentaire nuancé, qui répond à la proposition point par point. ' || n,
                now() - make_interval(secs => 1000 - n)
           from generate_series(1, 100) n",
    )
    .bind(busiest)
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::query(
        "insert into comment (contribution_id, parent_id, author_id, body, created_at)
         select contribution_id, id, author_id, 'Une réponse courte.', created_at + interval '1 second'
           from comment where contribution_id = $1",
    )
    .bind(busiest)
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::query(
        "insert into comment (contribution_id, author_id, body, created_at)
         select c.id, c.author_id, 'Un avis sur cette proposition.', c.created_at + make_interval(secs => n)
           from contribution c, generate_series(1, 20) n
          where c.id <> $1 and c.dispositif_id = (select id from dispositif where slug = 'bench-appel')",
    )
    .bind(busiest)
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::Executor::execute(tx.conn(), "analyze contribution; analyze comment; analyze citizen;")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    busiest
}

/// Creates an operator and signs in through the real form; returns the session cookie.
async fn operator_session(pool: &sqlx::PgPool, addr: SocketAddr, who: &str) -> String {
    let email = participe_core::domain::Email::parse(&format!("{who}@participe.invalid")).unwrap();
    let password = "une phrase de passe de banc d'essai";
    let created = participe_core::operators::create(
        pool,
        &email,
        "Banc d'essai",
        &participe_core::domain::NewPassword::parse(password, password).unwrap(),
        "bench",
    )
    .await
    .unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(created.totp_secret).to_bytes().unwrap(),
        Some("Participe".into()),
        email.to_string(),
    )
    .unwrap();
    let form = String::from_utf8_lossy(&fetch(addr, "ops.localhost", "/connexion").await).to_string();
    let body = format!(
        "email={who}%40participe.invalid&password={}&code={}&csrf={}",
        password.replace(' ', "+").replace('\'', "%27"),
        totp.generate_current().unwrap(),
        csrf_of(&form)
    );
    let answer = post_form(addr, "ops.localhost", "/connexion", &set_cookie(&form), &body).await;
    assert!(
        answer.starts_with("HTTP/1.1 303"),
        "{}",
        &answer[..200.min(answer.len())]
    );
    set_cookie(&answer)
}

/// The session cookie an answer sets (`name=value`).
fn set_cookie(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// The CSRF token of a page's (first) form.
fn csrf_of(page: &str) -> String {
    page.split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a form token")
        .to_string()
}

/// Posts a urlencoded form on a connection of its own; the whole answer.
async fn post_form(addr: SocketAddr, host: &str, path: &str, cookie: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).to_string()
}

async fn fetch_with(addr: SocketAddr, host: &str, path: &str, cookie: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

/// This process's resident memory, in MB (Linux).
fn resident_mb() -> f64 {
    memory_mb("self", "VmRSS:")
}

/// A line of `/proc/<pid>/status` in MB (`VmRSS:` now, `VmHWM:` at its peak).
fn memory_mb(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Starts `participe serve` on the benchmark's database, visits every portal's home page
/// and the ops table's pages, and reads the process's resident memory (now, peak). `None`
/// when the binary was not built.
async fn server_process(pool: &sqlx::PgPool, url: &str, tenants: usize) -> Option<(f64, f64)> {
    let binary = std::env::current_exe().ok()?.with_file_name("participe");
    if !binary.exists() {
        return None;
    }
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (listen, metrics) = (free(), free());
    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(&binary)
        .args(["serve", "--skip-migrations", "--listen", &listen.to_string()])
        .args(["--metrics-listen", &metrics.to_string()])
        .env("DATABASE_URL", url)
        .env("PARTICIPE_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let pid = child.id()?.to_string();
    let start = Instant::now();
    while TcpStream::connect(listen).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "participe serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..tenants {
        let page = fetch(listen, &format!("bench-{i:05}.localhost"), "/").await;
        assert!(page.starts_with(b"HTTP/1.1 200"));
    }
    let cookie = operator_session(pool, listen, "bench-serve").await;
    for page in 1..=(tenants / 50).max(1) {
        let answer = fetch_with(listen, "ops.localhost", &format!("/?page={page}"), &cookie).await;
        assert!(answer.starts_with(b"HTTP/1.1 200"));
    }
    let measured = (memory_mb(&pid, "VmRSS:"), memory_mb(&pid, "VmHWM:"));
    let _ = child.kill().await;
    Some(measured)
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn fetch(addr: SocketAddr, host: &str, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

/// What a part of the run measured, as rows of the benchmark's table, and the answers that
/// were not the expected ones.
pub struct Figures {
    pub rows: Vec<String>,
    pub errors: usize,
}

struct LoadResult {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: usize,
}

/// Closed-loop load from a thread of its own (as a separate client process would be):
/// `connections` keep-alive connections, each sending its next request when the previous
/// answer is read. One second of warm-up, then `duration` measured.
fn load(addr: SocketAddr, host: &str, path: &str, connections: usize, duration: Duration) -> LoadResult {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes();
    load_each(addr, vec![request; connections], duration)
}

/// [`load`] with a request of its own for each connection (one signed-in citizen each).
fn load_each(addr: SocketAddr, requests: Vec<Vec<u8>>, duration: Duration) -> LoadResult {
    load_each_expecting(addr, requests, duration, 200)
}

/// [`load_each`], counting as errors the answers whose status is not `expected`.
fn load_each_expecting(addr: SocketAddr, requests: Vec<Vec<u8>>, duration: Duration, expected: u16) -> LoadResult {
    load_varied(
        addr,
        requests.into_iter().map(|r| vec![r]).collect(),
        duration,
        expected,
    )
}

/// Closed-loop load where connection `i` sends `requests[i]` in turn, over and over (posts
/// that must differ from one another to be written).
fn load_varied(addr: SocketAddr, requests: Vec<Vec<Vec<u8>>>, duration: Duration, expected: u16) -> LoadResult {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let warm_until = Instant::now() + Duration::from_secs(1);
                    let end = warm_until + duration;
                    let tasks: Vec<_> = requests
                        .iter()
                        .map(|turns| {
                            let turns = turns.clone();
                            tokio::spawn(async move { connection(addr, turns, warm_until, end, expected).await })
                        })
                        .collect();
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    for t in tasks {
                        let (l, e) = t.await.unwrap();
                        latencies.extend(l);
                        errors += e;
                    }
                    latencies.sort_by(f64::total_cmp);
                    LoadResult {
                        rps: latencies.len() as f64 / duration.as_secs_f64(),
                        p50: percentile(&latencies, 50.0),
                        p99: percentile(&latencies, 99.0),
                        errors,
                    }
                })
            })
            .join()
            .unwrap()
    })
}

async fn connection(
    addr: SocketAddr,
    turns: Vec<Vec<u8>>,
    warm_until: Instant,
    end: Instant,
    expected: u16,
) -> (Vec<f64>, usize) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut latencies = Vec::with_capacity(100_000);
    let mut errors = 0;
    for request in turns.iter().cycle() {
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        stream.write_all(request).await.unwrap();
        let status_ok = read_status(&mut stream, &mut buf).await == expected;
        let now = Instant::now();
        if now >= warm_until && now < end {
            if status_ok {
                latencies.push((now - t0).as_secs_f64() * 1000.0);
            } else {
                errors += 1;
            }
        }
    }
    (latencies, errors)
}

/// Reads one HTTP/1.1 response with a Content-Length body; true when its status is 200.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    read_status(stream, buf).await == 200
}

/// Reads one HTTP/1.1 response with a Content-Length body; its status.
async fn read_status(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    let mut filled = 0;
    let header_end = loop {
        let n = stream.read(&mut buf[filled..]).await.unwrap();
        assert!(n > 0, "connection closed by the server");
        filled += n;
        if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    };
    let head = std::str::from_utf8(&buf[..header_end]).unwrap_or_default();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("responses carry a Content-Length");
    let mut remaining = (header_end + length).saturating_sub(filled);
    while remaining > 0 {
        let chunk = remaining.min(buf.len());
        let n = stream.read(&mut buf[..chunk]).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        remaining -= n;
    }
    status
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
