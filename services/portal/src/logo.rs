//! `/logo`: the portal's logo from the storage, as uploaded by its staff (content-checked
//! at upload). Linked with the settings' version, so it may be cached for long.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use participe_web::{AppState, Error, Result};

use crate::Portal;

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<i64>,
}

pub async fn show(State(app): State<AppState>, portal: Portal, Query(version): Query<Version>) -> Result<Response> {
    let key = portal.branding.logo_path.as_deref().ok_or(Error::NotFound)?;
    let (bytes, content_type) = app
        .storage
        .get_image(key)
        .await
        .map_err(|e| Error::Unexpected(format!("logo: {e}")))?
        .ok_or(Error::NotFound)?;
    let cache = if version.v == Some(portal.branding.version) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, cache)],
        bytes,
    )
        .into_response())
}
