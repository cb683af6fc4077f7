//! A budget's vote in the Pabulib format (<https://pabulib.org/format>): one `.pb` file per
//! envelope, the text file the participatory-budgeting research community shares elections
//! in, which pabutools computes rules on and pabulib-checker validates. Anyone can recompute
//! the winners from it (`docs/recount.md`); `tests/pabulib.rs` does, with both tools.
//!
//! The file says only what the published box already says: the ballots, anonymous, numbered
//! 1 to n in the order of their sorted contents (never a receipt, a channel, a time or an
//! order of arrival). `project_id` is the project's id, so that the draw that breaks ties —
//! SHA-256 of the seed followed by the id's 16 bytes, [`results::lot`] — can be redone; the
//! seed itself travels in the `comment`, hex-encoded (the checker refuses keys of its own).
//!
//! Choices made so that pabulib-checker accepts the file: the greedy rule is written
//! `greedy-threshold` with `min_project_score_threshold` 1 (a project nobody voted for is
//! never selected, even when it fits); equal shares is written `unknown` with the rule in
//! the comment, for Pabulib has no name for add-one then greedy completion and the checker's
//! own `equalshares/add1` recount is another variant; projects come in the greedy order
//! (votes, then cost, then the draw), which the checker's stable sort keeps for ties.
//! What the checker still refuses, and this module cannot mend: a project costing more than
//! its envelope, and a budget whose dispositif has no dates (`date_begin`, `date_end`).

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use time::Date;
use uuid::Uuid;

use super::results::{self, Decision};
use super::{Envelope, Method, Project, Rule};
use crate::{Result, TenantTx, ballots, dispositifs};

/// One envelope's vote, as the writer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    /// Pabulib's `unit`: the collectivité (the tenant's name).
    pub unit: &'a str,
    /// Pabulib's `instance`: the budget's title (« Budget participatif 2027 »).
    pub title: &'a str,
    /// Pabulib's `subunit` and `budget`.
    pub envelope: &'a Envelope,
    /// The envelope's projects on the ballot (others are left out).
    pub projects: &'a [Project],
    /// The ballots cast in this envelope, `(project, weight)`; choices of other envelopes
    /// and blank ballots are left out.
    pub ballots: &'a [Vec<(Uuid, i32)>],
    pub method: Method,
    /// The rule `decisions` come from.
    pub rule: Rule,
    /// The rule's decisions (`selected`); other envelopes' are ignored.
    pub decisions: &'a [Decision],
    /// The seed published before the vote, for the draw by lot.
    pub seed: &'a str,
    /// The vote's first and last days, when the dispositif has them.
    pub opens_on: Option<Date>,
    pub closes_on: Option<Date>,
}

