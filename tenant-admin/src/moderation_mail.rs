//! The batched mail that tells a tenant's moderators about new reports: one mail per
//! moderator for every report filed since the last one, a few minutes after the first.
//! Runs in the background of `participe serve` (and in tests, when called).

use participe_core::TenantTx;
use participe_core::participation;
use participe_core::staff::{self, Role};
use participe_core::tenancy::registry;
use participe_mail::Mail;
use participe_web::{AppState, Error, Result};

/// Sends every digest that is due; returns how many tenants were handled. A tenant whose
/// mail could not go out keeps its reports unnotified and is tried again later.
pub async fn send_due(app: &AppState) -> Result<usize> {
    let mut handled = 0;
    loop {
        let mut claim = app.pool.begin().await?;
        let Some(tenant_id) = participation::claim_due_notice(&mut claim).await? else {
            return Ok(handled);
        };
        if let Some(tenant) = registry::find_by_id(&app.pool, tenant_id).await? {
            let mut tx = TenantTx::begin(&app.pool, &tenant).await?;
            let reports = participation::take_unnotified(&mut tx).await?;
            let moderators: Vec<staff::Member> = staff::members(&mut tx)
                .await?
                .into_iter()
                .filter(|m| m.role.parse::<Role>().is_ok_and(Role::can_moderate))
                .collect();
            if !reports.is_empty() {
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
                    app.mailer
                        .send(&mail)
                        .await
                        .map_err(|e| Error::Unavailable(format!("moderation digest: {e}")))?;
                }
            }
            tx.commit().await?;
        }
        claim.commit().await?;
        handled += 1;
    }
}

/// Checks for due digests every `period`, for ever.
pub fn spawn(app: AppState, period: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&app).await {
                tracing::warn!(error = %e, "moderation digests");
            }
        }
    });
}
