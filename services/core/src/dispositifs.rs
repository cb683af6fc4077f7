//! Dispositifs: a tenant's participatory spaces, each hosting components
//! (`crate::components`). A dispositif's kind — a call for contributions, a council, a
//! presentation of a body — says which components it starts with and may host; its dates
//! are the default dates of its components' phases. Staff draft, publish and archive them
//! in the console; citizens see the published and archived ones on the portal. Every
//! function takes the tenant's `TenantTx`.

use std::fmt;
use std::str::FromStr;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::Invalid;
use crate::{Error, Result, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Appel,
    Conseil,
    Presentation,
    Budget,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Appel, Kind::Conseil, Kind::Presentation, Kind::Budget];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Appel => "appel",
            Kind::Conseil => "conseil",
            Kind::Presentation => "presentation",
            Kind::Budget => "budget",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Appel => "Appel à contributions",
            Kind::Conseil => "Conseil",
            Kind::Presentation => "Présentation",
            Kind::Budget => "Budget participatif",
        }
    }
}

impl FromStr for Kind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new("choisissez le type de dispositif"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a dispositif stands for citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    AVenir,
    EnCours,
    Termine,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::AVenir => "À venir",
            Phase::EnCours => "En cours",
            Phase::Termine => "Terminé",
        }
    }
}

