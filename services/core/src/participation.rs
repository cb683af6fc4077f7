//! Contributions to calls, comments with one level of replies, reports, and the moderation
//! decisions the console takes on them: the domain logic both the portal and the console
//! use. Moderation is a posteriori: everything is published at once; reports from distinct
//! citizens hide an item at the tenant's threshold until a moderator restores or moderates
//! it. Hidden and moderated items never give their text to readers: queries return it
//! only for published items. Every function takes the tenant's `TenantTx`.

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::citizens::Citizen;
use crate::domain::Invalid;
use crate::{Error, FieldErrors, Result, TenantTx};

/// How long an author may edit a contribution after posting it.
pub const EDIT_WINDOW: Duration = Duration::minutes(15);
/// Contributions per page of a call's list.
pub const PER_PAGE: i64 = 20;
/// Top-level comments per page of a contribution (each with its replies).
pub const COMMENTS_PER_PAGE: i64 = 100;

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 10_000;
pub const COMMENT_MAX: usize = 5_000;
/// How long after a first report its tenant's moderators are mailed (with the reports that
/// followed in the meantime).
pub const DIGEST_DELAY_SECS: i64 = 300;

/// Why a citizen may not post right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotConfirmed,
    Blocked(String),
    /// The charter changed (or was never accepted): this version must be accepted first.
    Charter(i32),
    Closed,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::NotConfirmed => {
                "Confirmez d'abord votre adresse électronique : suivez le lien reçu par courriel.".into()
            }
            Refusal::Blocked(reason) if reason.is_empty() => {
                "Votre compte a été suspendu par la modération : vous pouvez lire mais plus publier.".into()
            }
            Refusal::Blocked(reason) => format!(
                "Votre compte a été suspendu par la modération ({reason}) : vous pouvez lire mais plus publier."
            ),
            Refusal::Charter(_) => "La charte d'utilisation a changé : acceptez-la avant de publier.".into(),
            Refusal::Closed => {
                "Cet appel à contributions est clos : tout reste lisible, mais plus rien ne peut y être ajouté.".into()
            }
        }
    }
}

/// Whether `citizen` may post, given the tenant's current charter version.
pub fn may_post(citizen: &Citizen, current_charter: Option<i32>) -> Result<(), Refusal> {
    if citizen.blocked {
        return Err(Refusal::Blocked(citizen.blocked_reason.clone()));
    }
    if !citizen.confirmed {
        return Err(Refusal::NotConfirmed);
    }
    match current_charter {
        Some(v) if citizen.charter_version.is_none_or(|mine| mine < v) => Err(Refusal::Charter(v)),
        _ => Ok(()),
    }
}

