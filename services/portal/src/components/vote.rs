//! Vote on the portal: the questions (section), the ballot — one page, a fieldset per
//! question, kept as answered when one is missing — the receipt, and the results at the
//! close with the published box.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt;
use minijinja::value::Serde;
use participe_core::ballots;
use participe_core::components::vote::{self as component, Question};
use participe_core::components::{self, Instance};
use participe_core::dispositifs::Dispositif;
use participe_core::{FieldErrors, TenantTx};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};

use super::{Surface, open, verified_only};
use crate::Portal;
use crate::kit::message;

pub static SURFACE: Surface = Surface {
    key: "vote",
    template: "portal/components/vote.html",
    section: |portal, tx, space| {
        async move {
            let (d, i) = (space.d, space.instance);
            let questions = component::questions(tx, d.id).await?;
            Ok(Some(minijinja::context! {
                questions => Serde(questions),
                open => open(d, i, component::VOTE), signed_in => portal.citizen.is_some(),
                verified => verified_only(i, component::VOTE), results => component::results_public(i, d, today()),
                dates => Serde(i.phase_dates(component::PHASE, d)),
            }))
        }
        .boxed()
    },
    routes,
    paths: &[
        "/participer/{slug}/vote/bulletin",
        "/participer/{slug}/vote/resultats",
        "/participer/{slug}/vote/bulletins.json",
    ],
    shared: true,
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route("/participer/{slug}/vote/bulletin", get(ballot_page).post(cast))
        .route("/participer/{slug}/vote/resultats", get(results_page))
        .route("/participer/{slug}/vote/bulletins.json", get(box_json))
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

async fn vote(tx: &mut TenantTx, slug: &str) -> Result<(Dispositif, Instance)> {
    super::hosting(tx, slug, component::MANIFEST.key).await
}

async fn render_ballot(
    portal: &Portal,
    d: &Dispositif,
    i: &Instance,
    questions: &[Question],
    fields: &HashMap<String, String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let page = portal
        .render_form(
            "portal/vote/ballot.html",
            "/participer",
            minijinja::context! {
                d => Serde(d), questions => Serde(questions), form => Serde(fields), errors => Serde(errors),
                census => i.settings.bool(components::CENSUS),
                conditions => Serde(participe_core::residence::Conditions::of(i)),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

/// The gate of the ballot: the page that says why not, or the voter.
async fn voter(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
) -> Result<std::result::Result<ballots::Voter, Response>> {
    let back = format!("/participer/{}/vote/bulletin", d.slug);
    let voted = "Vous avez déjà voté : un bulletin déposé est définitif. Votre code de vérification vous permettra de retrouver votre bulletin dans l'urne publiée à la clôture.";
    super::ballot_gate(portal, tx, d, i, component::VOTE, &back, voted).await
}

async fn ballot_page(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = vote(&mut tx, &slug).await?;
    if let Err(answer) = voter(&portal, &mut tx, &d, &i).await? {
        return Ok(answer);
    }
    let questions = component::questions(&mut tx, d.id).await?;
    tx.commit().await?;
    render_ballot(
        &portal,
        &d,
        &i,
        &questions,
        &HashMap::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn cast(
    portal: Portal,
    Path(slug): Path<String>,
    CsrfForm(fields): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = vote(&mut tx, &slug).await?;
    let voter = match voter(&portal, &mut tx, &d, &i).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    let checked = super::eligible_voter(&portal, &mut tx, &d, &i, &fields, &[], voter).await?;
    let voter = match checked {
        Ok(v) => v,
        Err(errors) => {
            let questions = component::questions(&mut tx, d.id).await?;
            drop(tx);
            return render_ballot(
                &portal,
                &d,
                &i,
                &questions,
                &fields,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match component::cast(&mut tx, d.id, &voter, &fields).await? {
        Ok(receipt) => {
            tx.commit().await?;
            super::receipt_page(&portal, &d, &receipt).await
        }
        Err(errors) => {
            let questions = component::questions(&mut tx, d.id).await?;
            drop(tx);
            render_ballot(
                &portal,
                &d,
                &i,
                &questions,
                &fields,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn results_page(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = vote(&mut tx, &slug).await?;
    if !component::results_public(&i, &d, today()) {
        return message(
            &portal,
            StatusCode::OK,
            "Résultats à venir",
            "Les résultats seront publiés à la clôture du vote.",
        )
        .await;
    }
    let results = component::results(&mut tx, d.id).await?;
    let turnout = ballots::turnout(&mut tx, d.id).await?;
    let digest = if component::box_public(&i, &d, today()) {
        Some(ballots::published(&mut tx, d.id).await?.sha256)
    } else {
        None
    };
    tx.commit().await?;
    let page = portal
        .render(
            "portal/vote/results.html",
            "/participer",
            minijinja::context! { d => Serde(&d), results => Serde(results), turnout => Serde(turnout), digest },
        )
        .await?;
    Ok(page.into_response())
}

async fn box_json(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = vote(&mut tx, &slug).await?;
    if !component::box_public(&i, &d, today()) {
        return Err(Error::NotFound);
    }
    let answer = super::published_box(&mut tx, &d).await?;
    tx.commit().await?;
    Ok(answer)
}
