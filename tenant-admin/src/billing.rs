//! The subscription page (admins): where the portal stands with billing (trial, paid,
//! late, read-only, with the dates that matter), the plans and their prices excluding and
//! including VAT, and the stratum suggested from the population given at subscription.
//! Paying online or by invoice through Stripe comes next; until then payments are recorded
//! by the platform's operators (manual billing).

use axum::response::Html;
use minijinja::value::Serde;
use participe_core::billing::{self, Stratum, standing};
use participe_core::staff::Role;
use participe_web::{Error, Result};

use crate::frame::InTenant;

pub async fn show(t: InTenant) -> Result<Html<String>> {
    t.require(|r| r == Role::Admin)?;
    let pool = &t.console.app.pool;
    let details = participe_core::tenancy::registry::details(pool, &t.tenant().slug).await?;
    let suggested = Stratum::suggested(t.tenant().kind, details.population);
    let summary = standing::summary(pool, t.tenant().id, &t.console.app.config.billing)
        .await?
        .ok_or(Error::NotFound)?;
    let current = summary.plan.as_deref().and_then(Stratum::parse).or(suggested);
    let plans = billing::plans(pool).await?;
    let invoices = billing::invoices(pool, t.tenant().id, 24).await?;
    let days_left = details
        .trial_ends_at
        .map(|end| (end - time::OffsetDateTime::now_utc()).whole_days().max(0));
    t.render(
        "console/tenant/billing.html",
        "abonnement",
        minijinja::context! {
            summary => Serde(&summary), days_left, plans => Serde(plans), invoices => Serde(invoices),
            suggested => suggested.map(Stratum::as_str), current => current.map(Stratum::as_str),
            suggested_label => suggested.map(Stratum::label), population => details.population,
            plan_label => summary.plan.as_deref().map(billing::plan_label),
        },
    )
    .await
}
