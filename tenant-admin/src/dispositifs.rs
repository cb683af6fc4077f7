//! Dispositifs (admins and editors): created by kind (which gives their first components),
//! drafted, published, archived; their page in the console lists their components
//! (`crate::components`) and shows each one's panel.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::components;
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::staff::Role;
use participe_web::csrf::CsrfForm;
use participe_web::kit::Checked;
use participe_web::{Error, Result};
use time::Date;
use uuid::Uuid;

use crate::frame::InTenant;

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

fn kinds() -> Vec<minijinja::Value> {
    Kind::ALL
        .iter()
        .map(|k| minijinja::context! { value => k.as_str(), label => k.label() })
        .collect()
}

pub async fn list(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let all = dispositifs::all(&mut tx).await?;
    tx.commit().await?;
    let today = time::OffsetDateTime::now_utc().date();
    let rows: Vec<minijinja::Value> = all
        .iter()
        .map(|d| {
            minijinja::context! {
                id => d.id.to_string(), title => d.title.clone(), kind => d.kind().label(), status => d.status.as_str(),
                phase => d.phase(today).label(),
            }
        })
        .collect();
    Ok(t.render(
        "console/tenant/dispositifs.html",
        "dispositifs",
        minijinja::context! { rows },
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DispositifForm {
    kind: String,
    title: String,
    slug: String,
    summary: String,
    description: String,
    opens_on: String,
    closes_on: String,
    rules: String,
    themes: String,
}

use participe_core::components::parse_date as date;

fn text(errors: &mut FieldErrors, field: &'static str, value: &str, max: usize, required: bool) -> String {
    let v = value.trim().to_string();
    if required && v.is_empty() {
        errors.push(field, "ce champ est obligatoire");
    } else if v.chars().count() > max {
        errors.push(field, format!("{max} caractères au plus"));
    }
    v
}

impl DispositifForm {
    /// `hosted`: the components the dispositif holds (or will hold), which say which fields
    /// apply.
    fn parse(&self, kind: Kind, hosted: &[&str]) -> Result<DispositifWrite, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = text(&mut errors, "title", &self.title, 200, true);
        let summary = text(&mut errors, "summary", &self.summary, 500, false);
        let description = text(&mut errors, "description", &self.description, 50_000, false);
        let rules = text(&mut errors, "rules", &self.rules, 50_000, false);
        let slug = self.slug.trim().to_lowercase();
        let slug_ok = (1..=80).contains(&slug.len())
            && slug
                .split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !slug_ok {
            errors.push(
                "slug",
                "lettres minuscules sans accent, chiffres et tirets simples, par exemple « budget-participatif-2027 »",
            );
        }
        let opens_on = errors.check("opens_on", date(&self.opens_on)).flatten();
        let closes_on = errors.check("closes_on", date(&self.closes_on)).flatten();
        if let (Some(o), Some(c)) = (opens_on, closes_on)
            && c < o
        {
            errors.push("closes_on", "la clôture doit suivre l'ouverture");
        }
        let mut themes: Vec<String> = Vec::new();
        for line in self.themes.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.chars().count() > 120 {
                errors.push("themes", "un thème fait 120 caractères au plus");
                break;
            }
            if !themes.iter().any(|t| t.eq_ignore_ascii_case(line)) {
                themes.push(line.to_string());
            }
        }
        if themes.len() > 50 {
            errors.push("themes", "50 thèmes au plus");
        }
        let takes_contributions = hosted.contains(&components::contributions::MANIFEST.key);
        if takes_contributions && opens_on.is_none() && !errors.0.iter().any(|e| e.field == "opens_on") {
            errors.push("opens_on", "indiquez la date d'ouverture de l'appel à contributions");
        }
        if errors.is_empty() {
            Ok(DispositifWrite {
                slug,
                kind,
                title,
                summary,
                description,
                opens_on,
                closes_on,
                rules,
                themes,
            })
        } else {
            Err(errors)
        }
    }
}

async fn render_form(
    t: &InTenant,
    form: &DispositifForm,
    existing: Option<&dispositifs::Dispositif>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    render_page(t, form, existing, errors, None, status).await
}

async fn render_page(
    t: &InTenant,
    form: &DispositifForm,
    existing: Option<&dispositifs::Dispositif>,
    errors: FieldErrors,
    echo: Option<&crate::components::Echo>,
    status: StatusCode,
) -> Result<Response> {
    let (hosted, parts) = match existing {
        Some(d) => {
            let mut tx = t.begin().await?;
            let hosted = crate::components::hosted(&mut tx, d).await?;
            let parts = crate::components::page_parts(t, &mut tx, d, echo).await?;
            tx.commit().await?;
            (hosted, Some(parts))
        }
        None => (defaults(&form.kind), None),
    };
    let page = t
        .render(
            "console/tenant/dispositif_form.html",
            "dispositifs",
            minijinja::context! {
                form => Serde(form), errors => Serde(errors), kinds => kinds(),
                existing => existing.map(Serde), hosted, components => parts,
                portal_path => existing.map(|d| format!("/participer/{}", d.slug)),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

/// The components a new dispositif of the chosen kind gets.
fn defaults(kind: &str) -> Vec<&'static str> {
    kind.parse::<Kind>()
        .map(|k| components::defaults(k).iter().map(|m| m.key).collect())
        .unwrap_or_default()
}

pub async fn new_form(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let form = DispositifForm {
        kind: "appel".into(),
        ..Default::default()
    };
    render_form(&t, &form, None, FieldErrors::default(), StatusCode::OK).await
}

pub async fn create(t: InTenant, CsrfForm(form): CsrfForm<DispositifForm>) -> Result<Response> {
    t.require(can_edit)?;
    let kind = match form.kind.parse::<Kind>() {
        Ok(k) => k,
        Err(e) => {
            return render_form(
                &t,
                &form,
                None,
                FieldErrors::one("kind", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let write = match form.parse(kind, &defaults(kind.as_str())) {
        Ok(w) => w,
        Err(errors) => return render_form(&t, &form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let mut tx = t.begin().await?;
    let id = match dispositifs::create(&mut tx, &write).await.checked()? {
        Ok(id) => id,
        Err(errors) => {
            drop(tx);
            return render_form(&t, &form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    t.audit(
        &mut tx,
        "dispositif.creation",
        &write.slug,
        serde_json::json!({ "id": id, "kind": kind }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!(
            "Le dispositif « {} » est créé, en brouillon : publiez-le quand il est prêt.",
            write.title
        ))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}", t.tenant().slug)).into_response())
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let (d, form) = as_stored(&t, id).await?;
    render_form(&t, &form, Some(&d), FieldErrors::default(), StatusCode::OK).await
}

/// The dispositif's page again after a panel's form failed: the panel shows what was typed.
pub async fn page_again(t: &InTenant, id: Uuid, echo: crate::components::Echo) -> Result<Response> {
    let (d, form) = as_stored(t, id).await?;
    let errors = FieldErrors::default();
    render_page(
        t,
        &form,
        Some(&d),
        errors,
        Some(&echo),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A dispositif and its form as stored.
async fn as_stored(t: &InTenant, id: Uuid) -> Result<(dispositifs::Dispositif, DispositifForm)> {
    let mut tx = t.begin().await?;
    let d = dispositifs::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let themes = dispositifs::themes(&mut tx, id).await?;
    tx.commit().await?;
    let iso = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let form = DispositifForm {
        kind: d.kind.clone(),
        title: d.title.clone(),
        slug: d.slug.clone(),
        summary: d.summary.clone(),
        description: d.description.clone(),
        opens_on: iso(d.opens_on),
        closes_on: iso(d.closes_on),
        rules: d.rules.clone(),
        themes: themes.join("\n"),
    };
    Ok((d, form))
}

pub async fn update(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(mut form): CsrfForm<DispositifForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let existing = dispositifs::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    form.kind = existing.kind.clone();
    let hosted = crate::components::hosted(&mut tx, &existing).await?;
    let write = match form.parse(existing.kind(), &hosted) {
        Ok(w) => w,
        Err(errors) => {
            drop(tx);
            return render_form(&t, &form, Some(&existing), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if let Err(e) = dispositifs::update(&mut tx, id, &write).await {
        drop(tx);
        return match e {
            participe_core::Error::Invalid(errors) => {
                render_form(&t, &form, Some(&existing), errors, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            e => Err(e.into()),
        };
    }
    t.audit(
        &mut tx,
        "dispositif.modification",
        &write.slug,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("Le dispositif est enregistré.").await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}", t.tenant().slug)).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct StatusForm {
    status: String,
}

pub async fn set_status(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let status: dispositifs::Status = form
        .status
        .parse()
        .map_err(|_| Error::BadRequest("statut inconnu".into()))?;
    let message = match status {
        dispositifs::Status::Publie => "Le dispositif est publié sur le portail.",
        dispositifs::Status::Archive => {
            "Le dispositif est archivé : il reste consultable sur le portail, comme terminé."
        }
        dispositifs::Status::Brouillon => "Le dispositif est repassé en brouillon : il n'apparaît plus sur le portail.",
    };
    let mut tx = t.begin().await?;
    dispositifs::set_status(&mut tx, id, status).await?;
    t.audit(
        &mut tx,
        "dispositif.statut",
        &id.to_string(),
        serde_json::json!({ "status": status.as_str() }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash(message).await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}", t.tenant().slug)).into_response())
}
