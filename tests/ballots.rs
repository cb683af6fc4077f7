//! The ballot box and the participatory budget's data on real PostgreSQL: one person, one
//! ballot when many casts arrive at once; nothing in the box that names or orders voters;
//! the published box recounts to the same result and digest; a basket over its envelope,
//! a forged project or another tenant's project is refused with nothing stored; another
//! tenant sees none of it.

mod common;

use std::collections::HashMap;

use common::*;
use participe_core::ballots::{self, Published, Voter};
use participe_core::budgets::{self, Basket, Method, Rule};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::{Tenant, TenantTx};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// A budget of one envelope (100 000 €) and four projects.
async fn budget(pool: &PgPool, tenant: &Tenant) -> (Uuid, Vec<Uuid>) {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let d = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: "budget-2027".into(),
            kind: Kind::Appel,
            title: "Budget participatif 2027".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: None,
            closes_on: None,
            rules: String::new(),
            themes: Vec::new(),
        },
    )
    .await
    .unwrap();
    let envelope = budgets::add_envelope(&mut tx, d, "Toute la ville", 100_000)
        .await
        .unwrap();
    let mut projects = Vec::new();
    for (title, cost) in [
        ("Un jardin partagé", 60_000),
        ("Des bancs au parc", 30_000),
        ("Une piste cyclable", 50_000),
        ("Une boîte à livres", 10_000),
    ] {
        projects.push(
            budgets::add_project(&mut tx, d, envelope, title, "", cost)
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    (d, projects)
}

async fn cast(pool: &PgPool, tenant: &Tenant, d: Uuid, voter: &Voter, basket: &Basket) -> Result<String, String> {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let cast = budgets::cast(&mut tx, d, Method::KNAPSACK, voter, basket).await;
    match cast {
        Ok(Ok(receipt)) => {
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(receipt.to_string())
        }
        Ok(Err(errors)) => Err(errors.0[0].message.clone()),
        // Two casts of one voter at once: the second waits on the roll's key and is
        // refused; an error here would be a lost ballot.
        Err(e) => Err(format!("error: {e}")),
    }
}

/// Runs the Python script of `docs/recount.md` over the box as the portal publishes it:
/// its first line (the digest check) and the totals it prints.
fn recount_with_the_documented_script(published: &Published) -> (String, Vec<String>) {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/recount.md")).unwrap();
    let script = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a python block in docs/recount.md");
    let dir = tempfile::tempdir().unwrap();
    let (json, py) = (dir.path().join("urne.json"), dir.path().join("recount.py"));
    std::fs::write(&json, serde_json::to_vec(published).unwrap()).unwrap();
    std::fs::write(&py, script).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&py)
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines().map(str::to_string);
    (lines.next().unwrap_or_default(), lines.collect())
}

async fn count(pool: &PgPool, tenant: &Tenant, sql: &str) -> i64 {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn one_person_one_ballot_under_concurrency_and_nothing_links_a_ballot_to_its_voter() {
    let url = database_url();
    let pool = pool(&url, 24).await;
    let tenant = create_tenant(&pool, "urne", "Ville de l'Urne").await;
    let (d, projects) = budget(&pool, &tenant).await;
    let basket = Basket(vec![(projects[0], 1), (projects[1], 1)]);

    // The same person, 20 casts at once: exactly one ballot, the others refused in words.
    let same = Voter::account(d, Uuid::new_v4());
    let attempts = futures::future::join_all((0..20).map(|_| cast(&pool, &tenant, d, &same, &basket))).await;
    let cast_ok: Vec<&String> = attempts.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(cast_ok.len(), 1, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| e.contains("vous avez déjà voté")),
        "{attempts:?}"
    );

    // 60 people at once: 60 ballots, none lost.
    let voters: Vec<Voter> = (0..60).map(|_| Voter::account(d, Uuid::new_v4())).collect();
    let baskets = [
        Basket(vec![(projects[0], 1), (projects[1], 1)]),
        Basket(vec![(projects[2], 1), (projects[1], 1), (projects[3], 1)]),
    ];
    let casts = futures::future::join_all(
        voters
            .iter()
            .enumerate()
            .map(|(i, v)| cast(&pool, &tenant, d, v, &baskets[i % 2])),
    )
    .await;
    assert!(casts.iter().all(Result::is_ok), "{casts:?}");
    assert_eq!(count(&pool, &tenant, "select count(*) from ballot").await, 61);
    assert_eq!(count(&pool, &tenant, "select count(*) from ballot_roll").await, 61);

    // The box names no voter and orders nothing: its columns are the ballot's own.
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "select table_name || '.' || column_name from information_schema.columns
         where table_schema = current_schema() and table_name in ('ballot', 'ballot_choice')
         order by 1",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    assert_eq!(
        columns,
        [
            "ballot.channel",
            "ballot.dispositif_id",
            "ballot.id",
            "ballot.receipt",
            "ballot_choice.ballot_id",
            "ballot_choice.item",
            "ballot_choice.weight"
        ]
    );
    let ids: Vec<Uuid> = sqlx::query_scalar("select id from ballot")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert!(
        ids.iter().all(|id| id.get_version_num() == 4),
        "random ids, not time-ordered ones"
    );
    // The roll keeps a hash, not the account.
    let roll: Vec<Vec<u8>> = sqlx::query_scalar("select voter from ballot_roll")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert!(roll.iter().all(|v| v.len() == 32));
    let turnout = ballots::turnout(&mut tx, d).await.unwrap();
    assert_eq!((turnout.online, turnout.paper), (61, 0));
    assert!(ballots::has_voted(&mut tx, d, &same).await.unwrap());
    assert!(
        !ballots::has_voted(&mut tx, d, &Voter::account(d, Uuid::new_v4()))
            .await
            .unwrap()
    );

    // The published box: each receipt once, its digest recomputed from the published lines,
    // and the recount from it gives the tally.
    ballots::reorder_box(&mut tx).await.unwrap();
    let published = ballots::published(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(published.ballots.len(), 61);
    assert!(
        published.ballots.iter().any(|b| &b.receipt == cast_ok[0]),
        "the voter finds their ballot"
    );
    assert!(published.ballots.windows(2).all(|w| w[0].receipt < w[1].receipt));
    let digest = format!(
        "{:x}",
        Sha256::digest(Published::canonical(&published.ballots).as_bytes())
    );
    assert_eq!(digest, published.sha256);
    let mut recount: HashMap<Uuid, i64> = HashMap::new();
    for b in &published.ballots {
        for (item, weight) in &b.choices {
            *recount.entry(*item).or_default() += i64::from(*weight);
        }
    }
    assert_eq!(recount[&projects[0]], 31);
    assert_eq!(recount[&projects[1]], 61);
    assert_eq!(recount[&projects[2]], 30);

    // The script of docs/recount.md, run on the published JSON, finds the same.
    let (digest_line, totals) = recount_with_the_documented_script(&published);
    assert_eq!(digest_line, "digest OK");
    assert!(totals.contains(&format!("61 {}", projects[1])), "{totals:?}");

    // Results from the box: greedy takes the bench (61), then the garden (31, 60 000 €
    // of the 70 000 € left); the cycle lane (30, 50 000 €) no longer fits; the book box
    // (30 votes, 10 000 €) does.
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let greedy = budgets::results(&mut tx, d, Rule::Greedy, "graine publiée")
        .await
        .unwrap();
    let shares = budgets::results(&mut tx, d, Rule::EqualShares, "graine publiée")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let winners = |ds: &[budgets::results::Decision]| {
        let mut w: Vec<Uuid> = ds.iter().filter(|x| x.selected()).map(|x| x.project).collect();
        w.sort();
        w
    };
    let mut expected = vec![projects[1], projects[0], projects[3]];
    expected.sort();
    assert_eq!(winners(&greedy), expected, "{greedy:?}");
    assert!(shares.iter().filter(|x| x.selected()).map(|x| x.votes).sum::<i64>() > 0);
    let spent: i64 = [60_000, 30_000, 50_000, 10_000]
        .iter()
        .zip(&projects)
        .filter(|(_, p)| winners(&shares).contains(p))
        .map(|(c, _)| c)
        .sum();
    assert!(spent <= 100_000, "equal shares stays within the envelope: {shares:?}");
}

