//! Audience statistics (admins and editors): visitors, visits, pages per visit, the most
//! viewed pages, registrations and contributions, over 30 days (`core::audience`).

use axum::response::Html;
use participe_core::staff::Role;
use participe_web::Result;

use crate::frame::InTenant;

pub async fn show(t: InTenant) -> Result<Html<String>> {
    t.require(Role::can_edit_content)?;
    let mut tx = t.begin().await?;
    let stats = participe_web::audience_page::context(&mut tx).await?;
    let public = participe_core::site::settings(&mut tx).await?.stats_public;
    tx.commit().await?;
    t.render(
        "console/tenant/audience.html",
        "statistiques",
        minijinja::context! { public, ..stats },
    )
    .await
}
