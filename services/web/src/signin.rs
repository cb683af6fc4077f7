//! The password flows every host with accounts runs alike — the portal for citizens, the
//! console for staff: sign-in (with the way back to the page that asked), sign-out,
//! the address confirmation link, « mot de passe oublié » and the reset link. Each surface
//! says where its accounts live and how its pages look ([`Accounts`]); the rules are written
//! once here: no answer says whether an address has an account, a wrong address and a wrong
//! password get the same error, the three steps are rate-limited per address and per
//! account, an unconfirmed account gets a new link, a reset ends every session.

use std::net::IpAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use participe_core::FieldErrors;
use participe_core::domain::{Email, NewPassword};
use tower_sessions::Session;

use crate::Result;
use crate::ratelimit::{RateLimits, TOO_MANY};
use crate::session::{self, LoginForm, NextQuery};

/// The session key of the page to go back to once signed in.
pub const NEXT: &str = "next";

/// One of the flow's form pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormPage {
    Login,
    Forgot,
    Reset,
}

impl FormPage {
    /// The shared template (`web/signin/…`), which extends the surface's layout.
    pub fn template(self) -> &'static str {
        match self {
            FormPage::Login => "web/signin/login.html",
            FormPage::Forgot => "web/signin/forgot.html",
            FormPage::Reset => "web/signin/reset.html",
        }
    }
}

/// What « mot de passe oublié » asks for.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ForgotForm {
    pub email: String,
}

/// What the reset link's page asks for.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ResetForm {
    pub password: String,
    pub password_confirm: String,
}

/// Who is asking: the session, the client's address, the limits that apply to it.
pub struct Visit<'a> {
    pub session: &'a Session,
    pub ip: IpAddr,
    pub limits: &'a RateLimits,
}

/// A surface whose people sign in with an address and a password.
// The flows are called with a concrete surface (the portal's and the console's handlers),
// where the compiler sees each future and checks that it is `Send` as axum requires; no
// code holds an `impl Accounts` whose futures it cannot name.
#[allow(async_fn_in_trait)]
pub trait Accounts: Sync {
    type Account: Send + Sync;

    /// « sur ce portail », « sur Participe »: where the accounts a reset mail speaks of live.
    const WHERE: &'static str;

    /// This request's session, address and the host's rate limits.
    fn visit(&self) -> Visit<'_>;
    /// The rate-limit key of an address (accounts of a portal are that tenant's only).
    fn account_key(&self, email: &Email) -> String;
    fn signed_in(&self) -> bool;
    /// Where a signed-in person who opens the sign-in page goes instead.
    fn home(&self) -> &'static str;

    /// One of the flow's pages with what was typed (`form`, its passwords already cleared)
    /// and the errors beside their fields.
    async fn form_page(
        &self,
        page: FormPage,
        form: minijinja::Value,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response>;
    /// A page that only says something.
    async fn message(&self, status: StatusCode, title: &str, text: &str) -> Result<Response>;
    async fn flash(&self, text: &str) -> Result<()>;

    /// The account of this address and password, after one password check whether or not
    /// the address has an account (the answer takes the same time).
    async fn check_password(&self, email: Option<&Email>, password: &str) -> Result<Option<Self::Account>>;
    fn confirmed(account: &Self::Account) -> bool;
    /// Mails a new confirmation link to an account whose password was right.
    async fn send_confirmation(&self, account: &Self::Account) -> Result<()>;
    /// The account is proven: the surface's next step (a second factor, or the session)
    /// and where it goes then, `next` when the sign-in page was asked for one.
    async fn proven(&self, account: &Self::Account) -> Result<Response>;
    /// The confirmation link: true when it was valid.
    async fn confirm_email(&self, token: &str) -> Result<bool>;
    /// Mails a reset link when the address has an account; does nothing otherwise.
    async fn send_reset(&self, email: &Email) -> Result<()>;
    /// The reset link: true when it was valid and the password is changed.
    async fn reset_password(&self, token: &str, password: &NewPassword) -> Result<bool>;
    /// Where to go once signed out (the identity provider's sign-out, when it signed in).
    async fn logout_url(&self) -> Result<String>;
}

fn value(form: impl serde::Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(form))
}

pub async fn login_form<A: Accounts>(accounts: &A, q: NextQuery) -> Result<Response> {
    if accounts.signed_in() {
        return Ok(Redirect::to(accounts.home()).into_response());
    }
    if let Some(next) = q.next() {
        accounts
            .visit()
            .session
            .insert(NEXT, next)
            .await
            .map_err(session::session_error)?;
    }
    let form = value(LoginForm::default());
    accounts
        .form_page(FormPage::Login, form, FieldErrors::default(), StatusCode::OK)
        .await
}