/// Text a citizen typed, for a field: trimmed, present, not too long, no control characters
/// other than line breaks and tabs. Line endings become `\n`.
pub fn parse_text(input: &str, max: usize, what: &str) -> Result<String, Invalid> {
    let text = input.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::new(format!("{what} est vide")));
    }
    let n = text.chars().count();
    if n > max {
        return Err(Invalid::new(format!("{max} caractères au plus ({n} saisis)")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Invalid::new(
            "le texte contient des caractères invisibles non autorisés",
        ));
    }
    Ok(text.to_string())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Theme {
    pub id: Uuid,
    pub name: String,
}

pub async fn themes(tx: &mut TenantTx, dispositif_id: Uuid) -> Result<Vec<Theme>> {
    Ok(sqlx::query_as!(
        Theme,
        "select id, name from dispositif_theme where dispositif_id = $1 order by position, name",
        dispositif_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// A contribution as typed, checked against the call's themes.
#[derive(Debug, Clone)]
pub struct ContributionInput {
    pub title: String,
    pub body: String,
    pub theme_id: Option<Uuid>,
}

impl ContributionInput {
    pub fn parse(title: &str, body: &str, theme: &str, themes: &[Theme]) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = errors.check("title", parse_text(title, TITLE_MAX, "le titre"));
        if title.as_ref().is_some_and(|t| t.contains('\n')) {
            errors.push("title", "le titre tient sur une ligne");
        }
        let body = errors.check("body", parse_text(body, BODY_MAX, "le texte"));
        let theme_id = if themes.is_empty() {
            None
        } else {
            match themes.iter().find(|t| t.id.to_string() == theme) {
                Some(t) => Some(t.id),
                None => {
                    errors.push("theme", "choisissez l'un des thèmes de l'appel");
                    None
                }
            }
        };
        match (title, body) {
            (Some(title), Some(body)) if errors.is_empty() => Ok(ContributionInput { title, body, theme_id }),
            _ => Err(errors),
        }
    }
}

/// Posts a contribution, published at once. A second identical post by the same author
/// within ten minutes (a double submission) returns the first one instead.
pub async fn create_contribution(
    tx: &mut TenantTx,
    dispositif_id: Uuid,
    author: Uuid,
    input: &ContributionInput,
) -> Result<Uuid> {
    if let Some(id) = sqlx::query_scalar!(
        "select id from contribution
          where dispositif_id = $1 and author_id = $2 and title = $3 and body = $4
            and created_at > now() - interval '10 minutes'",
        dispositif_id,
        author,
        input.title,
        input.body
    )
    .fetch_optional(tx.conn())
    .await?
    {
        return Ok(id);
    }
    Ok(sqlx::query_scalar!(
        "insert into contribution (dispositif_id, theme_id, author_id, title, body)
         values ($1, $2, $3, $4, $5) returning id",
        dispositif_id,
        input.theme_id,
        author,
        input.title,
        input.body
    )
    .fetch_one(tx.conn())
    .await?)
}

/// How a call's contributions are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    MostCommented,
}

impl Sort {
    pub fn parse(s: &str) -> Sort {
        if s == "commentees" {
            Sort::MostCommented
        } else {
            Sort::Newest
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "recentes",
            Sort::MostCommented => "commentees",
        }
    }
}

/// A contribution as listed or shown. `title` and `body` are empty unless it is published.
/// Where a contribution or a comment stands: published, hidden after reports (awaiting a
/// moderator), moderated (a public reason shows in its place), or deleted by its author
/// (comments only: a placeholder that keeps the replies' context). Stored as text, checked
/// by the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum State {
    Publie,
    Masque,
    Modere,
    Supprime,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Publie => "publie",
            State::Masque => "masque",
            State::Modere => "modere",
            State::Supprime => "supprime",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Contribution {
    pub id: Uuid,
    pub dispositif_id: Uuid,
    pub theme: Option<String>,
    pub author_id: Option<Uuid>,
    /// None once the author deleted their account.
    pub author_name: Option<String>,
    pub author_profile: Option<String>,
    pub title: String,
    pub body: String,
    pub state: State,
    pub moderation_reason: String,
    pub comment_count: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub edited_at: Option<OffsetDateTime>,
}

impl Contribution {
    pub fn is_visible(&self) -> bool {
        self.state == State::Publie
    }

    pub fn editable_by(&self, citizen: Uuid, now: OffsetDateTime) -> bool {
        self.author_id == Some(citizen) && self.is_visible() && now - self.created_at <= EDIT_WINDOW
    }
}

/// One page of a call's contributions, and how many there are in all (for the pager).
pub async fn list(
    tx: &mut TenantTx,
    dispositif_id: Uuid,
    theme: Option<Uuid>,
    sort: Sort,
    page: i64,
) -> Result<(Vec<Contribution>, i64)> {
    let offset = (page.max(1) - 1) * PER_PAGE;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contribution where dispositif_id = $1 and ($2::uuid is null or theme_id = $2)"#,
        dispositif_id,
        theme
    )
    .fetch_one(tx.conn())
    .await?;
    // One query per order, each written so that its index gives the page without sorting
    // the whole call; authors and themes are joined for the page's rows only.
    let items = match sort {
        Sort::Newest => {
            sqlx::query_as!(
                Contribution,
                r#"with page as (
                     select * from contribution
                      where dispositif_id = $1 and ($2::uuid is null or theme_id = $2)
                      order by created_at desc, id limit $3 offset $4)
                   select c.id as "id!", c.dispositif_id as "dispositif_id!", t.name as "theme?", c.author_id,
                          a.display_name as "author_name?", a.profile as "author_profile?",
                          case when c.state = 'publie' then c.title else '' end as "title!",
                          case when c.state = 'publie' then left(c.body, 280) else '' end as "body!",
                          c.state as "state!: State", c.moderation_reason as "moderation_reason!",
                          c.comment_count as "comment_count!", c.created_at as "created_at!", c.edited_at
                     from page c
                     left join dispositif_theme t on t.id = c.theme_id
                     left join citizen a on a.id = c.author_id
                    order by c.created_at desc, c.id"#,
                dispositif_id,
                theme,
                PER_PAGE,
                offset
            )
            .fetch_all(tx.conn())
            .await?
        }
        Sort::MostCommented => {
            sqlx::query_as!(
                Contribution,
                r#"with page as (
                     select * from contribution
                      where dispositif_id = $1 and ($2::uuid is null or theme_id = $2)
                      order by comment_count desc, created_at desc, id limit $3 offset $4)
                   select c.id as "id!", c.dispositif_id as "dispositif_id!", t.name as "theme?", c.author_id,
                          a.display_name as "author_name?", a.profile as "author_profile?",
                          case when c.state = 'publie' then c.title else '' end as "title!",
                          case when c.state = 'publie' then left(c.body, 280) else '' end as "body!",
                          c.state as "state!: State", c.moderation_reason as "moderation_reason!",
                          c.comment_count as "comment_count!", c.created_at as "created_at!", c.edited_at
                     from page c
                     left join dispositif_theme t on t.id = c.theme_id
                     left join citizen a on a.id = c.author_id
                    order by c.comment_count desc, c.created_at desc, c.id"#,
                dispositif_id,
                theme,
                PER_PAGE,
                offset
            )
            .fetch_all(tx.conn())
            .await?
        }
    };
    Ok((items, total))
}

