//! The tenant console as collectivité staff use it: accounts, sign-in, second factor,
//! creating a portal, and the walls between tenants.

mod common;

use common::*;

const CONSOLE: &str = "console.localhost";
const PASSWORD: &str = "une phrase de passe assez longue";

fn email(tag: &str) -> String {
    format!("{tag}-{}@mairie.test", random_suffix(8))
}

/// Signs up, confirms through the mail, signs in: a browser with a live console session.
async fn signed_in(app: &TestApp, address: &str) -> Browser {
    let b = app.browser();
    let page = b
        .submit(
            CONSOLE,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Marie Dupont"),
                ("email", address),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mail = app.mail.wait_for_subject(address, "Confirmez votre adresse").await;
    let link = mail.link(&format!("http://{CONSOLE}:{}/confirmer/", app.addr.port()));
    let confirmed = b
        .get(CONSOLE, link.split_once(&format!(":{}", app.addr.port())).unwrap().1)
        .await;
    assert_eq!(confirmed.status, 303);
    let page = b
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    b
}

fn path_of(app: &TestApp, link: &str) -> String {
    link.split_once(&format!(":{}", app.addr.port())).unwrap().1.to_string()
}

#[tokio::test]
async fn a_staff_member_signs_up_confirms_signs_in_and_out() {
    let app = TestApp::spawn().await;
    let address = email("marie");
    let b = app.browser();

    let page = b
        .submit(
            CONSOLE,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Marie Dupont"),
                ("email", &address.to_uppercase()),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Vérifiez votre messagerie");

    let mail = app.mail.wait_for(&address, 1).await;
    assert_eq!(mail.subject(), "Confirmez votre adresse — Participe");
    assert!(mail.text.contains("Bonjour Marie Dupont"));
    // Not confirmed yet: signing in asks for the confirmation, and sends a fresh link.
    let early = b
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(early.status, 422);
    assert!(
        early
            .field_error("email")
            .unwrap()
            .contains("confirmez d'abord votre adresse")
    );
    app.mail.wait_for(&address, 2).await;

    let confirmed = b
        .get(CONSOLE, &path_of(&app, &mail.link("http://console.localhost")))
        .await;
    assert_eq!(confirmed.status, 303);
    let login_page = b.follow(CONSOLE, &confirmed).await;
    assert!(login_page.text().contains("Votre adresse est confirmée"));
    // A used link does not work twice.
    assert_eq!(
        b.get(CONSOLE, &path_of(&app, &mail.link("http://console.localhost")))
            .await
            .status,
        404
    );

    let signed = b
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.status, 303);
    let cookie = signed.header("set-cookie");
    assert!(cookie.starts_with("participe_console="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_lowercase().contains("domain="), "host-only cookie: {cookie}");
    let home = b.follow(CONSOLE, &signed).await;
    assert_eq!(home.h1(), "Mes portails");
    assert!(home.text().contains("Marie Dupont"));

    let out = b.submit(CONSOLE, "/", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    let after = b.get(CONSOLE, "/").await;
    assert_eq!(
        after.h1(),
        "Participe, la participation citoyenne de votre collectivité"
    );
    assert_eq!(
        b.get(CONSOLE, "/compte").await.status,
        303,
        "signed out: the account page sends to sign-in"
    );
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = TestApp::spawn().await;
    let address = email("fixation");
    let b = signed_in(&app, &address).await;
    // A visitor's session (made by the sign-in page's CSRF token)…
    let visitor = app.browser();
    let form = visitor.get(CONSOLE, "/connexion").await;
    let before = form.header("set-cookie").split(';').next().unwrap().to_string();
    let after = visitor
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    let after_cookie = after
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(after.status, 303);
    assert!(
        !after_cookie.is_empty() && after_cookie != before,
        "a new session id after sign-in"
    );
    drop(b);
}

#[tokio::test]
async fn no_answer_says_whether_an_address_has_an_account() {
    let app = TestApp::spawn().await;
    let known = email("connu");
    let _b = signed_in(&app, &known).await;
    let unknown = email("inconnu");

    // Signing up again with a known address: the same page, and a mail to the owner only.
    let again = app
        .browser()
        .submit(
            CONSOLE,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Quelqu'un"),
                ("email", &known),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    let fresh = app
        .browser()
        .submit(
            CONSOLE,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Quelqu'un"),
                ("email", &unknown),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status, fresh.status);
    assert_eq!(again.h1(), fresh.h1());
    assert_eq!(app.mail.wait_for(&known, 2).await.subject(), "Votre compte Participe");

    // Wrong password and unknown address read the same.
    let wrong = app
        .browser()
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &known), ("password", "pas le bon mot de passe")],
        )
        .await;
    let nobody = app
        .browser()
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &email("personne")), ("password", "pas le bon mot de passe")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.field_error("email"), nobody.field_error("email"));
    assert_eq!(
        wrong.field_error("email").unwrap(),
        "adresse électronique ou mot de passe incorrect"
    );

    // Forgotten password: the same answer, a mail only for the real account.
    let forgot_known = app
        .browser()
        .submit(
            CONSOLE,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &known)],
        )
        .await;
    let forgot_unknown = app
        .browser()
        .submit(
            CONSOLE,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &unknown.replace("inconnu", "absent"))],
        )
        .await;
    assert_eq!(forgot_known.h1(), forgot_unknown.h1());
    assert_eq!(
        app.mail.wait_for(&known, 3).await.subject(),
        "Réinitialiser votre mot de passe — Participe"
    );
}

