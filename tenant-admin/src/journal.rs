//! The tenant's audit log: who did what, when and from where, newest first, for every
//! member of the tenant's staff to read.

use axum::extract::Query;
use axum::response::Html;
use minijinja::value::Serde;
use participe_core::site;
use participe_web::Result;

use crate::frame::InTenant;

const PAGE: i64 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Cursor {
    avant: Option<i64>,
}

pub async fn show(t: InTenant, Query(cursor): Query<Cursor>) -> Result<Html<String>> {
    let mut tx = t.begin().await?;
    let entries = site::audit_log(&mut tx, cursor.avant, PAGE).await?;
    tx.commit().await?;
    let next = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    t.render(
        "console/tenant/journal.html",
        "journal",
        minijinja::context! { entries => Serde(entries), next },
    )
    .await
}
