//! The mail that tells a tenant's admins their billing standing changed (payment late,
//! portal read-only, suspended, back to normal). Queued by `core::billing::standing` with
//! the transition, in the transaction that made it; the worker runs `send_notice`, which
//! queues one mail per admin.

use participe_core::TenantTx;
use participe_core::billing::standing::{State, Transition};
use participe_core::fleet::registry;
use participe_core::staff::{self, Role};
use participe_web::{AppState, Result};

pub async fn send_notice(app: &AppState, transition: &Transition) -> Result<()> {
    let Some(tenant) = registry::find_by_id(&app.pool, transition.tenant_id).await? else {
        return Ok(());
    };
    let mut tx = TenantTx::begin(&app.pool, &tenant).await?;
    let admins: Vec<staff::Member> = staff::members(&mut tx)
        .await?
        .into_iter()
        .filter(|m| matches!(m.role.parse::<Role>(), Ok(Role::Admin)))
        .collect();
    let state = State::parse(&transition.to).map(State::label).unwrap_or("");
    let link = format!("{}/t/{}/abonnement", app.config.console_origin(), tenant.slug);
    let subject = format!("Abonnement : {} — {}", state.to_lowercase(), tenant.name);
    for admin in &admins {
        let ctx = minijinja::context! {
            name => admin.display_name.as_str(), site_name => tenant.name.as_str(), state,
            effect => transition.effect.as_deref(), link => link.as_str(),
        };
        crate::moderation_mail::queue_to(app, &mut tx, admin, "console/mail/billing.txt", &subject, ctx).await?;
    }
    tx.commit().await?;
    Ok(())
}
