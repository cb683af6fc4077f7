//! Search over what a tenant's portal publishes: contributions and comments (published,
//! in public dispositifs), news (published), events (not drafts) and documents (titles and
//! descriptions of published ones). French stemming with accents ignored
//! (`public.french_unaccent`), ranked, with excerpts around the words found, a page at a
//! time. The indexes (tenant migration `0008_search`) use the same expressions.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, TenantTx};

/// Results per page.
pub const PER_PAGE: i64 = 20;
/// Longest query taken (longer ones are cut).
pub const QUERY_MAX: usize = 200;

/// Marks around the words found in an excerpt: control characters that no text from a
/// form keeps, replaced by `<mark>` once the excerpt is escaped for HTML.
pub const MARK_START: char = '\u{1}';
pub const MARK_END: char = '\u{2}';

/// One result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    /// `contribution`, `comment`, `news`, `event` or `document`.
    pub kind: String,
    pub id: Uuid,
    pub title: String,
    /// Plain text with `MARK_START`/`MARK_END` around the words found.
    pub excerpt: String,
    /// The dispositif's address (contributions and comments).
    pub dispositif_slug: Option<String>,
    /// The contribution a comment answers.
    pub parent_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A page of results for `query`, best first, and how many there are in all. An empty
/// query (or one of only stop words) finds nothing.
pub async fn search(tx: &mut TenantTx, query: &str, page: i64) -> Result<(Vec<Hit>, i64)> {
    let query: String = query.trim().chars().take(QUERY_MAX).collect();
    if query.is_empty() {
        return Ok((vec![], 0));
    }
    let offset = (page.max(1) - 1) * PER_PAGE;
    let options = format!(
        "StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \""
    );
    let rows = sqlx::query!(
        r#"with q as (select websearch_to_tsquery('public.french_unaccent', $1) as query),
           hits as (
             select 'contribution' as kind, c.id, c.title, c.body as text, d.slug as dispositif_slug,
                    null::uuid as parent_id, c.created_at as at,
                    ts_rank(to_tsvector('public.french_unaccent', c.title || ' ' || c.body), q.query) as rank
               from contribution c join dispositif d on d.id = c.dispositif_id, q
              where c.state = 'publie' and d.status in ('publie', 'archive')
                and to_tsvector('public.french_unaccent', c.title || ' ' || c.body) @@ q.query
             union all
             select 'comment', m.id, c.title, m.body, d.slug, c.id, m.created_at,
                    ts_rank(to_tsvector('public.french_unaccent', m.body), q.query)
               from comment m join contribution c on c.id = m.contribution_id
               join dispositif d on d.id = c.dispositif_id, q
              where m.state = 'publie' and c.state = 'publie' and d.status in ('publie', 'archive')
                and to_tsvector('public.french_unaccent', m.body) @@ q.query
             union all
             select 'news', n.id, n.title, n.summary || ' ' || n.body, null, null, n.published_at,
                    ts_rank(to_tsvector('public.french_unaccent', n.title || ' ' || n.summary || ' ' || n.body), q.query)
               from news n, q
              where n.published_at <= now()
                and to_tsvector('public.french_unaccent', n.title || ' ' || n.summary || ' ' || n.body) @@ q.query
             union all
             select 'event', e.id, e.title, e.description || ' ' || e.place, null, null, e.starts_at,
                    ts_rank(to_tsvector('public.french_unaccent', e.title || ' ' || e.description || ' ' || e.place), q.query)
               from event e, q
              where e.status <> 'brouillon'
                and to_tsvector('public.french_unaccent', e.title || ' ' || e.description || ' ' || e.place) @@ q.query
             union all
             select 'document', doc.id, doc.title, doc.description, null, null, doc.document_date::timestamptz,
                    ts_rank(to_tsvector('public.french_unaccent', doc.title || ' ' || doc.description), q.query)
               from document doc, q
              where doc.published
                and to_tsvector('public.french_unaccent', doc.title || ' ' || doc.description) @@ q.query
           ),
           page as (
             select *, count(*) over () as total from hits order by rank desc, at desc, id limit $2 offset $3
           )
           -- Excerpts only for the page's rows.
           select page.kind as "kind!", page.id as "id!", page.title as "title!",
                  ts_headline('public.french_unaccent', coalesce(nullif(page.text, ''), page.title), q.query, $4)
                    as "excerpt!",
                  page.dispositif_slug, page.parent_id, page.at as "at!", page.total as "total!"
             from page, q
            order by page.rank desc, page.at desc, page.id"#,
        query,
        PER_PAGE,
        offset,
        options
    )
    .fetch_all(tx.conn())
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let hits = rows
        .into_iter()
        .map(|r| Hit {
            kind: r.kind,
            id: r.id,
            title: r.title,
            excerpt: r.excerpt,
            dispositif_slug: r.dispositif_slug,
            parent_id: r.parent_id,
            at: r.at,
        })
        .collect();
    Ok((hits, total))
}
