//! The « livret d'expression » through the real HTTP service and the job queue: staff ask
//! for it in the console, a worker compiles it a batch at a time, and the portal offers it
//! as a real PDF (read back with `pdftotext`), a CSV and a JSON file, with every published
//! contribution by theme and nothing moderated; another tenant reaches none of it.

mod common;

use common::*;
use participe_core::citizens::{self, NewCitizen, Profile};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::domain::{Email, NewPassword};
use participe_core::participation::{self as p, ContributionInput, Decision, Target};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

async fn citizen(tx: &mut TenantTx, name: &str) -> Uuid {
    let email = Email::parse(&format!("{}-{}@habitant.test", random_suffix(6), random_suffix(4))).unwrap();
    let password = NewPassword::parse("une phrase de passe assez longue", "une phrase de passe assez longue").unwrap();
    match citizens::sign_up(
        tx,
        &NewCitizen {
            email: &email,
            display_name: name,
            profile: Profile::Citoyen,
            password: &password,
            charter_version: None,
        },
    )
    .await
    .unwrap()
    {
        citizens::SignUp::Created { citizen, .. } => citizen.id,
        citizens::SignUp::AlreadyRegistered { citizen } => citizen.id,
    }
}

async fn contribute(tx: &mut TenantTx, call: Uuid, author: Uuid, theme: Option<Uuid>, title: &str, body: &str) -> Uuid {
    p::create_contribution(
        tx,
        call,
        author,
        &ContributionInput {
            title: title.into(),
            body: body.into(),
            theme_id: theme,
        },
    )
    .await
    .unwrap()
}

/// A call with two themes and its contributions: three on energy, three on canteens (one
/// moderated, one by an account since deleted), one without theme, and `extra` more on
/// energy.
async fn call_with_contributions(app: &TestApp, tenant: &Tenant, extra: usize) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let call = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: "colleges".into(),
            kind: Kind::Appel,
            title: "Les collèges de demain".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: Some(today),
            closes_on: None,
            rules: String::new(),
            themes: vec!["Énergie".into(), "Cantine".into()],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    let themes = p::themes(&mut tx, call).await.unwrap();
    let energy = themes.iter().find(|t| t.name == "Énergie").unwrap().id;
    let canteen = themes.iter().find(|t| t.name == "Cantine").unwrap().id;
    let amelie = citizen(&mut tx, "Amélie").await;
    let karim = citizen(&mut tx, "Karim B.").await;
    let gone = citizen(&mut tx, "Compte supprimé").await;
    // Names from all over Europe and beyond: an official document must keep every letter.
    let ngoc = citizen(&mut tx, "Nguyễn Thị Ngọc").await;
    contribute(
        &mut tx,
        call,
        ngoc,
        Some(energy),
        "Łódź, Ştefan, Ğül, Nguyễn — ∑",
        "Des panneaux solaires sur les toits du collège.",
    )
    .await;
    contribute(
        &mut tx,
        call,
        karim,
        Some(energy),
        "Isoler les fenêtres",
        "Le froid passe l'hiver.\n\nEt la chaleur l'été.",
    )
    .await;
    contribute(
        &mut tx,
        call,
        amelie,
        Some(energy),
        "Un cœur d'école à énergie positive",
        "Produire plus qu'on ne consomme.",
    )
    .await;
    contribute(
        &mut tx,
        call,
        karim,
        Some(canteen),
        "Plus de produits locaux",
        // A formula, as an attacker would type it: the CSV must not let a spreadsheet run it.
        "=HYPERLINK(\"http://evil.example\",\"x\")",
    )
    .await;
    let moderated = contribute(
        &mut tx,
        call,
        karim,
        Some(canteen),
        "Propos injurieux",
        "Retiré par la modération.",
    )
    .await;
    p::decide(
        &mut tx,
        Target::Contribution(moderated),
        &Decision::Moderate("Injurieux".into()),
    )
    .await
    .unwrap();
    contribute(
        &mut tx,
        call,
        amelie,
        None,
        "Une idée sans thème",
        "Des casiers pour tous.",
    )
    .await;
    contribute(
        &mut tx,
        call,
        gone,
        Some(canteen),
        "Moins de gaspillage",
        "Peser les restes.",
    )
    .await;
    citizens::delete(&mut tx, gone, false).await.unwrap();
    for i in 0..extra {
        contribute(
            &mut tx,
            call,
            amelie,
            Some(energy),
            &format!("Proposition {i:03}"),
            "Une de plus.",
        )
        .await;
    }
    tx.commit().await.unwrap();
    call
}

