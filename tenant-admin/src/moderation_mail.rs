//! The batched mail that tells a tenant's moderators about new reports: one mail per
//! moderator for every report filed since the last one, a few minutes after the first. It
//! is a job (`moderation_digest`) the first report queues; the worker runs `send_digest`.

use participe_core::TenantTx;
use participe_core::fleet::registry;
use participe_core::jobs::{self, Kind};
use participe_core::participation;
use participe_core::staff;
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
    let moderators = staff::reports_recipients(&mut tx).await?;
    let origin = app.config.console_origin();
    let link = format!("{origin}/t/{}/moderation", tenant.slug);
    let subject = format!("{} nouveau(x) signalement(s) — {}", reports.len(), tenant.name);
    for m in &moderators {
        let unsubscribe = format!("{origin}/desabonnement/{}", m.unsubscribe_token);
        let ctx = minijinja::context! {
            name => m.display_name.as_str(), site_name => tenant.name.as_str(),
            reports => minijinja::value::Serde(&reports), link => link.as_str(), unsubscribe => unsubscribe.as_str(),
        };
        let text = app.templates.render("console/mail/reports.txt", ctx)?.0;
        let mail = Mail {
            attachments: Vec::new(),
            to: m.email.clone(),
            subject: subject.clone(),
            text,
            from_name: None,
            unsubscribe: Some(unsubscribe),
        };
        enqueue(&mut tx, &mail).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn enqueue(tx: &mut TenantTx, mail: &Mail) -> Result<()> {
    let payload = serde_json::to_value(mail).map_err(|e| Error::Unexpected(e.to_string()))?;
    let tenant_id = tx.tenant().id;
    jobs::enqueue(tx.conn(), Some(tenant_id), Kind::Mail, payload, 0).await?;
    Ok(())
}

/// Renders `template` for one staff member and queues it, in the caller's transaction.
pub(crate) async fn queue_to(
    app: &AppState,
    tx: &mut TenantTx,
    to: &staff::Member,
    template: &str,
    subject: &str,
    ctx: minijinja::Value,
) -> Result<()> {
    let text = app.templates.render(template, ctx)?.0;
    let mail = Mail {
        attachments: Vec::new(),
        to: to.email.clone(),
        subject: subject.to_string(),
        text,
        from_name: None,
        unsubscribe: None,
    };
    enqueue(tx, &mail).await
}
