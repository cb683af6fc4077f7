//! Staff sign-in through the identity provider the operator configured for the console
//! (ProConnect for public agents, or another). The account is found by the address the
//! provider verified; an invitation can be accepted the same way, creating the account
//! (without a password) when the invited address has none. A second factor, when the
//! account has one, is still asked for. Signing out ends the provider's session too.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use participe_core::domain::Email;
use participe_core::staff;
use participe_web::csrf::{self, CsrfForm};
use participe_web::oidc::{self as flow, CALLBACK_PATH, Callback};
use participe_web::{ConsoleOidc, Error, Result, session};

use crate::frame::Console;

#[derive(serde::Serialize, serde::Deserialize)]
enum Purpose {
    SignIn { next: Option<String> },
    Invitation { token: String },
}

fn configured(console: &Console) -> Result<&ConsoleOidc> {
    console.app.config.console_oidc.as_ref().ok_or(Error::NotFound)
}

async fn page(console: &Console, status: StatusCode, title: &str, text: &str) -> Result<Response> {
    Ok((status, crate::kit::message(console, title, text).await?).into_response())
}

async fn begin(console: &Console, purpose: Purpose) -> Result<Response> {
    let provider = configured(console)?.provider();
    match console.app.oidc.begin(&provider, &console.link(CALLBACK_PATH)).await {
        Ok((url, pending)) => {
            flow::remember(&console.session, &console.host, pending, purpose).await?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(e) => page(console, flow::failure_status(&e), "Connexion impossible", e.explain()).await,
    }
}

/// « S'identifier avec ProConnect » on the sign-in page.
pub async fn start(console: Console, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    let next: Option<String> = console
        .session
        .remove(crate::signin::NEXT)
        .await
        .map_err(session::session_error)?;
    begin(&console, Purpose::SignIn { next }).await
}

/// The same from an invitation's page.
pub async fn start_invitation(
    console: Console,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    begin(&console, Purpose::Invitation { token }).await
}

pub async fn callback(console: Console, Query(answer): Query<Callback>) -> Result<Response> {
    let config = configured(&console)?;
    let (pending, purpose) = match flow::take::<Purpose>(&console.session).await? {
        Ok(taken) => taken,
        Err(e) => return page(&console, flow::failure_status(&e), "Connexion impossible", e.explain()).await,
    };
    let redirect = console.link(CALLBACK_PATH);
    let identity = match flow::complete(&console.app.oidc, &config.provider(), &redirect, &pending, &answer).await {
        Ok(identity) => identity,
        Err(e) => return page(&console, flow::failure_status(&e), "Connexion impossible", e.explain()).await,
    };
    let verified = identity.email_verified || config.emails_verified;
    let Some(email) = identity
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .filter(|_| verified)
    else {
        let text = format!(
            "{} ne nous a pas transmis d'adresse électronique vérifiée : sans elle, votre compte ne peut pas être retrouvé. Connectez-vous avec votre adresse et votre mot de passe.",
            config.label
        );
        return page(&console, StatusCode::FORBIDDEN, "Connexion impossible", &text).await;
    };
    match purpose {
        Purpose::SignIn { next } => {
            let Some(staff) = staff::find_by_email(&console.app.pool, &email).await? else {
                let text = format!(
                    "Aucun compte du personnel n'utilise l'adresse {email}. Demandez à l'administrateur·rice de votre portail de vous inviter avec cette adresse."
                );
                return page(
                    &console,
                    StatusCode::FORBIDDEN,
                    "Aucun compte pour cette adresse",
                    &text,
                )
                .await;
            };
            // The provider verified the address: it is confirmed here too.
            let staff = staff::verified_account(&console.app.pool, &email, &staff.display_name).await?;
            signed_in(&console, &staff, &identity.id_token, next).await
        }
        Purpose::Invitation { token } => {
            let Some(invitation) = staff::invitation_by_token(&console.app.pool, &token).await? else {
                return crate::team::expired(&console).await;
            };
            if invitation.email != email.as_str() {
                let text = format!(
                    "Cette invitation est adressée à {}, et {} vous identifie avec l'adresse {email}. Demandez une invitation pour cette adresse.",
                    invitation.email, config.label
                );
                return page(
                    &console,
                    StatusCode::FORBIDDEN,
                    "Invitation pour une autre adresse",
                    &text,
                )
                .await;
            }
            let name = identity.full_name().unwrap_or_else(|| email.as_str().to_string());
            let name: String = name.chars().take(120).collect();
            let staff = staff::verified_account(&console.app.pool, &email, &name).await?;
            if staff.totp_enabled {
                // The second factor first; the invitation's page then offers to join.
                return signed_in(
                    &console,
                    &staff,
                    &identity.id_token,
                    Some(format!("/invitation/{token}")),
                )
                .await;
            }
            console.sign_in(&staff).await?;
            flow::remember_logout(&console.session, (), &identity.id_token).await?;
            crate::team::join(&console, &staff, &token).await
        }
    }
}

/// Signs in like the password form does (the second factor asked for when enabled), then
/// goes to `next`; remembers the provider's token for signing out.
async fn signed_in(console: &Console, staff: &staff::Staff, id_token: &str, next: Option<String>) -> Result<Response> {
    if let Some(next) = next {
        console
            .session
            .insert(crate::signin::NEXT, next)
            .await
            .map_err(session::session_error)?;
    }
    let response = crate::signin::after_password(console, staff).await?;
    flow::remember_logout(&console.session, (), id_token).await?;
    Ok(response)
}

/// Where signing out sends the browser: the provider's end of session when the staff member
/// signed in through it, else the console's home.
pub async fn logout_url(console: &Console) -> Result<String> {
    let (Some(config), Some(hint)) = (
        console.app.config.console_oidc.as_ref(),
        flow::logout_hint::<()>(&console.session).await?,
    ) else {
        return Ok("/".into());
    };
    Ok(console
        .app
        .oidc
        .logout_url(&config.provider(), &hint.id_token, &console.link("/"))
        .await
        .unwrap_or_else(|| "/".into()))
}
