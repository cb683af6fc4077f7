//! Questions fréquentes: staff add questions with their answers, and delete them.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::components::faq::{self, QuestionWrite};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::{Echo, Surface};
use crate::frame::InTenant;

pub static SURFACE: Surface = Surface {
    key: "questions",
    template: "console/tenant/components/faq.html",
    panel: Some(|_, tx, d, _| {
        async move {
            Ok(Some(
                minijinja::context! { questions => Serde(faq::list(tx, d.id).await?) },
            ))
        }
        .boxed()
    }),
    routes: |r: Router<AppState>| {
        r.route("/t/{slug}/dispositifs/{id}/questions", post(add))
            .route("/t/{slug}/dispositifs/{id}/questions/retrait", post(delete))
    },
    paths: &[
        "/t/{slug}/dispositifs/{id}/questions",
        "/t/{slug}/dispositifs/{id}/questions/retrait",
    ],
};

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct QuestionForm {
    question: String,
    answer: String,
    question_id: String,
}

fn back(t: &InTenant, id: Uuid) -> String {
    format!("/t/{}/dispositifs/{id}#questions", t.tenant().slug)
}

async fn add(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let q = match QuestionWrite::parse(&form.question, &form.answer) {
        Ok(q) => q,
        Err(errors) => return Echo::new(SURFACE.key, &form, errors).page(&t, id).await,
    };
    let mut tx = t.begin().await?;
    participe_core::dispositifs::by_id(&mut tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    faq::add(&mut tx, id, &q).await?;
    t.audit(
        &mut tx,
        "questions.ajout",
        &q.question,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("La question est ajoutée.").await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

async fn delete(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let question: Uuid = form.question_id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    faq::delete(&mut tx, id, question).await?;
    t.audit(
        &mut tx,
        "questions.retrait",
        &question.to_string(),
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("La question est retirée.").await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}
