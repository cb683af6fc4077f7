//! The portal's page kit: a form page shown again with what was typed and its errors, a
//! page that only says something, and the choices every sign-up form offers. Each surface's
//! module uses these, so that none imports another for them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::citizens::Profile;
use participe_web::Result;

use crate::Portal;

/// Renders a form page with what was typed and the errors beside their fields.
pub async fn form_page(
    portal: &Portal,
    template: &str,
    form: impl serde::Serialize,
    errors: FieldErrors,
    status: StatusCode,
    extra: minijinja::Value,
) -> Result<Response> {
    let page = portal
        .render_form(
            template,
            "",
            minijinja::context! { form => Serde(form), errors => Serde(errors), ..extra },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn message(portal: &Portal, status: StatusCode, title: &str, text: &str) -> Result<Response> {
    let page = portal
        .render("portal/message.html", "", minijinja::context! { title, text })
        .await?;
    Ok((status, page).into_response())
}

pub fn profiles() -> Vec<minijinja::Value> {
    Profile::ALL
        .iter()
        .map(|p| minijinja::context! { value => p.as_str(), label => p.label() })
        .collect()
}

/// A page's description for search engines and link previews: `text` on one line, cut on
/// a word before 200 characters.
pub fn description_of(text: &str) -> String {
    const MAX: usize = 200;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX {
        return line;
    }
    let cut: String = line.chars().take(MAX).collect();
    let end = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end_matches([',', ';', ':', '.']))
}
