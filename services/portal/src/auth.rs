//! Citizen accounts on the portal: sign-up (with the charter accepted, its version recorded),
//! email confirmation, sign-in, sign-out, and password reset by mail. No answer says whether
//! an address has an account here; sign-up, sign-in and reset are rate-limited per address
//! and per account. Accounts belong to this tenant only.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use participe_core::FieldErrors;
use participe_core::citizens::{self, Citizen, NewCitizen, Profile, SignUp};
use participe_core::domain::{Email, NewPassword};
use participe_core::site;
use participe_web::Result;
use participe_web::csrf::{self, CsrfForm};
use participe_web::ratelimit::TOO_MANY;
use participe_web::session::{LoginForm, NextQuery};
use participe_web::signin::{self, ForgotForm, FormPage, ResetForm};

use crate::Portal;
use crate::kit::{form_page, message, profiles};

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
    signin::confirm(&portal, &token).await
}

pub async fn login_form(portal: Portal, Query(q): Query<NextQuery>) -> Result<Response> {
    signin::login_form(&portal, q).await
}

pub async fn login(portal: Portal, CsrfForm(form): CsrfForm<LoginForm>) -> Result<Response> {
    signin::login(&portal, form).await
}

pub async fn logout(portal: Portal, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    signin::logout(&portal).await
}

pub async fn forgot_form(portal: Portal) -> Result<Response> {
    signin::forgot_form(&portal).await
}

pub async fn forgot(portal: Portal, CsrfForm(form): CsrfForm<ForgotForm>) -> Result<Response> {
    signin::forgot(&portal, form).await
}

pub async fn reset_form(portal: Portal, Path(_token): Path<String>) -> Result<Response> {
    signin::reset_form(&portal).await
}

pub async fn reset(portal: Portal, Path(token): Path<String>, CsrfForm(form): CsrfForm<ResetForm>) -> Result<Response> {
    signin::reset(&portal, &token, form).await
}

/// Citizens' accounts, this tenant's only, for the shared password flows.
impl signin::Accounts for Portal {
    type Account = Citizen;
    const WHERE: &'static str = "sur ce portail";

    fn visit(&self) -> signin::Visit<'_> {
        signin::Visit {
            session: &self.session,
            ip: self.ip.0,
            limits: &self.app.limits,
        }
    }

    fn account_key(&self, email: &Email) -> String {
        account_key(self, email)
    }

    fn signed_in(&self) -> bool {
        self.citizen.is_some()
    }

    fn home(&self) -> &'static str {
        "/compte"
    }

    async fn form_page(
        &self,
        page: FormPage,
        form: minijinja::Value,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response> {
        let providers = match page {
            FormPage::Login => crate::oidc::offered(self).await?,
            FormPage::Forgot | FormPage::Reset => Vec::new(),
        };
        let extra = minijinja::context! {
            layout => "portal/layout.html", providers_template => "portal/providers.html", providers,
        };
        form_page(self, page.template(), form, errors, status, extra).await
    }

    async fn message(&self, status: StatusCode, title: &str, text: &str) -> Result<Response> {
        message(self, status, title, text).await
    }

    async fn flash(&self, text: &str) -> Result<()> {
        Portal::flash(self, text).await
    }

    async fn check_password(&self, email: Option<&Email>, password: &str) -> Result<Option<Citizen>> {
        let mut tx = self.begin().await?;
        let found = citizens::check_password(&mut tx, email, password).await?;
        tx.commit().await?;
        Ok(found)
    }

    fn confirmed(citizen: &Citizen) -> bool {
        citizen.confirmed
    }

    async fn send_confirmation(&self, citizen: &Citizen) -> Result<()> {
        let mut tx = self.begin().await?;
        let token = citizens::issue_token(&mut tx, citizen.id, citizens::TokenPurpose::Confirm).await?;
        tx.commit().await?;
        let link = self.link(&format!("/confirmer/{}", token.as_str()));
        self.send_later(
            citizen.email.clone(),
            "Confirmez votre adresse".into(),
            "portal/mail/confirm.txt",
            minijinja::context! { name => &citizen.display_name, link },
        )
    }

    async fn proven(&self, citizen: &Citizen) -> Result<Response> {
        let next = signin::take_next(&self.session).await?;
        self.sign_in(citizen).await?;
        Ok(Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response())
    }

    async fn confirm_email(&self, token: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let confirmed = citizens::confirm_email(&mut tx, token).await?;
        tx.commit().await?;
        Ok(confirmed.is_some())
    }

    async fn send_reset(&self, email: &Email) -> Result<()> {
        let mut tx = self.begin().await?;
        let Some(citizen) = citizens::find_by_email(&mut tx, email).await? else {
            return Ok(tx.commit().await?);
        };
        let token = citizens::issue_token(&mut tx, citizen.id, citizens::TokenPurpose::Reset).await?;
        tx.commit().await?;
        let link = self.link(&format!("/reinitialiser/{}", token.as_str()));
        self.send_later(
            citizen.email,
            "Choisir un nouveau mot de passe".into(),
            "portal/mail/reset.txt",
            minijinja::context! { name => citizen.display_name, link },
        )
    }

    async fn reset_password(&self, token: &str, password: &NewPassword) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = citizens::reset_password(&mut tx, token, password).await?;
        tx.commit().await?;
        Ok(done.is_some())
    }

    async fn logout_url(&self) -> Result<String> {
        crate::oidc::logout_url(self).await
    }
}
