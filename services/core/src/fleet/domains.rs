//! A tenant's custom domains as its staff manage them: added unverified with a token,
//! verified once the token is found at the domain (HTTP file or DNS TXT record), one of
//! them primary (the others redirect to it), removed. These run in the tenant's `TenantTx`
//! so that each change and its audit line commit together; they name the platform table
//! with its schema, and are scoped to the transaction's tenant.

use base64::Engine;

use crate::domain::HostName;
use crate::{Error, Result, TenantTx};

/// A domain of the tenant, for the console.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomDomain {
    pub host: String,
    pub is_primary: bool,
    pub verified: bool,
    pub verification_token: Option<String>,
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<CustomDomain>> {
    let tenant_id = tx.tenant().id;
    Ok(sqlx::query_as!(
        CustomDomain,
        r#"select host, is_primary, verified_at is not null as "verified!", verification_token
             from public.tenant_domain where tenant_id = $1 order by is_primary desc, host"#,
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?)
}

fn token() -> String {
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Adds an unverified domain and returns its verification token. A domain another portal
/// holds, verified or not, is refused without saying which.
pub async fn add(tx: &mut TenantTx, host: &HostName) -> Result<String> {
    let tenant_id = tx.tenant().id;
    let token = token();
    let inserted = sqlx::query!(
        "insert into public.tenant_domain (host, tenant_id, is_primary, verification_token)
         values ($1, $2, false, $3) on conflict (host) do nothing",
        host.as_str(),
        tenant_id,
        token
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::invalid(
            "domain",
            format!("le domaine {host} est déjà rattaché à un portail"),
        ));
    }
    Ok(token)
}

/// The token of one of the tenant's unverified domains.
pub async fn pending_token(tx: &mut TenantTx, host: &HostName) -> Result<Option<String>> {
    let tenant_id = tx.tenant().id;
    Ok(sqlx::query_scalar!(
        "select verification_token from public.tenant_domain
          where tenant_id = $1 and host = $2 and verified_at is null",
        tenant_id,
        host.as_str()
    )
    .fetch_optional(tx.conn())
    .await?
    .flatten())
}

/// Marks the domain verified; the first verified domain becomes primary.
pub async fn mark_verified(tx: &mut TenantTx, host: &HostName) -> Result<()> {
    let tenant_id = tx.tenant().id;
    let done = sqlx::query!(
        "update public.tenant_domain d set verified_at = now(), verification_token = null,
                is_primary = not exists (select 1 from public.tenant_domain p
                                          where p.tenant_id = $1 and p.is_primary and p.verified_at is not null)
          where d.tenant_id = $1 and d.host = $2 and d.verified_at is null",
        tenant_id,
        host.as_str()
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        Err(Error::NotFound("domaine".into()))
    } else {
        Ok(())
    }
}

pub async fn set_primary(tx: &mut TenantTx, host: &HostName) -> Result<()> {
    let tenant_id = tx.tenant().id;
    let exists = sqlx::query_scalar!(
        r#"select exists (select 1 from public.tenant_domain
                           where tenant_id = $1 and host = $2 and verified_at is not null) as "e!""#,
        tenant_id,
        host.as_str()
    )
    .fetch_one(tx.conn())
    .await?;
    if !exists {
        return Err(Error::NotFound("domaine".into()));
    }
    sqlx::query!(
        "update public.tenant_domain set is_primary = (host = $2) where tenant_id = $1",
        tenant_id,
        host.as_str()
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn remove(tx: &mut TenantTx, host: &HostName) -> Result<()> {
    let tenant_id = tx.tenant().id;
    let removed = sqlx::query_scalar!(
        "delete from public.tenant_domain where tenant_id = $1 and host = $2 returning is_primary",
        tenant_id,
        host.as_str()
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::NotFound("domaine".into()))?;
    if removed {
        sqlx::query!(
            "update public.tenant_domain set is_primary = true
              where host = (select host from public.tenant_domain
                             where tenant_id = $1 and verified_at is not null order by created_at, host limit 1)",
            tenant_id
        )
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
