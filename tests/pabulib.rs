//! The Pabulib export checked by the Pabulib tools themselves: every `.pb` file Participe
//! writes passes pabulib-checker, and pabutools, run on the file alone, finds the same
//! winners as Participe, rule by rule (greedy, equal shares), file by file
//! (`tests/pabulib/winners.py`, in the venv scripts/install-test-deps makes).
//!
//! Budgets: three go through the database and `budgets::pabulib::export` (approval over
//! three envelopes with many projects, points, knapsack), with ties built in; a budget of
//! 100,000 ballots, two hundred small tie-prone budgets and the worked examples of
//! `budgets::results` are built with the pure functions (100,000 rows in the box would only
//! slow the test down: the export reads them with the same query).

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use common::*;
use participe_core::ballots::Voter;
use participe_core::budgets::pabulib::{self, Budget};
use participe_core::budgets::results::{self, Candidate, Decision};
use participe_core::budgets::{self, Basket, Envelope, Method, Project, Rule};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::{Tenant, TenantTx};
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

const SEED: &str = "graine publiée le 1er mars ; tirage « public »";

/// What pabutools found in each file: (greedy, equal shares), each a set of project ids.
type Recount = HashMap<String, (BTreeSet<Uuid>, BTreeSet<Uuid>)>;

/// A worked example: the envelope's amount, the projects' costs, each ballot's projects.
type Example<'a> = (i64, &'a [i64], &'a [&'a [usize]]);

/// An envelope as staff set it up: its name, its amount, its projects `(title, cost)`.
type EnvelopeSetup<'a> = (&'a str, i64, Vec<(String, i64)>);

/// Writes the files in a fresh directory and runs winners.py on them: it fails (and so does
/// the test) on any pabulib-checker error. Also returns pabutools' seconds per file.
fn recompute(files: &[(String, String)]) -> (Recount, HashMap<String, (f64, f64)>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} not found: run scripts/install-test-deps",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    // PABULIB_KEEP=<directory> keeps a copy of the files, to look at them or recount by hand.
    if let Some(keep) = std::env::var_os("PABULIB_KEEP") {
        std::fs::create_dir_all(&keep).unwrap();
        for (name, text) in files {
            std::fs::write(PathBuf::from(&keep).join(name), text).unwrap();
        }
    }
    let out = std::process::Command::new(python)
        .arg(root.join("tests/pabulib/winners.py"))
        .arg("--timing")
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "winners.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |v: &serde_json::Value| -> BTreeSet<Uuid> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().parse().unwrap())
            .collect()
    };
    let mut recount = HashMap::new();
    let mut seconds = HashMap::new();
    for (name, _) in files {
        let file = &json[name.as_str()];
        recount.insert(name.clone(), (ids(&file["greedy"]), ids(&file["equal_shares"])));
        let s = &file["seconds"];
        seconds.insert(
            name.clone(),
            (s["greedy"].as_f64().unwrap(), s["equal_shares"].as_f64().unwrap()),
        );
    }
    (recount, seconds)
}

fn winners(decisions: &[Decision], of: &HashSet<Uuid>) -> BTreeSet<Uuid> {
    decisions
        .iter()
        .filter(|d| d.selected() && of.contains(&d.project))
        .map(|d| d.project)
        .collect()
}

/// The `selected` column of a file's PROJECTS section.
fn selected_in(text: &str) -> BTreeSet<Uuid> {
    let projects = text
        .split("\nPROJECTS\n")
        .nth(1)
        .unwrap()
        .split("\nVOTES\n")
        .next()
        .unwrap();
    projects
        .lines()
        .skip(1)
        .filter(|l| l.ends_with(";1"))
        .map(|l| l.split(';').next().unwrap().parse().unwrap())
        .collect()
}

/// Participe's two rules on one envelope, as `budgets::results` computes them.
fn participe(
    envelope: &Envelope,
    projects: &[Project],
    ballots: &[Vec<(Uuid, i32)>],
) -> (Vec<Decision>, Vec<Decision>) {
    let amounts = HashMap::from([(envelope.id, envelope.amount)]);
    let candidates: Vec<Candidate> = projects
        .iter()
        .map(|p| Candidate {
            id: p.id,
            envelope: p.envelope_id,
            cost: p.cost,
        })
        .collect();
    let mut votes: HashMap<Uuid, i64> = HashMap::new();
    for ballot in ballots {
        for (p, w) in ballot {
            *votes.entry(*p).or_default() += i64::from(*w);
        }
    }
    let sets: Vec<Vec<Uuid>> = ballots.iter().map(|b| b.iter().map(|(p, _)| *p).collect()).collect();
    (
        results::greedy(&amounts, &candidates, &votes, SEED),
        results::equal_shares(&amounts, &candidates, &sets, SEED),
    )
}

