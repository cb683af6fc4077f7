//! The communes of the territory (`core::residence`): the list votes open to residents only
//! check a voter's postal code against, and the communes budget envelopes are made of.
//! Staff paste it from a spreadsheet (code INSEE ; nom ; codes postaux); a commune's
//! console starts from its own INSEE code in the registry.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::residence;
use participe_core::staff::Role;
use participe_web::Result;
use participe_web::csrf::CsrfForm;

use crate::frame::InTenant;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CommunesForm {
    communes: String,
}

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn show(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let listed = residence::communes(&mut tx).await?;
    tx.commit().await?;
    let communes = if listed.is_empty() {
        // A commune starts from itself, as the registry knows it.
        participe_core::fleet::registry::details(&t.console.app.pool, &t.tenant().slug)
            .await?
            .insee_code
            .filter(|code| residence::is_insee(code))
            .map(|insee| format!("{insee} ; {} ; ", t.tenant().name))
            .unwrap_or_default()
    } else {
        residence::format_list(&listed)
    };
    render(
        &t,
        CommunesForm { communes },
        listed.len(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    t: &InTenant,
    form: CommunesForm,
    count: usize,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let page = t
        .render(
            "console/tenant/communes.html",
            "communes",
            minijinja::context! { form => Serde(&form), errors => Serde(errors), count },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn update(t: InTenant, CsrfForm(form): CsrfForm<CommunesForm>) -> Result<Response> {
    t.require(can_edit)?;
    let list = match residence::parse_list(&form.communes) {
        Ok(list) => list,
        Err(errors) => {
            let mut tx = t.begin().await?;
            let count = residence::communes(&mut tx).await?.len();
            tx.commit().await?;
            return render(&t, form, count, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let mut tx = t.begin().await?;
    residence::replace(&mut tx, &list).await?;
    t.audit(
        &mut tx,
        "communes.modification",
        "",
        serde_json::json!({ "communes": list.len() }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(match list.len() {
            0 => "La liste des communes est vide.".to_string(),
            1 => "La liste compte une commune.".to_string(),
            n => format!("La liste compte {n} communes."),
        })
        .await?;
    Ok(Redirect::to(&format!("/t/{}/communes", t.tenant().slug)).into_response())
}