/// The `.pb` text of one envelope.
pub fn write(budget: &Budget) -> String {
    let envelope = budget.envelope;
    let projects: Vec<&Project> = budget
        .projects
        .iter()
        .filter(|p| p.envelope_id == envelope.id)
        .collect();
    let here: HashSet<Uuid> = projects.iter().map(|p| p.id).collect();
    let cumulative = matches!(budget.method, Method::Points { .. });

    // Each ballot as its `vote` (and `points`) cells: approvals by id, points most first.
    let mut votes: Vec<(String, String)> = budget
        .ballots
        .iter()
        .filter_map(|ballot| {
            let mut choices: Vec<(Uuid, i32)> = ballot.iter().copied().filter(|(p, _)| here.contains(p)).collect();
            if choices.is_empty() {
                return None;
            }
            choices.sort_by_key(|&(p, w)| (Reverse(w), p));
            let ids: Vec<String> = choices.iter().map(|(p, _)| p.to_string()).collect();
            let points: Vec<String> = choices.iter().map(|(_, w)| w.to_string()).collect();
            Some((ids.join(","), points.join(",")))
        })
        .collect();
    // Sorted by content: the voter ids then say nothing of who voted, or when.
    votes.sort();

    let mut count: HashMap<Uuid, i64> = HashMap::new();
    let mut score: HashMap<Uuid, i64> = HashMap::new();
    for ballot in budget.ballots {
        let mut seen = HashSet::new();
        for &(p, w) in ballot {
            if here.contains(&p) && seen.insert(p) {
                *count.entry(p).or_default() += 1;
                *score.entry(p).or_default() += i64::from(w);
            }
        }
    }
    let score_of = |p: Uuid| {
        if cumulative {
            score.get(&p).copied().unwrap_or(0)
        } else {
            count.get(&p).copied().unwrap_or(0)
        }
    };
    let selected: HashSet<Uuid> = budget
        .decisions
        .iter()
        .filter(|d| d.selected())
        .map(|d| d.project)
        .collect();
    let mut rows = projects.clone();
    rows.sort_by_key(|p| (Reverse(score_of(p.id)), p.cost, results::lot(budget.seed, p.id)));

    let mut meta: Vec<(&str, String)> = vec![
        (
            "description",
            format!("{}, enveloppe « {} »", budget.title, envelope.name),
        ),
        ("country", "France".into()),
        ("unit", budget.unit.into()),
        ("subunit", envelope.name.clone()),
        ("instance", budget.title.into()),
        ("num_projects", rows.len().to_string()),
        ("num_votes", votes.len().to_string()),
        ("budget", envelope.amount.to_string()),
        ("vote_type", if cumulative { "cumulative" } else { "approval" }.into()),
        (
            "rule",
            match budget.rule {
                Rule::Greedy => "greedy-threshold",
                Rule::EqualShares => "unknown",
            }
            .into(),
        ),
    ];
    let day = |d: Date| format!("{:02}.{:02}.{:04}", d.day(), u8::from(d.month()), d.year());
    if let Some(d) = budget.opens_on {
        meta.push(("date_begin", day(d)));
    }
    if let Some(d) = budget.closes_on {
        meta.push(("date_end", day(d)));
    }
    match budget.method {
        Method::Approval { min, max } => {
            meta.push(("min_length", min.to_string()));
            // The checker refuses a maximum above the number of projects.
            meta.push(("max_length", (max as usize).min(rows.len()).to_string()));
        }
        Method::Knapsack { min_percent } => {
            meta.push((
                "min_sum_cost",
                (envelope.amount * i64::from(min_percent) / 100).to_string(),
            ));
            meta.push(("max_sum_cost", envelope.amount.to_string()));
        }
        Method::Points { total, max_per_project } => {
            meta.push(("max_points", max_per_project.to_string()));
            meta.push(("max_sum_points", total.to_string()));
        }
    }
    meta.push(("min_project_score_threshold", "1".into()));
    meta.push(("language", "fr".into()));
    meta.push(("currency", "EUR".into()));
    if rows.iter().map(|p| p.cost).sum::<i64>() <= envelope.amount {
        meta.push(("fully_funded", "1".into()));
    }
    meta.push(("comment", comment(budget.rule, cumulative, budget.seed)));

    let mut out = String::from("META\nkey;value\n");
    for (key, value) in &meta {
        let _ = writeln!(out, "{key};{}", cell(value));
    }
    out.push_str("PROJECTS\n");
    out.push_str(if cumulative {
        "project_id;cost;votes;score;name;selected\n"
    } else {
        "project_id;cost;votes;name;selected\n"
    });
    for p in rows {
        let _ = write!(out, "{};{};{}", p.id, p.cost, count.get(&p.id).copied().unwrap_or(0));
        if cumulative {
            let _ = write!(out, ";{}", score.get(&p.id).copied().unwrap_or(0));
        }
        let _ = writeln!(out, ";{};{}", cell(&p.title), u8::from(selected.contains(&p.id)));
    }
    out.push_str(if cumulative {
        "VOTES\nvoter_id;vote;points\n"
    } else {
        "VOTES\nvoter_id;vote\n"
    });
    for (i, (vote, points)) in votes.iter().enumerate() {
        let _ = write!(out, "{};{vote}", i + 1);
        if cumulative {
            let _ = write!(out, ";{points}");
        }
        out.push('\n');
    }
    out
}

