//! A council's members: added and removed from the dispositif's page.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::{FieldErrors, dispositifs};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::{Echo, Surface};
use crate::frame::InTenant;

pub static SURFACE: Surface = Surface {
    key: "composition",
    template: "console/tenant/components/members.html",
    panel: Some(|_, tx, d, _| {
        async move {
            Ok(Some(
                minijinja::context! { members => Serde(dispositifs::members(tx, d.id).await?) },
            ))
        }
        .boxed()
    }),
    routes,
    paths: &[
        "/t/{slug}/dispositifs/{id}/membres",
        "/t/{slug}/dispositifs/{id}/membres/retrait",
    ],
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route("/t/{slug}/dispositifs/{id}/membres", post(add_member))
        .route("/t/{slug}/dispositifs/{id}/membres/retrait", post(remove_member))
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct MemberForm {
    name: String,
    role: String,
    quality: String,
    member_id: String,
}

fn text(errors: &mut FieldErrors, field: &'static str, value: &str, max: usize, required: bool) -> String {
    let v = value.trim().to_string();
    if required && v.is_empty() {
        errors.push(field, "ce champ est obligatoire");
    } else if v.chars().count() > max {
        errors.push(field, format!("{max} caractères au plus"));
    }
    v
}

async fn add_member(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<MemberForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut errors = FieldErrors::default();
    let name = text(&mut errors, "name", &form.name, 120, true);
    let role = text(&mut errors, "role", &form.role, 80, false);
    let quality = text(&mut errors, "quality", &form.quality, 120, false);
    let back = format!("/t/{}/dispositifs/{id}#composition", t.tenant().slug);
    if !errors.is_empty() {
        return Echo::new(SURFACE.key, &form, errors).page(&t, id).await;
    }
    let mut tx = t.begin().await?;
    dispositifs::add_member(&mut tx, id, &name, &role, &quality).await?;
    t.audit(
        &mut tx,
        "conseil.membre.ajout",
        &name,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!("{name} fait partie de la composition."))
        .await?;
    Ok(Redirect::to(&back).into_response())
}

async fn remove_member(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<MemberForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let member_id: Uuid = form.member_id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    dispositifs::remove_member(&mut tx, id, member_id).await?;
    t.audit(
        &mut tx,
        "conseil.membre.retrait",
        &member_id.to_string(),
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("Le membre est retiré de la composition.").await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}#composition", t.tenant().slug)).into_response())
}
