//! `/theme.css`: the tenant's colours as CSS custom properties. A stylesheet rather than
//! an inline `<style>`, so the CSP can forbid inline styles. Pages link it with the
//! settings' version, so it may be cached for long.

use axum::extract::Query;
use axum::http::header;
use axum::response::IntoResponse;
use participe_web::Result;

use crate::Portal;

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<i64>,
}

pub async fn css(portal: Portal, Query(version): Query<Version>) -> Result<impl IntoResponse> {
    let b = &portal.branding;
    let css = format!(
        ":root{{--primary:{};--primary-text:{};--secondary:{};--secondary-text:{};}}\n",
        b.primary_colour, b.primary_text, b.secondary_colour, b.secondary_text
    );
    let cache = if version.v == Some(b.version) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        css,
    ))
}
