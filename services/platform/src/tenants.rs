//! The tenants table (search, filters by status, kind, plan and billing, pages of 50, with
//! each tenant's traffic of the last 24 hours) and each tenant's page: registry details,
//! estimated sizes, domains, traffic per day over 30 days, the platform audit log for it,
//! suspension or resumption with a reason the tenant's admins see on their dashboard, the
//! plan and paid-until date (manual billing), and exports operators start and download.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::billing::standing::State;
use participe_core::billing::{self, Stratum};
use participe_core::domain::{Slug, TenantKind};
use participe_core::fleet::registry::{self, Overview, OverviewFilter};
use participe_core::traffic::{self, Summary};
use participe_core::{FieldErrors, TenantStatus};
use participe_core::{exports, operators};
use participe_web::csrf::{self, CsrfForm};
use participe_web::{Error, Result, session};

use crate::frame::Operating;

const PAGE: i64 = 50;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    statut: String,
    type_: String,
    formule: String,
    facturation: String,
    page: String,
}

/// A line of the table: the registry's overview and the tenant's last 24 hours.
#[derive(Debug, serde::Serialize)]
struct Row {
    #[serde(flatten)]
    overview: Overview,
    plan_label: Option<String>,
    traffic: Summary,
    #[serde(with = "time::serde::rfc3339::option")]
    last_request_at: Option<time::OffsetDateTime>,
}

async fn with_traffic(o: &Operating, rows: Vec<Overview>) -> Result<Vec<Row>> {
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let mut traffic = traffic::last_day(&o.ops.app.pool, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|overview| {
            let (traffic, last_request_at) = traffic.remove(&overview.id).unwrap_or_default();
            Row {
                plan_label: overview.plan.as_deref().map(billing::plan_label),
                overview,
                traffic,
                last_request_at,
            }
        })
        .collect())
}

