//! The tenant console at `console.<base>`, where collectivité staff sign up, create their
//! portal and run it. Modules are features: `auth` (accounts, sign-in, second factor),
//! `subscribe` (creating a portal), `dashboard`; tenant-scoped pages live under
//! `/t/<slug>/…` and pass through [`frame::InTenant`], which checks the membership before
//! anything else; billing is under `/t/<slug>/abonnement`. What a dispositif hosts is
//! managed by `components` (one module per component, plus the pages every component
//! shares); `kit` and `signin` are the pieces several modules use.

mod account;
mod agenda;
mod audience;
mod auth;
mod billing;
pub mod billing_mail;
mod branding;
mod census;
mod choices;
mod communes;
pub mod components;
mod dashboard;
mod dispositifs;
mod documents;
mod domains;
mod frame;
mod identity;
mod journal;
mod kit;
mod moderation;
pub mod moderation_mail;
mod news;
mod oidc;
mod pages;
mod settings;
mod signin;
mod stripe_webhook;
mod subscribe;
mod team;
mod unsubscribe;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use participe_web::{AppState, csrf, session};

/// Name of the console's session cookie.
pub const COOKIE: &str = "participe_console";

pub fn router(state: AppState) -> Router {
    let sessions = session::layer(&state, COOKIE, time::Duration::hours(12));
    // What every component shares (add, configure, order, hide, remove) and each one's own
    // forms (`components::SURFACES`).
    components::routes(Router::new())
        .route("/", get(dashboard::home))
        .route("/inscription", get(auth::sign_up_form).post(auth::sign_up))
        .route("/stripe/webhook", post(stripe_webhook::receive))
        .route("/confirmer/{token}", get(auth::confirm))
        .route("/connexion", get(auth::login_form).post(auth::login))
        .route("/connexion/code", get(auth::code_form).post(auth::code))
        .route("/deconnexion", post(auth::logout))
        .route("/connexion/fournisseur", post(oidc::start))
        .route(participe_web::oidc::CALLBACK_PATH, get(oidc::callback))
        .route("/invitation/{token}/fournisseur", post(oidc::start_invitation))
        .route("/mot-de-passe-oublie", get(auth::forgot_form).post(auth::forgot))
        .route("/reinitialiser/{token}", get(auth::reset_form).post(auth::reset))
        .route("/compte", get(account::show))
        .route("/compte/totp", post(account::enable_totp))
        .route("/compte/totp/desactiver", post(account::disable_totp))
        .route("/nouveau-portail", get(subscribe::form).post(subscribe::create))
        .route("/t/{slug}/", get(dashboard::tenant))
        .route("/t/{slug}/parametres", get(settings::show).post(settings::update))
        .route("/t/{slug}/communes", get(communes::show).post(communes::update))
        .route("/t/{slug}/apparence", get(branding::show).post(branding::update))
        .route("/t/{slug}/dispositifs", get(dispositifs::list))
        .route(
            "/t/{slug}/dispositifs/nouveau",
            get(dispositifs::new_form).post(dispositifs::create),
        )
        .route(
            "/t/{slug}/dispositifs/{id}",
            get(dispositifs::edit_form).post(dispositifs::update),
        )
        .route("/t/{slug}/dispositifs/{id}/statut", post(dispositifs::set_status))
        .route("/t/{slug}/domaines", get(domains::show).post(domains::add))
        .route("/t/{slug}/domaines/verification", post(domains::check))
        .route("/t/{slug}/domaines/principal", post(domains::primary))
        .route("/t/{slug}/domaines/retrait", post(domains::remove))
        .route(
            "/t/{slug}/connexion-citoyens",
            get(identity::show).post(identity::create),
        )
        .route(
            "/t/{slug}/connexion-citoyens/{id}",
            get(identity::edit_form).post(identity::update),
        )
        .route("/t/{slug}/connexion-citoyens/{id}/suppression", post(identity::delete))
        .route("/t/{slug}/agenda", get(agenda::list))
        .route("/t/{slug}/agenda/nouvelle", get(agenda::new_form).post(agenda::create))
        .route("/t/{slug}/agenda/{id}", get(agenda::edit_form).post(agenda::update))
        .route("/t/{slug}/agenda/{id}/annulation", post(agenda::cancel))
        .route("/t/{slug}/agenda/{id}/inscrits.csv", get(agenda::registrants_csv))
        .route("/t/{slug}/actualites", get(news::list))
        .route("/t/{slug}/actualites/nouvelle", get(news::new_form).post(news::create))
        .route("/t/{slug}/actualites/{id}", get(news::edit_form).post(news::update))
        .route("/t/{slug}/actualites/{id}/suppression", post(news::delete))
        .route("/t/{slug}/documents", get(documents::list))
        .route(
            "/t/{slug}/documents/nouveau",
            get(documents::new_form).post(documents::create),
        )
        .route(
            "/t/{slug}/documents/{id}",
            get(documents::edit_form).post(documents::update),
        )
        .route("/t/{slug}/documents/{id}/suppression", post(documents::delete))
        .route("/t/{slug}/pages", get(pages::list))
        .route("/t/{slug}/pages/nouvelle", get(pages::new_form).post(pages::create))
        .route("/t/{slug}/pages/{id}", get(pages::edit_form).post(pages::update))
        .route("/t/{slug}/pages/{id}/suppression", post(pages::delete))
        .route("/t/{slug}/journal", get(journal::show))
        .route("/t/{slug}/statistiques", get(audience::show))
        .route("/t/{slug}/abonnement", get(billing::show))
        .route("/t/{slug}/abonnement/souscription", post(billing::subscribe))
        .route("/t/{slug}/abonnement/gestion", post(billing::manage))
        .route("/t/{slug}/moderation", get(moderation::queue))
        .route("/t/{slug}/moderation/decision", post(moderation::decide))
        .route("/t/{slug}/participants", get(moderation::participants))
        .route("/t/{slug}/participants/blocage", post(moderation::block))
        .route("/t/{slug}/equipe", get(team::show).post(team::invite))
        .route("/t/{slug}/equipe/role", post(team::change_role))
        .route("/t/{slug}/equipe/retrait", post(team::remove))
        .route("/t/{slug}/equipe/annulation", post(team::revoke))
        .route("/invitation/{token}", get(team::invitation).post(team::accept))
        .route(
            "/desabonnement/{token}",
            get(unsubscribe::show).post(unsubscribe::apply),
        )
        .layer(middleware::from_fn(csrf::same_origin))
        .layer(middleware::from_fn(session::bind_to_host))
        .layer(sessions)
        .layer(participe_web::security::no_store())
        .with_state(state)
}

pub fn add_templates(env: &mut minijinja::Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}
