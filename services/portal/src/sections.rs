//! The sections of the navigation whose components arrive with later work (news,
//! documents). Until a tenant has content there, each says so plainly, as an
//! empty section of a new portal would.

use axum::response::Html;
use participe_web::Result;

use crate::Portal;

async fn section(portal: &Portal, path: &str, title: &str, empty: &str) -> Result<Html<String>> {
    portal
        .render("portal/section.html", path, minijinja::context! { title, empty })
        .await
}

pub async fn actualites(portal: Portal) -> Result<Html<String>> {
    section(
        &portal,
        "/actualites",
        "Actualités",
        "Aucune actualité n'est publiée pour le moment.",
    )
    .await
}

pub async fn documents(portal: Portal) -> Result<Html<String>> {
    section(
        &portal,
        "/documents",
        "Documents",
        "Aucun document n'est publié pour le moment. Les comptes rendus et productions des dispositifs seront rassemblés ici.",
    )
    .await
}
