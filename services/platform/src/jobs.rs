//! The job queue as operators see it: depth per kind (pending, due, failed, done in 24 h)
//! and the failed jobs with their last error, each of which can be run again.

use axum::extract::Path;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::jobs;
use participe_web::csrf::{self, CsrfForm};
use participe_web::{Error, Result, session};

use crate::frame::Operating;

pub async fn show(o: Operating) -> Result<Html<String>> {
    let pool = &o.ops.app.pool;
    let depth = jobs::depth(pool).await?;
    let failed = jobs::failed(pool, 100).await?;
    o.ops
        .render(
            "ops/jobs.html",
            minijinja::context! { depth => Serde(depth), failed => Serde(failed) },
        )
        .await
}

pub async fn retry(o: Operating, Path(id): Path<String>, CsrfForm(_): CsrfForm<csrf::Empty>) -> Result<Response> {
    let id: i64 = id.parse().map_err(|_| Error::NotFound)?;
    let pool = &o.ops.app.pool;
    if !jobs::retry(pool, id).await? {
        return Err(Error::NotFound);
    }
    let mut conn = pool.acquire().await.map_err(Error::from)?;
    participe_core::platform_audit::record(
        &mut conn,
        &o.operator.actor(),
        "job.retry",
        None,
        serde_json::json!({ "job": id }),
    )
    .await?;
    session::flash(&o.ops.session, format!("La tâche n° {id} est relancée.")).await?;
    Ok(Redirect::to("/taches").into_response())
}
