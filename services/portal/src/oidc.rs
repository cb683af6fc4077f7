//! Signing in with FranceConnect or another identity provider the tenant's staff configured.
//!
//! `start` sends the browser to the provider; `callback` completes the flow
//! (`participe_web::oidc`) and then: a known identity signs its citizen in; an address that
//! already has an account asks for that account's password before linking (whoever controls
//! a provider account does not thereby own an address here); otherwise `sign_up` asks only
//! for what the provider did not give, and the charter. Accounts created or linked this way
//! are marked « identité vérifiée ». Signing out ends the provider's session too
//! (`logout_url`), when the provider offers it.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use participe_core::FieldErrors;
use participe_core::citizens::{self, Citizen, Profile};
use participe_core::domain::Email;
use participe_core::identity::{self, Kind, Provider};
use participe_core::site;
use participe_oidc::{Identity, ProviderConfig};
use participe_web::csrf::{self, CsrfForm};
use participe_web::kit::parse_id;
use participe_web::oidc::{self as flow, CALLBACK_PATH, Callback};
use participe_web::ratelimit::TOO_MANY;
use participe_web::{Error, Result, session};
use uuid::Uuid;

use crate::Portal;
use crate::kit::{form_page, message, profiles};

/// A provider's identity waiting for its account: created (`/inscription`) or linked
/// (`/relier`). Dropped after a quarter of an hour, and by any sign-in.
pub(crate) const AWAITING: &str = "oidc_identity";
const AWAITING_LIFETIME: i64 = 15 * 60;

