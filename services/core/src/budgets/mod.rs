//! Participatory budgets: a dispositif's envelopes (one, or one per quartier / commune /
//! canton), the costed projects on the ballot, the voter's basket checked against the
//! budget's voting method, and the ballot cast through [`crate::ballots`] (one person, one
//! ballot, unlinkable). The winners come from [`results`](mod@results).
//!
//! Projects reach the ballot through [`proposals`]: submitted by citizens, reviewed by
//! staff, published. The component (`crate::components::budget`) gives the phases and the
//! settings (method, rule), its surfaces the pages.

pub mod outcome;
pub mod pabulib;
pub mod proposals;
pub mod results;

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::ballots::{self, Channel, Choices, Receipt, Voter};
use crate::{Error, FieldErrors, Result, TenantTx};

/// How a voter fills their basket, chosen per budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Projects whose total cost stays within the envelope, and reaches at least
    /// `min_percent` of it (Decidim's default: 70 %).
    Knapsack { min_percent: u8 },
    /// From `min` to `max` projects.
    Approval { min: u32, max: u32 },
    /// `total` points to spread, at most `max_per_project` on one.
    Points { total: u32, max_per_project: u32 },
}

impl Method {
    /// Decidim's default rule.
    pub const KNAPSACK: Method = Method::Knapsack { min_percent: 70 };
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Envelope {
    pub id: Uuid,
    pub name: String,
    /// Euros.
    pub amount: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Project {
    pub id: Uuid,
    pub envelope_id: Uuid,
    pub title: String,
    /// Markdown, sanitised when shown.
    pub description: String,
    /// Euros, as costed by staff.
    pub cost: i64,
}

pub async fn envelopes(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Envelope>> {
    Ok(sqlx::query_as!(
        Envelope,
        "select id, name, amount from budget_envelope where dispositif_id = $1 order by position, name",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The projects on the ballot: published, found feasible, not merged into another.
pub async fn projects(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Project>> {
    Ok(sqlx::query_as!(
        Project,
        "select id, envelope_id, title, description, cost from budget_project
         where dispositif_id = $1 and published and feasibility = 'faisable' and merged_into is null
         order by title, id",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn add_envelope(tx: &mut TenantTx, dispositif: Uuid, name: &str, amount: i64) -> Result<Uuid> {
    let name = name.trim();
    let mut errors = FieldErrors::default();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push("name", "nommez l'enveloppe (120 caractères au plus)");
    }
    if !(1..=10_000_000_000).contains(&amount) {
        errors.push("amount", "indiquez un montant en euros, de 1 € à 10 milliards d'euros");
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(sqlx::query_scalar!(
        "insert into budget_envelope (dispositif_id, name, amount, position)
         values ($1, $2, $3, (select count(*) from budget_envelope where dispositif_id = $1))
         returning id",
        dispositif,
        name,
        amount
    )
    .fetch_one(tx.conn())
    .await?)
}

/// The communes of an envelope (INSEE codes), for a vote by residence (`core::residence`).
pub async fn envelope_communes(tx: &mut TenantTx, dispositif: Uuid, envelope: Uuid) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "select communes from budget_envelope where dispositif_id = $1 and id = $2",
        dispositif,
        envelope
    )
    .fetch_optional(tx.conn())
    .await?
    .unwrap_or_default())
}

/// Every envelope's communes, by envelope.
pub async fn communes_by_envelope(tx: &mut TenantTx, dispositif: Uuid) -> Result<HashMap<Uuid, Vec<String>>> {
    Ok(sqlx::query!(
        "select id, communes from budget_envelope where dispositif_id = $1",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.id, r.communes))
    .collect())
}

/// Sets the communes of an envelope from what staff typed (INSEE codes separated by spaces
/// or commas), each of them a commune of the territory.
pub async fn set_envelope_communes(tx: &mut TenantTx, dispositif: Uuid, envelope: Uuid, typed: &str) -> Result<()> {
    let mut codes: Vec<String> = typed
        .split([' ', ',', ';', '\n', '\r', '\t'])
        .filter(|c| !c.is_empty())
        .map(str::to_uppercase)
        .collect();
    codes.sort();
    codes.dedup();
    if let Some(bad) = codes.iter().find(|c| !crate::residence::is_insee(c)) {
        return Err(Error::invalid(
            "communes",
            format!("« {bad} » n'est pas un code INSEE de commune (5 caractères, comme 59512)"),
        ));
    }
    let known: HashSet<String> = crate::residence::communes(tx)
        .await?
        .into_iter()
        .map(|c| c.insee)
        .collect();
    if let Some(unknown) = codes.iter().find(|c| !known.contains(*c)) {
        return Err(Error::invalid(
            "communes",
            format!("la commune {unknown} n'est pas dans la liste des communes du territoire (Paramètres)"),
        ));
    }
    sqlx::query!(
        "update budget_envelope set communes = $3 where dispositif_id = $1 and id = $2",
        dispositif,
        envelope,
        &codes
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Adds a project staff costed and found feasible, straight to the ballot.
pub async fn add_project(
    tx: &mut TenantTx,
    dispositif: Uuid,
    envelope: Uuid,
    title: &str,
    description: &str,
    cost: i64,
) -> Result<Uuid> {
    let title = title.trim();
    let mut errors = FieldErrors::default();
    if title.is_empty() || title.chars().count() > 200 {
        errors.push("title", "donnez un titre au projet (200 caractères au plus)");
    }
    if description.chars().count() > 20_000 {
        errors.push("description", "20 000 caractères au plus");
    }
    if !(1..=10_000_000_000).contains(&cost) {
        errors.push("cost", "indiquez le coût en euros");
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    // The envelope must be this dispositif's: a forged id inserts nothing. A project that
    // costs more than its whole envelope could never be selected.
    let amount = sqlx::query_scalar!(
        "select amount from budget_envelope where id = $1 and dispositif_id = $2",
        envelope,
        dispositif
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::Invalid(FieldErrors::one("envelope_id", "choisissez une enveloppe de ce budget")))?;
    if cost > amount {
        return Err(Error::invalid(
            "cost",
            format!("le coût dépasse le montant de toute l'enveloppe ({})", euros(amount)),
        ));
    }
    sqlx::query_scalar!(
        "insert into budget_project (dispositif_id, envelope_id, title, description, cost, feasibility, published)
         select $1, e.id, $3, $4, $5, 'faisable', true from budget_envelope e where e.id = $2 and e.dispositif_id = $1
         returning id",
        dispositif,
        envelope,
        title,
        description.trim(),
        cost
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::Invalid(FieldErrors::one("envelope_id", "choisissez une enveloppe de ce budget")))
}

/// A voter's basket as the form sent it: project ids, with points for the points method.
#[derive(Debug, Clone, Default)]
pub struct Basket(pub Vec<(Uuid, i32)>);

impl Basket {
    /// The basket as a form sent it: `p_<project id>` is `on` (a chosen project) or a
    /// number of points. Ids that name no project of the budget are kept: [`check`]
    /// refuses them with the rest of the basket.
    pub fn from_form(fields: &HashMap<String, String>, method: Method) -> std::result::Result<Basket, FieldErrors> {
        let mut items = Vec::new();
        for (name, value) in fields {
            let Some(id) = name.strip_prefix("p_") else {
                continue;
            };
            let id: Uuid = id
                .parse()
                .map_err(|_| FieldErrors::one("basket", "un des projets choisis n'est pas au vote de ce budget"))?;
            let value = value.trim();
            let weight = match method {
                Method::Points { .. } if value.is_empty() || value == "0" => continue,
                Method::Points { .. } => value
                    .parse::<i32>()
                    .map_err(|_| FieldErrors::one("basket", "indiquez les points en nombres entiers"))?,
                _ if value == "on" => 1,
                _ => continue,
            };
            items.push((id, weight));
        }
        items.sort();
        Ok(Basket(items))
    }
}

/// Checks a basket against the budget's method, its projects and envelopes: every project
/// is this budget's, taken once, all in one envelope (a voter takes part in one envelope:
/// CONSUL's « one heading per group »), and the method's limits hold. The choices to cast,
/// or the reason in words beside the basket.
pub fn check(
    method: Method,
    envelopes: &[Envelope],
    projects: &[Project],
    basket: &Basket,
) -> std::result::Result<Choices, FieldErrors> {
    let refuse = |message: String| Err(FieldErrors::one("basket", message));
    let by_id: HashMap<Uuid, &Project> = projects.iter().map(|p| (p.id, p)).collect();
    let mut seen = HashSet::new();
    let mut chosen = Vec::with_capacity(basket.0.len());
    for (id, weight) in &basket.0 {
        let Some(project) = by_id.get(id) else {
            return refuse("un des projets choisis n'est pas au vote de ce budget".into());
        };
        if !seen.insert(*id) {
            return refuse("un projet ne peut être choisi qu'une fois".into());
        }
        chosen.push((*project, *weight));
    }
    if chosen.is_empty() {
        return refuse("choisissez au moins un projet avant de voter".into());
    }
    let envelope_id = chosen[0].0.envelope_id;
    if chosen.iter().any(|(p, _)| p.envelope_id != envelope_id) {
        return refuse("choisissez des projets d'une seule enveloppe".into());
    }
    let Some(envelope) = envelopes.iter().find(|e| e.id == envelope_id) else {
        return refuse("un des projets choisis n'est pas au vote de ce budget".into());
    };
    let items: Vec<(Uuid, i32)> = match method {
        Method::Knapsack { min_percent } => {
            let total: i64 = chosen.iter().map(|(p, _)| p.cost).sum();
            if total > envelope.amount {
                return refuse(format!(
                    "votre sélection coûte {} : c'est plus que l'enveloppe « {} » ({})",
                    euros(total),
                    envelope.name,
                    euros(envelope.amount)
                ));
            }
            let floor = envelope.amount * i64::from(min_percent) / 100;
            if total < floor {
                return refuse(format!(
                    "votre sélection coûte {} : choisissez des projets pour au moins {} ({} % de l'enveloppe)",
                    euros(total),
                    euros(floor),
                    min_percent
                ));
            }
            chosen.iter().map(|(p, _)| (p.id, 1)).collect()
        }
        Method::Approval { min, max } => {
            let n = chosen.len() as u32;
            if n > max {
                return refuse(format!("choisissez {} au plus", projects_fr(max)));
            }
            if n < min {
                return refuse(format!("choisissez {} au moins", projects_fr(min)));
            }
            chosen.iter().map(|(p, _)| (p.id, 1)).collect()
        }
        Method::Points { total, max_per_project } => {
            if chosen.iter().any(|(_, w)| *w < 1 || *w as u32 > max_per_project) {
                return refuse(format!(
                    "donnez à chaque projet choisi de 1 à {max_per_project} point{}",
                    if max_per_project > 1 { "s" } else { "" }
                ));
            }
            let spent: u32 = chosen.iter().map(|(_, w)| *w as u32).sum();
            if spent > total {
                return refuse(format!("vous avez réparti {spent} points sur {total}"));
            }
            chosen.iter().map(|(p, w)| (p.id, *w)).collect()
        }
    };
    Choices::new(items).ok_or_else(|| FieldErrors::one("basket", "un projet ne peut être choisi qu'une fois"))
}

/// Casts a voter's basket: checked against the budget, then into the box. `Ok(Err(…))`
/// says why in words (the basket breaks the method's rules, or the voter has voted) and
/// nothing is stored.
pub async fn cast(
    tx: &mut TenantTx,
    dispositif: Uuid,
    method: Method,
    voter: &Voter,
    basket: &Basket,
) -> Result<std::result::Result<Receipt, FieldErrors>> {
    cast_on(tx, dispositif, method, voter, basket, Channel::Online).await
}

/// [`cast`], online or on paper: staff at a desk enter a paper ballot into the same box,
/// marking its voter in the same roll.
pub async fn cast_on(
    tx: &mut TenantTx,
    dispositif: Uuid,
    method: Method,
    voter: &Voter,
    basket: &Basket,
    channel: Channel,
) -> Result<std::result::Result<Receipt, FieldErrors>> {
    let envelopes = envelopes(tx, dispositif).await?;
    let projects = projects(tx, dispositif).await?;
    cast_among(tx, dispositif, method, voter, basket, (&envelopes, &projects), channel).await
}

/// [`cast_on`] with the budget's envelopes and projects the caller read in the same
/// transaction (the vote page has them: no need to read 200 projects twice).
pub async fn cast_among(
    tx: &mut TenantTx,
    dispositif: Uuid,
    method: Method,
    voter: &Voter,
    basket: &Basket,
    (envelopes, projects): (&[Envelope], &[Project]),
    channel: Channel,
) -> Result<std::result::Result<Receipt, FieldErrors>> {
    let choices = match check(method, envelopes, projects, basket) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(errors)),
    };
    match ballots::cast(tx, dispositif, voter, &choices, channel).await? {
        Ok(receipt) => Ok(Ok(receipt)),
        Err(ballots::Refused::AlreadyVoted) => Ok(Err(FieldErrors::one(
            "basket",
            match channel {
                Channel::Online => "vous avez déjà voté pour ce budget : un bulletin déposé est définitif",
                Channel::Paper => "cette personne a déjà voté, en ligne ou sur papier : un seul bulletin par personne",
            },
        ))),
    }
}

/// Which rule turns the ballots into winners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Greedy,
    EqualShares,
}

/// Computed results, by tenant, budget, rule, seed, ballots in the box and what is on the
/// ballot. Equal shares over 100,000 ballots takes most of a second (`docs/benchmarks.md`)
/// and the results page is read far more often than the box changes: a box only grows
/// (no ballot is ever removed), so its size and the ballot's projects, costs and envelopes
/// say whether it changed.
type ResultsKey = (Uuid, Uuid, Rule, String, i64, [u8; 32]);
static RESULTS: std::sync::LazyLock<moka::sync::Cache<ResultsKey, std::sync::Arc<Vec<results::Decision>>>> =
    std::sync::LazyLock::new(|| {
        moka::sync::Cache::builder()
            .max_capacity(2_000)
            .time_to_idle(std::time::Duration::from_secs(3600))
            .build()
    });

/// The winners of a budget from its box, envelope by envelope, with each project's reason;
/// computed once per state of the box.
pub async fn results(tx: &mut TenantTx, dispositif: Uuid, rule: Rule, seed: &str) -> Result<Vec<results::Decision>> {
    let (amounts, candidates) = ballot_of(tx, dispositif).await?;
    let ballots = sqlx::query_scalar!(
        r#"select count(*) as "n!" from ballot where dispositif_id = $1"#,
        dispositif
    )
    .fetch_one(tx.conn())
    .await?;
    let key = (
        tx.tenant().id,
        dispositif,
        rule,
        seed.to_string(),
        ballots,
        fingerprint(&amounts, &candidates),
    );
    if let Some(known) = RESULTS.get(&key) {
        return Ok(known.as_ref().clone());
    }
    let decisions = compute(tx, dispositif, rule, seed, amounts, candidates).await?;
    RESULTS.insert(key, std::sync::Arc::new(decisions.clone()));
    Ok(decisions)
}

/// [`results`] computed afresh (the benchmark measures this).
pub async fn results_uncached(
    tx: &mut TenantTx,
    dispositif: Uuid,
    rule: Rule,
    seed: &str,
) -> Result<Vec<results::Decision>> {
    let (amounts, candidates) = ballot_of(tx, dispositif).await?;
    compute(tx, dispositif, rule, seed, amounts, candidates).await
}

/// The envelopes' amounts and the projects on the ballot, as the rules see them.
async fn ballot_of(tx: &mut TenantTx, dispositif: Uuid) -> Result<(HashMap<Uuid, i64>, Vec<results::Candidate>)> {
    let amounts: HashMap<Uuid, i64> = envelopes(tx, dispositif)
        .await?
        .into_iter()
        .map(|e| (e.id, e.amount))
        .collect();
    let candidates: Vec<results::Candidate> = projects(tx, dispositif)
        .await?
        .into_iter()
        .map(|p| results::Candidate {
            id: p.id,
            envelope: p.envelope_id,
            cost: p.cost,
        })
        .collect();
    Ok((amounts, candidates))
}

fn fingerprint(amounts: &HashMap<Uuid, i64>, candidates: &[results::Candidate]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut envelopes: Vec<(&Uuid, &i64)> = amounts.iter().collect();
    envelopes.sort();
    let mut h = Sha256::new();
    for (id, amount) in envelopes {
        h.update(id.as_bytes());
        h.update(amount.to_le_bytes());
    }
    for c in candidates {
        h.update(c.id.as_bytes());
        h.update(c.envelope.as_bytes());
        h.update(c.cost.to_le_bytes());
    }
    h.finalize().into()
}

async fn compute(
    tx: &mut TenantTx,
    dispositif: Uuid,
    rule: Rule,
    seed: &str,
    amounts: HashMap<Uuid, i64>,
    candidates: Vec<results::Candidate>,
) -> Result<Vec<results::Decision>> {
    Ok(match rule {
        Rule::Greedy => {
            let votes: HashMap<Uuid, i64> = ballots::tally(tx, dispositif).await?.into_iter().collect();
            results::greedy(&amounts, &candidates, &votes, seed)
        }
        Rule::EqualShares => {
            let groups = ballots::approval_groups(tx, dispositif).await?;
            // Off the request threads: a big box takes a good part of a second.
            let seed = seed.to_string();
            tokio::task::spawn_blocking(move || results::equal_shares_grouped(&amounts, &candidates, &groups, &seed))
                .await
                .map_err(|e| Error::Failed(format!("equal shares: {e}")))?
        }
    })
}

/// « 12 500 € », with the narrow no-break space French puts between thousands.
pub fn euros(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    format!("{}{out}\u{a0}€", if amount < 0 { "-" } else { "" })
}

fn projects_fr(n: u32) -> String {
    if n > 1 {
        format!("{n} projets")
    } else {
        format!("{n} projet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> (Vec<Envelope>, Vec<Project>) {
        let (north, south) = (Uuid::new_v4(), Uuid::new_v4());
        let envelopes = vec![
            Envelope {
                id: north,
                name: "Quartier nord".into(),
                amount: 100_000,
            },
            Envelope {
                id: south,
                name: "Quartier sud".into(),
                amount: 50_000,
            },
        ];
        let project = |envelope, cost| Project {
            id: Uuid::new_v4(),
            envelope_id: envelope,
            title: "Projet".into(),
            description: String::new(),
            cost,
        };
        let projects = vec![
            project(north, 60_000),
            project(north, 30_000),
            project(north, 50_000),
            project(south, 20_000),
        ];
        (envelopes, projects)
    }

    #[test]
    fn a_knapsack_basket_stays_within_its_envelope_and_reaches_its_floor() {
        let (e, p) = budget();
        let basket = |ids: &[usize]| Basket(ids.iter().map(|&i| (p[i].id, 1)).collect());
        assert!(
            check(Method::KNAPSACK, &e, &p, &basket(&[0, 1])).is_ok(),
            "90 000 € of 100 000 €"
        );
        let over = check(Method::KNAPSACK, &e, &p, &basket(&[0, 2])).unwrap_err();
        assert!(over.0[0].message.contains("110\u{202f}000\u{a0}€"), "{over:?}");
        let under = check(Method::KNAPSACK, &e, &p, &basket(&[1])).unwrap_err();
        assert!(under.0[0].message.contains("70 %"), "{under:?}");
        let mixed = check(Method::KNAPSACK, &e, &p, &basket(&[0, 3])).unwrap_err();
        assert!(mixed.0[0].message.contains("une seule enveloppe"));
        let forged = Basket(vec![(Uuid::new_v4(), 1)]);
        assert!(check(Method::KNAPSACK, &e, &p, &forged).is_err());
        let twice = Basket(vec![(p[1].id, 1), (p[1].id, 1)]);
        assert!(check(Method::Approval { min: 1, max: 3 }, &e, &p, &twice).is_err());
        assert!(check(Method::KNAPSACK, &e, &p, &Basket::default()).is_err());
    }

    #[test]
    fn approval_and_points_baskets_keep_their_limits() {
        let (e, p) = budget();
        let approval = Method::Approval { min: 1, max: 2 };
        let ids = |n: &[usize]| Basket(n.iter().map(|&i| (p[i].id, 1)).collect());
        assert!(check(approval, &e, &p, &ids(&[0, 1])).is_ok());
        assert_eq!(
            check(approval, &e, &p, &ids(&[0, 1, 2])).unwrap_err().0[0].message,
            "choisissez 2 projets au plus"
        );
        let points = Method::Points {
            total: 5,
            max_per_project: 3,
        };
        let spread = |w: &[(usize, i32)]| Basket(w.iter().map(|&(i, n)| (p[i].id, n)).collect());
        assert!(check(points, &e, &p, &spread(&[(0, 3), (1, 2)])).is_ok());
        assert!(check(points, &e, &p, &spread(&[(0, 4)])).is_err(), "more than 3 on one");
        assert!(
            check(points, &e, &p, &spread(&[(0, 3), (1, 3)])).is_err(),
            "6 of 5 points"
        );
        assert!(check(points, &e, &p, &spread(&[(0, 0)])).is_err());
    }

    #[test]
    fn amounts_read_in_french() {
        assert_eq!(euros(1_250_000), "1\u{202f}250\u{202f}000\u{a0}€");
        assert_eq!(euros(999), "999\u{a0}€");
    }
}