/// The numbered comments: the rule in words, the ties, the seed (hex of its UTF-8 bytes),
/// the voters' numbering.
fn comment(rule: Rule, cumulative: bool, seed: &str) -> String {
    let score = if cumulative { "points" } else { "votes" };
    let rule = match rule {
        Rule::Greedy => format!(
            "Exported by Participe. Rule: greedy by {score}, a project that does not fit in what is left \
             of the budget is passed over, a project without any vote is never selected."
        ),
        Rule::EqualShares => format!(
            "Exported by Participe. Rule: Method of Equal Shares with cost utilities{}, add-one completion \
             (the per-voter share starts at budget/num_votes and rises by 1 EUR while the outcome fits \
             the budget, stopping at the first exhaustive outcome), then greedy by votes. A project without \
             any vote is never selected. Pabulib has no rule name for this completion, hence unknown.",
            if cumulative {
                " (each vote approves the projects it gives points to)"
            } else {
                ""
            }
        ),
    };
    let hex: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    format!(
        "#1: {rule} #2: Ties: greedy takes the cheaper project, equal shares the cheaper then the one with \
         more votes, then both draw by lot, the smaller SHA-256 of the seed's UTF-8 bytes followed by the \
         16 bytes of the project_id (a UUID) first. #3: Seed (UTF-8, hex): {hex} #4: The ballot box is \
         anonymous: voters are numbered in the order of their sorted votes."
    )
}

/// A cell as Pabulib reads it: on one line (line breaks and control characters become
/// spaces, for pabutools splits the file into lines before reading its cells), without
/// surrounding spaces (the checker refuses them), quoted as CSV when it holds `;` or `"`.
fn cell(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let flat = flat.trim();
    let flat = if flat.is_empty() { "(sans titre)" } else { flat };
    if flat.contains([';', '"']) {
        format!("\"{}\"", flat.replace('"', "\"\""))
    } else {
        flat.to_string()
    }
}

