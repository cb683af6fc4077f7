//! Stopping the reports mail in one click (RFC 8058). The link in each reports mail
//! carries its membership's capability, so it works without signing in: a mail provider
//! POSTs `List-Unsubscribe=One-Click` to it, a person opens it and presses the button, and
//! the same page can start the mail again. It has no CSRF token to check: the token in the
//! address is the only thing that can change this one setting of this one membership.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use participe_core::staff;
use participe_web::kit::parse_id;
use participe_web::{Error, Result};

use crate::frame::Console;
use crate::kit::message;

pub async fn show(console: Console, Path(token): Path<String>) -> Result<Html<String>> {
    let token = parse_id(&token)?;
    let (site_name, on) = staff::reports_mail(&console.app.pool, token)
        .await?
        .ok_or(Error::NotFound)?;
    console
        .render(
            "console/unsubscribe.html",
            minijinja::context! { site_name, on, token => token.to_string() },
        )
        .await
}

/// `reprendre=oui` starts the mail again; anything else (a mail provider's one-click
/// `List-Unsubscribe=One-Click`, the page's button) stops it.
pub async fn apply(console: Console, Path(token): Path<String>, body: Bytes) -> Result<Response> {
    let token = parse_id(&token)?;
    let again = body.split(|&b| b == b'&').any(|kv| kv == b"reprendre=oui");
    let site_name = staff::set_reports_mail(&console.app.pool, token, again)
        .await?
        .ok_or(Error::NotFound)?;
    let text = if again {
        format!("Vous recevrez de nouveau un courriel quand un contenu du portail « {site_name} » est signalé.")
    } else {
        format!(
            "Vous ne recevrez plus de courriel quand un contenu du portail « {site_name} » est signalé. Les signalements restent dans la file de modération de la console."
        )
    };
    let title = if again {
        "Courriels rétablis"
    } else {
        "Désabonnement enregistré"
    };
    Ok(message(&console, title, &text).await?.into_response())
}
