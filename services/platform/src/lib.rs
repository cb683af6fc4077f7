//! The operator console at `ops.<base>`. Operators' accounts, the tenants table, jobs,
//! backups and fleet health arrive with the operator-console issue; until operators can
//! sign in, this host shows no tenant data at all, only where to look instead.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use participe_web::{AppState, Result};

pub fn router(state: AppState) -> Router {
    Router::new().route("/", get(welcome)).with_state(state)
}

pub fn add_templates(env: &mut minijinja::Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}

async fn welcome(State(app): State<AppState>) -> Result<Html<String>> {
    app.templates.render(
        "ops/welcome.html",
        minijinja::context! { lang => "fr", site_name => "Participe — exploitation", home => "/" },
    )
}