async fn login_again<A: Accounts>(
    accounts: &A,
    mut form: LoginForm,
    error: &str,
    status: StatusCode,
) -> Result<Response> {
    form.password.clear();
    accounts
        .form_page(FormPage::Login, value(form), FieldErrors::one("email", error), status)
        .await
}

pub async fn login<A: Accounts>(accounts: &A, form: LoginForm) -> Result<Response> {
    let email = Email::parse(&form.email).ok();
    let key = email.as_ref().map(|e| accounts.account_key(e));
    if !accounts.visit().limits.login.check(accounts.visit().ip, key.as_deref()) {
        return login_again(accounts, form, TOO_MANY, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let Some(account) = accounts.check_password(email.as_ref(), &form.password).await? else {
        let wrong = "adresse électronique ou mot de passe incorrect";
        return login_again(accounts, form, wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    if !A::confirmed(&account) {
        // The password was right, so saying this reveals nothing new.
        accounts.send_confirmation(&account).await?;
        let unconfirmed = "confirmez d'abord votre adresse : un nouveau lien de confirmation vient de vous être envoyé";
        return login_again(accounts, form, unconfirmed, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    accounts.proven(&account).await
}

/// The page to go back to that the sign-in page was asked for, taken from the session.
pub async fn take_next(session: &Session) -> Result<Option<String>> {
    session.remove(NEXT).await.map_err(session::session_error)
}

pub async fn logout<A: Accounts>(accounts: &A) -> Result<Response> {
    let then = accounts.logout_url().await?;
    accounts.visit().session.flush().await.map_err(session::session_error)?;
    Ok(Redirect::to(&then).into_response())
}

pub async fn confirm<A: Accounts>(accounts: &A, token: &str) -> Result<Response> {
    let valid = accounts.confirm_email(token).await?;
    followed(
        accounts,
        valid,
        "Votre adresse est confirmée. Vous pouvez vous connecter.",
        "Ce lien de confirmation n'est plus valable. Connectez-vous : si votre adresse n'est pas encore confirmée, un nouveau lien vous sera envoyé.",
    )
    .await
}

/// The end of a link from a mail: to the sign-in page with `done` when it was valid, else
/// a page that says it is not (`expired`).
async fn followed<A: Accounts>(accounts: &A, valid: bool, done: &str, expired: &str) -> Result<Response> {
    if !valid {
        return accounts
            .message(StatusCode::NOT_FOUND, "Lien invalide ou expiré", expired)
            .await;
    }
    accounts.flash(done).await?;
    Ok(Redirect::to("/connexion").into_response())
}

pub async fn forgot_form<A: Accounts>(accounts: &A) -> Result<Response> {
    let form = value(ForgotForm::default());
    accounts
        .form_page(FormPage::Forgot, form, FieldErrors::default(), StatusCode::OK)
        .await
}

pub async fn forgot<A: Accounts>(accounts: &A, form: ForgotForm) -> Result<Response> {
    let again = |error: String, status| {
        accounts.form_page(FormPage::Forgot, value(&form), FieldErrors::one("email", error), status)
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return again(e.0, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let key = accounts.account_key(&email);
    if !accounts.visit().limits.reset.check(accounts.visit().ip, Some(&key)) {
        return again(TOO_MANY.into(), StatusCode::TOO_MANY_REQUESTS).await;
    }
    accounts.send_reset(&email).await?;
    let text = format!(
        "Si un compte existe pour {email} {}, un courriel contenant un lien pour choisir un nouveau mot de passe vient d'y être envoyé. Ce lien reste valable une heure.",
        A::WHERE
    );
    accounts
        .message(StatusCode::OK, "Vérifiez votre messagerie", &text)
        .await
}

pub async fn reset_form<A: Accounts>(accounts: &A) -> Result<Response> {
    let form = value(ResetForm::default());
    accounts
        .form_page(FormPage::Reset, form, FieldErrors::default(), StatusCode::OK)
        .await
}

pub async fn reset<A: Accounts>(accounts: &A, token: &str, form: ResetForm) -> Result<Response> {
    let password = match NewPassword::parse(&form.password, &form.password_confirm) {
        Ok(p) => p,
        Err(e) => {
            let errors = FieldErrors::one("password", e.0);
            let form = value(ResetForm::default());
            return accounts
                .form_page(FormPage::Reset, form, errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
    };
    let valid = accounts.reset_password(token, &password).await?;
    if valid {
        accounts.visit().session.flush().await.map_err(session::session_error)?;
    }
    followed(
        accounts,
        valid,
        "Votre mot de passe est modifié. Connectez-vous avec le nouveau.",
        "Ce lien de réinitialisation n'est plus valable. Demandez-en un nouveau depuis la page « Mot de passe oublié ».",
    )
    .await
}
