//! News (admins and editors): posts in Markdown with a cover image (checked by content,
//! size-limited, stored through the storage abstraction) and its text alternative, a
//! dispositif, and a publication time — now, later (scheduled), or not yet (draft).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::domain::local_time;
use participe_core::news::{self, Cover, PostWrite};
use participe_core::staff::Role;
use participe_storage::{Storage, check_image};
use participe_web::csrf::{CsrfForm, CsrfMultipart, Empty};
use participe_web::{Error, Result};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::choices::{self, Choice};
use crate::frame::InTenant;

/// Largest cover image accepted: enough for a photo, small enough for a phone to load.
pub const COVER_MAX_BYTES: usize = 2 * 1024 * 1024;

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn list(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let posts = news::for_console(&mut tx, 500).await?;
    tx.commit().await?;
    let now = OffsetDateTime::now_utc();
    let rows: Vec<_> = posts
        .iter()
        .map(|p| minijinja::context! { p => Serde(p), public => p.is_public(now) })
        .collect();
    Ok(
        t.render("console/tenant/news.html", "actualites", minijinja::context! { rows })
            .await?
            .into_response(),
    )
}

/// The form as typed (the file input never comes back: browsers do not allow it).
#[derive(Debug, Default, Clone, serde::Serialize)]
struct PostForm {
    title: String,
    summary: String,
    body: String,
    cover_alt: String,
    dispositif: String,
    published: String,
    published_at: String,
}

impl PostForm {
    fn from(form: &CsrfMultipart) -> PostForm {
        PostForm {
            title: form.field("title"),
            summary: form.field("summary"),
            body: form.field("body"),
            cover_alt: form.field("cover_alt"),
            dispositif: form.field("dispositif"),
            published: form.field("published"),
            published_at: form.field("published_at"),
        }
    }

    fn of(p: &news::Post) -> PostForm {
        PostForm {
            title: p.title.clone(),
            summary: p.summary.clone(),
            body: p.body.clone(),
            cover_alt: p.cover_alt.clone(),
            dispositif: p.dispositif_id.map(|d| d.to_string()).unwrap_or_default(),
            published: if p.published_at.is_some() {
                "on".into()
            } else {
                String::new()
            },
            published_at: p.published_at.map(local_time::to_local_input).unwrap_or_default(),
        }
    }

    fn parse(&self, errors: &mut FieldErrors, dispositifs: &[Choice]) -> PostWrite {
        let dispositif_id = choices::pick(errors, "dispositif", &self.dispositif, dispositifs);
        let published_at = match (self.published == "on", self.published_at.trim()) {
            (false, _) => None,
            (true, "") => Some(OffsetDateTime::now_utc()),
            (true, at) => errors.check("published_at", local_time::parse_local(at)),
        };
        PostWrite {
            title: self.title.clone(),
            summary: self.summary.clone(),
            body: self.body.clone(),
            cover_alt: self.cover_alt.clone(),
            dispositif_id,
            published_at,
        }
    }
}