pub async fn contribution(tx: &mut TenantTx, id: Uuid) -> Result<Option<Contribution>> {
    Ok(sqlx::query_as!(
        Contribution,
        r#"select c.id, c.dispositif_id, t.name as "theme?", c.author_id, a.display_name as "author_name?",
                  a.profile as "author_profile?",
                  case when c.state = 'publie' then c.title else '' end as "title!",
                  case when c.state = 'publie' then c.body else '' end as "body!",
                  c.state as "state: State", c.moderation_reason, c.comment_count, c.created_at, c.edited_at
             from contribution c
             left join dispositif_theme t on t.id = c.theme_id
             left join citizen a on a.id = c.author_id
            where c.id = $1"#,
        id
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// The raw text of a contribution, for its author's edit form.
pub async fn own_contribution_text(
    tx: &mut TenantTx,
    id: Uuid,
    author: Uuid,
) -> Result<Option<(String, String, Option<Uuid>)>> {
    Ok(sqlx::query!(
        "select title, body, theme_id from contribution where id = $1 and author_id = $2",
        id,
        author
    )
    .fetch_optional(tx.conn())
    .await?
    .map(|r| (r.title, r.body, r.theme_id)))
}

/// Edits a contribution: only its author, only while published, only within the edit window.
pub async fn edit_contribution(tx: &mut TenantTx, id: Uuid, author: Uuid, input: &ContributionInput) -> Result<()> {
    let done = sqlx::query!(
        "update contribution set title = $3, body = $4, theme_id = $5, edited_at = now()
          where id = $1 and author_id = $2 and state = 'publie' and created_at > now() - $6::interval",
        id,
        author,
        input.title,
        input.body,
        input.theme_id,
        crate::db::pg_interval(EDIT_WINDOW)
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::invalid(
            "body",
            "cette contribution ne peut plus être modifiée : le délai de 15 minutes est passé",
        ));
    }
    Ok(())
}

/// Deletes a contribution (with its comments): only its author.
pub async fn delete_contribution(tx: &mut TenantTx, id: Uuid, author: Uuid) -> Result<()> {
    let done = sqlx::query!("delete from contribution where id = $1 and author_id = $2", id, author)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("contribution".into()));
    }
    Ok(())
}

// ---- Comments ---------------------------------------------------------------------------

#[derive(Debug, Clone, serde::Serialize)]
pub struct Comment {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub author_profile: Option<String>,
    /// Empty unless published.
    pub body: String,
    pub state: State,
    pub moderation_reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub replies: Vec<Comment>,
}

