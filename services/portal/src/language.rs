//! The language switch: `/langue/<code>` remembers the choice in a cookie (no session, no
//! JavaScript) and goes back to the page the visitor was on.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use participe_web::{Error, Result};

use crate::Portal;
use crate::frame::LANG_COOKIE;
use participe_web::session::NextQuery;

pub async fn switch(portal: Portal, Path(code): Path<String>, Query(back): Query<NextQuery>) -> Result<Response> {
    if !portal.branding.languages.contains(&code) {
        return Err(Error::NotFound);
    }
    let secure = if portal.app.config.scheme == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{LANG_COOKIE}={code}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}");
    let to = back.next().unwrap_or_else(|| "/".into());
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response())
}
