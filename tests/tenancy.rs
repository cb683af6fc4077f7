//! Tenancy: provisioning, TenantTx, isolation under load, routing by Host, cache
//! invalidation across replicas, fleet migrations and the drift check.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use futures::StreamExt;
use participe_core::TenantTx;
use participe_core::domain::{HostName, Slug};
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::fleet::registry;
use participe_core::migrations::TenantMigrations;
use participe_core::migrations::fleet::{self, Drift};
use participe_core::site::{self, BrandingUpdate, PageInput};

#[tokio::test]
async fn provisioning_creates_the_registry_rows_and_a_schema_with_every_migration() {
    let pool = pool(&database_url(), 2).await;
    let input = NewTenantInput {
        slug: unique_slug("lille"),
        name: "Ville de Lille".into(),
        kind: "commune".into(),
        insee_code: Some("59350".into()),
        domains: vec![format!("participer-{}.lille.fr", random_suffix(6))],
        ..Default::default()
    };
    let new = input.parse(&base()).unwrap();

    let tenant = provisioning::provision(&pool, &TenantMigrations::embedded(), &new, "test")
        .await
        .unwrap();

    let details = registry::details(&pool, &tenant.slug).await.unwrap();
    assert_eq!(details.tenant.name, "Ville de Lille");
    assert_eq!(details.insee_code.as_deref(), Some("59350"));
    assert_eq!(details.domains.len(), 1);
    assert!(details.domains[0].is_primary && details.domains[0].verified);
    assert_eq!(details.schema_version, TenantMigrations::embedded().latest());
    let versions: Vec<i64> = sqlx::query_scalar(&format!(
        "select version from {}.schema_migration order by 1",
        tenant.schema
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected: Vec<i64> = TenantMigrations::embedded().iter().map(|m| m.version).collect();
    assert_eq!(versions, expected);
    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let branding = site::branding(&mut tx).await.unwrap();
    assert_eq!(
        branding.primary_colour, "#1d4f91",
        "the settings row exists with its defaults"
    );
}

#[tokio::test]
async fn a_failed_provisioning_leaves_nothing_behind() {
    let pool = pool(&database_url(), 2).await;
    let owner = create_tenant(&pool, "owner", "Propriétaire").await;
    let domain = format!("pris-{}.fr", random_suffix(6));
    registry::add_domain(&pool, &owner.slug, &HostName::parse(&domain).unwrap(), false, "test")
        .await
        .unwrap();
    let slug = unique_slug("late");
    let new = NewTenantInput {
        slug: slug.clone(),
        name: "Arrivée tardive".into(),
        kind: "commune".into(),
        domains: vec![domain.clone()],
        ..Default::default()
    }
    .parse(&base())
    .unwrap();

    let err = provisioning::provision(&pool, &TenantMigrations::embedded(), &new, "test")
        .await
        .unwrap_err();

    let participe_core::Error::Invalid(fields) = err else {
        panic!("expected a field error, got {err:?}")
    };
    assert!(fields.get("domain").unwrap().contains("déjà rattaché"), "{fields:?}");
    assert!(
        registry::find_by_slug(&pool, &Slug::parse(&slug).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let schema_exists: bool = sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
        .bind(Slug::parse(&slug).unwrap().schema_name().as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!schema_exists, "no schema left behind");
}

#[tokio::test]
async fn a_duplicate_slug_is_refused_with_a_clear_message() {
    let pool = pool(&database_url(), 2).await;
    let first = create_tenant(&pool, "dup", "Premier").await;
    let new = NewTenantInput {
        slug: first.slug.to_string(),
        name: "Second".into(),
        kind: "commune".into(),
        ..Default::default()
    }
    .parse(&base())
    .unwrap();

    let err = provisioning::provision(&pool, &TenantMigrations::embedded(), &new, "test")
        .await
        .unwrap_err();

    let participe_core::Error::Invalid(fields) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        fields.get("slug").unwrap(),
        format!("le nom court « {} » est déjà utilisé", first.slug)
    );
}

#[tokio::test]
async fn a_tenant_transaction_s_search_path_ends_with_it() {
    // One connection, so the next query surely runs on the connection the TenantTx used.
    let pool = pool(&database_url(), 1).await;
    let tenant = create_tenant(&pool, "path", "Chemin").await;

    let mut tx = TenantTx::begin(&pool, &tenant).await.unwrap();
    let inside: String = sqlx::query_scalar("select current_setting('search_path')")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after: String = sqlx::query_scalar("select current_setting('search_path')")
        .fetch_one(&pool)
        .await
        .unwrap();

    assert_eq!(inside, tenant.schema.as_str());
    assert_eq!(after, "public");
    // Unqualified tenant tables are out of reach outside a TenantTx.
    let outside = sqlx::query("select * from page").fetch_all(&pool).await;
    assert!(outside.is_err(), "tenant tables must not resolve on the platform path");
}

#[tokio::test]
async fn a_stray_session_setting_does_not_survive_the_return_to_the_pool() {
    let pool = pool(&database_url(), 1).await;
    let tenant = create_tenant(&pool, "stray", "Égarée").await;

    // A bug elsewhere sets the path for the whole session...
    sqlx::query(&format!("set search_path = {}", tenant.schema))
        .execute(&pool)
        .await
        .unwrap();
    // ...the connection goes back to the pool, and the next user gets it reset.
    let path: String = sqlx::query_scalar("select current_setting('search_path')")
        .fetch_one(&pool)
        .await
        .unwrap();

    assert_eq!(path, "public");
}

/// Two tenants with the same page slug and different contents, a pool of two connections,
/// thousands of interleaved concurrent requests (pages read through TenantTx, home pages
/// through the branding cache): every response holds its own tenant's text and never the
/// other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_interleaved_requests_never_cross_tenants() {
    let app = Arc::new(TestApp::spawn_on(&database_url(), 2).await);
    let a = app.create_tenant("iso-a", "Commune A").await;
    let b = app.create_tenant("iso-b", "Commune B").await;
    for (tenant, marker) in [(&a, "MARQUEUR-AAAA"), (&b, "MARQUEUR-BBBB")] {
        let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
        let body = format!("Contenu propre : {marker}");
        site::upsert_page(
            &mut tx,
            &PageInput {
                slug: "commune",
                kind: "libre",
                title: marker,
                body: &body,
                in_footer: false,
                position: 0,
            },
        )
        .await
        .unwrap();
        // The home page (served from the branding cache) shows it too, as its tagline.
        let tagline = BrandingUpdate {
            tagline: marker.into(),
            ..Default::default()
        };
        site::update_branding(&mut tx, &tagline).await.unwrap();
        tx.commit().await.unwrap();
    }
    let hosts = [
        (app.portal_host(&a), "MARQUEUR-AAAA", "MARQUEUR-BBBB"),
        (app.portal_host(&b), "MARQUEUR-BBBB", "MARQUEUR-AAAA"),
    ];

    let requests = 4000;
    let concurrency = 64;
    let results = futures::stream::iter(0..requests)
        .map(|i| {
            let app = app.clone();
            let (host, own, other) = hosts[i % 2].clone();
            async move {
                let path = if i % 3 == 0 { "/" } else { "/pages/commune" };
                let page = app.get(&host, path).await;
                (i, path, page.status, page.body.contains(own), page.body.contains(other))
            }
        })
        .buffer_unordered(concurrency);
    let results: Vec<_> = futures::StreamExt::collect(results).await;

    assert_eq!(results.len(), requests);
    for (i, path, status, has_own, has_other) in results {
        assert_eq!(status, 200, "request {i} {path}");
        assert!(has_own, "request {i} {path} lacks its own tenant's content");
        assert!(!has_other, "request {i} {path} shows the other tenant's content");
    }
}

#[tokio::test]
async fn hosts_resolve_to_portals_console_ops_or_the_404_page() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("route", "Commune Routée").await;
    let domain = format!("participer.{}.fr", random_suffix(8));
    registry::add_domain(&app.pool, &t.slug, &HostName::parse(&domain).unwrap(), false, "test")
        .await
        .unwrap();
    let port = app.addr.port();
    let slug = t.slug.as_str();

    for host in [
        format!("{slug}.localhost:{port}"),
        format!("{}.LOCALHOST", slug.to_uppercase()),
        format!("www.{slug}.localhost"),
        format!("{slug}.localhost."),
        domain.clone(),
        domain.to_uppercase(),
        format!("www.{domain}:443"),
    ] {
        let page = app.get(&host, "/").await;
        assert_eq!(page.status, 200, "{host}");
        assert!(page.body.contains("Commune Routée"), "{host}");
    }
    assert!(
        app.get("console.localhost", "/")
            .await
            .body
            .contains("console des collectivités")
    );
    let ops = app.get("ops.localhost", "/").await;
    assert_eq!(ops.status, 303, "operators sign in first");
    assert_eq!(ops.header("location"), "/connexion");
    assert_eq!(
        app.get("ops.localhost", "/connexion").await.h1(),
        "Connexion des opérateurs"
    );
    let apex = app.get("localhost", "/").await;
    assert_eq!(apex.status, 303);
    assert_eq!(apex.header("location"), format!("http://console.localhost:{port}"));

    for host in [
        "inconnu.localhost".to_string(),
        format!("x.{slug}.localhost"),
        format!("{slug}.localhost.evil.fr"),
        format!("{slug}localhost"),
        "127.0.0.1".into(),
        format!("{slug}.localhost:99999"),
        "exa mple.fr".into(),
    ] {
        let page = app.get(&host, "/").await;
        assert_eq!(page.status, 404, "{host}");
        assert_eq!(page.h1(), "Portail introuvable", "{host}");
        assert!(!page.body.contains("Commune Routée"), "{host} must never show a tenant");
    }
}

#[tokio::test]
async fn internationalised_custom_domains_match_in_either_form() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("idn", "Commune de Villé").await;
    let suffix = random_suffix(6);
    registry::add_domain(
        &app.pool,
        &t.slug,
        &HostName::parse(&format!("participez.villé-{suffix}.fr")).unwrap(),
        false,
        "test",
    )
    .await
    .unwrap();

    let punycode = HostName::parse(&format!("participez.villé-{suffix}.fr")).unwrap();
    assert!(punycode.as_str().contains("xn--"));
    let page = app.get(punycode.as_str(), "/").await;

    assert_eq!(page.status, 200);
    assert!(page.body.contains("Commune de Villé"));
}

