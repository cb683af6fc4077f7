//! The moderation queue (moderators and admins): reported and hidden contributions and
//! comments, oldest first, with their full text and the reports' reasons; a decision
//! restores an item or moderates it with a public reason. Also the tenant's participants,
//! searchable, whom moderators block from posting or unblock. Every decision is journaled.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::participation::{self as p, Decision, Target};
use participe_core::staff::Role;
use participe_core::{FieldErrors, citizens};
use participe_web::csrf::CsrfForm;
use participe_web::kit::Checked;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::frame::InTenant;

const PAGE: i64 = 50;

/// How the moderation log names each decision.
const DECISIONS: &[(&str, &str)] = &[
    ("moderation.restauration", "Rétabli"),
    ("moderation.moderation", "Modéré"),
    ("participant.blocage", "Compte bloqué"),
    ("participant.deblocage", "Compte débloqué"),
];

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: String,
    q: String,
}

fn page_of(q: &PageQuery) -> i64 {
    participe_web::kit::page_number(&q.page, 10_000)
}

pub async fn queue(t: InTenant, Query(q): Query<PageQuery>) -> Result<Response> {
    t.require(Role::can_moderate)?;
    render_queue(&t, page_of(&q), None, FieldErrors::default(), StatusCode::OK).await
}

/// The queue's page; `failed` is the item whose decision form was refused, shown with
/// its errors beside its field.
async fn render_queue(
    t: &InTenant,
    page: i64,
    failed: Option<(Uuid, &str)>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let mut tx = t.begin().await?;
    let items = p::queue(&mut tx, PAGE + 1, (page - 1) * PAGE).await?;
    let log = participe_core::site::moderation_log(&mut tx, 20).await?;
    tx.commit().await?;
    let more = items.len() as i64 > PAGE;
    let items: Vec<_> = items.into_iter().take(PAGE as usize).collect();
    let reasons: Vec<(String, String)> = p::Reason::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.label().to_string()))
        .collect();
    let html = t
        .render(
            "console/tenant/moderation.html",
            "moderation",
            minijinja::context! {
                items => Serde(items), page, more, errors => Serde(errors), log => Serde(log),
                failed => failed.map(|(id, _)| id.to_string()), typed => failed.map(|(_, r)| r).unwrap_or_default(),
                reason_labels => Serde(reasons.into_iter().collect::<std::collections::HashMap<_, _>>()),
                decision_labels => Serde(DECISIONS.iter().copied().collect::<std::collections::HashMap<_, _>>()),
            },
        )
        .await?;
    Ok((status, html).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    kind: String,
    id: String,
    decision: String,
    reason: String,
}

pub async fn decide(t: InTenant, CsrfForm(form): CsrfForm<DecisionForm>) -> Result<Response> {
    t.require(Role::can_moderate)?;
    let target = Target::parse(&form.kind, &form.id).ok_or(Error::NotFound)?;
    let decision = match form.decision.as_str() {
        "restaurer" => Decision::Restore,
        "moderer" => Decision::Moderate(form.reason.trim().to_string()),
        _ => return Err(Error::BadRequest("décision inconnue".into())),
    };
    if form.reason.chars().count() > 300 {
        return render_queue(
            &t,
            1,
            Some((target.id(), form.reason.as_str())),
            FieldErrors::one("reason", "300 caractères au plus"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let mut tx = t.begin().await?;
    match p::decide(&mut tx, target, &decision).await.checked()? {
        Ok(()) => {}
        Err(errors) => {
            drop(tx);
            return render_queue(
                &t,
                1,
                Some((target.id(), form.reason.as_str())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    }
    let action = match decision {
        Decision::Restore => "moderation.restauration",
        Decision::Moderate(_) => "moderation.moderation",
    };
    t.audit(
        &mut tx,
        action,
        &format!("{} {}", target.kind(), target.id()),
        serde_json::json!({ "motif": form.reason.trim() }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(match decision {
            Decision::Restore => "Le contenu est de nouveau visible ; ses signalements sont classés.",
            Decision::Moderate(_) => "Le contenu est modéré : le motif s'affiche à sa place.",
        })
        .await?;
    Ok(Redirect::to(&format!("/t/{}/moderation", t.tenant().slug)).into_response())
}

pub async fn participants(t: InTenant, Query(q): Query<PageQuery>) -> Result<Response> {
    t.require(Role::can_moderate)?;
    let page = page_of(&q);
    let query = q.q.trim().chars().take(100).collect::<String>();
    let mut tx = t.begin().await?;
    let people = citizens::search(&mut tx, &query, PAGE + 1, (page - 1) * PAGE).await?;
    tx.commit().await?;
    let more = people.len() as i64 > PAGE;
    let people: Vec<_> = people.into_iter().take(PAGE as usize).collect();
    let html = t
        .render(
            "console/tenant/participants.html",
            "participants",
            minijinja::context! { people => Serde(people), page, more, q => query },
        )
        .await?;
    Ok(html.into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct BlockForm {
    id: String,
    block: String,
    reason: String,
}

pub async fn block(t: InTenant, CsrfForm(form): CsrfForm<BlockForm>) -> Result<Response> {
    t.require(Role::can_moderate)?;
    let id = Uuid::parse_str(&form.id).map_err(|_| Error::NotFound)?;
    let reason = form.reason.trim().chars().take(300).collect::<String>();
    let blocking = form.block == "oui";
    let mut tx = t.begin().await?;
    citizens::set_blocked(&mut tx, id, blocking.then_some(reason.as_str())).await?;
    t.audit(
        &mut tx,
        if blocking {
            "participant.blocage"
        } else {
            "participant.deblocage"
        },
        &id.to_string(),
        serde_json::json!({ "motif": reason }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(if blocking {
            "Le compte est bloqué : il peut lire mais plus publier."
        } else {
            "Le compte est débloqué."
        })
        .await?;
    Ok(Redirect::to(&format!("/t/{}/participants", t.tenant().slug)).into_response())
}
