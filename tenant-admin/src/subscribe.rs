//! "Créer notre portail": a signed-in staff member creates their collectivité's portal. It
//! is provisioned at once, on a 30-day trial, and they become its admin.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::domain::TenantKind;
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::migrations::TenantMigrations;
use participe_core::{FieldErrors, TenantTx};
use participe_web::Result;
use participe_web::csrf::CsrfForm;
use participe_web::kit::Checked;

use crate::frame::Console;

pub const TRIAL_DAYS: i64 = 30;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SubscribeForm {
    name: String,
    kind: String,
    insee_code: String,
    siren: String,
    population: String,
    slug: String,
}

fn kinds() -> Vec<minijinja::Value> {
    TenantKind::ALL
        .iter()
        .map(|k| minijinja::context! { value => k.as_str(), label => k.label() })
        .collect()
}

pub async fn form(console: Console) -> Result<Response> {
    console.staff()?;
    render(
        &console,
        SubscribeForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render(console: &Console, form: SubscribeForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let page = console
        .render(
            "console/subscribe.html",
            minijinja::context! {
                form => Serde(form), errors => Serde(errors), kinds => kinds(),
                base => console.app.config.base.to_string(), trial_days => TRIAL_DAYS,
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn create(console: Console, CsrfForm(form): CsrfForm<SubscribeForm>) -> Result<Response> {
    let staff = console.staff()?.clone();
    let input = NewTenantInput {
        slug: form.slug.clone(),
        name: form.name.clone(),
        kind: form.kind.clone(),
        insee_code: Some(form.insee_code.clone()),
        siren: Some(form.siren.clone()),
        population: Some(form.population.clone()),
        ..Default::default()
    };
    let mut new = match input.parse(&console.app.config.base) {
        Ok(new) => new,
        Err(errors) => return render(&console, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    new.owner = Some(staff.id);
    new.trial_days = Some(TRIAL_DAYS);
    let migrations = TenantMigrations::embedded();
    let actor = format!("staff:{}", staff.email);
    let provisioned = provisioning::provision(&console.app.pool, &migrations, &new, &actor).await;
    let tenant = match provisioned.checked()? {
        Ok(t) => t,
        Err(errors) => {
            return render(&console, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let mut tx = TenantTx::begin(&console.app.pool, &tenant).await?;
    participe_core::site::audit(
        &mut tx,
        staff.id,
        &staff.email,
        "portail.creation",
        tenant.slug.as_str(),
        serde_json::json!({ "name": tenant.name, "trial_days": TRIAL_DAYS }),
        console.ip.0,
    )
    .await?;
    tx.commit().await?;
    let url = console.app.config.portal_origin(tenant.slug.as_str());
    console.flash(format!("Le portail « {} » est en ligne à l'adresse {url}. Votre période d'essai de {TRIAL_DAYS} jours commence aujourd'hui.", tenant.name)).await?;
    Ok(Redirect::to(&format!("/t/{}/", tenant.slug)).into_response())
}