#[tokio::test]
async fn malformed_host_headers_get_the_404_page_and_never_a_tenant() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("hostile", "Commune Visée").await;
    let slug = t.slug.as_str();
    let cases: Vec<Vec<u8>> = vec![
        format!("GET / HTTP/1.1\r\nHost: {slug}.localhost\u{0}.evil\r\nConnection: close\r\n\r\n").into_bytes(),
        b"GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n".to_vec(),
        format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            "a.".repeat(300)
        )
        .into_bytes(),
        b"GET / HTTP/1.1\r\nHost: \xff\xfe.localhost\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET / HTTP/1.1\r\nHost: {slug}.localhost@evil.fr\r\nConnection: close\r\n\r\n").into_bytes(),
    ];
    for (i, request) in cases.iter().enumerate() {
        let response = raw_request(app.addr, request).await;
        let status_line = response.lines().next().unwrap_or_default().to_string();
        assert!(
            status_line.contains(" 404 ") || status_line.contains(" 400 "),
            "case {i}: {status_line}"
        );
        assert!(!response.contains("Commune Visée"), "case {i} reached the tenant");
    }
}

#[tokio::test]
async fn a_suspended_tenant_shows_the_suspended_page_until_resumed() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("susp", "Commune Suspendue").await;
    let host = app.portal_host(&t);
    assert_eq!(app.get(&host, "/").await.status, 200);

    registry::set_status(
        &app.pool,
        &t.slug,
        participe_core::TenantStatus::Suspended,
        Some("impayé"),
        "test",
    )
    .await
    .unwrap();

    app.eventually(|| async { app.get(&host, "/").await.status == 503 })
        .await;
    let page = app.get(&host, "/pages/charte").await;
    assert_eq!(page.h1(), "Portail momentanément suspendu");
    assert!(page.body.contains("Commune Suspendue"));
    assert!(
        !page.body.contains("impayé"),
        "the reason is for the tenant's admins, not the public"
    );
    assert_eq!(
        app.get(&host, "/healthz").await.status,
        200,
        "health stays up on every host"
    );

    registry::set_status(&app.pool, &t.slug, participe_core::TenantStatus::Active, None, "test")
        .await
        .unwrap();
    app.eventually(|| async { app.get(&host, "/").await.status == 200 })
        .await;
}

