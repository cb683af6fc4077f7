//! The tenants table (search, filters by status and kind, pages of 50) and each tenant's
//! page: registry details, estimated sizes, domains, the platform audit log for it, and
//! suspension or resumption with a reason the tenant's admins see on their dashboard.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::domain::{Slug, TenantKind};
use participe_core::operators;
use participe_core::tenancy::registry::{self, OverviewFilter};
use participe_core::{FieldErrors, TenantStatus};
use participe_web::csrf::CsrfForm;
use participe_web::{Error, Result, session};

use crate::frame::Operating;

const PAGE: i64 = 50;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    statut: String,
    type_: String,
    page: String,
}

pub async fn list(o: Operating, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    let filter = OverviewFilter {
        query: Some(q.q.chars().take(100).collect()),
        status: q.statut.parse::<TenantStatus>().ok(),
        kind: q.type_.parse::<TenantKind>().ok(),
    };
    let page = q.page.parse::<i64>().unwrap_or(1).clamp(1, 100_000);
    let (tenants, total) = registry::overview(&o.ops.app.pool, &filter, PAGE, (page - 1) * PAGE).await?;
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let latest = participe_core::migrations::TenantMigrations::embedded().latest();
    let kinds: Vec<minijinja::Value> = TenantKind::ALL
        .iter()
        .map(|k| minijinja::context! { value => k.as_str(), label => k.label() })
        .collect();
    o.ops
        .render(
            "ops/tenants.html",
            minijinja::context! {
                tenants => Serde(tenants), total, page, pages, latest, kinds, q => Serde(&q),
            },
        )
        .await
}

fn parse_slug(s: &str) -> Result<Slug> {
    Slug::parse(s).map_err(|_| Error::NotFound)
}

pub async fn show(o: Operating, Path(slug): Path<String>) -> Result<Response> {
    page(&o, &slug, FieldErrors::default(), "", StatusCode::OK).await
}

async fn page(o: &Operating, slug: &str, errors: FieldErrors, reason: &str, status: StatusCode) -> Result<Response> {
    let slug = parse_slug(slug)?;
    let pool = &o.ops.app.pool;
    let details = match registry::details(pool, &slug).await {
        Ok(d) => d,
        Err(participe_core::Error::NotFound(_)) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    let filter = OverviewFilter {
        query: Some(slug.to_string()),
        ..Default::default()
    };
    let (rows, _) = registry::overview(pool, &filter, PAGE, 0).await?;
    let overview = rows.into_iter().find(|r| r.slug == slug.as_str());
    let log = operators::audit_log(pool, Some(details.tenant.id), 50).await?;
    let latest = participe_core::migrations::TenantMigrations::embedded().latest();
    let html = o
        .ops
        .render(
            "ops/tenant.html",
            minijinja::context! {
                d => Serde(&details), overview => overview.map(Serde), log => Serde(log), latest,
                errors => Serde(errors), reason,
            },
        )
        .await?;
    Ok((status, html).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct StatusForm {
    action: String,
    reason: String,
}

pub async fn set_status(
    o: Operating,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response> {
    let parsed = parse_slug(&slug)?;
    let reason = form.reason.trim();
    let status = match form.action.as_str() {
        "suspendre" => TenantStatus::Suspended,
        "reprendre" => TenantStatus::Active,
        _ => return Err(Error::BadRequest("action inconnue".into())),
    };
    if status == TenantStatus::Suspended && reason.is_empty() {
        let errors = FieldErrors::one(
            "reason",
            "indiquez le motif : il est montré aux administrateur·rices du portail",
        );
        return page(&o, &slug, errors, reason, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if reason.chars().count() > 500 {
        let errors = FieldErrors::one("reason", "500 caractères au plus");
        return page(&o, &slug, errors, reason, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match registry::set_status(&o.ops.app.pool, &parsed, status, Some(reason), &o.operator.actor()).await {
        Ok(_) => {}
        Err(participe_core::Error::NotFound(_)) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    }
    session::flash(
        &o.ops.session,
        match status {
            TenantStatus::Suspended => "Le portail est suspendu.",
            TenantStatus::Active => "Le portail est de nouveau en ligne.",
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/portails/{slug}")).into_response())
}
