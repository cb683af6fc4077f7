//! The subscription page (admins only): where the portal stands with billing (trial, paid,
//! late, read-only, with the dates that matter), the plans and their prices excluding and
//! including VAT, the stratum suggested from the population given at subscription, the
//! invoices. With Stripe configured, admins subscribe here: online (Stripe Checkout, card
//! or SEPA debit) or by invoice (sent by Stripe, paid by transfer within 30 days), and an
//! online payer manages card or bank account in Stripe's customer portal. Without Stripe,
//! payments are recorded by the platform's operators (manual billing).

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::billing::{self, Period, Stratum, standing};
use participe_core::domain::Email;
use participe_core::staff::Role;
use participe_stripe::{Choice, Payer, Stripe};
use participe_web::csrf::{CsrfForm, Empty};
use participe_web::{Error, Result};

use crate::frame::InTenant;

fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

/// Where Stripe's Checkout sent the admin back.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Back {
    paiement: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SubscribeForm {
    stratum: String,
    period: String,
    /// `online` or `invoice`.
    mode: String,
    email: String,
}

pub async fn show(t: InTenant, Query(back): Query<Back>) -> Result<Response> {
    t.require(is_admin)?;
    let notice = match back.paiement.as_deref() {
        Some("ok") => Some(
            "Paiement accepté par Stripe. L'abonnement s'affiche ici dès que Stripe le confirme, en général sous une minute.",
        ),
        Some("annule") => Some("Paiement abandonné : rien n'a été débité. Vous pouvez recommencer quand vous voulez."),
        _ => None,
    };
    render(&t, None, FieldErrors::default(), notice, StatusCode::OK).await
}

