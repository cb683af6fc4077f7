//! Every page type, as Chromium renders it, checked by axe-core (WCAG 2.1 A and AA) at phone
//! and desktop sizes, with JavaScript off too (tests/browser/a11y.mjs). Needs Debian's
//! chromium and tests/browser/node_modules: `scripts/install-test-deps` installs both.

mod common;

use std::process::Command;

use common::*;
use participe_core::tenancy::registry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_type_passes_axe_core_in_headless_chromium() {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new(&format!("{root}/tests/browser/node_modules/axe-core")).exists(),
        "Chromium or axe-core is missing: run scripts/install-test-deps (the README's test command does)"
    );
    let url = fresh_database("a11y").await;
    let app = TestApp::spawn_on(&url, 4).await;
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
    let pages = serde_json::json!([
        { "name": "portail : accueil", "url": at("nord", "/") },
        { "name": "portail : accueil (EPCI)", "url": at("mel", "/") },
        { "name": "portail : page (charte)", "url": at("nord", "/pages/charte") },
        { "name": "portail : page libre", "url": at("roubaix", "/pages/conseils-de-quartier") },
        { "name": "portail : participer", "url": at("nord", "/participer") },
        { "name": "portail : agenda", "url": at("roubaix", "/agenda") },
        { "name": "portail : actualités", "url": at("mel", "/actualites") },
        { "name": "portail : documents", "url": at("nord", "/documents") },
        { "name": "portail : page introuvable", "url": at("nord", "/nulle-part"), "status": 404 },
        { "name": "portail suspendu", "url": at(suspended.slug.as_str(), "/"), "status": 503 },
        { "name": "erreur inattendue", "url": at(broken.slug.as_str(), "/"), "status": 500 },
        { "name": "portail inconnu", "url": at("inconnu", "/"), "status": 404 },
        { "name": "console : accueil", "url": at("console", "/") },
        { "name": "exploitation : accueil", "url": at("ops", "/") },
    ]);
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
    assert!(report.contains("a11y: 14 passed, 0 failed"), "{report}");
}
