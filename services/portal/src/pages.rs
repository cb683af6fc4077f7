//! Pages written by the tenant's staff: usage charter, legal notice, accessibility
//! statement, privacy, and free pages. Bodies are Markdown, rendered sanitized.

use axum::extract::Path;
use axum::response::Html;
use participe_core::site;
use participe_web::{Error, Result};

use crate::Portal;

pub async fn show(mut portal: Portal, Path(slug): Path<String>) -> Result<Html<String>> {
    let page = site::published_page(&mut portal.tx, &slug)
        .await?
        .ok_or(Error::NotFound)?;
    portal
        .render(
            "portal/page.html",
            "",
            minijinja::context! { page => minijinja::value::Serde(page) },
        )
        .await
}