/// A page of a contribution's top-level comments, each with its replies, oldest first.
pub async fn comments(tx: &mut TenantTx, contribution_id: Uuid, page: i64) -> Result<(Vec<Comment>, i64)> {
    let offset = (page.max(1) - 1) * COMMENTS_PER_PAGE;
    let top_level = sqlx::query_scalar!(
        r#"select count(*) as "n!" from comment where contribution_id = $1 and parent_id is null"#,
        contribution_id
    )
    .fetch_one(tx.conn())
    .await?;
    // The page's top-level comments by the partial index, then the replies of each by its
    // parent (lateral: one index lookup per comment, never a scan of the tenant's other
    // comments, which a join back on `id` or by `parent_id` led the planner to).
    let rows = sqlx::query!(
        r#"with top as (
             select * from comment where contribution_id = $1 and parent_id is null
              order by created_at, id limit $2 offset $3),
           page as (
             select * from top
             union all
             select r.* from top t cross join lateral (
               select * from comment r where r.parent_id = t.id order by r.created_at, r.id) r)
           select m.id as "id!", m.parent_id, m.author_id, a.display_name as "author_name?", a.profile as "author_profile?",
                  case when m.state = 'publie' then m.body else '' end as "body!",
                  m.state as "state!: State", m.moderation_reason as "moderation_reason!", m.created_at as "created_at!"
             from page m left join citizen a on a.id = m.author_id
            order by m.created_at, m.id"#,
        contribution_id,
        COMMENTS_PER_PAGE,
        offset
    )
    .fetch_all(tx.conn())
    .await?;
    let mut out: Vec<Comment> = Vec::new();
    let mut replies: Vec<Comment> = Vec::new();
    for r in rows {
        let c = Comment {
            id: r.id,
            parent_id: r.parent_id,
            author_id: r.author_id,
            author_name: r.author_name,
            author_profile: r.author_profile,
            body: r.body,
            state: r.state,
            moderation_reason: r.moderation_reason,
            created_at: r.created_at,
            replies: Vec::new(),
        };
        if c.parent_id.is_some() {
            replies.push(c);
        } else {
            out.push(c);
        }
    }
    let index: std::collections::HashMap<Uuid, usize> = out.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    for reply in replies {
        if let Some(&i) = reply.parent_id.as_ref().and_then(|p| index.get(p)) {
            out[i].replies.push(reply);
        }
    }
    Ok((out, top_level))
}

