//! A citizen's own account: name, address (re-confirmed by mail before it changes), password,
//! the download of everything this portal holds about them, account deletion, and the
//! acceptance of a new version of the usage charter.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::citizens::{self, EmailChange};
use participe_core::domain::{Email, NewPassword};
use participe_core::site;
use participe_web::csrf::CsrfForm;
use participe_web::{Error, Result, session};

use crate::Portal;
use crate::kit::{form_page, message};
use participe_web::session::{NextQuery, safe_next};

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AccountForm {
    display_name: String,
    email: String,
    current_password: String,
    password: String,
    password_confirm: String,
}

async fn account_page(portal: &Portal, form: AccountForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let profile = portal.citizen.as_ref().map(|c| c.profile_label()).unwrap_or_default();
    let linked = match &portal.citizen {
        Some(c) => {
            let mut tx = portal.begin().await?;
            let linked = participe_core::identity::linked(&mut tx, c.id).await?;
            tx.commit().await?;
            linked
        }
        None => Vec::new(),
    };
    form_page(
        portal,
        "portal/compte/compte.html",
        form,
        errors,
        status,
        minijinja::context! { profile, linked => Serde(linked) },
    )
    .await
}

pub async fn show(portal: Portal) -> Result<Response> {
    let c = portal.citizen("/compte")?;
    let form = AccountForm {
        display_name: c.display_name.clone(),
        email: c.email.clone(),
        ..Default::default()
    };
    account_page(&portal, form, FieldErrors::default(), StatusCode::OK).await
}

