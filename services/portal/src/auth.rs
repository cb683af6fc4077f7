//! Citizen accounts on the portal: sign-up (with the charter accepted, its version recorded),
//! email confirmation, sign-in, sign-out, and password reset by mail. No answer says whether
//! an address has an account here; sign-up, sign-in and reset are rate-limited per address
//! and per account. Accounts belong to this tenant only.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use participe_core::FieldErrors;
use participe_core::citizens::{self, NewCitizen, Profile, SignUp};
use participe_core::domain::{Email, NewPassword};
use participe_core::site;
use participe_web::csrf::{self, CsrfForm};
use participe_web::ratelimit::TOO_MANY;
use participe_web::session::{LoginForm, NextQuery};
use participe_web::{Result, session};

use crate::Portal;
use crate::kit::{form_page, message, profiles};

const NEXT: &str = "next";

/// The rate-limit key of an address on this portal (accounts are per tenant).
fn account_key(portal: &Portal, email: &Email) -> String {
    format!("{}:{}", portal.tenant.slug, email.as_str())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SignUpForm {
    display_name: String,
    email: String,
    profile: String,
    password: String,
    password_confirm: String,
    charter: Option<String>,
    /// The charter version the form showed: what the citizen accepts.
    charter_version: Option<i32>,
}

async fn sign_up_page(
    portal: &Portal,
    mut form: SignUpForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    form.password.clear();
    form.password_confirm.clear();
    let mut tx = portal.begin().await?;
    let version = site::current_charter_version(&mut tx).await?;
    tx.commit().await?;
    form.charter_version = version;
    form_page(
        portal,
        "portal/signup.html",
        form,
        errors,
        status,
        minijinja::context! { profiles => profiles(), providers => crate::oidc::offered(portal).await? },
    )
    .await
}

pub async fn sign_up_form(portal: Portal) -> Result<Response> {
    if portal.citizen.is_some() {
        return Ok(Redirect::to("/compte").into_response());
    }
    sign_up_page(&portal, SignUpForm::default(), FieldErrors::default(), StatusCode::OK).await
}

pub async fn sign_up(portal: Portal, CsrfForm(form): CsrfForm<SignUpForm>) -> Result<Response> {
    let mut errors = FieldErrors::default();
    let name = errors.check("display_name", citizens::parse_display_name(&form.display_name));
    let email = errors.check("email", Email::parse(&form.email));
    let profile = errors.check("profile", form.profile.parse::<Profile>());
    let password = errors.check("password", NewPassword::parse(&form.password, &form.password_confirm));
    let mut tx = portal.begin().await?;
    let current = site::current_charter_version(&mut tx).await?;
    if current.is_some() && form.charter.is_none() {
        errors.push("charter", "acceptez la charte d'utilisation pour participer");
    } else if current.is_some() && form.charter_version != current {
        errors.push(
            "charter",
            "la charte vient de changer : relisez-la, puis acceptez sa nouvelle version",
        );
    }
    let key = email.as_ref().map(|e| account_key(&portal, e));
    if !portal.app.limits.sign_up.check(portal.ip.0, key.as_deref()) {
        return sign_up_page(
            &portal,
            form,
            FieldErrors::one("email", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let (Some(name), Some(email), Some(profile), Some(password), true) =
        (name, email, profile, password, errors.is_empty())
    else {
        return sign_up_page(&portal, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let new = NewCitizen {
        email: &email,
        display_name: &name,
        profile,
        password: &password,
        charter_version: current,
    };
    match citizens::sign_up(&mut tx, &new).await? {
        SignUp::Created { citizen, confirm } => {
            tx.commit().await?;
            let link = portal.link(&format!("/confirmer/{}", confirm.as_str()));
            portal.send_later(
                citizen.email,
                "Confirmez votre adresse".into(),
                "portal/mail/confirm.txt",
                minijinja::context! { name => citizen.display_name, link },
            )?;
        }
        SignUp::AlreadyRegistered { citizen } => {
            tx.commit().await?;
            let link = portal.link("/mot-de-passe-oublie");
            portal.send_later(
                citizen.email,
                "Votre compte".into(),
                "portal/mail/already.txt",
                minijinja::context! { name => citizen.display_name, link },
            )?;
        }
    }
    message(
        &portal,
        StatusCode::OK,
        "Vérifiez votre messagerie",
        &format!("Un courriel vient d'être envoyé à {email}. Suivez le lien qu'il contient pour confirmer votre adresse ; il reste valable 48 heures."),
    )
    .await
}

pub async fn confirm(portal: Portal, Path(token): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let confirmed = citizens::confirm_email(&mut tx, &token).await?;
    tx.commit().await?;
    match confirmed {
        Some(_) => {
            portal.flash("Votre adresse est confirmée. Vous pouvez vous connecter et participer.").await?;
            Ok(Redirect::to("/connexion").into_response())
        }
        None => message(&portal, StatusCode::NOT_FOUND, "Lien invalide ou expiré", "Ce lien de confirmation n'est plus valable. Connectez-vous : si votre adresse n'est pas encore confirmée, un nouveau lien vous sera envoyé.").await,
    }
}

async fn login_page(portal: &Portal, mut form: LoginForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    form.password.clear();
    form_page(
        portal,
        "portal/login.html",
        form,
        errors,
        status,
        minijinja::context! { providers => crate::oidc::offered(portal).await? },
    )
    .await
}

pub async fn login_form(portal: Portal, Query(q): Query<NextQuery>) -> Result<Response> {
    if portal.citizen.is_some() {
        return Ok(Redirect::to("/compte").into_response());
    }
    if let Some(next) = q.next() {
        portal
            .session
            .insert(NEXT, next)
            .await
            .map_err(session::session_error)?;
    }
    login_page(&portal, LoginForm::default(), FieldErrors::default(), StatusCode::OK).await
}

pub async fn login(portal: Portal, CsrfForm(form): CsrfForm<LoginForm>) -> Result<Response> {
    let email = Email::parse(&form.email).ok();
    let key = email.as_ref().map(|e| account_key(&portal, e));
    if !portal.app.limits.login.check(portal.ip.0, key.as_deref()) {
        return login_page(
            &portal,
            form,
            FieldErrors::one("email", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let mut tx = portal.begin().await?;
    let found = citizens::check_password(&mut tx, email.as_ref(), &form.password).await?;
    let Some(citizen) = found else {
        return login_page(
            &portal,
            form,
            FieldErrors::one("email", "adresse électronique ou mot de passe incorrect"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if !citizen.confirmed {
        // The password was right, so saying this reveals nothing new.
        let token = citizens::issue_token(&mut tx, citizen.id, citizens::TokenPurpose::Confirm).await?;
        tx.commit().await?;
        let link = portal.link(&format!("/confirmer/{}", token.as_str()));
        portal.send_later(
            citizen.email.clone(),
            "Confirmez votre adresse".into(),
            "portal/mail/confirm.txt",
            minijinja::context! { name => citizen.display_name, link },
        )?;
        return login_page(
            &portal,
            form,
            FieldErrors::one(
                "email",
                "confirmez d'abord votre adresse : un nouveau lien de confirmation vient de vous être envoyé",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    tx.commit().await?;
    let next: Option<String> = portal.session.remove(NEXT).await.map_err(session::session_error)?;
    portal.sign_in(&citizen).await?;
    Ok(Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response())
}

pub async fn logout(portal: Portal, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    let then = crate::oidc::logout_url(&portal).await?;
    portal.session.flush().await.map_err(session::session_error)?;
    Ok(Redirect::to(&then).into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot_form(portal: Portal) -> Result<Response> {
    form_page(
        &portal,
        "portal/forgot.html",
        ForgotForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
        minijinja::context! {},
    )
    .await
}

pub async fn forgot(portal: Portal, CsrfForm(form): CsrfForm<ForgotForm>) -> Result<Response> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return form_page(
                &portal,
                "portal/forgot.html",
                form,
                FieldErrors::one("email", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
                minijinja::context! {},
            )
            .await;
        }
    };
    if !portal
        .app
        .limits
        .reset
        .check(portal.ip.0, Some(&account_key(&portal, &email)))
    {
        return form_page(
            &portal,
            "portal/forgot.html",
            form,
            FieldErrors::one("email", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
            minijinja::context! {},
        )
        .await;
    }
    let mut tx = portal.begin().await?;
    if let Some(citizen) = citizens::find_by_email(&mut tx, &email).await? {
        let token = citizens::issue_token(&mut tx, citizen.id, citizens::TokenPurpose::Reset).await?;
        tx.commit().await?;
        let link = portal.link(&format!("/reinitialiser/{}", token.as_str()));
        portal.send_later(
            citizen.email,
            "Choisir un nouveau mot de passe".into(),
            "portal/mail/reset.txt",
            minijinja::context! { name => citizen.display_name, link },
        )?;
    }
    message(
        &portal,
        StatusCode::OK,
        "Vérifiez votre messagerie",
        &format!("Si un compte existe pour {email} sur ce portail, un courriel contenant un lien pour choisir un nouveau mot de passe vient d'y être envoyé. Ce lien reste valable une heure."),
    )
    .await
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ResetForm {
    password: String,
    password_confirm: String,
}

pub async fn reset_form(portal: Portal, Path(_token): Path<String>) -> Result<Response> {
    form_page(
        &portal,
        "portal/reset.html",
        ResetForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
        minijinja::context! {},
    )
    .await
}

pub async fn reset(portal: Portal, Path(token): Path<String>, CsrfForm(form): CsrfForm<ResetForm>) -> Result<Response> {
    let password = match NewPassword::parse(&form.password, &form.password_confirm) {
        Ok(p) => p,
        Err(e) => {
            return form_page(
                &portal,
                "portal/reset.html",
                ResetForm::default(),
                FieldErrors::one("password", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
                minijinja::context! {},
            )
            .await;
        }
    };
    let mut tx = portal.begin().await?;
    let done = citizens::reset_password(&mut tx, &token, &password).await?;
    tx.commit().await?;
    match done {
        Some(_) => {
            portal.session.flush().await.map_err(session::session_error)?;
            portal.flash("Votre mot de passe est modifié. Connectez-vous avec le nouveau.").await?;
            Ok(Redirect::to("/connexion").into_response())
        }
        None => message(&portal, StatusCode::NOT_FOUND, "Lien invalide ou expiré", "Ce lien de réinitialisation n'est plus valable. Demandez-en un nouveau depuis la page « Mot de passe oublié ».").await,
    }
}
