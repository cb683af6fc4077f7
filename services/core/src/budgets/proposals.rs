//! A project's way to the ballot: a citizen submits it (title, description, place, an
//! estimated cost, the envelope it asks for), staff review it — feasible or not, with a
//! public explanation and the amount they costed — merge duplicates (every author stays on
//! the project that remains) and publish it. Only published feasible projects that were not
//! merged are on the ballot ([`super::projects`]).

use time::OffsetDateTime;
use uuid::Uuid;

use super::Envelope;
use crate::{Error, FieldErrors, Result, TenantTx};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const PLACE_MAX: usize = 200;
pub const EXPLANATION_MAX: usize = 5_000;

/// Where a project stands, as citizens read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Submitted, not yet reviewed or not yet published.
    Depose,
    /// Reviewed and published: on the ballot.
    Retenu,
    /// Reviewed and published as not feasible, with the explanation.
    NonFaisable,
    /// Merged into another project.
    Fusionne,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Depose => "En cours d'étude",
            Stage::Retenu => "Soumis au vote",
            Stage::NonFaisable => "Non réalisable",
            Stage::Fusionne => "Fusionné avec un autre projet",
        }
    }
}

/// A project with everything staff and citizens read of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Proposal {
    pub id: Uuid,
    pub envelope_id: Uuid,
    pub envelope: String,
    pub title: String,
    /// Markdown, sanitised when shown.
    pub description: String,
    pub place: String,
    /// Euros: the amount staff costed, or the citizen's estimate until they do.
    pub cost: i64,
    pub estimated_cost: Option<i64>,
    /// `faisable`, `non_faisable`, or none before the review.
    pub feasibility: Option<String>,
    pub explanation: String,
    pub published: bool,
    pub merged_into: Option<Uuid>,
    /// The authors' display names, in the order they wrote.
    pub authors: Vec<String>,
    pub author_ids: Vec<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Proposal {
    pub fn stage(&self) -> Stage {
        match (self.merged_into, self.published, self.feasibility.as_deref()) {
            (Some(_), _, _) => Stage::Fusionne,
            (None, true, Some("faisable")) => Stage::Retenu,
            (None, true, Some("non_faisable")) => Stage::NonFaisable,
            _ => Stage::Depose,
        }
    }

    pub fn reviewed(&self) -> bool {
        self.feasibility.is_some()
    }
}

/// Which projects a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every project, for staff.
    All,
    /// What citizens see: published projects, and those merged into one.
    Public,
}

/// The projects of a budget, envelope by envelope then by title, with their authors (one
/// query). At most 1,000: a budget is reviewed by people.
pub async fn list(tx: &mut TenantTx, dispositif: Uuid, shown: Shown) -> Result<Vec<Proposal>> {
    let public = shown == Shown::Public;
    Ok(sqlx::query_as!(
        Proposal,
        r#"select p.id, p.envelope_id, e.name as envelope, p.title, p.description, p.place, p.cost,
                  p.estimated_cost, p.feasibility, p.explanation, p.published, p.merged_into,
                  coalesce(array(select c.display_name from budget_project_author a join citizen c on c.id = a.citizen_id
                                  where a.project_id = p.id order by c.display_name), '{}') as "authors!",
                  coalesce(array(select a.citizen_id from budget_project_author a
                                  where a.project_id = p.id order by a.citizen_id), '{}') as "author_ids!",
                  p.created_at
             from budget_project p join budget_envelope e on e.id = p.envelope_id
            where p.dispositif_id = $1 and (not $2 or (p.published and p.merged_into is null))
            order by e.position, e.name, p.title, p.id
            limit 1000"#,
        dispositif,
        public
    )
    .fetch_all(tx.conn())
    .await?)
}

