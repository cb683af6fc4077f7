#![recursion_limit = "512"]
//! Every page type, as Chromium renders it, checked by axe-core (WCAG 2.1 A and AA) at phone
//! and desktop sizes, with JavaScript off too (tests/browser/a11y.mjs). Needs Debian's
//! chromium and tests/browser/node_modules: `scripts/install-test-deps` installs both.

mod common;

use std::process::Command;

use common::oidc::{FC_SECRET, Idp, PORTAL_SECRET, console_provider};
use common::*;
use participe_core::domain::sealed::SecretKey;
use participe_core::fleet::registry;

const PLATFORM_KEY: &str = "la clé de plateforme des tests d'accessibilité, assez longue";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_type_passes_axe_core_in_headless_chromium() {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new(&format!("{root}/tests/browser/node_modules/axe-core")).exists(),
        "Chromium or axe-core is missing: run scripts/install-test-deps (the README's test command does)"
    );
    let url = fresh_database("a11y").await;
    // A real OpenID Connect provider: FranceConnect for the portal, ProConnect for the console.
    let idp = Idp::start(serde_json::json!({
        "marianne": { "email": "marianne.a11y@exemple.fr", "email_verified": true, "given_name": "Marianne", "family_name": "Dupont" },
        "paul": { "email": "paul.a11y@exemple.fr", "email_verified": true, "given_name": "Paul", "family_name": "Martin" },
    }))
    .await;
    let issuer = idp.issuer.clone();
    // Stripe configured (never called by these pages): the subscription page shows its form.
    let app = TestApp::spawn_configured(&url, 4, move |c| {
        c.stripe = Some(participe_web::StripeSettings {
            secret_key: participe_web::Secret::new("sk_test_a11y"),
            api_base: Some("http://127.0.0.1:9".into()),
        });
        c.secret_key = Some(SecretKey::from_env_value(PLATFORM_KEY).unwrap());
        c.franceconnect_issuer = issuer.clone();
        c.console_oidc = Some(console_provider(issuer));
        c.oidc_loopback = true;
    })
    .await;
    participe_server::demo::seed(&app.pool, &base()).await.unwrap();
    let suspended = app.create_tenant("ferme", "Commune Fermée").await;
    registry::set_status(
        &app.pool,
        &suspended.slug,
        participe_core::TenantStatus::Suspended,
        None,
        "test",
    )
    .await
    .unwrap();
    let broken = app.create_tenant("casse", "Commune en Panne").await;
    sqlx::query(&format!("drop schema {} cascade", broken.schema))
        .execute(&app.pool)
        .await
        .unwrap();
    let port = app.addr.port();
    let at = |host: &str, path: &str| format!("http://{host}.localhost:{port}{path}");

    // A signed-in staff member with a portal of their own, for the console's inner pages.
    let staff = app.browser();
    let address = format!("a11y-{}@mairie.test", random_suffix(6));
    let password = "une phrase de passe assez longue";
    staff
        .submit(
            "console.localhost",
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Agent Accessible"),
                ("email", &address),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await;
    let link = app.mail.wait_for(&address, 1).await.link("http://console.localhost");
    staff
        .get("console.localhost", link.split_once(&format!(":{port}")).unwrap().1)
        .await;
    let login = staff
        .submit(
            "console.localhost",
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", password)],
        )
        .await;
    let cookie = login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let slug = unique_slug("acces");
    let created = staff
        .submit(
            "console.localhost",
            "/nouveau-portail",
            "/nouveau-portail",
            &[("name", "Commune Accessible"), ("kind", "commune"), ("slug", &slug)],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let base = format!("/t/{slug}/dispositifs");
    let council = staff
        .submit(
            "console.localhost",
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[("kind", "conseil"), ("title", "Conseil des sages"), ("slug", "sages")],
        )
        .await;
    let council_path = council.header("location").to_string();
    staff
        .submit(
            "console.localhost",
            &council_path,
            &format!("{council_path}/membres"),
            &[
                ("name", "Jeanne Martin"),
                ("role", "Présidente"),
                ("quality", "Habitante"),
            ],
        )
        .await;
    let call = staff
        .submit(
            "console.localhost",
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "appel"),
                ("title", "Budget participatif"),
                ("slug", "budget"),
                ("opens_on", "2026-01-01"),
                ("themes", "Sport\nCulture"),
            ],
        )
        .await;
    let call_path = call.header("location").to_string();
    let agenda = format!("/t/{slug}/agenda");
    let meeting = staff
        .submit(
            "console.localhost",
            &format!("{agenda}/nouvelle"),
            &format!("{agenda}/nouvelle"),
            &[
                ("kind", "reunion"),
                ("title", "Réunion de lancement"),
                ("starts_at", "2030-09-15T18:00"),
                ("ends_at", "2030-09-15T20:00"),
                ("place", "Salle du conseil"),
                ("registration", "on"),
                ("capacity", "40"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(meeting.status, 303, "{}", meeting.body);
    let documents = format!("/t/{slug}/documents");
    let document = staff
        .submit_multipart(
            "console.localhost",
            &format!("{documents}/nouveau"),
            &format!("{documents}/nouveau"),
            &[
                ("title", "Compte rendu de la réunion de lancement"),
                ("category", "compte_rendu"),
                ("document_date", "2030-09-15"),
                ("published", "on"),
            ],
            Some(("file", "compte-rendu.pdf", b"%PDF-1.4\n%%EOF\n".to_vec())),
        )
        .await;
    assert_eq!(document.status, 303, "{}", document.body);
    let document_path = document.header("location").to_string();
    let meeting_path = meeting.header("location").to_string();
    // The demo's coming public meeting on the Nord portal, with a visitor's registration
    // waiting to be confirmed; its mail's link opens the cancellation page.
    let nord = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse("nord").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &nord).await.unwrap();
    let nord_meeting = participe_core::agenda::for_console(&mut tx, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "reunion")
        .expect("the demo's meeting")
        .id;
    participe_core::agenda::register(
        &mut tx,
        nord_meeting,
        &participe_core::agenda::Registrant::Visitor {
            name: "Visiteuse".into(),
            email: participe_core::domain::Email::parse("visiteuse@habitant.test").unwrap(),
        },
    )
    .await
    .unwrap();
    let nord_post = participe_core::news::latest(&mut tx, None, 1).await.unwrap()[0].id;
    let mut settings = participe_core::site::settings(&mut tx).await.unwrap();
    settings.stats_public = true;
    participe_core::site::update_settings(&mut tx, &settings).await.unwrap();
    tx.commit().await.unwrap();
    let registration_token: String = sqlx::query_scalar(
        "select payload->>'token' from public.job where kind = 'agenda_mail' order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let domains = format!("/t/{slug}/domaines");
    staff
        .submit(
            "console.localhost",
            &domains,
            &domains,
            &[("domain", "jeparticipe.commune-accessible.fr")],
        )
        .await;
    // A citizen of the Nord portal, signed in, for the participation pages.
    let citizen = app.browser();
    let citizen_address = format!("citoyen-{}@habitant.test", random_suffix(6));
    citizen
        .submit(
            "nord.localhost",
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Citoyenne Accessible"),
                ("email", &citizen_address),
                ("profile", "citoyen"),
                ("password", password),
                ("password_confirm", password),
                ("charter", "on"),
                ("charter_version", "1"),
            ],
        )
        .await;
    let link = app
        .mail
        .wait_for(&citizen_address, 1)
        .await
        // The demo's Nord has its own primary domain: mails link there.
        .link("http://jeparticipe.lenord.fr");
    citizen
        .get("nord.localhost", link.split_once(&format!(":{port}")).unwrap().1)
        .await;
    let login = citizen
        .submit(
            "nord.localhost",
            "/connexion",
            "/connexion",
            &[("email", &citizen_address), ("password", password)],
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    let citizen_cookie = login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let nord = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse("nord").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &nord).await.unwrap();
    let call_id = participe_core::dispositifs::by_slug(&mut tx, "colleges-de-demain")
        .await
        .unwrap()
        .unwrap()
        .id;
    let (items, _) = participe_core::participation::list(&mut tx, call_id, None, Default::default(), 1)
        .await
        .unwrap();
    let commented = items.iter().max_by_key(|c| c.comment_count).unwrap().id;
    tx.commit().await.unwrap();
    let contribution = format!("/participer/colleges-de-demain/contributions/{commented}");

    // FranceConnect on Nord's portal; one visitor back from it with no account yet, another
    // whose address has an account to link.
    let mut tx = participe_core::TenantTx::begin(&app.pool, &nord).await.unwrap();
    let fc_fields = participe_core::identity::ProviderFields {
        kind: "franceconnect",
        client_id: "fc",
        secret: FC_SECRET,
        enabled: true,
        ..Default::default()
    };
    let fc_input = participe_core::identity::ProviderInput::parse(&fc_fields, true, true).unwrap();
    let fc = participe_core::identity::create(&mut tx, &SecretKey::from_env_value(PLATFORM_KEY).unwrap(), &fc_input)
        .await
        .unwrap();
    let paul = participe_core::domain::Email::parse("paul.a11y@exemple.fr").unwrap();
    let paul_password = participe_core::domain::NewPassword::parse(password, password).unwrap();
    participe_core::citizens::sign_up(
        &mut tx,
        &participe_core::citizens::NewCitizen {
            email: &paul,
            display_name: "Paul",
            profile: participe_core::citizens::Profile::Citoyen,
            password: &paul_password,
            charter_version: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let back_from_franceconnect = |login: &'static str| {
        let app = &app;
        let idp = &idp;
        async move {
            let b = app.browser();
            let form = b.get("nord.localhost", "/connexion").await;
            let cookie = form
                .header("set-cookie")
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string();
            let start = b
                .post_raw(
                    "nord.localhost",
                    &format!("/connexion/fournisseur/{fc}"),
                    &[("csrf", &form.csrf())],
                )
                .await;
            let back = idp.login(&idp.agent(), start.header("location"), login).await;
            let path = back.split_once(&format!(":{port}")).unwrap().1.to_string();
            assert_eq!(b.get("nord.localhost", &path).await.status, 303);
            serde_json::json!([{ "name": "participe_session", "value": cookie, "url": format!("http://nord.localhost:{port}") }])
        }
    };
    let awaiting_account = back_from_franceconnect("marianne").await;
    // A provider already set up on the staff member's portal, for the console's list.
    let own = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(&slug).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
    let fields = participe_core::identity::ProviderFields {
        kind: "oidc",
        label: "Mon compte Région",
        issuer: &idp.issuer,
        client_id: "portal",
        secret: PORTAL_SECRET,
        scopes: "email profile",
        enabled: true,
    };
    let input = participe_core::identity::ProviderInput::parse(&fields, true, true).unwrap();
    participe_core::identity::create(&mut tx, &SecretKey::from_env_value(PLATFORM_KEY).unwrap(), &input)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let awaiting_link = back_from_franceconnect("paul").await;
    let as_citizen = serde_json::json!([{ "name": "participe_session", "value": citizen_cookie, "url": format!("http://nord.localhost:{port}") }]);

    // Something to moderate in the staff member's own portal.
    let own = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(&slug).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
    let own_call = participe_core::dispositifs::by_slug(&mut tx, "budget")
        .await
        .unwrap()
        .unwrap()
        .id;
    let pw = participe_core::domain::NewPassword::parse(password, password).unwrap();
    let e = participe_core::domain::Email::parse("signale@habitant.test").unwrap();
    let new = participe_core::citizens::NewCitizen {
        email: &e,
        display_name: "Auteur Signalé",
        profile: participe_core::citizens::Profile::Citoyen,
        password: &pw,
        charter_version: None,
    };
    let participe_core::citizens::SignUp::Created { citizen: author, .. } =
        participe_core::citizens::sign_up(&mut tx, &new).await.unwrap()
    else {
        panic!("new citizen")
    };
    let input = participe_core::participation::ContributionInput {
        title: "Un texte signalé".into(),
        body: "Son contenu, que la modération doit lire.".into(),
        theme_id: None,
    };
    let reported = participe_core::participation::create_contribution(&mut tx, own_call, author.id, &input)
        .await
        .unwrap();
    participe_core::participation::report(
        &mut tx,
        participe_core::participation::Target::Contribution(reported),
        author.id,
        participe_core::participation::Reason::Spam,
        "",
        3,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The EPCI's portal is read-only for an unpaid subscription (its banner is checked).
    let mel = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse("mel").unwrap())
        .await
        .unwrap()
        .unwrap();
    sqlx::query("update tenant set paid_until = current_date - 60 where id = $1")
        .bind(mel.id)
        .execute(&app.pool)
        .await
        .unwrap();
    participe_core::billing::standing::sweep(&app.pool, &Default::default(), Some(mel.id))
        .await
        .unwrap();

    // A day of traffic and a finished export, for the operator's page of the portal.
    let traffic = participe_core::traffic::Traffic::new();
    for i in 0..30u64 {
        traffic.record(nord.id, i == 0, std::time::Duration::from_millis(5 * i));
    }
    traffic.flush(&app.pool).await.unwrap();
    let export = participe_core::exports::request(&app.pool, &nord.slug, "test")
        .await
        .unwrap();
    participe_core::exports::run(&app.pool, &app.state.storage, export, false)
        .await
        .unwrap();

    // An operator, signed in with a fresh code.
    let ops_email = format!("ops-{}@participe.test", random_suffix(6));
    let created = participe_core::operators::create(
        &app.pool,
        &participe_core::domain::Email::parse(&ops_email).unwrap(),
        "Opérateur Accessible",
        &participe_core::domain::NewPassword::parse(password, password).unwrap(),
        "test",
    )
    .await
    .unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(created.totp_secret.clone())
            .to_bytes()
            .unwrap(),
        Some("Participe".into()),
        ops_email.clone(),
    )
    .unwrap();
    let operator = app.browser();
    let ops_login = operator
        .submit(
            "ops.localhost",
            "/connexion",
            "/connexion",
            &[
                ("email", &ops_email),
                ("password", password),
                ("code", &totp.generate_current().unwrap()),
            ],
        )
        .await;
    assert_eq!(ops_login.status, 303, "{}", ops_login.body);
    let ops_cookie = ops_login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let as_operator = serde_json::json!([{ "name": "participe_ops", "value": ops_cookie, "url": format!("http://ops.localhost:{port}") }]);

    let console_url = format!("http://console.localhost:{port}");
    let signed_in = serde_json::json!([{ "name": "participe_console", "value": cookie, "url": console_url }]);

    // Every component of the registry, with its demo content, in a dispositif of the staff
    // member's portal: its page on the portal, and its configuration in the console.
    let mut component_pages = Vec::new();
    for m in participe_core::components::REGISTRY {
        let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
        let id = participe_core::dispositifs::create(
            &mut tx,
            &participe_core::dispositifs::DispositifWrite {
                slug: format!("avec-{}", m.key),
                kind: m.hosts[0],
                title: format!("Dispositif avec « {} »", m.name),
                summary: String::new(),
                description: "Une démarche du quartier.".into(),
                opens_on: Some(time::OffsetDateTime::now_utc().date()),
                closes_on: None,
                rules: String::new(),
                themes: vec![],
            },
        )
        .await
        .unwrap();
        participe_core::dispositifs::set_status(&mut tx, id, participe_core::dispositifs::Status::Publie)
            .await
            .unwrap();
        let d = participe_core::dispositifs::by_id(&mut tx, id).await.unwrap().unwrap();
        let instance = participe_core::components::add(&mut tx, &d, m).await.unwrap();
        if let Some(demo) = m.demo {
            demo(&mut tx, &app.state.storage, &d).await.unwrap();
        }
        tx.commit().await.unwrap();
        component_pages.push(serde_json::json!({
            "name": format!("portail : composant {}", m.key), "url": at(&slug, &format!("/participer/{}/{}", d.slug, m.key)),
        }));
        component_pages.push(serde_json::json!({
            "name": format!("console : dispositif avec {}", m.key), "url": at("console", &format!("/t/{slug}/dispositifs/{id}")),
            "cookies": signed_in,
        }));
        let configure = format!("/t/{slug}/dispositifs/{id}/composants/{instance}");
        component_pages.push(serde_json::json!({
            "name": format!("console : configurer {}", m.key), "url": at("console", &configure), "cookies": signed_in,
        }));
        component_pages.push(serde_json::json!({
            "name": format!("console : retirer {}", m.key), "url": at("console", &format!("{configure}/retrait")), "cookies": signed_in,
        }));
        if m.key == "agenda" {
            component_pages.push(serde_json::json!({
                "name": "console : configurer, erreurs", "url": at("console", &configure), "cookies": signed_in,
                "status": 422, "submit": { "setting_titre": "t".repeat(81) },
            }));
        }
    }
    // The budget, as a voter of the staff member's portal sees it (every phase open: they
    // take the dispositif's dates) and as staff review it; its results shown live.
    let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
    let budget = participe_core::dispositifs::by_slug(&mut tx, "avec-budget")
        .await
        .unwrap()
        .unwrap();
    let on_ballot = participe_core::budgets::projects(&mut tx, budget.id).await.unwrap();
    let submitted =
        participe_core::budgets::proposals::list(&mut tx, budget.id, participe_core::budgets::proposals::Shown::All)
            .await
            .unwrap()
            .into_iter()
            .find(|p| !p.published)
            .unwrap()
            .id;
    let voter_address = "votante.a11y@exemple.fr";
    let voter_password = participe_core::domain::NewPassword::parse(password, password).unwrap();
    if let participe_core::citizens::SignUp::Created { confirm, .. } = participe_core::citizens::sign_up(
        &mut tx,
        &participe_core::citizens::NewCitizen {
            email: &participe_core::domain::Email::parse(voter_address).unwrap(),
            display_name: "Votante",
            profile: participe_core::citizens::Profile::Citoyen,
            password: &voter_password,
            charter_version: None,
        },
    )
    .await
    .unwrap()
    {
        participe_core::citizens::confirm_email(&mut tx, confirm.as_str())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let own_host = format!("{slug}.localhost");
    let voter_login = app
        .browser()
        .submit(
            &own_host,
            "/connexion",
            "/connexion",
            &[("email", voter_address), ("password", password)],
        )
        .await;
    assert_eq!(voter_login.status, 303, "{}", voter_login.body);
    let voter_cookie = voter_login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let as_voter = serde_json::json!([{ "name": "participe_session", "value": voter_cookie, "url": format!("http://{own_host}:{port}") }]);
    let budget_base = format!("/participer/{}/budget", budget.slug);
    let budget_console = format!("/t/{slug}/dispositifs/{}/budget", budget.id);
    let one_choice = serde_json::Value::Object(serde_json::Map::from_iter([(
        format!("p_{}", on_ballot[0].id),
        serde_json::Value::Bool(true),
    )]));
    let roubaix = registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse("roubaix").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &roubaix).await.unwrap();
    let roubaix_budget = participe_core::dispositifs::by_slug(&mut tx, "budget-participatif-2027")
        .await
        .unwrap()
        .unwrap();
    let not_feasible = participe_core::budgets::proposals::list(
        &mut tx,
        roubaix_budget.id,
        participe_core::budgets::proposals::Shown::Public,
    )
    .await
    .unwrap()
    .into_iter()
    .find(|p| p.feasibility.as_deref() == Some("non_faisable"))
    .unwrap()
    .id;
    tx.commit().await.unwrap();
    let instance = {
        let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
        let i = participe_core::components::of(&mut tx, budget.id)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.key() == "budget")
            .unwrap();
        tx.commit().await.unwrap();
        i.id
    };
    let live = staff
        .submit(
            "console.localhost",
            &format!("/t/{slug}/dispositifs/{}/composants/{instance}", budget.id),
            &format!("/t/{slug}/dispositifs/{}/composants/{instance}", budget.id),
            &[("setting_resultats_en_direct", "on")],
        )
        .await;
    assert_eq!(live.status, 303, "{}", live.body);
    // The vote, the same way: a ballot, a ballot with an unanswered question, live results.
    let mut tx = participe_core::TenantTx::begin(&app.pool, &own).await.unwrap();
    let vote = participe_core::dispositifs::by_slug(&mut tx, "avec-vote")
        .await
        .unwrap()
        .unwrap();
    let first_question = participe_core::components::vote::questions(&mut tx, vote.id)
        .await
        .unwrap()[0]
        .id;
    let vote_instance = participe_core::components::of(&mut tx, vote.id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == "vote")
        .unwrap()
        .id;
    tx.commit().await.unwrap();
    let configure_vote = format!("/t/{slug}/dispositifs/{}/composants/{vote_instance}", vote.id);
    let live = staff
        .submit(
            "console.localhost",
            &configure_vote,
            &configure_vote,
            &[
                ("setting_resultats_en_direct", "on"),
                ("setting_residence", "territoire"),
                ("setting_nationalite_ue", "on"),
                ("setting_age_minimal", "16"),
            ],
        )
        .await;
    assert_eq!(live.status, 303, "{}", live.body);
    let one_answer = serde_json::Value::Object(serde_json::Map::from_iter([(
        format!("q_{first_question}"),
        serde_json::Value::Bool(true),
    )]));
    component_pages.extend([
        serde_json::json!({ "name": "portail : vote, bulletin", "url": at(&slug, "/participer/avec-vote/vote/bulletin"), "cookies": as_voter }),
        serde_json::json!({ "name": "portail : vote, bulletin incomplet", "url": at(&slug, "/participer/avec-vote/vote/bulletin"), "cookies": as_voter,
            "status": 422, "submit": one_answer }),
        serde_json::json!({ "name": "portail : vote, résultats (en direct)", "url": at(&slug, "/participer/avec-vote/vote/resultats") }),
        serde_json::json!({ "name": "console : communes du territoire", "url": at("console", &format!("/t/{slug}/communes")), "cookies": signed_in }),
        serde_json::json!({ "name": "console : communes du territoire, erreurs", "url": at("console", &format!("/t/{slug}/communes")), "cookies": signed_in,
            "status": 422, "submit": { "communes": "5951 ; Lys-lez-Lannoy" } }),
        serde_json::json!({ "name": "console : vote, bulletin papier", "url": at("console", &format!("/t/{slug}/dispositifs/{}/vote/papier", vote.id)), "cookies": signed_in }),
        serde_json::json!({ "name": "console : vote, bulletin papier, erreurs", "url": at("console", &format!("/t/{slug}/dispositifs/{}/vote/papier", vote.id)), "cookies": signed_in,
            "status": 422, "submit": { "listed_as": "" } }),
        serde_json::json!({ "name": "console : vote, participation et résultats", "url": at("console", &format!("/t/{slug}/dispositifs/{}/vote/resultats", vote.id)), "cookies": signed_in }),
    ]);
    component_pages.extend([
        serde_json::json!({ "name": "portail : budget participatif", "url": at("roubaix", "/participer/budget-participatif-2027") }),
        serde_json::json!({ "name": "portail : budget, projet non réalisable", "url": at("roubaix", &format!("/participer/budget-participatif-2027/budget/projets/{not_feasible}")) }),
        serde_json::json!({ "name": "portail : budget, proposer un projet", "url": at(&slug, &format!("{budget_base}/proposer")), "cookies": as_voter }),
        serde_json::json!({ "name": "portail : budget, proposer un projet, erreurs", "url": at(&slug, &format!("{budget_base}/proposer")), "cookies": as_voter,
            "status": 422, "submit": { "title": "", "cost": "beaucoup" } }),
        serde_json::json!({ "name": "portail : budget, un projet", "url": at(&slug, &format!("{budget_base}/projets/{}", on_ballot[0].id)) }),
        serde_json::json!({ "name": "portail : budget, voter", "url": at(&slug, &format!("{budget_base}/vote")), "cookies": as_voter }),
        serde_json::json!({ "name": "portail : budget, panier trop petit", "url": at(&slug, &format!("{budget_base}/vote")), "cookies": as_voter,
            "submit": one_choice, "button": "maj" }),
        serde_json::json!({ "name": "portail : résultats du budget (en direct)", "url": at(&slug, &format!("{budget_base}/resultats")) }),
        serde_json::json!({ "name": "console : budget, projet à étudier", "url": at("console", &format!("{budget_console}/projets/{submitted}")), "cookies": signed_in }),
        serde_json::json!({ "name": "console : budget, projet à étudier, erreurs", "url": at("console", &format!("{budget_console}/projets/{submitted}")), "cookies": signed_in,
            "status": 422, "submit": { "explanation": "", "cost": "beaucoup" } }),
        serde_json::json!({ "name": "console : budget, bulletin papier", "url": at("console", &format!("{budget_console}/papier")), "cookies": signed_in }),
        serde_json::json!({ "name": "console : budget, bulletin papier, erreurs", "url": at("console", &format!("{budget_console}/papier")), "cookies": signed_in,
            "status": 422, "submit": { "listed_as": "" } }),
        serde_json::json!({ "name": "console : participation et résultats du budget", "url": at("console", &format!("{budget_console}/resultats")), "cookies": signed_in }),
    ]);

    // The reports mail's unsubscribe page, as a moderator opens it from the mail (signed out).
    let unsubscribe: uuid::Uuid = sqlx::query_scalar(
        "select m.unsubscribe_token from membership m join tenant t on t.id = m.tenant_id where t.slug = $1 limit 1",
    )
    .bind(&slug)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut pages = serde_json::json!([
        { "name": "portail : accueil", "url": at("nord", "/") },
        { "name": "portail : accueil (EPCI, en consultation seule)", "url": at("mel", "/") },
        { "name": "portail : page (charte)", "url": at("nord", "/pages/charte") },
        { "name": "portail : page libre", "url": at("roubaix", "/pages/conseils-de-quartier") },
        { "name": "portail : participer", "url": at("nord", "/participer") },
        { "name": "portail : appel à contributions", "url": at("nord", "/participer/colleges-de-demain") },
        { "name": "portail : conseil", "url": at("nord", "/participer/conseil-departemental-des-jeunes") },
        { "name": "portail : dispositif terminé", "url": at("nord", "/participer/mobilites-rurales-2025") },
        { "name": "portail : agenda vide", "url": at("roubaix", "/agenda") },
        { "name": "portail : agenda", "url": at("nord", "/agenda") },
        { "name": "portail : agenda, rencontres passées", "url": at("nord", "/agenda?periode=passees") },
        { "name": "portail : rencontre et inscription", "url": at("nord", &format!("/agenda/{nord_meeting}")) },
        { "name": "portail : rencontre, inscription refusée", "url": at("nord", &format!("/agenda/{nord_meeting}")), "status": 422,
          "submit": { "name": "", "email": "pas-une-adresse" } },
        { "name": "portail : rencontre (connectée)", "url": at("nord", &format!("/agenda/{nord_meeting}")), "cookies": as_citizen },
        { "name": "portail : annuler une inscription", "url": at("nord", &format!("/agenda/desinscription/{registration_token}")) },
        { "name": "portail : actualités vides", "url": at("mel", "/actualites") },
        { "name": "portail : actualités", "url": at("nord", "/actualites") },
        { "name": "portail : une actualité", "url": at("nord", &format!("/actualites/{nord_post}")) },
        { "name": "portail : recherche", "url": at("nord", "/recherche?q=cantine") },
        { "name": "portail : données ouvertes", "url": at("nord", "/donnees") },
        { "name": "portail : statistiques publiques", "url": at("nord", "/statistiques") },
        { "name": "portail : recherche sans résultat", "url": at("nord", "/recherche?q=tramway") },
        { "name": "portail : documents (aucun)", "url": at("nord", "/documents") },
        { "name": "portail : documents", "url": at(&slug, "/documents") },
        { "name": "portail : page introuvable", "url": at("nord", "/nulle-part"), "status": 404 },
        { "name": "portail suspendu", "url": at(suspended.slug.as_str(), "/"), "status": 503 },
        { "name": "erreur inattendue", "url": at(broken.slug.as_str(), "/"), "status": 500 },
        { "name": "portail inconnu", "url": at("inconnu", "/"), "status": 404 },
        { "name": "portail : inscription", "url": at("nord", "/inscription") },
        { "name": "portail : inscription avec erreurs", "url": at("nord", "/inscription"), "status": 422,
          "submit": { "display_name": "", "email": "pas-une-adresse", "password": "court", "password_confirm": "autre" } },
        { "name": "portail : connexion", "url": at("nord", "/connexion") },
        { "name": "portail : connexion refusée", "url": at("nord", "/connexion"), "status": 422,
          "submit": { "email": "personne@habitant.test", "password": "mauvais mot de passe" } },
        { "name": "portail : mot de passe oublié", "url": at("nord", "/mot-de-passe-oublie") },
        { "name": "portail : nouveau mot de passe", "url": at("nord", "/reinitialiser/jeton") },
        { "name": "portail : lien expiré", "url": at("nord", "/confirmer/jeton-invalide"), "status": 404 },
        { "name": "portail : contribution et commentaires (visiteur)", "url": at("nord", &contribution) },
        { "name": "portail : contribution et commentaires (connectée)", "url": at("nord", &contribution), "cookies": as_citizen },
        { "name": "portail : appel à contributions (connectée)", "url": at("nord", "/participer/colleges-de-demain"), "cookies": as_citizen },
        { "name": "portail : contribuer", "url": at("nord", "/participer/colleges-de-demain/contribuer"), "cookies": as_citizen },
        { "name": "portail : contribuer, erreurs", "url": at("nord", "/participer/colleges-de-demain/contribuer"), "cookies": as_citizen,
          "status": 422, "submit": { "title": "", "body": "" } },
        { "name": "portail : signaler", "url": at("nord", &format!("/signaler/contribution/{commented}")), "cookies": as_citizen },
        { "name": "portail : signaler, erreurs", "url": at("nord", &format!("/signaler/contribution/{commented}")), "cookies": as_citizen,
          "status": 422, "submit": { "detail": "" } },
        { "name": "portail : mon compte", "url": at("nord", "/compte"), "cookies": as_citizen },
        { "name": "portail : supprimer mon compte", "url": at("nord", "/compte/suppression"), "cookies": as_citizen },
        { "name": "portail : accepter la charte", "url": at("nord", "/charte?suite=/participer"), "cookies": as_citizen },
        { "name": "console : accueil", "url": at("console", "/") },
        { "name": "console : inscription", "url": at("console", "/inscription") },
        { "name": "console : inscription avec erreurs", "url": at("console", "/inscription"), "status": 422,
          "submit": { "display_name": "", "email": "pas-une-adresse", "password": "court", "password_confirm": "autre" } },
        { "name": "console : connexion", "url": at("console", "/connexion") },
        { "name": "console : connexion refusée", "url": at("console", "/connexion"), "status": 422,
          "submit": { "email": "personne@mairie.test", "password": "mauvais mot de passe" } },
        { "name": "console : mot de passe oublié", "url": at("console", "/mot-de-passe-oublie") },
        { "name": "console : nouveau mot de passe", "url": at("console", "/reinitialiser/jeton") },
        { "name": "console : lien expiré", "url": at("console", "/confirmer/jeton-invalide"), "status": 404 },
        { "name": "console : mes portails", "url": at("console", "/"), "cookies": signed_in },
        { "name": "console : mon compte (double authentification)", "url": at("console", "/compte"), "cookies": signed_in },
        { "name": "console : créer un portail", "url": at("console", "/nouveau-portail"), "cookies": signed_in },
        { "name": "console : créer un portail, erreurs", "url": at("console", "/nouveau-portail"), "cookies": signed_in, "status": 422,
          "submit": { "name": "", "insee_code": "123", "population": "beaucoup", "slug": "Pas Valide" } },
        { "name": "console : tableau de bord du portail", "url": at("console", &format!("/t/{slug}/")), "cookies": signed_in },
        { "name": "console : paramètres", "url": at("console", &format!("/t/{slug}/parametres")), "cookies": signed_in },
        { "name": "console : paramètres, erreurs", "url": at("console", &format!("/t/{slug}/parametres")), "cookies": signed_in,
          "status": 422, "submit": { "autohide_threshold": "0" } },
        { "name": "console : journal", "url": at("console", &format!("/t/{slug}/journal")), "cookies": signed_in },
        { "name": "console : équipe", "url": at("console", &format!("/t/{slug}/equipe")), "cookies": signed_in },
        { "name": "console : équipe, invitation refusée", "url": at("console", &format!("/t/{slug}/equipe")), "cookies": signed_in,
          "status": 422, "submit": { "email": "pas une adresse" } },
        { "name": "console : apparence", "url": at("console", &format!("/t/{slug}/apparence")), "cookies": signed_in },
        { "name": "console : apparence, couleur illisible", "url": at("console", &format!("/t/{slug}/apparence")), "cookies": signed_in,
          "status": 422, "submit": { "primary_colour": "#ffd700" } },
        { "name": "console : pages", "url": at("console", &format!("/t/{slug}/pages")), "cookies": signed_in },
        { "name": "console : nouvelle page", "url": at("console", &format!("/t/{slug}/pages/nouvelle")), "cookies": signed_in },
        { "name": "console : nouvelle page, erreurs", "url": at("console", &format!("/t/{slug}/pages/nouvelle")), "cookies": signed_in,
          "status": 422, "submit": { "title": "", "slug": "Pas Valide" } },
        { "name": "console : rédiger la charte", "url": at("console", &format!("/t/{slug}/pages/nouvelle?kind=charte")), "cookies": signed_in },
        { "name": "console : dispositifs", "url": at("console", &format!("/t/{slug}/dispositifs")), "cookies": signed_in },
        { "name": "console : nouveau dispositif", "url": at("console", &format!("/t/{slug}/dispositifs/nouveau")), "cookies": signed_in },
        { "name": "console : nouveau dispositif, erreurs", "url": at("console", &format!("/t/{slug}/dispositifs/nouveau")), "cookies": signed_in,
          "status": 422, "submit": { "title": "", "slug": "Pas Valide" } },
        { "name": "console : conseil et sa composition", "url": at("console", &council_path), "cookies": signed_in },
        { "name": "console : appel à contributions", "url": at("console", &call_path), "cookies": signed_in },
        { "name": "console : agenda", "url": at("console", &agenda), "cookies": signed_in },
        { "name": "console : nouvelle rencontre", "url": at("console", &format!("{agenda}/nouvelle")), "cookies": signed_in },
        { "name": "console : nouvelle rencontre, erreurs", "url": at("console", &format!("{agenda}/nouvelle")), "cookies": signed_in,
          "status": 422, "submit": { "title": "", "starts_at": "", "ends_at": "", "online_url": "pas une adresse" } },
        { "name": "console : rencontre et inscriptions", "url": at("console", &meeting_path), "cookies": signed_in },
        { "name": "console : actualités", "url": at("console", &format!("/t/{slug}/actualites")), "cookies": signed_in },
        { "name": "console : nouvelle actualité", "url": at("console", &format!("/t/{slug}/actualites/nouvelle")), "cookies": signed_in },
        { "name": "console : nouvelle actualité, erreurs", "url": at("console", &format!("/t/{slug}/actualites/nouvelle")), "cookies": signed_in,
          "status": 422, "submit": { "title": "", "published_at": "" } },
        { "name": "console : statistiques", "url": at("console", &format!("/t/{slug}/statistiques")), "cookies": signed_in },
        { "name": "console : documents", "url": at("console", &documents), "cookies": signed_in },
        { "name": "console : nouveau document", "url": at("console", &format!("{documents}/nouveau")), "cookies": signed_in },
        { "name": "console : nouveau document, erreurs", "url": at("console", &format!("{documents}/nouveau")), "cookies": signed_in,
          "status": 422, "submit": { "title": "", "document_date": "" } },
        { "name": "console : un document", "url": at("console", &document_path), "cookies": signed_in },
        { "name": "console : domaines", "url": at("console", &format!("/t/{slug}/domaines")), "cookies": signed_in },
        { "name": "console : domaines, erreur", "url": at("console", &format!("/t/{slug}/domaines")), "cookies": signed_in,
          "status": 422, "submit": { "domain": "https://pas un domaine" } },
        { "name": "console : modération", "url": at("console", &format!("/t/{slug}/moderation")), "cookies": signed_in },
        { "name": "console : abonnement", "url": at("console", &format!("/t/{slug}/abonnement")), "cookies": signed_in },
        { "name": "portail : en anglais", "url": at("nord", "/langue/en?suite=/participer"), "lang": "en" },
        { "name": "console : participants", "url": at("console", &format!("/t/{slug}/participants")), "cookies": signed_in },
        { "name": "portail : terminer un compte FranceConnect", "url": at("nord", "/connexion/fournisseur/inscription"), "cookies": awaiting_account },
        { "name": "portail : terminer un compte FranceConnect, erreurs", "url": at("nord", "/connexion/fournisseur/inscription"), "cookies": awaiting_account,
          "status": 422, "submit": { "display_name": " " } },
        { "name": "portail : relier un compte", "url": at("nord", "/connexion/fournisseur/relier"), "cookies": awaiting_link },
        { "name": "portail : connexion par fournisseur impossible", "url": at("nord", "/connexion/fournisseur/retour?code=x&state=y"), "status": 400 },
        { "name": "console : connexion des citoyens", "url": at("console", &format!("/t/{slug}/connexion-citoyens")), "cookies": signed_in },
        { "name": "console : connexion des citoyens, erreurs", "url": at("console", &format!("/t/{slug}/connexion-citoyens")), "cookies": signed_in,
          "status": 422, "submit": { "client_id": "portail", "issuer": "http://pas-https.exemple.fr" } },
        { "name": "console : invitation expirée", "url": at("console", "/invitation/jeton-invalide"), "status": 404 },
        { "name": "console : courriels de signalement", "url": at("console", &format!("/desabonnement/{unsubscribe}")) },
        { "name": "exploitation : connexion", "url": at("ops", "/") },
        { "name": "exploitation : connexion refusée", "url": at("ops", "/connexion"), "status": 422,
          "submit": { "email": "personne@participe.test", "password": "mauvais mot de passe", "code": "000000" } },
        { "name": "exploitation : portails", "url": at("ops", "/"), "cookies": as_operator },
        { "name": "exploitation : portails filtrés", "url": at("ops", "/?q=nord&statut=active"), "cookies": as_operator },
        { "name": "exploitation : un portail", "url": at("ops", "/portails/nord"), "cookies": as_operator },
        { "name": "exploitation : échéance refusée", "url": at("ops", "/portails/nord"), "cookies": as_operator,
          "status": 422, "submit": { "paid_until": "1999-12-31" } },
        { "name": "exploitation : portails en essai", "url": at("ops", "/?facturation=trial"), "cookies": as_operator },
        { "name": "exploitation : suspension sans motif", "url": at("ops", "/portails/roubaix"), "cookies": as_operator,
          "status": 422, "submit": { "reason": " " } },
        { "name": "exploitation : courriels", "url": at("ops", "/courriels"), "cookies": as_operator },
        { "name": "exploitation : tâches de fond", "url": at("ops", "/taches"), "cookies": as_operator },
        { "name": "exploitation : santé (un schéma manquant)", "url": at("ops", "/sante"), "cookies": as_operator },
    ]);
    pages.as_array_mut().unwrap().extend(component_pages);
    // A11Y_ONLY=<text>[,<text>…]: only the pages whose name holds one, while working on them.
    if let Ok(only) = std::env::var("A11Y_ONLY") {
        pages.as_array_mut().unwrap().retain(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| only.split(',').any(|o| n.contains(o)))
        });
    }
    let count = pages.as_array().unwrap().len();
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), pages.to_string()).unwrap();

    let output = tokio::task::spawn_blocking({
        let list = list.path().to_path_buf();
        move || {
            Command::new("node")
                .arg(format!("{root}/tests/browser/a11y.mjs"))
                .arg(list)
                .output()
                .expect("run node")
        }
    })
    .await
    .unwrap();

    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "accessibility check failed:\n{report}");
    assert!(report.contains(&format!("a11y: {count} passed, 0 failed")), "{report}");
}
