//! News through the real HTTP service: staff write posts with a cover in the console,
//! publish now, later or not yet; the portal lists and shows them, sanitized; the Atom
//! feed (read back with `feed-rs`) carries them; nothing crosses to another tenant.

mod common;

use common::*;
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

/// A valid 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

fn id_of(location: &str) -> Uuid {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn staff_publish_news_now_later_or_not_yet_and_the_feed_carries_it() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("nouvelles", "Commune des Nouvelles").await;
    let other = app.create_tenant("silence", "Commune du Silence").await;
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let list = format!("/t/{}/actualites", tenant.slug);
    let new = format!("{list}/nouvelle");
    assert_eq!(editor.get(CONSOLE, &list).await.status, 200);

    // A cover that is not an image, and one without its description: refused, text kept.
    let refused = editor
        .submit_multipart(
            CONSOLE,
            &new,
            &new,
            &[
                ("title", "Lancement du budget participatif"),
                ("body", "Texte"),
                ("published", "on"),
            ],
            Some(("cover", "image.png", b"<svg onload=alert(1)>".to_vec())),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("cover").is_some());
    assert!(refused.body.contains(r#"value="Lancement du budget participatif""#));
    let refused = editor
        .submit_multipart(
            CONSOLE,
            &new,
            &new,
            &[("title", "Lancement du budget participatif"), ("published", "on")],
            Some(("cover", "image.png", PNG.to_vec())),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("cover_alt").is_some(), "{}", refused.text());

    let published = editor
        .submit_multipart(
            CONSOLE,
            &new,
            &new,
            &[
                ("title", "Lancement du budget participatif"),
                ("summary", "Déposez vos projets jusqu'au 30 avril."),
                (
                    "body",
                    "Le budget participatif **2027** est ouvert.\n\n<script>alert(1)</script>\n\n[piège](javascript:alert(1))",
                ),
                ("cover_alt", "Des habitants autour d'une maquette du quartier"),
                ("published", "on"),
            ],
            Some(("cover", "maquette.png", PNG.to_vec())),
        )
        .await;
    assert_eq!(published.status, 303, "{}", published.body);
    let post = id_of(published.header("location"));
    assert!(editor.follow(CONSOLE, &published).await.text().contains("est publiée"));
    let scheduled = editor
        .submit_multipart(
            CONSOLE,
            &new,
            &new,
            &[
                ("title", "Résultats du vote"),
                ("body", "Les projets lauréats."),
                ("published", "on"),
                ("published_at", "2031-05-01T09:00"),
            ],
            None,
        )
        .await;
    assert_eq!(scheduled.status, 303);
    let later = id_of(scheduled.header("location"));
    assert!(
        editor
            .follow(CONSOLE, &scheduled)
            .await
            .text()
            .contains("paraîtra le jeudi 1er mai 2031 à 9")
    );
    let draft = editor
        .submit_multipart(
            CONSOLE,
            &new,
            &new,
            &[("title", "Brouillon de communiqué"), ("body", "…")],
            None,
        )
        .await;
    assert_eq!(draft.status, 303);
    let console = editor.get(CONSOLE, &list).await.text();
    assert!(console.contains("Programmée le jeudi 1er mai 2031") && console.contains("Brouillon"));

    // The portal: the published post only, its body sanitized, its cover served.
    let h = host(&tenant);
    let visitor = app.browser();
    let page = visitor.get(&h, "/actualites").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Lancement du budget participatif"));
    assert!(!page.text().contains("Résultats du vote") && !page.text().contains("Brouillon de communiqué"));
    let shown = visitor.get(&h, &format!("/actualites/{post}")).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("<strong>2027</strong>"));
    assert!(!shown.body.contains("<script>alert") && !shown.body.contains("href=\"javascript:"));
    assert!(shown.body.contains("piège"), "the link's text stays");
    assert!(
        shown
            .body
            .contains(r#"alt="Des habitants autour d&#x27;une maquette du quartier""#)
    );
    let (status, content_type, bytes) = visitor.get_bytes(&h, &format!("/actualites/{post}/image")).await;
    assert_eq!(
        (status, content_type.as_str(), bytes.as_slice()),
        (200, "image/png", PNG)
    );
    assert_eq!(visitor.get(&h, &format!("/actualites/{later}")).await.status, 404);
    assert!(
        visitor
            .get(&h, "/")
            .await
            .text()
            .contains("Lancement du budget participatif")
    );

    // The Atom feed: valid, with the post, its link and its sanitized body.
    let atom = visitor.get(&h, "/actualites.atom").await;
    assert!(atom.header("content-type").starts_with("application/atom+xml"));
    assert_eq!(
        standards_problems("atom", atom.body.as_bytes()),
        Vec::<String>::new(),
        "{}",
        atom.body
    );
    let feed = feed_rs::parser::parse(atom.body.as_bytes()).expect("a valid Atom feed");
    assert_eq!(feed.entries.len(), 1);
    let entry = &feed.entries[0];
    assert_eq!(
        entry.title.as_ref().unwrap().content,
        "Lancement du budget participatif"
    );
    assert!(entry.links[0].href.ends_with(&format!("/actualites/{post}")));
    let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(content.contains("<strong>2027</strong>") && !content.contains("<script>"));

    // The scheduled post's time comes: it appears, on pages cached before too.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    sqlx::query("update news set published_at = now() - interval '1 second' where id = $1")
        .bind(later)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.eventually(|| async {
        visitor
            .get(&h, "/actualites")
            .await
            .text()
            .contains("Résultats du vote")
    })
    .await;

    // A post scheduled a moment ahead shows up when its time comes, though the list was
    // cached before: its job touches it then, and the portal drops its pages.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    participe_core::news::create(
        &mut tx,
        &participe_core::news::PostWrite {
            title: "Annonce à l'heure dite".into(),
            summary: String::new(),
            body: "Maintenant.".into(),
            cover_alt: String::new(),
            dispositif_id: None,
            published_at: Some(time::OffsetDateTime::now_utc() + time::Duration::seconds(2)),
        },
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        !visitor
            .get(&h, "/actualites")
            .await
            .text()
            .contains("Annonce à l'heure dite")
    );
    let mut appeared = false;
    for _ in 0..100 {
        if visitor
            .get(&h, "/actualites")
            .await
            .text()
            .contains("Annonce à l'heure dite")
        {
            appeared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(appeared, "the scheduled post within 10 s of its time");

    // Another tenant sees none of it; its staff cannot open or delete it.
    let oh = host(&other);
    assert!(
        !visitor
            .get(&oh, "/actualites")
            .await
            .text()
            .contains("budget participatif")
    );
    assert_eq!(visitor.get(&oh, &format!("/actualites/{post}")).await.status, 404);
    assert_eq!(visitor.get(&oh, &format!("/actualites/{post}/image")).await.status, 404);
    let stranger = app.staff_member(&other, Role::Admin).await;
    let theirs = format!("/t/{}/actualites", other.slug);
    assert_eq!(stranger.get(CONSOLE, &format!("{theirs}/{post}")).await.status, 404);
    let token = stranger.get(CONSOLE, &theirs).await.csrf();
    assert_eq!(
        stranger
            .post_raw(CONSOLE, &format!("{theirs}/{post}/suppression"), &[("csrf", &token)])
            .await
            .status,
        404
    );
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    assert_eq!(moderator.get(CONSOLE, &list).await.status, 403);

    // Deleting a post removes it and its cover.
    let edit = format!("{list}/{post}");
    let deleted = editor.submit(CONSOLE, &edit, &format!("{edit}/suppression"), &[]).await;
    assert_eq!(deleted.status, 303);
    app.eventually(|| async { visitor.get(&h, &format!("/actualites/{post}")).await.status == 404 })
        .await;
}
