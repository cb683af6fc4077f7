//! Vote: one or several simple questions, each with its options (a single choice, or up to
//! a number of them), and a « vote blanc » when staff allow it. One ballot per person for
//! the whole vote, through the shared box (`crate::ballots`: unlinkable, with a receipt);
//! the results are published at the close, never live unless staff choose it.
//!
//! A ballot's choices are option ids; a blank answer to a question is the question's own
//! id. A dispositif holds one box: the vote is not offered in a budget's dispositif.

use std::collections::{HashMap, HashSet};

use futures::FutureExt;
use time::Date;
use uuid::Uuid;

use super::{Action, Instance, Manifest, PhaseSpec, Setting, SettingKind, Who};
use crate::ballots::{self, Channel, Choices, Receipt, Voter};
use crate::dispositifs::{Dispositif, Kind};
use crate::{Error, FieldErrors, Result, TenantTx};

pub const VOTE: &str = "voter";
pub const PHASE: &str = "vote";
const LIVE: &str = "resultats_en_direct";

pub static MANIFEST: Manifest = Manifest {
    key: "vote",
    name: "Vote",
    description: "Une ou plusieurs questions simples, à choix unique ou multiple, avec vote blanc ; un bulletin par personne, anonyme et vérifiable, dépouillé à la clôture.",
    hosts: &[Kind::Appel, Kind::Conseil, Kind::Presentation],
    default_for: &[],
    settings: &[
        super::CENSUS_SETTING,
        super::MIN_AGE_SETTING,
        super::RESIDENCE_SETTING,
        super::NATIONALS_ONLY_SETTING,
        Setting {
            key: LIVE,
            label: "Résultats visibles pendant le vote",
            hint: "Sans cela, les résultats ne sont publiés qu'à la clôture du vote.",
            kind: SettingKind::Bool { default: false },
        },
    ],
    phases: &[PhaseSpec {
        key: PHASE,
        label: "Vote",
    }],
    actions: &[Action {
        key: VOTE,
        label: "Voter",
        phase: Some(PHASE),
        who: Who::Citizen,
    }],
    tables: &["vote_question", "vote_option"],
    open_data: &[],
    search: &[],
    booklet: false,
    counts: &[("questions soumises au vote", |tx| count(tx).boxed())],
    ops_table: None,
    nav: None,
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Question {
    pub id: Uuid,
    pub question: String,
    pub max_choices: i32,
    pub blank_allowed: bool,
    pub options: Vec<VoteOption>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VoteOption {
    pub id: Uuid,
    pub label: String,
}

/// The questions of a vote with their options, in order, in one query.
pub async fn questions(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Question>> {
    let rows = sqlx::query!(
        r#"select q.id, q.question, q.max_choices, q.blank_allowed,
                  coalesce((select jsonb_agg(jsonb_build_object('id', o.id, 'label', o.label) order by o.position, o.label)
                              from vote_option o where o.question_id = q.id), '[]') as "options!: sqlx::types::Json<Vec<VoteOption>>"
             from vote_question q where q.dispositif_id = $1 order by q.position, q.id limit 50"#,
        dispositif
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Question {
            id: r.id,
            question: r.question,
            max_choices: r.max_choices,
            blank_allowed: r.blank_allowed,
            options: r.options.0,
        })
        .collect())
}

/// A question as staff typed it: the options one per line.
#[derive(Debug, Clone)]
pub struct QuestionInput {
    pub question: String,
    pub options: Vec<String>,
    pub max_choices: i32,
    pub blank_allowed: bool,
}

impl QuestionInput {
    pub fn parse(
        question: &str,
        options: &str,
        max_choices: &str,
        blank_allowed: bool,
    ) -> std::result::Result<QuestionInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let question = question.trim();
        if question.is_empty() || question.chars().count() > 500 {
            errors.push("question", "écrivez la question (500 caractères au plus)");
        }
        let mut seen = HashSet::new();
        let options: Vec<String> = options
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect();
        if options.len() < 2 || options.len() > 50 {
            errors.push("options", "écrivez de 2 à 50 réponses possibles, une par ligne");
        } else if options.iter().any(|o| o.chars().count() > 300) {
            errors.push("options", "une réponse tient en 300 caractères au plus");
        } else if !options.iter().all(|o| seen.insert(o.to_lowercase())) {
            errors.push("options", "chaque réponse ne figure qu'une fois");
        }
        let max = match max_choices.trim() {
            "" => Some(1),
            t => t.parse::<i32>().ok().filter(|n| (1..=50).contains(n)),
        };
        let max_choices = match max {
            Some(n) if n as usize <= options.len().max(1) => n,
            _ => {
                errors.push(
                    "max_choices",
                    "un nombre de 1 au nombre de réponses (1 pour un choix unique)",
                );
                1
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(QuestionInput {
            question: question.into(),
            options,
            max_choices,
            blank_allowed,
        })
    }
}

pub async fn add_question(tx: &mut TenantTx, dispositif: Uuid, q: &QuestionInput) -> Result<Uuid> {
    let id = sqlx::query_scalar!(
        "insert into vote_question (dispositif_id, question, max_choices, blank_allowed, position)
         values ($1, $2, $3, $4, coalesce((select max(position) + 1 from vote_question where dispositif_id = $1), 0))
         returning id",
        dispositif,
        q.question,
        q.max_choices,
        q.blank_allowed
    )
    .fetch_one(tx.conn())
    .await?;
    let positions: Vec<i32> = (0..q.options.len() as i32).collect();
    sqlx::query!(
        "insert into vote_option (question_id, label, position) select $1, * from unnest($2::text[], $3::int[])",
        id,
        &q.options,
        &positions
    )
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub async fn remove_question(tx: &mut TenantTx, dispositif: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query!(
        "delete from vote_question where id = $1 and dispositif_id = $2",
        id,
        dispositif
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("question".into()));
    }
    Ok(())
}

/// Checks a voter's answers against the questions: every question answered (an option,
/// several up to its maximum, or blank when allowed), nothing that is not an option of it.
pub fn check(questions: &[Question], fields: &HashMap<String, String>) -> std::result::Result<Choices, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut items = Vec::new();
    for q in questions {
        let field = format!("q_{}", q.id);
        let options: HashSet<Uuid> = q.options.iter().map(|o| o.id).collect();
        let mut chosen: Vec<Uuid> = Vec::new();
        let mut blank = false;
        if let Some(v) = fields.get(&field) {
            if v == "blanc" {
                blank = true;
            } else if let Ok(id) = v.parse::<Uuid>() {
                chosen.push(id);
            } else {
                chosen.push(Uuid::nil());
            }
        }
        let prefix = format!("{field}_");
        for (k, v) in fields {
            if let Some(rest) = k.strip_prefix(&prefix)
                && v == "on"
            {
                match rest {
                    "blanc" => blank = true,
                    id => chosen.push(id.parse().unwrap_or(Uuid::nil())),
                }
            }
        }
        chosen.sort();
        chosen.dedup();
        let message = if chosen.iter().any(|c| !options.contains(c)) {
            Some("une des réponses n'est pas proposée pour cette question".to_string())
        } else if blank && !q.blank_allowed {
            Some("le vote blanc n'est pas proposé pour cette question".to_string())
        } else if blank && !chosen.is_empty() {
            Some("votez blanc ou choisissez des réponses, pas les deux".to_string())
        } else if !blank && chosen.is_empty() {
            Some(if q.blank_allowed {
                "répondez à cette question (le vote blanc est possible)".to_string()
            } else {
                "répondez à cette question".to_string()
            })
        } else if chosen.len() > q.max_choices as usize {
            Some(format!("choisissez {} réponses au plus", q.max_choices))
        } else {
            None
        };
        match message {
            Some(m) => errors.push_owned(field, m),
            None if blank => items.push((q.id, 1)),
            None => items.extend(chosen.into_iter().map(|c| (c, 1))),
        }
    }
    if questions.is_empty() {
        errors.push("vote", "ce vote n'a pas encore de question");
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Choices::new(items).ok_or_else(|| FieldErrors::one("vote", "une réponse ne peut être choisie qu'une fois"))
}

/// Casts a voter's answers. `Ok(Err(…))` says why nothing was stored.
pub async fn cast(
    tx: &mut TenantTx,
    dispositif: Uuid,
    voter: &Voter,
    fields: &HashMap<String, String>,
) -> Result<std::result::Result<Receipt, FieldErrors>> {
    cast_on(tx, dispositif, voter, fields, Channel::Online).await
}

/// [`cast`], online or on paper: staff at a desk enter a paper ballot into the same box,
/// marking its voter in the same roll.
pub async fn cast_on(
    tx: &mut TenantTx,
    dispositif: Uuid,
    voter: &Voter,
    fields: &HashMap<String, String>,
    channel: Channel,
) -> Result<std::result::Result<Receipt, FieldErrors>> {
    let questions = questions(tx, dispositif).await?;
    let choices = match check(&questions, fields) {
        Ok(c) => c,
        Err(errors) => return Ok(Err(errors)),
    };
    match ballots::cast(tx, dispositif, voter, &choices, channel).await? {
        Ok(receipt) => Ok(Ok(receipt)),
        Err(ballots::Refused::AlreadyVoted) => Ok(Err(FieldErrors::one(
            "vote",
            match channel {
                Channel::Online => "vous avez déjà voté : un bulletin déposé est définitif",
                Channel::Paper => "cette personne a déjà voté, en ligne ou sur papier : un seul bulletin par personne",
            },
        ))),
    }
}

/// A question's result: each option's votes and share of the expressed votes (blank
/// votes are counted apart, as French elections count them).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuestionResult {
    pub question: String,
    pub options: Vec<OptionResult>,
    pub blank: i64,
    /// Ballots that chose at least one option of this question.
    pub expressed: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OptionResult {
    pub label: String,
    pub votes: i64,
    /// Per thousand of the expressed ballots, to print « 42,5 % ».
    pub per_mille: i64,
}

pub async fn results(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<QuestionResult>> {
    let questions = questions(tx, dispositif).await?;
    let tally: HashMap<Uuid, i64> = ballots::tally(tx, dispositif).await?.into_iter().collect();
    let boxed = ballots::ballots(tx, dispositif).await?;
    Ok(questions
        .iter()
        .map(|q| {
            let ids: HashSet<Uuid> = q.options.iter().map(|o| o.id).collect();
            let expressed = boxed
                .iter()
                .filter(|b| b.iter().any(|(item, _)| ids.contains(item)))
                .count() as i64;
            let options = q
                .options
                .iter()
                .map(|o| {
                    let votes = tally.get(&o.id).copied().unwrap_or(0);
                    OptionResult {
                        label: o.label.clone(),
                        votes,
                        per_mille: if expressed > 0 {
                            (votes * 1000 + expressed / 2) / expressed
                        } else {
                            0
                        },
                    }
                })
                .collect();
            QuestionResult {
                question: q.question.clone(),
                options,
                blank: tally.get(&q.id).copied().unwrap_or(0),
                expressed,
            }
        })
        .collect())
}

/// Whether the results show on `day`: once the vote is over; during it only when staff
/// chose live results.
pub fn results_public(i: &Instance, d: &Dispositif, day: Date) -> bool {
    let vote = i.phase_dates(PHASE, d);
    if vote.contains(day) {
        return i.settings.bool(LIVE);
    }
    vote.to.is_some_and(|to| to < day)
}

/// Whether the box may be published: after the vote, never during it.
pub fn box_public(i: &Instance, d: &Dispositif, day: Date) -> bool {
    i.phase_dates(PHASE, d).to.is_some_and(|to| to < day)
}

async fn count(tx: &mut TenantTx) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"select count(*) as "n!" from vote_question"#)
        .fetch_one(tx.conn())
        .await?)
}

async fn held(tx: &mut TenantTx, d: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select (select count(*) from vote_question where dispositif_id = $1)
                + (select count(*) from ballot where dispositif_id = $1) as "n!""#,
        d
    )
    .fetch_one(tx.conn())
    .await?)
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    let q = QuestionInput::parse(
        "Quel nom donner à la nouvelle médiathèque ?",
        "Simone-Veil\nLes Tilleuls\nLa Filature",
        "1",
        true,
    )
    .map_err(Error::Invalid)?;
    add_question(tx, d.id, &q).await?;
    let q = QuestionInput::parse(
        "Quels services y voulez-vous ? (deux au plus)",
        "Un espace jeux vidéo\nUn atelier de réparation\nUne grainothèque\nDes salles de travail",
        "2",
        true,
    )
    .map_err(Error::Invalid)?;
    add_question(tx, d.id, &q).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(max: i32, blank: bool) -> Question {
        Question {
            id: Uuid::new_v4(),
            question: "Q".into(),
            max_choices: max,
            blank_allowed: blank,
            options: (0..3)
                .map(|i| VoteOption {
                    id: Uuid::new_v4(),
                    label: format!("R{i}"),
                })
                .collect(),
        }
    }

    #[test]
    fn every_question_is_answered_within_its_rules() {
        let (single, multiple) = (question(1, true), question(2, false));
        let field = |q: &Question| format!("q_{}", q.id);
        let ok = HashMap::from([
            (field(&single), "blanc".to_string()),
            (format!("{}_{}", field(&multiple), multiple.options[0].id), "on".into()),
            (format!("{}_{}", field(&multiple), multiple.options[2].id), "on".into()),
        ]);
        let choices = check(&[single.clone(), multiple.clone()], &ok).unwrap();
        assert_eq!(choices.items().len(), 3, "a blank and two options");
        assert!(
            choices.items().iter().any(|(i, _)| *i == single.id),
            "blank is the question's id"
        );

        let too_many: HashMap<String, String> = multiple
            .options
            .iter()
            .map(|o| (format!("{}_{}", field(&multiple), o.id), "on".to_string()))
            .collect();
        let e = check(std::slice::from_ref(&multiple), &too_many).unwrap_err();
        assert!(e.get(&field(&multiple)).unwrap().contains("2 réponses au plus"));

        let blank_refused = HashMap::from([(format!("{}_blanc", field(&multiple)), "on".to_string())]);
        assert!(check(std::slice::from_ref(&multiple), &blank_refused).is_err());
        let forged = HashMap::from([(field(&single), Uuid::new_v4().to_string())]);
        assert!(check(std::slice::from_ref(&single), &forged).is_err());
        assert!(
            check(std::slice::from_ref(&single), &HashMap::new()).is_err(),
            "unanswered"
        );
    }

    #[test]
    fn a_question_needs_two_distinct_options() {
        assert!(QuestionInput::parse("Q ?", "Oui", "1", true).is_err());
        assert!(QuestionInput::parse("Q ?", "Oui\noui", "1", true).is_err());
        assert!(QuestionInput::parse("Q ?", "Oui\nNon", "3", true).is_err());
        let q = QuestionInput::parse("Q ?", " Oui \n\nNon\n", "", false).unwrap();
        assert_eq!(q.options, ["Oui", "Non"]);
        assert_eq!(q.max_choices, 1);
    }
}
