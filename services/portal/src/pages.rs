//! Pages written by the tenant's staff: usage charter, legal notice, accessibility
//! statement, privacy, and free pages. Bodies are Markdown, rendered sanitized.

use axum::extract::Path;
use axum::response::Html;
use minijinja::value::Serde;
use participe_core::site;
use participe_web::{Error, Result};

use crate::Portal;

pub async fn show(portal: Portal, Path(slug): Path<String>) -> Result<Html<String>> {
    portal.cache_through(|| page(&portal, &slug)).await
}

async fn page(portal: &Portal, slug: &str) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let page = site::published_page(&mut tx, slug).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    portal
        .render("portal/page.html", "", minijinja::context! { page => Serde(page) })
        .await
}
