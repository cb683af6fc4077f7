//! The document library (admins and editors): upload a file (checked by its bytes: PDF,
//! ODT, DOCX, XLSX or an image; at most `UPLOAD_MAX`), describe it (title, date, category,
//! dispositif, meeting), replace it, unpublish or delete it.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::documents::{self, Category, DocumentWrite, FileKind, StoredFile};
use participe_core::domain::Invalid;
use participe_core::staff::Role;
use participe_web::csrf::{CsrfForm, CsrfMultipart, Empty};
use participe_web::dispatch::UPLOAD_MAX;
use participe_web::{Error, Result};
use time::Date;
use uuid::Uuid;

use crate::choices::{self, Choice};
use crate::frame::InTenant;

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn list(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let docs = documents::for_console(&mut tx, 1000).await?;
    tx.commit().await?;
    let rows: Vec<_> = docs
        .iter()
        .map(|d| minijinja::context! { d => Serde(d), category => d.category_label(), format => d.format_label() })
        .collect();
    Ok(t.render(
        "console/tenant/documents.html",
        "documents",
        minijinja::context! { rows },
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, Clone, serde::Serialize)]
struct DocumentForm {
    title: String,
    description: String,
    category: String,
    document_date: String,
    dispositif: String,
    event: String,
    published: String,
}

impl DocumentForm {
    fn from(form: &CsrfMultipart) -> DocumentForm {
        DocumentForm {
            title: form.field("title"),
            description: form.field("description"),
            category: form.field("category"),
            document_date: form.field("document_date"),
            dispositif: form.field("dispositif"),
            event: form.field("event"),
            published: form.field("published"),
        }
    }

    fn of(d: &documents::Document) -> DocumentForm {
        DocumentForm {
            title: d.title.clone(),
            description: d.description.clone(),
            category: d.category.clone(),
            document_date: d.document_date.to_string(),
            dispositif: d.dispositif_id.map(|x| x.to_string()).unwrap_or_default(),
            event: d.event_id.map(|x| x.to_string()).unwrap_or_default(),
            published: if d.published { "on".into() } else { String::new() },
        }
    }
}

fn date(input: &str) -> Result<Date, Invalid> {
    let s = input.trim();
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let french = time::macros::format_description!("[day]/[month]/[year]");
    Date::parse(s, iso)
        .or_else(|_| Date::parse(s, french))
        .map_err(|_| Invalid::new("indiquez la date du document, par exemple 15/03/2027"))
}

/// The choices a form offers: the tenant's dispositifs and meetings.
struct Choices {
    dispositifs: Vec<Choice>,
    events: Vec<Choice>,
}

async fn load_choices(t: &InTenant) -> Result<Choices> {
    Ok(Choices {
        dispositifs: choices::dispositifs(t).await?,
        events: choices::events(t).await?,
    })
}

fn parse(form: &DocumentForm, available: &Choices, errors: &mut FieldErrors) -> Option<DocumentWrite> {
    let category = form.category.parse::<Category>().ok();
    if category.is_none() {
        errors.push("category", "choisissez le type de document");
    }
    let document_date = errors.check("document_date", date(&form.document_date));
    let dispositif_id = choices::pick(errors, "dispositif", &form.dispositif, &available.dispositifs);
    let event_id = choices::pick(errors, "event", &form.event, &available.events);
    let write = DocumentWrite {
        title: form.title.clone(),
        description: form.description.clone(),
        // Placeholders while the fields above are wrong: the write is not used then, but
        // its own checks still run, so that every mistake is said at once.
        category: category.unwrap_or(Category::Autre),
        document_date: document_date.unwrap_or(Date::MIN),
        dispositif_id,
        event_id,
        published: form.published == "on",
    };
    if let Err(more) = write.check() {
        errors.0.extend(more.0);
    }
    (category.is_some() && document_date.is_some()).then_some(write)
}

/// The uploaded file, recognised by its bytes; an error is said beside the field.
fn uploaded(
    multipart: &CsrfMultipart,
    errors: &mut FieldErrors,
    required: bool,
) -> Option<(FileKind, String, Vec<u8>)> {
    let Some(upload) = multipart.files.get("file") else {
        if required {
            errors.push("file", "choisissez le fichier à publier");
        }
        return None;
    };
    if upload.bytes.len() > UPLOAD_MAX {
        errors.push(
            "file",
            format!(
                "le fichier dépasse {} Mo ; choisissez-en un plus léger",
                UPLOAD_MAX / (1024 * 1024)
            ),
        );
        return None;
    }
    match FileKind::sniff(&upload.bytes) {
        Some(kind) => Some((
            kind,
            documents::download_name(&upload.file_name, kind),
            upload.bytes.clone(),
        )),
        None => {
            errors.push(
                "file",
                "ce fichier n'est ni un PDF, ni un document ODT, DOCX ou XLSX, ni une image PNG, JPEG ou WebP ; choisissez à nouveau le fichier",
            );
            None
        }
    }
}

async fn store(t: &InTenant, file: &(FileKind, String, Vec<u8>)) -> Result<StoredFile> {
    // Under `tenants/<id>/`, like every file of the tenant: tenant archives carry it.
    let key = format!(
        "tenants/{}/documents/{}.{}",
        t.tenant().id,
        Uuid::new_v4(),
        file.0.extension()
    );
    t.console
        .app
        .storage
        .put(&key, &file.2)
        .await
        .map_err(|e| Error::Unexpected(format!("storing a document: {e}")))?;
    Ok(StoredFile {
        key,
        name: file.1.clone(),
        kind: file.0,
        size: file.2.len() as i64,
    })
}

async fn render_form(
    t: &InTenant,
    form: &DocumentForm,
    existing: Option<&documents::Document>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let available = load_choices(t).await?;
    let categories: Vec<_> = Category::ALL
        .iter()
        .map(|c| minijinja::context! { value => c.as_str(), label => c.label() })
        .collect();
    let page = t
        .render(
            "console/tenant/document_form.html",
            "documents",
            minijinja::context! {
                form => Serde(form), errors => Serde(errors), existing => existing.map(Serde), categories,
                dispositifs => choices::options(&available.dispositifs),
                events => choices::options(&available.events),
                max_mb => UPLOAD_MAX / (1024 * 1024),
                format => existing.map(|d| d.format_label()),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn new_form(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let form = DocumentForm {
        category: "compte_rendu".into(),
        published: "on".into(),
        document_date: time::OffsetDateTime::now_utc().date().to_string(),
        ..Default::default()
    };
    render_form(&t, &form, None, FieldErrors::default(), StatusCode::OK).await
}

fn back(t: &InTenant, id: Uuid) -> Response {
    Redirect::to(&format!("/t/{}/documents/{id}", t.tenant().slug)).into_response()
}

pub async fn create(t: InTenant, multipart: CsrfMultipart) -> Result<Response> {
    t.require(can_edit)?;
    let form = DocumentForm::from(&multipart);
    let mut errors = FieldErrors::default();
    let write = parse(&form, &load_choices(&t).await?, &mut errors);
    let file = uploaded(&multipart, &mut errors, true);
    let (Some(write), Some(file), true) = (write, file, errors.is_empty()) else {
        return render_form(&t, &form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let stored = store(&t, &file).await?;
    let mut tx = t.begin().await?;
    let id = documents::create(&mut tx, &write, &stored).await?;
    t.audit(
        &mut tx,
        "document.ajout",
        &write.title,
        serde_json::json!({ "id": id, "file": stored.name, "size": stored.size }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(if write.published {
            format!("Le document « {} » est publié.", write.title.trim())
        } else {
            format!("Le document « {} » est enregistré, non publié.", write.title.trim())
        })
        .await?;
    Ok(back(&t, id))
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let d = documents::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    render_form(
        &t,
        &DocumentForm::of(&d),
        Some(&d),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn update(t: InTenant, Path((_, id)): Path<(String, Uuid)>, multipart: CsrfMultipart) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let existing = documents::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let form = DocumentForm::from(&multipart);
    let mut errors = FieldErrors::default();
    let write = parse(&form, &load_choices(&t).await?, &mut errors);
    let file = uploaded(&multipart, &mut errors, false);
    let (Some(write), true) = (write, errors.is_empty()) else {
        return render_form(&t, &form, Some(&existing), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let stored = match &file {
        Some(f) => Some(store(&t, f).await?),
        None => None,
    };
    let mut tx = t.begin().await?;
    let unused = documents::update(&mut tx, id, &write, stored.as_ref()).await?;
    t.audit(
        &mut tx,
        "document.modification",
        &write.title,
        serde_json::json!({ "id": id, "new_file": stored.as_ref().map(|s| s.name.clone()) }),
    )
    .await?;
    tx.commit().await?;
    if let Some(old) = unused {
        let _ = t.console.app.storage.delete(&old).await;
    }
    t.console.flash("Le document est enregistré.").await?;
    Ok(back(&t, id))
}

pub async fn delete(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let d = documents::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let key = documents::delete(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "document.suppression",
        &d.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    let _ = t.console.app.storage.delete(&key).await;
    t.console
        .flash(format!("Le document « {} » est supprimé.", d.title))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/documents", t.tenant().slug)).into_response())
}