async fn render(
    t: &InTenant,
    form: Option<SubscribeForm>,
    errors: FieldErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response> {
    let pool = &t.console.app.pool;
    let details = participe_core::fleet::registry::details(pool, &t.tenant().slug).await?;
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
    let form = form.unwrap_or_else(|| SubscribeForm {
        stratum: current.map(|s| s.as_str().to_string()).unwrap_or_default(),
        period: summary.period.clone(),
        mode: "invoice".into(),
        email: t.staff().email.to_string(),
    });
    let strata: Vec<_> = Stratum::ALL
        .iter()
        .map(|s| minijinja::context! { value => s.as_str(), label => s.label() })
        .collect();
    let page = t
        .render(
            "console/tenant/billing.html",
            "abonnement",
            minijinja::context! {
                summary => Serde(&summary), days_left, plans => Serde(plans), invoices => Serde(invoices),
                suggested => suggested.map(Stratum::as_str), current => current.map(Stratum::as_str),
                suggested_label => suggested.map(Stratum::label), population => details.population,
                plan_label => summary.plan.as_deref().map(billing::plan_label),
                stripe => t.console.app.config.stripe.is_some(), strata,
                form => Serde(form), errors => Serde(errors), notice,
            },
        )
        .await?;
    Ok((status, page).into_response())
}

fn stripe(t: &InTenant) -> Result<Stripe> {
    let settings = t.console.app.config.stripe.as_ref().ok_or(Error::NotFound)?;
    Stripe::new(settings.secret_key.expose(), settings.api_base.as_deref())
        .map_err(|e| Error::Unavailable(e.to_string()))
}

fn page(t: &InTenant) -> String {
    format!("/t/{}/abonnement", t.tenant().slug)
}

pub async fn subscribe(t: InTenant, CsrfForm(form): CsrfForm<SubscribeForm>) -> Result<Response> {
    t.require(is_admin)?;
    let stripe = stripe(&t)?;
    let mut errors = FieldErrors::default();
    let stratum = Stratum::parse(&form.stratum);
    if stratum.is_none() {
        errors.push("stratum", "Choisissez la strate de population de votre collectivité.");
    }
    let period = Period::parse(&form.period);
    if period.is_none() {
        errors.push("period", "Choisissez un paiement mensuel ou annuel.");
    }
    if !matches!(form.mode.as_str(), "online" | "invoice") {
        errors.push("mode", "Choisissez de payer en ligne ou sur facture.");
    }
    let email = errors.check("email", Email::parse(&form.email));
    let (Some(stratum), Some(period), Some(email), true) = (stratum, period, email, errors.is_empty()) else {
        return render(&t, Some(form), errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let summary = standing::summary(&t.console.app.pool, t.tenant().id, &t.console.app.config.billing)
        .await?
        .ok_or(Error::NotFound)?;
    if summary.subscribed {
        t.console
            .flash("Votre portail a déjà un abonnement en cours : pour changer de formule, écrivez à l'équipe de la plateforme.")
            .await?;
        return Ok(Redirect::to(&page(&t)).into_response());
    }
    let payer = Payer {
        tenant_id: t.tenant().id,
        slug: t.tenant().slug.to_string(),
        name: t.tenant().name.clone(),
        email: email.to_string(),
    };
    let choice = Choice { stratum, period };
    let app = &t.console.app;
    let back = t.console.link(&page(&t));
    let result = if form.mode == "online" {
        stripe
            .checkout(
                &app.pool,
                &payer,
                choice,
                &format!("{back}?paiement=ok"),
                &format!("{back}?paiement=annule"),
            )
            .await
            .map(Some)
    } else {
        stripe
            .subscribe_by_invoice(&app.pool, &app.config.billing, &payer, choice)
            .await
            .map(|_| None)
    };
    match result {
        // Stripe's payment page: the admin comes back to `?paiement=…`.
        Ok(Some(checkout)) => Ok(Redirect::to(&checkout).into_response()),
        Ok(None) => {
            let mut tx = t.begin().await?;
            let detail =
                serde_json::json!({ "plan": stratum.as_str(), "period": period.as_str(), "email": payer.email });
            t.audit(&mut tx, "abonnement.facture", stratum.label(), detail).await?;
            tx.commit().await?;
            t.console
                .flash(format!(
                    "Abonnement souscrit. Stripe envoie la facture à {} ; elle est payable par virement sous {} jours, aux coordonnées bancaires qu'elle indique.",
                    payer.email,
                    participe_stripe::DAYS_UNTIL_DUE
                ))
                .await?;
            Ok(Redirect::to(&page(&t)).into_response())
        }
        Err(e) => {
            tracing::warn!(error = %e, tenant = %t.tenant().slug, "Stripe refused a subscription");
            let status = stripe_status(&e);
            render(
                &t,
                Some(form),
                FieldErrors::one("stripe", stripe_message(&e)),
                None,
                status,
            )
            .await
        }
    }
}

/// What the admin reads when Stripe fails: Stripe's refusal, or that it is unreachable.
fn stripe_message(e: &participe_stripe::Error) -> String {
    match e {
        participe_stripe::Error::Core(_) => {
            "Le paiement n'a pas pu être préparé ; réessayez dans quelques minutes.".into()
        }
        e => e.to_string(),
    }
}

/// Stripe refusing what was asked is the request's fault (422); Stripe away, a 503.
fn stripe_status(e: &participe_stripe::Error) -> StatusCode {
    match e {
        participe_stripe::Error::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Stripe's customer portal, for an online payer: card or bank account, receipts.
pub async fn manage(t: InTenant, CsrfForm(_): CsrfForm<Empty>) -> Result<Response> {
    t.require(is_admin)?;
    let stripe = stripe(&t)?;
    let summary = standing::summary(&t.console.app.pool, t.tenant().id, &t.console.app.config.billing)
        .await?
        .ok_or(Error::NotFound)?;
    if !summary.stripe_customer {
        return Err(Error::NotFound);
    }
    let back = t.console.link(&page(&t));
    match stripe.portal(&t.console.app.pool, t.tenant().id, &back).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            tracing::warn!(error = %e, tenant = %t.tenant().slug, "Stripe customer portal");
            let status = stripe_status(&e);
            render(&t, None, FieldErrors::one("stripe", stripe_message(&e)), None, status).await
        }
    }
}
