//! Stripe's webhook events: the signature check (Stripe's documented scheme: HMAC-SHA256
//! of `<timestamp>.<payload>` with the endpoint's secret, in `Stripe-Signature` as
//! `t=…,v1=…`, within a tolerance of the timestamp), then each event applied exactly once
//! (its id is the primary key of `stripe_event`, inserted in the transaction that applies
//! it) and in order (an event older than the last one applied to a tenant's subscription,
//! or to an invoice, is recorded as `stale` and changes nothing). Subscription and invoice
//! events set the tenant's subscription status; the billing standing follows
//! (`standing::sweep`).
//!
//! The SDK's own webhook types (`async-stripe-webhook`) refuse any payload that is not the
//! exact shape of its API version; this reads the few fields billing needs from the JSON.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::standing::{self, Policy};
use super::{Period, Stratum};
use crate::Result;

/// How far a signature's timestamp may be from now, as Stripe's libraries allow.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header.
    Malformed,
    /// No `v1` signature matches the payload.
    Mismatch,
    /// Signed too long ago (or in the future): a replay, or a clock far off.
    Stale,
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks `Stripe-Signature` for `payload` at time `now` (seconds since the epoch).
pub fn verify(payload: &[u8], header: &str, secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(hex_decode(sig)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matches = signatures.iter().any(|sig| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(sig).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Already received: nothing done again.
    Duplicate,
    /// Older than what was already applied: recorded, nothing changed.
    Stale,
    /// A type, or a customer, billing does not follow.
    Ignored,
    /// Not an event (no id, type or date).
    Malformed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
            Outcome::Malformed => "malformed",
        }
    }
}