/// Where a dispositif stands: drafted in the console, published on the portal, or archived
/// (still readable there, closed). Stored as text, checked by the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Brouillon,
    Publie,
    Archive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Brouillon => "brouillon",
            Status::Publie => "publie",
            Status::Archive => "archive",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = crate::domain::Invalid;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "brouillon" => Ok(Status::Brouillon),
            "publie" => Ok(Status::Publie),
            "archive" => Ok(Status::Archive),
            _ => Err(crate::domain::Invalid("statut inconnu".into())),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Dispositif {
    pub id: Uuid,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub opens_on: Option<Date>,
    pub closes_on: Option<Date>,
    pub rules: String,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Dispositif {
    pub fn kind(&self) -> Kind {
        self.kind.parse().unwrap_or(Kind::Presentation)
    }

    /// À venir before its opening date, terminé after its closing date or once archived,
    /// en cours otherwise.
    pub fn phase(&self, today: Date) -> Phase {
        if self.status == Status::Archive || self.closes_on.is_some_and(|c| c < today) {
            Phase::Termine
        } else if self.opens_on.is_some_and(|o| o > today) {
            Phase::AVenir
        } else {
            Phase::EnCours
        }
    }
}

/// A dispositif as written by staff, every field checked.
#[derive(Debug, Clone)]
pub struct DispositifWrite {
    pub slug: String,
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub opens_on: Option<Date>,
    pub closes_on: Option<Date>,
    pub rules: String,
    pub themes: Vec<String>,
}

fn conflict(e: sqlx::Error) -> Error {
    match crate::error::violated_constraint(&e) {
        Some("dispositif_slug_key") => Error::invalid("slug", "un autre dispositif utilise déjà cette adresse"),
        Some("dispositif_dates") => Error::invalid("closes_on", "la clôture doit suivre l'ouverture"),
        _ => e.into(),
    }
}

/// All dispositifs, for the console (drafts included), newest first.
pub async fn all(tx: &mut TenantTx) -> Result<Vec<Dispositif>> {
    Ok(sqlx::query_as!(
        Dispositif,
        r#"select id, slug, kind, title, summary, description, opens_on, closes_on, rules, status as "status: Status", updated_at
           from dispositif order by created_at desc limit 500"#
    )
    .fetch_all(tx.conn())
    .await?)
}

/// What citizens see: published and archived dispositifs.
pub async fn public(tx: &mut TenantTx) -> Result<Vec<Dispositif>> {
    Ok(sqlx::query_as!(
        Dispositif,
        r#"select id, slug, kind, title, summary, description, opens_on, closes_on, rules, status as "status: Status", updated_at
           from dispositif where status in ('publie', 'archive')
          order by status = 'archive', opens_on desc nulls last, title limit 500"#
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Dispositif>> {
    Ok(sqlx::query_as!(
        Dispositif,
        r#"select id, slug, kind, title, summary, description, opens_on, closes_on, rules, status as "status: Status", updated_at
           from dispositif where id = $1"#,
        id
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// Any dispositif by its address (drafts included).
pub async fn by_slug(tx: &mut TenantTx, slug: &str) -> Result<Option<Dispositif>> {
    Ok(sqlx::query_as!(
        Dispositif,
        r#"select id, slug, kind, title, summary, description, opens_on, closes_on, rules, status as "status: Status", updated_at
           from dispositif where slug = $1"#,
        slug
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// A published or archived dispositif by its address, for the portal.
pub async fn public_by_slug(tx: &mut TenantTx, slug: &str) -> Result<Option<Dispositif>> {
    Ok(sqlx::query_as!(
        Dispositif,
        r#"select id, slug, kind, title, summary, description, opens_on, closes_on, rules, status as "status: Status", updated_at
           from dispositif where slug = $1 and status in ('publie', 'archive')"#,
        slug
    )
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn create(tx: &mut TenantTx, d: &DispositifWrite) -> Result<Uuid> {
    let id = sqlx::query_scalar!(
        "insert into dispositif (slug, kind, title, summary, description, opens_on, closes_on, rules)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
        d.slug,
        d.kind.as_str(),
        d.title,
        d.summary,
        d.description,
        d.opens_on,
        d.closes_on,
        d.rules
    )
    .fetch_one(tx.conn())
    .await
    .map_err(conflict)?;
    set_themes(tx, id, &d.themes).await?;
    // Its first components, by kind (`components::Manifest::default_for`).
    let created = by_id(tx, id)
        .await?
        .ok_or_else(|| Error::NotFound("dispositif".into()))?;
    crate::components::add_defaults(tx, &created).await?;
    Ok(id)
}

pub async fn update(tx: &mut TenantTx, id: Uuid, d: &DispositifWrite) -> Result<()> {
    let done = sqlx::query!(
        "update dispositif set slug = $2, title = $3, summary = $4, description = $5, opens_on = $6, closes_on = $7,
                rules = $8
          where id = $1",
        id,
        d.slug,
        d.title,
        d.summary,
        d.description,
        d.opens_on,
        d.closes_on,
        d.rules
    )
    .execute(tx.conn())
    .await
    .map_err(conflict)?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("dispositif".into()));
    }
    set_themes(tx, id, &d.themes).await
}

/// Replaces the themes, keeping the ids of those that stay (contributions will point at them).
async fn set_themes(tx: &mut TenantTx, id: Uuid, themes: &[String]) -> Result<()> {
    let positions: Vec<i32> = (0..themes.len() as i32).collect();
    sqlx::query!(
        "delete from dispositif_theme where dispositif_id = $1 and not (name = any($2))",
        id,
        themes
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "insert into dispositif_theme (dispositif_id, name, position)
         select $1, name, position from unnest($2::text[], $3::int[]) as t(name, position)
         on conflict (dispositif_id, name) do update set position = excluded.position",
        id,
        themes,
        &positions
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn themes(tx: &mut TenantTx, id: Uuid) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "select name from dispositif_theme where dispositif_id = $1 order by position, name",
        id
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn set_status(tx: &mut TenantTx, id: Uuid, status: Status) -> Result<()> {
    let done = sqlx::query!("update dispositif set status = $2 where id = $1", id, status.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if done == 0 {
        Err(Error::NotFound("dispositif".into()))
    } else {
        Ok(())
    }
}

/// A member of a council.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub quality: String,
}

pub async fn members(tx: &mut TenantTx, dispositif_id: Uuid) -> Result<Vec<Member>> {
    Ok(sqlx::query_as!(
        Member,
        "select id, name, role, quality from council_member where dispositif_id = $1 order by position, name limit 500",
        dispositif_id
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn add_member(tx: &mut TenantTx, dispositif_id: Uuid, name: &str, role: &str, quality: &str) -> Result<Uuid> {
    let composition = crate::components::composition::MANIFEST.key;
    let hosts = crate::components::of(tx, dispositif_id)
        .await?
        .iter()
        .any(|i| i.key() == composition && !i.removed);
    if !hosts {
        return Err(Error::invalid("name", "seul un conseil a une composition"));
    }
    Ok(sqlx::query_scalar!(
        "insert into council_member (dispositif_id, name, role, quality, position)
         values ($1, $2, $3, $4, coalesce((select max(position) + 1 from council_member where dispositif_id = $1), 0))
         returning id",
        dispositif_id,
        name,
        role,
        quality
    )
    .fetch_one(tx.conn())
    .await?)
}

pub async fn remove_member(tx: &mut TenantTx, dispositif_id: Uuid, member_id: Uuid) -> Result<()> {
    let done = sqlx::query!(
        "delete from council_member where id = $1 and dispositif_id = $2",
        member_id,
        dispositif_id
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        Err(Error::NotFound("membre".into()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn d(kind: &str, status: &str, opens: Option<Date>, closes: Option<Date>) -> Dispositif {
        Dispositif {
            id: Uuid::nil(),
            slug: "x".into(),
            kind: kind.into(),
            title: "x".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: opens,
            closes_on: closes,
            rules: String::new(),
            status: status.parse().unwrap(),
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_phase_follows_the_dates_and_the_archive() {
        let today = date!(2026 - 11 - 25);
        let call = |o, c| d("appel", "publie", o, c);
        assert_eq!(call(Some(date!(2026 - 12 - 01)), None).phase(today), Phase::AVenir);
        assert_eq!(
            call(Some(date!(2026 - 11 - 25)), Some(date!(2026 - 11 - 25))).phase(today),
            Phase::EnCours
        );
        assert_eq!(call(None, Some(date!(2026 - 11 - 24))).phase(today), Phase::Termine);
        assert_eq!(d("conseil", "archive", None, None).phase(today), Phase::Termine);
    }
}
