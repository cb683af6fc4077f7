//! Fleet health for the operator at 3 a.m.: schemas behind, edited or missing (the same
//! one-query check as `participe migrate --check`), the slowest tenants of the last day,
//! the job queue's depth and failures, and this process's database pool.

use axum::response::Html;
use minijinja::value::Serde;
use participe_core::jobs;
use participe_core::migrations::{TenantMigrations, fleet};
use participe_web::Result;

use crate::frame::Operating;

#[derive(Debug, serde::Serialize)]
struct Problem {
    slug: String,
    applied: i64,
    what: String,
}

/// Below this many requests in a day, a tenant's p95 says little: it is not ranked.
const MIN_REQUESTS: i64 = 20;

pub async fn show(o: Operating) -> Result<Html<String>> {
    let pool = &o.ops.app.pool;
    let set = TenantMigrations::embedded();
    let states = fleet::check(pool, &set).await?;
    let total = states.len();
    let problems: Vec<Problem> = states
        .iter()
        .filter_map(|s| {
            let what = match &s.drift {
                fleet::Drift::UpToDate | fleet::Drift::Ahead { .. } => return None,
                fleet::Drift::Behind { missing } => format!("en retard : {} migration(s) à appliquer", missing.len()),
                fleet::Drift::Modified { versions } => {
                    format!("migration(s) modifiée(s) depuis leur application : {versions:?}")
                }
                fleet::Drift::MissingSchema => "schéma ou historique introuvable".to_string(),
            };
            Some(Problem {
                slug: s.slug.clone(),
                applied: s.applied,
                what,
            })
        })
        .take(200)
        .collect();
    let slowest = participe_core::traffic::slowest(pool, MIN_REQUESTS, 10).await?;
    let depth = jobs::depth(pool).await?;
    let failed: i64 = depth.iter().map(|d| d.failed).sum();
    let due: i64 = depth.iter().map(|d| d.due).sum();
    o.ops
        .render(
            "ops/health.html",
            minijinja::context! {
                total, latest => set.latest(), problems => Serde(problems),
                depth => Serde(depth), failed, due, slowest => Serde(slowest), min_requests => MIN_REQUESTS,
                pool_size => pool.size(), pool_idle => pool.num_idle(),
                pool_max => pool.options().get_max_connections(),
            },
        )
        .await
}
