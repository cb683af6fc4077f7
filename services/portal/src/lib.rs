//! The portal a tenant's citizens see at `<slug>.<base>` or the tenant's own domain.
//!
//! Every handler receives a [`frame::Portal`]: the resolved tenant, an open `TenantTx` and
//! the tenant's branding. A component is a module here (`home`, `pages`, and the components
//! of later issues); it never reaches the platform tables and never sees another tenant.

mod dispositifs;
mod frame;
mod home;
mod logo;
mod pages;
mod sections;
mod theme;

use axum::Router;
use axum::routing::get;
use participe_web::AppState;

pub use frame::Portal;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home::show))
        .route("/theme.css", get(theme::css))
        .route("/logo", get(logo::show))
        .route("/pages/{slug}", get(pages::show))
        .route("/participer", get(dispositifs::list))
        .route("/participer/{slug}", get(dispositifs::show))
        .route("/agenda", get(sections::agenda))
        .route("/actualites", get(sections::actualites))
        .route("/documents", get(sections::documents))
        .with_state(state)
}

pub fn add_templates(env: &mut minijinja::Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}
