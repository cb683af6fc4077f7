//! Files compiled into the binary and served under `/static/` on every host. Links carry
//! `?v=<hash of the contents>`, so browsers may keep them for a year.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

struct File {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[File] = &[
    File {
        name: "participe.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/participe.css"),
    },
    File {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../static/favicon.svg"),
    },
];

/// Hash of all static files together: one cache-busting version for the whole set.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = DefaultHasher::new();
    for f in FILES {
        f.bytes.hash(&mut h);
    }
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
});

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub async fn serve(Path(name): Path<String>, Query(version): Query<Version>) -> Response {
    let Some(file) = FILES.iter().find(|f| f.name == name) else {
        return crate::Error::NotFound.into_response();
    };
    let cache = if version.v.as_deref() == Some(VERSION.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(file.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.bytes,
    )
        .into_response()
}
