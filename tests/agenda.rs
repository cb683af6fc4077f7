//! The agenda through the real HTTP service and real mails: staff announce events in the
//! console, citizens and visitors find them on the portal and in calendar feeds (parsed
//! back with a separate iCalendar parser), register, wait, get a freed seat, cancel; no
//! overbooking however many confirm at once; nothing of one tenant on another's portal.

mod common;

use std::io::BufReader;

use common::*;
use participe_core::agenda::{self, EventKind, EventWrite};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx, site};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

fn path_of(app: &TestApp, link: &str) -> String {
    link.split_once(&format!(":{}", app.addr.port())).unwrap().1.to_string()
}

/// The path of the link to `path…` in a mail the job queue sent. The test process's one
/// worker writes links with the port of whichever test app started it, so only the path
/// is this app's.
fn mailed_path(mail: &smtp::Received, path: &str) -> String {
    let start = mail
        .text
        .find(path)
        .unwrap_or_else(|| panic!("no link to {path} in:\n{}", mail.text));
    mail.text[start..].split_whitespace().next().unwrap().to_string()
}

fn email(tag: &str) -> String {
    format!("{tag}-{}@habitant.test", random_suffix(8))
}

/// A published call, for events to belong to.
async fn dispositif(app: &TestApp, tenant: &Tenant, slug: &str, title: &str) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let id = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: slug.into(),
            kind: Kind::Appel,
            title: title.into(),
            summary: String::new(),
            description: String::new(),
            opens_on: Some(today),
            closes_on: None,
            rules: String::new(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, id, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The calendars of an iCalendar text, read by the `ical` crate: each event's properties.
fn parse_ics(text: &str) -> Vec<Vec<(String, String)>> {
    // What calendar apps parse with says nothing against it either (a mail's attachment
    // comes back from the SMTP sink with bare line feeds: as sent, they were CRLF).
    let sent = text.replace("\r\n", "\n").replace('\n', "\r\n");
    assert_eq!(
        standards_problems("ics", sent.as_bytes()),
        Vec::<String>::new(),
        "{text}"
    );
    let reader = ical::IcalParser::new(BufReader::new(text.as_bytes()));
    let mut events = Vec::new();
    for calendar in reader {
        let calendar = calendar.unwrap_or_else(|e| panic!("not iCalendar ({e}):\n{text}"));
        for e in calendar.events {
            events.push(
                e.properties
                    .into_iter()
                    .map(|p| (p.name, p.value.unwrap_or_default()))
                    .collect(),
            );
        }
    }
    events
}

fn prop<'a>(event: &'a [(String, String)], name: &str) -> &'a str {
    event
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {event:?}"))
}