/// Adds a comment (or a reply to a top-level comment) to a published contribution. A
/// second identical comment by the same author within a minute returns the first.
pub async fn add_comment(
    tx: &mut TenantTx,
    contribution_id: Uuid,
    parent_id: Option<Uuid>,
    author: Uuid,
    body: &str,
) -> Result<Uuid> {
    if let Some(parent) = parent_id {
        let ok = sqlx::query_scalar!(
            r#"select exists (select 1 from comment where id = $1 and contribution_id = $2 and parent_id is null) as "ok!""#,
            parent,
            contribution_id
        )
        .fetch_one(tx.conn())
        .await?;
        if !ok {
            return Err(Error::invalid("body", "ce commentaire n'accepte pas de réponse"));
        }
    }
    if let Some(id) = sqlx::query_scalar!(
        "select id from comment where contribution_id = $1 and author_id = $2 and body = $3
            and parent_id is not distinct from $4 and created_at > now() - interval '1 minute'",
        contribution_id,
        author,
        body,
        parent_id
    )
    .fetch_optional(tx.conn())
    .await?
    {
        return Ok(id);
    }
    let id = sqlx::query_scalar!(
        "insert into comment (contribution_id, parent_id, author_id, body) values ($1, $2, $3, $4) returning id",
        contribution_id,
        parent_id,
        author,
        body
    )
    .fetch_one(tx.conn())
    .await?;
    // Last, so that the contribution's row (every commenter's) stays locked only until the
    // commit that follows; no row counted means it no longer takes comments, and the
    // caller's rollback takes the insert back.
    let counted = sqlx::query!(
        "update contribution set comment_count = comment_count + 1 where id = $1 and state = 'publie'",
        contribution_id
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if counted == 0 {
        return Err(Error::invalid(
            "body",
            "cette contribution n'accepte plus de commentaires",
        ));
    }
    Ok(id)
}

/// Deletes a comment of its author. One with replies stays as an empty placeholder, so
/// the replies keep their context; its text is gone either way. Returns its contribution.
pub async fn delete_comment(tx: &mut TenantTx, id: Uuid, author: Uuid) -> Result<Uuid> {
    let row = sqlx::query!(
        r#"select contribution_id, state as "state: State", exists (select 1 from comment r where r.parent_id = comment.id) as has_replies
           from comment where id = $1 and author_id = $2 for update"#,
        id,
        author
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::NotFound("commentaire".into()))?;
    if row.state == State::Supprime {
        return Ok(row.contribution_id);
    }
    if row.has_replies.unwrap_or(false) {
        sqlx::query!("update comment set state = 'supprime', body = '' where id = $1", id)
            .execute(tx.conn())
            .await?;
    } else {
        sqlx::query!("delete from comment where id = $1", id)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query!(
        "update contribution set comment_count = greatest(comment_count - 1, 0) where id = $1",
        row.contribution_id
    )
    .execute(tx.conn())
    .await?;
    Ok(row.contribution_id)
}

/// Recounts the comments of the contributions an author commented on, after their
/// comments were removed with their account.
pub(crate) async fn recount_for_author(tx: &mut TenantTx, author: Uuid) -> Result<()> {
    sqlx::query!(
        "update contribution c set comment_count =
                (select count(*) from comment m where m.contribution_id = c.id and m.state <> 'supprime')
          where c.id in (select contribution_id from comment where author_id = $1)",
        author
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

// ---- Reports ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Reason {
    Charte,
    Spam,
    Injurieux,
    HorsSujet,
    Autre,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::Charte,
        Reason::Spam,
        Reason::Injurieux,
        Reason::HorsSujet,
        Reason::Autre,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Charte => "charte",
            Reason::Spam => "spam",
            Reason::Injurieux => "injurieux",
            Reason::HorsSujet => "hors_sujet",
            Reason::Autre => "autre",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reason::Charte => "Non-respect de la charte",
            Reason::Spam => "Spam ou publicité",
            Reason::Injurieux => "Propos injurieux",
            Reason::HorsSujet => "Hors sujet",
            Reason::Autre => "Autre motif",
        }
    }
}

impl FromStr for Reason {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid::new("choisissez le motif du signalement"))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Contribution(Uuid),
    Comment(Uuid),
}

impl Target {
    pub fn parse(kind: &str, id: &str) -> Option<Target> {
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "contribution" => Some(Target::Contribution(id)),
            "commentaire" => Some(Target::Comment(id)),
            _ => None,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Target::Contribution(_) => "contribution",
            Target::Comment(_) => "commentaire",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Target::Contribution(id) | Target::Comment(id) => id,
        }
    }

    fn ids(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Target::Contribution(id) => (Some(id), None),
            Target::Comment(id) => (None, Some(id)),
        }
    }
}

