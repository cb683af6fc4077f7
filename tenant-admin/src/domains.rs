//! The portal's addresses (admins only). The platform sub-domain always works; staff add
//! their own domains, prove control of each (an HTTP file once the domain points at
//! Participe, or a DNS TXT record), choose the primary one, to which the others redirect.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::domain::{HostName, custom_domain};
use participe_core::fleet::domains;
use participe_core::staff::Role;
use participe_web::csrf::CsrfForm;
use participe_web::dispatch::VERIFICATION_PATH;
use participe_web::verify::{self, Proof};
use participe_web::{Error, Result};

use crate::frame::InTenant;

fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DomainForm {
    domain: String,
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(is_admin)?;
    render(&t, DomainForm::default(), FieldErrors::default(), StatusCode::OK).await
}

async fn render(t: &InTenant, form: DomainForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let mut tx = t.begin().await?;
    let list = domains::list(&mut tx).await?;
    tx.commit().await?;
    let rows: Vec<minijinja::Value> = list
        .iter()
        .map(|d| {
            let host = HostName::parse(&d.host).ok();
            minijinja::context! {
                host => d.host.clone(), is_primary => d.is_primary, verified => d.verified,
                http_url => d.verification_token.as_ref().map(|tok| format!("http://{}{VERIFICATION_PATH}{tok}", d.host)),
                txt_name => host.as_ref().map(verify::txt_name),
                txt_value => d.verification_token.as_deref().map(verify::txt_value),
            }
        })
        .collect();
    let platform = t.console.app.config.portal_origin(t.tenant().slug.as_str());
    let page = t
        .render(
            "console/tenant/domains.html",
            "domaines",
            minijinja::context! { rows, platform, form => Serde(form), errors => Serde(errors) },
        )
        .await?;
    Ok((status, page).into_response())
}

fn back(t: &InTenant) -> Response {
    Redirect::to(&format!("/t/{}/domaines", t.tenant().slug)).into_response()
}

pub async fn add(t: InTenant, CsrfForm(form): CsrfForm<DomainForm>) -> Result<Response> {
    t.require(is_admin)?;
    let host = match custom_domain(&form.domain, &t.console.app.config.base) {
        Ok(h) => h,
        Err(e) => {
            return render(
                &t,
                form,
                FieldErrors::one("domain", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut tx = t.begin().await?;
    if let Err(e) = domains::add(&mut tx, &host).await {
        drop(tx);
        return match e {
            participe_core::Error::Invalid(errors) => render(&t, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
            e => Err(e.into()),
        };
    }
    t.audit(&mut tx, "domaine.ajout", host.as_str(), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    t.console
        .flash(format!("Le domaine {host} est ajouté. Prouvez qu'il est à vous avec l'une des deux méthodes ci-dessous, puis cliquez sur « Vérifier »."))
        .await?;
    Ok(back(&t))
}

fn parse_host(form: &DomainForm) -> Result<HostName> {
    HostName::parse(&form.domain).map_err(|_| Error::NotFound)
}

pub async fn check(t: InTenant, CsrfForm(form): CsrfForm<DomainForm>) -> Result<Response> {
    t.require(is_admin)?;
    let host = parse_host(&form)?;
    let mut tx = t.begin().await?;
    let token = domains::pending_token(&mut tx, &host).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    // Looking at the domain may take seconds: no transaction is held meanwhile.
    let proof = verify::verify(&t.console.app.config.verifier, &host, &token).await;
    let Some(proof) = proof else {
        t.console
            .flash(format!("{host} n'est pas encore vérifié : ni le fichier de vérification ni l'enregistrement DNS n'ont été trouvés. Les changements DNS peuvent prendre quelques heures ; réessayez plus tard."))
            .await?;
        return Ok(back(&t));
    };
    let mut tx = t.begin().await?;
    domains::mark_verified(&mut tx, &host).await?;
    let method = match proof {
        Proof::Http => "http",
        Proof::Dns => "dns",
    };
    t.audit(
        &mut tx,
        "domaine.verification",
        host.as_str(),
        serde_json::json!({ "method": method }),
    )
    .await?;
    tx.commit().await?;
    t.console.app.resolver.invalidate_all();
    t.console
        .flash(format!("{host} est vérifié : le portail y répond désormais."))
        .await?;
    Ok(back(&t))
}

pub async fn primary(t: InTenant, CsrfForm(form): CsrfForm<DomainForm>) -> Result<Response> {
    t.require(is_admin)?;
    let host = parse_host(&form)?;
    let mut tx = t.begin().await?;
    domains::set_primary(&mut tx, &host).await?;
    t.audit(&mut tx, "domaine.principal", host.as_str(), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    t.console.app.resolver.invalidate_all();
    t.console
        .flash(format!("{host} est le domaine principal : les autres y redirigent."))
        .await?;
    Ok(back(&t))
}

pub async fn remove(t: InTenant, CsrfForm(form): CsrfForm<DomainForm>) -> Result<Response> {
    t.require(is_admin)?;
    let host = parse_host(&form)?;
    let mut tx = t.begin().await?;
    domains::remove(&mut tx, &host).await?;
    t.audit(&mut tx, "domaine.retrait", host.as_str(), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    t.console.app.resolver.invalidate_all();
    t.console
        .flash(format!("{host} n'est plus rattaché au portail."))
        .await?;
    Ok(back(&t))
}