#[tokio::test]
async fn a_bad_form_keeps_what_was_typed_and_says_what_is_wrong_beside_each_field() {
    let app = TestApp::spawn().await;
    let b = app.browser();

    let page = b
        .submit(
            CONSOLE,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "<script>alert(1)</script>"),
                ("email", "pas-une-adresse"),
                ("password", "court"),
                ("password_confirm", "court"),
            ],
        )
        .await;

    assert_eq!(page.status, 422);
    assert_eq!(
        page.field_error("email").unwrap(),
        "indiquez une adresse électronique valide, par exemple prenom.nom@mairie.fr"
    );
    assert_eq!(
        page.field_error("password").unwrap(),
        "choisissez un mot de passe d'au moins 12 caractères"
    );
    assert!(
        page.body.contains(r#"value="pas-une-adresse""#),
        "the address typed is kept"
    );
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "and rendered inert"
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(!page.body.contains(r#"value="court""#), "passwords are never echoed");
    assert!(
        page.body.contains(r#"aria-invalid="true""#) && page.body.contains(r##"href="#email""##),
        "errors are linked from the summary"
    );
}

#[tokio::test]
async fn form_posts_without_the_session_token_or_from_another_site_are_refused() {
    let app = TestApp::spawn().await;
    let address = email("csrf");
    let _owner = signed_in(&app, &address).await;
    let b = app.browser();

    let no_token = b
        .post_raw(CONSOLE, "/connexion", &[("email", &address), ("password", PASSWORD)])
        .await;
    assert_eq!(no_token.status, 403);
    assert_eq!(no_token.h1(), "Accès refusé");
    assert!(no_token.text().contains("Ce formulaire a expiré"));

    // A token from another visitor's session is worth nothing here.
    let other = app.browser().get(CONSOLE, "/connexion").await.csrf();
    let _ = b.get(CONSOLE, "/connexion").await;
    let stolen = b
        .post_raw(
            CONSOLE,
            "/connexion",
            &[("email", &address), ("password", PASSWORD), ("csrf", &other)],
        )
        .await;
    assert_eq!(stolen.status, 403);

    // A cross-site post, even with a valid token, is refused.
    let token = b.get(CONSOLE, "/connexion").await.csrf();
    let response = app
        .client
        .post(format!("http://{}/connexion", app.addr))
        .header("host", CONSOLE)
        .header("origin", "https://evil.example")
        .form(&[
            ("email", address.as_str()),
            ("password", PASSWORD),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account() {
    let app = TestApp::spawn().await;
    let address = email("limite");
    let _b = signed_in(&app, &address).await;
    let b = app.browser();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let page = b
            .submit(
                CONSOLE,
                "/connexion",
                "/connexion",
                &[("email", &address), ("password", "mauvais mot de passe")],
            )
            .await;
        statuses.push(page.status);
    }
    assert!(statuses[..9].iter().all(|s| *s == 422), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429);
    // Even the right password waits now.
    let page = b
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 429);
    assert!(page.field_error("email").unwrap().contains("trop de tentatives"));
}

#[tokio::test]
async fn a_password_reset_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let address = email("reset");
    let laptop = signed_in(&app, &address).await;
    assert_eq!(laptop.get(CONSOLE, "/compte").await.status, 200);
    let phone = app.browser();

    phone
        .submit(
            CONSOLE,
            "/mot-de-passe-oublie",
            "/mot-de-passe-oublie",
            &[("email", &address)],
        )
        .await;
    let mail = app.mail.wait_for(&address, 2).await;
    let reset_path = path_of(&app, &mail.link("http://console.localhost"));
    let mismatch = phone
        .submit(
            CONSOLE,
            &reset_path,
            &reset_path,
            &[
                ("password", "nouvelle phrase bien longue"),
                ("password_confirm", "autre phrase bien longue"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert_eq!(
        mismatch.field_error("password").unwrap(),
        "les deux mots de passe saisis sont différents"
    );
    let done = phone
        .submit(
            CONSOLE,
            &reset_path,
            &reset_path,
            &[
                ("password", "nouvelle phrase bien longue"),
                ("password_confirm", "nouvelle phrase bien longue"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);

    assert_eq!(
        laptop.get(CONSOLE, "/compte").await.status,
        303,
        "the old session is over"
    );
    let old = app
        .browser()
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, 422);
    let new = app
        .browser()
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", "nouvelle phrase bien longue")],
        )
        .await;
    assert_eq!(new.status, 303);
    // The link was for one use.
    assert_eq!(phone.get(CONSOLE, &reset_path).await.status, 200);
    let reused = phone
        .submit(
            CONSOLE,
            &reset_path,
            &reset_path,
            &[
                ("password", "encore une autre phrase"),
                ("password_confirm", "encore une autre phrase"),
            ],
        )
        .await;
    assert_eq!(reused.status, 404);
}

fn totp_code(secret: &str, address: &str, offset_steps: i64) -> String {
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap(),
        Some("Participe".into()),
        address.to_string(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + offset_steps * 30) as u64)
}

#[tokio::test]
async fn with_the_second_factor_on_a_sign_in_asks_for_a_fresh_code() {
    let app = TestApp::spawn().await;
    let address = email("totp");
    let b = signed_in(&app, &address).await;
    let account = b.get(CONSOLE, "/compte").await;
    assert!(account.body.contains("<svg"), "a QR code to scan");
    let secret = account
        .body
        .split("<code>")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_string();
    let wrong = b
        .submit(CONSOLE, "/compte", "/compte/totp", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, 422);
    let on = b
        .submit(
            CONSOLE,
            "/compte",
            "/compte/totp",
            &[("code", &totp_code(&secret, &address, -1))],
        )
        .await;
    assert_eq!(on.status, 303);
    assert!(
        b.follow(CONSOLE, &on)
            .await
            .text()
            .contains("La double authentification est activée")
    );

    let other = app.browser();
    let step1 = other
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(step1.header("location"), "/connexion/code");
    assert_eq!(
        other.get(CONSOLE, "/compte").await.status,
        303,
        "not signed in before the code"
    );
    let code = totp_code(&secret, &address, 0);
    let step2 = other
        .submit(CONSOLE, "/connexion/code", "/connexion/code", &[("code", &code)])
        .await;
    assert_eq!(step2.status, 303, "{}", step2.body);
    assert_eq!(other.get(CONSOLE, "/compte").await.status, 200);

    // The same code cannot serve twice.
    let third = app.browser();
    third
        .submit(
            CONSOLE,
            "/connexion",
            "/connexion",
            &[("email", &address), ("password", PASSWORD)],
        )
        .await;
    let replay = third
        .submit(CONSOLE, "/connexion/code", "/connexion/code", &[("code", &code)])
        .await;
    assert_eq!(replay.status, 422);
    assert!(replay.field_error("code").unwrap().contains("déjà utilisé"));
}

#[tokio::test]
async fn a_collectivite_creates_its_portal_which_is_live_at_once() {
    let app = TestApp::spawn().await;
    let address = email("lille");
    let b = signed_in(&app, &address).await;
    let slug = unique_slug("lille");

    let created = b
        .submit(
            CONSOLE,
            "/nouveau-portail",
            "/nouveau-portail",
            &[
                ("name", "Ville de Lille"),
                ("kind", "commune"),
                ("insee_code", "59350"),
                ("siren", ""),
                ("population", "236 234"),
                ("slug", &slug),
            ],
        )
        .await;

    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.header("location"), format!("/t/{slug}/"));
    let dashboard = b.follow(CONSOLE, &created).await;
    assert_eq!(dashboard.h1(), "Ville de Lille");
    assert!(dashboard.text().contains("est en ligne à l'adresse"));
    assert!(
        dashboard
            .text()
            .contains("Vous êtes Administrateur·rice de ce portail.")
    );
    let portal = app.browser().get(&format!("{slug}.localhost"), "/").await;
    assert_eq!(portal.status, 200);
    assert!(portal.text().contains("Ville de Lille"));
    let row: (i32, bool) = sqlx::query_as(
        "select population, trial_ends_at between now() + interval '29 days' and now() + interval '31 days' from tenant where slug = $1",
    )
    .bind(&slug)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, (236234, true));
    let home = b.get(CONSOLE, "/").await;
    assert!(home.text().contains("Ville de Lille"));

    // The subscription page says where the trial stands and which stratum fits.
    let billing = b.get(CONSOLE, &format!("/t/{slug}/abonnement")).await;
    assert_eq!(billing.status, 200);
    assert!(
        billing.plain().contains("Essai — période d'essai gratuite jusqu'au"),
        "{}",
        billing.plain()
    );
    assert!(billing.plain().contains("(30 jour(s) restant(s))") || billing.plain().contains("(29 jour(s) restant(s))"));
    assert!(billing.plain().contains("Suggérée : Plus de 100 000 habitants"));
    let stranger = signed_in(&app, &email("etranger")).await;
    assert_eq!(
        stranger.get(CONSOLE, &format!("/t/{slug}/abonnement")).await.status,
        404
    );
}

#[tokio::test]
async fn a_bad_subscription_keeps_the_form_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("bad")).await;
    let existing = app.create_tenant("pris", "Déjà là").await;

    let page = b
        .submit(
            CONSOLE,
            "/nouveau-portail",
            "/nouveau-portail",
            &[
                ("name", "Commune de Test"),
                ("kind", "commune"),
                ("insee_code", "123"),
                ("siren", ""),
                ("population", "beaucoup"),
                ("slug", existing.slug.as_str()),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("insee_code").is_some());
    assert!(page.field_error("population").is_some());
    assert!(page.body.contains(r#"value="Commune de Test""#));

    let taken = b
        .submit(
            CONSOLE,
            "/nouveau-portail",
            "/nouveau-portail",
            &[
                ("name", "Commune de Test"),
                ("kind", "commune"),
                ("insee_code", ""),
                ("siren", ""),
                ("population", ""),
                ("slug", existing.slug.as_str()),
            ],
        )
        .await;
    assert_eq!(taken.status, 422);
    assert_eq!(
        taken.field_error("slug").unwrap(),
        format!("le nom court « {} » est déjà utilisé", existing.slug)
    );
}

#[tokio::test]
async fn a_staff_member_sees_nothing_of_a_tenant_they_do_not_belong_to() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let bob = signed_in(&app, &email("bob")).await;
    let slug_a = unique_slug("alice");
    let created = alice
        .submit(
            CONSOLE,
            "/nouveau-portail",
            "/nouveau-portail",
            &[("name", "Commune d'Alice"), ("kind", "commune"), ("slug", &slug_a)],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);

    for path in [format!("/t/{slug_a}/"), "/t/n-existe-pas/".to_string()] {
        let page = bob.get(CONSOLE, &path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.text().contains("Commune d'Alice"));
    }
    assert!(!bob.get(CONSOLE, "/").await.text().contains("Commune d'Alice"));
    let anonymous = app.browser().get(CONSOLE, &format!("/t/{slug_a}/")).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), "/connexion");
}

#[tokio::test]
async fn operators_can_require_the_second_factor_of_tenant_admins() {
    // A platform-wide switch: a database of its own, so other tests' admins are not held up.
    let app = TestApp::spawn_on(&fresh_database("totpreq").await, 4).await;
    let b = signed_in(&app, &email("admin")).await;
    let slug = unique_slug("exige");
    b.submit(
        CONSOLE,
        "/nouveau-portail",
        "/nouveau-portail",
        &[("name", "Commune Exigeante"), ("kind", "commune"), ("slug", &slug)],
    )
    .await;
    assert_eq!(b.get(CONSOLE, &format!("/t/{slug}/")).await.status, 200);

    participe_core::staff::set_admins_need_totp(&app.pool, true)
        .await
        .unwrap();
    let blocked = b.get(CONSOLE, &format!("/t/{slug}/")).await;
    participe_core::staff::set_admins_need_totp(&app.pool, false)
        .await
        .unwrap();

    assert_eq!(blocked.status, 303);
    assert_eq!(blocked.header("location"), "/compte");
    assert!(
        b.get(CONSOLE, "/compte")
            .await
            .text()
            .contains("La plateforme demande aux administrateur·rices")
    );
}

async fn portal_of(b: &Browser, name: &str) -> String {
    let slug = unique_slug("portail");
    let created = b
        .submit(
            CONSOLE,
            "/nouveau-portail",
            "/nouveau-portail",
            &[("name", name), ("kind", "commune"), ("slug", &slug)],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    slug
}

#[tokio::test]
async fn an_admin_changes_the_settings_and_the_journal_says_who_did_it() {
    let app = TestApp::spawn().await;
    let address = email("reglages");
    let b = signed_in(&app, &address).await;
    let slug = portal_of(&b, "Commune Réglée").await;
    let path = format!("/t/{slug}/parametres");

    let bad = b
        .submit(
            CONSOLE,
            &path,
            &path,
            &[("sender_name", "Je participe — Commune"), ("autohide_threshold", "0")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.field_error("autohide_threshold").unwrap(),
        "indiquez un nombre de signalements entre 1 et 100"
    );
    assert!(bad.text().contains(r#"value="Je participe — Commune""#));

    let saved = b
        .submit(
            CONSOLE,
            &path,
            &path,
            &[
                ("sender_name", "Je participe — Commune"),
                ("autohide_threshold", "5"),
                ("stats_public", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let page = b.follow(CONSOLE, &saved).await;
    assert!(page.text().contains("Les paramètres sont enregistrés."));
    assert!(page.text().contains(r#"value="5""#) && page.body.contains("checked"));

    let journal = b.get(CONSOLE, &format!("/t/{slug}/journal")).await;
    let text = journal.text();
    assert!(
        text.contains("parametres.modification") && text.contains(&address) && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("portail.creation"));
}

#[tokio::test]
async fn settings_are_for_admins_only_and_only_of_their_own_tenant() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let slug = portal_of(&alice, "Commune d'Alice").await;
    let editor_address = email("redac");
    let editor = signed_in(&app, &editor_address).await;
    let editor_id = participe_core::staff::find_by_email(
        &app.pool,
        &participe_core::domain::Email::parse(&editor_address).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .id;
    let tenant =
        participe_core::fleet::registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(&slug).unwrap())
            .await
            .unwrap()
            .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    participe_core::staff::add_member(&mut conn, editor_id, tenant.id, participe_core::staff::Role::Editor)
        .await
        .unwrap();
    drop(conn);
    let path = format!("/t/{slug}/parametres");

    assert_eq!(
        editor.get(CONSOLE, &format!("/t/{slug}/")).await.status,
        200,
        "an editor belongs to the tenant"
    );
    assert_eq!(editor.get(CONSOLE, &path).await.status, 403);
    let token = editor.get(CONSOLE, "/").await.csrf();
    let post = editor
        .post_raw(CONSOLE, &path, &[("autohide_threshold", "99"), ("csrf", &token)])
        .await;
    assert_eq!(post.status, 403);

    // Someone from another tenant: not even told the tenant exists, and nothing changes.
    let mallory = signed_in(&app, &email("mallory")).await;
    let _ = portal_of(&mallory, "Commune de Mallory").await;
    let token = mallory.get(CONSOLE, "/").await.csrf();
    let post = mallory
        .post_raw(CONSOLE, &path, &[("autohide_threshold", "99"), ("csrf", &token)])
        .await;
    assert_eq!(post.status, 404);
    assert_eq!(mallory.get(CONSOLE, &format!("/t/{slug}/journal")).await.status, 404);
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert_eq!(
        participe_core::site::settings(&mut tx)
            .await
            .unwrap()
            .autohide_threshold,
        3,
        "unchanged"
    );
}

fn staff_id(app: &TestApp, address: &str) -> impl Future<Output = uuid::Uuid> {
    let pool = app.pool.clone();
    let email = participe_core::domain::Email::parse(address).unwrap();
    async move {
        participe_core::staff::find_by_email(&pool, &email)
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

#[tokio::test]
async fn an_admin_invites_a_colleague_who_joins_through_the_mailed_link() {
    let app = TestApp::spawn().await;
    let admin_address = email("admin");
    let admin = signed_in(&app, &admin_address).await;
    let slug = portal_of(&admin, "Commune Accueillante").await;
    let team = format!("/t/{slug}/equipe");
    let colleague_address = email("collegue");

    let bad = admin
        .submit(
            CONSOLE,
            &team,
            &team,
            &[("email", "pas une adresse"), ("role", "editor")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("email").is_some());
    let sent = admin
        .submit(
            CONSOLE,
            &team,
            &team,
            &[("email", &colleague_address), ("role", "editor")],
        )
        .await;
    assert_eq!(sent.status, 303);
    assert!(
        admin.follow(CONSOLE, &sent).await.text().contains(&colleague_address),
        "the pending invitation is listed"
    );

    let mail = app.mail.wait_for(&colleague_address, 1).await;
    assert!(mail.subject().contains("Commune Accueillante"));
    let link = path_of(&app, &mail.link("http://console.localhost"));
    // Not signed in yet: the page says how to go on.
    let anonymous = app.browser().get(CONSOLE, &link).await;
    assert!(anonymous.text().contains("Connectez-vous avec le compte de l'adresse"));

    let colleague = signed_in(&app, &colleague_address).await;
    let page = colleague.get(CONSOLE, &link).await;
    assert_eq!(page.h1(), "Rejoindre l'équipe du portail Commune Accueillante");
    let joined = colleague.submit(CONSOLE, &link, &link, &[]).await;
    assert_eq!(joined.status, 303);
    assert_eq!(joined.header("location"), format!("/t/{slug}/"));
    let dashboard = colleague.follow(CONSOLE, &joined).await;
    assert!(dashboard.text().contains("Vous êtes Rédacteur·rice de ce portail."));
    assert_eq!(
        colleague.get(CONSOLE, &team).await.status,
        403,
        "editors do not manage the team"
    );

    // The link served once.
    assert_eq!(colleague.get(CONSOLE, &link).await.status, 404);
    let journal = admin.get(CONSOLE, &format!("/t/{slug}/journal")).await.text();
    assert!(journal.contains("equipe.invitation") && journal.contains("equipe.arrivee"));
}

#[tokio::test]
async fn an_invitation_serves_only_its_own_address_and_only_while_valid() {
    let app = TestApp::spawn().await;
    let admin = signed_in(&app, &email("admin")).await;
    let slug = portal_of(&admin, "Commune Prudente").await;
    let team = format!("/t/{slug}/equipe");
    let invited = email("invite");
    admin
        .submit(CONSOLE, &team, &team, &[("email", &invited), ("role", "admin")])
        .await;
    let link = path_of(
        &app,
        &app.mail.wait_for(&invited, 1).await.link("http://console.localhost"),
    );

    // Someone else holding the link cannot use it.
    let intruder = signed_in(&app, &email("intrus")).await;
    assert!(
        intruder
            .get(CONSOLE, &link)
            .await
            .text()
            .contains("Cette invitation est adressée à")
    );
    let token = intruder.get(CONSOLE, "/").await.csrf();
    assert_eq!(intruder.post_raw(CONSOLE, &link, &[("csrf", &token)]).await.status, 403);
    assert_eq!(intruder.get(CONSOLE, &format!("/t/{slug}/")).await.status, 404);

    // Revoked: dead.
    let pending = admin.get(CONSOLE, &team).await;
    let invitation_id = pending.quoted_after(r#"name="invitation_id" value=""#);
    let revoked = admin
        .submit(
            CONSOLE,
            &team,
            &format!("{team}/annulation"),
            &[("invitation_id", &invitation_id)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(app.browser().get(CONSOLE, &link).await.status, 404);

    // Expired: dead too.
    admin
        .submit(CONSOLE, &team, &team, &[("email", &invited), ("role", "admin")])
        .await;
    let second = path_of(
        &app,
        &app.mail.wait_for(&invited, 2).await.link("http://console.localhost"),
    );
    assert_eq!(app.browser().get(CONSOLE, &second).await.status, 200);
    sqlx::query("update invitation set expires_at = now() - interval '1 minute' where email = $1")
        .bind(&invited)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.browser().get(CONSOLE, &second).await.status, 404);
}

#[tokio::test]
async fn the_last_admin_cannot_leave_or_step_down() {
    let app = TestApp::spawn().await;
    let admin_address = email("seul");
    let admin = signed_in(&app, &admin_address).await;
    let slug = portal_of(&admin, "Commune Solitaire").await;
    let team = format!("/t/{slug}/equipe");
    let me = staff_id(&app, &admin_address).await.to_string();

    let leave = admin
        .submit(CONSOLE, &team, &format!("{team}/retrait"), &[("staff_id", &me)])
        .await;
    assert_eq!(leave.status, 303);
    assert!(
        admin
            .follow(CONSOLE, &leave)
            .await
            .text()
            .contains("doit garder au moins un·e administrateur·rice")
    );
    let demote = admin
        .submit(
            CONSOLE,
            &team,
            &format!("{team}/role"),
            &[("staff_id", &me), ("role", "editor")],
        )
        .await;
    assert!(
        admin
            .follow(CONSOLE, &demote)
            .await
            .text()
            .contains("doit garder au moins un·e administrateur·rice")
    );
    assert_eq!(admin.get(CONSOLE, &team).await.status, 200, "still admin");

    // With a second admin, the first may go.
    let second_address = email("second");
    admin
        .submit(CONSOLE, &team, &team, &[("email", &second_address), ("role", "admin")])
        .await;
    let link = path_of(
        &app,
        &app.mail
            .wait_for(&second_address, 1)
            .await
            .link("http://console.localhost"),
    );
    let second = signed_in(&app, &second_address).await;
    assert_eq!(second.submit(CONSOLE, &link, &link, &[]).await.status, 303);
    let leave = admin
        .submit(CONSOLE, &team, &format!("{team}/retrait"), &[("staff_id", &me)])
        .await;
    assert_eq!(leave.header("location"), "/");
    assert_eq!(admin.get(CONSOLE, &team).await.status, 404, "no longer a member");
}

#[tokio::test]
async fn a_team_form_cannot_reach_another_tenant_s_members() {
    let app = TestApp::spawn().await;
    let alice_address = email("alice");
    let alice = signed_in(&app, &alice_address).await;
    let slug_a = portal_of(&alice, "Commune d'Alice").await;
    let mallory = signed_in(&app, &email("mallory")).await;
    let slug_m = portal_of(&mallory, "Commune de Mallory").await;
    let alice_id = staff_id(&app, &alice_address).await.to_string();

    // Alice's id, posted to Mallory's own tenant: not a member there, nothing happens.
    let team_m = format!("/t/{slug_m}/equipe");
    let page = mallory
        .submit(
            CONSOLE,
            &team_m,
            &format!("{team_m}/retrait"),
            &[("staff_id", &alice_id)],
        )
        .await;
    assert_eq!(page.status, 404);
    let page = mallory
        .submit(
            CONSOLE,
            &team_m,
            &format!("{team_m}/role"),
            &[("staff_id", &alice_id), ("role", "moderator")],
        )
        .await;
    assert_eq!(page.status, 404);
    // Posted to Alice's tenant: Mallory is not in it.
    let token = mallory.get(CONSOLE, "/").await.csrf();
    let page = mallory
        .post_raw(
            CONSOLE,
            &format!("/t/{slug_a}/equipe/retrait"),
            &[("staff_id", &alice_id), ("csrf", &token)],
        )
        .await;
    assert_eq!(page.status, 404);
    let page = mallory
        .post_raw(
            CONSOLE,
            &format!("/t/{slug_a}/equipe"),
            &[("email", "complice@evil.test"), ("role", "admin"), ("csrf", &token)],
        )
        .await;
    assert_eq!(page.status, 404);
    assert!(
        alice
            .get(CONSOLE, &format!("/t/{slug_a}/equipe"))
            .await
            .text()
            .contains(&alice_address)
    );
    assert!(app.mail.to("complice@evil.test").is_empty());
}

/// A valid 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn branding_fields<'a>(primary: &'a str, link_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("display_name", "Ville de Tourcoing"),
        ("tagline", "Tourcoing participe"),
        ("primary_colour", primary),
        ("secondary_colour", "#fff4e0"),
        ("home_title", "Vos idées pour Tourcoing"),
        ("home_text", "Un **texte** d'accueil."),
        ("link_label_1", "Mairie"),
        ("link_url_1", link_url),
    ]
}

#[tokio::test]
async fn the_portal_wears_the_colours_logo_and_texts_staff_choose() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("brand")).await;
    let slug = portal_of(&b, "Tourcoing").await;
    let path = format!("/t/{slug}/apparence");
    let portal = format!("{slug}.localhost");

    let saved = b
        .submit_multipart(
            CONSOLE,
            &path,
            &path,
            &branding_fields("#7a1f3d", "https://www.tourcoing.fr"),
            Some(("logo", "logo.png", PNG.to_vec())),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(
        b.follow(CONSOLE, &saved)
            .await
            .text()
            .contains("elle est déjà en ligne")
    );

    let visitor = app.browser();
    let home = visitor.get(&portal, "/").await;
    let text = home.text();
    assert!(text.contains("Ville de Tourcoing") && text.contains("Tourcoing participe"));
    assert_eq!(home.h1(), "Vos idées pour Tourcoing");
    assert!(text.contains("<strong>texte</strong>"));
    assert!(text.contains(r#"href="https://www.tourcoing.fr""#));
    let logo_src = home
        .body
        .split(r#"<img class="logo" src=""#)
        .nth(1)
        .expect("the logo is shown")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (status, content_type, bytes) = visitor.get_bytes(&portal, &logo_src).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    assert_eq!(bytes, PNG);
    let theme = home
        .body
        .split(r#"href="/theme.css?v="#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(
        visitor
            .get(&portal, &format!("/theme.css?v={theme}"))
            .await
            .body
            .contains("--primary:#7a1f3d;--primary-text:#ffffff;--secondary:#fff4e0")
    );

    // Removing the logo takes it off the portal.
    let mut fields = branding_fields("#7a1f3d", "https://www.tourcoing.fr");
    fields.push(("remove_logo", "on"));
    let removed = b.submit_multipart(CONSOLE, &path, &path, &fields, None).await;
    assert_eq!(removed.status, 303);
    app.eventually(|| async { !visitor.get(&portal, "/").await.body.contains(r#"<img class="logo""#) })
        .await;
    assert_eq!(visitor.get(&portal, "/logo").await.status, 404);
}

#[tokio::test]
async fn unreadable_colours_fake_images_and_bad_links_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("refus")).await;
    let slug = portal_of(&b, "Commune Prudente").await;
    let path = format!("/t/{slug}/apparence");

    let page = b
        .submit_multipart(
            CONSOLE,
            &path,
            &path,
            &branding_fields("#ffd700", "https://ok.fr"),
            None,
        )
        .await;
    assert_eq!(page.status, 422);
    let err = page.field_error("primary_colour").unwrap();
    assert!(
        err.contains("contraste de 1,4:1") && err.contains("au moins 4,5:1"),
        "{err}"
    );
    assert!(
        page.body.contains(r#"value="Ville de Tourcoing""#),
        "what was typed is kept"
    );

    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>"#.to_vec();
    let page = b
        .submit_multipart(
            CONSOLE,
            &path,
            &path,
            &branding_fields("#7a1f3d", "https://ok.fr"),
            Some(("logo", "logo.png", svg)),
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.field_error("logo")
            .unwrap()
            .contains("seules les images PNG, JPEG ou WebP")
    );

    let mut big = PNG.to_vec();
    big.resize(1024 * 1024 + 10, 0);
    let page = b
        .submit_multipart(
            CONSOLE,
            &path,
            &path,
            &branding_fields("#7a1f3d", "https://ok.fr"),
            Some(("logo", "grand.png", big)),
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("logo").unwrap().contains("taille maximale"));

    let page = b
        .submit_multipart(
            CONSOLE,
            &path,
            &path,
            &branding_fields("#7a1f3d", "javascript:alert(1)"),
            None,
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("link_url_1").is_some());

    let home = app.browser().get(&format!("{slug}.localhost"), "/").await;
    assert!(!home.text().contains("Ville de Tourcoing"), "nothing was saved");
    assert!(!home.body.contains(r#"<img class="logo""#));
}

#[tokio::test]
async fn another_tenant_s_staff_cannot_change_the_look() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let slug = portal_of(&alice, "Commune d'Alice").await;
    let mallory = signed_in(&app, &email("mallory")).await;
    let mine = portal_of(&mallory, "Commune de Mallory").await;
    // A valid page and token of Mallory's own, aimed at Alice's tenant.
    let page = mallory
        .submit_multipart(
            CONSOLE,
            &format!("/t/{mine}/apparence"),
            &format!("/t/{slug}/apparence"),
            &branding_fields("#7a1f3d", "https://evil.fr"),
            None,
        )
        .await;
    assert_eq!(page.status, 404);
    assert!(
        !app.browser()
            .get(&format!("{slug}.localhost"), "/")
            .await
            .text()
            .contains("evil.fr")
    );
}

#[tokio::test]
async fn editors_write_pages_that_appear_on_the_portal() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("pages")).await;
    let slug = portal_of(&b, "Commune Bavarde").await;
    let pages = format!("/t/{slug}/pages");
    let portal = format!("{slug}.localhost");

    let bad = b
        .submit(
            CONSOLE,
            &format!("{pages}/nouvelle"),
            &format!("{pages}/nouvelle"),
            &[
                ("kind", "libre"),
                ("title", ""),
                ("slug", "Pas Valide"),
                ("body", "Mon texte **gardé**"),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("title").is_some() && bad.field_error("slug").is_some());
    assert!(bad.body.contains("Mon texte **gardé**"));

    let created = b
        .submit(
            CONSOLE,
            &format!("{pages}/nouvelle"),
            &format!("{pages}/nouvelle"),
            &[
                ("kind", "libre"),
                ("title", "Le conseil des jeunes"),
                ("slug", "conseil-des-jeunes"),
                ("body", "## Missions\n\n- proposer\n- débattre"),
                ("published", "on"),
                ("in_footer", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let visitor = app.browser();
    let page = visitor.get(&portal, "/pages/conseil-des-jeunes").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Le conseil des jeunes");
    assert!(page.body.contains("<h2>Missions</h2>") && page.body.contains("<li>débattre</li>"));
    assert!(
        visitor
            .get(&portal, "/")
            .await
            .body
            .contains(r#"href="/pages/conseil-des-jeunes""#),
        "in the footer"
    );

    // The same address twice is refused.
    let twice = b
        .submit(
            CONSOLE,
            &format!("{pages}/nouvelle"),
            &format!("{pages}/nouvelle"),
            &[
                ("kind", "libre"),
                ("title", "Autre"),
                ("slug", "conseil-des-jeunes"),
                ("body", ""),
            ],
        )
        .await;
    assert_eq!(twice.status, 422);
    assert_eq!(
        twice.field_error("slug").unwrap(),
        "une autre page utilise déjà cette adresse"
    );

    // Unpublished, it leaves the portal; deleted, it leaves the console.
    let list = b.get(CONSOLE, &pages).await;
    let id = list
        .body
        .split(r#"<a href="pages/"#)
        .filter_map(|s| s.split('"').next())
        .find(|s| s.len() == 36)
        .unwrap()
        .to_string();
    let edit = format!("{pages}/{id}");
    let hidden = b
        .submit(
            CONSOLE,
            &edit,
            &edit,
            &[
                ("title", "Le conseil des jeunes"),
                ("slug", "conseil-des-jeunes"),
                ("body", "x"),
            ],
        )
        .await;
    assert_eq!(hidden.status, 303);
    app.eventually(|| async { visitor.get(&portal, "/pages/conseil-des-jeunes").await.status == 404 })
        .await;
    let deleted = b.submit(CONSOLE, &edit, &format!("{edit}/suppression"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert_eq!(b.get(CONSOLE, &edit).await.status, 404);
}

#[tokio::test]
async fn the_charter_is_versioned_when_staff_say_it_changed() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("charte")).await;
    let slug = portal_of(&b, "Commune Réglementée").await;
    let pages = format!("/t/{slug}/pages");
    let list = b.get(CONSOLE, &pages).await;
    assert!(list.text().contains("à rédiger"));

    let new = format!("{pages}/nouvelle?kind=charte");
    let created = b
        .submit(
            CONSOLE,
            &new,
            &new,
            &[
                ("kind", "charte"),
                ("title", "Charte d'utilisation"),
                ("slug", "ignoree"),
                ("body", "Soyez courtois."),
                ("published", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let portal = app.browser().get(&format!("{slug}.localhost"), "/pages/charte").await;
    assert_eq!(portal.status, 200, "the charter keeps its fixed address");

    let list = b.get(CONSOLE, &pages).await;
    assert!(list.text().contains("Version 1, publiée le"));
    let id = list
        .body
        .split(r#"<a href="pages/"#)
        .filter_map(|s| s.split('"').next())
        .find(|s| s.len() == 36)
        .unwrap()
        .to_string();
    let edit = format!("{pages}/{id}");
    // A typo fix: no new version.
    b.submit(
        CONSOLE,
        &edit,
        &edit,
        &[
            ("title", "Charte d'utilisation"),
            ("body", "Soyez courtois et bienveillants."),
            ("published", "on"),
        ],
    )
    .await;
    assert!(!b.get(CONSOLE, &pages).await.text().contains("Version 2"));
    // A real change: version 2, and the staff are told what it means.
    let v2 = b
        .submit(
            CONSOLE,
            &edit,
            &edit,
            &[
                ("title", "Charte d'utilisation"),
                ("body", "Nouvelle règle."),
                ("published", "on"),
                ("new_version", "on"),
            ],
        )
        .await;
    assert!(b.follow(CONSOLE, &v2).await.text().contains("publiée en version 2"));
    let tenant =
        participe_core::fleet::registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(&slug).unwrap())
            .await
            .unwrap()
            .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert_eq!(
        participe_core::site::current_charter_version(&mut tx).await.unwrap(),
        Some(2)
    );
}

#[tokio::test]
async fn pages_are_out_of_reach_of_moderators_and_other_tenants() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let slug = portal_of(&alice, "Commune d'Alice").await;
    let pages = format!("/t/{slug}/pages");
    alice
        .submit(
            CONSOLE,
            &format!("{pages}/nouvelle"),
            &format!("{pages}/nouvelle"),
            &[
                ("kind", "libre"),
                ("title", "Secret d'Alice"),
                ("slug", "secret"),
                ("body", "x"),
                ("published", "on"),
            ],
        )
        .await;
    let id = alice
        .get(CONSOLE, &pages)
        .await
        .body
        .split(r#"<a href="pages/"#)
        .filter_map(|s| s.split('"').next())
        .find(|s| s.len() == 36)
        .unwrap()
        .to_string();

    let mallory = signed_in(&app, &email("mallory")).await;
    let mine = portal_of(&mallory, "Commune de Mallory").await;
    // Alice's page id under Mallory's own tenant: not in Mallory's schema.
    assert_eq!(mallory.get(CONSOLE, &format!("/t/{mine}/pages/{id}")).await.status, 404);
    let page = mallory
        .submit(
            CONSOLE,
            &format!("/t/{mine}/pages"),
            &format!("/t/{mine}/pages/{id}/suppression"),
            &[],
        )
        .await;
    assert_eq!(page.status, 404);
    assert_eq!(mallory.get(CONSOLE, &format!("{pages}/{id}")).await.status, 404);
    assert_eq!(
        app.browser()
            .get(&format!("{slug}.localhost"), "/pages/secret")
            .await
            .status,
        200,
        "Alice's page is intact"
    );

    let moderator_address = email("modo");
    let moderator = signed_in(&app, &moderator_address).await;
    let tenant =
        participe_core::fleet::registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(&slug).unwrap())
            .await
            .unwrap()
            .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    participe_core::staff::add_member(
        &mut conn,
        staff_id(&app, &moderator_address).await,
        tenant.id,
        participe_core::staff::Role::Moderator,
    )
    .await
    .unwrap();
    drop(conn);
    assert_eq!(moderator.get(CONSOLE, &pages).await.status, 403);
    assert_eq!(
        moderator.get(CONSOLE, &format!("/t/{slug}/apparence")).await.status,
        403
    );
}

fn iso(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

#[tokio::test]
async fn a_call_for_contributions_is_drafted_published_and_archived() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("appel")).await;
    let slug = portal_of(&b, "Commune Participative").await;
    let base = format!("/t/{slug}/dispositifs");
    let portal = format!("{slug}.localhost");
    let visitor = app.browser();

    let bad = b
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "appel"),
                ("title", "Budget participatif"),
                ("slug", "budget"),
                ("opens_on", ""),
                ("closes_on", "32/13/2026"),
                ("themes", "Sport\nCulture"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.field_error("opens_on").unwrap(),
        "indiquez la date d'ouverture de l'appel à contributions"
    );
    assert!(bad.field_error("closes_on").unwrap().contains("n'est pas une date"));
    assert!(bad.body.contains("Sport\nCulture"), "the themes typed are kept");

    let reversed = b
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "appel"),
                ("title", "Budget participatif"),
                ("slug", "budget"),
                ("opens_on", &iso(5)),
                ("closes_on", &iso(1)),
            ],
        )
        .await;
    assert_eq!(
        reversed.field_error("closes_on").unwrap(),
        "la clôture doit suivre l'ouverture"
    );

    let created = b
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "appel"),
                ("title", "Budget participatif 2027"),
                ("slug", "budget-2027"),
                ("summary", "Proposez des projets pour votre ville."),
                ("description", "Un **million** d'euros."),
                ("opens_on", &iso(-1)),
                ("closes_on", &iso(30)),
                ("themes", "Sport\nCulture\nsport\n\nÉcologie"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let edit = created.header("location").to_string();
    assert!(b.follow(CONSOLE, &created).await.text().contains("en brouillon"));
    assert_eq!(
        visitor.get(&portal, "/participer/budget-2027").await.status,
        404,
        "a draft is not public"
    );

    let published = b
        .submit(CONSOLE, &edit, &format!("{edit}/statut"), &[("status", "publie")])
        .await;
    assert_eq!(published.status, 303);
    let page = visitor.get(&portal, "/participer/budget-2027").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Budget participatif 2027");
    let text = page.text();
    assert!(text.contains("En cours") && text.contains("<strong>million</strong>"));
    assert!(text.contains("<li>Sport</li>") && text.contains("<li>Culture</li>") && text.contains("<li>Écologie</li>"));
    assert_eq!(text.matches("<li>Sport</li>").count(), 1, "themes are deduplicated");
    // Visitors' pages are cached until the change's notification arrives: a moment.
    app.eventually(|| async {
        let list = visitor.get(&portal, "/participer").await.text();
        list.contains("En cours") && list.contains("Budget participatif 2027") && list.contains("Proposez des projets")
    })
    .await;

    b.submit(CONSOLE, &edit, &format!("{edit}/statut"), &[("status", "archive")])
        .await;
    app.eventually(|| async {
        let list = visitor.get(&portal, "/participer").await.text();
        list.contains("Terminés") && !list.contains("En cours")
    })
    .await;
    let journal = b.get(CONSOLE, &format!("/t/{slug}/journal")).await.text();
    assert!(journal.contains("dispositif.creation") && journal.contains("dispositif.statut"));
}

#[tokio::test]
async fn a_council_shows_its_composition_and_rules() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("conseil")).await;
    let slug = portal_of(&b, "Commune Délibérante").await;
    let base = format!("/t/{slug}/dispositifs");
    let created = b
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "conseil"),
                ("title", "Conseil des sages"),
                ("slug", "conseil-des-sages"),
                ("summary", "Les aînés conseillent le maire."),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let edit = created.header("location").to_string();
    b.submit(
        CONSOLE,
        &edit,
        &edit,
        &[
            ("title", "Conseil des sages"),
            ("slug", "conseil-des-sages"),
            ("rules", "## Article 1\n\nSéances mensuelles."),
        ],
    )
    .await;
    let empty_name = b
        .submit(
            CONSOLE,
            &edit,
            &format!("{edit}/membres"),
            &[("name", ""), ("role", "Présidente")],
        )
        .await;
    // The page again, the role kept, the error beside the name.
    assert_eq!(empty_name.status, 422, "{}", empty_name.body);
    assert!(
        empty_name
            .body
            .contains(r#"id="role" name="role" type="text" value="Présidente""#)
    );
    assert!(empty_name.body.contains(r#"id="name-error""#));
    b.submit(
        CONSOLE,
        &edit,
        &format!("{edit}/membres"),
        &[
            ("name", "Jeanne <b>Martin</b>"),
            ("role", "Présidente"),
            ("quality", "Habitante"),
        ],
    )
    .await;
    b.submit(
        CONSOLE,
        &edit,
        &format!("{edit}/membres"),
        &[("name", "Paul Durand"), ("role", "Membre"), ("quality", "Élu")],
    )
    .await;
    b.submit(CONSOLE, &edit, &format!("{edit}/statut"), &[("status", "publie")])
        .await;

    let page = app
        .browser()
        .get(&format!("{slug}.localhost"), "/participer/conseil-des-sages")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Jeanne &lt;b&gt;Martin&lt;&#x2f;b&gt;"),
        "names are rendered inert"
    );
    assert!(page.text().contains("Paul Durand") && page.body.contains("<h2>Article 1</h2>"));

    // Removing a member.
    let form = b.get(CONSOLE, &edit).await;
    let member = form
        .body
        .split(r#"name="member_id" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    b.submit(
        CONSOLE,
        &edit,
        &format!("{edit}/membres/retrait"),
        &[("member_id", &member)],
    )
    .await;
    // The visitors' page cache drops the page when the change's notification arrives.
    let visitor = app.browser();
    let host = format!("{slug}.localhost");
    app.eventually(|| async {
        !visitor
            .get(&host, "/participer/conseil-des-sages")
            .await
            .text()
            .contains("Jeanne")
    })
    .await;
}

#[tokio::test]
async fn a_dispositif_of_another_tenant_is_out_of_reach() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let slug = portal_of(&alice, "Commune d'Alice").await;
    let base = format!("/t/{slug}/dispositifs");
    let created = alice
        .submit(
            CONSOLE,
            &format!("{base}/nouveau"),
            &format!("{base}/nouveau"),
            &[
                ("kind", "presentation"),
                ("title", "Présentation d'Alice"),
                ("slug", "presentation"),
            ],
        )
        .await;
    let id = created.header("location").rsplit('/').next().unwrap().to_string();

    let mallory = signed_in(&app, &email("mallory")).await;
    let mine = portal_of(&mallory, "Commune de Mallory").await;
    let theirs = format!("/t/{mine}/dispositifs/{id}");
    assert_eq!(mallory.get(CONSOLE, &theirs).await.status, 404);
    let token = mallory.get(CONSOLE, "/").await.csrf();
    for (path, fields) in [
        (theirs.clone(), vec![("title", "Piraté"), ("slug", "pirate")]),
        (format!("{theirs}/statut"), vec![("status", "publie")]),
        (format!("{base}/{id}/statut"), vec![("status", "publie")]),
    ] {
        let mut all = fields.clone();
        all.push(("csrf", &token));
        assert_eq!(mallory.post_raw(CONSOLE, &path, &all).await.status, 404, "{path}");
    }
    assert_eq!(
        app.browser()
            .get(&format!("{slug}.localhost"), "/participer/presentation")
            .await
            .status,
        404,
        "still a draft"
    );
}

#[tokio::test]
async fn a_custom_domain_is_verified_over_http_made_primary_and_the_others_redirect() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("domaine")).await;
    let slug = portal_of(&b, "Commune Connectée").await;
    let page = format!("/t/{slug}/domaines");
    let first = format!("participer.{}.fr", random_suffix(8));
    let second = format!("www2.{}.fr", random_suffix(8));

    let bad = b
        .submit(CONSOLE, &page, &page, &[("domain", "https://x.localhost/")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("domain").is_some());

    assert_eq!(b.submit(CONSOLE, &page, &page, &[("domain", &first)]).await.status, 303);
    let listed = b.get(CONSOLE, &page).await;
    assert!(listed.text().contains("à vérifier"));
    let token = listed
        .text()
        .split("/.well-known/participe-verification/")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();

    // Unverified, the domain serves only its verification file; no certificate either.
    let visitor = app.browser();
    assert_eq!(visitor.get(&first, "/").await.status, 404);
    let proof = visitor
        .get(&first, &format!("/.well-known/participe-verification/{token}"))
        .await;
    assert_eq!((proof.status, proof.body.as_str()), (200, token.as_str()));

    let checked = b
        .submit(CONSOLE, &page, &format!("{page}/verification"), &[("domain", &first)])
        .await;
    assert_eq!(checked.status, 303);
    assert!(b.follow(CONSOLE, &checked).await.text().contains("est vérifié"));
    let home = visitor.get(&first, "/").await;
    assert_eq!(home.status, 200);
    assert!(home.text().contains("Commune Connectée"));

    // A second domain, verified too, then made primary: the first now redirects to it.
    b.submit(CONSOLE, &page, &page, &[("domain", &second)]).await;
    let checked = b
        .submit(CONSOLE, &page, &format!("{page}/verification"), &[("domain", &second)])
        .await;
    assert!(b.follow(CONSOLE, &checked).await.text().contains("est vérifié"));
    b.submit(CONSOLE, &page, &format!("{page}/principal"), &[("domain", &second)])
        .await;

    let redirected = visitor.get(&first, "/pages/charte?x=1").await;
    assert_eq!(redirected.status, 301, "a permanent redirect");
    assert_eq!(
        redirected.header("location"),
        format!("http://{second}:{}/pages/charte?x=1", app.addr.port())
    );
    assert_eq!(visitor.get(&second, "/").await.status, 200);
    assert_eq!(
        visitor.get(&format!("{slug}.localhost"), "/").await.status,
        200,
        "the platform address always works"
    );
    let journal = b.get(CONSOLE, &format!("/t/{slug}/journal")).await.text();
    assert!(journal.contains("domaine.verification") && journal.contains("domaine.principal"));
}

#[tokio::test]
async fn a_domain_held_by_another_portal_cannot_be_taken() {
    let app = TestApp::spawn().await;
    let alice = signed_in(&app, &email("alice")).await;
    let slug_a = portal_of(&alice, "Commune d'Alice").await;
    let mallory = signed_in(&app, &email("mallory")).await;
    let slug_m = portal_of(&mallory, "Commune de Mallory").await;
    let domain = format!("alice.{}.fr", random_suffix(8));
    let page_a = format!("/t/{slug_a}/domaines");
    alice.submit(CONSOLE, &page_a, &page_a, &[("domain", &domain)]).await;

    let page_m = format!("/t/{slug_m}/domaines");
    let taken = mallory.submit(CONSOLE, &page_m, &page_m, &[("domain", &domain)]).await;
    assert_eq!(taken.status, 422);
    assert_eq!(
        taken.field_error("domain").unwrap(),
        format!("le domaine {domain} est déjà rattaché à un portail")
    );
    // Alice's domain, acted on from Mallory's tenant: not hers, nothing happens.
    for action in ["verification", "principal", "retrait"] {
        let page = mallory
            .submit(CONSOLE, &page_m, &format!("{page_m}/{action}"), &[("domain", &domain)])
            .await;
        assert_eq!(page.status, 404, "{action}");
    }
    assert!(alice.get(CONSOLE, &page_a).await.text().contains(&domain));
}

#[tokio::test]
async fn a_custom_domain_not_pointing_at_participe_yet_is_verified_by_a_dns_txt_record() {
    // The HTTP check goes to a closed port: the domain does not point at Participe.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_configured(&database_url(), 4, |c| c.verifier.http_target = Some(closed)).await;
    let b = signed_in(&app, &email("dns")).await;
    let slug = portal_of(&b, "Commune Prévoyante").await;
    let page = format!("/t/{slug}/domaines");
    let domain = format!("participer.{}.fr", random_suffix(8));
    b.submit(CONSOLE, &page, &page, &[("domain", &domain)]).await;
    let listed = b.get(CONSOLE, &page).await.text();
    let value = format!(
        "participe-verification={}",
        listed
            .split("participe-verification=")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
    );
    assert!(listed.contains(&format!("_participe.{domain}")));

    let not_yet = b
        .submit(CONSOLE, &page, &format!("{page}/verification"), &[("domain", &domain)])
        .await;
    assert!(
        b.follow(CONSOLE, &not_yet)
            .await
            .text()
            .contains("n'est pas encore vérifié")
    );
    app.dns.set_txt(
        &format!("_participe.{domain}"),
        "participe-verification=un-autre-jeton-qui-ne-va-pas",
    );
    let wrong = b
        .submit(CONSOLE, &page, &format!("{page}/verification"), &[("domain", &domain)])
        .await;
    assert!(
        b.follow(CONSOLE, &wrong)
            .await
            .text()
            .contains("n'est pas encore vérifié")
    );

    app.dns.set_txt(&format!("_participe.{domain}"), &value);
    let checked = b
        .submit(CONSOLE, &page, &format!("{page}/verification"), &[("domain", &domain)])
        .await;
    assert!(b.follow(CONSOLE, &checked).await.text().contains("est vérifié"));
    assert_eq!(app.browser().get(&domain, "/").await.status, 200);
}

/// A call in the portal `slug` with one citizen's contribution reported once; returns the
/// tenant, the contribution's id and its author's.
async fn reported_contribution(app: &TestApp, slug: &str) -> (participe_core::Tenant, uuid::Uuid, uuid::Uuid) {
    use participe_core::participation as p;
    let tenant =
        participe_core::fleet::registry::find_by_slug(&app.pool, &participe_core::domain::Slug::parse(slug).unwrap())
            .await
            .unwrap()
            .unwrap();
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let call = participe_core::dispositifs::create(
        &mut tx,
        &participe_core::dispositifs::DispositifWrite {
            slug: "avis".into(),
            kind: participe_core::dispositifs::Kind::Appel,
            title: "Votre avis".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: None,
            closes_on: None,
            rules: String::new(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    participe_core::dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    let pw = participe_core::domain::NewPassword::parse(PASSWORD, PASSWORD).unwrap();
    let mut people = vec![];
    for who in ["auteur", "lecteur"] {
        let e = participe_core::domain::Email::parse(&format!("{who}@habitant.test")).unwrap();
        let new = participe_core::citizens::NewCitizen {
            email: &e,
            display_name: who,
            profile: participe_core::citizens::Profile::Citoyen,
            password: &pw,
            charter_version: None,
        };
        let participe_core::citizens::SignUp::Created { citizen, .. } =
            participe_core::citizens::sign_up(&mut tx, &new).await.unwrap()
        else {
            panic!("new citizen")
        };
        people.push(citizen.id);
    }
    let input = p::ContributionInput {
        title: "Un titre douteux".into(),
        body: "Un texte à vérifier".into(),
        theme_id: None,
    };
    let id = p::create_contribution(&mut tx, call, people[0], &input).await.unwrap();
    p::report(
        &mut tx,
        p::Target::Contribution(id),
        people[1],
        p::Reason::Spam,
        "publicité",
        3,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (tenant, id, people[0])
}

#[tokio::test]
async fn moderators_decide_on_reported_content_and_block_its_author() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("moderation")).await;
    let slug = portal_of(&b, "Commune Modérée").await;
    let (tenant, id, author) = reported_contribution(&app, &slug).await;
    let queue_path = format!("/t/{slug}/moderation");
    let queue = b.get(CONSOLE, &queue_path).await;
    assert_eq!(queue.status, 200);
    assert!(queue.text().contains("Un texte à vérifier"), "moderators read the text");
    assert!(queue.text().contains("Spam ou publicité") && queue.text().contains("publicité"));

    let empty = b
        .submit(
            CONSOLE,
            &queue_path,
            &format!("{queue_path}/decision"),
            &[
                ("kind", "contribution"),
                ("id", &id.to_string()),
                ("decision", "moderer"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.field_error("reason").is_some());
    let done = b
        .submit(
            CONSOLE,
            &queue_path,
            &format!("{queue_path}/decision"),
            &[
                ("kind", "contribution"),
                ("id", &id.to_string()),
                ("decision", "moderer"),
                ("reason", "Publicité"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let after = b.follow(CONSOLE, &done).await;
    assert!(after.text().contains("Aucun signalement en attente"));
    assert!(
        after.plain().contains("Modéré contribution"),
        "the decision is in the moderation log: {}",
        after.plain()
    );
    assert!(after.plain().contains("Publicité"));
    let on_portal = app
        .browser()
        .get(
            &format!("{slug}.localhost"),
            &format!("/participer/avis/contributions/{id}"),
        )
        .await;
    assert!(on_portal.text().contains("Ce contenu a été modéré : Publicité"));
    assert!(!on_portal.text().contains("Un texte à vérifier"));

    let people = format!("/t/{slug}/participants");
    let list = b.get(CONSOLE, &format!("{people}?q=auteur")).await;
    assert!(list.text().contains("auteur@habitant.test") && !list.text().contains("lecteur@habitant.test"));
    let blocked = b
        .submit(
            CONSOLE,
            &people,
            &format!("{people}/blocage"),
            &[
                ("id", &author.to_string()),
                ("block", "oui"),
                ("reason", "publicités répétées"),
            ],
        )
        .await;
    assert_eq!(blocked.status, 303);
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let c = participe_core::citizens::find(&mut tx, author).await.unwrap().unwrap();
    assert!(c.blocked);
    assert_eq!(c.blocked_reason, "publicités répétées");
    drop(tx);
    let journal = b.get(CONSOLE, &format!("/t/{slug}/journal")).await;
    assert!(journal.text().contains("moderation.moderation") && journal.text().contains("participant.blocage"));
    // The log is append-only, for anyone reaching the tables.
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let erased = sqlx::query("delete from staff_audit").execute(tx.conn()).await;
    assert!(erased.is_err(), "the journal cannot be erased");
    drop(tx);
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let rewritten = sqlx::query("update staff_audit set action = 'rien'")
        .execute(tx.conn())
        .await;
    assert!(rewritten.is_err(), "nor rewritten");
}

#[tokio::test]
async fn the_moderation_queue_is_out_of_reach_of_editors_and_other_tenants() {
    let app = TestApp::spawn().await;
    let a = signed_in(&app, &email("moda")).await;
    let slug_a = portal_of(&a, "Commune A").await;
    let (tenant_a, id, author) = reported_contribution(&app, &slug_a).await;
    let b = signed_in(&app, &email("modb")).await;
    let slug_b = portal_of(&b, "Commune B").await;

    assert_eq!(b.get(CONSOLE, &format!("/t/{slug_a}/moderation")).await.status, 404);
    assert_eq!(b.get(CONSOLE, &format!("/t/{slug_a}/participants")).await.status, 404);
    // B's own queue, with A's ids: nothing there to decide on or block.
    let own = format!("/t/{slug_b}/moderation");
    let foreign = b
        .submit(
            CONSOLE,
            &own,
            &format!("{own}/decision"),
            &[
                ("kind", "contribution"),
                ("id", &id.to_string()),
                ("decision", "restaurer"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(foreign.status, 404);
    let people = format!("/t/{slug_b}/participants");
    let foreign = b
        .submit(
            CONSOLE,
            &people,
            &format!("{people}/blocage"),
            &[("id", &author.to_string()), ("block", "oui")],
        )
        .await;
    assert_eq!(foreign.status, 404);
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant_a).await.unwrap();
    assert!(
        !participe_core::citizens::find(&mut tx, author)
            .await
            .unwrap()
            .unwrap()
            .blocked
    );
    assert_eq!(
        participe_core::participation::queue(&mut tx, 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    drop(tx);

    // An editor of A does not moderate.
    let editor_address = email("redacteur");
    let editor = signed_in(&app, &editor_address).await;
    let e = participe_core::domain::Email::parse(&editor_address).unwrap();
    let staff = participe_core::staff::find_by_email(&app.pool, &e)
        .await
        .unwrap()
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    participe_core::staff::add_member(&mut conn, staff.id, tenant_a.id, participe_core::staff::Role::Editor)
        .await
        .unwrap();
    assert_eq!(
        editor.get(CONSOLE, &format!("/t/{slug_a}/moderation")).await.status,
        403
    );
}

#[tokio::test]
async fn an_admin_offers_english_and_visitors_can_switch_to_it() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, &email("langues")).await;
    let slug = portal_of(&b, "Commune Bilingue").await;
    let portal = format!("{slug}.localhost");
    let visitor = app.browser();
    let before = visitor.get(&portal, "/").await;
    assert!(!before.body.contains("/langue/en"), "one language: no switch");
    assert_eq!(visitor.get(&portal, "/langue/en").await.status, 404, "not offered yet");

    let settings = format!("/t/{slug}/parametres");
    let saved = b
        .submit(
            CONSOLE,
            &settings,
            &settings,
            &[("autohide_threshold", "3"), ("langue_en", "on")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(
        b.get(CONSOLE, &settings)
            .await
            .body
            .contains(r#"name="langue_en" type="checkbox" value="on" checked"#)
    );

    app.eventually(|| async { visitor.get(&portal, "/").await.body.contains("/langue/en") })
        .await;
    let switched = visitor.get(&portal, "/langue/en?suite=/participer").await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.header("location"), "/participer");
    let english = visitor.get(&portal, "/participer").await;
    assert!(english.body.contains(r#"<html lang="en">"#));
    assert!(english.plain().contains("Take part"));
    assert!(
        visitor
            .get(&portal, "/langue/fr?suite=//evil.example")
            .await
            .header("location")
            == "/"
    );
    let french = visitor.get(&portal, "/").await;
    assert!(french.body.contains(r#"<html lang="fr">"#));

    // A browser that prefers English gets it without choosing.
    let page = app
        .client
        .get(format!("http://{}/", app.addr))
        .header("host", format!("{portal}:{}", app.addr.port()))
        .header("accept-language", "en-GB,en;q=0.9,fr;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(Page::read(page).await.body.contains(r#"<html lang="en">"#));
}

#[tokio::test]
async fn console_forms_write_each_attribute_once_and_as_html_allows() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("attributs", "Commune des Attributs").await;
    let staff = app.staff_member(&t, participe_core::staff::Role::Admin).await;
    let slug = t.slug.as_str();
    let pages = [
        "/nouveau-portail".to_string(),
        "/compte".to_string(),
        format!("/t/{slug}/parametres"),
        format!("/t/{slug}/apparence"),
        format!("/t/{slug}/agenda/nouvelle"),
        format!("/t/{slug}/actualites/nouvelle"),
    ];
    for path in &pages {
        let page = staff.get("console.localhost", path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(!page.body.contains("=&quot;"), "{path}: an attribute quoted twice");
        assert!(!page.body.contains("<?xml"), "{path}: an XML declaration inside HTML");
        assert!(!page.body.contains(r#"autocomplete="street-address""#), "{path}");
        for input in page.body.split("<input").skip(1) {
            let tag = input.split('>').next().unwrap();
            assert!(
                !(tag.contains(r#"type="color""#) && tag.contains(" required")),
                "{path}: {tag}"
            );
        }
        // Every list starts with an empty choice: required ones make one choose, optional
        // ones can be set back to nothing.
        for select in page.body.split("<select").skip(1) {
            let first = select.split("<option").nth(1).unwrap_or_default();
            assert!(first.starts_with(r#" value="">"#), "{path}: <select{select}");
        }
    }
    let numbers = staff.get("console.localhost", &format!("/t/{slug}/parametres")).await;
    assert!(
        numbers.body.contains(r#"inputmode="numeric" min="1" max="100""#),
        "{}",
        numbers.body
    );
}
