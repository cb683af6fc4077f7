//! Citizen participation as citizens and moderators live it, through the real HTTP service
//! and real mails: accounts, contributions, comments, reports, moderation, and the walls
//! between tenants.

mod common;

use common::*;
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::participation::{self as p, ContributionInput, Sort};
use participe_core::{Tenant, TenantTx, citizens, site};
use uuid::Uuid;

const PASSWORD: &str = "une phrase de passe assez longue";

fn email(tag: &str) -> String {
    format!("{tag}-{}@habitant.test", random_suffix(8))
}

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

fn path_of(app: &TestApp, link: &str) -> String {
    link.split_once(&format!(":{}", app.addr.port())).unwrap().1.to_string()
}

/// A tenant with a published charter and an open call with two themes.
async fn tenant_with_call(app: &TestApp, prefix: &str) -> (Tenant, Uuid) {
    let tenant = app.create_tenant(prefix, "Commune de Participe").await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    site::publish_charter_version(&mut tx, "Charte", "Soyez courtois.", "test")
        .await
        .unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let id = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: "avenir".into(),
            kind: Kind::Appel,
            title: "Quel avenir pour le centre-bourg ?".into(),
            summary: "Donnez votre avis.".into(),
            description: String::new(),
            opens_on: Some(today - time::Duration::days(1)),
            closes_on: Some(today + time::Duration::days(30)),
            rules: String::new(),
            themes: vec!["Mobilités".into(), "Commerces".into()],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, id, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (tenant, id)
}

async fn theme_id(app: &TestApp, tenant: &Tenant, call: Uuid, name: &str) -> String {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let themes = p::themes(&mut tx, call).await.unwrap();
    themes.into_iter().find(|t| t.name == name).unwrap().id.to_string()
}

/// Signs up on the portal with the charter, confirms through the mail, signs in.
async fn citizen(app: &TestApp, tenant: &Tenant, name: &str) -> (Browser, String) {
    let tag: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let address = email(&tag.to_lowercase());
    let b = app.browser();
    let h = host(tenant);
    let form = b.get(&h, "/inscription").await;
    let version = form
        .body
        .split(r#"name="charter_version" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
        .to_string();
    let page = b
        .submit(
            &h,
            "/inscription",
            "/inscription",
            &[
                ("display_name", name),
                ("email", &address),
                ("profile", "citoyen"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("charter", "on"),
                ("charter_version", &version),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mail = app.mail.wait_for_subject(&address, "Confirmez votre adresse").await;
    let link = mail.link(&format!("http://{h}:{}/confirmer/", app.addr.port()));
    assert_eq!(b.get(&h, &path_of(app, &link)).await.status, 303);
    let page = b
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    (b, address)
}

async fn contribute(b: &Browser, tenant: &Tenant, title: &str, body: &str, theme: &str) -> Page {
    let h = host(tenant);
    b.submit(
        &h,
        "/participer/avenir/contribuer",
        "/participer/avenir/contribuer",
        &[("title", title), ("body", body), ("theme", theme)],
    )
    .await
}

/// Posts a contribution and returns its page's path.
async fn posted(b: &Browser, tenant: &Tenant, title: &str, body: &str, theme: &str) -> String {
    let page = contribute(b, tenant, title, body, theme).await;
    assert_eq!(page.status, 303, "{}", page.body);
    page.header("location").to_string()
}

#[tokio::test]
async fn a_citizen_signs_up_accepting_the_charter_confirms_and_signs_in_and_out() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "inscr").await;
    let h = host(&tenant);
    let (b, address) = citizen(&app, &tenant, "Jeanne Martin").await;
    let home = b.get(&h, "/").await;
    assert!(home.body.contains("Mon compte"), "signed in: {}", home.body);
    let account = b.get(&h, "/compte").await;
    assert_eq!(account.status, 200);
    assert!(account.text().contains(&address), "the address is shown in its field");
    assert!(account.plain().contains("Citoyen·ne"));

    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let email = participe_core::domain::Email::parse(&address).unwrap();
    let stored = citizens::find_by_email(&mut tx, &email).await.unwrap().unwrap();
    assert_eq!(
        stored.charter_version,
        Some(1),
        "the accepted charter version is recorded"
    );
    assert!(stored.confirmed);
    drop(tx);

    let out = b.submit(&h, "/compte", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(
        b.get(&h, "/compte").await.status,
        303,
        "signed out: the account page asks to sign in"
    );
}

#[tokio::test]
async fn a_bad_sign_up_keeps_what_was_typed_and_says_what_is_wrong() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "mauvais").await;
    let h = host(&tenant);
    let b = app.browser();
    let page = b
        .submit(
            &h,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Paul <b>Durand</b>"),
                ("email", "pas-une-adresse"),
                ("profile", "martien"),
                ("password", "court"),
                ("password_confirm", "court"),
                ("charter_version", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("email").is_some());
    assert!(page.field_error("profile").is_some());
    assert!(page.field_error("password").unwrap().contains("12 caractères"));
    assert!(page.field_error("charter").unwrap().contains("charte"));
    assert!(
        page.body.contains("Paul &lt;b&gt;Durand&lt;&#x2f;b&gt;"),
        "the name typed is kept, escaped"
    );
    assert!(!page.body.contains("<b>Durand"));
    // Nothing saved, nothing queued to be sent.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let citizens: i64 = sqlx::query_scalar("select count(*) from citizen")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(citizens, 0, "no account was created");
    let queued: i64 = sqlx::query_scalar("select count(*) from job where tenant_id = $1")
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 0, "no mail was queued");
}

#[tokio::test]
async fn signing_up_again_with_a_known_address_says_nothing_different() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "enum").await;
    let h = host(&tenant);
    let (_, address) = citizen(&app, &tenant, "Déjà Inscrite").await;
    let b = app.browser();
    let again = b
        .submit(
            &h,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Autre"),
                ("email", &address),
                ("profile", "association"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("charter", "on"),
                ("charter_version", "1"),
            ],
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(
        again
            .plain()
            .contains(&format!("Un courriel vient d'être envoyé à {address}"))
    );
    app.mail.wait_for_subject(&address, "Votre compte").await;
    let forgot = b
        .submit(
            &h,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", "inconnu@habitant.test")],
        )
        .await;
    assert_eq!(forgot.status, 200);
    assert!(
        forgot
            .plain()
            .contains("Si un compte existe pour inconnu@habitant.test")
    );
}

