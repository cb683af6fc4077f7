//! Staff accounts: sign-up with email confirmation, sign-in (with the second factor when
//! enabled), sign-out, and password reset by mail (the flows of `participe_web::signin`). No message ever says whether an address
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
use participe_web::signin::{self, ForgotForm, FormPage, ResetForm};
use participe_web::{Error, Result, session};
use uuid::Uuid;

use crate::frame::Console;
use crate::kit::message;
use crate::signin::{PENDING_TOTP, after_password, finish_login};

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
    signin::confirm(&console, &token).await
}

pub async fn login_form(console: Console, Query(q): Query<NextQuery>) -> Result<Response> {
    signin::login_form(&console, q).await
}

pub async fn login(console: Console, CsrfForm(form): CsrfForm<LoginForm>) -> Result<Response> {
    signin::login(&console, form).await
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
    signin::logout(&console).await
}

pub async fn forgot_form(console: Console) -> Result<Response> {
    signin::forgot_form(&console).await
}

pub async fn forgot(console: Console, CsrfForm(form): CsrfForm<ForgotForm>) -> Result<Response> {
    signin::forgot(&console, form).await
}

pub async fn reset_form(console: Console, Path(_token): Path<String>) -> Result<Response> {
    signin::reset_form(&console).await
}

pub async fn reset(
    console: Console,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response> {
    signin::reset(&console, &token, form).await
}

/// Staff accounts, on the platform, for the shared password flows.
impl signin::Accounts for Console {
    type Account = staff::Staff;
    const WHERE: &'static str = "sur Participe";

    fn visit(&self) -> signin::Visit<'_> {
        signin::Visit {
            session: &self.session,
            ip: self.ip.0,
            limits: &self.app.limits,
        }
    }

    fn account_key(&self, email: &Email) -> String {
        email.as_str().to_string()
    }

    fn signed_in(&self) -> bool {
        self.staff.is_some()
    }

    fn home(&self) -> &'static str {
        "/"
    }

    async fn form_page(
        &self,
        page: FormPage,
        form: minijinja::Value,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response> {
        let oidc = self.app.config.console_oidc.as_ref().map(|c| c.label.clone());
        let page = self
            .render(
                page.template(),
                minijinja::context! {
                    layout => "console/layout.html", providers_template => "console/auth/provider.html",
                    form, errors => minijinja::value::Serde(errors), oidc,
                },
            )
            .await?;
        Ok((status, page).into_response())
    }

    async fn message(&self, status: StatusCode, title: &str, text: &str) -> Result<Response> {
        Ok((status, message(self, title, text).await?).into_response())
    }

    async fn flash(&self, text: &str) -> Result<()> {
        Console::flash(self, text).await
    }

    async fn check_password(&self, email: Option<&Email>, password: &str) -> Result<Option<staff::Staff>> {
        Ok(staff::check_password(&self.app.pool, email, password).await?)
    }

    fn confirmed(staff: &staff::Staff) -> bool {
        staff.confirmed
    }

    async fn send_confirmation(&self, staff: &staff::Staff) -> Result<()> {
        let mut conn = self.app.pool.acquire().await.map_err(Error::from)?;
        let token = staff::issue_token(&mut conn, staff.id, staff::TokenPurpose::Confirm).await?;
        send_confirmation(self, staff, &token)
    }

    async fn proven(&self, staff: &staff::Staff) -> Result<Response> {
        after_password(self, staff).await
    }

    async fn confirm_email(&self, token: &str) -> Result<bool> {
        Ok(staff::confirm_email(&self.app.pool, token).await?.is_some())
    }

    async fn send_reset(&self, email: &Email) -> Result<()> {
        let Some(staff) = staff::find_by_email(&self.app.pool, email).await? else {
            return Ok(());
        };
        let token = staff::request_reset(&self.app.pool, staff.id).await?;
        let link = self.link(&format!("/reinitialiser/{}", token.as_str()));
        let text = self.render_mail(
            "console/mail/reset.txt",
            minijinja::context! { name => staff.display_name, link },
        )?;
        self.send_later(Mail {
            attachments: Vec::new(),
            to: staff.email,
            subject: "Réinitialiser votre mot de passe — Participe".into(),
            text,
            from_name: None,
            unsubscribe: None,
        });
        Ok(())
    }

    async fn reset_password(&self, token: &str, password: &NewPassword) -> Result<bool> {
        Ok(staff::reset_password(&self.app.pool, token, password).await?.is_some())
    }

    async fn logout_url(&self) -> Result<String> {
        crate::oidc::logout_url(self).await
    }
}
