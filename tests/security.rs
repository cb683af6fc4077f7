//! What an attacker tries from outside, through the real forms: a forged `Host` to make
//! mails link elsewhere, formulas in what staff open in a spreadsheet, answers or timings
//! that tell whether an address has an account, and errors answered without a word.

mod common;

use std::time::{Duration, Instant};

use common::*;
use participe_core::agenda::{self, EventKind, EventWrite, Registrant};
use participe_core::citizens::{self, NewCitizen, Profile};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::domain::{Email, NewPassword};
use participe_core::participation::{self as p, ContributionInput};
use participe_core::{Tenant, TenantTx, news, site};
use uuid::Uuid;

const PASSWORD: &str = "une phrase de passe assez longue";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";

fn address(tag: &str) -> String {
    format!("{tag}-{}@habitant.test", random_suffix(8))
}

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

/// Every absolute link of a mail.
fn links(mail: &smtp::Received) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut rest = mail.text.as_str();
        while let Some(i) = rest.find(scheme) {
            let link: String = rest[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | ')' | '"' | '<'))
                .collect();
            out.push(link.trim_end_matches(['.', ',', ';']).to_string());
            rest = &rest[i + scheme.len()..];
        }
    }
    out
}

/// The host of an absolute link (port dropped).
fn host_of(link: &str) -> &str {
    let rest = link.split_once("://").map_or(link, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    authority.split(':').next().unwrap_or_default()
}

/// Waits for the mail to `to` whose subject holds `subject`, and checks that every link in
/// it is on `expected` (a host; the port is the configuration's, which the test worker
/// that sends job mails does not know); returns it.
async fn mail_links_to(app: &TestApp, to: &str, subject: &str, expected: &str) -> smtp::Received {
    let mail = app.mail.wait_for_subject(to, subject).await;
    let found = links(&mail);
    assert!(!found.is_empty(), "no link in «{subject}»:\n{}", mail.text);
    for link in found {
        assert_eq!(host_of(&link), expected, "«{subject}» links to {link}");
    }
    mail
}

/// The path of the first link in `mail` whose path starts with `prefix`.
fn mailed_path(mail: &smtp::Received, prefix: &str) -> String {
    links(mail)
        .into_iter()
        .find_map(|l| {
            let rest = l.split_once("://")?.1;
            let path = &rest[rest.find('/')?..];
            path.starts_with(prefix).then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("no link to {prefix} in:\n{}", mail.text))
}

/// The `Set-Cookie` pairs and CSRF token of a form page, read over a raw connection.
async fn form_state(app: &TestApp, host: &str, path: &str) -> (String, String) {
    let answer = raw_request(
        app.addr,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    let cookies: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next())
        .collect();
    let token = Page {
        status: 200,
        headers: Default::default(),
        body: answer.clone(),
    }
    .csrf();
    (cookies.join("; "), token)
}

/// POSTs `body` to `path` with the form's cookies and token, the request target naming
/// `target_host` and the `Host` header(s) given.
async fn forged_post(app: &TestApp, target_host: &str, path: &str, host_headers: &str, fields: &str) -> String {
    let (cookies, token) = form_state(app, target_host, path).await;
    let body = format!("csrf={}&{fields}", urlencode(&token));
    raw_request(
        app.addr,
        format!(
            "POST http://{target_host}{path} HTTP/1.1\r\n{host_headers}Cookie: {cookies}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn status_of(raw: &str) -> u16 {
    raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn citizen_account(app: &TestApp, tenant: &Tenant, name: &str, email: &str) {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let password = NewPassword::parse(PASSWORD, PASSWORD).unwrap();
    let created = citizens::sign_up(
        &mut tx,
        &NewCitizen {
            email: &Email::parse(email).unwrap(),
            display_name: name,
            profile: Profile::Citoyen,
            password: &password,
            charter_version: None,
        },
    )
    .await
    .unwrap();
    if let citizens::SignUp::Created { confirm, .. } = created {
        citizens::confirm_email(&mut tx, confirm.as_str()).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn sign_in(app: &TestApp, tenant: &Tenant, email: &str) -> Browser {
    let b = app.browser();
    let signed = b
        .submit(
            &host(tenant),
            "/connexion",
            "/connexion",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    b
}

async fn event(app: &TestApp, tenant: &Tenant, title: &str) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let starts = time::macros::datetime!(2030-06-04 16:00 UTC);
    let id = agenda::create(
        &mut tx,
        &EventWrite {
            kind: EventKind::Reunion,
            title: title.into(),
            description: String::new(),
            starts_at: starts,
            ends_at: starts + time::Duration::hours(2),
            place: "Salle des fêtes".into(),
            online_url: None,
            dispositif_id: None,
            registration: true,
            capacity: Some(10),
            registration_opens_at: None,
            registration_closes_at: None,
            published: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn a_request_whose_target_and_host_disagree_is_refused_and_mails_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("hote", "Commune de l'Hôte").await;
    let victim = address("victime");
    citizen_account(&app, &tenant, "Victime", &victim).await;
    let h = host(&tenant);
    let fields = format!("email={}", urlencode(&victim));

    // The request of the finding: target on the portal, `Host` elsewhere.
    let forged = forged_post(&app, &h, "/mot-de-passe-oublie", "Host: evil.example\r\n", &fields).await;
    assert_eq!(status_of(&forged), 400, "{forged}");
    assert!(forged.contains("Requête invalide"));
    // Two `Host` headers, whichever comes first.
    let two = forged_post(
        &app,
        &h,
        "/mot-de-passe-oublie",
        &format!("Host: {h}\r\nHost: evil.example\r\n"),
        &fields,
    )
    .await;
    assert_eq!(status_of(&two), 400, "{two}");
    // The console the same.
    let console = forged_post(
        &app,
        "console.localhost",
        "/mot-de-passe-oublie",
        "Host: evil.example\r\n",
        &fields,
    )
    .await;
    assert_eq!(status_of(&console), 400, "{console}");

    // The same request with agreeing hosts is served, and its mail links to the portal.
    let fair = forged_post(&app, &h, "/mot-de-passe-oublie", &format!("Host: {h}\r\n"), &fields).await;
    assert_eq!(status_of(&fair), 200, "{fair}");
    mail_links_to(&app, &victim, "mot de passe", &h).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.mail.to(&victim).len(), 1, "the refused requests mailed nothing");
    assert!(app.mail.all().iter().all(|m| !m.text.contains("evil.example")));
}

#[tokio::test]
async fn every_mail_links_to_the_portal_s_own_address_whatever_host_the_request_named() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("liens", "Commune des Liens").await;
    // Its primary domain: every link goes there, though every request below comes to
    // `<slug>.localhost`.
    let primary = format!("jeparticipe-{}.example", random_suffix(6));
    sqlx::query("insert into tenant_domain (host, tenant_id, is_primary, verified_at) values ($1, $2, true, now())")
        .bind(&primary)
        .bind(tenant.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let origin = primary.clone();
    let h = host(&tenant);
    app.eventually(|| async {
        participe_core::fleet::registry::find_by_id(&app.pool, tenant.id)
            .await
            .unwrap()
            .is_some_and(|t| t.primary_domain.is_some())
    })
    .await;
    {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        site::publish_charter_version(&mut tx, "Charte", "Soyez courtois.", "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    // Sign-up, then sign-up again with the same address.
    let newcomer = address("nouvelle");
    for _ in 0..2 {
        let b = app.browser();
        let form = b.get(&h, "/inscription").await;
        let version = form
            .body
            .split(r#"name="charter_version" value=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .to_string();
        let done = b
            .submit(
                &h,
                "/inscription",
                "/inscription",
                &[
                    ("display_name", "Nouvelle"),
                    ("email", &newcomer),
                    ("profile", "citoyen"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("charter", "on"),
                    ("charter_version", &version),
                ],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
    mail_links_to(&app, &newcomer, "Confirmez votre adresse", &origin).await;
    app.mail.wait_for(&newcomer, 2).await;
    let second = &app.mail.to(&newcomer)[1];
    assert!(links(second).iter().all(|l| host_of(l) == origin), "{}", second.text);

    // Password reset.
    let known = address("connue");
    citizen_account(&app, &tenant, "Connue", &known).await;
    let b = app.browser();
    b.submit(&h, "/mot-de-passe-oublie", "/mot-de-passe-oublie", &[("email", &known)])
        .await;
    mail_links_to(&app, &known, "mot de passe", &origin).await;

    // A change of address, to a free one and to someone else's.
    let citizen = sign_in(&app, &tenant, &known).await;
    let moved = address("demenage");
    citizen
        .submit(&h, "/compte", "/compte/adresse", &[("email", &moved)])
        .await;
    mail_links_to(&app, &moved, "nouvelle adresse", &origin).await;
    citizen
        .submit(&h, "/compte", "/compte/adresse", &[("email", &newcomer)])
        .await;
    mail_links_to(&app, &newcomer, "proposée pour un autre compte", &origin).await;

    // The agenda: confirm the address, the seat, registered again, the event cancelled.
    let id = event(&app, &tenant, "Réunion publique").await;
    let page = format!("/agenda/{id}");
    let visitor = address("visiteur");
    let guest = app.browser();
    guest
        .submit(
            &h,
            &page,
            &format!("{page}/inscription"),
            &[("name", "Visiteur"), ("email", &visitor)],
        )
        .await;
    let confirm = mail_links_to(&app, &visitor, "Confirmez votre inscription", &origin).await;
    guest.get(&h, &mailed_path(&confirm, "/agenda/confirmation/")).await;
    mail_links_to(&app, &visitor, "Inscription confirmée", &origin).await;
    guest
        .submit(
            &h,
            &page,
            &format!("{page}/inscription"),
            &[("name", "Visiteur"), ("email", &visitor)],
        )
        .await;
    mail_links_to(&app, &visitor, "déjà inscrit", &origin).await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    agenda::cancel(&mut tx, id, "Salle indisponible").await.unwrap();
    tx.commit().await.unwrap();
    mail_links_to(&app, &visitor, "Rencontre annulée", &origin).await;

    // The console's mails link to the console, even when asked through another spelling of
    // its host.
    let console_origin = "console.localhost";
    let agent = format!("agent-{}@mairie.test", random_suffix(8));
    let sign_up = format!(
        "display_name=Agent&email={}&password={p}&password_confirm={p}",
        urlencode(&agent),
        p = urlencode(PASSWORD)
    );
    for _ in 0..2 {
        let answer = forged_post(
            &app,
            "console.localhost",
            "/inscription",
            "Host: CONSOLE.localhost.:1\r\n",
            &sign_up,
        )
        .await;
        assert_eq!(status_of(&answer), 200, "{answer}");
    }
    mail_links_to(&app, &agent, "Confirmez votre adresse", console_origin).await;
    mail_links_to(&app, &agent, "Votre compte Participe", console_origin).await;
    let answer = forged_post(
        &app,
        "console.localhost",
        "/mot-de-passe-oublie",
        "Host: console.localhost\r\n",
        &format!("email={}", urlencode(&agent)),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    mail_links_to(&app, &agent, "mot de passe", console_origin).await;
    let admin = app.staff_member(&tenant, participe_core::staff::Role::Admin).await;
    let invited = format!("invite-{}@mairie.test", random_suffix(8));
    let team = format!("/t/{}/equipe", tenant.slug);
    let done = admin
        .submit(
            "console.localhost",
            &team,
            &team,
            &[("email", &invited), ("role", "editor")],
        )
        .await;
    assert!(done.status < 400, "{}", done.body);
    mail_links_to(&app, &invited, "Invitation", console_origin).await;
}

/// Reads a CSV export: its rows (BOM dropped, `;`-separated).
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 with a byte order mark");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(&bytes[3..]);
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// No cell a spreadsheet would run: none starts with `=`, `+`, `-`, `@`, tab or CR, and
/// the payload is there, made text.
fn assert_no_formula(what: &str, rows: &[Vec<String>]) {
    let mut found = false;
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{what}: a cell a spreadsheet runs: {cell:?}"
        );
        found |= cell == &format!("'{FORMULA}");
    }
    assert!(found, "{what}: the payload, neutralised, in {rows:?}");
}

#[tokio::test]
async fn no_csv_export_holds_a_cell_a_spreadsheet_would_run() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("tableur", "Commune du Tableur").await;
    {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let call = dispositifs::create(
            &mut tx,
            &DispositifWrite {
                slug: "appel".into(),
                kind: Kind::Appel,
                title: FORMULA.into(),
                summary: "@SUM(A1:A9)".into(),
                description: String::new(),
                opens_on: Some(time::OffsetDateTime::now_utc().date()),
                closes_on: None,
                rules: String::new(),
                themes: vec!["+thème".into()],
            },
        )
        .await
        .unwrap();
        dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Publie)
            .await
            .unwrap();
        let email = Email::parse(&address("auteur")).unwrap();
        let password = NewPassword::parse(PASSWORD, PASSWORD).unwrap();
        let author = match citizens::sign_up(
            &mut tx,
            &NewCitizen {
                email: &email,
                display_name: "-Auteur",
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
        };
        let theme = p::themes(&mut tx, call).await.unwrap()[0].id;
        let contribution = p::create_contribution(
            &mut tx,
            call,
            author,
            &ContributionInput {
                title: FORMULA.into(),
                body: "\t=1+1".into(),
                theme_id: Some(theme),
            },
        )
        .await
        .unwrap();
        p::add_comment(&mut tx, contribution, None, author, FORMULA)
            .await
            .unwrap();
        news::create(
            &mut tx,
            &news::PostWrite {
                title: FORMULA.into(),
                summary: "-2+3".into(),
                body: "Texte".into(),
                cover_alt: String::new(),
                dispositif_id: None,
                published_at: Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(1)),
            },
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let id = event(&app, &tenant, FORMULA).await;
    {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        agenda::register(
            &mut tx,
            id,
            &Registrant::Visitor {
                name: FORMULA.into(),
                email: Email::parse(&address("inscrit")).unwrap(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    let b = app.browser();
    for resource in [
        "dispositifs",
        "contributions",
        "commentaires",
        "rencontres",
        "actualites",
    ] {
        let (status, content_type, bytes) = b.get_bytes(&host(&tenant), &format!("/api/v1/{resource}.csv")).await;
        assert_eq!(status, 200, "{resource}");
        assert_eq!(content_type, "text/csv; charset=utf-8");
        assert_no_formula(resource, &csv_rows(&bytes));
    }
    // The registrants, as the console exports them.
    let editor = app.staff_member(&tenant, participe_core::staff::Role::Editor).await;
    let (status, _, bytes) = editor
        .get_bytes(
            "console.localhost",
            &format!("/t/{}/agenda/{id}/inscrits.csv", tenant.slug),
        )
        .await;
    assert_eq!(status, 200);
    assert_no_formula("inscrits", &csv_rows(&bytes));
    // `/donnees` says what the files are.
    let data = b.get(&host(&tenant), "/donnees").await.text();
    assert!(data.contains("UTF-8") && data.contains("point-virgule"), "{data}");
}

#[tokio::test]
async fn registering_to_a_meeting_answers_the_same_whether_the_address_is_registered() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("sonde", "Commune de la Sonde").await;
    let h = host(&tenant);
    let id = event(&app, &tenant, "Atelier du quartier").await;
    let page = format!("/agenda/{id}");
    let someone = address("quelquun");
    let register = || async {
        let b = app.browser();
        let done = b
            .submit(
                &h,
                &page,
                &format!("{page}/inscription"),
                &[("name", "Quelqu'un"), ("email", &someone)],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        // What the page says above the event (the seats left below may change).
        let page = b.follow(&h, &done).await.plain();
        page.split(" Agenda › ").next().unwrap().to_string()
    };
    let first = register().await;
    app.mail.wait_for_subject(&someone, "Confirmez votre inscription").await;
    let second = register().await;
    assert_eq!(first, second, "the page tells whether the address was registered");
    assert!(!second.contains("déjà"));
    // The mail says the rest: a fresh link to confirm.
    app.mail.wait_for(&someone, 2).await;
    // Once confirmed, registering again answers the same page again, and a mail says so.
    let confirm = mailed_path(&app.mail.to(&someone)[1], "/agenda/confirmation/");
    app.browser().get(&h, &confirm).await;
    app.mail.wait_for_subject(&someone, "Inscription confirmée").await;
    let third = register().await;
    assert_eq!(first, third);
    let told = app.mail.wait_for_subject(&someone, "Vous êtes déjà inscrit·e").await;
    assert!(told.text.contains("/agenda/desinscription/"));
}

#[tokio::test]
async fn changing_one_s_address_answers_the_same_whether_it_is_someone_else_s() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("adresse", "Commune de l'Adresse").await;
    let h = host(&tenant);
    let owner = address("titulaire");
    citizen_account(&app, &tenant, "Titulaire", &owner).await;
    let mover = address("curieux");
    citizen_account(&app, &tenant, "Curieux", &mover).await;
    let b = sign_in(&app, &tenant, &mover).await;

    let change = |to: String| {
        let b = &b;
        let h = &h;
        async move {
            let done = b.submit(h, "/compte", "/compte/adresse", &[("email", &to)]).await;
            assert_eq!(done.status, 303, "{}", done.body);
            b.follow(h, &done).await.plain().replace(&to, "ADRESSE")
        }
    };
    let free = address("libre");
    let to_free = change(free.clone()).await;
    let to_taken = change(owner.clone()).await;
    assert_eq!(to_free, to_taken, "the page tells that the address has an account");
    assert!(to_taken.contains("En attente de confirmation : ADRESSE"), "{to_taken}");
    // The free address gets its link; the owner is told, and gets no link to complete it.
    app.mail
        .wait_for_subject(&free, "Confirmez votre nouvelle adresse")
        .await;
    let told = app.mail.wait_for_subject(&owner, "proposée pour un autre compte").await;
    assert!(!told.text.contains("/compte/adresse/"));
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let still = citizens::find_by_email(&mut tx, &Email::parse(&owner).unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(still.display_name, "Titulaire");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn console_sign_up_takes_as_long_for_a_known_address_as_for_a_new_one() {
    // Each try comes from its own address (behind one trusted proxy), so that the rate
    // limits, which would stop them, are not what is measured.
    let app = TestApp::spawn_configured(&database_url(), 8, |c| c.trusted_proxies = 1).await;
    const TRIES: usize = 50;
    let password = NewPassword::parse(PASSWORD, PASSWORD).unwrap();
    let mut known = Vec::new();
    for i in 0..TRIES {
        let email = Email::parse(&format!("connu{i}-{}@mairie.test", random_suffix(8))).unwrap();
        participe_core::staff::sign_up(&app.pool, &email, "Agent connu", &password)
            .await
            .unwrap();
        known.push(email.to_string());
    }
    let b = app.browser();
    let token = b.get("console.localhost", "/inscription").await.csrf();
    let try_once = |email: String, n: usize| {
        let b = &b;
        let token = token.clone();
        async move {
            let started = Instant::now();
            let page = b
                .post_forwarded(
                    "console.localhost",
                    "/inscription",
                    &format!("10.{}.{}.1", n / 250, n % 250),
                    &[
                        ("csrf", token.as_str()),
                        ("display_name", "Agent"),
                        ("email", email.as_str()),
                        ("password", PASSWORD),
                        ("password_confirm", PASSWORD),
                    ],
                )
                .await;
            let took = started.elapsed();
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.text().contains("Vérifiez votre messagerie"));
            took
        }
    };
    // Warm up both paths, then alternate them so that whatever else the machine does falls
    // on both alike.
    try_once(format!("chauffe-{}@mairie.test", random_suffix(8)), 0).await;
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for (i, email) in known.into_iter().enumerate() {
        old.push(try_once(email, 2 * i + 1).await);
        new.push(try_once(format!("nouveau{i}-{}@mairie.test", random_suffix(8)), 2 * i + 2).await);
    }
    let (old, new) = (median(old), median(new));
    let gap = old.abs_diff(new).as_secs_f64() / old.max(new).as_secs_f64();
    assert!(
        gap < 0.2,
        "medians: known {old:?}, new {new:?} ({:.0} % apart)",
        gap * 100.0
    );
}

/// The French title of an HTML error answer.
fn h1_of(raw: &str) -> String {
    let page = Page {
        status: 0,
        headers: Default::default(),
        body: raw.to_string(),
    };
    page.h1()
}

/// The JSON body of an answer read raw.
fn json_of(raw: &str) -> serde_json::Value {
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON:\n{raw}"))
}

#[tokio::test]
async fn every_error_has_its_french_page_and_a_json_body_under_the_api() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("erreurs", "Commune des Erreurs").await;
    let h = host(&tenant);
    let get = |path: String, extra: String| {
        let h = h.clone();
        async move {
            raw_request(
                app.addr,
                format!("GET {path} HTTP/1.1\r\nHost: {h}\r\n{extra}Connection: close\r\n\r\n").as_bytes(),
            )
            .await
        }
    };
    let long = format!("/recherche?q={}", "a".repeat(100_000));
    let long_api = format!("/api/v1/contributions?q={}", "a".repeat(100_000));
    let headers: String = (0..150).map(|i| format!("X-En-Tete-{i}: {i}\r\n")).collect();
    let cases: Vec<(String, u16, &str)> = vec![
        (get("/nulle-part".into(), String::new()).await, 404, "Page introuvable"),
        (
            get("/recherche?q=a".into(), format!("Host: {h}\r\n")).await,
            400,
            "Requête invalide",
        ),
        (
            get("/participer".into(), "Bad Header: x\r\n".into()).await,
            400,
            "Requête invalide",
        ),
        (get(long.clone(), String::new()).await, 414, "Adresse trop longue"),
        (
            get(format!("/recherche?q={}", "a".repeat(9_000)), String::new()).await,
            414,
            "Adresse trop longue",
        ),
        (
            get("/participer".into(), headers.clone()).await,
            431,
            "En-têtes trop volumineux",
        ),
    ];
    for (raw, status, title) in &cases {
        assert_eq!(status_of(raw), *status, "{raw}");
        assert!(raw.to_ascii_lowercase().contains("content-type: text/html"), "{raw}");
        assert_eq!(h1_of(raw), *title, "{raw}");
        assert!(raw.contains(r#"<html lang="fr">"#));
    }
    let api_cases: Vec<(String, u16)> = vec![
        (get("/api/nulle-part".into(), String::new()).await, 404),
        (get("/api/v1/nulle-part".into(), String::new()).await, 404),
        (get("/api/v1/contributions?page=0".into(), String::new()).await, 400),
        (get("/api/v1/".into(), format!("Host: {h}\r\n")).await, 400),
        (get(long_api, String::new()).await, 414),
        (get("/api/v1/".into(), headers).await, 431),
    ];
    for (raw, status) in &api_cases {
        assert_eq!(status_of(raw), *status, "{raw}");
        let body = json_of(raw);
        assert_eq!(body["statut"], *status, "{raw}");
        assert!(body["erreur"].as_str().is_some_and(|e| !e.is_empty()), "{raw}");
    }

    // Through a browser: a method the address does not take, a body too large, a form
    // in another format, too many tries.
    let b = app.browser();
    let wrong_method = b.post_raw(&h, "/participer", &[("a", "b")]).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.h1(), "Action impossible");
    let api_method = b.post_raw(&h, "/api/v1/", &[("a", "b")]).await;
    assert_eq!(api_method.status, 405);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&api_method.body).unwrap()["statut"],
        405
    );
    let big = b.post_bytes(&h, "/connexion", vec![b'a'; 3 * 1024 * 1024]).await;
    assert_eq!(big.status, 413);
    assert_eq!(big.h1(), "Envoi trop volumineux");
    let page = b.get(&h, "/connexion").await;
    let plain = b
        .post_typed(
            &h,
            "/connexion",
            "text/plain",
            format!("csrf={}", page.csrf()).into_bytes(),
        )
        .await;
    assert_eq!(plain.status, 415);
    assert_eq!(plain.h1(), "Format non pris en charge");
    let mut limited = None;
    for _ in 0..40 {
        let tried = b
            .submit(
                &h,
                "/connexion",
                "/connexion",
                &[("email", "personne@habitant.test"), ("password", "pas le bon")],
            )
            .await;
        if tried.status == 429 {
            limited = Some(tried);
            break;
        }
    }
    let limited = limited.expect("sign-in is rate-limited");
    assert!(limited.text().contains("trop de tentatives"));
    let invalid = b
        .submit(&h, "/inscription", "/inscription", &[("email", "pas-une-adresse")])
        .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.text().contains(r#"<html lang="fr">"#) && invalid.field_error("email").is_some());

    // A suspended portal: its page, and JSON under the API.
    participe_core::fleet::registry::set_status(
        &app.pool,
        &tenant.slug,
        participe_core::TenantStatus::Suspended,
        Some("test"),
        "test",
    )
    .await
    .unwrap();
    app.eventually(|| async { app.get(&h, "/").await.status == 503 }).await;
    let page = app.get(&h, "/").await;
    assert!(page.text().contains("suspendu"), "{}", page.body);
    let api = app.get(&h, "/api/v1/").await;
    assert_eq!(api.status, 503);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&api.body).unwrap()["statut"],
        503
    );
}

/// The paths of the POST routes a router module declares (`.route("…", … post(…))`).
fn post_routes(source: &str) -> Vec<String> {
    routes_with(source, "post(")
}

/// The paths of the routes a router module declares with `method` (`"get("`, `"post("`).
fn routes_with(source: &str, method: &str) -> Vec<String> {
    source
        .split(".route(")
        .skip(1)
        .filter_map(|segment| {
            let segment = segment.split(".route(").next().unwrap_or(segment);
            let declared = segment.split(';').next().unwrap_or(segment);
            if !declared.contains(method) {
                return None;
            }
            let path = declared.trim_start().strip_prefix('"')?.split('"').next()?;
            Some(path.to_string())
        })
        .collect()
}

/// The portal's router and its components' routes.
const PORTAL_ROUTES: &str = concat!(
    include_str!("../services/portal/src/lib.rs"),
    include_str!("../services/portal/src/components/contributions.rs"),
);

#[tokio::test]
async fn control_characters_in_an_address_get_a_400_page_and_in_a_form_field_are_dropped() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("controle", "Commune du Contrôle").await;
    let h = host(&tenant);
    let surfaces = [
        (h.as_str(), PORTAL_ROUTES),
        ("console.localhost", include_str!("../tenant-admin/src/lib.rs")),
        (ops::OPS, include_str!("../services/platform/src/lib.rs")),
    ];
    let mut tried = 0;
    for (host, source) in surfaces {
        for route in routes_with(source, "get(") {
            // Each parameter a NUL; a route without any gets one in its query string.
            let with_nul: String = route
                .split('/')
                .map(|part| if part.starts_with('{') { "a%00b" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let paths = if with_nul == route {
                vec![format!("{route}?q=%00"), format!("{route}?q=a%01b&page=%7F")]
            } else {
                vec![with_nul]
            };
            for path in paths {
                let page = app.get(host, &path).await;
                assert_eq!(page.status, 400, "{host}{path}: {}", page.body);
                if path.starts_with("/api/") {
                    let body: serde_json::Value = serde_json::from_str(&page.body).unwrap();
                    assert_eq!(body["statut"], 400, "{host}{path}");
                } else {
                    assert_eq!(page.h1(), "Requête invalide", "{host}{path}");
                }
                assert!(
                    page.text().contains("caractère invisible"),
                    "{host}{path}: {}",
                    page.body
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 60, "{tried}");
    // In a form, invisible characters are dropped and the rest is kept.
    let email = address("controle");
    citizen_account(&app, &tenant, "Contrôle", &email).await;
    let citizen = sign_in(&app, &tenant, &email).await;
    let page = citizen
        .submit(&h, "/compte", "/compte/nom", &[("display_name", "Zo\u{0}é\u{7}")])
        .await;
    assert!(page.status < 400, "{}", page.body);
    let account = citizen.get(&h, "/compte").await;
    assert!(account.body.contains(r#"value="Zoé""#), "{}", account.body);
}

/// `path` with its parameters filled: this tenant's slug, a random id, a made-up token.
fn filled(path: &str, slug: &str) -> String {
    path.split('/')
        .map(|part| match part {
            "{slug}" => slug.to_string(),
            "{id}" => Uuid::new_v4().to_string(),
            p if p.starts_with('{') => random_suffix(12),
            p => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_post_route_of_every_host_refuses_a_form_without_the_session_s_token() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("jeton", "Commune du Jeton").await;
    let h = host(&tenant);
    let email = address("jeton");
    citizen_account(&app, &tenant, "Jeton", &email).await;
    let citizen = sign_in(&app, &tenant, &email).await;
    let admin = app.staff_member(&tenant, participe_core::staff::Role::Admin).await;
    let (operator, _) = ops::signed_in_operator(&app).await;
    let surfaces: [(&Browser, &str, &str, &[&str]); 3] = [
        (&citizen, h.as_str(), PORTAL_ROUTES, &[]),
        // Stripe signs its webhook; no browser posts there (tests/billing.rs checks the signature).
        (
            &admin,
            "console.localhost",
            include_str!("../tenant-admin/src/lib.rs"),
            // The reports mail's one-click unsubscribe (RFC 8058): mail providers post there
            // without any session; the token in the address is the capability.
            &["/stripe/webhook", "/desabonnement/{token}"],
        ),
        (
            &operator,
            ops::OPS,
            include_str!("../services/platform/src/lib.rs"),
            &[],
        ),
    ];
    for (browser, host, source, exempt) in surfaces {
        let routes = post_routes(source);
        assert!(routes.len() >= 5, "{host}: {routes:?}");
        for route in routes.iter().filter(|r| !exempt.contains(&r.as_str())) {
            let path = filled(route, tenant.slug.as_str());
            let mut refused = browser.post_raw(host, &path, &[("nom", "valeur")]).await;
            if refused.status == 415 {
                // A form with a file: the same, as multipart.
                let body = "--limite\r\nContent-Disposition: form-data; name=\"nom\"\r\n\r\nvaleur\r\n--limite--\r\n";
                refused = browser
                    .post_typed(host, &path, "multipart/form-data; boundary=limite", body.into())
                    .await;
            }
            assert_eq!(refused.status, 403, "{host}{route}: {}", refused.body);
            assert!(refused.text().contains("Ce formulaire a expiré"), "{host}{route}");
        }
    }
    // The browsers' sessions were not harmed: each still signed in.
    assert!(citizen.get(&h, "/compte").await.status == 200);
}
