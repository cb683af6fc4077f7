//! The tenant console at `console.<base>`, where a collectivité's staff will subscribe and
//! run their portal (staff accounts, branding, dispositifs, moderation: the console issue).
//! For now it serves its welcome page; the apex domain redirects here.

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
        "console/welcome.html",
        minijinja::context! {
            lang => "fr",
            site_name => "Participe — console des collectivités",
            home => "/",
            example => app.config.portal_origin("votre-commune"),
        },
    )
}
