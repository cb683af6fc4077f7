//! News on the portal: the list (by dispositif if asked), a page per post, its cover image,
//! and the Atom feed (RFC 4287) of the latest posts.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Serde;
use participe_core::{dispositifs, news};
use participe_web::kit::parse_id;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::Portal;

/// Posts in the feed.
const FEED_SIZE: i64 = 30;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    dispositif: String,
    page: String,
}

pub async fn list(portal: Portal, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    portal.cache_through(|| list_page(&portal, &q)).await
}

async fn list_page(portal: &Portal, q: &ListQuery) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let chosen = match q.dispositif.as_str() {
        "" => None,
        slug => Some(
            dispositifs::public_by_slug(&mut tx, slug)
                .await?
                .ok_or(Error::NotFound)?,
        ),
    };
    let page = participe_web::kit::page_number(&q.page, 10_000);
    let (posts, more) = news::list(&mut tx, chosen.as_ref().map(|d| d.id), page).await?;
    tx.commit().await?;
    portal
        .render(
            "portal/news.html",
            "/actualites",
            minijinja::context! {
                posts => Serde(posts), page, more,
                dispositif => chosen.as_ref().map(|d| d.slug.clone()).unwrap_or_default(),
                dispositif_title => chosen.map(|d| d.title),
            },
        )
        .await
}

/// The home page's latest news.
pub async fn latest(tx: &mut participe_core::TenantTx) -> Result<Vec<news::Post>> {
    Ok(news::latest(tx, None, 3).await?)
}

pub async fn show(portal: Portal, Path(id): Path<String>) -> Result<Html<String>> {
    let id = parse_id(&id)?;
    portal.cache_through(|| post_page(&portal, id)).await
}

async fn post_page(portal: &Portal, id: Uuid) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let post = news::public_by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    portal
        .render(
            "portal/news_post.html",
            "/actualites",
            minijinja::context! {
                share_title => post.title.clone(),
                page_description => crate::kit::description_of(if post.summary.trim().is_empty() { &post.body } else { &post.summary }),
                p => Serde(post),
            },
        )
        .await
}

/// A post's cover, from the storage (content-checked at upload).
pub async fn cover(portal: Portal, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id)?;
    let mut tx = portal.begin().await?;
    let post = news::public_by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let key = post.cover_key.ok_or(Error::NotFound)?;
    let (bytes, content_type) = portal
        .app
        .storage
        .get_image(&key)
        .await
        .map_err(|e| Error::Unexpected(format!("cover: {e}")))?
        .ok_or(Error::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}

fn fixed(t: time::OffsetDateTime) -> atom_syndication::FixedDateTime {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0)
        .unwrap_or_default()
        .fixed_offset()
}

/// The Atom feed of the latest posts: each entry with its summary and its body as HTML
/// (the same sanitized rendering as the page).
pub async fn feed(portal: Portal) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let posts = news::latest(&mut tx, None, FEED_SIZE).await?;
    tx.commit().await?;
    let origin = portal.origin();
    let site = portal.site_name().to_string();
    let entries: Vec<atom_syndication::Entry> = posts
        .iter()
        .map(|p| {
            let link = format!("{origin}/actualites/{}", p.id);
            let mut entry = atom_syndication::Entry::default();
            entry.set_id(format!("urn:uuid:{}", p.id));
            entry.set_title(p.title.as_str());
            entry.set_updated(fixed(p.updated_at));
            entry.set_published(p.published_at.map(fixed));
            entry.set_links(vec![atom_syndication::Link {
                href: link,
                rel: "alternate".into(),
                ..Default::default()
            }]);
            if !p.summary.is_empty() {
                entry.set_summary(Some(atom_syndication::Text::plain(p.summary.as_str())));
            }
            entry.set_content(Some(atom_syndication::Content {
                value: Some(participe_web::markdown::to_html(&p.body)),
                content_type: Some("html".into()),
                ..Default::default()
            }));
            entry
        })
        .collect();
    let mut feed = atom_syndication::Feed::default();
    feed.set_title(format!("Actualités — {site}").as_str());
    feed.set_id(format!("{origin}/actualites.atom"));
    // Links inside the posts' HTML are relative to the portal (`/participer/…`).
    feed.set_base(Some(format!("{origin}/")));
    // Without a post yet there is no date to give: today's start, which stays the same all
    // day (readers' conditional requests keep matching) and is never 1970.
    let updated = posts
        .iter()
        .map(|p| p.updated_at)
        .max()
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT));
    feed.set_updated(fixed(updated));
    feed.set_authors(vec![atom_syndication::Person {
        name: site,
        ..Default::default()
    }]);
    feed.set_links(vec![
        atom_syndication::Link {
            href: format!("{origin}/actualites.atom"),
            rel: "self".into(),
            ..Default::default()
        },
        atom_syndication::Link {
            href: format!("{origin}/actualites"),
            rel: "alternate".into(),
            ..Default::default()
        },
    ]);
    feed.set_entries(entries);
    let mut response = (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.to_string(),
    )
        .into_response();
    if !posts.is_empty()
        && let Ok(v) = participe_web::conditional::http_date(updated).parse()
    {
        response.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    Ok(response)
}
