//! The portal as a citizen's browser sees it: home page, pages, error pages, headers.

mod common;

use common::*;
use participe_core::TenantTx;
use participe_core::domain::Colour;
use participe_core::site::{self, BrandingUpdate, FooterLink, PageInput};

async fn brand(app: &TestApp, tenant: &participe_core::Tenant, update: BrandingUpdate) {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    site::update_branding(&mut tx, &update).await.unwrap();
    tx.commit().await.unwrap();
}

async fn add_page(
    app: &TestApp,
    tenant: &participe_core::Tenant,
    slug: &str,
    title: &str,
    body: &str,
    in_footer: bool,
) {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    site::upsert_page(
        &mut tx,
        &PageInput {
            slug,
            kind: "libre",
            title,
            body,
            in_footer,
            position: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_home_page_shows_the_tenant_s_name_colours_and_accessible_layout_in_french() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("home", "Ville d'Armentières").await;
    brand(
        &app,
        &t,
        BrandingUpdate {
            tagline: "Armentières participe".into(),
            primary_colour: Some(Colour::parse("#7a1f3d").unwrap()),
            secondary_colour: Some(Colour::parse("#ffd700").unwrap()),
            home_title: "Construisons la ville ensemble".into(),
            home_text: "Bienvenue sur **le portail** de la ville.".into(),
            footer_links: vec![FooterLink {
                label: "Mairie".into(),
                url: "https://armentieres.fr".into(),
            }],
            ..Default::default()
        },
    )
    .await;
    add_page(&app, &t, "charte", "Charte d'utilisation", "Soyez courtois.", true).await;
    let host = app.portal_host(&t);

    let page = app.get(&host, "/").await;

    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    let text = page.text();
    assert!(text.contains(r#"<html lang="fr">"#));
    assert!(text.contains(r##"<a class="skip-link" href="#contenu">Aller au contenu</a>"##));
    assert!(text.contains(r#"<main id="contenu""#));
    assert!(
        text.contains("<header")
            && text.contains("<footer")
            && text.contains(r#"<nav class="main-nav" aria-label="Navigation principale">"#)
    );
    assert!(text.contains("Ville d'Armentières"));
    assert!(text.contains("Armentières participe"));
    assert_eq!(page.h1(), "Construisons la ville ensemble");
    assert!(text.contains("<strong>le portail</strong>"), "home text is Markdown");
    assert!(text.contains(r#"<a href="/" aria-current="page">Accueil</a>"#));
    for section in ["/participer", "/agenda", "/actualites", "/documents"] {
        assert!(
            text.contains(&format!(r#"<a href="{section}">"#)),
            "{section} in the navigation"
        );
    }
    assert!(
        text.contains(r#"<a href="/pages/charte">Charte d'utilisation</a>"#),
        "footer pages"
    );
    assert!(text.contains(r#"href="https://armentieres.fr""#), "footer links");
    assert!(
        text.contains(r#"<span class="logo-placeholder" aria-hidden="true">VA</span>"#),
        "initials stand in for the logo"
    );

    // The colours come from the tenant's stylesheet, with readable text colours.
    let theme_href = text
        .split(r#"href="/theme.css?v="#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let theme = app.get(&host, &format!("/theme.css?v={theme_href}")).await;
    assert_eq!(theme.header("content-type"), "text/css; charset=utf-8");
    assert!(theme.header("cache-control").contains("immutable"));
    assert!(
        theme
            .body
            .contains("--primary:#7a1f3d;--primary-text:#ffffff;--secondary:#ffd700;--secondary-text:#000000;"),
        "{}",
        theme.body
    );
}

#[tokio::test]
async fn a_branding_change_shows_at_once_on_every_replica() {
    let replica_a = TestApp::spawn().await;
    let replica_b = TestApp::spawn().await;
    let t = replica_a.create_tenant("change", "Commune Changeante").await;
    let host = replica_a.portal_host(&t);
    let host_b = replica_b.portal_host(&t);
    // Both replicas have the branding cached.
    let before = replica_a.get(&host, "/").await.h1();
    assert_eq!(replica_b.get(&host_b, "/").await.h1(), before);

    brand(
        &replica_a,
        &t,
        BrandingUpdate {
            home_title: "Nouveau titre".into(),
            ..Default::default()
        },
    )
    .await;

    for (app, host) in [(&replica_a, &host), (&replica_b, &host_b)] {
        app.eventually(|| async { app.get(host, "/").await.h1() == "Nouveau titre" })
            .await;
    }
    assert_ne!(before, "Nouveau titre");
}

#[tokio::test]
async fn pages_render_markdown_and_nothing_that_runs() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("pages", "Commune").await;
    let hostile = "## Titre\n\n<script>alert(1)</script>\n\n[clic](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n{{ 7*7 }} {% raw %}";
    add_page(&app, &t, "libre", "<b>Page</b> {{ 7*7 }}", hostile, false).await;

    let page = app.get(&app.portal_host(&t), "/pages/libre").await;

    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h2>Titre</h2>"));
    assert!(
        page.body.contains("{{ 7*7 }} {% raw %}"),
        "template syntax in the body stays text"
    );
    assert!(
        page.body.contains("&lt;b&gt;Page&lt;&#x2f;b&gt; {{ 7*7 }}"),
        "the title is escaped, not interpreted"
    );
    for bad in ["<script>alert", "javascript:", "onerror", "<b>Page"] {
        assert!(!page.body.contains(bad), "{bad} in {}", page.body);
    }
}

#[tokio::test]
async fn a_missing_page_gets_the_tenant_s_404_page() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("missing", "Commune Égarée").await;

    let page = app.get(&app.portal_host(&t), "/pages/nulle-part").await;

    assert_eq!(page.status, 404);
    assert_eq!(page.h1(), "Page introuvable");
    assert!(page.text().contains("Commune Égarée"));
    assert_eq!(app.get(&app.portal_host(&t), "/pas/de/route").await.status, 404);
}

#[tokio::test]
async fn a_page_of_another_tenant_is_not_found() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("own-a", "Commune A").await;
    let b = app.create_tenant("own-b", "Commune B").await;
    add_page(&app, &b, "secret-de-b", "Réservé à B", "Texte de B", false).await;

    let page = app.get(&app.portal_host(&a), "/pages/secret-de-b").await;

    assert_eq!(page.status, 404);
    assert!(!page.body.contains("Texte de B"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("headers", "Commune").await;

    for (host, path) in [
        (app.portal_host(&t), "/"),
        ("console.localhost".into(), "/"),
        ("inconnu.localhost".into(), "/"),
        (app.portal_host(&t), "/static/participe.css"),
    ] {
        let page = app.get(&host, path).await;
        let csp = page.header("content-security-policy");
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{host}{path}: {csp}"
        );
        assert_eq!(page.header("x-content-type-options"), "nosniff");
        assert_eq!(page.header("referrer-policy"), "strict-origin-when-cross-origin");
        assert_eq!(page.header("x-request-id").len(), 36, "{host}{path}");
        // The obsolete FLoC opt-out is gone; http mode sends no HSTS (it would be ignored).
        assert_eq!(
            page.header("permissions-policy"),
            "camera=(), microphone=(), geolocation=()"
        );
        assert_eq!(page.header("strict-transport-security"), "", "{host}{path}");
    }
}

#[tokio::test]
async fn https_mode_asks_for_https_only_and_no_cache_keeps_a_signed_in_page() {
    let https = TestApp::spawn_configured(&database_url(), 4, |c| c.scheme = "https".into()).await;
    let t = https.create_tenant("hsts", "Commune").await;
    for host in [https.portal_host(&t), "console.localhost".into()] {
        let page = https.get(&host, "/").await;
        assert_eq!(page.header("strict-transport-security"), "max-age=31536000", "{host}");
    }

    let app = TestApp::spawn().await;
    let t = app.create_tenant("nostore", "Commune").await;
    let h = app.portal_host(&t);
    // A visitor's page may be kept; a signed-in citizen's, a staff member's and an
    // operator's may not.
    assert_ne!(app.get(&h, "/").await.header("cache-control"), "no-store");
    let citizen = app.signed_in_citizen(&t, "garde@habitant.test").await;
    let plain_host = format!("{}.localhost", t.slug);
    for path in ["/", "/compte", "/participer"] {
        let page = citizen.get(&plain_host, path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
    }
    let staff = app.staff_member(&t, participe_core::staff::Role::Admin).await;
    for path in [
        "/".to_string(),
        format!("/t/{}/", t.slug),
        format!("/t/{}/agenda", t.slug),
    ] {
        let page = staff.get("console.localhost", &path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
    }
    assert_eq!(
        app.get("ops.localhost", "/connexion").await.header("cache-control"),
        "no-store"
    );
}

#[tokio::test]
async fn health_and_readiness_answer_on_every_host() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("health", "Commune").await;
    for host in [
        app.portal_host(&t),
        "console.localhost".into(),
        "ops.localhost".into(),
        "n-importe-quoi.fr".into(),
    ] {
        assert_eq!(app.get(&host, "/healthz").await.body, "ok", "{host}");
        assert_eq!(app.get(&host, "/readyz").await.body, "ok", "{host}");
    }
}

#[tokio::test]
async fn an_unexpected_failure_shows_an_opaque_page_with_the_request_id() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("broken", "Commune Cassée").await;
    // The tenant's schema vanishes under it: every query fails.
    sqlx::query(&format!("drop schema {} cascade", t.schema))
        .execute(&app.pool)
        .await
        .unwrap();

    let page = app.get(&app.portal_host(&t), "/").await;

    assert_eq!(page.status, 500);
    assert_eq!(page.h1(), "Erreur inattendue");
    let id = page.header("x-request-id").to_string();
    assert!(
        page.text().contains(&id),
        "the page gives the request id to quote to support"
    );
    assert!(
        !page.body.contains("relation")
            && !page.body.contains("does not exist")
            && !page.body.contains(t.schema.as_str()),
        "no internals leak"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("big", "Commune").await;
    let response = app
        .client
        .post(format!("http://{}/", app.addr))
        .header("host", app.portal_host(&t))
        .body(vec![b'x'; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let page = Page::read(response).await;
    assert_eq!(page.h1(), "Envoi trop volumineux");
}

#[tokio::test]
async fn static_files_are_served_with_long_caching_when_versioned() {
    let app = TestApp::spawn().await;
    let home = app.get("console.localhost", "/").await;
    let href = home
        .body
        .split(r#"href="/static/participe.css?v="#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();

    let css = app
        .get("console.localhost", &format!("/static/participe.css?v={href}"))
        .await;

    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("immutable"));
    assert!(css.body.contains(".skip-link"));
    assert_eq!(app.get("console.localhost", "/static/../Cargo.toml").await.status, 404);
    assert_eq!(app.get("console.localhost", "/static/nope.css").await.status, 404);
}

#[tokio::test]
async fn every_page_template_is_embedded_in_the_binary() {
    let app = TestApp::spawn().await;
    let names = app.state.templates.names();
    for expected in [
        "web/base.html",
        "web/error.html",
        "web/suspended.html",
        "portal/home.html",
        "portal/page.html",
        "console/welcome.html",
        "ops/tenants.html",
        "portal/contribution.html",
        "portal/mail/confirm.txt",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

/// A GET with extra headers, raw: the status, the headers and the bytes as sent.
async fn get_with(
    app: &TestApp,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app
        .client
        .get(format!("http://{}{path}", app.addr))
        .header("host", host);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn feed_readers_calendar_apps_and_link_previews_get_what_they_expect() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("normes", "Commune des Normes").await;
    let h = app.portal_host(&t);

    // Empty feeds are still valid ones.
    for (path, kind) in [("/actualites.atom", "atom"), ("/agenda.ics", "ics")] {
        let (status, _, body) = get_with(&app, &h, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            standards_problems(kind, &body),
            Vec::<String>::new(),
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    let mut tx = TenantTx::begin(&app.pool, &t).await.unwrap();
    let body = format!(
        "Voir [la concertation](/participer) et [l'agenda](/agenda).\n\n{}",
        "Un long texte. ".repeat(200)
    );
    participe_core::news::create(
        &mut tx,
        &participe_core::news::PostWrite {
            title: "Ouverture du budget".into(),
            summary: "Le budget participatif ouvre.".into(),
            body,
            cover_alt: String::new(),
            dispositif_id: None,
            published_at: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
        },
        None,
    )
    .await
    .unwrap();
    let starts = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    participe_core::agenda::create(
        &mut tx,
        &participe_core::agenda::EventWrite {
            kind: participe_core::agenda::EventKind::Reunion,
            title: "Réunion publique : le budget".into(),
            description: "Venez **nombreux**.".into(),
            starts_at: starts,
            ends_at: starts + time::Duration::hours(2),
            place: "Salle des fêtes, 1 place de la Mairie, 59000 Lille — entrée par la cour".into(),
            online_url: None,
            dispositif_id: None,
            registration: false,
            capacity: None,
            registration_opens_at: None,
            registration_closes_at: None,
            published: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Feeds and the API: a tag, then a 304 for a reader that holds it, gzip when accepted.
    for (path, kind) in [
        ("/actualites.atom", Some("atom")),
        ("/agenda.ics", Some("ics")),
        ("/api/v1/", None),
    ] {
        let (status, headers, body) = get_with(&app, &h, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        if let Some(kind) = kind {
            assert_eq!(
                standards_problems(kind, &body),
                Vec::<String>::new(),
                "{path}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let tag = headers["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with('"') && tag.len() > 10, "{path}: {tag}");
        let (again, again_headers, empty) = get_with(&app, &h, path, &[("if-none-match", &tag)]).await;
        assert_eq!(again, 304, "{path}");
        assert!(empty.is_empty());
        assert_eq!(again_headers["etag"], tag.as_str());
        assert_eq!(get_with(&app, &h, path, &[("if-none-match", "\"autre\"")]).await.0, 200);
    }
    let (_, headers, zipped) = get_with(&app, &h, "/actualites.atom", &[("accept-encoding", "gzip")]).await;
    assert_eq!(headers["content-encoding"], "gzip");
    let mut atom = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut atom).unwrap();
    assert!(
        atom.contains(&format!(
            r#"xml:base="http://{}.localhost:{}/""#,
            t.slug,
            app.addr.port()
        )),
        "{atom}"
    );
    let modified = headers["last-modified"].to_str().unwrap().to_string();
    assert_eq!(
        get_with(&app, &h, "/actualites.atom", &[("if-modified-since", &modified)])
            .await
            .0,
        304
    );
    let (_, _, ics) = get_with(&app, &h, "/agenda.ics", &[]).await;
    let ics = String::from_utf8(ics).unwrap();
    assert!(
        ics.contains("METHOD:PUBLISH\r\n") && ics.contains("PRODID:-//Participe//Agenda//FR\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains(&format!("@{}.localhost\r\n", t.slug)),
        "UIDs without the port: {ics}"
    );

    // Pages: what a search engine and a link preview read, and which language they are in.
    let home = app.get(&h, "/").await;
    let origin = format!("http://{}.localhost:{}", t.slug, app.addr.port());
    let head = unescape(&home.body);
    assert!(
        head.contains(&format!(r#"<link rel="canonical" href="{origin}/">"#)),
        "{head}"
    );
    assert!(
        head.contains(&format!(r#"<meta property="og:url" content="{origin}/">"#)),
        "{head}"
    );
    assert!(
        head.contains(r#"<meta name="description" content="Commune des Normes — portail de participation citoyenne">"#)
    );
    assert!(head.contains(r#"<meta property="og:title" content="Commune des Normes">"#));
    assert!(head.contains(r#"<link rel="alternate" type="application/atom+xml""#));
    assert!(head.contains(r#"<link rel="alternate" type="text/calendar""#));
    assert!(!head.contains("noindex"));
    assert_eq!(home.header("content-language"), "fr");
    assert!(home.header("vary").contains("Accept-Language"), "{:?}", home.headers);
    for path in ["/recherche?q=budget", "/connexion", "/inscription"] {
        assert!(
            app.get(&h, path)
                .await
                .body
                .contains(r#"<meta name="robots" content="noindex">"#),
            "{path}"
        );
    }
    let news = app.get(&h, "/actualites").await;
    let post = news.quoted_after("href=\"/actualites/");
    let page = app.get(&h, &format!("/actualites/{post}")).await;
    assert!(
        page.body
            .contains(r#"<meta property="og:title" content="Ouverture du budget">"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<meta name="description" content="Le budget participatif ouvre.">"#)
    );
    let icon = app.get(&h, "/favicon.ico").await;
    assert_eq!(icon.status, 308);
    assert_eq!(icon.header("location"), "/static/favicon.svg");
}