/// One envelope's file written from plain values, with both rules' decisions.
struct Pure {
    name: String,
    text: String,
    greedy: BTreeSet<Uuid>,
    shares: BTreeSet<Uuid>,
}

fn pure(name: &str, envelope: &Envelope, projects: &[Project], ballots: &[Vec<(Uuid, i32)>], method: Method) -> Pure {
    let (greedy, shares) = participe(envelope, projects, ballots);
    let ids: HashSet<Uuid> = projects.iter().map(|p| p.id).collect();
    let text = pabulib::write(&Budget {
        unit: "Ville de Pabulib",
        title: "Budget participatif 2027",
        envelope,
        projects,
        ballots,
        method,
        rule: Rule::EqualShares,
        decisions: &shares,
        seed: SEED,
        opens_on: Some(time::macros::date!(2027 - 03 - 01)),
        closes_on: Some(time::macros::date!(2027 - 03 - 31)),
    });
    assert_eq!(
        selected_in(&text),
        winners(&shares, &ids),
        "{name}: the file says the winners"
    );
    Pure {
        name: format!("{name}.pb"),
        text,
        greedy: winners(&greedy, &ids),
        shares: winners(&shares, &ids),
    }
}

fn envelope(name: &str, amount: i64) -> Envelope {
    Envelope {
        id: Uuid::new_v4(),
        name: name.into(),
        amount,
    }
}

fn project(envelope: &Envelope, title: String, cost: i64) -> Project {
    Project {
        id: Uuid::new_v4(),
        envelope_id: envelope.id,
        title,
        description: String::new(),
        cost,
    }
}

