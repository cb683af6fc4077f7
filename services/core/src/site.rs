//! A tenant's own site data shared by the portal and the console: branding and settings
//! (one row) and pages. Every query here takes a `TenantTx`; `BrandingCache` keeps the
//! branding of each portal between requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use sqlx::PgPool;
use uuid::Uuid;

use crate::Result;
use crate::domain::Colour;
use crate::{Tenant, TenantTx};

/// Channel of the `NOTIFY` sent by triggers on `settings` and `page` (payload: the schema).
pub const SITE_CHANNEL: &str = "participe_site";
/// Notified (payload: the schema) when what a tenant's readers see changes: contributions,
/// comments, dispositifs, participants' names.
pub const CONTENT_CHANNEL: &str = "participe_content";

/// What every portal page needs to draw its frame.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Branding {
    pub display_name: Option<String>,
    pub tagline: String,
    pub primary_colour: String,
    pub primary_text: String,
    pub secondary_colour: String,
    pub secondary_text: String,
    pub logo_path: Option<String>,
    pub home_title: String,
    pub home_text: String,
    pub footer_links: Vec<FooterLink>,
    pub footer_pages: Vec<PageLink>,
    /// The languages the portal offers, French first.
    pub languages: Vec<String>,
    /// The sender name of the portal's mails, when staff set one.
    pub sender_name: Option<String>,
    /// Changes whenever the settings change: cache-busts the portal's `/theme.css`.
    pub version: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FooterLink {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PageLink {
    pub slug: String,
    pub title: String,
}

/// Branding and footer pages in one query.
#[tracing::instrument(skip_all)]
pub async fn branding(tx: &mut TenantTx) -> Result<Branding> {
    let r = sqlx::query!(
        r#"select s.display_name, s.tagline, s.primary_colour, s.secondary_colour, s.logo_path,
                  s.home_title, s.home_text, s.footer_links, s.languages, s.sender_name,
                  (extract(epoch from s.updated_at) * 1000)::bigint as "version!",
                  coalesce((select jsonb_agg(jsonb_build_object('slug', p.slug, 'title', p.title)
                                             order by p.position, p.title)
                              from page p where p.in_footer and p.published), '[]') as "footer_pages!"
             from settings s"#
    )
    .fetch_one(tx.conn())
    .await?;
    // The database constrains both colours to #rrggbb.
    let colour = |c: &str| Colour::parse(c).unwrap_or(Colour::BLACK);
    let (primary, secondary) = (colour(&r.primary_colour), colour(&r.secondary_colour));
    Ok(Branding {
        display_name: r.display_name,
        tagline: r.tagline,
        primary_colour: primary.to_string(),
        primary_text: primary.text_colour().to_string(),
        secondary_colour: secondary.to_string(),
        secondary_text: secondary.text_colour().to_string(),
        logo_path: r.logo_path,
        home_title: r.home_title,
        home_text: r.home_text,
        footer_links: serde_json::from_value(r.footer_links).unwrap_or_default(),
        footer_pages: serde_json::from_value(r.footer_pages).unwrap_or_default(),
        languages: r.languages,
        sender_name: r.sender_name,
        version: r.version,
    })
}

/// A page kept by [`PageCache`]: its HTML and, for a page shared by signed-in citizens, the
/// citizens whose own contributions or comments it shows (they get it rendered for them:
/// it carries their own edit and delete buttons).
pub struct CachedPage {
    pub html: String,
    pub authors: Box<[Uuid]>,
}

/// Portal pages as anonymous visitors get them — and the common page of signed-in
/// citizens, with holes for their name and token (`portal::frame`) — rendered once and kept
/// until the tenant's content, site or registry changes (NOTIFY on `participe_content` /
/// `participe_site`).
/// Each tenant has a generation; entries are stored under the generation current when their
/// rendering started, so one that raced with a change is never served. Bounded by bytes.
#[derive(Clone)]
pub struct PageCache {
    inner: Arc<PageCacheInner>,
}

struct PageCacheInner {
    pages: Cache<(String, u64, String), Arc<CachedPage>>,
    generations: std::sync::RwLock<std::collections::HashMap<String, u64>>,
    /// Added to every tenant's generation: bumped to drop everything at once.
    epoch: AtomicU64,
    enabled: bool,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            inner: Arc::new(PageCacheInner {
                pages: Cache::builder()
                    .weigher(|k: &(String, u64, String), v: &Arc<CachedPage>| {
                        let size = k.0.len() + k.2.len() + v.html.len() + v.authors.len() * 16;
                        u32::try_from(size).unwrap_or(u32::MAX)
                    })
                    // 32 MiB of pages; the least used leave first.
                    .max_capacity(32 * 1024 * 1024)
                    // A safety net only (and the bound on how long a phase change of a
                    // dispositif at midnight takes to show).
                    .time_to_live(Duration::from_secs(60))
                    .build(),
                generations: Default::default(),
                epoch: AtomicU64::new(0),
                enabled: true,
            }),
        }
    }
}

