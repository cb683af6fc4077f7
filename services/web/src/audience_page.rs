//! What the audience pages (console, and a portal's public page) show: the last 30 days
//! and the most viewed pages, as the `web/audience.html` include wants them.

use participe_core::{TenantTx, audience};

use crate::Result;

/// Days shown.
pub const DAYS: i32 = 30;

pub async fn context(tx: &mut TenantTx) -> Result<minijinja::Value> {
    let days = audience::days(tx, DAYS).await?;
    let pages = audience::top_pages(tx, DAYS, 10).await?;
    let peak = days.iter().map(|d| d.visitors).max().unwrap_or(0).max(1);
    let sum = |f: fn(&audience::Day) -> i64| days.iter().map(f).sum::<i64>();
    let totals = minijinja::context! {
        visitors_per_day => sum(|d| d.visitors) / i64::from(DAYS),
        visits => sum(|d| d.visits), views => sum(|d| d.views),
        registrations => sum(|d| d.registrations), contributions => sum(|d| d.contributions),
    };
    Ok(minijinja::context! {
        days => minijinja::value::Serde(days), pages, peak, totals,
    })
}