#[tokio::test]
async fn pabutools_finds_participes_winners_in_a_hundred_thousand_ballots_and_in_small_tied_budgets() {
    let mut rng = StdRng::seed_from_u64(15);
    let mut files = Vec::new();

    // 100,000 ballots, one envelope of 2 M€, 24 projects, one to three chosen each
    // (`Method::Approval`), some projects far more popular than others, two of equal cost.
    let big = envelope("Toute la ville", 2_000_000);
    let mut projects: Vec<Project> = (0..24)
        .map(|i| {
            project(
                &big,
                format!("Projet n° {i} ; quartier {}", i % 5),
                rng.random_range(20..400) * 1_000,
            )
        })
        .collect();
    projects[1].cost = projects[0].cost;
    let popularity = WeightedIndex::new((0..24u32).map(|i| 1 + (24 - i) * (24 - i) / 8)).unwrap();
    let ballots: Vec<Vec<(Uuid, i32)>> = (0..100_000)
        .map(|_| {
            let n = rng.random_range(1..=3);
            let mut chosen: Vec<usize> = Vec::new();
            while chosen.len() < n {
                let i = rng.sample(&popularity);
                if !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
            chosen.into_iter().map(|i| (projects[i].id, 1)).collect()
        })
        .collect();
    let started = Instant::now();
    let (_, shares) = participe(&big, &projects, &ballots);
    let ours = started.elapsed();
    assert!(shares.iter().any(Decision::selected));
    files.push(pure(
        "cent-mille",
        &big,
        &projects,
        &ballots,
        Method::Approval { min: 1, max: 3 },
    ));

    // Two hundred small budgets where ties are the rule: costs from a handful of values, a
    // few voters, the share often exactly enough (with the same seed, 13 of them came out
    // differently before equal shares stopped at an exhaustive result, broke ties of `ρ` by
    // cost first and let supporters pay exactly the cost).
    for k in 0..200 {
        let amount = *[30, 50, 60, 70, 100, 120].choose(&mut rng).unwrap();
        let e = envelope(&format!("Petite enveloppe {k}"), amount);
        let m = rng.random_range(2..=7);
        let projects: Vec<Project> = (0..m)
            .map(|i| {
                let cost = *[10, 20, 25, 30, 40, 50, 60]
                    .iter()
                    .filter(|&&c| c <= amount)
                    .collect::<Vec<_>>()
                    .choose(&mut rng)
                    .unwrap();
                project(&e, format!("P{i}"), *cost)
            })
            .collect();
        let ballots: Vec<Vec<(Uuid, i32)>> = (0..rng.random_range(1..=12))
            .map(|_| {
                let mut ids: Vec<Uuid> = projects.iter().map(|p| p.id).collect();
                ids.shuffle(&mut rng);
                ids.truncate(rng.random_range(1..=m.min(4)));
                ids.into_iter().map(|p| (p, 1)).collect()
            })
            .collect();
        files.push(pure(
            &format!("petit-{k}"),
            &e,
            &projects,
            &ballots,
            Method::Approval { min: 1, max: 4 },
        ));
    }

    // The worked examples of `budgets::results`' tests, where the completion must stop at an
    // exhaustive result, a tie of `ρ` goes to the cheaper project, and supporters holding
    // exactly the cost pay for it.
    let examples: [Example; 3] = [
        (50, &[50, 30], &[&[0], &[0], &[0, 1], &[1]]),
        (120, &[30, 60, 60], &[&[0, 1, 2], &[0, 2], &[2], &[1], &[1, 2]]),
        (
            100,
            &[50, 100, 40, 40],
            &[
                &[1, 2, 3],
                &[0, 1, 3],
                &[0, 1, 2, 3],
                &[1],
                &[0, 1],
                &[0, 1, 3],
                &[0],
                &[2],
                &[3],
                &[1, 2, 3],
            ],
        ),
    ];
    for (k, (amount, costs, ballots)) in examples.iter().enumerate() {
        let e = envelope(&format!("Exemple {k}"), *amount);
        let projects: Vec<Project> = costs
            .iter()
            .enumerate()
            .map(|(i, c)| project(&e, format!("E{i}"), *c))
            .collect();
        let ballots: Vec<Vec<(Uuid, i32)>> = ballots
            .iter()
            .map(|b| b.iter().map(|&i| (projects[i].id, 1)).collect())
            .collect();
        files.push(pure(
            &format!("exemple-{k}"),
            &e,
            &projects,
            &ballots,
            Method::Approval { min: 1, max: 4 },
        ));
    }

    let texts: Vec<(String, String)> = files.iter().map(|f| (f.name.clone(), f.text.clone())).collect();
    let (recount, seconds) = recompute(&texts);
    for f in &files {
        let (greedy, shares) = &recount[&f.name];
        assert_eq!(
            &f.greedy, greedy,
            "{}: greedy, Participe vs pabutools\n{}",
            f.name, f.text
        );
        assert_eq!(
            &f.shares, shares,
            "{}: equal shares, Participe vs pabutools\n{}",
            f.name, f.text
        );
    }
    let (greedy_s, shares_s) = seconds["cent-mille.pb"];
    eprintln!(
        "100,000 ballots: Participe's equal shares {:.2} s; pabutools greedy {greedy_s:.2} s, equal shares {shares_s:.2} s",
        ours.as_secs_f64()
    );
}

async fn dispositif(tx: &mut TenantTx, slug: &str, title: &str) -> Uuid {
    dispositifs::create(
        tx,
        &DispositifWrite {
            slug: slug.into(),
            kind: Kind::Appel,
            title: title.into(),
            summary: String::new(),
            description: String::new(),
            opens_on: Some(time::macros::date!(2027 - 03 - 01)),
            closes_on: Some(time::macros::date!(2027 - 03 - 31)),
            rules: String::new(),
            themes: Vec::new(),
        },
    )
    .await
    .unwrap()
}

/// Casts every basket, each by a new voter, in one transaction; all must be accepted.
async fn cast_all(pool: &PgPool, tenant: &Tenant, d: Uuid, method: Method, baskets: &[Basket]) {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    for basket in baskets {
        let voter = Voter::account(d, Uuid::new_v4());
        let receipt = budgets::cast(&mut tx, d, method, &voter, basket).await.unwrap();
        assert!(receipt.is_ok(), "{receipt:?} for {basket:?}");
    }
    tx.commit().await.unwrap();
}

/// A budget as staff set it up, envelope by envelope.
async fn set_up(pool: &PgPool, tenant: &Tenant, slug: &str, envelopes: &[EnvelopeSetup<'_>]) -> (Uuid, Vec<Vec<Uuid>>) {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let d = dispositif(&mut tx, slug, "Budget participatif 2027").await;
    let mut ids = Vec::new();
    for (name, amount, projects) in envelopes {
        let e = budgets::add_envelope(&mut tx, d, name, *amount).await.unwrap();
        let mut here = Vec::new();
        for (title, cost) in projects {
            here.push(budgets::add_project(&mut tx, d, e, title, "", *cost).await.unwrap());
        }
        ids.push(here);
    }
    tx.commit().await.unwrap();
    (d, ids)
}

/// Exports the budget with each rule and checks, file by file: one file per envelope, its
/// `selected` column is Participe's result, and pabutools finds the same two results.
async fn export_and_recompute(pool: &PgPool, tenant: &Tenant, d: Uuid, method: Method, slug: &str, envelopes: usize) {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let greedy = budgets::results(&mut tx, d, Rule::Greedy, SEED).await.unwrap();
    let shares = budgets::results(&mut tx, d, Rule::EqualShares, SEED).await.unwrap();
    let by_greedy = pabulib::export(&mut tx, d, method, Rule::Greedy, SEED, "Budget participatif 2027")
        .await
        .unwrap();
    let by_shares = pabulib::export(&mut tx, d, method, Rule::EqualShares, SEED, "Budget participatif 2027")
        .await
        .unwrap();
    let all_envelopes = budgets::envelopes(&mut tx, d).await.unwrap();
    let projects = budgets::projects(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(by_greedy.len(), envelopes);
    let mut files = Vec::new();
    for (i, ((name, text), (same_name, other))) in by_greedy.iter().zip(&by_shares).enumerate() {
        assert_eq!(name, same_name);
        let envelope = all_envelopes.iter().find(|e| &e.name == name).unwrap();
        let ids: HashSet<Uuid> = projects
            .iter()
            .filter(|p| p.envelope_id == envelope.id)
            .map(|p| p.id)
            .collect();
        assert_eq!(
            selected_in(text),
            winners(&greedy, &ids),
            "{name}: the greedy file's winners"
        );
        assert_eq!(
            selected_in(other),
            winners(&shares, &ids),
            "{name}: the equal shares file's winners"
        );
        assert!(text.contains("\nrule;greedy-threshold\n") && other.contains("\nrule;unknown\n"));
        assert!(
            text.contains("\ndate_begin;01.03.2027\ndate_end;31.03.2027\n"),
            "{text}"
        );
        files.push((format!("{slug}-{i}-greedy.pb"), text.clone(), ids.clone()));
        files.push((format!("{slug}-{i}-shares.pb"), other.clone(), ids));
    }
    let texts: Vec<(String, String)> = files.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect();
    let (recount, _) = recompute(&texts);
    for (name, text, ids) in &files {
        let (by_pabutools_greedy, by_pabutools_shares) = &recount[name];
        assert_eq!(
            &winners(&greedy, ids),
            by_pabutools_greedy,
            "{name}: greedy, Participe vs pabutools\n{text}"
        );
        assert_eq!(
            &winners(&shares, ids),
            by_pabutools_shares,
            "{name}: equal shares, Participe vs pabutools\n{text}"
        );
    }
}

#[tokio::test]
async fn every_exported_budget_passes_pabulib_checker_and_pabutools_finds_the_same_winners() {
    let url = database_url();
    let pool = pool(&url, 4).await;
    let tenant = create_tenant(&pool, "pabulib", "Ville de Pabulib").await;
    let mut rng = StdRng::seed_from_u64(2027);

    // Approval, three envelopes, 34 projects, 614 ballots; the last two projects of the
    // north and the south get no vote. In « Centre ; gare », two projects of the same cost
    // get the same votes and only one of them fits: the draw decides.
    let costs = |rng: &mut StdRng, n: usize, top: i64| -> Vec<(String, i64)> {
        (0..n)
            .map(|i| {
                let name = match i {
                    0 => "Un jardin ; partagé".to_string(),
                    1 => "Des « bancs » \"confortables\"".to_string(),
                    _ => format!("Projet {i}, rue n° {}", rng.random_range(1..200)),
                };
                (name, rng.random_range(top / 10_000..=top / 1_000) * 1_000)
            })
            .collect()
    };
    let north = costs(&mut rng, 16, 120_000);
    let south = costs(&mut rng, 12, 60_000);
    let centre = vec![
        ("Fontaine".to_string(), 35_000),
        ("Kiosque".to_string(), 35_000),
        ("Préau".to_string(), 25_000),
        ("Marelle".to_string(), 10_000),
        ("Rien".to_string(), 5_000),
        ("Parvis".to_string(), 45_000),
    ];
    let (d, ids) = set_up(
        &pool,
        &tenant,
        "budget-pabulib",
        &[
            ("Quartier nord", 400_000, north),
            ("Quartier sud", 150_000, south),
            ("Centre ; gare", 60_000, centre),
        ],
    )
    .await;
    let approval = Method::Approval { min: 1, max: 4 };
    let mut baskets = Vec::new();
    for v in 0..600 {
        let envelope = &ids[v % 2];
        let mut chosen: Vec<Uuid> = envelope[..envelope.len() - 2].to_vec();
        chosen.shuffle(&mut rng);
        chosen.truncate(rng.random_range(1..=4));
        baskets.push(Basket(chosen.into_iter().map(|p| (p, 1)).collect()));
    }
    // The centre (60 000 €): the fountain and the kiosk (35 000 € each) get 7 votes each,
    // the porch (25 000 €) 5, the hopscotch and the square 3, « Rien » none.
    let c = &ids[2];
    for basket in [
        vec![c[0], c[3]],
        vec![c[1], c[3]],
        vec![c[0], c[2]],
        vec![c[1], c[2]],
        vec![c[0]],
        vec![c[1]],
        vec![c[0], c[2], c[5]],
        vec![c[1], c[2], c[5]],
        vec![c[0], c[3]],
        vec![c[1]],
        vec![c[0], c[2]],
        vec![c[1], c[5]],
        vec![c[0]],
        vec![c[1]],
    ] {
        baskets.push(Basket(basket.into_iter().map(|p| (p, 1)).collect()));
    }
    cast_all(&pool, &tenant, d, approval, &baskets).await;
    export_and_recompute(&pool, &tenant, d, approval, "approbation", 3).await;
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let greedy = budgets::results(&mut tx, d, Rule::Greedy, SEED).await.unwrap();
    tx.commit().await.unwrap();
    let won = |id: Uuid| greedy.iter().any(|x| x.project == id && x.selected());
    assert!(
        won(c[0]) != won(c[1]),
        "one of the two tied projects, by the draw: {greedy:?}"
    );
    assert!(!won(c[4]), "no vote, no project");

    // Points: 5 to spread, 3 at most on a project; ties of points and of cost.
    let points = Method::Points {
        total: 5,
        max_per_project: 3,
    };
    let (d, ids) = set_up(
        &pool,
        &tenant,
        "budget-points",
        &[(
            "Toute la ville",
            100_000,
            (0..8)
                .map(|i| (format!("Projet à points {i}"), [20_000, 20_000, 30_000, 40_000][i % 4]))
                .collect(),
        )],
    )
    .await;
    let baskets: Vec<Basket> = (0..150)
        .map(|_| {
            let mut chosen = ids[0].clone();
            chosen.shuffle(&mut rng);
            let mut left = 5;
            let mut basket = Vec::new();
            for p in chosen.into_iter().take(rng.random_range(1..=3)) {
                if left == 0 {
                    break;
                }
                let w = rng.random_range(1..=left.min(3));
                left -= w;
                basket.push((p, w));
            }
            Basket(basket)
        })
        .collect();
    cast_all(&pool, &tenant, d, points, &baskets).await;
    export_and_recompute(&pool, &tenant, d, points, "points", 1).await;

    // Knapsack (Decidim's default, 70 % to 100 % of the envelope), 200 baskets.
    let (d, ids) = set_up(
        &pool,
        &tenant,
        "budget-panier",
        &[(
            "Toute la ville",
            200_000,
            (0..14)
                .map(|i| (format!("Projet au panier {i}"), rng.random_range(10..=90) * 1_000))
                .collect(),
        )],
    )
    .await;
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let projects = budgets::projects(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
    let cost: HashMap<Uuid, i64> = projects.iter().map(|p| (p.id, p.cost)).collect();
    let mut baskets = Vec::new();
    while baskets.len() < 200 {
        let mut order = ids[0].clone();
        order.shuffle(&mut rng);
        let (mut basket, mut total) = (Vec::new(), 0);
        for p in order {
            if total + cost[&p] <= 200_000 {
                total += cost[&p];
                basket.push((p, 1));
            }
            if total >= 140_000 && rng.random_bool(0.5) {
                break;
            }
        }
        if total >= 140_000 {
            baskets.push(Basket(basket));
        }
    }
    cast_all(&pool, &tenant, d, Method::KNAPSACK, &baskets).await;
    export_and_recompute(&pool, &tenant, d, Method::KNAPSACK, "panier", 1).await;
}
