//! The portal's pages (admins and editors): the usage charter, whose every publication as a
//! new version asks citizens to accept it again; the legal notice, the accessibility
//! statement and the privacy page, which every portal has; and free pages. Bodies are
//! Markdown, rendered sanitized on the portal.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::site::{self, LEGAL_PAGES, PageRecord, PageWrite};
use participe_core::staff::Role;
use participe_web::csrf::{self, CsrfForm};
use participe_web::kit::Checked;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::frame::InTenant;

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn list(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let pages = site::pages(&mut tx).await?;
    let versions = site::charter_versions(&mut tx).await?;
    tx.commit().await?;
    let legal: Vec<minijinja::Value> = LEGAL_PAGES
        .iter()
        .map(|(kind, slug, title)| {
            let page = pages.iter().find(|p| p.kind == *kind);
            minijinja::context! { kind => *kind, slug => *slug, title => *title, page => page.map(Serde) }
        })
        .collect();
    let free: Vec<&PageRecord> = pages.iter().filter(|p| p.kind == "libre").collect();
    let page = t
        .render(
            "console/tenant/pages.html",
            "pages",
            minijinja::context! { legal, free => Serde(free), versions => Serde(versions) },
        )
        .await?;
    Ok(page.into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PageForm {
    kind: String,
    slug: String,
    title: String,
    body: String,
    in_footer: Option<String>,
    published: Option<String>,
    new_version: Option<String>,
}

impl PageForm {
    fn from_record(p: &PageRecord) -> Self {
        PageForm {
            kind: p.kind.clone(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            body: p.body.clone(),
            in_footer: p.in_footer.then(|| "on".into()),
            published: p.published.then(|| "on".into()),
            new_version: None,
        }
    }

    /// Checks the form; a legal page keeps its fixed kind and address.
    fn parse(&self, kind: &str) -> Result<PageWrite, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = self.title.trim();
        if title.is_empty() {
            errors.push("title", "indiquez un titre");
        } else if title.chars().count() > 200 || title.chars().any(char::is_control) {
            errors.push("title", "200 caractères au plus, sans caractère invisible");
        }
        if self.body.chars().count() > 100_000 {
            errors.push("body", "100 000 caractères au plus");
        }
        let slug = match LEGAL_PAGES.iter().find(|(k, _, _)| *k == kind) {
            Some((_, slug, _)) => slug.to_string(),
            None => {
                let s = self.slug.trim().to_lowercase();
                let ok = (1..=80).contains(&s.len())
                    && s.split('-').all(|part| {
                        !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    });
                if !ok {
                    errors.push("slug", "lettres minuscules sans accent, chiffres et tirets simples, par exemple « conseil-des-jeunes »");
                }
                s
            }
        };
        if errors.is_empty() {
            Ok(PageWrite {
                slug,
                kind: kind.to_string(),
                title: title.to_string(),
                body: self.body.clone(),
                in_footer: self.in_footer.is_some(),
                published: self.published.is_some(),
            })
        } else {
            Err(errors)
        }
    }
}

async fn render_form(
    t: &InTenant,
    form: PageForm,
    existing: Option<Uuid>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let legal = LEGAL_PAGES.iter().any(|(k, _, _)| *k == form.kind);
    let page = t
        .render(
            "console/tenant/page_form.html",
            "pages",
            minijinja::context! {
                form => Serde(&form), errors => Serde(errors), legal, charter => form.kind == "charte",
                existing => existing.map(|id| id.to_string()),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
}

/// The form for a new page: a free page, or a legal page not written yet (`?kind=`).
pub async fn new_form(t: InTenant, axum::extract::Query(q): axum::extract::Query<NewQuery>) -> Result<Response> {
    t.require(can_edit)?;
    let (kind, slug, title) = match q
        .kind
        .as_deref()
        .and_then(|k| LEGAL_PAGES.iter().find(|(kind, _, _)| *kind == k))
    {
        Some((kind, slug, title)) => (kind.to_string(), slug.to_string(), title.to_string()),
        None => ("libre".to_string(), String::new(), String::new()),
    };
    let form = PageForm {
        kind,
        slug,
        title,
        published: Some("on".into()),
        in_footer: Some("on".into()),
        ..Default::default()
    };
    render_form(&t, form, None, FieldErrors::default(), StatusCode::OK).await
}

fn back(t: &InTenant) -> Response {
    Redirect::to(&format!("/t/{}/pages", t.tenant().slug)).into_response()
}

pub async fn create(t: InTenant, CsrfForm(form): CsrfForm<PageForm>) -> Result<Response> {
    t.require(can_edit)?;
    let kind = if LEGAL_PAGES.iter().any(|(k, _, _)| *k == form.kind) {
        form.kind.clone()
    } else {
        "libre".to_string()
    };
    let write = match form.parse(&kind) {
        Ok(w) => w,
        Err(errors) => return render_form(&t, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let mut tx = t.begin().await?;
    let id = match site::create_page(&mut tx, &write).await.checked()? {
        Ok(id) => id,
        Err(errors) => {
            drop(tx);
            return render_form(&t, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if kind == "charte" {
        site::publish_charter_version(&mut tx, &write.title, &write.body, &t.staff().email).await?;
    }
    t.audit(
        &mut tx,
        "page.creation",
        &write.slug,
        serde_json::json!({ "id": id, "kind": kind }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!("La page « {} » est enregistrée.", write.title))
        .await?;
    Ok(back(&t))
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let page = site::page(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    render_form(
        &t,
        PageForm::from_record(&page),
        Some(id),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<PageForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let existing = site::page(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let mut typed = form;
    typed.kind = existing.kind.clone();
    let write = match typed.parse(&existing.kind) {
        Ok(w) => w,
        Err(errors) => {
            drop(tx);
            return render_form(&t, typed, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if let Err(e) = site::update_page(&mut tx, id, &write).await {
        drop(tx);
        return match e {
            participe_core::Error::Invalid(errors) => {
                render_form(&t, typed, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            e => Err(e.into()),
        };
    }
    let mut message = format!("La page « {} » est enregistrée.", write.title);
    if existing.kind == "charte"
        && (typed.new_version.is_some() || site::current_charter_version(&mut tx).await?.is_none())
    {
        let version = site::publish_charter_version(&mut tx, &write.title, &write.body, &t.staff().email).await?;
        message = format!(
            "La charte est publiée en version {version} : les participants devront l'accepter avant leur prochaine contribution."
        );
    }
    t.audit(
        &mut tx,
        "page.modification",
        &write.slug,
        serde_json::json!({ "id": id, "new_version": typed.new_version.is_some() }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash(message).await?;
    Ok(back(&t))
}

pub async fn delete(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let existing = site::page(&mut tx, id).await?.ok_or(Error::NotFound)?;
    site::delete_page(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "page.suppression",
        &existing.slug,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!("La page « {} » est supprimée.", existing.title))
        .await?;
    Ok(back(&t))
}