#[tokio::test]
async fn bad_baskets_are_refused_in_words_and_another_tenant_sees_nothing() {
    let url = database_url();
    let pool = pool(&url, 4).await;
    let tenant = create_tenant(&pool, "panier", "Ville du Panier").await;
    let other = create_tenant(&pool, "voisine", "Ville Voisine").await;
    let (d, projects) = budget(&pool, &tenant).await;
    let (theirs, their_projects) = budget(&pool, &other).await;
    let voter = Voter::account(d, Uuid::new_v4());

    let over = Basket(vec![(projects[0], 1), (projects[2], 1)]);
    assert!(
        cast(&pool, &tenant, d, &voter, &over)
            .await
            .unwrap_err()
            .contains("plus que l'enveloppe")
    );
    let forged = Basket(vec![(Uuid::new_v4(), 1)]);
    assert!(
        cast(&pool, &tenant, d, &voter, &forged)
            .await
            .unwrap_err()
            .contains("n'est pas au vote")
    );
    // Another tenant's project, and this tenant's basket on the other tenant's budget.
    let foreign = Basket(vec![(their_projects[0], 1), (their_projects[1], 1)]);
    assert!(cast(&pool, &tenant, d, &voter, &foreign).await.is_err());
    assert!(
        cast(
            &pool,
            &tenant,
            theirs,
            &voter,
            &Basket(vec![(projects[0], 1), (projects[1], 1)])
        )
        .await
        .is_err()
    );
    assert_eq!(
        count(&pool, &tenant, "select count(*) from ballot_roll").await,
        0,
        "nothing stored"
    );
    assert_eq!(count(&pool, &tenant, "select count(*) from ballot").await, 0);

    // A project cannot be added to another tenant's envelope either.
    let mut tx = TenantTx::begin(&pool, &other).await.unwrap();
    let their_envelope = budgets::envelopes(&mut tx, theirs).await.unwrap()[0].id;
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    assert!(
        budgets::add_project(&mut tx, d, their_envelope, "Intrus", "", 10)
            .await
            .is_err()
    );
    // Nor one that costs more than its whole envelope: it could never be selected.
    let ours = budgets::envelopes(&mut tx, d).await.unwrap()[0].id;
    match budgets::add_project(&mut tx, d, ours, "Un stade", "", 100_001).await {
        Err(participe_core::Error::Invalid(e)) => assert!(e.get("cost").unwrap().contains("dépasse")),
        other => panic!("{other:?}"),
    }
    drop(tx);

    // A valid ballot here is invisible from the other tenant.
    let basket = Basket(vec![(projects[0], 1), (projects[1], 1)]);
    cast(&pool, &tenant, d, &voter, &basket).await.unwrap();
    let mut tx = TenantTx::begin(&pool, &other).await.unwrap();
    assert!(ballots::published(&mut tx, d).await.unwrap().ballots.is_empty());
    assert_eq!(ballots::turnout(&mut tx, d).await.unwrap().online, 0);
    assert!(budgets::projects(&mut tx, d).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert_eq!(count(&pool, &other, "select count(*) from ballot").await, 0);
}