#[tokio::test]
async fn a_citizen_contributes_edits_comments_replies_and_deletes() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "contrib").await;
    let h = host(&tenant);
    let mobility = theme_id(&app, &tenant, call, "Mobilités").await;
    let (alice, _) = citizen(&app, &tenant, "Alice").await;
    let (bob, _) = citizen(&app, &tenant, "Bob").await;

    let path = posted(
        &alice,
        &tenant,
        "Des pistes cyclables",
        "Relier l'école au centre.\n\nVoir https://exemple.fr/plan",
        &mobility,
    )
    .await;
    let page = alice.get(&h, &path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Des pistes cyclables");
    assert!(
        page.body.contains("<p>Relier l&#39;école au centre.</p>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<a href="https://exemple.fr/plan" rel="nofollow ugc noopener noreferrer">"#)
    );
    assert!(page.plain().contains("Thème : Mobilités"));
    assert!(
        page.plain().contains("Par Alice (Citoyen·ne)"),
        "the author's audience beside their name"
    );
    assert!(page.body.contains("/modifier"), "the author may edit within 15 minutes");

    // A double submission publishes once.
    let again = contribute(
        &alice,
        &tenant,
        "Des pistes cyclables",
        "Relier l'école au centre.\n\nVoir https://exemple.fr/plan",
        &mobility,
    )
    .await;
    assert_eq!(again.header("location"), path);

    let edit_path = format!("{path}/modifier");
    let edited = alice
        .submit(
            &h,
            &edit_path,
            &edit_path,
            &[
                ("title", "Des pistes cyclables sûres"),
                ("body", "Relier l'école au centre."),
                ("theme", &mobility),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    assert_eq!(alice.get(&h, &path).await.h1(), "Des pistes cyclables sûres");
    assert_eq!(bob.get(&h, &edit_path).await.status, 404, "only the author edits");

    let comments = format!("{path}/commentaires");
    let c = bob
        .submit(&h, &path, &comments, &[("body", "Bonne idée !"), ("parent", "")])
        .await;
    assert_eq!(c.status, 303, "{}", c.body);
    let comment_id = c.header("location").split("#commentaire-").nth(1).unwrap().to_string();
    let r = alice
        .submit(&h, &path, &comments, &[("body", "Merci Bob."), ("parent", &comment_id)])
        .await;
    assert_eq!(r.status, 303);
    let reply_id = r.header("location").split("#commentaire-").nth(1).unwrap().to_string();
    let nested = bob
        .submit(
            &h,
            &path,
            &comments,
            &[("body", "Réponse à une réponse"), ("parent", &reply_id)],
        )
        .await;
    assert_eq!(nested.status, 409, "one level of replies only");
    assert!(nested.body.contains("Réponse à une réponse"), "what was typed is kept");
    let page = bob.get(&h, &path).await;
    assert!(page.plain().contains("Bonne idée !") && page.plain().contains("Merci Bob."));
    assert!(page.plain().contains("Commentaires (2)"), "{}", page.plain());

    // Bob deletes his comment: its reply stays, the text goes.
    let del = bob
        .submit(
            &h,
            &path,
            &format!("/participer/avenir/commentaires/{comment_id}/suppression"),
            &[],
        )
        .await;
    assert_eq!(del.status, 303);
    let page = bob.get(&h, &path).await;
    assert!(!page.plain().contains("Bonne idée !"));
    assert!(page.plain().contains("Commentaire supprimé par son auteur·rice."));
    assert!(page.plain().contains("Merci Bob."));
    let not_his = bob
        .submit(
            &h,
            &path,
            &format!("/participer/avenir/commentaires/{reply_id}/suppression"),
            &[],
        )
        .await;
    assert_eq!(not_his.status, 404, "nobody deletes another's comment");

    // The author deletes the contribution at any time.
    let gone = alice.submit(&h, &path, &format!("{path}/suppression"), &[]).await;
    assert_eq!(gone.status, 303);
    assert_eq!(alice.get(&h, &path).await.status, 404);
}

#[tokio::test]
async fn the_list_filters_by_theme_sorts_by_comments_and_pages() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "liste").await;
    let h = host(&tenant);
    let shops = theme_id(&app, &tenant, call, "Commerces").await;
    let mobility = theme_id(&app, &tenant, call, "Mobilités").await;
    let (b, _) = citizen(&app, &tenant, "Claire").await;
    let author = {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let id = citizens::search(&mut tx, "Claire", 1, 0).await.unwrap()[0].id;
        for i in 0..25 {
            let input = ContributionInput {
                title: format!("Idée numéro {i:02}"),
                body: "Texte".into(),
                theme_id: Some(if i % 5 == 0 {
                    shops.parse().unwrap()
                } else {
                    mobility.parse().unwrap()
                }),
            };
            p::create_contribution(&mut tx, call, id, &input).await.unwrap();
        }
        tx.commit().await.unwrap();
        id
    };
    let first = b.get(&h, "/participer/avenir").await;
    assert!(first.plain().contains("Les contributions (25)"), "{}", first.plain());
    assert_eq!(first.body.matches("class=\"card\"").count(), 20, "20 per page");
    let second = b.get(&h, "/participer/avenir?page=2").await;
    assert_eq!(second.body.matches("class=\"card\"").count(), 5);
    let shops_only = b.get(&h, &format!("/participer/avenir?theme={shops}")).await;
    assert!(shops_only.plain().contains("Les contributions (5)"));
    assert!(shops_only.plain().contains("Idée numéro 05") && !shops_only.plain().contains("Idée numéro 01"));

    // Comment one of them: it leads the "most commented" order.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let mut all = p::list(&mut tx, call, None, p::Sort::Newest, 1).await.unwrap().0;
    all.extend(p::list(&mut tx, call, None, p::Sort::Newest, 2).await.unwrap().0);
    let chosen = all.iter().find(|c| c.title == "Idée numéro 13").unwrap().id;
    p::add_comment(&mut tx, chosen, None, author, "Un avis").await.unwrap();
    tx.commit().await.unwrap();
    let sorted = b.get(&h, "/participer/avenir?tri=commentees").await.plain();
    let after_heading = &sorted[sorted.find("Les contributions (25)").unwrap()..];
    let first_card = after_heading.find("Idée numéro").unwrap();
    assert!(
        after_heading[first_card..].starts_with("Idée numéro 13"),
        "the commented one comes first"
    );
    let bad = b.get(&h, "/participer/avenir?page=abc&theme=nope&tri=zzz").await;
    assert_eq!(bad.status, 200, "odd parameters fall back to the defaults");
}

#[tokio::test]
async fn everything_citizens_write_is_rendered_inert() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "inerte").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let evil = r#"<script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a> javascript:alert(4) {{ 7*7 }} {% if true %}T{% endif %}"#;
    let (b, _) = citizen(&app, &tenant, "Eve {{ 6*6 }} <script>").await;
    let path = posted(&b, &tenant, &evil.replace('\n', " "), evil, &theme).await;
    let comments = format!("{path}/commentaires");
    let c = b.submit(&h, &path, &comments, &[("body", evil), ("parent", "")]).await;
    assert_eq!(c.status, 303);
    for page in [b.get(&h, &path).await, b.get(&h, "/participer/avenir").await] {
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img"));
        assert!(!page.body.contains("onerror=\""));
        assert!(!page.body.contains("href=\"javascript:"));
        let seen = page.plain();
        assert!(
            seen.contains("{{ 7*7 }}") && !seen.contains(" 49 "),
            "template syntax stays text: {seen}"
        );
        assert!(seen.contains("{% if true %}T{% endif %}"));
        assert!(page.body.contains("&lt;script&gt;"));
    }
}

