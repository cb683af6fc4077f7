//! `participe serve`: the public listener, the operations listener (`/metrics`, the TLS
//! "ask" endpoint), the registry listener that keeps every replica's host cache fresh, and a
//! graceful shutdown that drains in-flight requests before the database goes away.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use participe_core::domain::HostName;
use participe_core::fleet::registry;
use participe_core::migrations::{self, TenantMigrations, fleet};
use participe_core::tenancy::resolver::{Resolver, Site};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{Global, ServeArgs};
use crate::database::Database;
use crate::{Error, app, telemetry};

/// `serve`, or with `worker_only` the `worker` command: jobs and the operations listener,
/// no public listener.
pub async fn serve(global: &Global, base: HostName, args: ServeArgs, worker_only: bool) -> Result<(), Error> {
    app::check_components().map_err(|e| Error::CheckFailed(e.to_string()))?;
    // A storage setting that cannot work stops us before the database is opened.
    storage(&args, &global.data_dir())?;
    let db = tokio::select! {
        db = Database::open(global) => db?,
        _ = shutdown_signal() => return Err(Error::Interrupted),
    };
    if args.skip_migrations {
        let (_, applied) = migrations::platform_state(&db.pool).await?;
        if applied.is_none() {
            return Err(Error::Usage(
                "the database has no Participe schema yet: run `participe migrate` first".into(),
            ));
        }
    } else {
        migrate_all(&db.pool).await?;
    }
    run(db, base, args, &global.data_dir(), worker_only).await
}

/// Brings the platform schema and every tenant schema up to date, logging a summary.
pub async fn migrate_all(pool: &PgPool) -> Result<(), Error> {
    migrations::migrate_platform(pool).await?;
    let report = fleet::migrate(pool, &TenantMigrations::embedded(), 4, &fleet::Quiet).await?;
    tracing::info!(
        migrated = report.migrated.len(),
        current = report.already_current,
        failed = report.failed.len(),
        "tenant schemas migrated"
    );
    for (slug, error) in &report.failed {
        tracing::error!(tenant = %slug, %error, "tenant schema left behind");
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then drains and closes the database.
pub async fn run(
    db: Database,
    base: HostName,
    args: ServeArgs,
    data_dir: &std::path::Path,
    worker_only: bool,
) -> Result<(), Error> {
    let public_port = args
        .public_port
        .or((base.as_str() == "localhost").then_some(args.listen.port()));
    let from = args
        .mail_from
        .clone()
        .unwrap_or_else(|| format!("Participe <no-reply@{base}>"));
    let mailer = participe_mail::Mailer::new(args.smtp_url.as_deref(), data_dir.join("outbox"), &from)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let mut config = app::web_config(base, &args.public_scheme, public_port);
    config.trusted_proxies = args.trusted_proxies;
    // Secrets: from the environment only (never a flag, which `ps` shows).
    let secret = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|s| !s.trim().is_empty()))
            .map(participe_web::Secret::new)
    };
    config.stripe_webhook_secret = secret(&["PARTICIPE_STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"]);
    config.stripe =
        secret(&["PARTICIPE_STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"]).map(|secret_key| participe_web::StripeSettings {
            secret_key,
            api_base: args.stripe_api_base.clone(),
        });
    config.secret_key = match std::env::var("PARTICIPE_SECRET_KEY")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(value) => {
            Some(participe_core::domain::sealed::SecretKey::from_env_value(&value).map_err(|e| Error::Usage(e.0))?)
        }
        None => {
            tracing::warn!("PARTICIPE_SECRET_KEY is not set: sign-in providers cannot be configured");
            None
        }
    };
    config.franceconnect_issuer = args.franceconnect_issuer.trim_end_matches('/').to_string();
    config.oidc_timeout = std::time::Duration::from_secs(args.oidc_timeout.max(1));
    config.oidc_loopback = args.oidc_allow_loopback;
    config.console_oidc = match (&args.console_oidc_issuer, &args.console_oidc_client_id) {
        (Some(issuer), Some(client_id)) => Some(participe_web::ConsoleOidc {
            label: args.console_oidc_label.clone(),
            issuer: issuer.trim_end_matches('/').to_string(),
            client_id: client_id.clone(),
            client_secret: secret(&["PARTICIPE_CONSOLE_OIDC_CLIENT_SECRET"])
                .ok_or_else(|| Error::Usage("PARTICIPE_CONSOLE_OIDC_CLIENT_SECRET is missing".into()))?,
            scopes: args.console_oidc_scopes.clone(),
            emails_verified: args.console_oidc_emails_verified,
        }),
        _ => None,
    };
    config.billing = participe_core::billing::standing::Policy {
        grace: time::Duration::days(args.billing_grace_days.into()),
        retention: time::Duration::days(args.billing_retention_days.into()),
    };
    config.verifier.dns_server = args.dns_server;
    let storage = storage(&args, data_dir)?;
    storage.verify().await.map_err(Error::Storage)?;
    tracing::info!(storage = %storage.describe(), "uploaded files");
    let state = app::state(db.pool.clone(), config, mailer, storage);
    tracing::info!(mail = %state.mailer.describe(), "outgoing mail");
    app::follow_changes(&state, db.listener_pool().await?).await;
    app::spawn_housekeeping(&state);
    app::spawn_traffic_flush(&state);
    if worker_only || !args.no_worker {
        crate::worker::spawn(&state, db.listener_pool().await?, usize::from(args.worker_concurrency));
        crate::worker::spawn_pruning(db.pool.clone());
        crate::worker::spawn_billing_sweep(&state);
        tracing::info!(concurrency = args.worker_concurrency, "running background jobs");
    }

    let ops_listener = bind(args.metrics_listen).await?;
    if let Some(handle) = telemetry::install_metrics() {
        let ops = ops_router(handle, db.pool.clone(), state.resolver.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(ops_listener, ops).await {
                tracing::error!(error = %e, "operations listener stopped");
            }
        });
    }
    if worker_only {
        tracing::info!(metrics = %args.metrics_listen, "worker running");
        shutdown_signal().await;
        tracing::info!("shutting down: jobs in progress are picked up again by another worker");
        db.close().await;
        return Ok(());
    }
    let listener = bind(args.listen).await?;
    tracing::info!(
        listen = %args.listen,
        metrics = %args.metrics_listen,
        console = %state.config.console_origin(),
        "serving"
    );
    axum::serve(
        participe_web::listener::Listener::new(listener, &state),
        app::router(state.clone()).into_make_service_with_connect_info::<participe_web::listener::Peer>(),
    )
    .with_graceful_shutdown(async {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
    })
    .await
    .map_err(|e| Error::Io("serving HTTP".into(), e))?;
    if let Err(e) = state.traffic.flush(&state.pool).await {
        tracing::warn!(error = %e, "last minute of tenant traffic not saved");
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Uploaded files: in the S3 bucket the settings name, else under `<data dir>/files`.
fn storage(args: &ServeArgs, data_dir: &std::path::Path) -> Result<participe_storage::Storage, Error> {
    match args.s3_config().map_err(Error::Usage)? {
        Some(config) => participe_storage::Storage::s3(config).map_err(|e| Error::Usage(e.to_string())),
        None => Ok(participe_storage::Storage::local(data_dir.join("files"))),
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io(format!("cannot listen on {addr}"), e))
}

#[derive(Clone)]
struct Ops {
    handle: PrometheusHandle,
    pool: PgPool,
    resolver: Resolver,
    /// When the drift gauge was last computed: the check reads every schema's history, so
    /// scrapes reuse it for a minute.
    drift_checked: Arc<Mutex<Option<Instant>>>,
}

fn ops_router(handle: PrometheusHandle, pool: PgPool, resolver: Resolver) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/tls-allowed", get(tls_allowed))
        .with_state(Ops {
            handle,
            pool,
            resolver,
            drift_checked: Arc::default(),
        })
}

