//! The operator console at `ops.<base>`. Operators sign in with a password and a TOTP code
//! (their accounts are created from the command line, never on the web); their sessions
//! use a cookie of their own (`participe_ops`), bound to this host. Modules are features:
//! `auth`, `tenants` (the table and each tenant's page), `health` (fleet health), `jobs`
//! (the queue), `outbox`. Operators see tenants
//! through these pages only: nothing here signs in as a citizen or a staff member.

mod auth;
mod frame;
mod health;
mod jobs;
mod outbox;
mod tenants;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use participe_web::{AppState, csrf, session};

/// Name of the ops console's session cookie.
pub const COOKIE: &str = "participe_ops";

pub fn router(state: AppState) -> Router {
    // Short sessions: an operator's browser left open should not stay signed in for long.
    let sessions = session::layer(&state, COOKIE, time::Duration::hours(2));
    Router::new()
        .route("/", get(tenants::list))
        .route("/connexion", get(auth::form).post(auth::sign_in))
        .route("/deconnexion", post(auth::sign_out))
        .route("/portails/{slug}", get(tenants::show))
        .route("/portails/{slug}/statut", post(tenants::set_status))
        .route("/portails/{slug}/facturation", post(tenants::set_billing))
        .route("/portails/{slug}/exports", post(tenants::request_export))
        .route("/portails/{slug}/exports/{id}", get(tenants::download_export))
        .route("/sante", get(health::show))
        .route("/taches", get(jobs::show))
        .route("/taches/{id}/relance", post(jobs::retry))
        .route("/courriels", get(outbox::list))
        .route("/courriels/{name}", get(outbox::show))
        .layer(middleware::from_fn(csrf::same_origin))
        .layer(middleware::from_fn(session::bind_to_host))
        .layer(sessions)
        .layer(participe_web::security::no_store())
        .with_state(state)
}

pub fn add_templates(env: &mut minijinja::Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}
