//! `/recherche`: the portal's search, over contributions, comments, news, events and
//! documents; excerpts escaped for HTML, then the words found marked.

use axum::extract::Query;
use axum::response::Html;
use minijinja::Value;
use participe_core::search::{self, Hit, MARK_END, MARK_START};
use participe_web::Result;

use crate::Portal;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
    page: String,
}

/// The excerpt as HTML: the text escaped, then only the marks turned into `<mark>`.
fn excerpt_html(excerpt: &str) -> String {
    let mut out = String::with_capacity(excerpt.len() + 32);
    for c in excerpt.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c if c == MARK_START => out.push_str("<mark>"),
            c if c == MARK_END => out.push_str("</mark>"),
            c => out.push(c),
        }
    }
    out
}

fn link(h: &Hit) -> String {
    match (h.kind.as_str(), &h.dispositif_slug, h.parent_id) {
        ("contribution", Some(slug), _) => format!("/participer/{slug}/contributions/{}", h.id),
        ("comment", Some(slug), Some(parent)) => {
            format!("/participer/{slug}/contributions/{parent}#commentaire-{}", h.id)
        }
        ("news", _, _) => format!("/actualites/{}", h.id),
        ("event", _, _) => format!("/agenda/{}", h.id),
        ("document", _, _) => format!("/documents/{}", h.id),
        _ => "/".into(),
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "contribution" => "Contribution",
        "comment" => "Commentaire",
        "news" => "Actualité",
        "event" => "Rencontre",
        _ => "Document",
    }
}

pub async fn show(portal: Portal, Query(q): Query<SearchQuery>) -> Result<Html<String>> {
    portal.cache_through(|| page(&portal, &q)).await
}

async fn page(portal: &Portal, q: &SearchQuery) -> Result<Html<String>> {
    let page = participe_web::kit::page_number(&q.page, 500);
    let mut tx = portal.begin().await?;
    let (hits, total) = search::search(&mut tx, &q.q, page).await?;
    tx.commit().await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|h| {
            minijinja::context! {
                kind => kind_label(&h.kind), title => h.title.clone(), link => link(h),
                excerpt => Value::from_safe_string(excerpt_html(&h.excerpt)), at => h.at.to_string(),
                at_rfc => h.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                is_comment => h.kind == "comment",
            }
        })
        .collect();
    let pages = (total + search::PER_PAGE - 1) / search::PER_PAGE;
    portal
        .render(
            "portal/search.html",
            "",
            minijinja::context! {
                q => q.q.trim(), results, total, page, more => page < pages,
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_escaped_before_the_marks() {
        assert_eq!(
            excerpt_html("un \u{1}vélo\u{2} <script>alert('x')</script> & co"),
            "un <mark>vélo</mark> &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co"
        );
    }
}
