//! Budget participatif: citizens submit projects during the « dépôt », staff review and cost
//! them during the « étude », voters fill a basket during the « vote », and the results —
//! computed by the rule staff chose, never picked by hand — are published at the close.
//! The data and the rules live in `crate::budgets`, the box in `crate::ballots`.

use futures::FutureExt;
use time::Date;
use uuid::Uuid;

use super::{Action, Instance, Manifest, PhaseSpec, Setting, SettingKind, Who};
use crate::budgets::{self, Method, Rule};
use crate::dispositifs::{Dispositif, Kind};
use crate::open_data::Resource;
use crate::{Result, TenantTx};

pub const SUBMIT: &str = "proposer";
pub const VOTE: &str = "voter";
pub const VOTE_PHASE: &str = "vote";
pub const RESULTS_PHASE: &str = "resultats";

const METHOD: &str = "methode";
const MIN_PERCENT: &str = "part_minimale";
const APPROVAL_MIN: &str = "projets_min";
const APPROVAL_MAX: &str = "projets_max";
const POINTS: &str = "points";
const POINTS_MAX: &str = "points_max_projet";
const RULE: &str = "regle";
const LIVE: &str = "resultats_en_direct";

pub static MANIFEST: Manifest = Manifest {
    key: "budget",
    name: "Budget participatif",
    description: "Les participant·es proposent des projets, la collectivité les étudie et les chiffre, puis chacun·e vote dans la limite de l'enveloppe ; les résultats sont calculés et vérifiables.",
    hosts: &[Kind::Budget],
    default_for: &[Kind::Budget],
    settings: &[
        Setting {
            key: METHOD,
            label: "Mode de vote",
            hint: "Comment chaque votant·e remplit son panier.",
            kind: SettingKind::Choice {
                default: "panier",
                options: &[
                    ("panier", "Panier : des projets dans la limite de l'enveloppe"),
                    ("approbation", "Approbation : un nombre limité de projets"),
                    ("points", "Points : des points à répartir entre les projets"),
                ],
            },
        },
        Setting {
            key: MIN_PERCENT,
            label: "Panier : part minimale de l'enveloppe à dépenser (%)",
            hint: "0 pour aucune ; 70 % par défaut, comme Decidim.",
            kind: SettingKind::Integer {
                default: 70,
                min: 0,
                max: 100,
            },
        },
        Setting {
            key: APPROVAL_MIN,
            label: "Approbation : nombre minimal de projets",
            hint: "",
            kind: SettingKind::Integer {
                default: 1,
                min: 1,
                max: 100,
            },
        },
        Setting {
            key: APPROVAL_MAX,
            label: "Approbation : nombre maximal de projets",
            hint: "",
            kind: SettingKind::Integer {
                default: 5,
                min: 1,
                max: 100,
            },
        },
        Setting {
            key: POINTS,
            label: "Points : nombre de points par votant·e",
            hint: "",
            kind: SettingKind::Integer {
                default: 10,
                min: 1,
                max: 1000,
            },
        },
        Setting {
            key: POINTS_MAX,
            label: "Points : points au plus sur un projet",
            hint: "",
            kind: SettingKind::Integer {
                default: 5,
                min: 1,
                max: 1000,
            },
        },
        Setting {
            key: RULE,
            label: "Calcul des résultats",
            hint: "Choisi avant le vote, et affiché aux votant·es.",
            kind: SettingKind::Choice {
                default: "glouton",
                options: &[
                    ("glouton", "Par nombre de voix, dans la limite de l'enveloppe"),
                    ("parts_egales", "Méthode des parts égales (proportionnelle)"),
                ],
            },
        },
        super::CENSUS_SETTING,
        super::MIN_AGE_SETTING,
        super::BUDGET_RESIDENCE_SETTING,
        super::NATIONALS_ONLY_SETTING,
        Setting {
            key: LIVE,
            label: "Résultats visibles pendant le vote",
            hint: "Sans cela, les résultats ne sont publiés qu'à la clôture du vote.",
            kind: SettingKind::Bool { default: false },
        },
    ],
    phases: &[
        PhaseSpec {
            key: "depot",
            label: "Dépôt des projets",
        },
        PhaseSpec {
            key: "etude",
            label: "Étude des projets",
        },
        PhaseSpec {
            key: VOTE_PHASE,
            label: "Vote",
        },
        PhaseSpec {
            key: RESULTS_PHASE,
            label: "Résultats",
        },
    ],
    actions: &[
        Action {
            key: SUBMIT,
            label: "Proposer un projet",
            phase: Some("depot"),
            who: Who::Citizen,
        },
        Action {
            key: VOTE,
            label: "Voter",
            phase: Some(VOTE_PHASE),
            who: Who::Citizen,
        },
    ],
    tables: &[
        "budget_envelope",
        "budget_project",
        "budget_project_author",
        "budget_override",
        "ballot_roll",
        "ballot",
        "ballot_choice",
    ],
    open_data: &[Resource::BudgetProjects],
    search: &[],
    booklet: false,
    counts: &[
        ("projets soumis au vote", |tx| on_ballot(tx).boxed()),
        ("bulletins déposés", |tx| ballots(tx).boxed()),
    ],
    ops_table: None,
    nav: None,
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

/// A budget's rules, read from its instance's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub method: Method,
    pub rule: Rule,
    pub live_results: bool,
}

