//! The console's home (welcome page, or the portals of the signed-in staff member) and each
//! tenant's dashboard.

use axum::response::Html;
use minijinja::value::Serde;
use participe_core::staff;
use participe_web::Result;

use crate::frame::{Console, InTenant};

pub async fn home(console: Console) -> Result<Html<String>> {
    let Some(staff) = &console.staff else {
        return console
            .render(
                "console/welcome.html",
                minijinja::context! { example => console.app.config.portal_origin("votre-commune") },
            )
            .await;
    };
    let memberships = staff::memberships(&console.app.pool, staff.id).await?;
    let portals: Vec<minijinja::Value> = memberships
        .iter()
        .map(|m| {
            minijinja::context! {
                name => m.tenant.name.clone(), slug => m.tenant.slug.to_string(), role => m.role.label(),
                url => console.app.config.tenant_origin(&m.tenant),
                suspended => m.tenant.status == participe_core::TenantStatus::Suspended,
            }
        })
        .collect();
    console
        .render("console/home.html", minijinja::context! { portals })
        .await
}

pub async fn tenant(t: InTenant) -> Result<Html<String>> {
    let pool = &t.console.app.pool;
    let details = participe_core::fleet::registry::details(pool, &t.tenant().slug).await?;
    // Every member hears about late payment, not only the admins who pay.
    let summary =
        participe_core::billing::standing::summary(pool, t.tenant().id, &t.console.app.config.billing).await?;
    // Each component's figures (`Manifest::counts`).
    let mut tx = t.begin().await?;
    let counts: Vec<minijinja::Value> = participe_core::components::counts(&mut tx)
        .await?
        .into_iter()
        .map(|(label, n)| minijinja::context! { label, n })
        .collect();
    tx.commit().await?;
    t.render(
        "console/tenant/dashboard.html",
        "",
        minijinja::context! {
            details => Serde(details), role => t.membership.role.label(), summary => summary.map(Serde), counts,
        },
    )
    .await
}