#[tokio::test]
async fn names_and_titles_with_quotes_and_ampersands_read_as_typed() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "guillemets").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let name = r#"Amélie "Mimi" & <Co>, parent d'élève"#;
    let title = r#"L'école & "la" <cour> d'abord"#;
    let (b, _) = citizen(&app, &tenant, name).await;
    let path = posted(&b, &tenant, title, "Plus d'arbres & d'ombre.", &theme).await;
    let c = b
        .submit(
            &h,
            &path,
            &format!("{path}/commentaires"),
            &[("body", "D'accord & merci"), ("parent", "")],
        )
        .await;
    assert_eq!(c.status, 303);
    let page = b.get(&h, &path).await;
    let seen = page.plain();
    assert!(seen.contains(&format!("Par {name}")), "{seen}");
    assert!(seen.contains(&format!("à {name}")), "{seen}");
    // Others may report it: the hidden label names its author too.
    let (other, _) = citizen(&app, &tenant, "Bruno").await;
    let seen = other.get(&h, &path).await.plain();
    assert!(seen.contains(&format!("le commentaire de {name}")), "{seen}");
    let list = b.get(&h, "/participer/avenir").await;
    let id = path.rsplit('/').next().unwrap();
    let report = b.get(&h, &format!("/signaler/contribution/{id}")).await;
    for page in [&page, &list, &report] {
        assert_eq!(page.status, 200);
        for twice in ["&amp;#", "&amp;amp;", "&amp;lt;", "&amp;quot;"] {
            assert!(!page.body.contains(twice), "escaped twice ({twice}): {}", page.body);
        }
    }
    assert!(list.plain().contains(title), "{}", list.plain());
}

#[tokio::test]
async fn a_closed_call_stays_readable_and_accepts_nothing_new() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "clos").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let (b, _) = citizen(&app, &tenant, "Denis").await;
    let path = posted(&b, &tenant, "Avant la clôture", "Texte d'avant", &theme).await;
    let page_before = b.get(&h, &path).await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Archive)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(b.get(&h, "/participer/avenir/contribuer").await.status, 409);
    let refused = b
        .post_raw(
            &h,
            "/participer/avenir/contribuer",
            &[
                ("title", "Trop tard"),
                ("body", "Mon texte"),
                ("theme", &theme),
                ("csrf", &page_before.csrf()),
            ],
        )
        .await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("Mon texte"), "what was typed is kept");
    assert!(refused.field_error("body").unwrap().contains("clos"));
    let comment = b
        .post_raw(
            &h,
            &format!("{path}/commentaires"),
            &[
                ("body", "Un dernier mot"),
                ("parent", ""),
                ("csrf", &page_before.csrf()),
            ],
        )
        .await;
    assert_eq!(comment.status, 409);
    let page = b.get(&h, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.plain().contains("Texte d'avant"), "everything stays readable");
    assert!(!page.body.contains("Publier le commentaire"));
    assert!(!page.plain().contains("Un dernier mot"));
}

