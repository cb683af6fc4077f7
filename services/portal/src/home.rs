//! The portal's home page.

use axum::response::Html;
use participe_web::Result;

use crate::Portal;

pub async fn show(portal: Portal) -> Result<Html<String>> {
    portal.render("portal/home.html", "/", minijinja::context! {}).await
}