/// The contribution a target belongs to (itself, or the comment's), if it exists.
pub async fn contribution_of(tx: &mut TenantTx, target: Target) -> Result<Option<Uuid>> {
    Ok(match target {
        Target::Contribution(id) => {
            sqlx::query_scalar!("select id from contribution where id = $1", id)
                .fetch_optional(tx.conn())
                .await?
        }
        Target::Comment(id) => {
            sqlx::query_scalar!("select contribution_id from comment where id = $1", id)
                .fetch_optional(tx.conn())
                .await?
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Recorded; `hidden` when this report reached the threshold and hid the item.
    Recorded {
        hidden: bool,
    },
    AlreadyReported,
}

/// Records a citizen's report. At `threshold` distinct open reports the item is hidden
/// pending review. The tenant's moderators will hear of it in the next batch.
pub async fn report(
    tx: &mut TenantTx,
    target: Target,
    reporter: Uuid,
    reason: Reason,
    detail: &str,
    threshold: i32,
) -> Result<Reported> {
    if reason == Reason::Autre && detail.trim().is_empty() {
        return Err(Error::invalid("detail", "précisez le motif du signalement"));
    }
    if detail.chars().count() > 1000 {
        return Err(Error::invalid("detail", "1 000 caractères au plus"));
    }
    let (contribution_id, comment_id) = target.ids();
    let inserted = sqlx::query_scalar!(
        "insert into report (contribution_id, comment_id, reporter_id, reason, detail)
         values ($1, $2, $3, $4, $5)
         on conflict do nothing returning id",
        contribution_id,
        comment_id,
        reporter,
        reason.as_str(),
        detail.trim()
    )
    .fetch_optional(tx.conn())
    .await?;
    if inserted.is_none() {
        return Ok(Reported::AlreadyReported);
    }
    let open = sqlx::query_scalar!(
        r#"select count(distinct reporter_id) as "n!" from report
            where settled_at is null and contribution_id is not distinct from $1 and comment_id is not distinct from $2"#,
        contribution_id,
        comment_id
    )
    .fetch_one(tx.conn())
    .await?;
    let mut hidden = false;
    if open >= i64::from(threshold) {
        let n = match target {
            Target::Contribution(id) => {
                sqlx::query!(
                    "update contribution set state = 'masque' where id = $1 and state = 'publie'",
                    id
                )
                .execute(tx.conn())
                .await?
            }
            Target::Comment(id) => {
                sqlx::query!(
                    "update comment set state = 'masque' where id = $1 and state = 'publie'",
                    id
                )
                .execute(tx.conn())
                .await?
            }
        };
        hidden = n.rows_affected() == 1;
    }
    // The digest goes out a few minutes after the first unnotified report: one mail for
    // a burst of reports, not one per report.
    let tenant_id = tx.tenant().id;
    crate::jobs::enqueue_once(
        tx.conn(),
        tenant_id,
        crate::jobs::Kind::ModerationDigest,
        DIGEST_DELAY_SECS,
    )
    .await?;
    Ok(Reported::Recorded { hidden })
}

// ---- Moderation -------------------------------------------------------------------------

/// An item waiting for a moderator: reported and not settled, or hidden.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueItem {
    pub kind: String,
    pub id: Uuid,
    pub contribution_id: Uuid,
    pub dispositif_title: String,
    /// Moderators read the text whatever its state: they decide on it.
    pub text: String,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub author_blocked: bool,
    pub state: State,
    pub reports: i64,
    pub reasons: Vec<String>,
    pub details: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_report: OffsetDateTime,
}

/// The moderation queue, oldest first, one page.
pub async fn queue(tx: &mut TenantTx, limit: i64, offset: i64) -> Result<Vec<QueueItem>> {
    Ok(sqlx::query_as!(
        QueueItem,
        r#"with open as (
             select contribution_id, comment_id, count(*) as n, array_agg(distinct reason) as reasons,
                    array_remove(array_agg(nullif(detail, '')), null) as details, min(created_at) as first
               from report where settled_at is null
              group by contribution_id, comment_id)
           select 'contribution' as "kind!", c.id as "id!", c.id as "contribution_id!", d.title as "dispositif_title!",
                  c.title || E'\n\n' || c.body as "text!", c.author_id, a.display_name as "author_name?",
                  a.blocked_at is not null as "author_blocked!", c.state as "state!: State",
                  o.n as "reports!", o.reasons as "reasons!", o.details as "details!", o.first as "first_report!"
             from open o join contribution c on c.id = o.contribution_id
             join dispositif d on d.id = c.dispositif_id left join citizen a on a.id = c.author_id
           union all
           select 'commentaire', m.id, m.contribution_id, d.title, m.body, m.author_id, a.display_name,
                  a.blocked_at is not null, m.state, o.n, o.reasons, o.details, o.first
             from open o join comment m on m.id = o.comment_id join contribution c on c.id = m.contribution_id
             join dispositif d on d.id = c.dispositif_id left join citizen a on a.id = m.author_id
           order by "first_report!", "id!"
           limit $1 offset $2"#,
        limit,
        offset
    )
    .fetch_all(tx.conn())
    .await?)
}

/// A moderator's decision on a reported or hidden item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing wrong: visible again, its reports settled.
    Restore,
    /// Hidden for good, readers see the public reason.
    Moderate(String),
}

