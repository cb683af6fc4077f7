//! Audience statistics through the real HTTP service: portal pages counted per visitor
//! without cookies or stored addresses, shown to staff with a chart and its table, public
//! only when staff choose; another tenant's figures never mix in.

mod common;

use common::*;
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx, site};

const CONSOLE: &str = "console.localhost";

async fn view(app: &TestApp, tenant: &Tenant, path: &str, agent: &str) -> u16 {
    app.client
        .get(format!("http://{}{path}", app.addr))
        .header("host", format!("{}.localhost", tenant.slug))
        .header("user-agent", agent)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn page_views_are_counted_without_cookies_and_shown_to_staff() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("audience", "Commune Fréquentée").await;
    let other = app.create_tenant("calme", "Commune Calme").await;

    // Two visitors (as their browsers name themselves), four pages; what is not a page
    // (a stylesheet, a missing page) does not count.
    assert_eq!(view(&app, &tenant, "/", "Navigateur A").await, 200);
    assert_eq!(view(&app, &tenant, "/agenda", "Navigateur A").await, 200);
    assert_eq!(view(&app, &tenant, "/", "Navigateur B").await, 200);
    assert_eq!(view(&app, &tenant, "/agenda", "Navigateur B").await, 200);
    assert_eq!(view(&app, &tenant, "/theme.css", "Navigateur B").await, 200);
    assert_eq!(view(&app, &tenant, "/nulle-part", "Navigateur C").await, 404);
    assert_eq!(view(&app, &other, "/", "Navigateur A").await, 200);
    app.state.audience.flush(&app.pool).await.unwrap();

    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let visitors: Vec<(Vec<u8>, i32, i32)> =
        sqlx::query_as("select visitor, views, visits from audience_visitor order by visitor")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    let pages: Vec<(String, i32)> = sqlx::query_as("select path, views from audience_page order by path")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(visitors.len(), 2);
    assert!(
        visitors
            .iter()
            .all(|(hash, views, visits)| hash.len() == 16 && *views == 2 && *visits == 1)
    );
    assert_eq!(pages, [("/".to_string(), 2), ("/agenda".to_string(), 2)]);
    // Nothing that names anyone is kept: only today's salt, and hashes.
    let salts: i64 = sqlx::query_scalar("select count(*) from audience_salt where day < current_date")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(salts, 0);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let leaks: i64 = sqlx::query_scalar(
        "select count(*) from audience_visitor
          where position('127.0.0.1' in encode(visitor, 'escape')) > 0
             or position('Navigateur' in encode(visitor, 'escape')) > 0",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(leaks, 0);

    // Staff see today's figures, with the chart and its table.
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let path = format!("/t/{}/statistiques", tenant.slug);
    let page = editor.get(CONSOLE, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg") && page.body.contains("role=\"img\""));
    let today = time::OffsetDateTime::now_utc().date();
    let plain = page.plain();
    let row = format!("{} 2 2 2.0 0 0", date_fr(today));
    assert!(plain.contains(&row), "{row} in {plain}");
    assert!(plain.contains("/agenda — 2 vue(s)"));

    // Public only when staff say so.
    let h = format!("{}.localhost", tenant.slug);
    let visitor = app.browser();
    assert_eq!(visitor.get(&h, "/statistiques").await.status, 404);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let mut settings = site::settings(&mut tx).await.unwrap();
    settings.stats_public = true;
    site::update_settings(&mut tx, &settings).await.unwrap();
    tx.commit().await.unwrap();
    app.eventually(|| async { visitor.get(&h, "/statistiques").await.status == 200 })
        .await;
    assert!(visitor.get(&h, "/statistiques").await.plain().contains(&row));

    // The other tenant's figures are its own; its staff cannot read these.
    let stranger = app.staff_member(&other, Role::Admin).await;
    assert_eq!(stranger.get(CONSOLE, &path).await.status, 404);
    let theirs = stranger
        .get(CONSOLE, &format!("/t/{}/statistiques", other.slug))
        .await
        .plain();
    assert!(theirs.contains(&format!("{} 1 1 1.0 0 0", date_fr(today))), "{theirs}");
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    assert_eq!(moderator.get(CONSOLE, &path).await.status, 403);
}

/// A date as the pages write it: `26 novembre 2026`.
fn date_fr(d: time::Date) -> String {
    let months = participe_core::domain::local_time::MONTHS;
    let day = if d.day() == 1 {
        "1er".to_string()
    } else {
        d.day().to_string()
    };
    format!("{day} {} {}", months[usize::from(u8::from(d.month())) - 1], d.year())
}