/// Two replicas (two app instances with their own caches) on one database: a registry
/// change made through one is seen by the other, through NOTIFY.
#[tokio::test]
async fn a_registry_change_reaches_every_replica_s_cache() {
    let replica_a = TestApp::spawn().await;
    let replica_b = TestApp::spawn().await;
    let t = replica_a.create_tenant("replica", "Commune Répliquée").await;
    let domain = format!("replique-{}.fr", random_suffix(8));
    let host = HostName::parse(&domain).unwrap();
    registry::add_domain(&replica_a.pool, &t.slug, &host, false, "test")
        .await
        .unwrap();
    // Both replicas resolve (and cache) the domain.
    replica_a
        .eventually(|| async { replica_a.get(&domain, "/").await.status == 200 })
        .await;
    replica_b
        .eventually(|| async { replica_b.get(&domain, "/").await.status == 200 })
        .await;

    registry::remove_domain(&replica_a.pool, &t.slug, &host, "test")
        .await
        .unwrap();

    replica_b
        .eventually(|| async { replica_b.get(&domain, "/").await.status == 404 })
        .await;
    replica_a
        .eventually(|| async { replica_a.get(&domain, "/").await.status == 404 })
        .await;
}

#[tokio::test]
async fn fleet_migration_applies_an_additive_migration_to_every_tenant_and_resumes_after_a_failure() {
    let url = fresh_database("fleet").await;
    let pool = pool(&url, 4).await;
    let mut tenants = Vec::new();
    for i in 0..6 {
        tenants.push(create_tenant(&pool, &format!("fleet{i}"), &format!("Commune {i}")).await);
    }
    let next = TenantMigrations::embedded().latest() + 1;
    let set = TenantMigrations::embedded().with_extra(
        next,
        "page summary",
        "alter table page add column summary text not null default ''",
    );
    // One schema already has the column: its migration fails, the others go through.
    let broken = &tenants[2];
    sqlx::query(&format!(
        "alter table {}.page add column summary integer",
        broken.schema
    ))
    .execute(&pool)
    .await
    .unwrap();

    let report = fleet::migrate(&pool, &set, 3, &fleet::Quiet).await.unwrap();

    assert_eq!(report.migrated.len(), 5);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, broken.slug.as_str());
    let states = fleet::check(&pool, &set).await.unwrap();
    let behind: Vec<&str> = states
        .iter()
        .filter(|s| s.is_behind())
        .map(|s| s.slug.as_str())
        .collect();
    assert_eq!(behind, vec![broken.slug.as_str()]);
    assert_eq!(
        states.iter().find(|s| s.slug == broken.slug.as_str()).unwrap().drift,
        Drift::Behind { missing: vec![next] }
    );

    // Repaired, a second run migrates only what is left.
    sqlx::query(&format!("alter table {}.page drop column summary", broken.schema))
        .execute(&pool)
        .await
        .unwrap();
    let report = fleet::migrate(&pool, &set, 3, &fleet::Quiet).await.unwrap();
    assert_eq!(report.migrated, vec![(broken.slug.to_string(), vec![next])]);
    assert!(
        fleet::check(&pool, &set)
            .await
            .unwrap()
            .iter()
            .all(|s| s.drift == Drift::UpToDate)
    );
    let version: i64 = sqlx::query_scalar("select schema_version from tenant where id = $1")
        .bind(broken.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, next, "the registry mirrors the schema's version");
}

