//! Platform operators: accounts in the platform schema, created from the command line with
//! a password and a TOTP secret at once (the second factor is mandatory), signed in on the
//! ops host only. Each code is accepted once.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{Email, NewPassword, password};
use crate::staff::{new_totp_secret, totp_step, totp_url};
use crate::{Error, Result};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Operator {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub session_epoch: i32,
}

impl Operator {
    /// How the audit log names this operator.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.email)
    }
}

/// A new operator and the secret to enrol in an authenticator app, shown once.
pub struct Created {
    pub operator: Operator,
    pub totp_secret: String,
    pub totp_url: String,
}

pub async fn create(
    pool: &PgPool,
    email: &Email,
    display_name: &str,
    password: &NewPassword,
    actor: &str,
) -> Result<Created> {
    let name = display_name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(Error::invalid("name", "indiquez un nom de 1 à 120 caractères"));
    }
    let secret = new_totp_secret();
    let mut tx = pool.begin().await?;
    let operator = sqlx::query_as!(
        Operator,
        "insert into operator (email, display_name, password_hash, totp_secret) values ($1, $2, $3, $4)
         returning id, email, display_name, session_epoch",
        email.as_str(),
        name,
        password.hash(),
        secret
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match crate::error::violated_constraint(&e) {
        Some("operator_email_key") => Error::invalid("email", format!("un opérateur {email} existe déjà")),
        _ => e.into(),
    })?;
    crate::platform_audit::record(
        &mut tx,
        actor,
        "operator.create",
        None,
        serde_json::json!({ "email": email.as_str() }),
    )
    .await?;
    tx.commit().await?;
    let totp_url = totp_url(&secret, email.as_str())?;
    Ok(Created {
        operator,
        totp_secret: secret,
        totp_url,
    })
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Operator>> {
    Ok(sqlx::query_as!(
        Operator,
        "select id, email, display_name, session_epoch from operator where id = $1",
        id
    )
    .fetch_optional(pool)
    .await?)
}

/// A sign-in: password and a fresh code, both right, or nothing. Spends the time of an
/// argon2 verification whatever the address.
pub async fn sign_in(pool: &PgPool, email: Option<&Email>, password: &str, code: &str) -> Result<Option<Operator>> {
    let row = match email {
        Some(email) => {
            sqlx::query!(
                "select id, password_hash, totp_secret from operator where email = $1",
                email.as_str()
            )
            .fetch_optional(pool)
            .await?
        }
        None => None,
    };
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let ok = password::verify_off_thread(password, stored).await;
    let (Some(row), Some(email)) = (row.filter(|_| ok), email) else {
        return Ok(None);
    };
    let Some(step) = totp_step(&row.totp_secret, email.as_str(), code)? else {
        return Ok(None);
    };
    let accepted = sqlx::query!(
        "update operator set totp_last_step = $2 where id = $1 and (totp_last_step is null or totp_last_step < $2)",
        row.id,
        step
    )
    .execute(pool)
    .await?
    .rows_affected();
    if accepted == 0 {
        return Ok(None);
    }
    find(pool, row.id).await
}

/// A line of the platform audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditLine {
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub tenant: Option<String>,
    pub detail: serde_json::Value,
}

/// The latest lines of the platform audit log, for one tenant or all.
pub async fn audit_log(pool: &PgPool, tenant_id: Option<Uuid>, limit: i64) -> Result<Vec<AuditLine>> {
    Ok(sqlx::query_as!(
        AuditLine,
        r#"select a.at, a.actor, a.action, t.slug as "tenant?", a.detail
             from platform_audit a left join tenant t on t.id = a.tenant_id
            where $1::uuid is null or a.tenant_id = $1
            order by a.id desc limit $2"#,
        tenant_id,
        limit
    )
    .fetch_all(pool)
    .await?)
}