fn at(unix: Option<i64>) -> Option<OffsetDateTime> {
    unix.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

/// Records and applies one verified event.
pub async fn receive(pool: &PgPool, policy: &Policy, event: &serde_json::Value) -> Result<Outcome> {
    let (Some(id), Some(kind), Some(created)) = (
        event["id"].as_str().filter(|i| i.starts_with("evt_") && i.len() <= 255),
        event["type"].as_str(),
        at(event["created"].as_i64()),
    ) else {
        return Ok(Outcome::Malformed);
    };
    let object = &event["data"]["object"];
    let mut tx = pool.begin().await?;
    let tenant_id = tenant_of(&mut tx, object).await?;
    let inserted = sqlx::query_scalar!(
        "insert into stripe_event (id, type, created, tenant_id, outcome) values ($1, $2, $3, $4, 'ignored')
         on conflict (id) do nothing returning id",
        id,
        kind,
        created,
        tenant_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return Ok(Outcome::Duplicate);
    }
    let outcome = match tenant_id {
        None => Outcome::Ignored,
        Some(tenant) => apply(&mut tx, tenant, kind, created, object).await?,
    };
    sqlx::query!(
        "update stripe_event set outcome = $2 where id = $1",
        id,
        outcome.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if let (Outcome::Applied, Some(tenant)) = (outcome, tenant_id) {
        standing::sweep(pool, policy, Some(tenant)).await?;
    }
    Ok(outcome)
}

/// The tenant an object belongs to: by its Stripe customer, else by the `tenant_id` our
/// own requests put in the metadata (a customer's first events).
async fn tenant_of(tx: &mut sqlx::PgConnection, object: &serde_json::Value) -> Result<Option<Uuid>> {
    let customer = match object["object"].as_str() {
        Some("customer") => object["id"].as_str(),
        _ => object["customer"].as_str(),
    };
    if let Some(customer) = customer {
        let found = sqlx::query_scalar!("select id from tenant where stripe_customer_id = $1", customer)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(tenant) = object["metadata"]["tenant_id"]
        .as_str()
        .and_then(|t| Uuid::parse_str(t).ok())
    else {
        return Ok(None);
    };
    // The metadata names the tenant; the customer is attached if the tenant has none yet.
    Ok(sqlx::query_scalar!(
        "update tenant set stripe_customer_id = coalesce(stripe_customer_id, $2) where id = $1 returning id",
        tenant,
        customer
    )
    .fetch_optional(&mut *tx)
    .await?)
}

async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: Uuid,
    kind: &str,
    created: OffsetDateTime,
    object: &serde_json::Value,
) -> Result<Outcome> {
    if let Some(sub_event) = kind.strip_prefix("customer.subscription.") {
        let status = match (sub_event, object["status"].as_str()) {
            ("deleted", _) => "canceled",
            (_, Some(s)) => s,
            (_, None) => return Ok(Outcome::Ignored),
        };
        let mode = match object["collection_method"].as_str() {
            Some("send_invoice") => "invoice",
            _ => "online",
        };
        let outcome = set_subscription(tx, tenant, created, status, object["id"].as_str(), Some(mode)).await?;
        if outcome == Outcome::Applied {
            set_plan(tx, tenant, &object["metadata"]).await?;
        }
        return Ok(outcome);
    }
    if kind.starts_with("invoice.") {
        let Some(invoice_id) = object["id"].as_str() else {
            return Ok(Outcome::Ignored);
        };
        let invoice_created = at(object["created"].as_i64()).unwrap_or(created);
        let due = at(object["due_date"].as_i64()).map(|d| d.date());
        let stored = sqlx::query_scalar!(
            r#"insert into invoice as i (stripe_id, tenant_id, number, status, amount_due, amount_paid, currency,
                                     hosted_url, pdf_url, due_date, created, event_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               on conflict (stripe_id) do update set
                   number = excluded.number, status = excluded.status, amount_due = excluded.amount_due,
                   amount_paid = excluded.amount_paid, hosted_url = excluded.hosted_url,
                   pdf_url = excluded.pdf_url, due_date = excluded.due_date, event_at = excluded.event_at
                 where i.event_at <= excluded.event_at and i.tenant_id = excluded.tenant_id
               returning stripe_id"#,
            invoice_id,
            tenant,
            object["number"].as_str(),
            object["status"].as_str().unwrap_or("draft"),
            object["amount_due"].as_i64().unwrap_or(0),
            object["amount_paid"].as_i64().unwrap_or(0),
            object["currency"].as_str().unwrap_or("eur"),
            object["hosted_invoice_url"].as_str(),
            object["invoice_pdf"].as_str(),
            due,
            invoice_created,
            created
        )
        .fetch_optional(&mut *tx)
        .await?;
        if stored.is_none() {
            return Ok(Outcome::Stale);
        }
        let status = match kind {
            "invoice.paid" | "invoice.payment_succeeded" => "active",
            "invoice.payment_failed" | "invoice.marked_uncollectible" => "past_due",
            _ => return Ok(Outcome::Applied),
        };
        // The invoice is recorded whatever the order; the subscription status only moves
        // forward in time.
        set_subscription(tx, tenant, created, status, object["subscription"].as_str(), None).await?;
        return Ok(Outcome::Applied);
    }
    Ok(Outcome::Ignored)
}

/// The plan a subscription's metadata names (our requests put it there), as the tenant's.
async fn set_plan(tx: &mut sqlx::PgConnection, tenant: Uuid, metadata: &serde_json::Value) -> Result<()> {
    let stratum = metadata["stratum"].as_str().and_then(Stratum::parse);
    let period = metadata["period"].as_str().and_then(Period::parse);
    if let (Some(stratum), Some(period)) = (stratum, period) {
        sqlx::query!(
            "update tenant set plan = $2, billing_period = $3 where id = $1",
            tenant,
            stratum.as_str(),
            period.as_str()
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A subscription just created through the API (by invoice: no payment page to wait for).
#[derive(Debug)]
pub struct NewSubscription<'a> {
    pub tenant: Uuid,
    pub id: &'a str,
    pub status: &'a str,
    /// `online` or `invoice`.
    pub mode: &'a str,
    /// When Stripe created it: its own events, if they come later, are not older.
    pub created: OffsetDateTime,
    pub plan: Option<(Stratum, Period)>,
}

/// Records a subscription from the API's answer, as its `customer.subscription.created`
/// event would, then re-evaluates the tenant's standing.
pub async fn record_subscription(pool: &PgPool, policy: &Policy, sub: NewSubscription<'_>) -> Result<Outcome> {
    let mut tx = pool.begin().await?;
    let outcome = set_subscription(
        &mut tx,
        sub.tenant,
        sub.created,
        sub.status,
        Some(sub.id),
        Some(sub.mode),
    )
    .await?;
    if let (Outcome::Applied, Some((stratum, period))) = (outcome, sub.plan) {
        let metadata = serde_json::json!({ "stratum": stratum.as_str(), "period": period.as_str() });
        set_plan(&mut tx, sub.tenant, &metadata).await?;
    }
    tx.commit().await?;
    standing::sweep(pool, policy, Some(sub.tenant)).await?;
    Ok(outcome)
}

async fn set_subscription(
    tx: &mut sqlx::PgConnection,
    tenant: Uuid,
    created: OffsetDateTime,
    status: &str,
    subscription: Option<&str>,
    mode: Option<&str>,
) -> Result<Outcome> {
    let known = [
        "incomplete",
        "incomplete_expired",
        "trialing",
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "paused",
    ];
    if !known.contains(&status) {
        return Ok(Outcome::Ignored);
    }
    let updated = sqlx::query!(
        r#"update tenant set
               subscription_status = $3,
               subscription_event_at = $2,
               subscription_problem_since = case
                   when $3 in ('active', 'trialing', 'incomplete', 'incomplete_expired') then null
                   else coalesce(subscription_problem_since, $2) end,
               stripe_subscription_id = coalesce($4, stripe_subscription_id),
               billing_mode = coalesce($5, billing_mode)
             where id = $1 and (subscription_event_at is null or subscription_event_at <= $2)"#,
        tenant,
        created,
        status,
        subscription,
        mode
    )
    .execute(&mut *tx)
    .await?;
    Ok(if updated.rows_affected() == 1 {
        Outcome::Applied
    } else {
        Outcome::Stale
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(payload: &[u8], secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn signatures_follow_stripe_s_scheme() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        assert_eq!(verify(body, &sign(body, "whsec_a", now), "whsec_a", now), Ok(()));
        assert_eq!(
            verify(
                body,
                &format!("t={now},v1=00,{}", &sign(body, "whsec_a", now)["t=1800000000,".len()..]),
                "whsec_a",
                now
            ),
            Ok(()),
            "any of several v1 signatures (secret rotation)"
        );
        assert_eq!(
            verify(body, &sign(body, "whsec_b", now), "whsec_a", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"{}", &sign(body, "whsec_a", now), "whsec_a", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body, &sign(body, "whsec_a", now - 301), "whsec_a", now),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(body, "v1=abcd", "whsec_a", now), Err(SignatureError::Malformed));
        assert_eq!(
            verify(body, &format!("t={now}"), "whsec_a", now),
            Err(SignatureError::Malformed)
        );
    }
}