/// What a poppler tool prints about a PDF.
fn poppler(tool: &str, pdf: &std::path::Path) -> String {
    let out = std::process::Command::new(tool)
        .arg(pdf)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils): {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn staff_compile_a_booklet_that_the_portal_offers_as_pdf_csv_and_json() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("livret", "Département du Livret").await;
    let other = app.create_tenant("voisin", "Département Voisin").await;
    // 450 more than the seven: the job reads them in three batches.
    let call = call_with_contributions(&app, &tenant, 450).await;
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let page = format!("/t/{}/dispositifs/{call}", tenant.slug);
    assert!(editor.get(CONSOLE, &page).await.text().contains("Préparer le livret"));

    // Another tenant's staff cannot ask for it; a moderator of this one cannot either.
    let stranger = app.staff_member(&other, Role::Admin).await;
    let token = stranger
        .get(CONSOLE, &format!("/t/{}/dispositifs", other.slug))
        .await
        .csrf();
    let theirs = format!("/t/{}/dispositifs/{call}/livret", other.slug);
    assert_eq!(
        stranger.post_raw(CONSOLE, &theirs, &[("csrf", &token)]).await.status,
        404
    );
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    let token = moderator
        .get(CONSOLE, &format!("/t/{}/moderation", tenant.slug))
        .await
        .csrf();
    assert_eq!(
        moderator
            .post_raw(CONSOLE, &format!("{page}/livret"), &[("csrf", &token)])
            .await
            .status,
        403
    );

    let asked = editor.submit(CONSOLE, &page, &format!("{page}/livret"), &[]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    // Asking again while it is being made does not start a second one.
    editor.submit(CONSOLE, &page, &format!("{page}/livret"), &[]).await;
    let mut ready = false;
    for _ in 0..300 {
        let text = editor.get(CONSOLE, &page).await.text();
        if text.contains("Livret du") {
            assert!(text.contains("456 contribution(s), 3 thème(s)"), "{text}");
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the booklet within 30 s");
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let made: i64 = sqlx::query_scalar("select count(*) from booklet")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(made, 1);

    // The portal offers it from the call's page.
    let h = format!("{}.localhost", tenant.slug);
    let visitor = app.browser();
    app.eventually(|| async {
        visitor
            .get(&h, "/participer/colleges")
            .await
            .text()
            .contains("Livret d'expression")
    })
    .await;
    let (status, content_type, pdf) = visitor.get_bytes(&h, "/participer/colleges/livret/pdf").await;
    assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &pdf).unwrap();
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Livret d'expression") && text.contains("Les collèges de demain"),
        "{text}"
    );
    assert!(text.contains("456 contributions en 3 thèmes"));
    assert!(text.contains("Énergie (453 contributions)") && text.contains("Cantine (2 contributions)"));
    assert!(text.contains("Sans thème (1 contribution)"));
    assert!(text.contains("Un cœur d'école à énergie positive"));
    assert!(text.contains("Karim B., le") && text.contains("Participant·e supprimé·e, le"));
    assert!(text.contains("Et la chaleur l'été."));
    assert!(
        text.contains("Łódź, Ştefan, Ğül, Nguyễn — ∑") && text.contains("Nguyễn Thị Ngọc, le"),
        "every letter survives: {text}"
    );
    assert!(text.contains("Proposition 449"));
    assert!(
        !text.contains("Propos injurieux"),
        "moderated contributions are left out"
    );
    assert!(text.find("Énergie (453").unwrap() < text.find("Cantine (2").unwrap());
    // Tagged, for screen readers, with its fonts embedded as Unicode subsets.
    let info = poppler("pdfinfo", file.path());
    assert!(
        pdf.windows(b"/Lang(fr)".len()).any(|w| w == b"/Lang(fr)"),
        "the document says it is French"
    );
    assert!(
        info.lines().any(|l| l.split_whitespace().eq(["Tagged:", "yes"])),
        "{info}"
    );
    let fonts = poppler("pdffonts", file.path());
    let embedded: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(embedded.len() >= 2, "{fonts}");
    // Columns: name, type, encoding, emb, sub, uni, object, generation.
    let flags = |l: &str| {
        let cols: Vec<String> = l.split_whitespace().map(str::to_string).collect();
        cols[cols.len() - 5..cols.len() - 2].to_vec()
    };
    assert!(
        embedded
            .iter()
            .all(|l| l.contains("DejaVuSans") && flags(l) == ["yes", "yes", "yes"]),
        "every font embedded, subset, with its Unicode map: {fonts}"
    );

    let (status, content_type, csv) = visitor.get_bytes(&h, "/participer/colleges/livret/csv").await;
    assert_eq!((status, content_type.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 456);
    assert!(
        rows.iter()
            .any(|r| &r[0] == "Sans thème" && &r[1] == "Une idée sans thème")
    );
    assert!(
        rows.iter()
            .any(|r| &r[1] == "Isoler les fenêtres" && &r[2] == "Le froid passe l'hiver.\n\nEt la chaleur l'été.")
    );
    assert!(
        rows.iter()
            .any(|r| &r[1] == "Plus de produits locaux" && &r[2] == "'=HYPERLINK(\"http://evil.example\",\"x\")")
    );
    assert!(
        rows.iter()
            .flat_map(|r| r.iter())
            .all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        "no cell a spreadsheet runs"
    );

    let (status, _, json) = visitor.get_bytes(&h, "/participer/colleges/livret/json").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["contributions"], 456);
    let themes: Vec<&str> = json["themes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["theme"].as_str().unwrap())
        .collect();
    assert_eq!(themes, ["Énergie", "Cantine", "Sans thème"]);
    // Written in the same transaction, the two canteen contributions share their date.
    let canteen = json["themes"][1]["contributions"].as_array().unwrap();
    assert_eq!(canteen.len(), 2);
    assert!(canteen.iter().any(|c| c["author"] == "Participant·e supprimé·e"));
    assert_eq!(visitor.get_bytes(&h, "/participer/colleges/livret/docx").await.0, 404);

    // Another portal has no such booklet, even for a call of the same address.
    call_with_contributions(&app, &other, 0).await;
    let oh = format!("{}.localhost", other.slug);
    assert_eq!(visitor.get_bytes(&oh, "/participer/colleges/livret/pdf").await.0, 404);
}

/// The pages of a PDF as text (`pdftotext`).
fn pdf_text(pdf: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(file.path())
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; scripts/install-test-deps installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_budgets_booklet_prints_its_published_projects_with_their_study_and_result() {
    use participe_core::budgets::{self, Basket, Method, proposals};
    use participe_core::components::{self, Configuration, budget};
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("livret-budget", "Commune du Livret").await;
    let other = app.create_tenant("voisine", "Commune Voisine").await;
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let day = |n: i64| time::OffsetDateTime::now_utc().date() + time::Duration::days(n);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let d = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: "budget-2027".into(),
            kind: Kind::Budget,
            title: "Budget participatif 2027".into(),
            summary: "Vos projets.".into(),
            description: String::new(),
            opens_on: Some(day(-30)),
            closes_on: Some(day(30)),
            rules: String::new(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, d, dispositifs::Status::Publie)
        .await
        .unwrap();
    let instance = components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == budget::MANIFEST.key)
        .unwrap();
    let phases = |vote: (i64, i64), results: (i64, i64)| {
        let fields = [
            ("phase_vote_from", day(vote.0).to_string()),
            ("phase_vote_to", day(vote.1).to_string()),
            ("phase_resultats_from", day(results.0).to_string()),
            ("phase_resultats_to", day(results.1).to_string()),
        ];
        Configuration::parse(&budget::MANIFEST, |name| {
            fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    components::configure(&mut tx, d, instance.id, &phases((-1, 5), (6, 30)))
        .await
        .unwrap();
    let city = budgets::add_envelope(&mut tx, d, "Toute la ville", 100_000)
        .await
        .unwrap();
    let garden = budgets::add_project(
        &mut tx,
        d,
        city,
        "Un jardin partagé",
        "Des bacs et un composteur.\n\nOuvert à tous.",
        80_000,
    )
    .await
    .unwrap();
    budgets::add_project(&mut tx, d, city, "Des bancs au parc", "", 30_000)
        .await
        .unwrap();
    let author = citizen(&mut tx, "Amélie, parent d'élève").await;
    let rink = proposals::submit(
        &mut tx,
        d,
        author,
        &proposals::ProjectInput {
            envelope_id: city,
            title: "Une patinoire".into(),
            description: "Sur la Grand-Place.".into(),
            place: "Grand-Place".into(),
            estimated_cost: 900_000,
        },
    )
    .await
    .unwrap();
    let review = proposals::Review::parse("non_faisable", "Son coût dépasse l'enveloppe.", "900000").unwrap();
    proposals::review(&mut tx, d, rink, &review).await.unwrap();
    proposals::set_published(&mut tx, d, rink, true).await.unwrap();
    proposals::submit(
        &mut tx,
        d,
        author,
        &proposals::ProjectInput {
            envelope_id: city,
            title: "Un projet encore à l'étude".into(),
            description: "Pas encore publié.".into(),
            place: String::new(),
            estimated_cost: 1_000,
        },
    )
    .await
    .unwrap();
    let voter = participe_core::ballots::Voter::account(d, author);
    let cast = budgets::cast(&mut tx, d, Method::KNAPSACK, &voter, &Basket(vec![(garden, 1)]))
        .await
        .unwrap();
    assert!(cast.is_ok(), "{cast:?}");
    // The vote is over: results are public.
    components::configure(&mut tx, d, instance.id, &phases((-10, -1), (0, 30)))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The budget's console page offers the booklet; another tenant's staff cannot ask for it.
    let page = format!("/t/{}/dispositifs/{d}", tenant.slug);
    let shown = editor.get(CONSOLE, &page).await;
    assert!(
        shown.text().contains("Les projets publiés du budget"),
        "{}",
        shown.text()
    );
    let stranger = app.staff_member(&other, Role::Admin).await;
    let token = stranger
        .get(CONSOLE, &format!("/t/{}/dispositifs", other.slug))
        .await
        .csrf();
    assert_eq!(
        stranger
            .post_raw(
                CONSOLE,
                &format!("/t/{}/dispositifs/{d}/livret", other.slug),
                &[("csrf", &token)]
            )
            .await
            .status,
        404
    );
    let asked = editor.submit(CONSOLE, &page, &format!("{page}/livret"), &[]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let h = format!("{}.localhost", tenant.slug);
    let visitor = app.browser();
    app.eventually(|| async {
        visitor
            .get(&h, "/participer/budget-2027")
            .await
            .text()
            .contains("Tous les projets publiés, enveloppe par enveloppe")
    })
    .await;

    let (status, _, pdf) = visitor.get_bytes(&h, "/participer/budget-2027/livret/pdf").await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    assert!(text.contains("Budget participatif : les projets"), "{text}");
    assert!(text.contains("Enveloppe « Toute la ville » (3 projets)"), "{text}");
    assert!(
        text.contains("Un jardin partagé") && text.contains("Ouvert à tous."),
        "{text}"
    );
    assert!(text.contains("Retenu : 1 voix."), "{text}");
    assert!(text.contains("Non retenu : 0 voix."), "{text}");
    assert!(text.contains("proposé par Amélie, parent d'élève"), "{text}");
    assert!(
        text.contains("Étude des services : Son coût dépasse l'enveloppe."),
        "{text}"
    );
    assert!(
        !text.contains("encore à l'étude"),
        "unpublished projects stay out: {text}"
    );
    assert!(
        !text.contains("0 contribution"),
        "a budget without contributions says nothing of them"
    );

    let (_, _, csv) = visitor.get_bytes(&h, "/participer/budget-2027/livret/csv").await;
    let csv = String::from_utf8(csv).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| &r[0] == "Budget participatif — Toute la ville"));
    let (_, _, json) = visitor.get_bytes(&h, "/participer/budget-2027/livret/json").await;
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let projects = json["projets_budget"].as_array().unwrap();
    assert_eq!(projects.len(), 3);
    let garden = projects.iter().find(|p| p["title"] == "Un jardin partagé").unwrap();
    assert_eq!(
        (garden["votes"].as_i64(), garden["selected"].as_bool()),
        (Some(1), Some(true))
    );

    // Another portal has no such booklet.
    assert_eq!(
        visitor
            .get_bytes(
                &format!("{}.localhost", other.slug),
                "/participer/budget-2027/livret/pdf"
            )
            .await
            .0,
        404
    );
}