#[tokio::test]
async fn staff_announce_events_that_citizens_find_on_the_portal_and_in_feeds() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("agenda", "Commune de l'Agenda").await;
    let other = app.create_tenant("voisine", "Commune Voisine").await;
    let mobility = dispositif(&app, &tenant, "mobilites", "Plan mobilités").await;
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let list = format!("/t/{}/agenda", tenant.slug);
    let new = format!("{list}/nouvelle");
    assert_eq!(editor.get(CONSOLE, &list).await.status, 200);

    // Mistakes are said beside their fields, and what was typed stays.
    let refused = editor
        .submit(
            CONSOLE,
            &new,
            &new,
            &[
                ("kind", "atelier"),
                ("title", "Atelier mobilités"),
                ("starts_at", "2030-03-12T18:30"),
                ("ends_at", "2030-03-12T17:00"),
                ("online_url", "javascript:alert(1)"),
                ("registration", "on"),
                ("capacity", "0"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("online_url").is_some(), "{}", refused.text());
    assert!(refused.field_error("capacity").is_some());
    assert!(refused.body.contains(r#"value="Atelier mobilités""#));
    assert!(refused.body.contains(r#"value="2030-03-12T18:30""#));
    let refused = editor
        .submit(
            CONSOLE,
            &new,
            &new,
            &[
                ("kind", "atelier"),
                ("title", "Atelier mobilités"),
                ("starts_at", "2030-03-12T18:30"),
                ("ends_at", "2030-03-12T17:00"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.field_error("ends_at").as_deref(),
        Some("la fin doit suivre le début")
    );
    assert!(refused.field_error("place").is_some());
    // Places without online registration would show nothing: said beside the field. The
    // optional dispositif keeps its empty choice, so a link can still be removed.
    let refused = editor
        .submit(
            CONSOLE,
            &new,
            &new,
            &[
                ("kind", "atelier"),
                ("title", "Atelier mobilités"),
                ("starts_at", "2030-03-12T18:30"),
                ("ends_at", "2030-03-12T20:30"),
                ("place", "Mairie"),
                ("dispositif", &mobility.to_string()),
                ("capacity", "30"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .field_error("capacity")
            .is_some_and(|e| e.contains("Inscription en ligne")),
        "{}",
        refused.text()
    );
    let chooser = refused.body.split(r#"<select id="dispositif""#).nth(1).unwrap();
    assert!(chooser.contains(r#"<option value="">— Aucun —</option>"#), "{chooser}");
    assert!(
        chooser.contains(&format!(r#"<option value="{mobility}" selected>"#)),
        "{chooser}"
    );

    let created = editor
        .submit(
            CONSOLE,
            &new,
            &new,
            &[
                ("kind", "atelier"),
                ("title", "Atelier mobilités"),
                ("description", "Venez **dessiner** les pistes cyclables."),
                ("starts_at", "2030-03-12T18:30"),
                ("ends_at", "2030-03-12T20:30"),
                ("place", "Salle des fêtes, 1 place de la Mairie"),
                ("dispositif", &mobility.to_string()),
                ("registration", "on"),
                ("capacity", "5"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let atelier: Uuid = created.header("location").rsplit('/').next().unwrap().parse().unwrap();
    assert!(editor.follow(CONSOLE, &created).await.text().contains("est publiée"));
    for (title, starts, ends, published) in [
        ("Réunion publique budget", "2030-01-10T19:00", "2030-01-10T21:00", "on"),
        ("Brouillon secret", "2030-02-01T10:00", "2030-02-01T12:00", ""),
    ] {
        let done = editor
            .submit(
                CONSOLE,
                &new,
                &new,
                &[
                    ("kind", "reunion"),
                    ("title", title),
                    ("starts_at", starts),
                    ("ends_at", ends),
                    ("place", "Mairie"),
                    ("online_url", "https://visio.example.org/budget"),
                    ("published", published),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
    let console = editor.get(CONSOLE, &list).await.text();
    assert!(console.find("Réunion publique budget") < console.find("Atelier mobilités"));
    assert!(console.contains("Brouillon"));

    // On the portal: published events, soonest first, in Paris time; drafts nowhere.
    let h = host(&tenant);
    let visitor = app.browser();
    let page = visitor.get(&h, "/agenda").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    let (budget, workshop) = (
        text.find("Réunion publique budget").expect("the meeting"),
        text.find("Atelier mobilités").expect("the workshop"),
    );
    assert!(budget < workshop, "{text}");
    let plain = page.plain();
    assert!(plain.contains("mardi 12 mars 2030, 18 h 30 – 20 h 30"), "{plain}");
    assert!(plain.contains("jeudi 10 janvier 2030, 19 h – 21 h"), "{plain}");
    assert!(text.contains("5 place(s) restante(s)"));
    assert!(!text.contains("Brouillon secret"));
    let filtered = visitor.get(&h, "/agenda?dispositif=mobilites").await.text();
    assert!(filtered.contains("Atelier mobilités") && !filtered.contains("Réunion publique budget"));
    assert_eq!(visitor.get(&h, "/agenda?dispositif=inconnu").await.status, 404);
    assert!(
        !visitor
            .get(&h, "/agenda?periode=passees")
            .await
            .text()
            .contains("Atelier")
    );
    let event = visitor.get(&h, &format!("/agenda/{atelier}")).await;
    assert_eq!(event.status, 200);
    let text = event.text();
    assert!(text.contains("Salle des fêtes, 1 place de la Mairie"));
    assert!(text.contains("5 place(s) restante(s) sur 5"));
    assert!(event.body.contains("<strong>dessiner</strong>"));
    let call_page = visitor.get(&h, "/participer/mobilites").await.plain();
    assert!(
        call_page.contains("Prochaines rencontres") && call_page.contains("Atelier mobilités"),
        "{call_page}"
    );
    assert!(!call_page.contains("Réunion publique budget"));
    let home = visitor.get(&h, "/").await.text();
    assert!(
        home.contains("Dates à retenir") && home.contains("Réunion publique budget"),
        "{home}"
    );

    // The feeds: valid iCalendar, in UTC, with stable ids; a dispositif's holds its own.
    let feed = visitor.get(&h, "/agenda.ics").await;
    assert!(feed.header("content-type").starts_with("text/calendar"));
    let events = parse_ics(&feed.body);
    assert_eq!(events.len(), 2, "{}", feed.body);
    let workshop = events
        .iter()
        .find(|e| prop(e, "SUMMARY") == "Atelier mobilités")
        .unwrap();
    assert_eq!(prop(workshop, "DTSTART"), "20300312T173000Z");
    assert_eq!(prop(workshop, "DTEND"), "20300312T193000Z");
    assert!(prop(workshop, "UID").starts_with(&atelier.to_string()));
    assert!(prop(workshop, "LOCATION").contains("Salle des f"));
    assert_eq!(prop(workshop, "STATUS"), "CONFIRMED");
    assert!(prop(workshop, "DESCRIPTION").contains("dessiner les pistes"));
    let own = parse_ics(&visitor.get(&h, "/participer/mobilites/agenda.ics").await.body);
    assert_eq!(own.len(), 1);

    // An event's page offers that event alone for one's calendar, and the whole agenda apart.
    let page = visitor.get(&h, &format!("/agenda/{atelier}")).await;
    let own = format!("/agenda/{atelier}/rencontre.ics");
    assert!(page.body.contains(&format!(r#"href="{own}""#)), "{}", page.body);
    assert!(page.body.contains(r#"href="/agenda.ics""#));
    let file = visitor.get(&h, &own).await;
    assert!(file.header("content-disposition").starts_with("attachment"));
    let events = parse_ics(&file.body);
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .iter()
            .any(|(k, v)| k == "SUMMARY" && v == "Atelier mobilités"),
        "{events:?}"
    );

    // Another tenant's portal, feed and console know nothing of them.
    let oh = host(&other);
    assert_eq!(
        visitor
            .get(&oh, &format!("/agenda/{atelier}/rencontre.ics"))
            .await
            .status,
        404
    );
    assert!(!visitor.get(&oh, "/agenda").await.text().contains("Atelier"));
    assert_eq!(visitor.get(&oh, &format!("/agenda/{atelier}")).await.status, 404);
    assert!(parse_ics(&visitor.get(&oh, "/agenda.ics").await.body).is_empty());
    let stranger = app.staff_member(&other, Role::Admin).await;
    assert_eq!(
        stranger
            .get(CONSOLE, &format!("/t/{}/agenda/{atelier}", other.slug))
            .await
            .status,
        404
    );
    assert_eq!(stranger.get(CONSOLE, &list).await.status, 404);
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    assert_eq!(moderator.get(CONSOLE, &list).await.status, 403);
}

/// An event of `tenant` starting in 2030, with registration and `capacity` seats.
async fn event_with_seats(app: &TestApp, tenant: &Tenant, capacity: i32) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let starts = time::macros::datetime!(2030-06-04 16:00 UTC);
    let id = agenda::create(
        &mut tx,
        &EventWrite {
            kind: EventKind::Restitution,
            title: "Restitution du budget participatif".into(),
            description: String::new(),
            starts_at: starts,
            ends_at: starts + time::Duration::hours(2),
            place: "Médiathèque".into(),
            online_url: None,
            dispositif_id: None,
            registration: true,
            capacity: Some(capacity),
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

async fn count(app: &TestApp, tenant: &Tenant, event: Uuid, status: &str) -> i64 {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let n = sqlx::query_scalar("select count(*) from event_registration where event_id = $1 and status = $2")
        .bind(event)
        .bind(status)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

/// The `.ics` attached to a mail, parsed.
fn attached_event(mail: &smtp::Received) -> Vec<(String, String)> {
    let text = mail.text.replace("\r\n", "\n");
    let start = text
        .find("BEGIN:VCALENDAR")
        .unwrap_or_else(|| panic!("no calendar attached:\n{text}"));
    let end = text.find("END:VCALENDAR").unwrap() + "END:VCALENDAR".len();
    let mut events = parse_ics(&text[start..end]);
    assert_eq!(events.len(), 1);
    events.remove(0)
}

#[tokio::test]
async fn seats_are_never_overbooked_and_a_freed_seat_goes_to_the_next_in_line() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("places", "Commune aux Places").await;
    let event = event_with_seats(&app, &tenant, 3).await;
    let h = host(&tenant);
    let page = format!("/agenda/{event}");

    // A visitor's bad address: said beside the field, the name kept, nothing recorded.
    let visitor = app.browser();
    let refused = visitor
        .submit(
            &h,
            &page,
            &format!("{page}/inscription"),
            &[("name", "Jeanne"), ("email", "jeanne")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("email").is_some());
    assert!(refused.body.contains(r#"value="Jeanne""#));

    // Eight visitors register, each gets a link to confirm; then all confirm at once.
    let people: Vec<(String, String)> = (0..8)
        .map(|i| (format!("Personne {i}"), email(&format!("p{i}"))))
        .collect();
    let registrations = people.iter().map(|(name, address)| {
        let b = app.browser();
        let (h, page) = (h.clone(), page.clone());
        async move {
            let done = b
                .submit(
                    &h,
                    &page,
                    &format!("{page}/inscription"),
                    &[("name", name), ("email", address)],
                )
                .await;
            assert_eq!(done.status, 303, "{}", done.body);
            assert!(b.follow(&h, &done).await.text().contains("confirmez votre inscription"));
        }
    });
    futures::future::join_all(registrations).await;
    assert_eq!(
        count(&app, &tenant, event, "inscrit").await,
        0,
        "no seat before the address is confirmed"
    );
    let mut links = Vec::new();
    for (_, address) in &people {
        let mail = app.mail.wait_for_subject(address, "Confirmez votre inscription").await;
        links.push(mailed_path(&mail, "/agenda/confirmation/"));
    }
    let confirmations = links.iter().map(|link| {
        let b = app.browser();
        let h = h.clone();
        async move { b.get(&h, link).await }
    });
    let answers = futures::future::join_all(confirmations).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let seated = answers.iter().filter(|a| a.h1() == "Inscription confirmée").count();
    let waiting = answers.iter().filter(|a| a.h1() == "Liste d'attente").count();
    assert_eq!((seated, waiting), (3, 5));
    assert_eq!(count(&app, &tenant, event, "inscrit").await, 3);
    assert_eq!(count(&app, &tenant, event, "liste").await, 5);
    // A confirmation link works once.
    assert_eq!(app.browser().get(&h, &links[0]).await.status, 404);

    // The seated got the event to add to their calendar and a link to cancel.
    let seated_addresses: Vec<String> = {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let rows = agenda::registrants(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
        rows.into_iter()
            .filter(|r| r.status == "inscrit")
            .map(|r| r.email)
            .collect()
    };
    let mut seat_mails = Vec::new();
    let mut waiting_list = Vec::new();
    for (name, address) in &people {
        if seated_addresses.contains(address) {
            let m = app.mail.wait_for_subject(address, "Inscription confirmée").await;
            seat_mails.push((name.clone(), address.clone(), m));
        } else {
            let m = app.mail.wait_for_subject(address, "Liste d'attente").await;
            waiting_list.push((name.clone(), address.clone(), m));
        }
    }
    assert_eq!(seat_mails.len(), 3);
    let (_, _, first_seat) = &seat_mails[0];
    let ics = attached_event(first_seat);
    assert_eq!(prop(&ics, "SUMMARY"), "Restitution du budget participatif");
    assert_eq!(prop(&ics, "DTSTART"), "20300604T160000Z");
    assert!(
        first_seat.text.contains("mardi 4 juin 2030, de 18\u{a0}h à 20\u{a0}h"),
        "{}",
        first_seat.text
    );

    // The page says it is full; a new registration joins the waiting list.
    let full = app.browser().get(&h, &page).await.text();
    assert!(full.contains("complète"), "{full}");

    // One seated person cancels: the first in line gets the seat, and a mail with the event.
    let cancel = mailed_path(first_seat, "/agenda/desinscription/");
    let leaver = app.browser();
    let form = leaver.get(&h, &cancel).await;
    assert_eq!(form.status, 200);
    assert_eq!(
        count(&app, &tenant, event, "inscrit").await,
        3,
        "opening the link cancels nothing"
    );
    let done = leaver.submit(&h, &cancel, &cancel, &[]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.h1(), "Inscription annulée");
    assert_eq!(count(&app, &tenant, event, "inscrit").await, 3);
    assert_eq!(count(&app, &tenant, event, "liste").await, 4);
    // The seat went to someone from the waiting list, told by mail (through the job queue).
    let first_in_line = {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let rows = agenda::registrants(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
        rows.into_iter()
            .filter(|r| r.status == "inscrit")
            .map(|r| r.email)
            .find(|e| waiting_list.iter().any(|(_, a, _)| a == e))
            .expect("someone from the waiting list holds a seat")
    };
    let freed = app
        .mail
        .wait_for_subject(&first_in_line, "Une place s'est libérée")
        .await;
    assert_eq!(
        prop(&attached_event(&freed), "SUMMARY"),
        "Restitution du budget participatif"
    );
    assert_eq!(leaver.get(&h, &cancel).await.status, 404, "a used cancellation link");

    // Staff see the list, export it as CSV; a moderator and another tenant's staff cannot.
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let csv_path = format!("/t/{}/agenda/{event}/inscrits.csv", tenant.slug);
    let (status, content_type, bytes) = editor.get_bytes(CONSOLE, &csv_path).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"));
    let csv = String::from_utf8(bytes).unwrap();
    assert!(csv.starts_with('\u{feff}'));
    assert_eq!(csv.lines().filter(|l| l.contains(";inscrit;")).count(), 3, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(";liste d'attente;")).count(), 4);
    assert_eq!(csv.lines().filter(|l| l.contains(";annulé;")).count(), 1);
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    assert_eq!(moderator.get_bytes(CONSOLE, &csv_path).await.0, 403);
    let other = app.create_tenant("autre", "Autre Commune").await;
    let stranger = app.staff_member(&other, Role::Editor).await;
    assert_eq!(
        stranger
            .get_bytes(CONSOLE, &format!("/t/{}/agenda/{event}/inscrits.csv", other.slug))
            .await
            .0,
        404
    );

    // Staff cancel the event: everyone seated or waiting is told, with the reason.
    let edit = format!("/t/{}/agenda/{event}", tenant.slug);
    let cancelled = editor
        .submit(
            CONSOLE,
            &edit,
            &format!("{edit}/annulation"),
            &[("reason", "Salle inondée")],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert!(
        editor
            .follow(CONSOLE, &cancelled)
            .await
            .text()
            .contains("7 personne(s)")
    );
    for (_, address) in people.iter().filter(|(_, a)| a != &seat_mails[0].1) {
        let m = app.mail.wait_for_subject(address, "Rencontre annulée").await;
        assert!(m.text.contains("Motif : Salle inondée"));
        assert_eq!(prop(&attached_event(&m), "STATUS"), "CANCELLED");
    }
    app.eventually(|| async {
        app.browser()
            .get(&h, &page)
            .await
            .text()
            .contains("Cette rencontre est annulée")
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_citizen_registers_in_one_click_and_registration_windows_hold() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("clic", "Commune du Clic").await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    site::publish_charter_version(&mut tx, "Charte", "Soyez courtois.", "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let event = event_with_seats(&app, &tenant, 1).await;
    let h = host(&tenant);
    let page = format!("/agenda/{event}");

    // A citizen account, confirmed, signed in.
    let address = email("citoyenne");
    let b = app.browser();
    let signup = b.get(&h, "/inscription").await;
    let version = signup
        .body
        .split(r#"name="charter_version" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
        .to_string();
    let password = "une phrase de passe assez longue";
    b.submit(
        &h,
        "/inscription",
        "/inscription",
        &[
            ("display_name", "Louise"),
            ("email", &address),
            ("profile", "citoyen"),
            ("password", password),
            ("password_confirm", password),
            ("charter", "on"),
            ("charter_version", &version),
        ],
    )
    .await;
    let mail = app.mail.wait_for_subject(&address, "Confirmez votre adresse").await;
    let link = mail.link(&format!("http://{h}:{}/confirmer/", app.addr.port()));
    b.get(&h, &path_of(&app, &link)).await;
    let signed = b
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", password)],
        )
        .await;
    assert_eq!(signed.status, 303);

    let form = b.get(&h, &page).await;
    assert!(form.text().contains("Vous vous inscrivez en tant que Louise"));
    let done = b.submit(&h, &page, &format!("{page}/inscription"), &[]).await;
    assert_eq!(done.status, 303);
    let after = b.follow(&h, &done).await.text();
    assert!(after.contains("Vous êtes inscrit·e"), "{after}");
    app.mail.wait_for_subject(&address, "Inscription confirmée").await;
    // Twice is once.
    let again = b.submit(&h, &page, &format!("{page}/inscription"), &[]).await;
    assert_eq!(again.status, 303);
    assert_eq!(count(&app, &tenant, event, "inscrit").await, 1);
    // Their data includes it; they cancel from the page.
    let (_, _, data) = b.get_bytes(&h, "/compte/donnees").await;
    let data: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        data["inscriptions"][0]["rencontre"],
        "Restitution du budget participatif"
    );
    let left = b.submit(&h, &page, &format!("{page}/desinscription"), &[]).await;
    assert_eq!(left.status, 303);
    assert_eq!(count(&app, &tenant, event, "inscrit").await, 0);

    // Registration closed, or not yet open: refused with the reason, nothing recorded.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    sqlx::query("update event set registration_closes_at = now() - interval '1 minute' where id = $1")
        .bind(event)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.eventually(|| async { b.get(&h, &page).await.text().contains("Les inscriptions sont closes") })
        .await;
    let token = b.get(&h, "/compte").await.csrf();
    let late = b
        .post_raw(&h, &format!("{page}/inscription"), &[("csrf", &token)])
        .await;
    assert_eq!(late.status, 409);
    assert!(late.text().contains("Les inscriptions sont closes"));
    assert_eq!(count(&app, &tenant, event, "inscrit").await, 0);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    sqlx::query(
        "update event set registration_closes_at = null, registration_opens_at = now() + interval '1 day' where id = $1",
    )
    .bind(event)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let early = b
        .post_raw(&h, &format!("{page}/inscription"), &[("csrf", &token)])
        .await;
    assert_eq!(early.status, 409);
    assert!(early.text().contains("pas encore ouvertes"));

    // Another tenant's portal cannot register anyone to this event.
    let other = app.create_tenant("ailleurs", "Ailleurs").await;
    let oh = host(&other);
    let visitor = app.browser();
    let token = visitor.get(&oh, "/connexion").await.csrf();
    let cross = visitor
        .post_raw(
            &oh,
            &format!("{page}/inscription"),
            &[("csrf", &token), ("name", "Intrus"), ("email", "intrus@ailleurs.test")],
        )
        .await;
    assert_eq!(cross.status, 404);
}
