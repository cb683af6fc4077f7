//! Vote in the console: the questions on the dispositif's page (added and removed until the
//! first ballot), and the turnout and results page.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::ballots;
use participe_core::components::vote::{self as component, QuestionInput};
use participe_core::components::{self as core};
use participe_core::dispositifs::{self, Dispositif};
use participe_core::{FieldErrors, TenantTx};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::{Echo, Surface};
use crate::frame::InTenant;

pub static SURFACE: Surface = Surface {
    key: "vote",
    template: "console/tenant/components/vote.html",
    panel: Some(|_, tx, d, _| {
        async move {
            let turnout = ballots::turnout(tx, d.id).await?;
            Ok(Some(minijinja::context! {
                questions => Serde(component::questions(tx, d.id).await?), turnout => Serde(turnout),
                voted => turnout.online + turnout.paper > 0,
            }))
        }
        .boxed()
    }),
    routes: |r: Router<AppState>| {
        r.route("/t/{slug}/dispositifs/{id}/vote/questions", post(add))
            .route("/t/{slug}/dispositifs/{id}/vote/questions/retrait", post(remove))
            .route("/t/{slug}/dispositifs/{id}/vote/resultats", get(results_page))
            .route("/t/{slug}/dispositifs/{id}/vote/papier", get(paper_page).post(paper))
    },
    paths: &[
        "/t/{slug}/dispositifs/{id}/vote/papier",
        "/t/{slug}/dispositifs/{id}/vote/questions",
        "/t/{slug}/dispositifs/{id}/vote/questions/retrait",
        "/t/{slug}/dispositifs/{id}/vote/resultats",
    ],
};

fn back(t: &InTenant, id: Uuid) -> String {
    format!("/t/{}/dispositifs/{id}#vote", t.tenant().slug)
}

async fn vote(tx: &mut TenantTx, id: Uuid) -> Result<(Dispositif, core::Instance)> {
    let d = dispositifs::by_id(tx, id).await?.ok_or(Error::NotFound)?;
    let i = core::of(tx, id)
        .await?
        .into_iter()
        .find(|i| i.key() == component::MANIFEST.key && !i.removed)
        .ok_or(Error::NotFound)?;
    Ok((d, i))
}

const FROZEN: &str = "Des bulletins sont déjà dans l'urne : les questions ne peuvent plus changer.";

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct QuestionForm {
    vote_question: String,
    vote_options: String,
    vote_max_choices: String,
    vote_blank: String,
    question_id: String,
}

async fn add(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let (d, _) = vote(&mut tx, id).await?;
    if ballots::any_cast(&mut tx, d.id).await? {
        drop(tx);
        t.console.flash(FROZEN).await?;
        return Ok(Redirect::to(&back(&t, id)).into_response());
    }
    let q = match QuestionInput::parse(
        &form.vote_question,
        &form.vote_options,
        &form.vote_max_choices,
        form.vote_blank == "on",
    ) {
        Ok(q) => q,
        Err(errors) => {
            drop(tx);
            return Echo::new(SURFACE.key, &form, errors.prefixed("vote_"))
                .page(&t, id)
                .await;
        }
    };
    component::add_question(&mut tx, d.id, &q).await?;
    t.audit(
        &mut tx,
        "vote.question.ajout",
        &q.question,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("La question est ajoutée au vote.").await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

async fn remove(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let question: Uuid = form.question_id.parse().map_err(|_| Error::NotFound)?;
    let mut tx = t.begin().await?;
    let (d, _) = vote(&mut tx, id).await?;
    if ballots::any_cast(&mut tx, d.id).await? {
        drop(tx);
        t.console.flash(FROZEN).await?;
        return Ok(Redirect::to(&back(&t, id)).into_response());
    }
    component::remove_question(&mut tx, d.id, question).await?;
    t.audit(
        &mut tx,
        "vote.question.retrait",
        &question.to_string(),
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("La question est retirée du vote.").await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

/// Turnout at any time; the results only when the portal shows them.
async fn results_page(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let (d, i) = vote(&mut tx, id).await?;
    let turnout = ballots::turnout(&mut tx, d.id).await?;
    let public = component::results_public(&i, &d, time::OffsetDateTime::now_utc().date());
    let results = if public {
        component::results(&mut tx, d.id).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let page = t
        .render(
            "console/tenant/vote/results.html",
            "dispositifs",
            minijinja::context! { d => Serde(&d), turnout => Serde(turnout), public, results => Serde(results) },
        )
        .await?;
    Ok(page.into_response())
}

async fn render_paper(
    t: &InTenant,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &core::Instance,
    fields: &HashMap<String, String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let questions = component::questions(tx, d.id).await?;
    let page = t
        .render(
            "console/tenant/vote/paper.html",
            "dispositifs",
            minijinja::context! {
                d => Serde(d), questions => Serde(questions), form => Serde(fields), errors => Serde(errors),
                census => i.settings.bool(core::CENSUS), desk => super::desk::typed(fields),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

async fn paper_page(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let (d, i) = vote(&mut tx, id).await?;
    let answer = render_paper(
        &t,
        &mut tx,
        &d,
        &i,
        &HashMap::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await;
    tx.commit().await?;
    answer
}

/// A paper ballot from the desk, into the same box and roll as the portal's (`desk`).
async fn paper(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(fields): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let mut tx = t.begin().await?;
    let (d, i) = vote(&mut tx, id).await?;
    let mut errors = FieldErrors::default();
    let voter = super::desk::voter(&t, &mut tx, &d, &i, component::VOTE, &fields, &mut errors).await?;
    let Some(voter) = voter.filter(|_| errors.is_empty()) else {
        // The ballot's own errors too, so that the desk mends everything at once.
        let questions = component::questions(&mut tx, d.id).await?;
        if let Err(more) = component::check(&questions, &fields) {
            errors.0.extend(more.0);
        }
        return render_paper(&t, &mut tx, &d, &i, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    if let Err(errors) = component::cast_on(&mut tx, d.id, &voter, &fields, ballots::Channel::Paper).await? {
        return render_paper(&t, &mut tx, &d, &i, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // The audit names the desk's action, never the voter or the ballot.
    t.audit(
        &mut tx,
        "vote.bulletin_papier",
        &d.title,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("Le bulletin papier est dans l'urne, et la personne est inscrite sur la liste des votant·es.")
        .await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}/vote/papier", t.tenant().slug)).into_response())
}
