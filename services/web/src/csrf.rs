//! Cross-site request forgery protection for form posts: the synchronizer-token pattern
//! (OWASP) on top of the server-side session, plus a refusal of any unsafe request the
//! browser labels cross-site (`Sec-Fetch-Site`) or whose `Origin` is another host.
//!
//! Why not a crate: the maintained axum CSRF crates are double-submit cookies (a second
//! cookie, no tie to our sessions); with server-side sessions already there, the
//! synchronizer token is a random value kept in the session and compared in constant time.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::dispatch::has_encoded_control_in;
use crate::session::{bind, request_host, session_error};
use crate::{Error, Result};

const KEY: &str = "_csrf";
/// Name of the hidden field every form carries.
pub const FIELD: &str = "csrf";

/// The session's token, created (and the session bound to its host) on first use.
pub async fn token(session: &Session, host: &str) -> Result<String> {
    if let Some(t) = session.get::<String>(KEY).await.map_err(session_error)? {
        return Ok(t);
    }
    bind(session, host).await?;
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    session.insert(KEY, &token).await.map_err(session_error)?;
    Ok(token)
}

/// Checks a submitted token against the session's.
pub async fn verify(session: &Session, submitted: Option<&str>) -> Result<()> {
    let expected = session.get::<String>(KEY).await.map_err(session_error)?;
    match (expected, submitted) {
        (Some(e), Some(s)) if constant_time_eq(e.as_bytes(), s.as_bytes()) => Ok(()),
        _ => Err(Error::CsrfRejected),
    }
}

/// Whether the request's body is declared as `essence` (parameters such as `charset` aside).
fn content_type_is(req: &Request, essence: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(essence))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A urlencoded form whose `csrf` field matched the session's token. `T` never sees the
/// field (serde ignores it).
pub struct CsrfForm<T>(pub T);

/// The fields of a form that carries nothing but its token (sign out, retry, delete…).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Empty {}

#[derive(serde::Deserialize)]
struct TokenField {
    csrf: Option<String>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("no session layer".into()))?;
        if !content_type_is(&req, "application/x-www-form-urlencoded") {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        let field: TokenField = serde_urlencoded::from_bytes(&bytes).unwrap_or(TokenField { csrf: None });
        verify(&session, field.csrf.as_deref()).await?;
        let bad = |e: &dyn std::fmt::Display| Error::BadRequest(e.to_string());
        let value = if has_encoded_control_in(&String::from_utf8_lossy(&bytes), true) {
            // Invisible characters pasted into a field (NUL, which PostgreSQL refuses, and
            // the other controls) are dropped: what was typed stays, minus what nobody sees.
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|e| bad(&e))?;
            let clean: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k, strip_controls(&v))).collect();
            let encoded = serde_urlencoded::to_string(&clean).map_err(|e| bad(&e))?;
            serde_urlencoded::from_str(&encoded).map_err(|e| bad(&e))?
        } else {
            serde_urlencoded::from_bytes(&bytes).map_err(|e| bad(&e))?
        };
        Ok(CsrfForm(value))
    }
}

/// `s` without the ASCII control characters other than tabs and line breaks.
pub fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|&c| !c.is_ascii_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// A file sent with a multipart form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A multipart form (one with a file) whose `csrf` field matched the session's token.
/// Text fields and files are read whole; the request body limit bounds them.
pub struct CsrfMultipart {
    pub fields: std::collections::HashMap<String, String>,
    pub files: std::collections::HashMap<String, Upload>,
}

impl CsrfMultipart {
    pub fn field(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequest<S> for CsrfMultipart {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let session = req
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("no session layer".into()))?;
        if !content_type_is(&req, "multipart/form-data") {
            return Err(Error::UnsupportedMediaType);
        }
        let mut multipart = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        let mut fields = std::collections::HashMap::new();
        let mut files = std::collections::HashMap::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            match field.file_name().map(str::to_string) {
                Some(file_name) => {
                    let bytes = field.bytes().await.map_err(|e| Error::BadRequest(e.body_text()))?;
                    // An empty file input sends an empty part with an empty name: no file.
                    if !bytes.is_empty() || !file_name.is_empty() {
                        files.insert(
                            name,
                            Upload {
                                file_name,
                                bytes: bytes.to_vec(),
                            },
                        );
                    }
                }
                None => {
                    let text = field.text().await.map_err(|e| Error::BadRequest(e.body_text()))?;
                    fields.insert(name, strip_controls(&text));
                }
            }
        }
        verify(&session, fields.get(FIELD).map(String::as_str)).await?;
        Ok(CsrfMultipart { fields, files })
    }
}

/// Refuses unsafe methods that a browser says come from another site, or whose `Origin`
/// names another host. Requests without those headers (old browsers, curl) go on to the
/// token check, which they fail without the session's token anyway.
pub async fn same_origin(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let cross_site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
        let foreign_origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| *o != "null")
            .is_some_and(|origin| {
                let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
                participe_core::domain::HostName::parse(origin_host)
                    .map(|h| h.to_string())
                    .unwrap_or_default()
                    != request_host(&req)
            });
        if cross_site || foreign_origin {
            return Error::CsrfRejected.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
