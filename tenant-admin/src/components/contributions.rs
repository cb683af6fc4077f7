//! A call's livret d'expression: staff ask for one (compiled in the background) and
//! download it. The themes are edited with the dispositif (they shape its form).

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::booklets;
use participe_web::csrf::{CsrfForm, Empty};
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::Surface;
use crate::frame::InTenant;

pub static SURFACE: Surface = Surface {
    key: "contributions",
    template: "console/tenant/components/booklet.html",
    panel: Some(|_, tx, d, _| {
        async move {
            let booklet = booklets::latest(tx, d.id).await?;
            Ok(Some(minijinja::context! { booklet => booklet.map(Serde) }))
        }
        .boxed()
    }),
    routes,
    paths: &[
        "/t/{slug}/dispositifs/{id}/livret",
        "/t/{slug}/dispositifs/{id}/livret/{booklet}/{format}",
    ],
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route("/t/{slug}/dispositifs/{id}/livret", post(request_booklet))
        .route(
            "/t/{slug}/dispositifs/{id}/livret/{booklet}/{format}",
            get(booklet_file),
        )
}

/// Asks for a new « livret d'expression » of a call (made in the background).
async fn request_booklet(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let d = participe_core::dispositifs::by_id(&mut tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    // Calls compile their contributions, budgets their projects.
    let hosted = super::hosted(&mut tx, &d).await?;
    if !hosted.contains(&SURFACE.key) && !hosted.contains(&"budget") {
        return Err(Error::NotFound);
    }
    let booklet = booklets::request(&mut tx, id, &t.staff().email.to_string()).await?;
    t.audit(
        &mut tx,
        "livret.demande",
        &d.title,
        serde_json::json!({ "booklet": booklet }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("Le livret d'expression est en préparation : sa progression s'affiche ci-dessous (actualisez la page).")
        .await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}#livret", t.tenant().slug)).into_response())
}

/// A booklet's file, for staff (the portal offers only the latest ready one).
async fn booklet_file(
    t: InTenant,
    Path((_, id, booklet, format)): Path<(String, Uuid, Uuid, String)>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let b = booklets::by_id(&mut tx, booklet)
        .await?
        .filter(|b| b.dispositif_id == id)
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    participe_web::booklet_file::serve(&t.console.app.storage, &b, &format).await
}