/// One project of this budget: one of another budget (or tenant) is none.
pub async fn get(tx: &mut TenantTx, dispositif: Uuid, id: Uuid) -> Result<Option<Proposal>> {
    Ok(sqlx::query_as!(
        Proposal,
        r#"select p.id, p.envelope_id, e.name as envelope, p.title, p.description, p.place, p.cost,
                  p.estimated_cost, p.feasibility, p.explanation, p.published, p.merged_into,
                  coalesce(array(select c.display_name from budget_project_author a join citizen c on c.id = a.citizen_id
                                  where a.project_id = p.id order by c.display_name), '{}') as "authors!",
                  coalesce(array(select a.citizen_id from budget_project_author a
                                  where a.project_id = p.id order by a.citizen_id), '{}') as "author_ids!",
                  p.created_at
             from budget_project p join budget_envelope e on e.id = p.envelope_id
            where p.dispositif_id = $1 and p.id = $2"#,
        dispositif,
        id
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// A project as a citizen typed it, checked.
#[derive(Debug, Clone)]
pub struct ProjectInput {
    pub envelope_id: Uuid,
    pub title: String,
    pub description: String,
    pub place: String,
    pub estimated_cost: i64,
}

/// Euros as people type them: « 12 500 », « 12500 € », « 12 500,00 ».
pub fn parse_euros(typed: &str) -> Option<i64> {
    let cleaned: String = typed
        .trim()
        .trim_end_matches('€')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202f}' && *c != '\u{a0}' && *c != '.')
        .collect();
    let whole = match cleaned.split_once(',') {
        Some((whole, cents)) if cents.chars().all(|c| c == '0') => whole.to_string(),
        Some(_) => return None,
        None => cleaned,
    };
    whole.parse::<i64>().ok().filter(|n| (1..=10_000_000_000).contains(n))
}

impl ProjectInput {
    pub fn parse(
        envelope: &str,
        title: &str,
        description: &str,
        place: &str,
        cost: &str,
        envelopes: &[Envelope],
    ) -> std::result::Result<ProjectInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let envelope_id = if envelopes.len() == 1 {
            Some(envelopes[0].id)
        } else {
            envelopes.iter().find(|e| e.id.to_string() == envelope).map(|e| e.id)
        };
        if envelope_id.is_none() {
            errors.push("envelope", "choisissez l'enveloppe du projet");
        }
        let (title, description, place) = (title.trim(), description.trim(), place.trim());
        if title.is_empty() || title.chars().count() > TITLE_MAX {
            errors.push(
                "title",
                format!("donnez un titre au projet ({TITLE_MAX} caractères au plus)"),
            );
        }
        if description.is_empty() || description.chars().count() > DESCRIPTION_MAX {
            errors.push("description", "décrivez le projet (20 000 caractères au plus)");
        }
        if place.chars().count() > PLACE_MAX {
            errors.push("place", format!("{PLACE_MAX} caractères au plus"));
        }
        let estimated_cost = parse_euros(cost);
        if estimated_cost.is_none() {
            errors.push("cost", "indiquez un coût estimé en euros, par exemple 12 500");
        }
        match (envelope_id, estimated_cost) {
            (Some(envelope_id), Some(estimated_cost)) if errors.is_empty() => Ok(ProjectInput {
                envelope_id,
                title: title.into(),
                description: description.into(),
                place: place.into(),
                estimated_cost,
            }),
            _ => Err(errors),
        }
    }
}

/// A citizen's project, waiting for staff's review.
pub async fn submit(tx: &mut TenantTx, dispositif: Uuid, author: Uuid, p: &ProjectInput) -> Result<Uuid> {
    let id = sqlx::query_scalar!(
        "insert into budget_project (dispositif_id, envelope_id, title, description, place, cost, estimated_cost, published)
         select $1, e.id, $3, $4, $5, $6, $6, false from budget_envelope e where e.id = $2 and e.dispositif_id = $1
         returning id",
        dispositif,
        p.envelope_id,
        p.title,
        p.description,
        p.place,
        p.estimated_cost
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::invalid("envelope", "choisissez l'enveloppe du projet"))?;
    sqlx::query!(
        "insert into budget_project_author (project_id, citizen_id) values ($1, $2)",
        id,
        author
    )
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Staff's review of a project, checked.
#[derive(Debug, Clone)]
pub struct Review {
    pub feasible: bool,
    pub explanation: String,
    pub cost: i64,
}

impl Review {
    pub fn parse(feasibility: &str, explanation: &str, cost: &str) -> std::result::Result<Review, FieldErrors> {
        let mut errors = FieldErrors::default();
        let feasible = match feasibility {
            "faisable" => Some(true),
            "non_faisable" => Some(false),
            _ => None,
        };
        if feasible.is_none() {
            errors.push("feasibility", "dites si le projet est réalisable");
        }
        let explanation = explanation.trim();
        if explanation.chars().count() > EXPLANATION_MAX {
            errors.push("explanation", "5 000 caractères au plus");
        }
        if feasible == Some(false) && explanation.is_empty() {
            errors.push(
                "explanation",
                "expliquez pourquoi le projet n'est pas réalisable : l'explication est publique",
            );
        }
        let cost = parse_euros(cost);
        if cost.is_none() {
            errors.push("cost", "indiquez le coût chiffré en euros, par exemple 12 500");
        }
        match (feasible, cost) {
            (Some(feasible), Some(cost)) if errors.is_empty() => Ok(Review {
                feasible,
                explanation: explanation.into(),
                cost,
            }),
            _ => Err(errors),
        }
    }
}

fn missing() -> Error {
    Error::NotFound("projet".into())
}

/// Records the review. A project already on the ballot while the vote is open is not
/// changed under voters' feet: the caller checks the phase.
pub async fn review(tx: &mut TenantTx, dispositif: Uuid, id: Uuid, r: &Review) -> Result<()> {
    let feasibility = if r.feasible { "faisable" } else { "non_faisable" };
    let p = get(tx, dispositif, id).await?.ok_or_else(missing)?;
    let amount = sqlx::query_scalar!("select amount from budget_envelope where id = $1", p.envelope_id)
        .fetch_one(tx.conn())
        .await?;
    if r.feasible && r.cost > amount {
        // It could never be selected: staff say it is not feasible, or cost it again.
        return Err(Error::invalid(
            "cost",
            format!(
                "ce coût dépasse le montant de toute l'enveloppe « {} » ({}) : le projet ne pourrait jamais être retenu",
                p.envelope,
                super::euros(amount)
            ),
        ));
    }
    let done = sqlx::query!(
        "update budget_project set feasibility = $3, explanation = $4, cost = $5
          where id = $1 and dispositif_id = $2 and merged_into is null",
        id,
        dispositif,
        feasibility,
        r.explanation,
        r.cost
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(missing());
    }
    Ok(())
}

/// Publishes a reviewed project (on the ballot when feasible), or takes it back.
pub async fn set_published(tx: &mut TenantTx, dispositif: Uuid, id: Uuid, published: bool) -> Result<()> {
    let p = get(tx, dispositif, id).await?.ok_or_else(missing)?;
    if published && !p.reviewed() {
        return Err(Error::invalid(
            "published",
            "étudiez d'abord le projet : réalisable ou non, et son coût",
        ));
    }
    if p.merged_into.is_some() {
        return Err(Error::invalid("published", "ce projet est fusionné avec un autre"));
    }
    sqlx::query!(
        "update budget_project set published = $3 where id = $1 and dispositif_id = $2",
        id,
        dispositif,
        published
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Merges the duplicate `from` into `into`: `from` leaves the ballot and points to `into`,
/// whose authors now include `from`'s.
pub async fn merge(tx: &mut TenantTx, dispositif: Uuid, from: Uuid, into: Uuid) -> Result<()> {
    if from == into {
        return Err(Error::invalid("into", "choisissez un autre projet que celui-ci"));
    }
    let (Some(a), Some(b)) = (get(tx, dispositif, from).await?, get(tx, dispositif, into).await?) else {
        return Err(Error::invalid("into", "choisissez un projet de ce budget"));
    };
    if a.merged_into.is_some() || b.merged_into.is_some() {
        return Err(Error::invalid("into", "l'un des deux projets est déjà fusionné"));
    }
    sqlx::query!(
        "insert into budget_project_author (project_id, citizen_id)
         select $2, citizen_id from budget_project_author where project_id = $1
         on conflict do nothing",
        from,
        into
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "update budget_project set merged_into = $2, published = false where id = $1 and dispositif_id = $3",
        from,
        into,
        dispositif
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Staff overriding a computed result, with the reason the results page shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Override {
    pub project_id: Uuid,
    pub selected: bool,
    pub reason: String,
}

pub async fn overrides(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Override>> {
    Ok(sqlx::query_as!(
        Override,
        "select o.project_id, o.selected, o.reason from budget_override o
           join budget_project p on p.id = o.project_id where p.dispositif_id = $1",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Sets (or, with `None`, clears) the override of a project on the ballot.
pub async fn set_override(tx: &mut TenantTx, dispositif: Uuid, id: Uuid, o: Option<(bool, &str)>) -> Result<()> {
    if !super::projects(tx, dispositif).await?.iter().any(|p| p.id == id) {
        return Err(missing());
    }
    match o {
        None => {
            sqlx::query!("delete from budget_override where project_id = $1", id)
                .execute(tx.conn())
                .await?;
        }
        Some((selected, reason)) => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 2000 {
                return Err(Error::invalid(
                    "reason",
                    "donnez la raison, publique, de ce changement (2 000 caractères au plus)",
                ));
            }
            sqlx::query!(
                "insert into budget_override (project_id, selected, reason) values ($1, $2, $3)
                 on conflict (project_id) do update set selected = excluded.selected, reason = excluded.reason, created_at = now()",
                id,
                selected,
                reason
            )
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_are_read_as_people_write_them() {
        assert_eq!(parse_euros("12 500"), Some(12_500));
        assert_eq!(parse_euros("12\u{202f}500\u{a0}€"), Some(12_500));
        assert_eq!(parse_euros("12500,00"), Some(12_500));
        assert_eq!(parse_euros("1.500"), Some(1_500));
        assert_eq!(parse_euros("12,50"), None, "whole euros only");
        assert_eq!(parse_euros("0"), None);
        assert_eq!(parse_euros("-5"), None);
        assert_eq!(parse_euros("beaucoup"), None);
    }

    #[test]
    fn a_project_is_checked_field_by_field() {
        let e = Envelope {
            id: Uuid::new_v4(),
            name: "Nord".into(),
            amount: 100,
        };
        let f = Envelope {
            id: Uuid::new_v4(),
            name: "Sud".into(),
            amount: 100,
        };
        let errors = ProjectInput::parse("", " ", "", "", "beaucoup", &[e.clone(), f.clone()]).unwrap_err();
        for field in ["envelope", "title", "description", "cost"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let ok = ProjectInput::parse("", "Un banc", "Au parc.", "Parc", "300", std::slice::from_ref(&e)).unwrap();
        assert_eq!(ok.envelope_id, e.id, "a single envelope needs no choice");
        assert_eq!(ok.estimated_cost, 300);
    }

    #[test]
    fn a_project_found_not_feasible_says_why() {
        let errors = Review::parse("non_faisable", "", "100").unwrap_err();
        assert!(errors.get("explanation").is_some());
        assert!(Review::parse("faisable", "", "100").is_ok());
        assert!(
            Review::parse("peut-etre", "", "100")
                .unwrap_err()
                .get("feasibility")
                .is_some()
        );
    }
}
