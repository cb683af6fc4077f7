//! Staff accounts: sign-up with email confirmation, sign-in (with the second factor when
//! enabled), sign-out, and password reset by mail. No message ever says whether an address
//! has an account; answers take the same time either way (argon2 runs on unknown addresses
//! too, mails are sent in the background); sign-up, sign-in and reset are rate-limited per
//! address and per account.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use participe_core::FieldErrors;
use participe_core::domain::{Email, NewPassword};
use participe_core::staff::{self, SignUp};
use participe_mail::Mail;
use participe_web::csrf::{self, CsrfForm};
use participe_web::ratelimit::TOO_MANY;
use participe_web::session::{LoginForm, NextQuery};
use participe_web::{Error, Result, session};
use uuid::Uuid;

use crate::frame::Console;
use crate::kit::message;
use crate::signin::{NEXT, PENDING_TOTP, after_password, finish_login};

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SignUpForm {
    display_name: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn sign_up_form(console: Console) -> Result<Html<String>> {
    console
        .render(
            "console/auth/signup.html",
            minijinja::context! { form => minijinja::value::Serde(SignUpForm::default()), errors => Vec::<()>::new() },
        )
        .await
}

pub async fn sign_up(console: Console, CsrfForm(form): CsrfForm<SignUpForm>) -> Result<Response> {
    let mut errors = FieldErrors::default();
    let name = form.display_name.trim().to_string();
    if name.is_empty() {
        errors.push("display_name", "indiquez vos prénom et nom");
    } else if name.chars().count() > 120 {
        errors.push("display_name", "120 caractères au plus");
    }
    let email = errors.check("email", Email::parse(&form.email));
    let password = errors.check("password", NewPassword::parse(&form.password, &form.password_confirm));
    if !console
        .app
        .limits
        .sign_up
        .check(console.ip.0, email.as_ref().map(Email::as_str))
    {
        return rerender_signup(
            &console,
            form,
            FieldErrors::one("email", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let (Some(email), Some(password)) = (email, password) else {
        return rerender_signup(&console, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    if !errors.is_empty() {
        return rerender_signup(&console, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match staff::sign_up(&console.app.pool, &email, &name, &password).await? {
        SignUp::Created { staff, confirm } => send_confirmation(&console, &staff, &confirm)?,
        SignUp::AlreadyRegistered { staff } => {
            let link = console.link("/mot-de-passe-oublie");
            let text = console.render_mail(
                "console/mail/already.txt",
                minijinja::context! { name => staff.display_name, link },
            )?;
            console.send_later(Mail {
                attachments: Vec::new(),
                to: staff.email,
                subject: "Votre compte Participe".into(),
                text,
                from_name: None,
                unsubscribe: None,
            });
        }
    }
    message(
        &console,
        "Vérifiez votre messagerie",
        &format!(
            "Un courriel vient d'être envoyé à {email}. Suivez le lien qu'il contient pour confirmer votre adresse ; il reste valable 48 heures."
        ),
    )
    .await
    .map(IntoResponse::into_response)
}

/// The mail with the link that confirms a staff member's address (after sign-up, and again
/// when they sign in before confirming).
fn send_confirmation(console: &Console, staff: &staff::Staff, token: &participe_core::domain::Token) -> Result<()> {
    let link = console.link(&format!("/confirmer/{}", token.as_str()));
    let text = console.render_mail(
        "console/mail/confirm.txt",
        minijinja::context! { name => &staff.display_name, link },
    )?;
    console.send_later(Mail {
        attachments: Vec::new(),
        to: staff.email.clone(),
        subject: "Confirmez votre adresse — Participe".into(),
        text,
        from_name: None,
        unsubscribe: None,
    });
    Ok(())
}

async fn rerender_signup(
    console: &Console,
    mut form: SignUpForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    form.password.clear();
    form.password_confirm.clear();
    let page = console
        .render(
            "console/auth/signup.html",
            minijinja::context! { form => minijinja::value::Serde(form), errors => minijinja::value::Serde(errors) },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn confirm(console: Console, Path(token): Path<String>) -> Result<Response> {
    match staff::confirm_email(&console.app.pool, &token).await? {
        Some(_) => {
            console.flash("Votre adresse est confirmée. Vous pouvez vous connecter.").await?;
            Ok(Redirect::to("/connexion").into_response())
        }
        None => Ok((
            StatusCode::NOT_FOUND,
            message(&console, "Lien invalide ou expiré", "Ce lien de confirmation n'est plus valable. Connectez-vous : si votre adresse n'est pas encore confirmée, un nouveau lien vous sera envoyé.").await?,
        )
            .into_response()),
    }
}

pub async fn login_form(console: Console, Query(q): Query<NextQuery>) -> Result<Response> {
    if console.staff.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    if let Some(next) = q.next() {
        console
            .session
            .insert(NEXT, next)
            .await
            .map_err(session::session_error)?;
    }
    Ok(console
        .render(
            "console/auth/login.html",
            minijinja::context! {
                form => minijinja::value::Serde(LoginForm::default()), errors => Vec::<()>::new(),
                oidc => console.app.config.console_oidc.as_ref().map(|c| c.label.clone()),
            },
        )
        .await?
        .into_response())
}

pub async fn login(console: Console, CsrfForm(form): CsrfForm<LoginForm>) -> Result<Response> {
    let email = Email::parse(&form.email).ok();
    if !console
        .app
        .limits
        .login
        .check(console.ip.0, email.as_ref().map(Email::as_str))
    {
        return rerender_login(
            &console,
            form,
            FieldErrors::one("email", TOO_MANY),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let found = staff::check_password(&console.app.pool, email.as_ref(), &form.password).await?;
    let Some(staff) = found else {
        return rerender_login(
            &console,
            form,
            FieldErrors::one("email", "adresse électronique ou mot de passe incorrect"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if !staff.confirmed {
        // The password was right, so saying this reveals nothing new.
        let mut conn = console.app.pool.acquire().await.map_err(Error::from)?;
        let token = staff::issue_token(&mut conn, staff.id, staff::TokenPurpose::Confirm).await?;
        send_confirmation(&console, &staff, &token)?;
        return rerender_login(
            &console,
            form,
            FieldErrors::one(
                "email",
                "confirmez d'abord votre adresse : un nouveau lien de confirmation vient de vous être envoyé",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    after_password(&console, &staff).await
}

async fn rerender_login(
    console: &Console,
    mut form: LoginForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    form.password.clear();
    let page = console
        .render(
            "console/auth/login.html",
            minijinja::context! {
                form => minijinja::value::Serde(form), errors => minijinja::value::Serde(errors),
                oidc => console.app.config.console_oidc.as_ref().map(|c| c.label.clone()),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn code_form(console: Console) -> Result<Response> {
    if console
        .session
        .get::<Uuid>(PENDING_TOTP)
        .await
        .map_err(session::session_error)?
        .is_none()
    {
        return Ok(Redirect::to("/connexion").into_response());
    }
    Ok(console
        .render(
            "console/auth/code.html",
            minijinja::context! { errors => Vec::<()>::new() },
        )
        .await?
        .into_response())
}

pub async fn code(console: Console, CsrfForm(form): CsrfForm<CodeForm>) -> Result<Response> {
    let Some(id) = console
        .session
        .get::<Uuid>(PENDING_TOTP)
        .await
        .map_err(session::session_error)?
    else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    if !console.app.limits.login.check(console.ip.0, Some(&id.to_string())) {
        let errors = FieldErrors::one("code", TOO_MANY);
        let page = console
            .render(
                "console/auth/code.html",
                minijinja::context! { errors => minijinja::value::Serde(errors) },
            )
            .await?;
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    if !staff::check_totp(&console.app.pool, id, &form.code).await? {
        let errors = FieldErrors::one(
            "code",
            "code incorrect ou déjà utilisé : saisissez le code à 6 chiffres affiché par votre application",
        );
        let page = console
            .render(
                "console/auth/code.html",
                minijinja::context! { errors => minijinja::value::Serde(errors) },
            )
            .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let staff = staff::find(&console.app.pool, id).await?.ok_or(Error::NotFound)?;
    finish_login(&console, &staff).await
}

pub async fn logout(console: Console, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    let then = crate::oidc::logout_url(&console).await?;
    console.session.flush().await.map_err(session::session_error)?;
    Ok(Redirect::to(&then).into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot_form(console: Console) -> Result<Html<String>> {
    console
        .render(
            "console/auth/forgot.html",
            minijinja::context! { form => minijinja::value::Serde(ForgotForm::default()), errors => Vec::<()>::new() },
        )
        .await
}

pub async fn forgot(console: Console, CsrfForm(form): CsrfForm<ForgotForm>) -> Result<Response> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let errors = FieldErrors::one("email", e.0);
            let page = console
                .render("console/auth/forgot.html", minijinja::context! { form => minijinja::value::Serde(form), errors => minijinja::value::Serde(errors) })
                .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    if !console.app.limits.reset.check(console.ip.0, Some(email.as_str())) {
        return Err(Error::TooManyRequests);
    }
    if let Some(staff) = staff::find_by_email(&console.app.pool, &email).await? {
        let token = staff::request_reset(&console.app.pool, staff.id).await?;
        let link = console.link(&format!("/reinitialiser/{}", token.as_str()));
        let text = console.render_mail(
            "console/mail/reset.txt",
            minijinja::context! { name => staff.display_name, link },
        )?;
        console.send_later(Mail {
            attachments: Vec::new(),
            to: staff.email,
            subject: "Réinitialiser votre mot de passe — Participe".into(),
            text,
            from_name: None,
            unsubscribe: None,
        });
    }
    Ok(message(
        &console,
        "Vérifiez votre messagerie",
        &format!("Si un compte existe pour {email}, un courriel contenant un lien pour choisir un nouveau mot de passe vient d'y être envoyé. Ce lien reste valable une heure."),
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ResetForm {
    password: String,
    password_confirm: String,
}

pub async fn reset_form(console: Console, Path(_token): Path<String>) -> Result<Html<String>> {
    console
        .render(
            "console/auth/reset.html",
            minijinja::context! { errors => Vec::<()>::new() },
        )
        .await
}

pub async fn reset(
    console: Console,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response> {
    let password = match NewPassword::parse(&form.password, &form.password_confirm) {
        Ok(p) => p,
        Err(e) => {
            let errors = FieldErrors::one("password", e.0);
            let page = console
                .render(
                    "console/auth/reset.html",
                    minijinja::context! { errors => minijinja::value::Serde(errors) },
                )
                .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    match staff::reset_password(&console.app.pool, &token, &password).await? {
        Some(_) => {
            console.session.flush().await.map_err(session::session_error)?;
            console.flash("Votre mot de passe est modifié. Connectez-vous avec le nouveau.").await?;
            Ok(Redirect::to("/connexion").into_response())
        }
        None => Ok((
            StatusCode::NOT_FOUND,
            message(&console, "Lien invalide ou expiré", "Ce lien de réinitialisation n'est plus valable. Demandez-en un nouveau depuis la page « Mot de passe oublié ».").await?,
        )
            .into_response()),
    }
}
