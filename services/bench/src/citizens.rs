//! Citizens of the `nord` demo tenant for the parts that measure signed-in pages: real
//! accounts, signed in through the real sign-in form (CSRF token, password check, new
//! session id), each keeping its own cookie.

use std::net::SocketAddr;

use argon2::PasswordHasher;
use participe_core::TenantTx;
use participe_core::tenancy::Tenant;
use uuid::Uuid;

use crate::{csrf_of, fetch, set_cookie};

pub const PASSWORD: &str = "phrase de passe du banc d'essai";
pub const HOST: &str = "nord.localhost";

/// Creates `n` confirmed citizens who accepted the charter and signs each in through the
/// real form, `parallel` at a time; then reads `first_page` once to get its form's token.
/// Their (cookie, CSRF token) pairs.
pub async fn sign_in_many(
    pool: &sqlx::PgPool,
    tenant: &Tenant,
    portal: SocketAddr,
    n: usize,
    parallel: usize,
    first_page: &str,
) -> Vec<(String, String)> {
    // A real argon2id hash with small parameters, so that thousands sign in quickly: the
    // bench measures votes, not password checks.
    let salt = argon2::password_hash::SaltString::encode_b64(b"banc d'essai 16").unwrap();
    let hash = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes(), &salt)
    .unwrap()
    .to_string();
    let prefix = format!("votant-{}", Uuid::new_v4().simple());
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let charter = participe_core::site::current_charter_version(&mut tx).await.unwrap();
    sqlx::query(
        "insert into citizen (email, display_name, profile, password_hash, email_confirmed_at, charter_version, charter_accepted_at)
         select $1 || '-' || i || '@participe.invalid', 'Votant·e ' || i, 'citoyen', $2, now(), $3, now()
           from generate_series(1, $4) i",
    )
    .bind(&prefix)
    .bind(&hash)
    .bind(charter)
    .bind(n as i64)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let emails: Vec<String> = (1..=n).map(|i| format!("{prefix}-{i}@participe.invalid")).collect();
    let mut out = Vec::with_capacity(n);
    let tasks: Vec<_> = emails
        .chunks(n.div_ceil(parallel.max(1)))
        .map(|emails| {
            let emails = emails.to_vec();
            let first_page = first_page.to_string();
            tokio::spawn(async move {
                let mut signed = Vec::with_capacity(emails.len());
                for email in emails {
                    signed.push(sign_in(portal, &email, &first_page).await);
                }
                signed
            })
        })
        .collect();
    for t in tasks {
        out.extend(t.await.unwrap());
    }
    out
}

async fn sign_in(portal: SocketAddr, email: &str, first_page: &str) -> (String, String) {
    let form = String::from_utf8_lossy(&fetch(portal, HOST, "/connexion").await).to_string();
    let cookie = set_cookie(&form);
    let csrf = csrf_of(&form);
    let body = format!(
        "email={}&password={}&csrf={csrf}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+").replace('\'', "%27")
    );
    let answer = crate::post_form(portal, HOST, "/connexion", &cookie, &body).await;
    assert!(
        answer.starts_with("HTTP/1.1 303"),
        "{}",
        &answer[..300.min(answer.len())]
    );
    let cookie = set_cookie(&answer);
    let page = String::from_utf8_lossy(&crate::fetch_with(portal, HOST, first_page, &cookie).await).to_string();
    assert!(page.starts_with("HTTP/1.1 200"), "{}", &page[..300.min(page.len())]);
    (cookie, csrf_of(&page))
}
