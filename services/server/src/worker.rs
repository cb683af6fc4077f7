//! The job runner: `participe worker` runs it alone, `participe serve` beside the HTTP
//! service (unless `--no-worker`). Each of `concurrency` loops claims the oldest due job
//! (`core::jobs::claim`), runs it, and records the outcome; idle loops sleep until a
//! `participe_job` notification or a one-second tick. Handlers are safe to run twice.

use std::sync::Arc;
use std::time::Duration;

use participe_core::jobs::{self, Kind};
use participe_mail::Mail;
use participe_web::AppState;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

/// Starts the runner's loops and the listener that wakes them.
pub fn spawn(app: &AppState, listen_pool: PgPool, concurrency: usize) {
    let wake = Arc::new(Notify::new());
    tokio::spawn(listen(listen_pool, wake.clone()));
    for _ in 0..concurrency.max(1) {
        let (app, wake) = (app.clone(), wake.clone());
        tokio::spawn(async move {
            loop {
                match run_one(&app).await {
                    Ok(true) => continue,
                    Ok(false) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "job queue unreachable");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
    }
}

async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen("participe_job").await?;
            loop {
                l.recv().await?;
                wake.notify_waiters();
            }
        };
        let result: Result<(), sqlx::Error> = listener.await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "job notifications lost; polling until they come back");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Claims and runs one due job; false when none is due.
pub async fn run_one(app: &AppState) -> Result<bool, participe_core::Error> {
    let Some(job) = jobs::claim(&app.pool).await? else {
        return Ok(false);
    };
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts + 1);
    let last_attempt = job.attempts + 1 >= job.max_attempts;
    let work = handle(app, &job.kind, job.tenant_id, &job.payload, last_attempt);
    let outcome = tracing::Instrument::instrument(work, span).await;
    match outcome {
        Ok(()) => job.done().await?,
        Err(error) => {
            let gives_up = last_attempt;
            tracing::warn!(id = job.id, kind = %job.kind, %error, gives_up, "job failed");
            metrics::counter!("participe_job_attempts_failed_total", "kind" => job.kind.clone()).increment(1);
            if gives_up {
                // Kept as failed, for an operator to run again (alert ParticipeJobsFailing).
                metrics::counter!("participe_jobs_failed_total", "kind" => job.kind.clone()).increment(1);
            }
            job.failed(&error).await?;
        }
    }
    Ok(true)
}

async fn handle(
    app: &AppState,
    kind: &str,
    tenant_id: Option<uuid::Uuid>,
    payload: &serde_json::Value,
    last_attempt: bool,
) -> Result<(), String> {
    match Kind::parse(kind) {
        Some(Kind::Mail) => {
            let mail: Mail = serde_json::from_value(payload.clone()).map_err(|e| format!("bad mail payload: {e}"))?;
            app.mailer.send(&mail).await.map_err(|e| e.to_string())
        }
        Some(Kind::ModerationDigest) => {
            let tenant = tenant_id.ok_or("moderation digest without a tenant")?;
            participe_tenant_admin::moderation_mail::send_digest(app, tenant)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Kind::TenantExport) => {
            let id = payload["export"].as_i64().ok_or("export job without an export id")?;
            participe_core::exports::run(&app.pool, &app.storage, id, last_attempt)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Kind::BillingNotice) => {
            let transition = serde_json::from_value(payload.clone()).map_err(|e| format!("bad billing notice: {e}"))?;
            participe_tenant_admin::billing_mail::send_notice(app, &transition)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Kind::AgendaMail) => {
            let tenant = tenant_id.ok_or("agenda mail without a tenant")?;
            participe_portal::agenda_mail::send(app, tenant, payload)
                .await
                .map_err(|e| e.to_string())
        }
        Some(Kind::NewsPublished) => {
            let tenant = tenant_id.ok_or("news job without a tenant")?;
            let id = payload["news"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or("news job without a post id")?;
            touch_news(app, tenant, id).await.map_err(|e| e.to_string())
        }
        Some(Kind::Booklet) => {
            let tenant = tenant_id.ok_or("booklet job without a tenant")?;
            let id = payload["booklet"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or("booklet job without a booklet id")?;
            participe_booklet::run(&app.pool, &app.storage, tenant, id, last_attempt)
                .await
                .map_err(|e| e.to_string())
        }
        None => Err(format!("unknown job kind {kind}")),
    }
}

/// Keeps the queue small: done jobs leave after two weeks (failed ones stay until retried);
/// tenants' hourly traffic after 90 days (the ops console shows 30).
pub fn spawn_pruning(pool: PgPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = jobs::prune(&pool, 14).await {
                tracing::warn!(error = %e, "pruning done jobs");
            }
            if let Err(e) = participe_core::traffic::prune(&pool, 90).await {
                tracing::warn!(error = %e, "pruning tenant traffic");
            }
        }
    });
}

/// Every hour, each tenant's billing standing is evaluated again: grace periods end and
/// retention periods run out with time, not with events. Two workers may sweep at once:
/// each change applies once (`billing::standing::sweep`).
pub fn spawn_billing_sweep(app: &AppState) {
    let app = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match participe_core::billing::standing::sweep(&app.pool, &app.config.billing, None).await {
                Ok(changes) if !changes.is_empty() => {
                    tracing::info!(changes = changes.len(), "billing standings changed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "billing sweep"),
            }
        }
    });
}

/// A scheduled post's time has come: touching it tells every portal to drop its pages.
async fn touch_news(app: &AppState, tenant_id: uuid::Uuid, id: uuid::Uuid) -> participe_core::Result<()> {
    let Some(tenant) = participe_core::fleet::registry::find_by_id(&app.pool, tenant_id).await? else {
        return Ok(());
    };
    let mut tx = participe_core::TenantTx::begin(&app.pool, &tenant).await?;
    participe_core::news::touch_published(&mut tx, id).await?;
    Ok(tx.commit().await?)
}
