//! The whole HTTP service, composed once: the shared front door (`participe_web::dispatch`)
//! with the portal, console and ops routers behind it, and the cross-cutting layers around.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use participe_core::domain::HostName;
use participe_core::tenancy::resolver::Resolver;
use participe_mail::Mailer;
use participe_storage::Storage;
use participe_web::dispatch::{self, Routers};
use participe_web::{App, AppState, Templates, WebConfig, security};
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub fn templates() -> Templates {
    Templates::new(&[
        participe_web::add_templates,
        participe_portal::add_templates,
        participe_tenant_admin::add_templates,
        participe_platform::add_templates,
    ])
}

pub fn state(pool: PgPool, config: WebConfig, mailer: Mailer, storage: Storage) -> AppState {
    let resolver = Resolver::new(pool.clone(), config.base.clone());
    let oidc = participe_oidc::Oidc::new(config.oidc_timeout, config.oidc_loopback);
    AppState::new(App {
        pool,
        templates: templates(),
        resolver,
        branding: Default::default(),
        pages: Default::default(),
        sessions: Default::default(),
        citizens: Default::default(),
        mailer,
        storage,
        limits: Default::default(),
        config,
        traffic: Default::default(),
        audience: Default::default(),
        oidc,
    })
}

/// Every minute, this process's per-tenant traffic counters go to the database (and once
/// more when the process stops, from `serve`).
pub fn spawn_traffic_flush(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = state.traffic.flush(&state.pool).await {
                tracing::warn!(error = %e, "tenant traffic not saved; kept for the next minute");
            }
            if let Err(e) = state.audience.flush(&state.pool).await {
                tracing::warn!(error = %e, "audience statistics not saved");
            }
        }
    });
}

/// Housekeeping every few minutes: expired sessions leave the database, idle rate-limit
/// keys leave memory.
pub fn spawn_housekeeping(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            state.limits.forget_idle();
            if let Err(e) = sqlx::query("delete from web_session where expiry_date < now()")
                .execute(&state.pool)
                .await
            {
                tracing::warn!(error = %e, "deleting expired sessions");
            }
        }
    });
}

/// Starts the task that keeps this process's caches in step with the database.
pub async fn follow_changes(state: &AppState, listen_pool: PgPool) {
    tokio::spawn(participe_core::fleet::notifications::follow(
        listen_pool,
        state.resolver.clone(),
        state.branding.clone(),
        state.pages.clone(),
        vec![
            std::sync::Arc::new(state.sessions.clone()),
            std::sync::Arc::new(state.citizens.clone()),
        ],
    ));
}

/// The configuration of the web side for a given base domain and public port.
pub fn web_config(base: HostName, scheme: &str, public_port: Option<u16>) -> WebConfig {
    WebConfig {
        base,
        scheme: scheme.to_string(),
        public_port,
        trusted_proxies: 0,
        verifier: Default::default(),
        billing: Default::default(),
        stripe_webhook_secret: None,
        stripe: None,
        secret_key: None,
        franceconnect_issuer: participe_web::FRANCECONNECT_ISSUER.to_string(),
        console_oidc: None,
        oidc_timeout: participe_oidc::DEFAULT_TIMEOUT,
        oidc_loopback: false,
    }
}

/// Checks the component registry against the portal's and the console's surfaces, the
/// tenant migrations and every locale (`core::components::validate`): a component that
/// cannot serve stops the process before it listens.
pub fn check_components() -> Result<(), participe_core::components::RegistryError> {
    let locales: Vec<(&str, serde_json::Value)> = participe_web::CATALOG_SOURCES
        .iter()
        .map(|(lang, json)| (*lang, serde_json::from_str(json).unwrap_or_default()))
        .collect();
    let locales: Vec<(&str, &serde_json::Value)> = locales.iter().map(|(l, v)| (*l, v)).collect();
    let portal: Vec<&dyn participe_core::components::Surface> = participe_portal::components::SURFACES
        .iter()
        .map(|s| *s as &dyn participe_core::components::Surface)
        .collect();
    let console: Vec<&dyn participe_core::components::Surface> = participe_tenant_admin::components::SURFACES
        .iter()
        .map(|s| *s as &dyn participe_core::components::Surface)
        .collect();
    participe_core::components::validate(
        &portal,
        &console,
        &participe_core::migrations::TenantMigrations::embedded().sql(),
        &locales,
    )
}

pub fn router(state: AppState) -> Router {
    let https = state.config.scheme == "https";
    let routers = Routers {
        portal: participe_portal::router(state.clone()),
        console: participe_tenant_admin::router(state.clone()),
        ops: participe_platform::router(state.clone()),
    };
    security::with_hsts(with_layers(dispatch::router(state, routers)), https)
}

/// The layers every response goes through: security headers, request id, request span.
/// Public so that the benchmark's static baseline pays for exactly the same ones.
pub fn with_layers(router: Router) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    security::with_headers(router)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                        site = tracing::field::Empty,
                        tenant = tracing::field::Empty,
                        "tenant.slug" = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
