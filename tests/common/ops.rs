//! Operators for the tests: an account made as `participe operator create` makes it, and
//! a browser signed in to `ops.localhost` with it.

use participe_core::domain::{Email, NewPassword};
use participe_core::operators;

use super::{Browser, TestApp, random_suffix};

pub const OPS: &str = "ops.localhost";
pub const OPERATOR_PASSWORD: &str = "une phrase de passe d'opérateur";
const PASSWORD: &str = OPERATOR_PASSWORD;

/// The code an authenticator app shows now for `secret`, for the step after `skip` steps.
pub fn code(secret: &str, email: &str, skip: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("Participe".into()),
        email.into(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + skip * 30)
}

pub async fn operator(app: &TestApp) -> (String, String) {
    let email = format!("ops-{}@participe.test", random_suffix(6));
    let created = operators::create(
        &app.pool,
        &Email::parse(&email).unwrap(),
        "Opératrice de garde",
        &NewPassword::parse(PASSWORD, PASSWORD).unwrap(),
        "test",
    )
    .await
    .unwrap();
    (email, created.totp_secret)
}

pub async fn signed_in_operator(app: &TestApp) -> (Browser, String) {
    let (email, secret) = operator(app).await;
    let b = app.browser();
    let page = b
        .submit(
            OPS,
            "/connexion",
            "/connexion",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("code", &code(&secret, &email, 0)),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    (b, email)
}