#[tokio::test]
async fn reports_hide_an_item_at_the_threshold_and_moderators_hear_of_them_in_one_mail() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "signal").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    // A moderator on the console side.
    let moderator = email("moderatrice");
    {
        let pw = participe_core::domain::NewPassword::parse(PASSWORD, PASSWORD).unwrap();
        let e = participe_core::domain::Email::parse(&moderator).unwrap();
        let participe_core::staff::SignUp::Created { staff, .. } =
            participe_core::staff::sign_up(&app.pool, &e, "Modératrice", &pw)
                .await
                .unwrap()
        else {
            panic!("new staff")
        };
        let mut conn = app.pool.acquire().await.unwrap();
        participe_core::staff::add_member(&mut conn, staff.id, tenant.id, participe_core::staff::Role::Moderator)
            .await
            .unwrap();
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let mut s = site::settings(&mut tx).await.unwrap();
        s.autohide_threshold = 2;
        site::update_settings(&mut tx, &s).await.unwrap();
        tx.commit().await.unwrap();
    }
    let (author, _) = citizen(&app, &tenant, "Auteur").await;
    let (r1, _) = citizen(&app, &tenant, "Lectrice").await;
    let (r2, _) = citizen(&app, &tenant, "Lecteur").await;
    let path = posted(&author, &tenant, "Texte contesté", "Un propos discutable", &theme).await;
    let id = path.rsplit('/').next().unwrap().to_string();
    let report_path = format!("/signaler/contribution/{id}");

    let missing = r1
        .submit(&h, &report_path, &report_path, &[("reason", "autre"), ("detail", "")])
        .await;
    assert_eq!(missing.status, 422);
    assert!(missing.field_error("detail").is_some(), "« autre » needs a word");
    let first = r1
        .submit(
            &h,
            &report_path,
            &report_path,
            &[("reason", "injurieux"), ("detail", "")],
        )
        .await;
    assert_eq!(first.status, 303);
    let twice = r1
        .submit(&h, &report_path, &report_path, &[("reason", "spam"), ("detail", "")])
        .await;
    assert_eq!(twice.status, 303);
    assert!(r1.follow(&h, &twice).await.plain().contains("déjà signalé"));
    assert!(
        r1.get(&h, &path).await.plain().contains("Un propos discutable"),
        "one reporter: still visible"
    );
    let second = r2
        .submit(&h, &report_path, &report_path, &[("reason", "charte"), ("detail", "")])
        .await;
    assert_eq!(second.status, 303);
    let visitor = app.browser();
    let hidden = visitor.get(&h, &path).await;
    assert_eq!(hidden.status, 200);
    assert!(
        !hidden.plain().contains("Un propos discutable"),
        "hidden at the threshold"
    );
    assert!(!hidden.plain().contains("Texte contesté"));
    assert!(hidden.plain().contains("en attente de vérification"));
    assert!(
        !visitor
            .get(&h, "/participer/avenir")
            .await
            .plain()
            .contains("Texte contesté")
    );

    // The digest is queued for a few minutes after the first report, once: make it due now.
    let queued: i64 = sqlx::query_scalar(
        "select count(*) from job where kind = 'moderation_digest' and tenant_id = $1 and state = 'pending' and run_at > now()",
    )
    .bind(tenant.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(queued, 1, "one digest for the burst, a few minutes ahead");
    sqlx::query("update job set run_at = now() where kind = 'moderation_digest' and tenant_id = $1")
        .bind(tenant.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let mail = app.mail.wait_for(&moderator, 1).await;
    assert!(
        mail.subject().contains("2 nouveau(x) signalement(s)"),
        "{}",
        mail.subject()
    );
    assert!(mail.text.contains("Texte contesté"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mail.to(&moderator).len(), 1, "one mail for the batch");

    // It stops in one click (RFC 8058), without signing in; a made-up link changes nothing.
    assert!(
        mail.text
            .contains("\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n"),
        "{}",
        mail.text
    );
    let link = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_else(|| panic!("no List-Unsubscribe in {}", mail.text))
        .to_string();
    let unsubscribe = link
        .split_once("console.localhost")
        .unwrap()
        .1
        .split_once('/')
        .map(|(port, path)| {
            assert!(port.is_empty() || port.starts_with(':'), "{link}");
            format!("/{path}")
        });
    let unsubscribe = unsubscribe.unwrap();
    assert!(mail.text.contains(&link), "the link is in the text too");
    let stranger = app.browser();
    let page = stranger.get("console.localhost", &unsubscribe).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.plain().contains("Ne plus recevoir ces courriels"));
    let made_up = format!("/desabonnement/{}", uuid::Uuid::new_v4());
    assert_eq!(
        stranger
            .post_raw("console.localhost", &made_up, &[("List-Unsubscribe", "One-Click")])
            .await
            .status,
        404
    );
    let done = stranger
        .post_raw("console.localhost", &unsubscribe, &[("List-Unsubscribe", "One-Click")])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.plain().contains("Vous ne recevrez plus"), "{}", done.plain());
    assert!(
        stranger
            .get("console.localhost", &unsubscribe)
            .await
            .plain()
            .contains("Recevoir de nouveau")
    );
    // The next reports reach nobody's mailbox, and stay in the queue.
    let (r3, _) = citizen(&app, &tenant, "Troisième").await;
    let other = posted(&author, &tenant, "Autre texte", "Encore un propos", &theme).await;
    let other_report = format!("/signaler/contribution/{}", other.rsplit('/').next().unwrap());
    let third = r3
        .submit(&h, &other_report, &other_report, &[("reason", "spam"), ("detail", "")])
        .await;
    assert_eq!(third.status, 303);
    sqlx::query("update job set run_at = now() where kind = 'moderation_digest' and tenant_id = $1")
        .bind(tenant.id)
        .execute(&app.pool)
        .await
        .unwrap();
    app.eventually(|| async {
        let pending: i64 = sqlx::query_scalar(
            "select count(*) from job where kind = 'moderation_digest' and tenant_id = $1 and state = 'pending'",
        )
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        pending == 0
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.mail.to(&moderator).len(), 1, "unsubscribed: no second mail");

    // A moderator restores or moderates, the portal shows the public reason.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let queue = p::queue(&mut tx, 10, 0).await.unwrap();
    assert_eq!(queue.len(), 2, "both reported contributions wait, mail or not");
    let contested = queue.iter().find(|q| q.id.to_string() == id).unwrap();
    assert_eq!(contested.reports, 2);
    p::decide(
        &mut tx,
        p::Target::Contribution(id.parse().unwrap()),
        &p::Decision::Moderate("Propos injurieux".into()),
    )
    .await
    .unwrap();
    assert_eq!(p::queue(&mut tx, 10, 0).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    let moderated = visitor.get(&h, &path).await;
    assert!(moderated.plain().contains("Ce contenu a été modéré : Propos injurieux"));
    assert!(!moderated.plain().contains("Un propos discutable"));
}

#[tokio::test]
async fn a_blocked_citizen_reads_but_cannot_post_and_a_new_charter_asks_again() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "bloque").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let (b, address) = citizen(&app, &tenant, "Gaston").await;

    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    site::publish_charter_version(&mut tx, "Charte v2", "Nouvelle règle.", "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let asked = b.get(&h, "/participer/avenir/contribuer").await;
    assert_eq!(asked.status, 303);
    assert!(asked.header("location").starts_with("/charte?suite="));
    let accept = b
        .submit(
            &h,
            "/charte?suite=/participer/avenir/contribuer",
            "/charte",
            &[("version", "2"), ("suite", "/participer/avenir/contribuer")],
        )
        .await;
    assert_eq!(accept.status, 422, "the box must be ticked");
    let accept = b
        .submit(
            &h,
            "/charte?suite=/participer/avenir/contribuer",
            "/charte",
            &[
                ("version", "2"),
                ("accept", "on"),
                ("suite", "/participer/avenir/contribuer"),
            ],
        )
        .await;
    assert_eq!(accept.status, 303);
    assert_eq!(accept.header("location"), "/participer/avenir/contribuer");
    assert_eq!(b.get(&h, "/participer/avenir/contribuer").await.status, 200);

    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let e = participe_core::domain::Email::parse(&address).unwrap();
    let me = citizens::find_by_email(&mut tx, &e).await.unwrap().unwrap();
    citizens::set_blocked(&mut tx, me.id, Some("propos répétés"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = b.get(&h, "/participer/avenir").await;
    assert_eq!(page.status, 200, "a blocked citizen still reads");
    let refused = b
        .submit(
            &h,
            "/participer/avenir",
            "/participer/avenir/contribuer",
            &[("title", "Titre"), ("body", "Texte"), ("theme", &theme)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.plain().contains("propos répétés"));
}

#[tokio::test]
async fn a_citizen_downloads_their_data_and_deletes_their_account() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "rgpd").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let (b, address) = citizen(&app, &tenant, "Hélène").await;
    let path = posted(&b, &tenant, "Plus de bancs", "Sur la place.", &theme).await;

    let (status, content_type, bytes) = b.get_bytes(&h, "/compte/donnees").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let data: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(data["compte"]["adresse"], address.as_str());
    assert_eq!(data["contributions"][0]["titre"], "Plus de bancs");
    assert_eq!(data["compte"]["charte_version_acceptee"], 1);

    let wrong = b
        .submit(
            &h,
            "/compte/suppression",
            "/compte/suppression",
            &[("password", "mauvais")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    let done = b
        .submit(
            &h,
            "/compte/suppression",
            "/compte/suppression",
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.plain().contains("Votre compte est supprimé"), "{}", done.plain());
    // Signed out on the very page that says so.
    assert!(!done.plain().contains("Se déconnecter"), "{}", done.plain());
    assert!(!done.plain().contains("Mon compte"), "{}", done.plain());
    assert!(done.plain().contains("Se connecter"), "{}", done.plain());
    let page = app.browser().get(&h, &path).await;
    assert!(
        page.plain().contains("Par Participant·e supprimé·e"),
        "{}",
        page.plain()
    );
    assert!(page.plain().contains("Sur la place."));
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let e = participe_core::domain::Email::parse(&address).unwrap();
    assert!(
        citizens::find_by_email(&mut tx, &e).await.unwrap().is_none(),
        "personal data erased"
    );
    drop(tx);
    assert_eq!(b.get(&h, "/compte").await.status, 303, "the session ended");

    // With the content too.
    let (b2, _) = citizen(&app, &tenant, "Ines").await;
    let path2 = posted(&b2, &tenant, "À effacer", "Texte", &theme).await;
    let done = b2
        .submit(
            &h,
            "/compte/suppression",
            "/compte/suppression",
            &[("password", PASSWORD), ("with_content", "on")],
        )
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(app.browser().get(&h, &path2).await.status, 404);
}

#[tokio::test]
async fn an_account_of_one_portal_means_nothing_on_another() {
    let app = TestApp::spawn().await;
    let (a, call_a) = tenant_with_call(&app, "porta").await;
    let (b_tenant, _) = tenant_with_call(&app, "portb").await;
    let theme = theme_id(&app, &a, call_a, "Commerces").await;
    let (browser, address) = citizen(&app, &a, "Karim").await;
    let path = posted(&browser, &a, "Chez A", "Texte A", &theme).await;

    // The same credentials do not open tenant B.
    let login = browser
        .submit(
            &host(&b_tenant),
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, 422);

    // Tenant A's session cookie, presented on tenant B's host, signs nobody in there.
    let session_cookie = session_cookie(&app, &a).await;
    let on_b = app
        .client
        .get(format!("http://{}/compte", app.addr))
        .header("host", format!("{}:{}", host(&b_tenant), app.addr.port()))
        .header("cookie", format!("participe_session={session_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status().as_u16(), 303, "refused on tenant B");
    let on_a = app
        .client
        .get(format!("http://{}/compte", app.addr))
        .header("host", format!("{}:{}", host(&a), app.addr.port()))
        .header("cookie", format!("participe_session={session_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        on_a.status().as_u16(),
        303,
        "and the session, once shown on another host, is dropped"
    );

    // Tenant A's contribution is not reachable through tenant B, even by its id.
    let foreign = app.browser().get(&host(&b_tenant), &path).await;
    assert_eq!(foreign.status, 404);
    let id = path.rsplit('/').next().unwrap();
    let (kb, _) = citizen(&app, &b_tenant, "Léa").await;
    assert_eq!(
        kb.get(&host(&b_tenant), &format!("/signaler/contribution/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        kb.get(&host(&b_tenant), "/participer/avenir/contributions/not-a-uuid")
            .await
            .status,
        404
    );
}

/// Signs `address` in on `tenant`'s portal with a bare HTTP client: the session cookie
/// (`name=value`) before the sign-in and the one after.
async fn sign_in_bare(app: &TestApp, tenant: &Tenant, address: &str) -> (String, String) {
    let h = format!("{}:{}", host(tenant), app.addr.port());
    let cookie_of = |r: &reqwest::Response| {
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let form = app
        .client
        .get(format!("http://{}/connexion", app.addr))
        .header("host", &h)
        .send()
        .await
        .unwrap();
    let before = cookie_of(&form);
    let token = Page::read(form).await.csrf();
    let signed = app
        .client
        .post(format!("http://{}/connexion", app.addr))
        .header("host", &h)
        .header("cookie", &before)
        .form(&[("email", address), ("password", PASSWORD), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303);
    (before, cookie_of(&signed))
}

/// Signs a citizen of `tenant` in with a bare HTTP client and returns the value of the
/// session cookie the portal set.
async fn session_cookie(app: &TestApp, tenant: &Tenant) -> String {
    let (_, address) = citizen(app, tenant, "Témoin").await;
    let (_, after) = sign_in_bare(app, tenant, &address).await;
    let value = after.split_once('=').unwrap().1.to_string();
    // It works on its own portal before it is shown anywhere else.
    let mine = app
        .client
        .get(format!("http://{}/compte", app.addr))
        .header("host", format!("{}:{}", host(tenant), app.addr.port()))
        .header("cookie", format!("participe_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status().as_u16(), 200);
    value
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_loses_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "entree").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let (b, _) = citizen(&app, &tenant, "Nina").await;
    let long_title = "t".repeat(201);
    let page = contribute(&b, &tenant, &long_title, "   ", &theme).await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("title").unwrap().contains("200 caractères au plus"));
    assert!(page.field_error("body").unwrap().contains("vide"));
    assert!(page.body.contains(&long_title), "the title typed is kept");
    let no_theme = contribute(&b, &tenant, "Titre", "Texte", "").await;
    assert_eq!(no_theme.status, 422);
    assert!(no_theme.field_error("theme").is_some());

    // Invalid UTF-8 in a form body: no 500, no stored garbage beyond the replacement.
    let form = b.get(&h, "/participer/avenir/contribuer").await;
    let raw = format!("title=Octets&body=%FF%FE%20texte&theme={theme}&csrf={}", form.csrf());
    let odd = b
        .post_bytes(&h, "/participer/avenir/contribuer", raw.into_bytes())
        .await;
    assert!(
        odd.status == 303 || odd.status == 400,
        "a clear answer, not a 500: {}",
        odd.status
    );
    let mut raw = format!("title=Octets&theme={theme}&csrf={}&body=", form.csrf()).into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe, b'x']);
    let odd = b.post_bytes(&h, "/participer/avenir/contribuer", raw).await;
    assert!(
        odd.status == 303 || odd.status == 400,
        "raw invalid bytes: {}",
        odd.status
    );

    // No CSRF token, no post.
    let forged = b
        .post_raw(
            &h,
            "/participer/avenir/contribuer",
            &[("title", "Forgé"), ("body", "x"), ("theme", &theme)],
        )
        .await;
    assert_eq!(forged.status, 403);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let (items, total) = p::list(&mut tx, call, None, p::Sort::Newest, 1).await.unwrap();
    assert!(items.iter().all(|c| c.title != "Forgé"));
    assert!(total <= 2, "only the two odd-byte posts, if accepted, got in");
}

#[tokio::test]
async fn a_citizen_changes_address_only_once_the_new_one_is_confirmed_and_a_new_password_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "compte").await;
    let h = host(&tenant);
    let (b, old) = citizen(&app, &tenant, "Olivier").await;
    let other_device = app.browser();
    let signed = other_device
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &old), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.status, 303);

    let renamed = b.submit(&h, "/compte", "/compte/nom", &[("display_name", "  ")]).await;
    assert_eq!(renamed.status, 422);
    assert!(renamed.field_error("display_name").is_some());
    let renamed = b
        .submit(&h, "/compte", "/compte/nom", &[("display_name", "Olivier R.")])
        .await;
    assert_eq!(renamed.status, 303);

    let new = email("nouvelle");
    let asked = b.submit(&h, "/compte", "/compte/adresse", &[("email", &new)]).await;
    assert_eq!(asked.status, 303);
    let page = b.get(&h, "/compte").await;
    assert!(
        page.text().contains(&format!("value=\"{old}\"")),
        "the old address stays until confirmed"
    );
    let mail = app
        .mail
        .wait_for_subject(&new, "Confirmez votre nouvelle adresse")
        .await;
    let link = mail.link(&format!("http://{h}:{}/compte/adresse/", app.addr.port()));
    assert_eq!(b.get(&h, &path_of(&app, &link)).await.status, 303);
    assert!(b.get(&h, "/compte").await.text().contains(&format!("value=\"{new}\"")));
    assert_eq!(b.get(&h, &path_of(&app, &link)).await.status, 404, "a link works once");

    let wrong = b
        .submit(
            &h,
            "/compte",
            "/compte/mot-de-passe",
            &[
                ("current_password", "pas le bon"),
                ("password", "un tout nouveau mot de passe"),
                ("password_confirm", "un tout nouveau mot de passe"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.field_error("current_password").is_some());
    let before = b.get(&h, "/compte").await;
    let changed = b
        .post_raw(
            &h,
            "/compte/mot-de-passe",
            &[
                ("current_password", PASSWORD),
                ("password", "un tout nouveau mot de passe"),
                ("password_confirm", "un tout nouveau mot de passe"),
                ("csrf", &before.csrf()),
            ],
        )
        .await;
    assert_eq!(changed.status, 303);
    assert_eq!(b.get(&h, "/compte").await.status, 200, "this session goes on");
    assert_eq!(other_device.get(&h, "/compte").await.status, 303, "the other one ended");
    let old_login = app
        .browser()
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &old), ("password", "un tout nouveau mot de passe")],
        )
        .await;
    assert_eq!(old_login.status, 422, "the old address no longer signs in");
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_is_rate_limited_per_account() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "limite").await;
    let h = host(&tenant);
    let (_, address) = citizen(&app, &tenant, "Patricia").await;
    let (before, after) = sign_in_bare(&app, &tenant, &address).await;
    assert_ne!(before, after, "a new session id at sign-in");

    let b = app.browser();
    let mut limited = false;
    for _ in 0..15 {
        let page = b
            .submit(
                &h,
                "/connexion",
                "/connexion",
                &[("email", &address), ("password", "mauvais mot de passe")],
            )
            .await;
        if page.status == 429 {
            assert!(page.field_error("email").unwrap().contains("trop de tentatives"));
            limited = true;
            break;
        }
        assert_eq!(page.status, 422);
    }
    assert!(limited, "ten wrong passwords for one account are enough");
}

#[tokio::test]
async fn visitors_get_cached_pages_that_follow_every_change() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "cache").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let visitor = app.browser();
    let before = visitor.get(&h, "/participer/avenir").await;
    assert!(before.plain().contains("Les contributions (0)"));
    let (b, _) = citizen(&app, &tenant, "Quentin").await;
    let path = posted(&b, &tenant, "Une halle couverte", "Pour le marché du samedi.", &theme).await;
    // The visitor's cached page gives way as soon as the change is notified.
    app.eventually(|| async {
        visitor
            .get(&h, "/participer/avenir")
            .await
            .plain()
            .contains("Une halle couverte")
    })
    .await;
    let page = visitor.get(&h, &path).await;
    assert!(page.plain().contains("Pour le marché du samedi."));
    // A comment, a moderation: the contribution's cached page follows too.
    let c = b
        .submit(
            &h,
            &path,
            &format!("{path}/commentaires"),
            &[("body", "Et un parking vélo."), ("parent", "")],
        )
        .await;
    assert_eq!(c.status, 303);
    app.eventually(|| async { visitor.get(&h, &path).await.plain().contains("Et un parking vélo.") })
        .await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let id = path.rsplit('/').next().unwrap().parse().unwrap();
    p::decide(
        &mut tx,
        p::Target::Contribution(id),
        &p::Decision::Moderate("Doublon".into()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.eventually(|| async {
        visitor
            .get(&h, &path)
            .await
            .plain()
            .contains("Ce contenu a été modéré : Doublon")
    })
    .await;
    // Signed in, the page is never a visitor's copy: it carries the citizen's own links.
    assert!(b.get(&h, &path).await.body.contains("Se déconnecter"));
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_which_works_once() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&app, "oubli").await;
    let h = host(&tenant);
    let (_, address) = citizen(&app, &tenant, "Roxane").await;
    let b = app.browser();
    let asked = b
        .submit(
            &h,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &address)],
        )
        .await;
    assert_eq!(asked.status, 200);
    let mail = app
        .mail
        .wait_for_subject(&address, "Choisir un nouveau mot de passe")
        .await;
    let link = path_of(
        &app,
        &mail.link(&format!("http://{h}:{}/reinitialiser/", app.addr.port())),
    );
    let short = b
        .submit(
            &h,
            &link,
            &link,
            &[("password", "court"), ("password_confirm", "court")],
        )
        .await;
    assert_eq!(short.status, 422);
    let new = "une toute nouvelle phrase";
    let done = b
        .submit(&h, &link, &link, &[("password", new), ("password_confirm", new)])
        .await;
    assert_eq!(done.status, 303);
    let again = b
        .submit(&h, &link, &link, &[("password", new), ("password_confirm", new)])
        .await;
    assert_eq!(again.status, 404, "a reset link works once");
    let old = app
        .browser()
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, 422);
    let ok = app
        .browser()
        .submit(
            &h,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", new)],
        )
        .await;
    assert_eq!(ok.status, 303);
}