pub async fn rename(portal: Portal, CsrfForm(form): CsrfForm<AccountForm>) -> Result<Response> {
    let c = portal.citizen("/compte")?.clone();
    let name = match citizens::parse_display_name(&form.display_name) {
        Ok(n) => n,
        Err(e) => {
            let form = AccountForm {
                email: c.email.clone(),
                ..form
            };
            return account_page(
                &portal,
                form,
                FieldErrors::one("display_name", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut tx = portal.begin().await?;
    citizens::rename(&mut tx, c.id, &name).await?;
    tx.commit().await?;
    portal.flash("Votre nom est modifié.").await?;
    Ok(Redirect::to("/compte").into_response())
}

pub async fn change_email(portal: Portal, CsrfForm(form): CsrfForm<AccountForm>) -> Result<Response> {
    let c = portal.citizen("/compte")?.clone();
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let form = AccountForm {
                display_name: c.display_name.clone(),
                ..form
            };
            return account_page(
                &portal,
                form,
                FieldErrors::one("email", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if email.as_str() != c.email {
        let mut tx = portal.begin().await?;
        let change = citizens::request_email_change(&mut tx, c.id, &email).await?;
        tx.commit().await?;
        // The page answers the same either way; an address that is another account's gets a
        // mail telling its owner, and no link.
        match change {
            EmailChange::Requested(token) => {
                let link = portal.link(&format!("/compte/adresse/{}", token.as_str()));
                portal.send_later(
                    email.to_string(),
                    "Confirmez votre nouvelle adresse".into(),
                    "portal/mail/email_change.txt",
                    minijinja::context! { name => c.display_name, link },
                )?;
            }
            EmailChange::Taken { owner } => portal.send_later(
                owner.email,
                "Votre adresse a été proposée pour un autre compte".into(),
                "portal/mail/email_taken.txt",
                minijinja::context! { name => owner.display_name, link => portal.link("/connexion") },
            )?,
        }
    }
    portal
        .flash(format!(
            "Un lien de confirmation a été envoyé à {email}. Votre adresse changera quand vous l'aurez suivi."
        ))
        .await?;
    Ok(Redirect::to("/compte").into_response())
}

pub async fn confirm_email(portal: Portal, Path(token): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let done = citizens::confirm_email_change(&mut tx, &token).await?;
    tx.commit().await?;
    match done {
        Some(_) => {
            portal.flash("Votre nouvelle adresse est confirmée.").await?;
            Ok(Redirect::to(if portal.citizen.is_some() {
                "/compte"
            } else {
                "/connexion"
            })
            .into_response())
        }
        None => message(
            &portal,
            StatusCode::NOT_FOUND,
            "Lien invalide ou expiré",
            "Ce lien n'est plus valable. Vous pouvez demander à nouveau le changement d'adresse depuis votre compte.",
        )
        .await,
    }
}

pub async fn change_password(portal: Portal, CsrfForm(form): CsrfForm<AccountForm>) -> Result<Response> {
    let c = portal.citizen("/compte")?.clone();
    let back = |_: AccountForm| AccountForm {
        display_name: c.display_name.clone(),
        email: c.email.clone(),
        ..Default::default()
    };
    let new = match NewPassword::parse(&form.password, &form.password_confirm) {
        Ok(p) => p,
        Err(e) => {
            return account_page(
                &portal,
                back(form),
                FieldErrors::one("password", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if !portal.app.limits.login.check(portal.ip.0, Some(&c.id.to_string())) {
        return Err(Error::TooManyRequests);
    }
    let mut tx = portal.begin().await?;
    if !citizens::change_password(&mut tx, c.id, &form.current_password, &new).await? {
        return account_page(
            &portal,
            back(form),
            FieldErrors::one("current_password", "le mot de passe actuel est incorrect"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let fresh = citizens::find(&mut tx, c.id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    // Other sessions ended with the epoch; this one goes on under a new id.
    portal.sign_in(&fresh).await?;
    portal
        .flash("Votre mot de passe est modifié. Vos autres sessions sont fermées.")
        .await?;
    Ok(Redirect::to("/compte").into_response())
}

pub async fn export(portal: Portal) -> Result<Response> {
    let c = portal.citizen("/compte")?;
    let mut tx = portal.begin().await?;
    let data = citizens::export(&mut tx, c.id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let body = serde_json::to_string_pretty(&data).map_err(|e| Error::Unexpected(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"mes-donnees-{}.json\"", portal.tenant.slug),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DeleteForm {
    password: String,
    with_content: Option<String>,
}

pub async fn delete_form(portal: Portal) -> Result<Response> {
    portal.citizen("/compte/suppression")?;
    form_page(
        &portal,
        "portal/compte/suppression.html",
        DeleteForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
        minijinja::context! {},
    )
    .await
}

pub async fn delete(mut portal: Portal, CsrfForm(form): CsrfForm<DeleteForm>) -> Result<Response> {
    let c = portal.citizen("/compte/suppression")?.clone();
    if !portal.app.limits.login.check(portal.ip.0, Some(&c.id.to_string())) {
        return Err(Error::TooManyRequests);
    }
    let mut tx = portal.begin().await?;
    let email = Email::parse(&c.email).map_err(|e| Error::Unexpected(e.0))?;
    // An account without a password (created through a provider) confirms with its address.
    let confirmed = if c.has_password {
        citizens::check_password(&mut tx, Some(&email), &form.password)
            .await?
            .is_some()
    } else {
        Email::parse(&form.password).is_ok_and(|typed| typed == email)
    };
    if !confirmed {
        let wrong = if c.has_password {
            "mot de passe incorrect"
        } else {
            "ce n'est pas l'adresse de ce compte"
        };
        return form_page(
            &portal,
            "portal/compte/suppression.html",
            DeleteForm {
                password: String::new(),
                ..form
            },
            FieldErrors::one("password", wrong),
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! {},
        )
        .await;
    }
    citizens::delete(&mut tx, c.id, form.with_content.is_some()).await?;
    tx.commit().await?;
    portal.session.flush().await.map_err(session::session_error)?;
    // The page that says so is a visitor's: no « Mon compte », no « Se déconnecter ».
    portal.citizen = None;
    message(
        &portal,
        StatusCode::OK,
        "Votre compte est supprimé",
        if form.with_content.is_some() {
            "Vos données personnelles, vos contributions et vos commentaires ont été effacés."
        } else {
            "Vos données personnelles ont été effacées. Vos contributions restent visibles sous le nom « Participant·e supprimé·e »."
        },
    )
    .await
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CharterForm {
    version: i32,
    accept: Option<String>,
    suite: String,
}

async fn charter_page(portal: &Portal, suite: String, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let version = site::current_charter_version(&mut tx).await?;
    let page = site::published_page(&mut tx, "charte").await?;
    tx.commit().await?;
    let Some(version) = version else {
        return Ok(Redirect::to(&suite).into_response());
    };
    form_page(
        portal,
        "portal/compte/charte.html",
        CharterForm {
            version,
            accept: None,
            suite,
        },
        errors,
        status,
        minijinja::context! { page => page.map(Serde) },
    )
    .await
}

pub async fn charter_form(portal: Portal, Query(q): Query<NextQuery>) -> Result<Response> {
    portal.citizen("/charte")?;
    let suite = q.next().unwrap_or_else(|| "/".into());
    charter_page(&portal, suite, FieldErrors::default(), StatusCode::OK).await
}

pub async fn accept_charter(portal: Portal, CsrfForm(form): CsrfForm<CharterForm>) -> Result<Response> {
    let c = portal.citizen("/charte")?.clone();
    let suite = safe_next(Some(&form.suite)).unwrap_or_else(|| "/".into());
    let mut tx = portal.begin().await?;
    let current = site::current_charter_version(&mut tx).await?;
    if form.accept.is_none() || current != Some(form.version) {
        drop(tx);
        let error = if form.accept.is_none() {
            "cochez la case pour accepter la charte"
        } else {
            "la charte vient de changer : relisez-la, puis acceptez sa nouvelle version"
        };
        return charter_page(
            &portal,
            suite,
            FieldErrors::one("accept", error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    citizens::accept_charter(&mut tx, c.id, form.version).await?;
    tx.commit().await?;
    portal
        .flash("Merci : vous avez accepté la charte d'utilisation.")
        .await?;
    Ok(Redirect::to(&suite).into_response())
}