impl PageCache {
    /// A cache that keeps nothing: every page is rendered (the benchmark's uncached figures).
    pub fn disabled() -> Self {
        PageCache {
            inner: Arc::new(PageCacheInner {
                pages: Cache::builder().max_capacity(0).build(),
                generations: Default::default(),
                epoch: AtomicU64::new(0),
                enabled: false,
            }),
        }
    }

    /// False for [`PageCache::disabled`]: signed-in citizens then get pages rendered for
    /// them alone, as visitors get them rendered every time.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// How many pages are kept (for the tests and the metrics).
    pub fn entries(&self) -> u64 {
        self.inner.pages.run_pending_tasks();
        self.inner.pages.entry_count()
    }

    /// The generation to render under (read before rendering starts).
    pub fn generation(&self, schema: &str) -> u64 {
        let own = self
            .inner
            .generations
            .read()
            .map(|g| g.get(schema).copied().unwrap_or(0))
            .unwrap_or(0);
        own.wrapping_add(self.inner.epoch.load(Ordering::Acquire) << 32)
    }

    /// The page stored under `generation` (as `generation` returned it), if any.
    pub fn get(&self, schema: &str, generation: u64, key: &str) -> Option<Arc<CachedPage>> {
        self.inner.pages.get(&(schema.to_string(), generation, key.to_string()))
    }

    pub fn insert(&self, schema: &str, generation: u64, key: &str, page: Arc<CachedPage>) {
        self.inner
            .pages
            .insert((schema.to_string(), generation, key.to_string()), page);
    }

    pub fn invalidate_schema(&self, schema: &str) {
        if let Ok(mut g) = self.inner.generations.write() {
            *g.entry(schema.to_string()).or_insert(0) += 1;
        }
    }

    pub fn invalidate_all(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        self.inner.pages.invalidate_all();
    }
}

/// Every portal page draws its frame from the branding, and most pages need nothing else
/// from the database: it is cached per tenant, and dropped when the tenant's `settings` or
/// `page` change (`fleet::notifications`).
#[derive(Clone)]
pub struct BrandingCache {
    inner: Arc<BrandingCacheInner>,
}

struct BrandingCacheInner {
    /// Keyed by schema name, which is what the triggers' notifications carry.
    cache: Cache<String, Arc<Branding>>,
    /// Bumped by every invalidation; a load that started before one is not cached.
    generation: AtomicU64,
}

impl Default for BrandingCache {
    fn default() -> Self {
        BrandingCache {
            inner: Arc::new(BrandingCacheInner {
                cache: Cache::builder()
                    .max_capacity(20_000)
                    // A safety net only: invalidation normally comes from NOTIFY.
                    .time_to_live(Duration::from_secs(600))
                    .build(),
                generation: AtomicU64::new(0),
            }),
        }
    }
}

impl BrandingCache {
    /// The tenant's branding, from the cache or else through a `TenantTx`.
    pub async fn get(&self, pool: &PgPool, tenant: &Tenant) -> Result<Arc<Branding>> {
        let key = tenant.schema.as_str();
        if let Some(b) = self.inner.cache.get(key) {
            return Ok(b);
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let loaded = Arc::new(branding(&mut tx).await?);
        tx.commit().await?;
        if self.inner.generation.load(Ordering::Acquire) == generation {
            self.inner.cache.insert(key.to_string(), loaded.clone());
        }
        Ok(loaded)
    }

    pub fn invalidate_schema(&self, schema: &str) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.cache.invalidate(schema);
    }

    pub fn invalidate_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.cache.invalidate_all();
    }
}

/// Settings a tenant's staff (and the demo) may change.
#[derive(Debug, Clone, Default)]
pub struct BrandingUpdate {
    pub display_name: Option<String>,
    pub tagline: String,
    pub primary_colour: Option<Colour>,
    pub secondary_colour: Option<Colour>,
    pub home_title: String,
    pub home_text: String,
    pub footer_links: Vec<FooterLink>,
}