async fn render_form(
    t: &InTenant,
    form: &PostForm,
    existing: Option<&news::Post>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let options = choices::options(&choices::dispositifs(t).await?);
    let page = t
        .render(
            "console/tenant/news_form.html",
            "actualites",
            minijinja::context! {
                form => Serde(form), errors => Serde(errors), options, existing => existing.map(Serde),
                public => existing.is_some_and(|p| p.is_public(OffsetDateTime::now_utc())),
                max_kb => COVER_MAX_BYTES / 1024,
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn new_form(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let form = PostForm {
        published: "on".into(),
        ..Default::default()
    };
    render_form(&t, &form, None, FieldErrors::default(), StatusCode::OK).await
}

/// The uploaded cover, checked by its bytes; an error is said beside the field.
fn uploaded_cover(form: &CsrfMultipart, errors: &mut FieldErrors) -> Option<(participe_storage::ImageKind, Vec<u8>)> {
    let upload = form.files.get("cover")?;
    match check_image(&upload.bytes, COVER_MAX_BYTES) {
        Ok((kind, _)) => Some((kind, upload.bytes.clone())),
        Err(refused) => {
            errors.push("cover", format!("{refused} ; choisissez à nouveau le fichier"));
            None
        }
    }
}

async fn store_cover(t: &InTenant, cover: &(participe_storage::ImageKind, Vec<u8>)) -> Result<String> {
    let key = Storage::image_key(t.tenant().id, "news", cover.0, &cover.1);
    t.console
        .app
        .storage
        .put(&key, &cover.1)
        .await
        .map_err(|e| Error::Unexpected(format!("storing a cover: {e}")))?;
    Ok(key)
}

fn back(t: &InTenant, id: Uuid) -> Response {
    Redirect::to(&format!("/t/{}/actualites/{id}", t.tenant().slug)).into_response()
}

fn saved(p: &PostWrite) -> String {
    match p.published_at {
        None => "L'actualité est enregistrée en brouillon.".into(),
        Some(at) if at > OffsetDateTime::now_utc() => format!(
            "L'actualité est programmée : elle paraîtra le {} à {}.",
            local_time::day_fr(at),
            local_time::hour_fr(at)
        ),
        Some(_) => "L'actualité est publiée sur le portail.".into(),
    }
}

pub async fn create(t: InTenant, multipart: CsrfMultipart) -> Result<Response> {
    t.require(can_edit)?;
    let form = PostForm::from(&multipart);
    let mut errors = FieldErrors::default();
    let write = form.parse(&mut errors, &choices::dispositifs(&t).await?);
    let cover = uploaded_cover(&multipart, &mut errors);
    if let Err(more) = write.check(cover.is_some()) {
        errors.0.extend(more.0);
    }
    if !errors.is_empty() {
        return render_form(&t, &form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let key = match &cover {
        Some(c) => Some(store_cover(&t, c).await?),
        None => None,
    };
    let mut tx = t.begin().await?;
    let id = news::create(&mut tx, &write, key.as_deref()).await?;
    t.audit(
        &mut tx,
        "actualite.creation",
        &write.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash(saved(&write)).await?;
    Ok(back(&t, id))
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let p = news::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    render_form(&t, &PostForm::of(&p), Some(&p), FieldErrors::default(), StatusCode::OK).await
}

pub async fn update(t: InTenant, Path((_, id)): Path<(String, Uuid)>, multipart: CsrfMultipart) -> Result<Response> {
    t.require(can_edit)?;
    let ids = choices::dispositifs(&t).await?;
    let mut tx = t.begin().await?;
    let existing = news::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    let form = PostForm::from(&multipart);
    let mut errors = FieldErrors::default();
    let write = form.parse(&mut errors, &ids);
    let cover = uploaded_cover(&multipart, &mut errors);
    let remove = multipart.fields.contains_key("remove_cover");
    let will_have_cover = cover.is_some() || (existing.cover_key.is_some() && !remove);
    if let Err(more) = write.check(will_have_cover) {
        errors.0.extend(more.0);
    }
    if !errors.is_empty() {
        return render_form(&t, &form, Some(&existing), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let change = match (&cover, remove) {
        (Some(c), _) => Cover::Replace(store_cover(&t, c).await?),
        (None, true) => Cover::Remove,
        (None, false) => Cover::Keep,
    };
    let mut tx = t.begin().await?;
    let unused = news::update(&mut tx, id, &write, &change).await?;
    t.audit(
        &mut tx,
        "actualite.modification",
        &write.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    // The old file goes once nothing points at it any more.
    if let Some(old) = unused {
        let _ = t.console.app.storage.delete(&old).await;
    }
    t.console.flash(saved(&write)).await?;
    Ok(back(&t, id))
}

pub async fn delete(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let p = news::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let cover = news::delete(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "actualite.suppression",
        &p.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    if let Some(key) = cover {
        let _ = t.console.app.storage.delete(&key).await;
    }
    t.console
        .flash(format!("L'actualité « {} » est supprimée.", p.title))
        .await?;
    Ok(Redirect::to(&format!("/t/{}/actualites", t.tenant().slug)).into_response())
}