pub async fn decide(tx: &mut TenantTx, target: Target, decision: &Decision) -> Result<()> {
    let (state, reason) = match decision {
        Decision::Restore => (State::Publie, ""),
        Decision::Moderate(reason) => {
            if reason.trim().is_empty() {
                return Err(Error::invalid(
                    "reason",
                    "indiquez le motif affiché à la place du texte",
                ));
            }
            (State::Modere, reason.trim())
        }
    };
    let done = match target {
        Target::Contribution(id) => sqlx::query!(
            "update contribution set state = $2, moderation_reason = $3, reviewed_at = now() where id = $1",
            id,
            state.as_str(),
            reason
        )
        .execute(tx.conn())
        .await?
        .rows_affected(),
        Target::Comment(id) => sqlx::query!(
            "update comment set state = $2, moderation_reason = $3, reviewed_at = now()
              where id = $1 and state <> 'supprime'",
            id,
            state.as_str(),
            reason
        )
        .execute(tx.conn())
        .await?
        .rows_affected(),
    };
    if done == 0 {
        return Err(Error::NotFound("élément".into()));
    }
    let (contribution_id, comment_id) = target.ids();
    sqlx::query!(
        "update report set settled_at = now()
          where settled_at is null and contribution_id is not distinct from $1 and comment_id is not distinct from $2",
        contribution_id,
        comment_id
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A report moderators have not heard of yet, for the digest mail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewReport {
    pub kind: String,
    pub reason: String,
    pub excerpt: String,
    pub state: String,
}

/// Takes the reports not notified yet (marking them), oldest first.
pub async fn take_unnotified(tx: &mut TenantTx) -> Result<Vec<NewReport>> {
    Ok(sqlx::query_as!(
        NewReport,
        r#"with taken as (
             update report set notified_at = now() where notified_at is null
             returning id, contribution_id, comment_id, reason)
           select case when t.contribution_id is null then 'commentaire' else 'contribution' end as "kind!",
                  t.reason as "reason!",
                  left(coalesce(c.title, m.body, ''), 120) as "excerpt!",
                  coalesce(c.state, m.state, '') as "state!"
             from taken t left join contribution c on c.id = t.contribution_id
             left join comment m on m.id = t.comment_id
            order by t.id"#
    )
    .fetch_all(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(parse_text("  Bonjour\r\nà tous ", 100, "x").unwrap(), "Bonjour\nà tous");
        assert!(parse_text("   ", 100, "le titre").unwrap_err().0.contains("vide"));
        assert!(parse_text(&"é".repeat(101), 100, "x").is_err());
        assert!(parse_text("a\u{7}b", 100, "x").is_err());
        assert!(parse_text("a\tb", 100, "x").is_ok());
    }

    #[test]
    fn a_theme_must_be_one_of_the_call_s() {
        let themes = vec![Theme {
            id: Uuid::new_v4(),
            name: "Mobilités".into(),
        }];
        let ok = ContributionInput::parse("Titre", "Texte", &themes[0].id.to_string(), &themes).unwrap();
        assert_eq!(ok.theme_id, Some(themes[0].id));
        let err = ContributionInput::parse("Titre", "Texte", &Uuid::new_v4().to_string(), &themes).unwrap_err();
        assert!(err.get("theme").is_some());
        assert!(ContributionInput::parse("Titre", "Texte", "", &[]).is_ok());
    }

    fn citizen() -> Citizen {
        Citizen {
            id: Uuid::new_v4(),
            email: "a@b.fr".into(),
            display_name: "A".into(),
            profile: "citoyen".into(),
            confirmed: true,
            pending_email: None,
            charter_version: Some(1),
            blocked: false,
            blocked_reason: String::new(),
            session_epoch: 0,
            identity_verified: false,
            has_password: true,
        }
    }

    #[test]
    fn posting_needs_a_confirmed_unblocked_account_and_the_current_charter() {
        let c = citizen();
        assert_eq!(may_post(&c, Some(1)), Ok(()));
        assert_eq!(may_post(&c, None), Ok(()));
        assert_eq!(may_post(&c, Some(2)), Err(Refusal::Charter(2)));
        let blocked = Citizen {
            blocked: true,
            ..citizen()
        };
        assert!(matches!(may_post(&blocked, Some(1)), Err(Refusal::Blocked(_))));
        let unconfirmed = Citizen {
            confirmed: false,
            ..citizen()
        };
        assert_eq!(may_post(&unconfirmed, Some(1)), Err(Refusal::NotConfirmed));
    }
}