#[tokio::test]
async fn after_fifteen_minutes_a_contribution_can_be_deleted_but_no_longer_edited() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "delai").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Commerces").await;
    let (b, _) = citizen(&app, &tenant, "Simon").await;
    let path = posted(&b, &tenant, "Un titre", "Un texte", &theme).await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    sqlx::query("update contribution set created_at = now() - interval '16 minutes'")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = b.get(&h, &path).await;
    assert!(!page.body.contains("/modifier"), "no edit link any more");
    assert_eq!(b.get(&h, &format!("{path}/modifier")).await.status, 409);
    let late = b
        .post_raw(
            &h,
            &format!("{path}/modifier"),
            &[
                ("title", "Changé"),
                ("body", "Changé aussi"),
                ("theme", &theme),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(late.status, 409);
    assert!(late.body.contains("Changé aussi"), "what was typed is kept");
    assert!(b.get(&h, &path).await.plain().contains("Un texte"), "nothing changed");
    assert_eq!(
        b.submit(&h, &path, &format!("{path}/suppression"), &[]).await.status,
        303
    );
}

#[tokio::test]
async fn a_portal_read_only_for_unpaid_billing_shows_everything_and_accepts_nothing_new() {
    use participe_core::billing::standing;
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "impaye").await;
    let (other, other_call) = tenant_with_call(&app, "payeur").await;
    let (b, _) = citizen(&app, &tenant, "Camille").await;
    let (neighbour, _) = citizen(&app, &other, "Dominique").await;
    let theme = theme_id(&app, &tenant, call, "Mobilités").await;
    let path = posted(&b, &tenant, "Avant l'impayé", "Texte publié à temps.", &theme).await;
    let h = host(&tenant);

    // Paid up to two months ago: past the 30 days of grace.
    let policy = standing::Policy::default();
    sqlx::query("update tenant set paid_until = current_date - 60 where id = $1")
        .bind(tenant.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].effect.as_deref(), Some("read_only"));
    app.eventually(|| async { b.get(&h, &path).await.plain().contains("consultation seule") })
        .await;
    let page = b.get(&h, &path).await;
    assert_eq!(page.status, 200, "everything stays readable");
    assert!(page.plain().contains("Texte publié à temps."));
    let form = b.get(&h, "/participer/avenir/contribuer").await;
    assert_eq!(form.status, 403);
    assert!(form.plain().contains("consultation seule"), "{}", form.plain());
    let csrf = page.csrf();
    let refused = b
        .post_raw(
            &h,
            "/participer/avenir/contribuer",
            &[
                ("title", "Après"),
                ("body", "Refusé."),
                ("theme", &theme),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let (_, total) = p::list(&mut tx, call, None, Sort::Newest, 1).await.unwrap();
    assert_eq!(total, 1, "nothing new was saved");
    drop(tx);

    // The portal next door, paid, is untouched.
    let other_theme = theme_id(&app, &other, other_call, "Commerces").await;
    assert_eq!(
        contribute(&neighbour, &other, "À côté", "Ici tout va bien.", &other_theme)
            .await
            .status,
        303
    );
    assert!(
        !neighbour
            .get(&host(&other), "/")
            .await
            .plain()
            .contains("consultation seule")
    );

    // Payment recorded: the portal reopens.
    sqlx::query("update tenant set paid_until = current_date + 300 where id = $1")
        .bind(tenant.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(changes[0].effect.as_deref(), Some("reopened"));
    app.eventually(|| async { b.get(&h, "/participer/avenir/contribuer").await.status == 200 })
        .await;
    assert_eq!(
        contribute(&b, &tenant, "Après le paiement", "De nouveau possible.", &theme)
            .await
            .status,
        303
    );
}

/// What the portal's templates make of text (minijinja's HTML escaping).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// Signed-in citizens share one rendering of a page, with holes for their name and token
/// (issue 20). Read by many at once, each page holds its reader's own name, token and
/// buttons and never another's, and is byte for byte the page rendered for them alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_citizens_share_a_page_but_never_each_other_s_name_token_or_buttons() {
    let app = TestApp::spawn().await;
    let (tenant, call) = tenant_with_call(&app, "partage").await;
    let h = host(&tenant);
    let theme = theme_id(&app, &tenant, call, "Mobilités").await;
    let (author, _) = citizen(&app, &tenant, "Amélie, parent d'élève").await;
    let path = posted(&author, &tenant, "Des bancs", "Sur la place.", &theme).await;
    let (commenter, _) = citizen(&app, &tenant, "Zoé & « Léa » <O'Neil>").await;
    let said = commenter
        .submit(
            &h,
            &path,
            &format!("{path}/commentaires"),
            &[("body", "D'accord !"), ("parent", "")],
        )
        .await;
    assert_eq!(said.status, 303, "{}", said.body);
    let mut people = vec![
        ("Amélie, parent d'élève".to_string(), author),
        ("Zoé & « Léa » <O'Neil>".to_string(), commenter),
    ];
    let mut addresses = Vec::new();
    for i in 0..5 {
        let name = format!("Lecteur n° {i} \"{i}\" & fils");
        let (b, address) = citizen(&app, &tenant, &name).await;
        addresses.push(address);
        people.push((name, b));
    }
    // Each one's token, from a page of theirs (the first reading also fills the cache).
    let mut tokens = Vec::new();
    let kept = app.state.pages.entries();
    for (_, b) in &people {
        tokens.push(b.get(&h, &path).await.csrf());
    }
    // One rendering kept for all of them (two if the comment's change notice came in
    // between); their authors' pages are theirs alone and not kept.
    let added = app.state.pages.entries() - kept;
    assert!(
        (1..=2).contains(&added),
        "the signed-in citizens' page is shared: {added} kept"
    );
    let pages = [path.clone(), "/participer/avenir".to_string()];
    let h = &h;
    let reads = people.iter().enumerate().flat_map(|(who, (_, b))| {
        pages
            .iter()
            .flat_map(move |p| (0..8).map(move |_| async move { (who, p.clone(), b.get(h, p).await) }))
    });
    let answers = futures::future::join_all(reads).await;
    assert_eq!(answers.len(), people.len() * pages.len() * 8);
    for (who, p, page) in &answers {
        assert_eq!(page.status, 200, "{p}: {}", page.body);
        assert!(!page.body.contains('\u{e000}'), "a hole left unfilled on {p}");
        for (other, (name, _)) in people.iter().enumerate() {
            let menu = format!("({})</span></a>", escaped(name));
            let token = format!(r#"name="csrf" value="{}""#, tokens[other]);
            if other == *who {
                assert!(page.body.contains(&menu), "{name} does not see their name on {p}");
                assert!(page.body.contains(&token), "{name} does not get their token on {p}");
            } else {
                assert!(
                    !page.body.contains(&menu),
                    "{} sees {name}'s name on {p}",
                    people[*who].0
                );
                assert!(
                    !page.body.contains(&token),
                    "{} gets {name}'s token on {p}",
                    people[*who].0
                );
            }
        }
        if *p == path {
            let deletes_contribution = page.body.contains(&format!(r#"action="{path}/suppression""#));
            assert_eq!(
                deletes_contribution,
                *who == 0,
                "the contribution's delete button, reader {who}"
            );
            assert_eq!(page.body.contains("Supprimer ma contribution"), *who == 0);
            assert_eq!(
                page.body.contains("mon commentaire du"),
                *who == 1,
                "the comment's delete button, reader {who}"
            );
            assert_eq!(page.body.contains("Signaler cette contribution"), *who != 0);
        }
    }

    // The same readers on a server without page cache: the page rendered for them alone
    // is the shared one, filled.
    let alone = TestApp::spawn_without_page_cache(&database_url()).await;
    for (n, address) in addresses.iter().enumerate() {
        let b = alone.browser();
        let signed = b
            .submit(
                h,
                "/connexion",
                "/connexion",
                &[("email", address), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        for p in &pages {
            let own = b.get(h, p).await;
            let token = own.csrf();
            let shared = people[n + 2].1.get(h, p).await;
            let (here, there) = (format!(":{}", app.addr.port()), format!(":{}", alone.addr.port()));
            let shared = shared.body.replace(&tokens[n + 2], &token).replace(&here, &there);
            assert_eq!(shared, own.body, "{p}");
        }
    }
}

/// Sessions are read from each process's memory (issue 20); what one process writes or
/// deletes reaches the others' copies: a citizen signed out on one replica is signed out
/// on every replica, and a message left on one shows on another.
#[tokio::test]
async fn a_session_ended_on_one_replica_is_ended_on_every_replica() {
    let one = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let (tenant, _) = tenant_with_call(&one, "replique").await;
    let h = host(&tenant);
    let address = email("replique");
    let b = signed_in_citizen(&one, &tenant, &address).await;
    let there = b.at(other.addr.port());
    assert_eq!(there.get(&h, "/compte").await.status, 200, "signed in on both replicas");
    assert_eq!(b.get(&h, "/compte").await.status, 200);

    let out = b.submit(&h, "/compte", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    other
        .eventually(|| async { there.get(&h, "/compte").await.status == 303 })
        .await;
    let page = there.get(&h, "/compte").await;
    assert_eq!(page.status, 303, "the other replica still knows the session");
    assert!(page.header("location").starts_with("/connexion"));

    // Accounts are kept in memory too: a new password (its sessions' epoch moves on),
    // written by any process, signs the citizen out everywhere at their next request.
    let second = email("replique-2");
    let b = signed_in_citizen(&one, &tenant, &second).await;
    let there = b.at(other.addr.port());
    assert_eq!(b.get(&h, "/compte").await.status, 200);
    assert_eq!(there.get(&h, "/compte").await.status, 200);
    let mut tx = TenantTx::begin(&one.pool, &tenant).await.unwrap();
    sqlx::query("update citizen set session_epoch = session_epoch + 1 where email = $1")
        .bind(&second)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (app, browser) in [(&one, &b), (&other, &there)] {
        app.eventually(|| async { browser.get(&h, "/compte").await.status == 303 })
            .await;
        assert_eq!(
            browser.get(&h, "/compte").await.status,
            303,
            "an old password's session lives on"
        );
    }
}
