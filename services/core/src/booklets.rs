//! « Livrets d'expression »: the records of booklet requests and their progress, and the
//! contributions a booklet compiles, read a batch at a time. The booklet itself (PDF, CSV,
//! JSON) is made by the `booklet` job (crate `participe-booklet`). Every function takes the
//! tenant's `TenantTx`.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::jobs::{self, Kind};
use crate::{Error, Result, TenantTx};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Booklet {
    pub id: Uuid,
    pub dispositif_id: Uuid,
    /// `attente`, `en_cours`, `pret` or `echec`.
    pub status: String,
    pub done: i32,
    pub total: i32,
    pub themes: i32,
    pub pdf_key: Option<String>,
    pub csv_key: Option<String>,
    pub json_key: Option<String>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// Asks for a new booklet of a call, unless one is already waiting or being made (which
/// is returned instead). The job is queued in the same transaction.
pub async fn request(tx: &mut TenantTx, dispositif: Uuid, actor: &str) -> Result<Uuid> {
    // One request at a time per call, even when two staff members click together.
    sqlx::query!("select id from dispositif where id = $1 for update", dispositif)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::NotFound("dispositif".into()))?;
    if let Some(pending) = sqlx::query_scalar!(
        "select id from booklet where dispositif_id = $1 and status in ('attente', 'en_cours')",
        dispositif
    )
    .fetch_optional(tx.conn())
    .await?
    {
        return Ok(pending);
    }
    let id = sqlx::query_scalar!(
        "insert into booklet (dispositif_id, requested_by) values ($1, $2) returning id",
        dispositif,
        actor
    )
    .fetch_one(tx.conn())
    .await?;
    let tenant = tx.tenant().id;
    jobs::enqueue(
        tx.conn(),
        Some(tenant),
        Kind::Booklet,
        serde_json::json!({ "booklet": id }),
        0,
    )
    .await?;
    Ok(id)
}

macro_rules! booklet_query {
    ($rest:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Booklet,
            "select id, dispositif_id, status, done, total, themes, pdf_key, csv_key, json_key, error, created_at,
                    finished_at
               from booklet " + $rest,
            $($arg),*
        )
    };
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Booklet>> {
    Ok(booklet_query!("where id = $1", id).fetch_optional(tx.conn()).await?)
}

/// The latest booklet of a call, whatever its state (for staff).
pub async fn latest(tx: &mut TenantTx, dispositif: Uuid) -> Result<Option<Booklet>> {
    Ok(
        booklet_query!("where dispositif_id = $1 order by created_at desc limit 1", dispositif)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// The latest finished booklet of a call (for the portal).
pub async fn latest_ready(tx: &mut TenantTx, dispositif: Uuid) -> Result<Option<Booklet>> {
    Ok(booklet_query!(
        "where dispositif_id = $1 and status = 'pret' order by finished_at desc limit 1",
        dispositif
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// The job starts: how many contributions it will compile.
pub async fn start(tx: &mut TenantTx, id: Uuid, total: i32) -> Result<()> {
    sqlx::query!(
        "update booklet set status = 'en_cours', total = $2, done = 0, error = null where id = $1",
        id,
        total
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn progress(tx: &mut TenantTx, id: Uuid, done: i32) -> Result<()> {
    sqlx::query!("update booklet set done = $2 where id = $1", id, done)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The files are stored: the booklet is ready.
pub async fn finish(tx: &mut TenantTx, id: Uuid, keys: [&str; 3], done: i32, themes: i32) -> Result<()> {
    sqlx::query!(
        "update booklet set status = 'pret', pdf_key = $2, csv_key = $3, json_key = $4, done = $5, total = $5,
                themes = $6, finished_at = now()
          where id = $1",
        id,
        keys[0],
        keys[1],
        keys[2],
        done,
        themes
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn fail(tx: &mut TenantTx, id: Uuid, error: &str) -> Result<()> {
    sqlx::query!(
        "update booklet set status = 'echec', error = $2, finished_at = now() where id = $1",
        id,
        error
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A contribution as the booklet prints it (published only: moderated and hidden ones are
/// left out).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub id: Uuid,
    /// Empty when the contribution has no theme.
    pub theme: String,
    #[serde(skip)]
    pub theme_position: i32,
    pub title: String,
    pub body: String,
    /// The author's display name; « Participant·e supprimé·e » for a deleted account.
    pub author: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub comments: i32,
}

pub async fn count(tx: &mut TenantTx, dispositif: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from contribution where dispositif_id = $1 and state = 'publie'"#,
        dispositif
    )
    .fetch_one(tx.conn())
    .await?)
}

/// The next `limit` entries after `after` (theme order, then date), for a job that reads a
/// batch at a time and reports its progress in between.
pub async fn entries(
    tx: &mut TenantTx,
    dispositif: Uuid,
    after: Option<(i32, OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let (position, at, id) = match after {
        Some((p, a, i)) => (Some(p), Some(a), Some(i)),
        None => (None, None, None),
    };
    Ok(sqlx::query_as!(
        Entry,
        r#"select c.id, coalesce(t.name, '') as "theme!", coalesce(t.position, 2147483647) as "theme_position!",
                  c.title, c.body, coalesce(z.display_name, 'Participant·e supprimé·e') as "author!",
                  c.created_at, c.comment_count as comments
             from contribution c
             left join dispositif_theme t on t.id = c.theme_id
             left join citizen z on z.id = c.author_id
            where c.dispositif_id = $1 and c.state = 'publie'
              and ($2::int is null
                   or (coalesce(t.position, 2147483647), c.created_at, c.id) > ($2, $3::timestamptz, $4::uuid))
            order by coalesce(t.position, 2147483647), c.created_at, c.id
            limit $5"#,
        dispositif,
        position,
        at,
        id,
        limit
    )
    .fetch_all(tx.conn())
    .await?)
}
