//! News (actualités): posts staff write in Markdown, with a cover image and a dispositif,
//! published at once or at a chosen time. A post is public once its publication time has
//! come; a `news_published` job, due at that time, touches it so that portals drop the
//! pages they keep for visitors exactly then. Every function takes the tenant's `TenantTx`.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::jobs::{self, Kind};
use crate::{Error, FieldErrors, Result, TenantTx};

/// Posts per page of the portal's list.
pub const PER_PAGE: i64 = 12;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Post {
    pub id: Uuid,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub cover_key: Option<String>,
    pub cover_alt: String,
    pub dispositif_id: Option<Uuid>,
    pub dispositif_slug: Option<String>,
    pub dispositif_title: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Post {
    pub fn is_public(&self, now: OffsetDateTime) -> bool {
        self.published_at.is_some_and(|p| p <= now)
    }
}

/// A post as staff write it, checked.
#[derive(Debug, Clone)]
pub struct PostWrite {
    pub title: String,
    pub summary: String,
    pub body: String,
    pub cover_alt: String,
    pub dispositif_id: Option<Uuid>,
    pub published_at: Option<OffsetDateTime>,
}

impl PostWrite {
    pub fn check(&self, has_cover: bool) -> std::result::Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            errors.push("title", "indiquez un titre (200 caractères au plus)");
        }
        if self.summary.chars().count() > 500 {
            errors.push("summary", "500 caractères au plus");
        }
        if self.body.chars().count() > 100_000 {
            errors.push("body", "100 000 caractères au plus");
        }
        if has_cover && self.cover_alt.trim().is_empty() {
            errors.push(
                "cover_alt",
                "décrivez l'image en quelques mots pour les personnes qui ne la voient pas",
            );
        }
        if self.cover_alt.chars().count() > 300 {
            errors.push("cover_alt", "300 caractères au plus");
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

macro_rules! post_query {
    ($rest:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Post,
            r#"select n.id, n.title, n.summary, n.body, n.cover_key, n.cover_alt, n.dispositif_id,
                      d.slug as "dispositif_slug?", d.title as "dispositif_title?", n.published_at, n.updated_at
                 from news n left join dispositif d on d.id = n.dispositif_id "# + $rest,
            $($arg),*
        )
    };
}

/// Queues the touch that makes a scheduled post appear on cached pages when its time comes.
async fn schedule(tx: &mut TenantTx, id: Uuid, at: Option<OffsetDateTime>) -> Result<()> {
    let Some(at) = at else { return Ok(()) };
    // Rounded up, and a second more: a job that ran early would find nothing to show.
    let delay = (at - OffsetDateTime::now_utc()).whole_seconds() + 2;
    if at > OffsetDateTime::now_utc() {
        let tenant = tx.tenant().id;
        jobs::enqueue(
            tx.conn(),
            Some(tenant),
            Kind::NewsPublished,
            serde_json::json!({ "news": id }),
            delay,
        )
        .await?;
    }
    Ok(())
}

pub async fn create(tx: &mut TenantTx, p: &PostWrite, cover_key: Option<&str>) -> Result<Uuid> {
    p.check(cover_key.is_some()).map_err(Error::Invalid)?;
    let id = sqlx::query_scalar!(
        "insert into news (title, summary, body, cover_key, cover_alt, dispositif_id, published_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
        p.title.trim(),
        p.summary.trim(),
        p.body,
        cover_key,
        p.cover_alt.trim(),
        p.dispositif_id,
        p.published_at
    )
    .fetch_one(tx.conn())
    .await?;
    schedule(tx, id, p.published_at).await?;
    Ok(id)
}

/// What a change of cover does.
#[derive(Debug, Clone)]
pub enum Cover {
    Keep,
    Replace(String),
    Remove,
}

/// Updates a post; returns the storage key of a cover no longer used, for deletion.
pub async fn update(tx: &mut TenantTx, id: Uuid, p: &PostWrite, cover: &Cover) -> Result<Option<String>> {
    let old = sqlx::query_scalar!("select cover_key from news where id = $1 for update", id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::NotFound("actualité".into()))?;
    let new_key = match cover {
        Cover::Keep => old.clone(),
        Cover::Replace(key) => Some(key.clone()),
        Cover::Remove => None,
    };
    p.check(new_key.is_some()).map_err(Error::Invalid)?;
    sqlx::query!(
        "update news set title = $2, summary = $3, body = $4, cover_key = $5, cover_alt = $6, dispositif_id = $7,
                published_at = $8
          where id = $1",
        id,
        p.title.trim(),
        p.summary.trim(),
        p.body,
        new_key,
        p.cover_alt.trim(),
        p.dispositif_id,
        p.published_at
    )
    .execute(tx.conn())
    .await?;
    schedule(tx, id, p.published_at).await?;
    Ok(old.filter(|o| Some(o) != new_key.as_ref()))
}

/// Deletes a post; returns its cover's storage key, for deletion.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<Option<String>> {
    sqlx::query_scalar!("delete from news where id = $1 returning cover_key", id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::NotFound("actualité".into()))
}

/// A scheduled post's time has come: touch it so that caches drop their pages.
pub async fn touch_published(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    sqlx::query!(
        "update news set updated_at = now() where id = $1 and published_at <= now()",
        id
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Any post (drafts and scheduled ones included), for the console.
pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Post>> {
    Ok(post_query!("where n.id = $1", id).fetch_optional(tx.conn()).await?)
}

/// A post whose publication time has come, for the portal.
pub async fn public_by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Post>> {
    Ok(post_query!("where n.id = $1 and n.published_at <= now()", id)
        .fetch_optional(tx.conn())
        .await?)
}

/// The console's list: drafts, then by publication time, latest first.
pub async fn for_console(tx: &mut TenantTx, limit: i64) -> Result<Vec<Post>> {
    Ok(post_query!(
        "order by n.published_at desc nulls first, n.created_at desc limit $1",
        limit
    )
    .fetch_all(tx.conn())
    .await?)
}

/// A page of public posts, latest first (of one dispositif if asked), and whether there
/// is a next page.
pub async fn list(tx: &mut TenantTx, dispositif: Option<Uuid>, page: i64) -> Result<(Vec<Post>, bool)> {
    let offset = (page.max(1) - 1) * PER_PAGE;
    let mut posts = post_query!(
        "where n.published_at <= now() and ($1::uuid is null or n.dispositif_id = $1)
         order by n.published_at desc, n.id limit $2 offset $3",
        dispositif,
        PER_PAGE + 1,
        offset
    )
    .fetch_all(tx.conn())
    .await?;
    let more = posts.len() as i64 > PER_PAGE;
    posts.truncate(PER_PAGE as usize);
    Ok((posts, more))
}

/// The latest `n` public posts, of one dispositif or of all: for the Atom feed, the home
/// page and a dispositif's news section.
pub async fn latest(tx: &mut TenantTx, dispositif: Option<Uuid>, n: i64) -> Result<Vec<Post>> {
    Ok(post_query!(
        "where n.published_at <= now() and ($1::uuid is null or n.dispositif_id = $1)
         order by n.published_at desc, n.id limit $2",
        dispositif,
        n
    )
    .fetch_all(tx.conn())
    .await?)
}
