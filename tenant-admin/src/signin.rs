//! The end of a staff sign-in, whichever way the account was proven (a password here, the
//! console's identity provider in `oidc`): the second factor when it is enabled, then the
//! session, then back to the page that asked for it.

use axum::response::{IntoResponse, Redirect, Response};
use participe_core::staff;
use participe_web::{Result, session};
use uuid::Uuid;

use crate::frame::Console;

pub(crate) use participe_web::signin::NEXT;
/// The session key of an account whose password was right and whose code is awaited.
pub(crate) const PENDING_TOTP: &str = "pending_totp";

/// Once the account is proven (password, or the console's identity provider): the second
/// factor when enabled, else the session.
pub(crate) async fn after_password(console: &Console, staff: &staff::Staff) -> Result<Response> {
    if staff.totp_enabled {
        console.session.cycle_id().await.map_err(session::session_error)?;
        console
            .session
            .insert(PENDING_TOTP, staff.id)
            .await
            .map_err(session::session_error)?;
        return Ok(Redirect::to("/connexion/code").into_response());
    }
    finish_login(console, staff).await
}

pub(crate) async fn finish_login(console: &Console, staff: &staff::Staff) -> Result<Response> {
    let next = participe_web::signin::take_next(&console.session).await?;
    console
        .session
        .remove::<Uuid>(PENDING_TOTP)
        .await
        .map_err(session::session_error)?;
    console.sign_in(staff).await?;
    Ok(Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response())
}
