//! Conditional GET and compression for what readers poll: the Atom and iCalendar feeds and
//! the open data API. Each answer gets a strong `ETag` (a hash of its bytes); a reader that
//! sends it back in `If-None-Match` (or a `Last-Modified` the handler set back in
//! `If-Modified-Since`) gets a bodiless 304 instead of the same bytes again, and one that
//! accepts gzip gets them compressed. Bodies here are small and bounded (feeds hold the
//! latest items, the API pages its lists), so they are read whole.

use std::io::Write;

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

/// Largest body this layer reads: larger ones, and streams, pass through untouched.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Below this, gzip saves less than its own headers cost.
const MIN_GZIP: usize = 1024;

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
const HTTP_DATE: &[time::format_description::FormatItem<'static>] =
    format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");

/// A time as a `Last-Modified` header value.
pub fn http_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(HTTP_DATE).unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE)
        .ok()
        .map(|t| t.assume_utc())
}

pub async fn respond(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let asked = req.headers().clone();
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A body of unknown or large size (a resource's whole CSV) goes out as it is.
    if body.size_hint().upper().is_none_or(|n| n > MAX_BODY as u64) {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let digest = Sha256::digest(&bytes);
    let tag = format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    let headers = &mut parts.headers;
    if let Ok(v) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if unchanged(&asked, headers, &tag) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [header::ETAG, header::LAST_MODIFIED, header::CACHE_CONTROL, header::VARY] {
            if let Some(v) = headers.get(&name) {
                not_modified.headers_mut().insert(name, v.clone());
            }
        }
        return not_modified;
    }
    if bytes.len() >= MIN_GZIP && accepts_gzip(&asked) && !headers.contains_key(header::CONTENT_ENCODING) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if gz.write_all(&bytes).is_ok()
            && let Ok(zipped) = gz.finish()
        {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::from(zipped));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether the reader already holds this answer: its `If-None-Match` names the tag, or,
/// without one, its `If-Modified-Since` is not before the answer's `Last-Modified`.
fn unchanged(asked: &HeaderMap, answer: &HeaderMap, tag: &str) -> bool {
    if let Some(tags) = asked.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        });
    }
    let since = asked
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let modified = answer
        .get(header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    matches!((since, modified), (Some(s), Some(m)) if m <= s)
}

fn accepts_gzip(asked: &HeaderMap) -> bool {
    asked
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                (name == "gzip" || name == "*") && !refused
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn through(body: Body, headers: &[(&'static str, &'static str)]) -> Response {
        use tower::ServiceExt;
        let body = std::sync::Mutex::new(Some(body));
        let body = std::sync::Arc::new(body);
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { Response::new(body.lock().unwrap().take().unwrap_or_default()) }
                }),
            )
            .layer(axum::middleware::from_fn(respond));
        let mut req = axum::http::Request::builder().uri("/");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn small_answers_get_a_tag_and_large_ones_pass_untouched() {
        let small = through(Body::from("x".repeat(2000)), &[("accept-encoding", "gzip")]).await;
        assert!(small.headers().contains_key(header::ETAG));
        assert_eq!(small.headers()[header::CONTENT_ENCODING], "gzip");
        let large = "y".repeat(MAX_BODY + 1);
        let big = through(Body::from(large.clone()), &[]).await;
        assert_eq!(big.status(), StatusCode::OK);
        assert!(!big.headers().contains_key(header::ETAG));
        assert_eq!(to_bytes(big.into_body(), usize::MAX).await.unwrap().len(), large.len());
    }

    #[test]
    fn http_dates_round_trip() {
        let t = time::macros::datetime!(2026-12-03 17:30:05 UTC);
        assert_eq!(http_date(t), "Thu, 03 Dec 2026 17:30:05 GMT");
        assert_eq!(parse_http_date("Thu, 03 Dec 2026 17:30:05 GMT"), Some(t));
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0, br"));
        assert!(!with("identity"));
    }
}
