//! The component contract, walked over the registry: every component, with real data (its
//! own demo content), answers on the portal, refuses the wrong people in the console, stays
//! out of reach of another tenant, publishes the open data the OpenAPI document declares,
//! is found by search, shows its counts on the dashboard, and survives a tenant export and
//! import. A new component gets all of this by being in `core::components::REGISTRY`.
//!
//! Also: staff add, configure, reorder, hide and remove components; what existed before
//! components is converted by the tenant migration.

mod common;

use common::*;
use participe_core::components::{self, Manifest, REGISTRY};
use participe_core::dispositifs::{self, Dispositif, DispositifWrite};
use participe_core::migrations::{TenantMigrations, fleet};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

/// A published dispositif of a kind that may host `m`, holding it with its demo content.
async fn space_with(app: &TestApp, tenant: &Tenant, m: &'static Manifest) -> (Dispositif, Uuid) {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let id = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: format!("quartier-{}", m.key),
            kind: m.hosts[0],
            title: format!("Le quartier et ses {}", m.key),
            summary: "Un dispositif pour le contrat des composants.".into(),
            description: "Présentation du quartier et de la démarche.".into(),
            opens_on: Some(today),
            closes_on: None,
            rules: "Article premier : le quartier se réunit.".into(),
            themes: vec!["Jardins".into()],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, id, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    let d = dispositifs::by_id(&mut tx, id).await.unwrap().unwrap();
    let instance = components::add(&mut tx, &d, m).await.unwrap();
    if let Some(demo) = m.demo {
        demo(&mut tx, &app.state.storage, &d).await.unwrap();
    }
    tx.commit().await.unwrap();
    (d, instance)
}

