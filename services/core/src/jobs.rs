//! The durable job queue (platform table `job`): enqueue, claim, finish, retry. A claim is a
//! transaction holding the job's row lock (`for update skip locked`) for as long as the job
//! runs: if the worker dies, PostgreSQL ends the transaction and the job is due again at
//! once — at-least-once delivery, so handlers are written to be safe to repeat. Failures are
//! retried with exponential backoff; after `max_attempts` the job stays `failed`, with its
//! error, until an operator retries it.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// What a job does. The payload of each kind is its own JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Send one mail (payload: `participe_mail::Mail` fields).
    Mail,
    /// Mail the tenant's moderators the reports they have not heard of.
    ModerationDigest,
    /// Write a tenant's archive to the storage (payload: `{"export": <tenant_export id>}`).
    TenantExport,
    /// Mail a tenant's admins a change of billing standing (payload: the transition).
    BillingNotice,
    /// Mail an event's registrant (payload: `agenda::MailJob`).
    AgendaMail,
    /// A scheduled news post's time has come (payload: `{"news": <id>}`).
    NewsPublished,
    /// Compile a « livret d'expression » (payload: `{"booklet": <id>}`).
    Booklet,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mail => "mail",
            Kind::ModerationDigest => "moderation_digest",
            Kind::TenantExport => "tenant_export",
            Kind::BillingNotice => "billing_notice",
            Kind::AgendaMail => "agenda_mail",
            Kind::NewsPublished => "news_published",
            Kind::Booklet => "booklet",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Mail,
            Kind::ModerationDigest,
            Kind::TenantExport,
            Kind::BillingNotice,
            Kind::AgendaMail,
            Kind::NewsPublished,
            Kind::Booklet,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Queues a job, in the caller's transaction when given one (so that it exists exactly when
/// what caused it does). `delay_secs` postpones it.
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    kind: Kind,
    payload: serde_json::Value,
    delay_secs: i64,
) -> Result<()> {
    sqlx::query!(
        "insert into public.job (tenant_id, kind, payload, run_at)
         values ($1, $2, $3, now() + make_interval(secs => $4::bigint))",
        tenant_id,
        kind.as_str(),
        payload,
        delay_secs
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues a job only if the same kind is not already pending for this tenant (the
/// moderation digest: the first report schedules it, the next ones join it).
pub async fn enqueue_once(conn: &mut PgConnection, tenant_id: Uuid, kind: Kind, delay_secs: i64) -> Result<()> {
    sqlx::query!(
        "insert into public.job (tenant_id, kind, run_at)
         values ($1, $2, now() + make_interval(secs => $3::bigint))
         on conflict (kind, tenant_id) where state = 'pending' and kind = 'moderation_digest' do nothing",
        tenant_id,
        kind.as_str(),
        delay_secs
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A job being run: its row stays locked until `done`, `failed` or drop.
pub struct Claimed {
    tx: Transaction<'static, Postgres>,
    pub id: i64,
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Claims the oldest due job, if any.
pub async fn claim(pool: &PgPool) -> Result<Option<Claimed>> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        "select id, tenant_id, kind, payload, attempts, max_attempts from job
          where state = 'pending' and run_at <= now()
          order by run_at, id
          for update skip locked
          limit 1"
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| Claimed {
        tx,
        id: r.id,
        tenant_id: r.tenant_id,
        kind: r.kind,
        payload: r.payload,
        attempts: r.attempts,
        max_attempts: r.max_attempts,
    }))
}

/// Seconds before the next try after `attempts` failures: 30 s, 2 min, 8 min, 32 min… capped
/// at six hours.
pub fn backoff_secs(attempts: i32) -> i64 {
    let n = attempts.clamp(1, 12) as u32 - 1;
    (30 * 4i64.pow(n)).min(6 * 3600)
}

impl Claimed {
    pub async fn done(mut self) -> Result<()> {
        sqlx::query!(
            "update job set state = 'done', attempts = attempts + 1, finished_at = now(), last_error = null where id = $1",
            self.id
        )
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Records a failure: due again after the backoff, or failed for good.
    pub async fn failed(mut self, error: &str) -> Result<()> {
        let attempts = self.attempts + 1;
        let give_up = attempts >= self.max_attempts;
        sqlx::query!(
            "update job set attempts = $2, last_error = $3,
                    state = case when $4 then 'failed' else 'pending' end,
                    finished_at = case when $4 then now() end,
                    run_at = case when $4 then run_at else now() + make_interval(secs => $5::bigint) end
              where id = $1",
            self.id,
            attempts,
            error.chars().take(2000).collect::<String>(),
            give_up,
            backoff_secs(attempts)
        )
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Counts by state and kind, for the ops console's fleet health.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Depth {
    pub kind: String,
    pub pending: i64,
    pub due: i64,
    pub failed: i64,
    pub done_24h: i64,
}

pub async fn depth(pool: &PgPool) -> Result<Vec<Depth>> {
    Ok(sqlx::query_as!(
        Depth,
        r#"select kind,
                  count(*) filter (where state = 'pending') as "pending!",
                  count(*) filter (where state = 'pending' and run_at <= now()) as "due!",
                  count(*) filter (where state = 'failed') as "failed!",
                  count(*) filter (where state = 'done' and finished_at > now() - interval '24 hours') as "done_24h!"
             from job group by kind order by kind"#
    )
    .fetch_all(pool)
    .await?)
}

/// A failed job as operators see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failed {
    pub id: i64,
    pub kind: String,
    pub tenant: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

pub async fn failed(pool: &PgPool, limit: i64) -> Result<Vec<Failed>> {
    Ok(sqlx::query_as!(
        Failed,
        r#"select j.id, j.kind, t.slug as "tenant?", j.attempts, j.last_error, j.finished_at
             from job j left join tenant t on t.id = j.tenant_id
            where j.state = 'failed' order by j.id desc limit $1"#,
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// Puts a failed job back in the queue, due now, with fresh attempts. False if it is not
/// (or no longer) failed.
pub async fn retry(pool: &PgPool, id: i64) -> Result<bool> {
    Ok(sqlx::query!(
        "update job set state = 'pending', attempts = 0, run_at = now(), finished_at = null
          where id = $1 and state = 'failed'",
        id
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Drops finished jobs older than `days`: the queue keeps failures until retried, and done
/// jobs for a while, for the ops console's counts.
pub async fn prune(pool: &PgPool, days: i32) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from job where state = 'done' and finished_at < now() - make_interval(days => $1)",
        days
    )
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_grows_fourfold_and_is_capped() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 120);
        assert_eq!(backoff_secs(3), 480);
        assert_eq!(backoff_secs(10), 6 * 3600);
    }
}