/// Prometheus text format. Pool and tenant gauges are read at scrape time.
async fn metrics(State(ops): State<Ops>) -> String {
    let size = ops.pool.size() as f64;
    let idle = ops.pool.num_idle() as f64;
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("db_pool_max_connections").set(f64::from(ops.pool.options().get_max_connections()));
    if let Ok(counts) = registry::count(&ops.pool).await {
        for status in ["active", "suspended"] {
            let n = counts.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
            metrics::gauge!("participe_tenants", "status" => status).set(n as f64);
        }
    }
    let due = {
        let mut last = ops.drift_checked.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(60));
        if due {
            *last = Some(Instant::now());
        }
        due
    };
    if due && let Ok(states) = fleet::check(&ops.pool, &TenantMigrations::embedded()).await {
        let behind = states.iter().filter(|s| s.is_behind()).count();
        metrics::gauge!("participe_tenant_schemas_behind").set(behind as f64);
    }
    ops.handle.render()
}

#[derive(serde::Deserialize)]
struct AskQuery {
    domain: String,
}

/// For on-demand TLS at the edge (Caddy's `ask`): 200 when Participe serves this host, so a
/// certificate may be requested for it; 404 otherwise, so nobody can make the edge request
/// certificates for made-up names.
async fn tls_allowed(State(ops): State<Ops>, Query(q): Query<AskQuery>) -> impl IntoResponse {
    match ops.resolver.resolve(&q.domain).await {
        // A domain not verified yet gets no certificate: its proof travels over plain HTTP.
        Ok(Site::Unknown | Site::Verification { .. }) => StatusCode::NOT_FOUND,
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
