//! Operators' sign-in: address, password and a fresh TOTP code in one form, all three right
//! or nothing (and no word on which was wrong); rate-limited per address and per client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::domain::Email;
use participe_core::operators;
use participe_web::csrf::{self, CsrfForm};
use participe_web::{Result, session};

use crate::frame::Ops;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
    code: String,
}

async fn page(ops: &Ops, mut form: SignInForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    form.password.clear();
    form.code.clear();
    let html = ops
        .render(
            "ops/login.html",
            minijinja::context! { form => Serde(form), errors => Serde(errors) },
        )
        .await?;
    Ok((status, html).into_response())
}

pub async fn form(ops: Ops) -> Result<Response> {
    if ops.operator.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    page(&ops, SignInForm::default(), FieldErrors::default(), StatusCode::OK).await
}

pub async fn sign_in(ops: Ops, CsrfForm(form): CsrfForm<SignInForm>) -> Result<Response> {
    let email = Email::parse(&form.email).ok();
    let key = email.as_ref().map(|e| format!("ops:{e}"));
    if !ops.app.limits.login.check(ops.ip.0, key.as_deref()) {
        let errors = FieldErrors::one("email", participe_web::ratelimit::TOO_MANY);
        return page(&ops, form, errors, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let found = operators::sign_in(&ops.app.pool, email.as_ref(), &form.password, &form.code).await?;
    let Some(operator) = found else {
        tracing::warn!("operator sign-in refused");
        let errors = FieldErrors::one(
            "email",
            "adresse, mot de passe ou code incorrect (un code ne sert qu'une fois)",
        );
        return page(&ops, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    ops.sign_in(&operator).await?;
    let mut conn = ops.app.pool.acquire().await.map_err(participe_web::Error::from)?;
    participe_core::platform_audit::record(
        &mut conn,
        &operator.actor(),
        "operator.sign_in",
        None,
        serde_json::json!({ "ip": ops.ip.0.to_string() }),
    )
    .await?;
    Ok(Redirect::to("/").into_response())
}

pub async fn sign_out(ops: Ops, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    ops.session.flush().await.map_err(session::session_error)?;
    Ok(Redirect::to("/connexion").into_response())
}