#[tokio::test]
async fn two_runners_at_once_apply_each_migration_once() {
    let url = fresh_database("race").await;
    let pool = pool(&url, 8).await;
    for i in 0..8 {
        create_tenant(&pool, &format!("race{i}"), "Commune").await;
    }
    let next = TenantMigrations::embedded().latest() + 1;
    let set = TenantMigrations::embedded().with_extra(next, "index", "create index page_title_idx on page (title)");

    let (one, two) = tokio::join!(
        fleet::migrate(&pool, &set, 4, &fleet::Quiet),
        fleet::migrate(&pool, &set, 4, &fleet::Quiet)
    );

    let (one, two) = (one.unwrap(), two.unwrap());
    assert!(one.failed.is_empty() && two.failed.is_empty(), "{one:?} {two:?}");
    assert_eq!(
        one.migrated.len() + two.migrated.len(),
        8,
        "each schema migrated exactly once"
    );
}

#[tokio::test]
async fn the_drift_check_reports_modified_and_missing_schemas_in_one_pass() {
    let url = fresh_database("drift").await;
    let pool = pool(&url, 2).await;
    let fine = create_tenant(&pool, "fine", "Commune").await;
    let edited = create_tenant(&pool, "edited", "Commune").await;
    let gone = create_tenant(&pool, "gone", "Commune").await;
    sqlx::query(&format!(
        "update {}.schema_migration set checksum = '\\x00' where version = 1",
        edited.schema
    ))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(&format!("drop schema {} cascade", gone.schema))
        .execute(&pool)
        .await
        .unwrap();

    let states = fleet::check(&pool, &TenantMigrations::embedded()).await.unwrap();

    let drift = |slug: &Slug| states.iter().find(|s| s.slug == slug.as_str()).unwrap().drift.clone();
    assert_eq!(drift(&fine.slug), Drift::UpToDate);
    assert_eq!(drift(&edited.slug), Drift::Modified { versions: vec![1] });
    assert_eq!(drift(&gone.slug), Drift::MissingSchema);
    let behind: HashSet<&str> = states
        .iter()
        .filter(|s| s.is_behind())
        .map(|s| s.slug.as_str())
        .collect();
    assert_eq!(behind, HashSet::from([edited.slug.as_str(), gone.slug.as_str()]));
}