/// `path` with its parameters filled for this dispositif.
fn filled(path: &str, slug: &str, dispositif: Uuid) -> String {
    path.split('/')
        .map(|part| match part {
            "{slug}" => slug.to_string(),
            "{id}" => dispositif.to_string(),
            p if p.starts_with('{') => Uuid::new_v4().to_string(),
            p => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn json(app: &TestApp, tenant: &Tenant, path: &str) -> serde_json::Value {
    let page = app.get(&host(tenant), path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    serde_json::from_str(&page.body).unwrap()
}

#[tokio::test]
async fn every_component_of_the_registry_keeps_the_contract() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("contrat", "Commune du Contrat").await;
    let b = app.create_tenant("voisine", "Commune Voisine").await;
    let admin = app.staff_member(&a, Role::Admin).await;
    let moderator = app.staff_member(&a, Role::Moderator).await;
    let other_admin = app.staff_member(&b, Role::Admin).await;
    let visitor = app.browser();
    let openapi = json(&app, &b, "/api/v1/openapi.json").await;
    let moderator_token = moderator
        .get(CONSOLE, &format!("/t/{}/moderation", a.slug))
        .await
        .csrf();
    let mut spaces = Vec::new();

    for m in REGISTRY {
        let (d, instance) = space_with(&app, &a, m).await;
        let key = m.key;

        // The portal: the dispositif's page holds its section, which has a page of its own.
        let page = app.get(&host(&a), &format!("/participer/{}", d.slug)).await;
        assert_eq!(page.status, 200, "{key}: {}", page.body);
        assert!(
            page.body.contains(&format!("component-{key}")),
            "{key}: no section on the page"
        );
        let own = app.get(&host(&a), &format!("/participer/{}/{key}", d.slug)).await;
        assert_eq!(own.status, 200, "{key}");
        assert!(own.body.contains(&format!("component-{key}")), "{key}");
        // Another tenant's portal knows nothing of it.
        assert_eq!(
            app.get(&host(&b), &format!("/participer/{}/{key}", d.slug))
                .await
                .status,
            404,
            "{key}"
        );

        // The console: its configuration page for admins only, and 404 to another tenant.
        let configure = format!("/t/{}/dispositifs/{}/composants/{instance}", a.slug, d.id);
        assert_eq!(admin.get(CONSOLE, &configure).await.status, 200, "{key}");
        assert_eq!(moderator.get(CONSOLE, &configure).await.status, 403, "{key}");
        assert_eq!(
            visitor.get(CONSOLE, &configure).await.status,
            303,
            "{key}: a visitor is sent to sign in"
        );
        assert_eq!(other_admin.get(CONSOLE, &configure).await.status, 404, "{key}");
        let theirs = format!("/t/{}/dispositifs/{}/composants/{instance}", b.slug, d.id);
        assert_eq!(
            other_admin.get(CONSOLE, &theirs).await.status,
            404,
            "{key}: an id of another tenant"
        );
        // Every route of its console surface refuses a moderator.
        let surface = participe_tenant_admin::components::SURFACES
            .iter()
            .find(|s| s.key == key)
            .unwrap();
        for path in surface.paths {
            let path = filled(path, a.slug.as_str(), d.id);
            let got = moderator.get(CONSOLE, &path).await.status;
            let posted = moderator
                .post_raw(CONSOLE, &path, &[("csrf", &moderator_token)])
                .await
                .status;
            assert!(
                [403, 405].contains(&got) && [403, 405].contains(&posted),
                "{key} {path}: {got} {posted}"
            );
            assert!(got == 403 || posted == 403, "{key} {path}");
        }

        // Its open data: declared in the OpenAPI document, with its rows; none on B.
        for r in m.open_data {
            let path = format!("/api/v1/{}", r.name());
            assert!(
                openapi["paths"].get(&path).is_some(),
                "{key}: {path} not in the OpenAPI document"
            );
            let mine = json(&app, &a, &path).await;
            assert!(mine["total"].as_i64().unwrap() >= 1, "{key}: {path} is empty");
            let schema = &openapi["components"]["schemas"];
            let declared: Vec<&String> = schema
                .as_object()
                .unwrap()
                .values()
                .find_map(|s| {
                    let props = s["properties"].as_object()?;
                    mine["donnees"][0]
                        .as_object()
                        .is_some_and(|row| row.keys().all(|k| props.contains_key(k)) && row.len() == props.len())
                        .then(|| props.keys().collect())
                })
                .unwrap_or_else(|| panic!("{key}: {path}'s rows match no schema of the document"));
            assert!(!declared.is_empty());
            let theirs = json(&app, &b, &path).await;
            assert!(
                !theirs.to_string().contains(&d.title),
                "{key}: B's {path} holds A's data"
            );
        }

        // Its search entries.
        if !m.search.is_empty() {
            let mut tx = TenantTx::begin(&app.pool, &a).await.unwrap();
            let (hits, _) = participe_core::search::search(&mut tx, "quartier", 1).await.unwrap();
            tx.commit().await.unwrap();
            for kind in m.search {
                assert!(hits.iter().any(|h| h.kind == *kind), "{key}: no {kind} found by search");
            }
        }
        spaces.push((m, d));
    }

    // The dashboard shows every component's figures.
    let dashboard = admin.get(CONSOLE, &format!("/t/{}/", a.slug)).await.text();
    for m in REGISTRY {
        for (label, _) in m.counts {
            assert!(dashboard.contains(label), "{}: « {label} » not on the dashboard", m.key);
        }
    }

    // An export and import carries every component's rows.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contrat.tar.gz");
    participe_core::fleet::archive::export(&app.pool, &app.state.storage, &a.slug, &file)
        .await
        .unwrap();
    let copy = participe_core::domain::Slug::parse(&unique_slug("copie")).unwrap();
    let imported = participe_core::fleet::archive::import(
        &app.pool,
        &app.state.storage,
        &TenantMigrations::embedded(),
        &file,
        &copy,
        "test",
    )
    .await
    .unwrap();
    for m in REGISTRY {
        for table in m.tables.iter().chain(["dispositif_component"].iter()) {
            let count = |schema: String| {
                let pool = app.pool.clone();
                let table = table.to_string();
                async move {
                    sqlx::query_scalar::<_, i64>(&format!("select count(*) from {schema}.{table}"))
                        .fetch_one(&pool)
                        .await
                        .unwrap()
                }
            };
            let before = count(a.schema.to_string()).await;
            let main = m.tables.first() == Some(table);
            assert!(before > 0 || m.demo.is_none() || !main, "{}: {table} is empty", m.key);
            assert_eq!(
                before,
                count(imported.tenant.schema.to_string()).await,
                "{}: {table}",
                m.key
            );
        }
    }
    // The copy serves the same pages.
    for (m, d) in &spaces {
        let page = app
            .get(&host(&imported.tenant), &format!("/participer/{}/{}", d.slug, m.key))
            .await;
        assert_eq!(page.status, 200, "{}", m.key);
    }
}

/// The components listed on the console's page of a dispositif, in order.
fn listed(page: &Page) -> Vec<String> {
    let start = page.body.find(r#"id="composants""#).expect("the components' list");
    let list = &page.body[start..];
    let list = &list[..list.find("</ol>").unwrap()];
    list.split("<strong>")
        .skip(1)
        .map(|s| unescape(&s[..s.find("</strong>").unwrap()]))
        .collect()
}

/// The keys of the sections of a portal page, in order.
fn sections(page: &Page) -> Vec<String> {
    page.body
        .split(r#"class="component component-"#)
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test]
async fn staff_add_configure_reorder_hide_and_remove_components() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("composer", "Commune qui Compose").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let base = format!("/t/{}/dispositifs", tenant.slug);
    let today = time::OffsetDateTime::now_utc().date();
    let created = admin
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "appel"),
                ("title", "Budget des quartiers"),
                ("slug", "budget-quartiers"),
                ("description", "Proposez des projets."),
                ("opens_on", &today.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page_path = created.header("location").to_string();
    let id: Uuid = page_path.rsplit('/').next().unwrap().parse().unwrap();
    admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/statut"),
            &[("status", "publie")],
        )
        .await;
    let page = admin.get(CONSOLE, &page_path).await;
    assert_eq!(
        listed(&page),
        ["Présentation", "Contributions", "Rencontres", "Actualités", "Documents"],
        "a call starts with its kind's components"
    );
    let h = format!("{}.localhost", tenant.slug);
    let portal = "/participer/budget-quartiers";

    // Add the questions, with one question; it shows last on the portal.
    let added = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "questions")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let question = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/questions"),
            &[
                ("question", "Qui peut proposer ?"),
                ("answer", "Tout habitant du quartier."),
            ],
        )
        .await;
    assert_eq!(question.status, 303);
    // A question without its answer: the page again, what was typed kept, the error beside
    // the field, nothing stored.
    let missing = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/questions"),
            &[("question", "Faut-il habiter « le quartier » ?"), ("answer", " ")],
        )
        .await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(
        missing.body.contains(r#"value="Faut-il habiter « le quartier » ?""#),
        "{}",
        missing.body
    );
    assert!(missing.body.contains(r#"id="answer-error""#), "{}", missing.body);
    assert!(missing.body.contains(r#"aria-invalid="true""#));
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert_eq!(components::faq::list(&mut tx, id).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    app.eventually(|| async { sections(&app.get(&h, portal).await).last().map(String::as_str) == Some("questions") })
        .await;
    assert!(app.get(&h, portal).await.text().contains("Qui peut proposer ?"));

    let instances = {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let all = components::of(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        all
    };
    let instance = |key: &str| instances.iter().find(|i| i.key() == key).unwrap().id;

    // Move the questions up: they come before the documents.
    let questions = format!("{page_path}/composants/{}", instance("questions"));
    admin
        .submit(CONSOLE, &page_path, &format!("{questions}/ordre"), &[("sens", "haut")])
        .await;
    let page = admin.get(CONSOLE, &page_path).await;
    assert_eq!(listed(&page)[4], "Questions fréquentes");

    // A bad setting is said beside its field, what was typed kept, nothing saved.
    let agenda = format!("{page_path}/composants/{}", instance("agenda"));
    let long = "t".repeat(81);
    let refused = admin
        .submit(
            CONSOLE,
            &agenda,
            &agenda,
            &[("setting_titre", &long), ("setting_passees", "on")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.field_error("setting_titre").as_deref(),
        Some("80 caractères au plus")
    );
    assert!(refused.body.contains(&long));
    let saved = admin
        .submit(
            CONSOLE,
            &agenda,
            &agenda,
            &[("setting_titre", "Nos rendez-vous"), ("setting_passees", "on")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    app.eventually(|| async { app.get(&h, portal).await.text().contains("Nos rendez-vous") })
        .await;

    // Staff require a verified identity to contribute: a citizen without one is told why.
    let email = format!("habitante-{}@habitant.test", random_suffix(6));
    let citizen = app.signed_in_citizen(&tenant, &email).await;
    let contributions = format!("{page_path}/composants/{}", instance("contributions"));
    let required = admin
        .submit(
            CONSOLE,
            &contributions,
            &contributions,
            &[("setting_commentaires", "on"), ("verified_contribuer", "on")],
        )
        .await;
    assert_eq!(required.status, 303, "{}", required.body);
    let refused = citizen.get(&h, &format!("{portal}/contribuer")).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.h1(), "Identité vérifiée requise");
    // Its phase moved to next month: the call is closed, everything stays readable.
    let next_month = (today + time::Duration::days(30)).to_string();
    admin
        .submit(
            CONSOLE,
            &contributions,
            &contributions,
            &[("setting_commentaires", "on"), ("phase_depot_from", &next_month)],
        )
        .await;
    assert_eq!(citizen.get(&h, &format!("{portal}/contribuer")).await.status, 409);
    admin
        .submit(
            CONSOLE,
            &contributions,
            &contributions,
            &[("setting_commentaires", "on")],
        )
        .await;
    let posted = citizen
        .submit(
            &h,
            &format!("{portal}/contribuer"),
            &format!("{portal}/contribuer"),
            &[("title", "Un composteur"), ("body", "Au pied des immeubles.")],
        )
        .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    let contribution = posted.header("location").to_string();

    // Hidden: gone from the portal, kept in the console.
    admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{questions}/publication"),
            &[("publie", "non")],
        )
        .await;
    app.eventually(|| async { !sections(&app.get(&h, portal).await).contains(&"questions".to_string()) })
        .await;
    assert_eq!(app.get(&h, &format!("{portal}/questions")).await.status, 404);

    // Removing the contributions, which hold one, asks first; the data stays and comes
    // back with the component.
    let asked = admin
        .submit(CONSOLE, &page_path, &format!("{contributions}/retrait"), &[])
        .await;
    assert_eq!(asked.status, 303);
    let confirm = admin.follow(CONSOLE, &asked).await;
    assert!(
        confirm
            .text()
            .contains("Ce composant contient un élément dans ce dispositif."),
        "{}",
        confirm.body
    );
    let removed = admin
        .submit(
            CONSOLE,
            &format!("{contributions}/retrait"),
            &format!("{contributions}/retrait"),
            &[("confirmation", "oui")],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert!(!listed(&admin.get(CONSOLE, &page_path).await).contains(&"Contributions".to_string()));
    app.eventually(|| async { app.get(&h, &contribution).await.status == 404 })
        .await;
    admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "contributions")],
        )
        .await;
    app.eventually(|| async { app.get(&h, &contribution).await.status == 200 })
        .await;
    // Unknown components and those the kind may not host are refused.
    let unknown = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "sondage")],
        )
        .await;
    assert_eq!(unknown.status, 400);
    let council_only = admin
        .submit(
            CONSOLE,
            &page_path,
            &format!("{page_path}/composants"),
            &[("component", "composition")],
        )
        .await;
    let after = admin.follow(CONSOLE, &council_only).await;
    assert!(after.text().contains("ne peut pas s'ajouter à ce type de dispositif"));
}

#[tokio::test]
async fn schemas_from_before_components_get_each_dispositif_s_components() {
    let url = fresh_database("composants").await;
    let pool = pool(&url, 4).await;
    let before = TenantMigrations::embedded().up_to(11);
    let input = participe_core::fleet::provisioning::NewTenantInput {
        slug: unique_slug("ancien"),
        name: "Commune d'Avant".into(),
        kind: "commune".into(),
        ..Default::default()
    };
    let tenant = participe_core::fleet::provisioning::provision(&pool, &before, &input.parse(&base()).unwrap(), "test")
        .await
        .unwrap();
    for (slug, kind) in [
        ("appel", "appel"),
        ("conseil", "conseil"),
        ("presentation", "presentation"),
    ] {
        sqlx::query(&format!(
            "insert into {}.dispositif (slug, kind, title, status) values ($1, $2, $3, 'publie')",
            tenant.schema
        ))
        .bind(slug)
        .bind(kind)
        .bind(format!("Un {kind}"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let report = fleet::migrate(&pool, &TenantMigrations::embedded(), 2, &fleet::Quiet)
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let mut held = std::collections::BTreeMap::new();
    for d in dispositifs::all(&mut tx).await.unwrap() {
        let keys: Vec<&str> = components::of(&mut tx, d.id)
            .await
            .unwrap()
            .iter()
            .map(|i| i.key())
            .collect();
        held.insert(d.slug.clone(), keys.join(" "));
    }
    let council = dispositifs::by_slug(&mut tx, "conseil").await.unwrap().unwrap();
    let agenda = components::of(&mut tx, council.id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == "agenda")
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(held["appel"], "presentation contributions agenda actualites documents");
    assert_eq!(held["conseil"], "presentation composition agenda actualites documents");
    assert_eq!(held["presentation"], "presentation agenda actualites documents");
    assert_eq!(
        agenda.settings.text("titre"),
        "Séances",
        "a council's meetings are its sittings"
    );
    assert!(agenda.settings.bool("passees"));
    pool.close().await;
}

#[test]
fn the_registry_is_valid_for_this_build() {
    participe_server::app::check_components().unwrap();
}

#[tokio::test]
async fn operators_see_a_column_for_each_component_that_names_a_table() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("comptee", "Commune Comptée").await;
    let columns = components::ops_columns();
    assert!(
        !columns.is_empty(),
        "the contributions and the agenda name their tables"
    );
    for m in REGISTRY.iter().filter(|m| m.ops_table.is_some()) {
        space_with(&app, &tenant, m).await;
    }
    let (operator, _) = ops::signed_in_operator(&app).await;
    let table = operator.get(ops::OPS, &format!("/?q={}", tenant.slug)).await;
    assert_eq!(table.status, 200);
    for (_, label) in &columns {
        assert!(table.body.contains(&format!("{label} (≈)")), "no column {label}");
    }
    // The estimates come from PostgreSQL's statistics, which a backend flushes within a
    // second of going idle, or ten when it was busy: wait for them up to 20 s.
    let page_path = format!("/portails/{}", tenant.slug);
    for (_, label) in columns {
        let shown = || async {
            let page = operator.get(ops::OPS, &page_path).await;
            page.body
                .split(&format!("<dt>{label} (estimation)</dt><dd>"))
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .and_then(|n| n.parse::<i64>().ok())
        };
        let mut n = shown().await;
        for _ in 0..80 {
            if n.is_some_and(|n| n > 0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            n = shown().await;
        }
        assert!(n.is_some_and(|n| n > 0), "{label}: {n:?}");
    }
}

#[tokio::test]
async fn a_dispositif_written_without_components_gets_its_kind_s_when_first_read() {
    // As the release before components writes one during a rolling deploy: a row in
    // `dispositif` and nothing in `dispositif_component`.
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("roulante", "Commune Roulante").await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    sqlx::query(
        "insert into dispositif (slug, kind, title, status, opens_on)
         values ('ancien-appel', 'appel', 'Un appel de l''ancienne version', 'publie', current_date)",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let page = app.get(&host(&tenant), "/participer/ancien-appel").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = sections(&page);
    assert_eq!(shown, ["contributions"], "a call's components with something to show");
    let contribute = app.get(&host(&tenant), "/participer/ancien-appel/contribuer").await;
    assert_eq!(
        contribute.status, 303,
        "the contributions' own pages answer (sign in first)"
    );
    // Read again, nothing is added twice.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let d = dispositifs::by_slug(&mut tx, "ancien-appel").await.unwrap().unwrap();
    let first = components::of(&mut tx, d.id).await.unwrap().len();
    assert_eq!(components::of(&mut tx, d.id).await.unwrap().len(), first);
    tx.commit().await.unwrap();
}