/// The budget's `.pb` files, one per envelope with projects on the ballot: `(envelope name,
/// text)`, in the envelopes' order, with the winners of `rule` from the box as it stands
/// (call it after the close).
pub async fn export(
    tx: &mut TenantTx,
    dispositif: Uuid,
    method: Method,
    rule: Rule,
    seed: &str,
    title: &str,
) -> Result<Vec<(String, String)>> {
    let unit = tx.tenant().name.clone();
    let (opens_on, closes_on) = match dispositifs::by_id(tx, dispositif).await? {
        Some(d) => (d.opens_on, d.closes_on),
        None => (None, None),
    };
    let envelopes = super::envelopes(tx, dispositif).await?;
    let projects = super::projects(tx, dispositif).await?;
    let ballots = ballots::ballots(tx, dispositif).await?;
    let decisions = super::results(tx, dispositif, rule, seed).await?;
    let mut files = Vec::new();
    for envelope in &envelopes {
        let here: Vec<Project> = projects
            .iter()
            .filter(|p| p.envelope_id == envelope.id)
            .cloned()
            .collect();
        if here.is_empty() {
            continue;
        }
        let ids: HashSet<Uuid> = here.iter().map(|p| p.id).collect();
        let cast: Vec<Vec<(Uuid, i32)>> = ballots
            .iter()
            .filter(|b| b.iter().any(|(p, _)| ids.contains(p)))
            .cloned()
            .collect();
        let text = write(&Budget {
            unit: &unit,
            title,
            envelope,
            projects: &here,
            ballots: &cast,
            method,
            rule,
            decisions: &decisions,
            seed,
            opens_on,
            closes_on,
        });
        files.push((envelope.name.clone(), text));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budgets::results::Reason;

    fn envelope(amount: i64) -> Envelope {
        Envelope {
            id: Uuid::new_v4(),
            name: "Quartier nord".into(),
            amount,
        }
    }

    fn project(envelope: &Envelope, title: &str, cost: i64) -> Project {
        Project {
            id: Uuid::new_v4(),
            envelope_id: envelope.id,
            title: title.into(),
            description: String::new(),
            cost,
        }
    }

    fn selected(project: &Project) -> Decision {
        Decision {
            project: project.id,
            votes: 1,
            reason: Reason::Selected { rank: 1 },
        }
    }

    fn budget<'a>(
        envelope: &'a Envelope,
        projects: &'a [Project],
        ballots: &'a [Vec<(Uuid, i32)>],
        method: Method,
        decisions: &'a [Decision],
    ) -> Budget<'a> {
        Budget {
            unit: "Ville de Test",
            title: "Budget participatif 2027",
            envelope,
            projects,
            ballots,
            method,
            rule: Rule::Greedy,
            decisions,
            seed: "graine publiée",
            opens_on: Some(time::macros::date!(2027 - 03 - 01)),
            closes_on: Some(time::macros::date!(2027 - 03 - 31)),
        }
    }

    /// The section a line belongs to, and its cells as a CSV reader reads them.
    fn sections(text: &str) -> HashMap<String, Vec<Vec<String>>> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut out: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        let mut section = String::new();
        for row in reader.records() {
            let row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
            if ["META", "PROJECTS", "VOTES"].contains(&row[0].as_str()) {
                section = row[0].clone();
                continue;
            }
            out.entry(section.clone()).or_default().push(row);
        }
        out
    }

    fn meta(text: &str, key: &str) -> Option<String> {
        sections(text)["META"]
            .iter()
            .find(|r| r[0] == key)
            .map(|r| r[1].clone())
    }

    #[test]
    fn sections_in_order_with_their_counts_and_the_winners() {
        let e = envelope(100);
        let (a, b, c) = (
            project(&e, "Jardin", 60),
            project(&e, "Bancs", 30),
            project(&e, "Piste", 50),
        );
        let projects = [a.clone(), b.clone(), c.clone()];
        let ballots = vec![vec![(b.id, 1), (a.id, 1)], vec![(b.id, 1)], vec![(c.id, 1)]];
        let decisions = [selected(&b), selected(&a)];
        let text = write(&budget(&e, &projects, &ballots, Method::KNAPSACK, &decisions));
        let titles: Vec<&str> = text
            .lines()
            .filter(|l| ["META", "PROJECTS", "VOTES"].contains(l))
            .collect();
        assert_eq!(titles, ["META", "PROJECTS", "VOTES"]);
        assert!(text.starts_with("META\nkey;value\ndescription;"), "{text}");
        assert!(text.ends_with('\n') && !text.contains("\n\n"), "no empty line: {text}");
        assert_eq!(meta(&text, "num_projects").as_deref(), Some("3"));
        assert_eq!(meta(&text, "num_votes").as_deref(), Some("3"));
        assert_eq!(meta(&text, "budget").as_deref(), Some("100"));
        assert_eq!(meta(&text, "vote_type").as_deref(), Some("approval"));
        assert_eq!(meta(&text, "rule").as_deref(), Some("greedy-threshold"));
        assert_eq!(meta(&text, "min_sum_cost").as_deref(), Some("70"));
        assert_eq!(meta(&text, "max_sum_cost").as_deref(), Some("100"));
        assert_eq!(meta(&text, "date_begin").as_deref(), Some("01.03.2027"));
        assert_eq!(meta(&text, "country").as_deref(), Some("France"));
        assert_eq!(meta(&text, "fully_funded"), None, "140 € of projects for 100 €");
        let s = sections(&text);
        assert_eq!(s["PROJECTS"][0], ["project_id", "cost", "votes", "name", "selected"]);
        // Most votes first: the bench (2), then the garden and the lane (1 each), cheaper first.
        let rows: Vec<(String, String, String)> = s["PROJECTS"][1..]
            .iter()
            .map(|r| (r[0].clone(), r[2].clone(), r[4].clone()))
            .collect();
        assert_eq!(
            rows,
            [
                (b.id.to_string(), "2".into(), "1".into()),
                (c.id.to_string(), "1".into(), "0".into()),
                (a.id.to_string(), "1".into(), "1".into()),
            ]
        );
        assert_eq!(s["VOTES"][0], ["voter_id", "vote"]);
        let ids: Vec<&str> = s["VOTES"][1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        let mut pair = [a.id.to_string(), b.id.to_string()];
        pair.sort();
        assert!(s["VOTES"][1..].iter().any(|r| r[1] == pair.join(",")), "{text}");
    }

    #[test]
    fn names_with_semicolons_quotes_or_line_breaks_stay_one_cell_on_one_line() {
        let e = envelope(100);
        let tricky = project(&e, "Vélos ; « tous » \"partout\"\nDeuxième ligne\r\n", 40);
        let plain = project(&e, "Jardin, potager", 50);
        let projects = [tricky.clone(), plain.clone()];
        let ballots = vec![vec![(tricky.id, 1), (plain.id, 1)]];
        let text = write(&budget(&e, &projects, &ballots, Method::KNAPSACK, &[]));
        let line = text.lines().find(|l| l.starts_with(&tricky.id.to_string())).unwrap();
        assert_eq!(
            line,
            format!(
                "{};40;1;\"Vélos ; « tous » \"\"partout\"\" Deuxième ligne\";0",
                tricky.id
            )
        );
        assert!(text.lines().any(|l| l.ends_with(";Jardin, potager;0")), "{text}");
        let s = sections(&text);
        let names: Vec<&str> = s["PROJECTS"][1..].iter().map(|r| r[3].as_str()).collect();
        assert!(
            names.contains(&"Vélos ; « tous » \"partout\" Deuxième ligne"),
            "{names:?}"
        );
        assert_eq!(s["PROJECTS"].len(), 3, "header and two projects");
        assert_eq!(meta(&text, "fully_funded").as_deref(), Some("1"), "90 € for 100 €");
        assert_eq!(cell("  \u{2028}\t "), "(sans titre)");
    }

    #[test]
    fn points_are_cumulative_votes_most_points_first_and_scores_add_up() {
        let e = envelope(100);
        let (a, b) = (project(&e, "A", 60), project(&e, "B", 50));
        let projects = [a.clone(), b.clone()];
        let ballots = vec![vec![(a.id, 1), (b.id, 3)], vec![(a.id, 2)], vec![]];
        let method = Method::Points {
            total: 5,
            max_per_project: 3,
        };
        let text = write(&budget(&e, &projects, &ballots, method, &[selected(&b)]));
        assert_eq!(meta(&text, "vote_type").as_deref(), Some("cumulative"));
        assert_eq!(meta(&text, "max_sum_points").as_deref(), Some("5"));
        assert_eq!(meta(&text, "max_points").as_deref(), Some("3"));
        assert_eq!(
            meta(&text, "num_votes").as_deref(),
            Some("2"),
            "a blank ballot is left out"
        );
        let s = sections(&text);
        assert_eq!(
            s["PROJECTS"][0],
            ["project_id", "cost", "votes", "score", "name", "selected"]
        );
        assert_eq!(
            s["PROJECTS"][1],
            [
                b.id.to_string(),
                "50".into(),
                "1".into(),
                "3".into(),
                "B".into(),
                "1".into()
            ]
        );
        assert_eq!(
            s["PROJECTS"][2],
            [
                a.id.to_string(),
                "60".into(),
                "2".into(),
                "3".into(),
                "A".into(),
                "0".into()
            ]
        );
        assert_eq!(s["VOTES"][0], ["voter_id", "vote", "points"]);
        let votes: Vec<(String, String)> = s["VOTES"][1..].iter().map(|r| (r[1].clone(), r[2].clone())).collect();
        assert!(
            votes.contains(&(format!("{},{}", b.id, a.id), "3,1".into())),
            "{votes:?}"
        );
        assert!(votes.contains(&(a.id.to_string(), "2".into())), "{votes:?}");
    }

    #[test]
    fn the_file_does_not_depend_on_the_order_ballots_came_in_and_carries_the_seed() {
        let e = envelope(100);
        let (a, b) = (project(&e, "A", 60), project(&e, "B", 50));
        let other = Envelope {
            id: Uuid::new_v4(),
            name: "Sud".into(),
            amount: 10,
        };
        let elsewhere = project(&other, "Ailleurs", 5);
        let projects = [a.clone(), b.clone(), elsewhere.clone()];
        let mut ballots = vec![vec![(a.id, 1)], vec![(b.id, 1)], vec![(a.id, 1), (b.id, 1)]];
        let approval = Method::Approval { min: 1, max: 5 };
        let first = write(&budget(&e, &projects, &ballots, approval, &[]));
        ballots.reverse();
        ballots.push(vec![(elsewhere.id, 1)]);
        let again = write(&budget(&e, &projects, &ballots, approval, &[]));
        assert_eq!(first, again, "same box, same file");
        assert!(!first.contains(&elsewhere.id.to_string()), "another envelope stays out");
        assert_eq!(
            meta(&first, "max_length").as_deref(),
            Some("2"),
            "no more than the projects"
        );
        let comment = meta(&first, "comment").unwrap();
        assert!(comment.starts_with("#1: "), "{comment}");
        let hex: String = "graine publiée".bytes().map(|b| format!("{b:02x}")).collect();
        assert!(comment.contains(&format!("Seed (UTF-8, hex): {hex} ")), "{comment}");
        assert_eq!(meta(&first, "min_project_score_threshold").as_deref(), Some("1"));
    }
}
