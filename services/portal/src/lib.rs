//! The portal a tenant's citizens see at `<slug>.<base>` or the tenant's own domain.
//!
//! Every handler receives a [`frame::Portal`]: the resolved tenant, its branding, the
//! visitor's session and the signed-in citizen; handlers that read the tenant's tables open
//! a `TenantTx` from it (`Portal::begin`). The components a dispositif hosts are drawn by
//! `components` (one module each); the other modules are the portal's own pages (home,
//! agenda, news, documents, accounts…). Nothing here reaches the platform tables or another
//! tenant.

mod account;
mod agenda;
pub mod agenda_mail;
mod api;
mod audience;
mod auth;
pub mod components;
mod dispositifs;
mod documents;
mod frame;
mod home;
mod kit;
mod language;
mod logo;
mod news;
mod oidc;
mod pages;
mod participation;
mod search;
mod theme;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use participe_web::{AppState, csrf, session};

pub use frame::Portal;

/// Name of the portal's session cookie (host-only: one per portal host).
pub const COOKIE: &str = "participe_session";

pub fn router(state: AppState) -> Router {
    // Sessions load lazily: a visitor without a cookie costs no database round trip.
    let sessions = session::layer(&state, COOKIE, time::Duration::days(14));
    // What readers and programs poll: each answer with an ETag, a 304 when unchanged, gzip
    // when accepted.
    let feeds = Router::new()
        .route("/agenda.ics", get(agenda::feed))
        .route("/agenda/{id}/rencontre.ics", get(agenda::event_file))
        .route("/participer/{slug}/agenda.ics", get(agenda::dispositif_feed))
        .route("/actualites.atom", get(news::feed))
        .route("/api/v1/", get(api::index))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/{resource}", get(api::resource))
        .layer(middleware::from_fn(participe_web::conditional::respond));
    // Each component's own pages (`components::SURFACES`).
    components::routes(Router::new())
        .merge(feeds)
        .route("/", get(home::show))
        .route("/theme.css", get(theme::css))
        .route("/langue/{code}", get(language::switch))
        .route("/logo", get(logo::show))
        .route("/pages/{slug}", get(pages::show))
        .route("/participer", get(dispositifs::list))
        .route("/participer/{slug}", get(dispositifs::show))
        .route("/participer/{slug}/{component}", get(dispositifs::component))
        .route("/inscription", get(auth::sign_up_form).post(auth::sign_up))
        .route("/confirmer/{token}", get(auth::confirm))
        .route("/connexion", get(auth::login_form).post(auth::login))
        .route("/deconnexion", post(auth::logout))
        .route("/connexion/fournisseur/{id}", post(oidc::start))
        .route(participe_web::oidc::CALLBACK_PATH, get(oidc::callback))
        .route(
            "/connexion/fournisseur/inscription",
            get(oidc::sign_up_form).post(oidc::sign_up),
        )
        .route("/connexion/fournisseur/relier", get(oidc::link_form).post(oidc::link))
        .route("/mot-de-passe-oublie", get(auth::forgot_form).post(auth::forgot))
        .route("/reinitialiser/{token}", get(auth::reset_form).post(auth::reset))
        .route("/compte", get(account::show))
        .route("/compte/nom", post(account::rename))
        .route("/compte/adresse", post(account::change_email))
        .route("/compte/adresse/{token}", get(account::confirm_email))
        .route("/compte/mot-de-passe", post(account::change_password))
        .route("/compte/donnees", get(account::export))
        .route("/compte/suppression", get(account::delete_form).post(account::delete))
        .route("/charte", get(account::charter_form).post(account::accept_charter))
        .route("/agenda", get(agenda::list))
        .route("/agenda/{id}", get(agenda::show))
        .route("/agenda/{id}/inscription", post(agenda::register))
        .route("/agenda/{id}/desinscription", post(agenda::cancel_mine))
        .route("/agenda/confirmation/{token}", get(agenda::confirm))
        .route(
            "/agenda/desinscription/{token}",
            get(agenda::cancel_form).post(agenda::cancel),
        )
        .route("/actualites", get(news::list))
        .route("/actualites/{id}", get(news::show))
        .route("/actualites/{id}/image", get(news::cover))
        .route("/recherche", get(search::show))
        .route("/donnees", get(api::page))
        .route("/statistiques", get(audience::show))
        .route("/documents", get(documents::list))
        .route("/documents/{id}", get(documents::download))
        .layer(middleware::from_fn(csrf::same_origin))
        .layer(middleware::from_fn(frame::page_headers))
        .layer(middleware::from_fn(session::bind_to_host))
        .layer(sessions)
        .with_state(state)
}

pub fn add_templates(env: &mut minijinja::Environment<'static>) {
    minijinja_embed::load_templates!(*env);
    // How each audience is named beside a participant's name: `profiles[c.author_profile]`.
    let profiles: Vec<(&str, &str)> = participe_core::citizens::Profile::ALL
        .iter()
        .map(|p| (p.as_str(), p.label()))
        .collect();
    env.add_global("profiles", minijinja::Value::from_pairs(profiles));
}