#[tracing::instrument(skip_all)]
pub async fn update_branding(tx: &mut TenantTx, update: &BrandingUpdate) -> Result<()> {
    sqlx::query!(
        "update settings set display_name = $1, tagline = $2,
                primary_colour = coalesce($3, primary_colour), secondary_colour = coalesce($4, secondary_colour),
                home_title = $5, home_text = $6, footer_links = $7",
        update.display_name,
        update.tagline,
        update.primary_colour.map(|c| c.to_string()),
        update.secondary_colour.map(|c| c.to_string()),
        update.home_title,
        update.home_text,
        serde_json::to_value(&update.footer_links).unwrap_or_default()
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    pub id: Uuid,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

#[tracing::instrument(skip_all)]
pub async fn published_page(tx: &mut TenantTx, slug: &str) -> Result<Option<Page>> {
    Ok(sqlx::query_as!(
        Page,
        "select id, slug, kind, title, body, updated_at from page where slug = $1 and published",
        slug
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// A page to create or replace (by slug).
#[derive(Debug, Clone)]
pub struct PageInput<'a> {
    pub slug: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub in_footer: bool,
    pub position: i32,
}

#[tracing::instrument(skip_all)]
pub async fn upsert_page(tx: &mut TenantTx, page: &PageInput<'_>) -> Result<()> {
    sqlx::query!(
        "insert into page (slug, kind, title, body, in_footer, position) values ($1, $2, $3, $4, $5, $6)
         on conflict (slug) do update set kind = excluded.kind, title = excluded.title, body = excluded.body,
                                          in_footer = excluded.in_footer, position = excluded.position",
        page.slug,
        page.kind,
        page.title,
        page.body,
        page.in_footer,
        page.position
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Appends a line to the tenant's audit log of staff actions.
#[tracing::instrument(skip_all)]
pub async fn audit(
    tx: &mut TenantTx,
    staff_id: Uuid,
    staff_email: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    ip: std::net::IpAddr,
) -> Result<()> {
    sqlx::query!(
        "insert into staff_audit (staff_id, staff_email, action, target, detail, ip) values ($1, $2, $3, $4, $5, $6)",
        staff_id,
        staff_email,
        action,
        target,
        detail,
        sqlx::types::ipnetwork::IpNetwork::from(ip)
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The settings staff change on the console's settings page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    pub sender_name: Option<String>,
    /// The languages the portal offers (French always among them).
    pub languages: Vec<String>,
    pub stats_public: bool,
    pub autohide_threshold: i32,
}

pub async fn settings(tx: &mut TenantTx) -> Result<Settings> {
    Ok(sqlx::query_as!(
        Settings,
        "select sender_name, languages, stats_public, autohide_threshold from settings"
    )
    .fetch_one(tx.conn())
    .await?)
}

pub async fn update_settings(tx: &mut TenantTx, s: &Settings) -> Result<()> {
    sqlx::query!(
        "update settings set sender_name = $1, stats_public = $2, autohide_threshold = $3, languages = $4",
        s.sender_name,
        s.stats_public,
        s.autohide_threshold,
        &s.languages
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One line of the staff audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub staff_email: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

/// The newest entries first, `limit` at a time; `before` is the last id of the previous page.
pub async fn audit_log(tx: &mut TenantTx, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as!(
        AuditEntry,
        r#"select id, at, staff_email, action, target, detail, host(ip) as ip
             from staff_audit
            where ($1::bigint is null or id < $1)
            order by id desc
            limit $2"#,
        before,
        limit
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The latest moderation decisions (on contributions, comments and participants), newest
/// first: the moderation log staff read beside the queue.
pub async fn moderation_log(tx: &mut TenantTx, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as!(
        AuditEntry,
        r#"select id, at, staff_email, action, target, detail, host(ip) as ip
             from staff_audit
            where action like 'moderation.%' or action like 'participant.%'
            order by id desc
            limit $1"#,
        limit
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Sets (or, with `None`, removes) the storage key of the portal's logo; returns the
/// previous key, whose file the caller deletes once the transaction has committed.
pub async fn set_logo(tx: &mut TenantTx, key: Option<&str>) -> Result<Option<String>> {
    let previous = sqlx::query_scalar!("select logo_path from settings")
        .fetch_one(tx.conn())
        .await?;
    sqlx::query!("update settings set logo_path = $1", key)
        .execute(tx.conn())
        .await?;
    Ok(previous)
}

/// The fixed pages every portal has, by kind: (kind, slug, default title).
pub const LEGAL_PAGES: &[(&str, &str, &str)] = &[
    ("charte", "charte", "Charte d'utilisation"),
    ("mentions-legales", "mentions-legales", "Mentions légales"),
    ("accessibilite", "accessibilite", "Accessibilité"),
    ("confidentialite", "donnees-personnelles", "Données personnelles"),
];

/// A page as the console lists and edits it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageRecord {
    pub id: Uuid,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub in_footer: bool,
    pub position: i32,
    pub published: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

pub async fn pages(tx: &mut TenantTx) -> Result<Vec<PageRecord>> {
    Ok(sqlx::query_as!(
        PageRecord,
        "select id, slug, kind, title, body, in_footer, position, published, updated_at
           from page order by kind = 'libre', position, title limit 500"
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn page(tx: &mut TenantTx, id: Uuid) -> Result<Option<PageRecord>> {
    Ok(sqlx::query_as!(
        PageRecord,
        "select id, slug, kind, title, body, in_footer, position, published, updated_at from page where id = $1",
        id
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// A page to write from the console's form, every field checked.
#[derive(Debug, Clone)]
pub struct PageWrite {
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub in_footer: bool,
    pub published: bool,
}

fn page_conflict(e: sqlx::Error) -> crate::Error {
    match crate::error::violated_constraint(&e) {
        Some("page_slug_key") => crate::Error::invalid("slug", "une autre page utilise déjà cette adresse"),
        Some("page_one_per_legal_kind") => crate::Error::invalid("kind", "cette page existe déjà"),
        _ => e.into(),
    }
}

pub async fn create_page(tx: &mut TenantTx, p: &PageWrite) -> Result<Uuid> {
    sqlx::query_scalar!(
        "insert into page (slug, kind, title, body, in_footer, published, position)
         values ($1, $2, $3, $4, $5, $6, coalesce((select max(position) + 1 from page), 0))
         returning id",
        p.slug,
        p.kind,
        p.title,
        p.body,
        p.in_footer,
        p.published
    )
    .fetch_one(tx.conn())
    .await
    .map_err(page_conflict)
}

pub async fn update_page(tx: &mut TenantTx, id: Uuid, p: &PageWrite) -> Result<()> {
    let done = sqlx::query!(
        "update page set slug = $2, title = $3, body = $4, in_footer = $5, published = $6 where id = $1",
        id,
        p.slug,
        p.title,
        p.body,
        p.in_footer,
        p.published
    )
    .execute(tx.conn())
    .await
    .map_err(page_conflict)?
    .rows_affected();
    if done == 0 {
        Err(crate::Error::NotFound("page".into()))
    } else {
        Ok(())
    }
}

/// Deletes a free page; the legal pages stay (they can be unpublished).
pub async fn delete_page(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    let done = sqlx::query!("delete from page where id = $1 and kind = 'libre'", id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if done == 0 {
        Err(crate::Error::NotFound("page".into()))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CharterVersion {
    pub version: i32,
    pub title: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: time::OffsetDateTime,
    pub published_by: String,
}

pub async fn charter_versions(tx: &mut TenantTx) -> Result<Vec<CharterVersion>> {
    Ok(sqlx::query_as!(
        CharterVersion,
        "select version, title, published_at, published_by from charter_version order by version desc limit 100"
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The version citizens must have accepted to post: the latest, or none yet.
pub async fn current_charter_version(tx: &mut TenantTx) -> Result<Option<i32>> {
    Ok(sqlx::query_scalar!("select max(version) from charter_version")
        .fetch_one(tx.conn())
        .await?)
}

/// Records the charter's text as a new version; citizens are asked to accept it again.
pub async fn publish_charter_version(tx: &mut TenantTx, title: &str, body: &str, by: &str) -> Result<i32> {
    // Two editors publishing at once get versions n and n+1, not an error.
    sqlx::query!("lock table charter_version in share row exclusive mode")
        .execute(tx.conn())
        .await?;
    Ok(sqlx::query_scalar!(
        r#"insert into charter_version (version, title, body, published_by)
           values (coalesce((select max(version) from charter_version), 0) + 1, $1, $2, $3)
           returning version"#,
        title,
        body,
        by
    )
    .fetch_one(tx.conn())
    .await?)
}
