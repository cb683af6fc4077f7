//! The vote component through its pages: staff add it to a call with two questions (a bad
//! question is refused beside its field), citizens answer during the vote (an unanswered
//! question keeps the other answers, a forged option and a replayed form store nothing),
//! results stay hidden until the close, then show votes, shares with a decimal comma and
//! blank votes, and the published box recounts to its digest. Another tenant reaches none
//! of it.

mod common;

use common::*;
use participe_core::TenantTx;
use participe_core::components::{self, vote};
use participe_core::staff::Role;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

#[tokio::test]
async fn a_vote_is_cast_once_counted_at_the_close_and_recounted() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("vote", "Commune du Vote").await;
    let b = app.create_tenant("voisine", "Commune Voisine").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let moderator = app.staff_member(&a, Role::Moderator).await;
    let h = format!("{}.localhost", a.slug);
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "appel"),
            ("title", "Le nom de la médiathèque"),
            ("slug", "mediatheque"),
            ("description", "Choisissez son nom."),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let added = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "vote")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);

    // Questions: one option only is refused beside the field, the question kept.
    let questions = format!("{page_path}/vote/questions");
    let bad = admin
        .submit(
            CONSOLE,
            &page_path,
            &questions,
            &[
                ("vote_question", "Quel nom ?"),
                ("vote_options", "Simone-Veil"),
                ("vote_blank", "on"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("vote_options").is_some());
    assert!(bad.body.contains(r#"value="Quel nom ?""#));
    for (question, options, max) in [
        ("Quel nom ?", "Simone-Veil\nLes Tilleuls\nLa Filature", "1"),
        ("Quels services ?", "Jeux vidéo\nRéparation\nGrainothèque", "2"),
    ] {
        let ok = admin
            .submit(
                CONSOLE,
                &page_path,
                &questions,
                &[
                    ("vote_question", question),
                    ("vote_options", options),
                    ("vote_max_choices", max),
                    ("vote_blank", "on"),
                ],
            )
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
    }
    // A moderator may not change the vote.
    let token = moderator
        .get(CONSOLE, &format!("/t/{}/moderation", a.slug))
        .await
        .csrf();
    let refused = moderator
        .post_raw(
            CONSOLE,
            &questions,
            &[("csrf", &token), ("vote_question", "Q ?"), ("vote_options", "A\nB")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let instance = components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == vote::MANIFEST.key)
        .unwrap();
    let qs = vote::questions(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(qs.len(), 2);
    let configure = format!("{page_path}/composants/{}", instance.id);
    let set_vote = |from: i64, to: i64| {
        let (from, to) = (day(from), day(to));
        let admin = &admin;
        let configure = configure.clone();
        async move {
            let saved = admin
                .submit(
                    CONSOLE,
                    &configure,
                    &configure,
                    &[("phase_vote_from", from.as_str()), ("phase_vote_to", to.as_str())],
                )
                .await;
            assert_eq!(saved.status, 303, "{}", saved.body);
        }
    };
    set_vote(-1, 3).await;

    let (name, services) = (&qs[0], &qs[1]);
    let single = format!("q_{}", name.id);
    let multi = |i: usize| format!("q_{}_{}", services.id, services.options[i].id);
    let ballot = "/participer/mediatheque/vote/bulletin";
    assert_eq!(app.get(&h, ballot).await.status, 303, "a visitor is asked to sign in");
    let voters: Vec<Browser> = futures::future::join_all(
        ["ines@example.org", "hugo@example.org", "sarah@example.org"]
            .iter()
            .map(|e| app.signed_in_citizen(&a, e)),
    )
    .await;
    let page = voters[0].get(&h, ballot).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.csrf();
    // The second question unanswered: an error beside it, the first answer kept.
    let tilleuls = name.options[1].id.to_string();
    let missing = voters[0]
        .post_raw(&h, ballot, &[("csrf", &token), (&single, &tilleuls)])
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.field_error(&format!("q_{}", services.id)).is_some(),
        "{}",
        missing.body
    );
    assert!(missing.body.contains(&format!(r#"value="{tilleuls}" checked"#)), "kept");
    let forged = voters[0]
        .post_raw(
            &h,
            ballot,
            &[
                ("csrf", &token),
                (&single, &Uuid::new_v4().to_string()),
                (&multi(0), "on"),
            ],
        )
        .await;
    assert_eq!(forged.status, 422);
    let too_many = voters[0]
        .post_raw(
            &h,
            ballot,
            &[
                ("csrf", &token),
                (&single, &tilleuls),
                (&multi(0), "on"),
                (&multi(1), "on"),
                (&multi(2), "on"),
            ],
        )
        .await;
    assert_eq!(too_many.status, 422);
    assert_eq!(ballots_in_box(&app, &a).await, 0, "nothing stored");

    let cast = voters[0]
        .post_raw(
            &h,
            ballot,
            &[
                ("csrf", &token),
                (&single, &tilleuls),
                (&multi(0), "on"),
                (&multi(1), "on"),
            ],
        )
        .await;
    assert_eq!(cast.status, 200, "{}", cast.body);
    let receipt = cast.quoted_after(r#"class="receipt"><strong>"#);
    let receipt = receipt.split('<').next().unwrap().to_string();
    let replay = voters[0]
        .post_raw(&h, ballot, &[("csrf", &token), (&single, &tilleuls), (&multi(0), "on")])
        .await;
    assert!(replay.text().contains("déjà voté"));
    let (blank, games) = (format!("q_{}_blanc", services.id), multi(0));
    let veil = name.options[0].id.to_string();
    for (v, first, second) in [(&voters[1], &tilleuls, &games), (&voters[2], &veil, &blank)] {
        let token = v.get(&h, ballot).await.csrf();
        let cast = v
            .post_raw(&h, ballot, &[("csrf", &token), (&single, first), (second, "on")])
            .await;
        assert_eq!(cast.status, 200, "{}", cast.body);
    }
    assert_eq!(ballots_in_box(&app, &a).await, 3);

    // Hidden until the close, for staff too; another tenant knows nothing of it.
    let results = "/participer/mediatheque/vote/resultats";
    assert!(app.get(&h, results).await.text().contains("à la clôture"));
    assert_eq!(
        app.get(&h, "/participer/mediatheque/vote/bulletins.json").await.status,
        404
    );
    let staff = admin.get(CONSOLE, &format!("{page_path}/vote/resultats")).await.text();
    assert!(
        staff.contains("3 votant·es") && !staff.contains("Les Tilleuls"),
        "{staff}"
    );
    assert_eq!(app.get(&format!("{}.localhost", b.slug), ballot).await.status, 404);

    // The close: shares of the expressed votes, blank votes apart; the box recounts.
    set_vote(-10, -1).await;
    let page = app.get(&h, results).await;
    assert_eq!(page.status, 200);
    let text = page.plain();
    assert!(text.contains("Les Tilleuls 2 66,7 %"), "{text}");
    assert!(text.contains("Simone-Veil 1 33,3 %"), "{text}");
    assert!(text.contains("Réparation 1 50,0 %"), "{text}");
    assert!(text.contains("Jeux vidéo 2 100,0 %"), "{text}");
    assert!(text.contains("1 vote blanc"), "{text}");
    let published = app.get(&h, "/participer/mediatheque/vote/bulletins.json").await;
    assert_eq!(published.status, 200);
    let json: serde_json::Value = serde_json::from_str(&published.body).unwrap();
    let ballots = json["ballots"].as_array().unwrap();
    assert_eq!(ballots.len(), 3);
    assert!(ballots.iter().any(|b| b["receipt"] == receipt.as_str()));
    let mut canonical = String::new();
    for b in ballots {
        canonical.push_str(&format!(
            "{} {}",
            b["receipt"].as_str().unwrap(),
            b["channel"].as_str().unwrap()
        ));
        for c in b["choices"].as_array().unwrap() {
            canonical.push_str(&format!(" {}:{}", c[0].as_str().unwrap(), c[1]));
        }
        canonical.push('\n');
    }
    let digest: String = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["sha256"], digest.as_str());
    // After the close, nobody votes.
    let late = voters[1].get(&h, ballot).await;
    assert_eq!(late.status, 409);
}

/// A vote reserved to its census list: the list is uploaded whole or not at all, kept only
/// as keyed hashes; a voter proves they are on it; the same person cannot vote from a second
/// account nor at the desk; the under-age are left out.
#[tokio::test]
async fn a_census_list_decides_who_votes_once() {
    let app = TestApp::spawn_configured(&database_url(), 8, |c| {
        c.secret_key = Some(
            participe_core::domain::sealed::SecretKey::from_env_value(
                "la clé de plateforme des tests de liste, assez longue",
            )
            .unwrap(),
        );
    })
    .await;
    let a = app.create_tenant("liste", "Commune de la Liste").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let h = format!("{}.localhost", a.slug);
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "budget"),
            ("title", "Budget des jeunes"),
            ("slug", "budget-jeunes"),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let envelope = participe_core::budgets::add_envelope(&mut tx, d, "Toute la ville", 1_000)
        .await
        .unwrap();
    let project = participe_core::budgets::add_project(&mut tx, d, envelope, "Un banc", "", 800)
        .await
        .unwrap();
    let instance = components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == "budget")
        .unwrap();
    tx.commit().await.unwrap();
    let configure = format!("{page_path}/composants/{}", instance.id);
    let saved = admin
        .submit(
            CONSOLE,
            &configure,
            &configure,
            &[
                ("setting_liste", "on"),
                ("setting_age_minimal", "16"),
                ("phase_vote_from", &day(-1)),
                ("phase_vote_to", &day(5)),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    // The list: a bad line refuses all of it; then the right one.
    let list = format!("{page_path}/liste-electorale");
    let bad = admin
        .submit_multipart(
            CONSOLE,
            &list,
            &list,
            &[],
            Some(("liste", "liste.csv", b"E-1;14/07/1989\nE-2;demain\n".to_vec())),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.text().contains("ligne 2"), "{}", bad.text());
    let minor_birth = (time::OffsetDateTime::now_utc().date() - time::Duration::days(365 * 10)).to_string();
    let csv = format!("identifiant;naissance\nE-1;14/07/1989\nE-2;01/02/2000\nE-3;{minor_birth}\n");
    let ok = admin
        .submit_multipart(
            CONSOLE,
            &list,
            &list,
            &[],
            Some(("liste", "liste.csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let shown = admin.get(CONSOLE, &list).await.text();
    assert!(shown.contains("La liste compte 2 personnes"), "{shown}");
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select entry from census_entry")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().all(|e| !String::from_utf8_lossy(e).contains("E-1")),
        "only keyed hashes"
    );

    // Voting: not on the list, on it, then the same person again from another account.
    let vote = "/participer/budget-jeunes/budget/vote";
    let chosen = format!("p_{project}");
    let first = app.signed_in_citizen(&a, "lea@example.org").await;
    let token = first.get(&h, vote).await.csrf();
    let stranger = attempt(&first, &h, &token, &chosen, "E-9", "14/07/1989").await;
    assert_eq!(stranger.status, 422);
    assert!(stranger.field_error("census_id").unwrap().contains("ne figurent pas"));
    let wrong_birth = attempt(&first, &h, &token, &chosen, "E-1", "15/07/1989").await;
    assert_eq!(wrong_birth.status, 422);
    let minor = attempt(&first, &h, &token, &chosen, "E-3", "01/01/2020").await;
    assert_eq!(minor.status, 422, "the under-age are not on the list");
    assert_eq!(ballots_in_box(&app, &a).await, 0);
    let cast = attempt(&first, &h, &token, &chosen, "e 1", "1989-07-14").await;
    assert_eq!(cast.status, 200, "{}", cast.body);
    assert!(cast.text().contains("Votre vote est enregistré"));
    let second = app.signed_in_citizen(&a, "lea.bis@example.org").await;
    let token = second.get(&h, vote).await.csrf();
    let again = second
        .post_raw(
            &h,
            vote,
            &[
                ("csrf", &token),
                ("action", "voter"),
                (&chosen, "on"),
                ("census_id", "E-1"),
                ("census_birth", "14/07/1989"),
            ],
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("déjà voté"), "{}", again.text());
    // At the desk, the same person is known by the list too.
    let paper = format!("{page_path}/budget/papier");
    let desk = admin
        .submit(
            CONSOLE,
            &paper,
            &paper,
            &[("listed_as", "E-1"), ("census_birth", "14/07/1989"), (&chosen, "on")],
        )
        .await;
    assert_eq!(desk.status, 422);
    assert!(desk.text().contains("déjà voté"));
    let other = admin
        .submit(
            CONSOLE,
            &paper,
            &paper,
            &[("listed_as", "E-2"), ("census_birth", "01/02/2000"), (&chosen, "on")],
        )
        .await;
    assert_eq!(other.status, 303, "{}", other.body);
    assert_eq!(ballots_in_box(&app, &a).await, 2);
}

async fn attempt(b: &Browser, h: &str, token: &str, chosen: &str, census_id: &str, birth: &str) -> Page {
    let vote = "/participer/budget-jeunes/budget/vote";
    b.post_raw(
        h,
        vote,
        &[
            ("csrf", token),
            ("action", "voter"),
            (chosen, "on"),
            ("census_id", census_id),
            ("census_birth", birth),
        ],
    )
    .await
}

#[tokio::test]
async fn paper_ballots_at_the_desk_join_the_same_box_and_roll_as_the_portal() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("papier", "Commune du Papier").await;
    let b = app.create_tenant("voisine", "Commune Voisine").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let other_admin = app.staff_member(&b, Role::Admin).await;
    let h = format!("{}.localhost", a.slug);
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "appel"),
            ("title", "Le nom du parc"),
            ("slug", "parc"),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let added = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "vote")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let asked = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/vote/questions"),
            &[
                ("vote_question", "Quel nom ?"),
                ("vote_options", "Les Saules\nLes Chênes"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let instance = components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == vote::MANIFEST.key)
        .unwrap();
    let q = vote::questions(&mut tx, d).await.unwrap().remove(0);
    tx.commit().await.unwrap();
    let field = format!("q_{}", q.id);
    let (willows, oaks) = (q.options[0].id.to_string(), q.options[1].id.to_string());
    let desk = format!("{page_path}/vote/papier");

    let configure = format!("{page_path}/composants/{}", instance.id);
    let set_vote = |from: i64, to: i64| {
        let (from, to) = (day(from), day(to));
        let (admin, configure) = (&admin, configure.clone());
        async move {
            let saved = admin
                .submit(
                    CONSOLE,
                    &configure,
                    &configure,
                    &[("phase_vote_from", from.as_str()), ("phase_vote_to", to.as_str())],
                )
                .await;
            assert_eq!(saved.status, 303, "{}", saved.body);
        }
    };
    // Not open yet: the desk refuses, beside the field, and stores nothing.
    set_vote(2, 5).await;
    let closed = admin
        .submit(CONSOLE, &desk, &desk, &[("listed_as", "12"), (&field, &willows)])
        .await;
    assert_eq!(closed.status, 422, "{}", closed.body);
    assert!(closed.field_error("listed_as").unwrap().contains("pas ouvert"));
    set_vote(-1, 5).await;

    // By number on the desk's list; the same number twice is one person.
    let page = admin.get(CONSOLE, &desk).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Les Saules"));
    let first = admin
        .submit(CONSOLE, &desk, &desk, &[("listed_as", "12"), (&field, &willows)])
        .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let again = admin
        .submit(CONSOLE, &desk, &desk, &[("listed_as", "12"), (&field, &oaks)])
        .await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("a déjà voté"), "{}", again.text());
    assert!(again.body.contains(r#"value="12""#), "what was typed is kept");
    let unanswered = admin.submit(CONSOLE, &desk, &desk, &[("listed_as", "13")]).await;
    assert_eq!(unanswered.status, 422);
    assert!(unanswered.field_error(&field).is_some());
    let nothing = admin.submit(CONSOLE, &desk, &desk, &[]).await;
    assert!(
        nothing.field_error("listed_as").is_some() && nothing.field_error(&field).is_some(),
        "every error at once: {}",
        nothing.body
    );
    assert_eq!(ballots_in_box(&app, &a).await, 1);

    // By the account of a citizen: then they cannot vote online, nor the reverse.
    let lea = app.signed_in_citizen(&a, "lea@example.org").await;
    let by_account = admin
        .submit(CONSOLE, &desk, &desk, &[("email", "lea@example.org"), (&field, &oaks)])
        .await;
    assert_eq!(by_account.status, 303, "{}", by_account.body);
    let online = lea.get(&h, "/participer/parc/vote/bulletin").await;
    assert!(online.text().contains("Vous avez déjà voté"), "{}", online.text());
    let hugo = app.signed_in_citizen(&a, "hugo@example.org").await;
    let token = hugo.get(&h, "/participer/parc/vote/bulletin").await.csrf();
    let cast = hugo
        .post_raw(
            &h,
            "/participer/parc/vote/bulletin",
            &[("csrf", &token), (&field, &willows)],
        )
        .await;
    assert_eq!(cast.status, 200, "{}", cast.body);
    let twice = admin
        .submit(CONSOLE, &desk, &desk, &[("email", "hugo@example.org"), (&field, &oaks)])
        .await;
    assert_eq!(twice.status, 422, "who voted online is refused at the desk");
    let unknown = admin
        .submit(
            CONSOLE,
            &desk,
            &desk,
            &[("email", "personne@example.org"), (&field, &oaks)],
        )
        .await;
    assert!(unknown.field_error("email").is_some());
    assert_eq!(ballots_in_box(&app, &a).await, 3);
    let turnout = admin.get(CONSOLE, &format!("{page_path}/vote/resultats")).await.text();
    assert!(turnout.contains("3 votant·es"), "paper voters count: {turnout}");

    // Another tenant's staff reach no desk of this vote.
    assert_eq!(
        other_admin
            .get(CONSOLE, &format!("/t/{}/dispositifs/{d}/vote/papier", b.slug))
            .await
            .status,
        404
    );
    assert_eq!(
        other_admin
            .get(CONSOLE, &format!("/t/{}/dispositifs/{d}/vote/papier", a.slug))
            .await
            .status,
        404
    );
}
