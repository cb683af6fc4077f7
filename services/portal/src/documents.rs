//! The document library on the portal: published documents, latest first, filtered by
//! dispositif, category and year; each downloaded with its real type and a safe name.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Serde;
use participe_core::dispositifs;
use participe_core::documents::{self, Category, Filter};
use participe_web::{Error, Result};

use crate::Portal;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    dispositif: String,
    categorie: String,
    annee: String,
    page: String,
}

pub async fn list(portal: Portal, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    portal.cache_through(|| list_page(&portal, &q)).await
}

/// A document as lists show it.
pub fn row(d: &documents::Document) -> minijinja::Value {
    minijinja::context! {
        d => Serde(d), category => d.category_label(), format => d.format_label(),
        size_kb => (d.size_bytes + 1023) / 1024,
    }
}

async fn list_page(portal: &Portal, q: &ListQuery) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let all = dispositifs::public(&mut tx).await?;
    // An unknown filter value is a page that does not exist.
    let dispositif = match q.dispositif.as_str() {
        "" => None,
        slug => Some(all.iter().find(|d| d.slug == slug).ok_or(Error::NotFound)?),
    };
    let category = match q.categorie.as_str() {
        "" => None,
        c => Some(c.parse::<Category>().map_err(|()| Error::NotFound)?),
    };
    let year = match q.annee.as_str() {
        "" => None,
        y => Some(y.parse::<i32>().map_err(|_| Error::NotFound)?),
    };
    let page = participe_web::kit::page_number(&q.page, 10_000);
    let filter = Filter {
        dispositif: dispositif.map(|d| d.id),
        category,
        year,
    };
    let (docs, more) = documents::list(&mut tx, &filter, page).await?;
    let years = documents::years(&mut tx).await?;
    tx.commit().await?;
    let rows: Vec<_> = docs.iter().map(row).collect();
    let dispositifs: Vec<_> = all
        .iter()
        .map(|d| minijinja::context! { value => d.slug.clone(), label => d.title.clone() })
        .collect();
    let categories: Vec<_> = Category::ALL
        .iter()
        .map(|c| minijinja::context! { value => c.as_str(), label => c.label() })
        .collect();
    portal
        .render(
            "portal/documents.html",
            "/documents",
            minijinja::context! {
                rows, more, page, dispositifs, categories, years,
                dispositif => q.dispositif.clone(), categorie => q.categorie.clone(), annee => q.annee.clone(),
            },
        )
        .await
}

/// Downloads a published document: its type as found at upload, `attachment` with its
/// name (RFC 6266, UTF-8 and an ASCII fallback), never sniffed as anything else.
pub async fn download(portal: Portal, Path(id): Path<String>) -> Result<Response> {
    let id = participe_web::kit::parse_id(&id)?;
    let mut tx = portal.begin().await?;
    let doc = documents::public_by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    // Streamed from the storage: a large file is never held whole in memory.
    let (size, stream) = portal
        .app
        .storage
        .open(&doc.file_key)
        .await
        .map_err(|e| Error::Unexpected(format!("document {id}: {e}")))?
        .ok_or_else(|| Error::Unexpected(format!("document {id}: file missing from the storage")))?;
    Ok((
        [
            (header::CONTENT_TYPE, doc.content_type.clone()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, content_disposition(&doc.file_name)),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " -_.()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_travel_safely_in_the_header() {
        assert_eq!(
            content_disposition("Compte rendu séance.pdf"),
            "attachment; filename=\"Compte rendu s_ance.pdf\"; filename*=UTF-8''Compte%20rendu%20s%C3%A9ance.pdf"
        );
        let tricky = content_disposition("a\"b\r\n.pdf");
        assert!(!tricky.contains('\r') && !tricky.contains('\n'));
        assert_eq!(tricky.matches('"').count(), 2);
    }
}
