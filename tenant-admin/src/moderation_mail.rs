//! The batched mail that tells a tenant's moderators about new reports: one mail per
//! moderator for every report filed since the last one, a few minutes after the first. It
//! is a job (`moderation_digest`) the first report queues; the worker runs `send_digest`.

use participe_core::TenantTx;
use participe_core::jobs::{self, Kind};
use participe_core::participation;
use participe_core::staff::{self, Role};
use participe_core::tenancy::registry;
use participe_mail::Mail;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

/// Takes the tenant's unnotified reports and queues one mail per moderator, in one
/// transaction: if anything fails, the reports stay unnotified for the job's next try, and
/// no moderator gets the same report twice.
pub async fn send_digest(app: &AppState, tenant_id: Uuid) -> Result<()> {
    let Some(tenant) = registry::find_by_id(&app.pool, tenant_id).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(&app.pool, &tenant).await?;
    let reports = participation::take_unnotified(&mut tx).await?;
    if reports.is_empty() {
        return Ok(());
    }
    let moderators: Vec<staff::Member> = staff::members(&mut tx)
        .await?
        .into_iter()
        .filter(|m| m.role.parse::<Role>().is_ok_and(Role::can_moderate))
        .collect();
    let link = format!("{}/t/{}/moderation", app.config.console_origin(), tenant.slug);
    for m in &moderators {
        let text = app
            .templates
            .render(
                "console/mail/reports.txt",
                minijinja::context! {
                    name => m.display_name.as_str(), site_name => tenant.name.as_str(),
                    reports => minijinja::value::Serde(&reports), link => link.as_str(),
                },
            )?
            .0;
        let mail = Mail {
            to: m.email.clone(),
            subject: format!("{} nouveau(x) signalement(s) — {}", reports.len(), tenant.name),
            text,
            from_name: None,
        };
        let payload = serde_json::to_value(&mail).map_err(|e| Error::Unexpected(e.to_string()))?;
        jobs::enqueue(tx.conn(), Some(tenant.id), Kind::Mail, payload, 0).await?;
    }
    tx.commit().await?;
    Ok(())
}
