//! The subscription page (admins): where the portal stands (trial and its end), and the
//! plan stratum suggested from the population given at subscription. Choosing a plan and
//! paying — online or by invoice — arrive here with the billing issue.

use axum::response::Html;
use participe_core::billing::Stratum;
use participe_core::staff::Role;
use participe_web::Result;

use crate::frame::InTenant;

pub async fn show(t: InTenant) -> Result<Html<String>> {
    t.require(|r| r == Role::Admin)?;
    let details = participe_core::tenancy::registry::details(&t.console.app.pool, &t.tenant().slug).await?;
    let stratum = Stratum::suggested(t.tenant().kind, details.population).map(Stratum::label);
    let days_left = details
        .trial_ends_at
        .map(|end| (end - time::OffsetDateTime::now_utc()).whole_days().max(0));
    t.render(
        "console/tenant/billing.html",
        "abonnement",
        minijinja::context! {
            trial_ends_at => details.trial_ends_at.map(|d| d.date().to_string()),
            days_left, stratum, population => details.population,
        },
    )
    .await
}