fn choices<T: Copy>(
    all: &[T],
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<minijinja::Value> {
    all.iter()
        .map(|&x| minijinja::context! { value => value(x), label => label(x) })
        .collect()
}

pub async fn list(o: Operating, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    let filter = OverviewFilter {
        query: Some(q.q.chars().take(100).collect()),
        status: q.statut.parse::<TenantStatus>().ok(),
        kind: q.type_.parse::<TenantKind>().ok(),
        plan: (q.formule == "none" || Stratum::parse(&q.formule).is_some()).then(|| q.formule.clone()),
        billing: State::parse(&q.facturation),
    };
    let page = participe_web::kit::page_number(&q.page, 100_000);
    let pool = &o.ops.app.pool;
    let (tenants, total) = registry::overview(pool, &filter, PAGE, (page - 1) * PAGE).await?;
    let tenants = with_traffic(&o, tenants).await?;
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let latest = participe_core::migrations::TenantMigrations::embedded().latest();
    o.ops
        .render(
            "ops/tenants.html",
            minijinja::context! {
                tenants => Serde(tenants), total, page, pages, latest, q => Serde(&q),
                ops_columns => participe_core::components::ops_columns(),
                kinds => choices(&TenantKind::ALL, TenantKind::as_str, TenantKind::label),
                plans => choices(&Stratum::ALL, Stratum::as_str, Stratum::label),
                billings => choices(&State::ALL, State::as_str, State::label),
            },
        )
        .await
}

fn parse_slug(s: &str) -> Result<Slug> {
    Slug::parse(s).map_err(|_| Error::NotFound)
}

pub async fn show(o: Operating, Path(slug): Path<String>) -> Result<Response> {
    page(&o, &slug, Forms::default(), StatusCode::OK).await
}

/// What the page's forms show: the values typed and the errors beside them.
#[derive(Debug, Default, serde::Serialize)]
struct Forms {
    errors: FieldErrors,
    reason: String,
    plan: Option<String>,
    paid_until: Option<String>,
}

async fn page(o: &Operating, slug: &str, forms: Forms, status: StatusCode) -> Result<Response> {
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
    let rows = with_traffic(o, rows.into_iter().filter(|r| r.slug == slug.as_str()).collect()).await?;
    let overview = rows.into_iter().next();
    let id = details.tenant.id;
    let bytes = registry::schema_bytes(pool, &details.tenant).await?;
    let history = traffic::history(pool, id, 30).await?;
    let exports = exports::list(pool, id, 10).await?;
    let log = operators::audit_log(pool, Some(id), 50).await?;
    let latest = participe_core::migrations::TenantMigrations::embedded().latest();
    let plan = forms
        .plan
        .clone()
        .or_else(|| overview.as_ref().and_then(|r| r.overview.plan.clone()))
        .unwrap_or_default();
    let paid_until = forms
        .paid_until
        .clone()
        .or_else(|| overview.as_ref().and_then(|r| r.overview.paid_until.clone()))
        .unwrap_or_default();
    let html = o
        .ops
        .render(
            "ops/tenant.html",
            minijinja::context! {
                d => Serde(&details), overview => overview.map(Serde), log => Serde(log), latest,
                history => Serde(history), exports => Serde(exports), bytes,
                errors => Serde(&forms.errors), reason => forms.reason, plan, paid_until,
                plans => choices(&Stratum::ALL, Stratum::as_str, Stratum::label),
                ops_columns => participe_core::components::ops_columns(),
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
        let forms = Forms {
            errors,
            reason: reason.to_string(),
            ..Default::default()
        };
        return page(&o, &slug, forms, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if reason.chars().count() > 500 {
        let forms = Forms {
            errors: FieldErrors::one("reason", "500 caractères au plus"),
            reason: reason.to_string(),
            ..Default::default()
        };
        return page(&o, &slug, forms, StatusCode::UNPROCESSABLE_ENTITY).await;
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

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct BillingForm {
    plan: String,
    paid_until: String,
}

/// `YYYY-MM-DD`, as a date field sends it; empty clears the date.
fn parse_day(s: &str) -> std::result::Result<Option<time::Date>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(s, &format) {
        Ok(d) if (2000..=2100).contains(&d.year()) => Ok(Some(d)),
        Ok(_) => Err("une date entre 2000 et 2100"),
        Err(_) => Err("une date au format AAAA-MM-JJ, par exemple 2027-12-31"),
    }
}

/// Manual billing: the plan and the date up to which the tenant has paid.
pub async fn set_billing(
    o: Operating,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<BillingForm>,
) -> Result<Response> {
    let parsed = parse_slug(&slug)?;
    let mut errors = FieldErrors::default();
    let plan = match form.plan.trim() {
        "" => None,
        code => Stratum::parse(code).or_else(|| {
            errors.push("plan", "choisissez une formule de la liste");
            None
        }),
    };
    let paid_until = parse_day(&form.paid_until).unwrap_or_else(|e| {
        errors.push("paid_until", e);
        None
    });
    if !errors.is_empty() {
        let forms = Forms {
            errors,
            plan: Some(form.plan),
            paid_until: Some(form.paid_until),
            ..Default::default()
        };
        return page(&o, &slug, forms, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let pool = &o.ops.app.pool;
    let tenant_id = match billing::set_manual(pool, &parsed, plan, paid_until, &o.operator.actor()).await {
        Ok(id) => id,
        Err(participe_core::Error::NotFound(_)) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    // A payment recorded reopens the portal now, not at the next hourly sweep.
    billing::standing::sweep(pool, &o.ops.app.config.billing, Some(tenant_id)).await?;
    session::flash(&o.ops.session, "La formule et l'échéance sont enregistrées.").await?;
    Ok(Redirect::to(&format!("/portails/{slug}")).into_response())
}

/// Queues an export of the tenant; the page lists it until it can be downloaded.
pub async fn request_export(
    o: Operating,
    Path(slug): Path<String>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    let parsed = parse_slug(&slug)?;
    match exports::request(&o.ops.app.pool, &parsed, &o.operator.actor()).await {
        Ok(_) => {}
        Err(participe_core::Error::NotFound(_)) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    }
    session::flash(
        &o.ops.session,
        "L'export est lancé : il apparaît ci-dessous, téléchargeable une fois prêt.",
    )
    .await?;
    Ok(Redirect::to(&format!("/portails/{slug}#exports")).into_response())
}

/// An export's archive, streamed from the storage, for operators only (and logged).
pub async fn download_export(o: Operating, Path((slug, id)): Path<(String, String)>) -> Result<Response> {
    let parsed = parse_slug(&slug)?;
    let id: i64 = id.parse().map_err(|_| Error::NotFound)?;
    let pool = &o.ops.app.pool;
    let tenant = registry::find_by_slug(pool, &parsed).await?.ok_or(Error::NotFound)?;
    let export = exports::for_download(pool, tenant.id, id, &o.operator.actor())
        .await?
        .ok_or(Error::NotFound)?;
    let key = export.storage_key.ok_or(Error::NotFound)?;
    let (size, stream) = o
        .ops
        .app
        .storage
        .open(&key)
        .await
        .map_err(|e| Error::Unexpected(format!("export {id}: {e}")))?
        .ok_or_else(|| Error::Unexpected(format!("export {id}: archive missing from the storage")))?;
    let name = format!("participe-{slug}-{id}.tar.gz");
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
