//! A participatory budget end to end, through the real pages: staff create the budget and
//! its envelope, a citizen proposes a project (a bad form keeps what was typed), staff
//! review, cost, merge and publish; during the vote a citizen fills a basket, sees what is
//! left, casts it once (a replayed form, a forged project and a basket over the envelope
//! are refused with nothing stored); a paper ballot joins the same box and roll; at the
//! close the results explain each project, staff override one with a public reason, and
//! the published box recounts to its digest. Another tenant reaches none of it.

mod common;

use common::*;
use participe_core::budgets::euros;
use participe_core::components::{self, budget};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

/// Sets the budget's phases (from, to) by the configuration form, with its method.
async fn phases(
    admin: &Browser,
    configure: &str,
    depot: (i64, i64),
    vote: (i64, i64),
    results: (i64, i64),
    method: &[(&str, &str)],
) {
    let (df, dt, vf, vt, rf, rt) = (
        day(depot.0),
        day(depot.1),
        day(vote.0),
        day(vote.1),
        day(results.0),
        day(results.1),
    );
    let mut fields = vec![
        ("phase_depot_from", df.as_str()),
        ("phase_depot_to", dt.as_str()),
        ("phase_vote_from", vf.as_str()),
        ("phase_vote_to", vt.as_str()),
        ("phase_resultats_from", rf.as_str()),
        ("phase_resultats_to", rt.as_str()),
    ];
    fields.extend_from_slice(method);
    let saved = admin.submit(CONSOLE, configure, configure, &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}

#[tokio::test]
async fn a_budget_runs_from_proposals_to_checked_results() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("budget", "Commune du Budget").await;
    let b = app.create_tenant("voisine", "Commune Voisine").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let other_admin = app.staff_member(&b, Role::Admin).await;
    let h = host(&a);

    // Staff create the budget: a dispositif of its own kind, with the budget component.
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "budget"),
            ("title", "Budget participatif 2027"),
            ("slug", "budget-2027"),
            ("description", "150 000 € pour vos projets."),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let instance = component_of(&app, &a, d, budget::MANIFEST.key).await;
    let configure = format!("{page_path}/composants/{}", instance.id);
    phases(&admin, &configure, (-1, 5), (10, 20), (21, 40), &[]).await;

    // An envelope: a bad amount is an error beside its field, and keeps the name.
    let bad = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/budget/enveloppes"),
            &[("envelope_name", "Toute la commune"), ("envelope_amount", "beaucoup")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("envelope_amount").is_some());
    assert!(bad.body.contains(r#"value="Toute la commune""#));
    let ok = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/budget/enveloppes"),
            &[("envelope_name", "Toute la commune"), ("envelope_amount", "100 000")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);

    // A citizen proposes a project; the form keeps what was typed when a field is wrong.
    let amelie = app.signed_in_citizen(&a, "amelie@example.org").await;
    let propose = "/participer/budget-2027/budget/proposer";
    let wrong = amelie
        .submit(
            &h,
            propose,
            propose,
            &[("title", "Un jardin partagé"), ("description", ""), ("cost", "douze")],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.field_error("description").is_some());
    assert!(wrong.field_error("cost").is_some());
    assert!(wrong.body.contains(r#"value="Un jardin partagé""#));
    let mut mine = Vec::new();
    for (title, cost) in [
        ("Un jardin partagé", "60 000"),
        ("Des bancs au parc", "30 000"),
        ("Des jardins partagés", "55 000"),
        ("Une piste de ski", "5 000 000"),
    ] {
        let sent = amelie
            .submit(
                &h,
                propose,
                propose,
                &[
                    ("title", title),
                    ("description", "Pour **tout** le quartier."),
                    ("place", "Parc Jean-Moulin"),
                    ("cost", cost),
                ],
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.body);
        mine.push(sent.header("location").to_string());
    }
    let jardin = &mine[0];
    let project_id = |path: &str| path.rsplit('/').next().unwrap().to_string();
    // Under review: its author sees it, nobody else does.
    assert_eq!(amelie.get(&h, jardin).await.status, 200);
    assert_eq!(app.get(&h, jardin).await.status, 404);
    let bruno = app.signed_in_citizen(&a, "bruno@example.org").await;
    assert_eq!(bruno.get(&h, jardin).await.status, 404);

    // Staff review: not feasible needs a public explanation.
    let review = |path: &str| format!("{page_path}/budget/projets/{}", project_id(path));
    let refused = admin
        .submit(
            CONSOLE,
            &review(&mine[3]),
            &review(&mine[3]),
            &[
                ("feasibility", "non_faisable"),
                ("explanation", ""),
                ("cost", "5 000 000"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("explanation").is_some());
    let too_dear = admin
        .submit(
            CONSOLE,
            &review(&mine[3]),
            &review(&mine[3]),
            &[("feasibility", "faisable"), ("explanation", ""), ("cost", "5 000 000")],
        )
        .await;
    assert_eq!(too_dear.status, 422, "{}", too_dear.body);
    assert!(too_dear.field_error("cost").unwrap().contains("jamais être retenu"));
    for (path, feasibility, cost, explanation) in [
        (&mine[0], "faisable", "40 000", ""),
        (&mine[1], "faisable", "30 000", ""),
        (&mine[2], "faisable", "50 000", ""),
        (&mine[3], "non_faisable", "5 000 000", "La commune n'a pas de montagne."),
    ] {
        let done = admin
            .submit(
                CONSOLE,
                &review(path),
                &review(path),
                &[
                    ("feasibility", feasibility),
                    ("cost", cost),
                    ("explanation", explanation),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
    // Bruno's duplicate of the garden is merged into Amélie's: both are its authors.
    let bruno_garden = bruno
        .submit(
            &h,
            propose,
            propose,
            &[
                ("title", "Un potager"),
                ("description", "Le même jardin."),
                ("cost", "40000"),
            ],
        )
        .await;
    assert_eq!(bruno_garden.status, 303, "{}", bruno_garden.body);
    let potager = bruno_garden.header("location").to_string();
    let merged = admin
        .submit(
            CONSOLE,
            &review(&potager),
            &format!("{}/fusion", review(&potager)),
            &[("into", &project_id(jardin))],
        )
        .await;
    assert_eq!(merged.status, 303, "{}", merged.body);
    let section = app.get(&h, "/participer/budget-2027").await;
    assert!(section.body.contains("component-budget"));
    assert!(
        !section.text().contains("Des bancs au parc"),
        "reviewed, not published yet"
    );
    for path in [&mine[0], &mine[1], &mine[2], &mine[3]] {
        let published = admin
            .submit(
                CONSOLE,
                &review(path),
                &format!("{}/publication", review(path)),
                &[("publie", "oui")],
            )
            .await;
        assert_eq!(published.status, 303, "{}", published.body);
    }
    let garden = app.get(&h, jardin).await;
    assert_eq!(garden.status, 200);
    assert!(garden.text().contains(&euros(40_000)), "the costed amount");
    assert!(
        garden.text().contains("amelie") && garden.text().contains("bruno"),
        "both authors"
    );
    let ski = app.get(&h, &mine[3]).await.text();
    assert!(ski.contains("Non réalisable") && ski.contains("pas de montagne"));
    let section = app.get(&h, "/participer/budget-2027").await;
    assert!(section.text().contains("Des bancs au parc"));
    assert!(!section.text().contains("Un potager"), "merged");

    // The vote opens: depot over, vote today.
    phases(
        &admin,
        &configure,
        (-10, -5),
        (-1, 3),
        (4, 40),
        &[("setting_methode", "panier")],
    )
    .await;
    let vote = "/participer/budget-2027/budget/vote";
    assert_eq!(app.get(&h, vote).await.status, 303, "a visitor is asked to sign in");
    let page = amelie.get(&h, vote).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let ids: Vec<String> = [&mine[0], &mine[1]].iter().map(|p| project_id(p)).collect();
    assert!(ids.iter().all(|id| page.body.contains(&format!("p_{id}"))));
    assert!(
        !page.body.contains(&project_id(&mine[3])),
        "not feasible: not on the ballot"
    );
    let token = page.csrf();
    // « Mettre à jour » shows what the basket costs and leaves, and casts nothing.
    let update = amelie
        .post_raw(
            &h,
            vote,
            &[("csrf", &token), ("action", "maj"), (&format!("p_{}", ids[1]), "on")],
        )
        .await;
    assert_eq!(update.status, 200, "{}", update.body);
    assert!(update.text().contains(&euros(30_000)), "{}", update.text());
    assert!(update.text().contains(&euros(70_000)), "what is left");
    assert!(
        update
            .body
            .contains(&format!(r#"name="p_{}" type="checkbox" value="on" checked"#, ids[1]))
    );
    assert_eq!(ballots_in_box(&app, &a).await, 0);
    // A basket below the minimal share, a forged project, another tenant's project.
    let low = amelie
        .post_raw(
            &h,
            vote,
            &[("csrf", &token), ("action", "voter"), (&format!("p_{}", ids[1]), "on")],
        )
        .await;
    assert_eq!(low.status, 422);
    assert!(low.field_error("basket").unwrap().contains("au moins"), "{}", low.body);
    let forged = format!("p_{}", Uuid::new_v4());
    let bad = amelie
        .post_raw(&h, vote, &[("csrf", &token), ("action", "voter"), (&forged, "on")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("basket").unwrap().contains("pas au vote"));
    assert_eq!(ballots_in_box(&app, &a).await, 0, "nothing stored");
    // The right basket: a receipt, once.
    let (f0, f1) = (format!("p_{}", ids[0]), format!("p_{}", ids[1]));
    let basket = [
        ("csrf", token.as_str()),
        ("action", "voter"),
        (f0.as_str(), "on"),
        (f1.as_str(), "on"),
    ];
    let cast = amelie.post_raw(&h, vote, &basket).await;
    assert_eq!(cast.status, 200, "{}", cast.body);
    assert!(cast.text().contains("Votre vote est enregistré"));
    let receipt = cast.quoted_after(r#"class="receipt"><strong>"#);
    let receipt = receipt.split('<').next().unwrap().to_string();
    assert_eq!(receipt.len(), 19, "{receipt}");
    let replay = amelie.post_raw(&h, vote, &basket).await;
    assert!(replay.text().contains("déjà voté"), "{}", replay.body);
    assert_eq!(ballots_in_box(&app, &a).await, 1, "a replayed form casts nothing");
    assert!(amelie.get(&h, vote).await.text().contains("déjà voté"));

    // Bruno takes the garden and the benches (70 000 €, just the minimal share).
    let (garden_field, benches_field, gardens_field) = (
        format!("p_{}", ids[0]),
        format!("p_{}", ids[1]),
        format!("p_{}", project_id(&mine[2])),
    );
    let t2 = bruno.get(&h, vote).await.csrf();
    let cast = bruno
        .post_raw(
            &h,
            vote,
            &[
                ("csrf", &t2),
                ("action", "voter"),
                (&garden_field, "on"),
                (&benches_field, "on"),
            ],
        )
        .await;
    assert_eq!(cast.status, 200, "{}", cast.body);

    // A paper ballot: one who voted online cannot vote on paper; a new one can, once.
    let paper = format!("{page_path}/budget/papier");
    let twice = admin
        .submit(
            CONSOLE,
            &paper,
            &paper,
            &[
                ("email", "amelie@example.org"),
                (&garden_field, "on"),
                (&gardens_field, "on"),
            ],
        )
        .await;
    assert_eq!(twice.status, 422, "{}", twice.body);
    assert!(twice.text().contains("déjà voté"));
    let desk = [
        ("listed_as", "BV1-0042"),
        (garden_field.as_str(), "on"),
        (gardens_field.as_str(), "on"),
    ];
    assert_eq!(admin.submit(CONSOLE, &paper, &paper, &desk).await.status, 303);
    assert_eq!(admin.submit(CONSOLE, &paper, &paper, &desk).await.status, 422);
    assert_eq!(ballots_in_box(&app, &a).await, 3);

    // During the vote nobody sees results, staff neither; the box is not published.
    assert!(
        app.get(&h, "/participer/budget-2027/budget/resultats")
            .await
            .text()
            .contains("à la clôture")
    );
    assert_eq!(
        app.get(&h, "/participer/budget-2027/budget/bulletins.json")
            .await
            .status,
        404
    );
    let staff_results = admin
        .get(CONSOLE, &format!("{page_path}/budget/resultats"))
        .await
        .text();
    assert!(staff_results.contains("3 votant·es") && staff_results.contains("1 sur papier"));
    assert!(!staff_results.contains("Retenu"), "no result before the close");
    // Another tenant: neither the portal nor the console.
    assert_eq!(
        app.get(&host(&b), "/participer/budget-2027/budget/vote").await.status,
        404
    );
    assert_eq!(
        other_admin
            .get(CONSOLE, &format!("/t/{}/dispositifs/{d}/budget/resultats", a.slug))
            .await
            .status,
        404
    );
    assert_eq!(
        other_admin
            .get(CONSOLE, &format!("/t/{}/dispositifs/{d}/budget/resultats", b.slug))
            .await
            .status,
        404
    );

    // The close: the results, explained; an override with its reason; the box recounts.
    phases(&admin, &configure, (-20, -15), (-10, -1), (0, 40), &[]).await;
    let results = app.get(&h, "/participer/budget-2027/budget/resultats").await;
    assert_eq!(results.status, 200, "{}", results.body);
    let text = results.text();
    assert!(
        text.contains("Un jardin partagé") && text.contains("Premier projet retenu de son enveloppe."),
        "{text}"
    );
    assert!(text.contains("3 votant·es"), "{text}");
    assert!(
        text.contains("Son coût dépassait ce qui restait"),
        "the gardens did not fit: {text}"
    );
    let refused = admin
        .submit(
            CONSOLE,
            &format!("{page_path}/budget/resultats"),
            &format!("{page_path}/budget/projets/{}/resultat", ids[1]),
            &[("decision", "non_retenu"), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status, 303);
    let o = admin
        .submit(
            CONSOLE,
            &format!("{page_path}/budget/resultats"),
            &format!("{page_path}/budget/projets/{}/resultat", ids[1]),
            &[
                ("decision", "non_retenu"),
                ("reason", "Le parc sera en travaux jusqu'en 2029."),
            ],
        )
        .await;
    assert_eq!(o.status, 303);
    let text = app.get(&h, "/participer/budget-2027/budget/resultats").await.text();
    assert!(text.contains("en travaux jusqu'en 2029"), "{text}");
    let published = app.get(&h, "/participer/budget-2027/budget/bulletins.json").await;
    assert_eq!(published.status, 200);
    let json: serde_json::Value = serde_json::from_str(&published.body).unwrap();
    let box_ = json["ballots"].as_array().unwrap();
    assert_eq!(box_.len(), 3);
    assert!(
        box_.iter().any(|b| b["receipt"] == receipt.as_str()),
        "Amélie finds her ballot"
    );
    let mut canonical = String::new();
    for b in box_ {
        canonical.push_str(b["receipt"].as_str().unwrap());
        canonical.push(' ');
        canonical.push_str(b["channel"].as_str().unwrap());
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
    assert!(text.contains(&digest), "the page shows the digest");
    // The Pabulib file of the envelope, for pabutools (tests/pabulib.rs checks the format).
    let pb = app.get(&h, "/participer/budget-2027/budget/pabulib/1.pb").await;
    assert_eq!(pb.status, 200);
    assert!(
        pb.body.starts_with("META") && pb.body.contains("num_votes;3"),
        "{}",
        pb.body
    );
    assert_eq!(
        app.get(&h, "/participer/budget-2027/budget/pabulib/2.pb").await.status,
        404
    );
    // The open data lists the published projects, the not feasible one with its reason.
    let api: serde_json::Value = serde_json::from_str(&app.get(&h, "/api/v1/projets-budget").await.body).unwrap();
    assert_eq!(api["total"], 4, "{api}");
    assert!(api.to_string().contains("pas de montagne"));
    let theirs = app.get(&host(&b), "/api/v1/projets-budget").await.body;
    assert!(!theirs.contains("jardin"));
}

#[tokio::test]
async fn residents_vote_in_their_own_envelope_after_declaring_what_the_vote_asks() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("residence", "Métropole des Résidences").await;
    let b = app.create_tenant("voisine", "Commune Voisine").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let other_admin = app.staff_member(&b, Role::Admin).await;
    let h = host(&a);

    // The territory's communes, pasted in the console: a faulty line refuses the whole list,
    // names its line, and keeps what was typed.
    let communes = format!("/t/{}/communes", a.slug);
    let page = admin.get(CONSOLE, &communes).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("La liste est vide"));
    let bad = admin
        .submit(
            CONSOLE,
            &communes,
            &communes,
            &[("communes", "59512 ; Roubaix ; 59100\n5951 ; Lys-lez-Lannoy ; 59390")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.field_error("communes").expect("the error beside the list");
    assert!(error.contains("ligne 2"), "{error}");
    assert!(bad.body.contains("Lys-lez-Lannoy"), "what was typed is kept");
    let saved = admin
        .submit(
            CONSOLE,
            &communes,
            &communes,
            &[(
                "communes",
                "59512 ; Roubaix ; 59100\n59599 ; Tourcoing ; 59200\n59009 ; Villeneuve-d'Ascq ;",
            )],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let listed = admin.get(CONSOLE, &communes).await;
    assert!(listed.body.contains("La liste compte 3 communes."), "{}", listed.body);
    assert!(
        listed.text().contains("59009 ; Villeneuve-d'Ascq ; "),
        "a commune without postal codes"
    );
    // Another tenant's list is its own.
    let other = format!("/t/{}/communes", b.slug);
    let theirs = other_admin
        .submit(CONSOLE, &other, &other, &[("communes", "59350 ; Lille ; 59000")])
        .await;
    assert_eq!(theirs.status, 303, "{}", theirs.body);
    assert_eq!(
        admin.get(CONSOLE, &other).await.status,
        404,
        "nor can a's staff open b's list"
    );

    // A budget by residence, for French and EU nationals of 16 or more.
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "budget"),
            ("title", "Budget des quartiers"),
            ("slug", "budget-quartiers"),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let instance = component_of(&app, &a, d, budget::MANIFEST.key).await;
    let configure = format!("{page_path}/composants/{}", instance.id);
    phases(
        &admin,
        &configure,
        (-20, -10),
        (-1, 10),
        (11, 40),
        &[
            ("setting_residence", "enveloppe"),
            ("setting_nationalite_ue", "on"),
            ("setting_age_minimal", "16"),
        ],
    )
    .await;
    let envelopes = format!("{page_path}/budget/enveloppes");
    let foreign = admin
        .submit(
            CONSOLE,
            &page_path,
            &envelopes,
            &[
                ("envelope_name", "Lille"),
                ("envelope_amount", "100 000"),
                ("envelope_communes", "59350"),
            ],
        )
        .await;
    assert_eq!(foreign.status, 422, "another tenant's commune is not on this territory");
    assert!(foreign.field_error("envelope_communes").is_some(), "{}", foreign.body);
    for (name, code) in [("Roubaix", "59512"), ("Tourcoing", "59599")] {
        let added = admin
            .submit(
                CONSOLE,
                &page_path,
                &envelopes,
                &[
                    ("envelope_name", name),
                    ("envelope_amount", "100 000"),
                    ("envelope_communes", code),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
    }
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let listed = participe_core::budgets::envelopes(&mut tx, d).await.unwrap();
    assert_eq!(listed.len(), 2, "the refused envelope was not stored");
    let roubaix = listed.iter().find(|e| e.name == "Roubaix").unwrap().id;
    tx.commit().await.unwrap();
    // Staff are told when an envelope has no commune: nobody could vote in it.
    let gap = "une enveloppe n'a pas de communes";
    assert!(!admin.get(CONSOLE, &page_path).await.text().contains(gap));
    let bare = admin
        .submit(
            CONSOLE,
            &page_path,
            &envelopes,
            &[("envelope_name", "Ailleurs"), ("envelope_amount", "10 000")],
        )
        .await;
    assert_eq!(bare.status, 303, "{}", bare.body);
    assert!(admin.get(CONSOLE, &page_path).await.text().contains(gap));
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let project = participe_core::budgets::add_project(&mut tx, d, roubaix, "Un square", "", 80_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The voter reads what is asked; each missing or wrong declaration is refused beside
    // its field, with the basket and what was typed kept, and nothing in the box.
    let voter = app.signed_in_citizen(&a, "lea@example.org").await;
    let vote = "/participer/budget-quartiers/budget/vote";
    let form = voter.get(&h, &format!("{vote}?enveloppe={roubaix}")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Code postal de votre commune"));
    assert!(form.body.contains("16 ans ou plus"));
    let token = form.csrf();
    let roubaix = roubaix.to_string();
    let chosen = format!("p_{project}");
    let cast = |residence: &'static str, declared: bool| {
        let mut fields = vec![
            ("csrf", token.clone()),
            ("action", "voter".to_string()),
            ("enveloppe", roubaix.clone()),
            (chosen.as_str(), "on".to_string()),
            ("residence", residence.to_string()),
        ];
        if declared {
            fields.push(("declare_nationality", "on".into()));
            fields.push(("declare_age", "on".into()));
        }
        let voter = &voter;
        let h = &h;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            voter.post_raw(h, vote, &fields).await
        }
    };
    let lille = cast("59000", true).await;
    assert_eq!(lille.status, 422, "{}", lille.body);
    assert!(
        lille
            .field_error("residence")
            .unwrap()
            .contains("aucune commune du territoire")
    );
    assert!(lille.body.contains(r#"value="59000""#), "the typed code is kept");
    assert!(
        lille
            .body
            .contains(&format!(r#"name="{chosen}" type="checkbox" value="on" checked"#)),
        "and the basket"
    );
    let tourcoing = cast("59200", true).await;
    assert_eq!(tourcoing.status, 422);
    assert!(
        tourcoing
            .field_error("residence")
            .unwrap()
            .contains("pas dans cette enveloppe")
    );
    let undeclared = cast("59100", false).await;
    assert_eq!(undeclared.status, 422);
    assert!(undeclared.field_error("declare_nationality").is_some());
    assert!(undeclared.field_error("declare_age").is_some());
    assert!(
        undeclared.field_error("residence").is_none(),
        "the right code is accepted"
    );
    assert_eq!(ballots_in_box(&app, &a).await, 0, "nothing refused is stored");
    // Results are remembered per state of the box: a new ballot is never hidden by them.
    let votes_for = |rule| {
        let pool = app.pool.clone();
        let a = a.clone();
        async move {
            let mut tx = TenantTx::begin(&pool, &a).await.unwrap();
            let r = participe_core::budgets::results(&mut tx, d, rule, "graine")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            r.iter().find(|x| x.project == project).unwrap().votes
        }
    };
    use participe_core::budgets::Rule;
    assert_eq!(votes_for(Rule::EqualShares).await, 0);
    assert_eq!(votes_for(Rule::Greedy).await, 0);
    let done = cast("59100", true).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Votre vote est enregistré"));
    assert_eq!(ballots_in_box(&app, &a).await, 1);
    assert_eq!(votes_for(Rule::EqualShares).await, 1);
    assert_eq!(votes_for(Rule::Greedy).await, 1);
    // Nothing the voter declared is kept with the ballot or the roll.
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.columns
          where table_schema = current_schema() and table_name in ('ballot', 'ballot_roll', 'ballot_choice')
            and column_name ~ 'residence|postal|commune|nationalit|age'",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn voters_filter_the_projects_without_losing_their_basket() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("filtres", "Commune des Filtres").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let (page_path, d) = published_dispositif(
        &admin,
        &a,
        &[
            ("kind", "budget"),
            ("title", "Budget 2027"),
            ("slug", "budget-2027"),
            ("opens_on", &day(-30)),
        ],
    )
    .await;
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let instance = components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == budget::MANIFEST.key)
        .unwrap();
    let city = participe_core::budgets::add_envelope(&mut tx, d, "Toute la ville", 100_000)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (title, description, cost) in [
        ("Un jardin à l'école", "Des bacs pour la cour.", 30_000),
        ("Des bancs au parc", "Six bancs à l'ombre.", 20_000),
        ("Une piste cyclable", "Le long du canal, pour aller à l'École.", 60_000),
    ] {
        ids.push(
            participe_core::budgets::add_project(&mut tx, d, city, title, description, cost)
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let configure = format!("{page_path}/composants/{}", instance.id);
    phases(
        &admin,
        &configure,
        (-20, -10),
        (-1, 10),
        (11, 40),
        &[("setting_part_minimale", "0")],
    )
    .await;
    let h = host(&a);
    let voter = app.signed_in_citizen(&a, "jo@example.org").await;
    let vote = "/participer/budget-2027/budget/vote";
    let count = |body: &str| body.matches(r#"type="checkbox" value="on""#).count();

    // « ecole » without its accent finds the two projects that speak of schools.
    let page = voter.get(&h, &format!("{vote}?mots=ecole")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(count(&page.body), 2, "{}", page.body);
    assert!(page.text().contains("2 projets affichés sur 3."));
    let token = page.csrf();
    // The bench chosen, then a filter that hides it: it stays in the basket, hidden.
    let bench = format!("p_{}", ids[1]);
    let filtered = voter
        .post_raw(
            &h,
            vote,
            &[
                ("csrf", &token),
                ("action", "maj"),
                (&bench, "on"),
                ("cout_max", "40 000"),
            ],
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    assert_eq!(count(&filtered.body), 2, "the 60 000 € project is hidden");
    assert!(filtered.body.contains(&format!(
        r#"id="{bench}" name="{bench}" type="checkbox" value="on" checked"#
    )));
    let hidden = voter
        .post_raw(
            &h,
            vote,
            &[("csrf", &token), ("action", "maj"), (&bench, "on"), ("mots", "piste")],
        )
        .await;
    assert_eq!(count(&hidden.body), 1);
    assert!(
        hidden
            .body
            .contains(&format!(r#"<input type="hidden" name="{bench}" value="on">"#)),
        "{}",
        hidden.body
    );
    assert!(hidden.text().contains("masqué par les filtres"));
    assert!(
        hidden.text().contains("Votre panier : 20"),
        "the basket still costs the bench"
    );
    // A cost that is not one is said beside its field.
    let wrong = voter
        .post_raw(
            &h,
            vote,
            &[("csrf", &token), ("action", "maj"), ("cout_max", "beaucoup")],
        )
        .await;
    assert!(wrong.field_error("cout_max").is_some(), "{}", wrong.body);
    // Casting from a filtered page casts the whole basket.
    let cast = voter
        .post_raw(
            &h,
            vote,
            &[
                ("csrf", &token),
                ("action", "voter"),
                (&bench, "on"),
                (&format!("p_{}", ids[2]), "on"),
                ("mots", "piste"),
            ],
        )
        .await;
    assert_eq!(cast.status, 200, "{}", cast.body);
    let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
    let tally = participe_core::ballots::tally(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(tally.len(), 2, "both projects in the ballot: {tally:?}");
}
