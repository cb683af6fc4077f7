//! Citizens' sign-in providers (admins only): FranceConnect with the client id and secret the
//! collectivité obtained from FranceConnect's partner space, or any OpenID Connect provider
//! (issuer, client id and secret, scopes). Secrets are sealed with the platform key as soon
//! as they arrive and are never shown again: editing a provider keeps its secret unless a
//! new one is typed. The page lists the addresses to declare to the provider.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::fleet::domains;
use participe_core::identity::{self, ProviderFields, ProviderInput};
use participe_core::staff::Role;
use participe_web::csrf::{self, CsrfForm};
use participe_web::kit::Checked;
use participe_web::oidc::CALLBACK_PATH;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::frame::InTenant;

fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ProviderForm {
    kind: String,
    label: String,
    issuer: String,
    client_id: String,
    /// Never sent back to the page.
    #[serde(skip_serializing)]
    secret: String,
    scopes: String,
    enabled: Option<String>,
}

impl ProviderForm {
    fn parse(&self, new: bool, loopback: bool) -> Result<ProviderInput, FieldErrors> {
        let fields = ProviderFields {
            kind: &self.kind,
            label: &self.label,
            issuer: &self.issuer,
            client_id: &self.client_id,
            secret: &self.secret,
            scopes: &self.scopes,
            enabled: self.enabled.is_some(),
        };
        ProviderInput::parse(&fields, new, loopback)
    }
}

/// The addresses the provider must know: where sign-ins come back, where sign-outs end.
async fn addresses(t: &InTenant) -> Result<Vec<minijinja::Value>> {
    let config = &t.console.app.config;
    let mut hosts = vec![format!("{}.{}", t.tenant().slug, config.base)];
    let mut tx = t.begin().await?;
    hosts.extend(
        domains::list(&mut tx)
            .await?
            .into_iter()
            .filter(|d| d.verified)
            .map(|d| d.host),
    );
    tx.commit().await?;
    Ok(hosts
        .into_iter()
        .map(|host| {
            let origin = config.origin(&host);
            minijinja::context! { callback => format!("{origin}{CALLBACK_PATH}"), logout => format!("{origin}/") }
        })
        .collect())
}

async fn render(
    t: &InTenant,
    form: ProviderForm,
    editing: Option<Uuid>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let mut tx = t.begin().await?;
    let providers = identity::list(&mut tx).await?;
    tx.commit().await?;
    let page = t
        .render(
            "console/tenant/identity.html",
            "connexion-citoyens",
            minijinja::context! {
                providers => Serde(providers), form => Serde(&form), errors => Serde(errors),
                editing => editing.map(|id| id.to_string()), addresses => addresses(t).await?,
                sealing => t.console.app.config.secret_key.is_some(),
                franceconnect_issuer => t.console.app.config.franceconnect_issuer.clone(),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(is_admin)?;
    let form = ProviderForm {
        kind: "franceconnect".into(),
        scopes: "openid email profile".into(),
        enabled: Some("on".into()),
        ..Default::default()
    };
    render(&t, form, None, FieldErrors::default(), StatusCode::OK).await
}

fn back(t: &InTenant) -> Response {
    Redirect::to(&format!("/t/{}/connexion-citoyens", t.tenant().slug)).into_response()
}

/// Checks the issuer answers as an OpenID Connect provider before saving it.
async fn reachable(t: &InTenant, input: &ProviderInput) -> Option<FieldErrors> {
    let issuer = input.issuer.as_deref()?;
    match t.console.app.oidc.discover(issuer).await {
        Ok(_) => None,
        Err(e) => {
            tracing::info!(error = %e, "identity provider not saved: discovery failed");
            Some(FieldErrors::one(
                "issuer",
                "aucun fournisseur OpenID Connect ne répond à cette adresse (document /.well-known/openid-configuration introuvable ou invalide)",
            ))
        }
    }
}

pub async fn create(t: InTenant, CsrfForm(form): CsrfForm<ProviderForm>) -> Result<Response> {
    t.require(is_admin)?;
    let key = t.console.app.config.secret_key.clone().ok_or(Error::NotFound)?;
    let input = match form.parse(true, t.console.app.config.oidc_loopback) {
        Ok(input) => input,
        Err(errors) => return render(&t, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    if let Some(errors) = reachable(&t, &input).await {
        return render(&t, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let mut tx = t.begin().await?;
    let id = match identity::create(&mut tx, &key, &input).await.checked()? {
        Ok(id) => id,
        Err(errors) => {
            drop(tx);
            return render(&t, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    t.audit(
        &mut tx,
        "connexion.fournisseur.ajout",
        &input.label,
        serde_json::json!({ "id": id, "kind": input.kind.as_str(), "issuer": input.issuer }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!(
            "« {} » est proposé sur les pages de connexion du portail.",
            input.label
        ))
        .await?;
    Ok(back(&t))
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, String)>) -> Result<Response> {
    t.require(is_admin)?;
    let id: Uuid = id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    let provider = identity::find(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let form = ProviderForm {
        kind: provider.kind.clone(),
        label: provider.label.clone(),
        issuer: provider.issuer.clone().unwrap_or_default(),
        client_id: provider.client_id.clone(),
        secret: String::new(),
        scopes: provider.scopes.clone(),
        enabled: provider.enabled.then(|| "on".into()),
    };
    render(&t, form, Some(id), FieldErrors::default(), StatusCode::OK).await
}

pub async fn update(
    t: InTenant,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(mut form): CsrfForm<ProviderForm>,
) -> Result<Response> {
    t.require(is_admin)?;
    let key = t.console.app.config.secret_key.clone().ok_or(Error::NotFound)?;
    let id: Uuid = id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    let provider = identity::find(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    // The kind does not change once created.
    form.kind = provider.kind.clone();
    let input = match form.parse(false, t.console.app.config.oidc_loopback) {
        Ok(input) => input,
        Err(errors) => return render(&t, form, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    if let Some(errors) = reachable(&t, &input).await {
        return render(&t, form, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let mut tx = t.begin().await?;
    match identity::update(&mut tx, &key, id, &input).await.checked()? {
        Ok(true) => {}
        Ok(false) => return Err(Error::NotFound),
        Err(errors) => {
            drop(tx);
            return render(&t, form, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    }
    t.audit(
        &mut tx,
        "connexion.fournisseur.modification",
        &input.label,
        serde_json::json!({ "id": id, "secret_changed": input.secret.is_some(), "enabled": input.enabled }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash(format!("« {} » est enregistré.", input.label)).await?;
    Ok(back(&t))
}

pub async fn delete(
    t: InTenant,
    Path((_, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    t.require(is_admin)?;
    let id: Uuid = id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    let provider = identity::find(&mut tx, id).await?.ok_or(Error::NotFound)?;
    identity::delete(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "connexion.fournisseur.retrait",
        &provider.label,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!(
            "« {} » n'est plus proposé ; les comptes qui l'utilisaient restent.",
            provider.label
        ))
        .await?;
    Ok(back(&t))
}
