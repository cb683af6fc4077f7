//! The mails of the agenda (`agenda_mail` jobs, queued by `core::agenda` in the transaction
//! that decided them): confirm your address, your seat (with the event as an `.ics`
//! attachment and a link to cancel), the waiting list, a seat freed for you, the event
//! cancelled. Sent from the portal's name, with links into the portal.

use participe_core::TenantTx;
use participe_core::agenda::{self, MailJob, Notice};
use participe_core::fleet::registry;
use participe_mail::{Attachment, Mail};
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

pub async fn send(app: &AppState, tenant_id: Uuid, payload: &serde_json::Value) -> Result<()> {
    let job: MailJob =
        serde_json::from_value(payload.clone()).map_err(|e| Error::Unexpected(format!("agenda mail: {e}")))?;
    let Some(tenant) = registry::find_by_id(&app.pool, tenant_id).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(&app.pool, &tenant).await?;
    let facts = agenda::mail_facts(&mut tx, job.registration).await?;
    tx.commit().await?;
    // A registration gone (its event deleted) has nobody left to tell.
    let Some(facts) = facts else {
        return Ok(());
    };
    let branding = app.branding.get(&app.pool, &tenant).await?;
    let site_name = branding.display_name.clone().unwrap_or_else(|| tenant.name.clone());
    let origin = app.config.tenant_origin(&tenant);
    let token = job.token.unwrap_or_default();
    let (template, subject, ics) = match job.notice {
        Notice::ConfirmAddress => ("confirm", "Confirmez votre inscription", false),
        Notice::Seat => ("seat", "Inscription confirmée", true),
        Notice::WaitingList => ("waiting", "Liste d'attente", false),
        Notice::SeatFreed => ("freed", "Une place s'est libérée pour vous", true),
        Notice::EventCancelled => ("cancelled", "Rencontre annulée", true),
        Notice::AlreadyRegistered => ("already", "Vous êtes déjà inscrit·e", true),
    };
    let event = &facts.event;
    let ctx = minijinja::context! {
        waiting => facts.status == "liste",
        name => facts.name.as_str(), site_name => site_name.as_str(), e => minijinja::value::Serde(event),
        heading => event.heading(),
        event_link => format!("{origin}/agenda/{}", event.id),
        confirm_link => format!("{origin}/agenda/confirmation/{token}"),
        cancel_link => format!("{origin}/agenda/desinscription/{token}"),
    };
    let text = app
        .templates
        .render(&format!("portal/mail/agenda_{template}.txt"), ctx)?
        .0;
    let attachments = if ics {
        vec![Attachment {
            filename: "rencontre.ics".into(),
            content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
            content: agenda::ics::calendar(&site_name, &origin, std::slice::from_ref(event)),
        }]
    } else {
        vec![]
    };
    let mail = Mail {
        to: facts.email,
        subject: format!("{subject} : {} — {site_name}", event.title),
        text,
        from_name: Some(branding.sender_name.clone().unwrap_or_else(|| site_name.clone())),
        unsubscribe: None,
        attachments,
    };
    app.mailer
        .send(&mail)
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))
}