impl Config {
    pub fn of(i: &Instance) -> Config {
        let s = &i.settings;
        let n = |key| u32::try_from(s.integer(key)).unwrap_or(1);
        let method = match s.text(METHOD) {
            "approbation" => Method::Approval {
                min: n(APPROVAL_MIN).min(n(APPROVAL_MAX)),
                max: n(APPROVAL_MAX),
            },
            "points" => Method::Points {
                total: n(POINTS),
                max_per_project: n(POINTS_MAX),
            },
            _ => Method::Knapsack {
                min_percent: u8::try_from(s.integer(MIN_PERCENT)).unwrap_or(70),
            },
        };
        let rule = match s.text(RULE) {
            "parts_egales" => Rule::EqualShares,
            _ => Rule::Greedy,
        };
        Config {
            method,
            rule,
            live_results: s.bool(LIVE),
        }
    }
}

/// Whether the results may be shown on `day`: once the vote is over, or during the results
/// phase outside the vote; during the vote only when staff chose live results. (Phases
/// without dates of their own share the dispositif's: the vote's then hides the results
/// until it ends.)
pub fn results_public(i: &Instance, d: &Dispositif, day: Date) -> bool {
    let vote = i.phase_dates(VOTE_PHASE, d);
    if vote.contains(day) {
        return Config::of(i).live_results;
    }
    let vote_over = vote.to.is_some_and(|to| to < day);
    vote_over || i.phase_dates(RESULTS_PHASE, d).contains(day)
}

/// The seed of the draw by lot that breaks ties: the budget's identifier, random and fixed
/// when the dispositif was created, shown on the vote page before anyone votes.
pub fn seed(d: &Dispositif) -> String {
    d.id.to_string()
}

async fn on_ballot(tx: &mut TenantTx) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from budget_project
            where published and feasibility = 'faisable' and merged_into is null"#
    )
    .fetch_one(tx.conn())
    .await?)
}

async fn ballots(tx: &mut TenantTx) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"select count(*) as "n!" from ballot"#)
        .fetch_one(tx.conn())
        .await?)
}

async fn held(tx: &mut TenantTx, d: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select (select count(*) from budget_project where dispositif_id = $1)
                + (select count(*) from ballot where dispositif_id = $1) as "n!""#,
        d
    )
    .fetch_one(tx.conn())
    .await?)
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    let envelope = budgets::add_envelope(tx, d.id, "Toute la commune", 150_000).await?;
    for (title, description, cost) in [
        (
            "Un jardin partagé au quartier des Prés",
            "Des bacs de culture, un abri à outils et un point d'eau, entretenus par une association d'habitants.",
            45_000,
        ),
        (
            "Des bancs et de l'ombre le long du canal",
            "Douze bancs et vingt arbres pour faire du chemin de halage un lieu où s'arrêter.",
            60_000,
        ),
        (
            "Une boîte à livres devant chaque école",
            "Cinq boîtes à livres fabriquées par le lycée professionnel.",
            8_000,
        ),
    ] {
        budgets::add_project(tx, d.id, envelope, title, description, cost).await?;
    }
    let author = super::demo_citizen(tx).await?;
    let input = budgets::proposals::ProjectInput {
        envelope_id: envelope,
        title: "Un skatepark près de la salle des sports".into(),
        description: "Un espace de glisse pour les jeunes, avec des modules adaptés aux débutant·es.".into(),
        place: "Salle des sports".into(),
        estimated_cost: 90_000,
    };
    budgets::proposals::submit(tx, d.id, author, &input).await?;
    Ok(())
}