#[derive(serde::Serialize, serde::Deserialize)]
struct Purpose {
    provider: Uuid,
    next: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Awaiting {
    provider: Uuid,
    label: String,
    identity: Identity,
    next: Option<String>,
    since: i64,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The provider's configuration with its secret opened, or why it cannot be used.
async fn configured(portal: &Portal, id: Uuid) -> Result<(Provider, ProviderConfig)> {
    let mut tx = portal.begin().await?;
    let provider = identity::find(&mut tx, id)
        .await?
        .filter(|p| p.enabled)
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    let key = portal.app.config.secret_key.as_ref().ok_or(Error::NotFound)?;
    let secret = provider.secret(key, portal.tenant.id).map_err(|e| {
        tracing::error!(provider = %provider.id, error = %e, "identity provider secret does not open");
        Error::Unexpected("identity provider secret".into())
    })?;
    let franceconnect = provider.kind() == Kind::FranceConnect;
    let config = ProviderConfig {
        issuer: match &provider.issuer {
            Some(issuer) => issuer.clone(),
            None => portal.app.config.franceconnect_issuer.clone(),
        },
        client_id: provider.client_id.clone(),
        client_secret: secret,
        scopes: provider.scope_list(),
        acr_values: franceconnect.then(|| "eidas1".to_string()),
    };
    Ok((provider, config))
}

/// The page of a failed provider sign-in: why, in words, and no session.
async fn failure(portal: &Portal, e: participe_oidc::Error) -> Result<Response> {
    let status = flow::failure_status(&e);
    forget(portal).await?;
    message(portal, status, "Connexion impossible", e.explain()).await
}

pub async fn start(portal: Portal, Path(id): Path<String>, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    let (provider, config) = configured(&portal, parse_id(&id)?).await?;
    let redirect = portal.link_here(CALLBACK_PATH);
    let (url, pending) = match portal.app.oidc.begin(&config, &redirect).await {
        Ok(begun) => begun,
        Err(e) => return failure(&portal, e).await,
    };
    let next = participe_web::signin::take_next(&portal.session).await?;
    let purpose = Purpose {
        provider: provider.id,
        next,
    };
    flow::remember(&portal.session, &portal.host, pending, purpose).await?;
    Ok(Redirect::to(&url).into_response())
}

pub async fn callback(portal: Portal, Query(answer): Query<Callback>) -> Result<Response> {
    let (pending, purpose) = match flow::take::<Purpose>(&portal.session).await? {
        Ok(taken) => taken,
        Err(e) => return failure(&portal, e).await,
    };
    let (provider, config) = configured(&portal, purpose.provider).await?;
    let identity = match flow::complete(
        &portal.app.oidc,
        &config,
        &portal.link_here(CALLBACK_PATH),
        &pending,
        &answer,
    )
    .await
    {
        Ok(identity) => identity,
        Err(e) => return failure(&portal, e).await,
    };
    let mut tx = portal.begin().await?;
    if let Some(citizen) = identity::citizen_for(&mut tx, provider.id, &identity.subject).await? {
        tx.commit().await?;
        return signed_in(&portal, &citizen, provider.id, &identity, purpose.next).await;
    }
    let existing = match identity.email.as_deref().map(Email::parse) {
        Some(Ok(email)) => citizens::find_by_email(&mut tx, &email).await?,
        _ => None,
    };
    tx.commit().await?;
    let awaiting = Awaiting {
        provider: provider.id,
        label: provider.label.clone(),
        identity,
        next: purpose.next,
        since: now(),
    };
    portal
        .session
        .insert(AWAITING, awaiting)
        .await
        .map_err(session::session_error)?;
    let then = if existing.is_some() {
        "/connexion/fournisseur/relier"
    } else {
        "/connexion/fournisseur/inscription"
    };
    Ok(Redirect::to(then).into_response())
}

/// Opens the citizen's session, remembering the provider's token for signing out.
async fn signed_in(
    portal: &Portal,
    citizen: &Citizen,
    provider: Uuid,
    identity: &Identity,
    next: Option<String>,
) -> Result<Response> {
    portal.sign_in(citizen).await?;
    flow::remember_logout(&portal.session, provider, &identity.id_token).await?;
    Ok(Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response())
}

/// Drops the identity waiting for its account (signing in drops it too).
async fn forget(portal: &Portal) -> Result<()> {
    portal
        .session
        .remove::<Awaiting>(AWAITING)
        .await
        .map_err(session::session_error)?;
    Ok(())
}

async fn awaiting(portal: &Portal) -> Result<Option<Awaiting>> {
    let found: Option<Awaiting> = portal.session.get(AWAITING).await.map_err(session::session_error)?;
    Ok(found.filter(|a| now() - a.since <= AWAITING_LIFETIME))
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SignUpForm {
    display_name: String,
    email: String,
    profile: String,
    charter: Option<String>,
    charter_version: Option<i32>,
}

/// A public name to start from: the first name and the initial of the last one, which the
/// citizen may change (their full name is not shown unless they choose to).
fn suggested_name(identity: &Identity) -> String {
    let given = identity.given_name.as_deref().map(str::trim).unwrap_or_default();
    let initial = identity
        .family_name
        .as_deref()
        .and_then(|f| f.trim().chars().next())
        .map(|c| format!(" {c}."))
        .unwrap_or_default();
    format!("{given}{initial}").trim().chars().take(80).collect()
}

async fn sign_up_page(
    portal: &Portal,
    waiting: &Awaiting,
    mut form: SignUpForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    form.charter_version = site::current_charter_version(&mut tx).await?;
    tx.commit().await?;
    form_page(
        portal,
        "portal/oidc_signup.html",
        form,
        errors,
        status,
        minijinja::context! {
            profiles => profiles(), provider => waiting.label.clone(),
            given_email => waiting.identity.email.clone(), full_name => waiting.identity.full_name(),
        },
    )
    .await
}

pub async fn sign_up_form(portal: Portal) -> Result<Response> {
    let Some(waiting) = awaiting(&portal).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let form = SignUpForm {
        display_name: suggested_name(&waiting.identity),
        profile: Profile::Citoyen.as_str().into(),
        ..Default::default()
    };
    sign_up_page(&portal, &waiting, form, FieldErrors::default(), StatusCode::OK).await
}

pub async fn sign_up(portal: Portal, CsrfForm(form): CsrfForm<SignUpForm>) -> Result<Response> {
    let Some(waiting) = awaiting(&portal).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let mut errors = FieldErrors::default();
    let name = errors.check("display_name", citizens::parse_display_name(&form.display_name));
    // The provider's address when it gave one; otherwise the one typed, to be confirmed.
    let given = waiting.identity.email.as_deref().and_then(|e| Email::parse(e).ok());
    let email = match &given {
        Some(email) => Some(email.clone()),
        None => errors.check("email", Email::parse(&form.email)),
    };
    let profile = errors.check("profile", form.profile.parse::<Profile>());
    let mut tx = portal.begin().await?;
    let current = site::current_charter_version(&mut tx).await?;
    if current.is_some() && (form.charter.is_none() || form.charter_version != current) {
        errors.push("charter", "acceptez la charte d'utilisation pour participer");
    }
    let (Some(name), Some(email), Some(profile), true) = (name, email, profile, errors.is_empty()) else {
        return sign_up_page(&portal, &waiting, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let new = identity::NewProviderCitizen {
        email: &email,
        display_name: &name,
        profile,
        charter_version: current,
    };
    if given.is_none() || !waiting.identity.email_verified {
        // Nobody vouched for this address: its owner links it by following the mail.
        let key = format!("{}:{}", portal.tenant.slug, email.as_str());
        if !portal.app.limits.sign_up.check(portal.ip.0, Some(&key)) {
            let errors = FieldErrors::one(if given.is_none() { "email" } else { "display_name" }, TOO_MANY);
            return sign_up_page(&portal, &waiting, form, errors, StatusCode::TOO_MANY_REQUESTS).await;
        }
        let created = identity::create_unconfirmed(&mut tx, &new, waiting.provider, &waiting.identity.subject).await?;
        tx.commit().await?;
        forget(&portal).await?;
        // The same answer whether the address had an account or not; its owner is told which.
        match created {
            Some((citizen, token)) => portal.send_later(
                citizen.email.clone(),
                "Confirmez votre adresse".into(),
                "portal/mail/confirm.txt",
                minijinja::context! { name => citizen.display_name, link => portal.link(&format!("/confirmer/{}", token.as_str())) },
            )?,
            None => portal.send_later(
                email.to_string(),
                "Votre compte".into(),
                "portal/mail/already.txt",
                minijinja::context! { name => name.clone(), link => portal.link("/mot-de-passe-oublie") },
            )?,
        }
        let text = format!(
            "Un courriel vient d'être envoyé à {email}. Suivez le lien qu'il contient pour confirmer votre adresse : votre compte sera alors relié à {}, avec lequel vous pourrez vous connecter. Le lien reste valable 48 heures.",
            waiting.label
        );
        return message(&portal, StatusCode::OK, "Vérifiez votre messagerie", &text).await;
    }
    let Some(citizen) = identity::create_citizen(&mut tx, &new, waiting.provider, &waiting.identity.subject).await?
    else {
        // An account was created meanwhile for this address: it is linked instead.
        tx.commit().await?;
        return Ok(Redirect::to("/connexion/fournisseur/relier").into_response());
    };
    tx.commit().await?;
    let response = signed_in(&portal, &citizen, waiting.provider, &waiting.identity, waiting.next).await?;
    portal
        .flash("Votre compte est créé, avec votre identité vérifiée.")
        .await?;
    Ok(response)
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LinkForm {
    password: String,
}

async fn link_page(portal: &Portal, waiting: &Awaiting, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    form_page(
        portal,
        "portal/oidc_link.html",
        LinkForm::default(),
        errors,
        status,
        minijinja::context! { provider => waiting.label.clone(), email => waiting.identity.email.clone() },
    )
    .await
}

pub async fn link_form(portal: Portal) -> Result<Response> {
    match awaiting(&portal).await? {
        Some(waiting) if waiting.identity.email.is_some() => {
            link_page(&portal, &waiting, FieldErrors::default(), StatusCode::OK).await
        }
        _ => Ok(Redirect::to("/connexion").into_response()),
    }
}

/// The citizen proves the account is theirs with its password; then the identity is linked.
pub async fn link(portal: Portal, CsrfForm(form): CsrfForm<LinkForm>) -> Result<Response> {
    let Some(waiting) = awaiting(&portal).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let Some(Ok(email)) = waiting.identity.email.as_deref().map(Email::parse) else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let key = format!("{}:{}", portal.tenant.slug, email.as_str());
    if !portal.app.limits.login.check(portal.ip.0, Some(&key)) {
        return link_page(
            &portal,
            &waiting,
            FieldErrors::one("password", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let mut tx = portal.begin().await?;
    let Some(citizen) = citizens::check_password(&mut tx, Some(&email), &form.password).await? else {
        let errors = FieldErrors::one("password", "mot de passe incorrect");
        return link_page(&portal, &waiting, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    if !identity::link(&mut tx, waiting.provider, &waiting.identity.subject, citizen.id).await? {
        drop(tx);
        forget(&portal).await?;
        let text = format!(
            "Ce compte est déjà relié à une autre identité {} : connectez-vous avec celle-ci, ou avec votre adresse et votre mot de passe.",
            waiting.label
        );
        return message(&portal, StatusCode::CONFLICT, "Compte déjà relié", &text).await;
    }
    let citizen = citizens::find(&mut tx, citizen.id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let response = signed_in(&portal, &citizen, waiting.provider, &waiting.identity, waiting.next).await?;
    portal
        .flash(format!(
            "Votre compte est relié à {} : votre identité est vérifiée.",
            waiting.label
        ))
        .await?;
    Ok(response)
}

/// Where signing out sends the browser: the provider's end of session when the citizen
/// signed in through one that offers it, else the home page.
pub async fn logout_url(portal: &Portal) -> Result<String> {
    let Some(hint) = flow::logout_hint::<Uuid>(&portal.session).await? else {
        return Ok("/".into());
    };
    let Ok((_, config)) = configured(portal, hint.provider).await else {
        return Ok("/".into());
    };
    Ok(portal
        .app
        .oidc
        .logout_url(&config, &hint.id_token, &portal.link_here("/"))
        .await
        .unwrap_or_else(|| "/".into()))
}

/// The providers offered on the sign-in and sign-up pages.
pub async fn offered(portal: &Portal) -> Result<Vec<minijinja::Value>> {
    if portal.app.config.secret_key.is_none() {
        return Ok(Vec::new());
    }
    let mut tx = portal.begin().await?;
    let providers = identity::enabled(&mut tx).await?;
    tx.commit().await?;
    Ok(providers
        .into_iter()
        .map(|p| minijinja::context! { id => p.id.to_string(), label => p.label.clone(), franceconnect => p.kind() == Kind::FranceConnect })
        .collect())
}
