//! A vote's census list (`participe_core::census`): staff upload it as CSV from the
//! dispositif's page; it replaces the previous list whole, or nothing when a line is wrong.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::components::{self, CENSUS, Instance, MIN_AGE};
use participe_core::{census, dispositifs};
use participe_web::csrf::CsrfMultipart;
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::frame::InTenant;

/// The dispositif's vote that may have a list: its budget or its questions.
async fn vote_of(t: &InTenant, id: Uuid) -> Result<(dispositifs::Dispositif, Instance)> {
    let mut tx = t.begin().await?;
    let d = dispositifs::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let i = components::of(&mut tx, id)
        .await?
        .into_iter()
        .find(|i| !i.removed && i.manifest.settings.iter().any(|s| s.key == CENSUS))
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok((d, i))
}

async fn render(
    t: &InTenant,
    d: &dispositifs::Dispositif,
    i: &Instance,
    problems: Vec<String>,
    status: StatusCode,
) -> Result<Response> {
    let mut tx = t.begin().await?;
    let size = census::size(&mut tx, d.id).await?;
    tx.commit().await?;
    let page = t
        .render(
            "console/tenant/census.html",
            "dispositifs",
            minijinja::context! {
                d => Serde(d), size, problems, required => i.settings.bool(CENSUS),
                min_age => i.settings.integer(MIN_AGE), sealing => t.console.app.config.secret_key.is_some(),
                configure => format!("/t/{}/dispositifs/{}/composants/{}", t.tenant().slug, d.id, i.id),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn page(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let (d, i) = vote_of(&t, id).await?;
    render(&t, &d, &i, Vec::new(), StatusCode::OK).await
}

pub async fn upload(t: InTenant, Path((_, id)): Path<(String, Uuid)>, form: CsrfMultipart) -> Result<Response> {
    t.require(|r| r.can_edit_content())?;
    let (d, i) = vote_of(&t, id).await?;
    let Some(key) = t.console.app.config.secret_key.clone() else {
        let problem =
            "la plateforme n'a pas de clé secrète (PARTICIPE_SECRET_KEY) : la liste ne peut pas être protégée"
                .to_string();
        return render(&t, &d, &i, vec![problem], StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let Some(file) = form.files.get("liste").filter(|f| !f.bytes.is_empty()) else {
        return render(
            &t,
            &d,
            &i,
            vec!["choisissez le fichier CSV de la liste".into()],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let vote_phase = i.manifest.phases.iter().find(|p| p.key == "vote").map(|p| p.key);
    let closes_on = vote_phase
        .and_then(|p| i.phase_dates(p, &d).to)
        .or(d.closes_on)
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let min_age = i32::try_from(i.settings.integer(MIN_AGE)).unwrap_or(0);
    let (entries, report) = match census::parse(&key, d.id, &file.bytes, min_age, closes_on) {
        Ok(parsed) => parsed,
        Err(problems) => return render(&t, &d, &i, problems, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let mut tx = t.begin().await?;
    census::replace(&mut tx, d.id, &entries).await?;
    t.audit(
        &mut tx,
        "vote.liste",
        &d.title,
        serde_json::json!({ "dispositif": id, "personnes": report.listed, "sous_age_minimal": report.under_age }),
    )
    .await?;
    tx.commit().await?;
    let said = match report.under_age {
        0 => format!("La liste compte {} personne(s).", report.listed),
        n => format!(
            "La liste compte {} personne(s) ; {n} ligne(s) laissée(s) de côté : âge inférieur à {min_age} ans au dernier jour du vote.",
            report.listed
        ),
    };
    t.console.flash(said).await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}/liste-electorale", t.tenant().slug)).into_response())
}
