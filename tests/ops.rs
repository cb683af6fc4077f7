//! The operator console as operators use it, and as nobody else can: accounts made on the
//! command line with a mandatory second factor, sign-in, the tenants table, suspension with
//! a reason the tenant's admins see, the outbox, and every ops route refused to others.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::ops::*;
use common::*;
use participe_core::operators;

const PASSWORD: &str = OPERATOR_PASSWORD;

#[tokio::test]
async fn operators_are_created_on_the_command_line_with_the_password_on_stdin() {
    let url = fresh_database("ops").await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_participe"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["operator", "create", "--email", "garde@participe.test"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("operator garde@participe.test created"));
    assert!(text.contains("otpauth://totp/"), "{text}");
    assert!(!text.contains(PASSWORD) && !String::from_utf8_lossy(&out.stderr).contains(PASSWORD));

    let again = run(
        &["operator", "create", "--email", "garde@participe.test"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("existe déjà"), "{err}");

    let short = run(&["operator", "create", "--email", "autre@participe.test"], "court\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("12 caractères"));
    let flag = run(
        &[
            "operator",
            "create",
            "--email",
            "x@participe.test",
            "--password",
            PASSWORD,
        ],
        "",
    );
    assert_eq!(flag.status.code(), Some(2), "there is no password flag");
}

#[tokio::test]
async fn an_operator_signs_in_with_a_fresh_code_and_a_used_code_is_refused() {
    let app = TestApp::spawn().await;
    let (email, secret) = operator(&app).await;
    let b = app.browser();
    assert_eq!(b.get(OPS, "/").await.status, 303, "the table asks to sign in first");
    let no_code = b
        .submit(
            OPS,
            "/connexion",
            "/connexion",
            &[("email", &email), ("password", PASSWORD), ("code", "")],
        )
        .await;
    assert_eq!(no_code.status, 422);
    assert!(no_code.body.contains(&email), "the address typed is kept");
    let wrong = b
        .submit(
            OPS,
            "/connexion",
            "/connexion",
            &[
                ("email", &email),
                ("password", "pas le bon"),
                ("code", &code(&secret, &email, 0)),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    let fresh = code(&secret, &email, 0);
    let ok = b
        .submit(
            OPS,
            "/connexion",
            "/connexion",
            &[("email", &email), ("password", PASSWORD), ("code", &fresh)],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(b.get(OPS, "/").await.status, 200);

    let other = app.browser();
    let replay = other
        .submit(
            OPS,
            "/connexion",
            "/connexion",
            &[("email", &email), ("password", PASSWORD), ("code", &fresh)],
        )
        .await;
    assert_eq!(replay.status, 422, "a code serves once");
    let log = operators::audit_log(&app.pool, None, 10).await.unwrap();
    assert!(
        log.iter()
            .any(|l| l.action == "operator.sign_in" && l.actor == format!("operator:{email}"))
    );
}

#[tokio::test]
async fn the_tenants_table_searches_filters_and_an_operator_suspends_with_a_reason() {
    let app = TestApp::spawn().await;
    let (b, email) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("opsville", "Commune d'Opsville").await;
    let other = app.create_tenant("autreville", "Commune d'Autreville").await;
    let table = b.get(OPS, &format!("/?q={}", tenant.slug)).await;
    assert_eq!(table.status, 200);
    assert!(table.text().contains("Commune d'Opsville"));
    assert!(!table.text().contains("Commune d'Autreville"));

    let page_path = format!("/portails/{}", tenant.slug);
    let page = b.get(OPS, &page_path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Commune d'Opsville");
    let refused = b
        .submit(
            OPS,
            &page_path,
            &format!("{page_path}/statut"),
            &[("action", "suspendre"), ("reason", " ")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("reason").is_some());
    let done = b
        .submit(
            OPS,
            &page_path,
            &format!("{page_path}/statut"),
            &[("action", "suspendre"), ("reason", "Impayé depuis six mois")],
        )
        .await;
    assert_eq!(done.status, 303);
    app.eventually(|| async {
        app.browser()
            .get(&format!("{}.localhost", tenant.slug), "/")
            .await
            .status
            == 503
    })
    .await;
    let suspended = b.get(OPS, "/?statut=suspended").await;
    assert!(suspended.text().contains("Commune d'Opsville"));
    assert!(!suspended.text().contains(other.name.as_str()));
    let page = b.get(OPS, &page_path).await;
    assert!(page.text().contains("Impayé depuis six mois"));
    // The tenant's admins read why on their dashboard.
    let admin = app.staff_member(&tenant, participe_core::staff::Role::Admin).await;
    let dashboard = admin.get("console.localhost", &format!("/t/{}/", tenant.slug)).await;
    assert!(
        dashboard.plain().contains("motif : Impayé depuis six mois"),
        "{}",
        dashboard.plain()
    );
    assert!(
        page.text().contains(&format!("operator:{email}")),
        "the platform log says who"
    );
    assert!(page.text().contains("tenant.suspend"));

    let resumed = b
        .submit(
            OPS,
            &page_path,
            &format!("{page_path}/statut"),
            &[("action", "reprendre")],
        )
        .await;
    assert_eq!(resumed.status, 303);
    app.eventually(|| async {
        app.browser()
            .get(&format!("{}.localhost", tenant.slug), "/")
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(b.get(OPS, "/portails/nulle-part").await.status, 404);
}

#[tokio::test]
async fn nobody_but_a_signed_in_operator_reaches_an_ops_page_or_action() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("garde", "Commune Gardée").await;
    let slug = tenant.slug.to_string();
    let gets = [
        "/".to_string(),
        format!("/portails/{slug}"),
        format!("/portails/{slug}/exports/1"),
        "/sante".to_string(),
        "/taches".to_string(),
        "/courriels".to_string(),
        "/courriels/1-a.eml".to_string(),
    ];

    // A visitor, a console staff member, a citizen: all sent to the sign-in page.
    let visitor = app.browser();
    for path in &gets {
        let page = visitor.get(OPS, path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.header("location"), "/connexion");
    }
    // A signed-in admin of the very tenant.
    let staff = app.staff_member(&tenant, participe_core::staff::Role::Admin).await;
    for path in &gets {
        assert_eq!(
            staff.get(OPS, path).await.status,
            303,
            "console sessions mean nothing here: {path}"
        );
    }
    // A form posted without an operator session does nothing.
    let sign_in_page = visitor.get(OPS, "/connexion").await;
    let forged = visitor
        .post_raw(
            OPS,
            &format!("/portails/{slug}/statut"),
            &[
                ("action", "suspendre"),
                ("reason", "pirate"),
                ("csrf", &sign_in_page.csrf()),
            ],
        )
        .await;
    assert_eq!(forged.status, 303);
    assert_eq!(forged.header("location"), "/connexion");
    for action in [
        format!("/portails/{slug}/facturation"),
        format!("/portails/{slug}/exports"),
        "/taches/1/relance".to_string(),
    ] {
        let forged = staff
            .post_raw(
                OPS,
                &action,
                &[
                    ("plan", "plus_de100000"),
                    ("paid_until", "2099-01-01"),
                    ("csrf", &sign_in_page.csrf()),
                ],
            )
            .await;
        assert_eq!(forged.header("location"), "/connexion", "{action}");
    }
    let exports: i64 = sqlx::query_scalar("select count(*) from tenant_export where tenant_id = $1")
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let plan: Option<String> = sqlx::query_scalar("select plan from tenant where id = $1")
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((exports, plan), (0, None), "nothing was done");
    let t = participe_core::fleet::registry::find_by_slug(&app.pool, &tenant.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.status, participe_core::TenantStatus::Active);

    // An operator's cookie works on the ops host only.
    let (operator, _) = signed_in_operator(&app).await;
    assert_eq!(operator.get(OPS, "/").await.status, 200);
    assert_eq!(operator.get("console.localhost", "/compte").await.status, 303);
}

#[tokio::test]
async fn operators_read_the_outbox_when_no_smtp_server_is_configured() {
    let outbox = tempfile::tempdir().unwrap();
    // A database of its own: its worker is then the only one to take its mail jobs.
    let url = fresh_database("outbox").await;
    let app = TestApp::spawn_with_outbox(&url, outbox.path().to_path_buf()).await;
    let (b, _) = signed_in_operator(&app).await;
    let empty = b.get(OPS, "/courriels").await;
    assert_eq!(empty.status, 200);
    assert!(empty.plain().contains("La boîte d'envoi est vide"));

    // A staff sign-up writes its confirmation mail to the outbox.
    let address = format!("nouvelle-{}@mairie.test", random_suffix(6));
    app.browser()
        .submit(
            "console.localhost",
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Élodie Été"),
                ("email", &address),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    let mut listed = String::new();
    for _ in 0..100 {
        listed = b.get(OPS, "/courriels").await.body;
        if listed.contains(&address) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(listed.contains(&address), "{listed}");
    assert!(
        common::unescape(&listed).contains("Confirmez votre adresse — Participe"),
        "subjects are decoded"
    );
    let link = listed
        .split("href=\"/courriels/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mail = b.get(OPS, &format!("/courriels/{}", common::unescape(&link))).await;
    assert_eq!(mail.status, 200);
    assert!(
        mail.text().contains("/confirmer/"),
        "the mail's text, decoded: {}",
        mail.text()
    );
    assert_eq!(b.get(OPS, "/courriels/..%2F..%2Fetc%2Fpasswd").await.status, 404);
    assert_eq!(b.get(OPS, "/courriels/nope.eml").await.status, 404);
}

#[tokio::test]
async fn the_health_page_names_the_schemas_that_need_an_operator() {
    let url = fresh_database("sante").await;
    let app = TestApp::spawn_on(&url, 4).await;
    let fine = app.create_tenant("sain", "Commune Saine").await;
    let broken = app.create_tenant("malade", "Commune Malade").await;
    let (b, _) = signed_in_operator(&app).await;
    let page = b.get(OPS, "/sante").await;
    assert_eq!(page.status, 200);
    assert!(page.plain().contains("Les 2 schémas sont à jour"), "{}", page.plain());
    sqlx::query(&format!("drop schema {} cascade", broken.schema))
        .execute(&app.pool)
        .await
        .unwrap();
    let page = b.get(OPS, "/sante").await;
    assert!(
        page.plain().contains("1 schéma(s) sur 2 demandent une intervention"),
        "{}",
        page.plain()
    );
    assert!(page.text().contains(broken.slug.as_str()) && !page.text().contains(&format!("/portails/{}\"", fine.slug)));
    assert!(page.plain().contains("schéma ou historique introuvable"));
    assert!(page.plain().contains("Aucun portail n'a servi au moins 20 requêtes"));

    // The slowest portals of the day, slowest first; a portal with few requests is not
    // ranked.
    let traffic = participe_core::traffic::Traffic::new();
    for _ in 0..40 {
        traffic.record(fine.id, false, std::time::Duration::from_millis(30));
        traffic.record(broken.id, false, std::time::Duration::from_millis(700));
    }
    let barely = app.create_tenant("rare", "Commune Rarement Visitée").await;
    traffic.record(barely.id, true, std::time::Duration::from_secs(20));
    traffic.flush(&app.pool).await.unwrap();
    let page = b.get(OPS, "/sante").await;
    let plain = page.plain();
    let slow = &plain[plain.find("Portails les plus lents (24 h)").unwrap()..];
    let slow = &slow[..slow.find("Tâches de fond").unwrap()];
    assert!(slow.contains("Commune Malade 40 0 (0.0 %) ≤ 1000 ms"), "{slow}");
    assert!(slow.contains("Commune Saine 40 0 (0.0 %) ≤ 50 ms"), "{slow}");
    assert!(slow.find("Commune Malade") < slow.find("Commune Saine"));
    assert!(!slow.contains("Rarement"), "{slow}");
    assert_eq!(app.browser().get(OPS, "/sante").await.status, 303, "operators only");
}

/// The plain text of the tenants table's row for `slug`.
fn row_of(page: &Page, slug: &str) -> String {
    let body = &page.body;
    let at = body
        .find(&format!("<span class=\"muted\">{slug}</span>"))
        .unwrap_or_else(|| panic!("no row for {slug}"));
    let start = body[..at].rfind("<tr>").unwrap();
    let end = at + body[at..].find("</tr>").unwrap();
    Page {
        status: 200,
        headers: Default::default(),
        body: body[start..end].to_string(),
    }
    .plain()
}

#[tokio::test]
async fn each_portal_s_traffic_is_counted_and_shown_to_operators() {
    use participe_core::traffic::Traffic;
    use std::time::Duration;

    let app = TestApp::spawn().await;
    let (b, _) = signed_in_operator(&app).await;
    let busy = app.create_tenant("frequente", "Commune Fréquentée").await;
    let quiet = app.create_tenant("calme", "Commune Calme").await;
    let host = format!("{}.localhost", busy.slug);
    let visitor = app.browser();
    for _ in 0..5 {
        assert_eq!(visitor.get(&host, "/").await.status, 200);
    }
    assert_eq!(
        visitor.get(&host, "/nulle-part").await.status,
        404,
        "a visitor's mistake, not an error"
    );
    app.state.traffic.flush(&app.pool).await.unwrap();
    // Another process's minute, slow and failing: counts from every process add up.
    let other_process = Traffic::new();
    for i in 0..24 {
        other_process.record(busy.id, i < 3, Duration::from_secs(12));
    }
    other_process.flush(&app.pool).await.unwrap();

    let table = b.get(OPS, &format!("/?q={}", busy.slug)).await;
    let row = row_of(&table, busy.slug.as_str());
    assert!(row.contains(" 30 "), "6 requests here, 24 there: {row}");
    assert!(row.contains("3 (10.0 %)"), "{row}");
    assert!(row.contains("> 10 s"), "p95 among the slow ones: {row}");
    let today = time::OffsetDateTime::now_utc().date();
    let table = b.get(OPS, &format!("/?q={}", quiet.slug)).await;
    let row = row_of(&table, quiet.slug.as_str());
    assert!(
        !row.contains(" 30 ") && row.contains("— "),
        "another portal's traffic is not counted here: {row}"
    );

    let page = b.get(OPS, &format!("/portails/{}", busy.slug)).await;
    assert_eq!(page.status, 200);
    let plain = page.plain();
    assert!(plain.contains("Requêtes servies par le portail, par jour"), "{plain}");
    let day = format!("{} ", today.day());
    let history = &plain[plain.find("Requêtes servies par le portail").unwrap()..];
    assert!(
        history.contains(&day) && history.contains(" 30 3 (10.0 %) > 10 s"),
        "{history}"
    );
    assert!(
        !plain.contains("aucune requête enregistrée"),
        "the last activity is known: {plain}"
    );
    let quiet_page = b.get(OPS, &format!("/portails/{}", quiet.slug)).await;
    assert!(
        quiet_page
            .plain()
            .contains("Aucune requête enregistrée sur les 30 derniers jours.")
    );
}

#[tokio::test]
async fn operators_set_the_plan_and_paid_until_date_when_billing_is_manual() {
    let app = TestApp::spawn().await;
    let (b, email) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("abonnee", "Commune Abonnée").await;
    let page_path = format!("/portails/{}", tenant.slug);
    let action = format!("{page_path}/facturation");

    let refused = b
        .submit(
            OPS,
            &page_path,
            &action,
            &[("plan", "gratuit"), ("paid_until", "31/12/2027")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("plan").unwrap().contains("formule"));
    assert!(refused.field_error("paid_until").unwrap().contains("AAAA-MM-JJ"));
    assert!(refused.text().contains("value=\"31/12/2027\""), "what was typed stays");
    let stored: (Option<String>, Option<time::Date>) =
        sqlx::query_as("select plan, paid_until from tenant where id = $1")
            .bind(tenant.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, (None, None), "nothing changed");

    let done = b
        .submit(
            OPS,
            &page_path,
            &action,
            &[("plan", "de3500_a20000"), ("paid_until", "2099-12-31")],
        )
        .await;
    assert_eq!(done.status, 303);
    let paid = b.get(OPS, &format!("/?q={}&facturation=active", tenant.slug)).await;
    let row = row_of(&paid, tenant.slug.as_str());
    assert!(row.contains("De 3 500 à 20 000 habitants"), "{row}");
    assert!(row.contains("payé jusqu'au 31 décembre 2099"), "{row}");
    let overdue = b.get(OPS, &format!("/?q={}&facturation=unpaid", tenant.slug)).await;
    let listed = |page: &Page| {
        page.body
            .contains(&format!("<span class=\"muted\">{}</span>", tenant.slug))
    };
    assert!(!listed(&overdue), "not overdue");
    let by_plan = b.get(OPS, &format!("/?q={}&formule=plus_de100000", tenant.slug)).await;
    assert!(!listed(&by_plan), "another plan");

    b.submit(
        OPS,
        &page_path,
        &action,
        &[("plan", "de3500_a20000"), ("paid_until", "2020-01-31")],
    )
    .await;
    // Paid until a date long gone: unpaid past the grace period, read-only at once.
    let unpaid = b.get(OPS, &format!("/?q={}&facturation=unpaid", tenant.slug)).await;
    let row = row_of(&unpaid, tenant.slug.as_str());
    assert!(row.contains("impayé — payé jusqu'au 31 janvier 2020"), "{row}");
    assert!(row.contains("en consultation seule"), "{row}");
    let page = b.get(OPS, &page_path).await;
    assert!(page.text().contains("tenant.billing") && page.text().contains(&format!("operator:{email}")));
    assert!(page.text().contains("2099-12-31"), "the log keeps the previous date");
}

#[tokio::test]
async fn an_export_started_from_the_ops_console_is_downloaded_by_operators_only() {
    let app = TestApp::spawn().await;
    let (b, _) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("archivee", "Commune Archivée").await;
    let other = app.create_tenant("voisine", "Commune Voisine").await;
    let page_path = format!("/portails/{}", tenant.slug);
    let started = b.submit(OPS, &page_path, &format!("{page_path}/exports"), &[]).await;
    assert_eq!(started.status, 303);
    let mut link = String::new();
    for _ in 0..250 {
        let page = b.get(OPS, &page_path).await;
        if let Some(at) = page.body.find(&format!("href=\"{page_path}/exports/")) {
            let rest = &page.body[at + 6..];
            link = rest[..rest.find('"').unwrap()].to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    assert!(!link.is_empty(), "the worker finished the export");
    let id = link.rsplit('/').next().unwrap().to_string();

    let download = b.get(OPS, &link).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), "application/gzip");
    assert_eq!(
        download.header("content-disposition"),
        format!("attachment; filename=\"participe-{}-{id}.tar.gz\"", tenant.slug)
    );
    assert_eq!(download.header("cache-control"), "no-store");
    let (status, _, bytes) = b.get_bytes(OPS, &link).await;
    assert_eq!(status, 200);
    // What was downloaded restores as a new portal.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.tar.gz");
    std::fs::write(&file, &bytes).unwrap();
    let copy = participe_core::domain::Slug::parse(&unique_slug("copie")).unwrap();
    let report = participe_core::fleet::archive::import(
        &app.pool,
        &app.state.storage,
        &participe_core::migrations::TenantMigrations::embedded(),
        &file,
        &copy,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(report.tenant.name.as_str(), "Commune Archivée");

    // Not through another portal's page, not for anyone else.
    assert_eq!(
        b.get(OPS, &format!("/portails/{}/exports/{id}", other.slug))
            .await
            .status,
        404
    );
    assert_eq!(b.get(OPS, &format!("{page_path}/exports/999999999")).await.status, 404);
    assert_eq!(app.browser().get(OPS, &link).await.status, 303);
    let staff = app.staff_member(&tenant, participe_core::staff::Role::Admin).await;
    assert_eq!(staff.get(OPS, &link).await.status, 303);
    let page = b.get(OPS, &page_path).await;
    assert!(page.text().contains("tenant.export_download"), "downloads are logged");
}
