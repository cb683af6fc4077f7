//! Serving a « livret d'expression » file (PDF, CSV or JSON), for the console and the
//! portal alike: streamed from the storage, typed, as an attachment named after the call.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use participe_core::booklets::Booklet;
use participe_storage::Storage;

use crate::{Error, Result};

/// `format` is `pdf`, `csv` or `json`; anything else, or a booklet not ready, is a 404.
pub async fn serve(storage: &Storage, booklet: &Booklet, format: &str) -> Result<Response> {
    let (key, content_type) = match format {
        "pdf" => (&booklet.pdf_key, "application/pdf"),
        "csv" => (&booklet.csv_key, "text/csv; charset=utf-8"),
        "json" => (&booklet.json_key, "application/json"),
        _ => return Err(Error::NotFound),
    };
    let key = key.as_deref().ok_or(Error::NotFound)?;
    let (size, stream) = storage
        .open(key)
        .await
        .map_err(|e| Error::Unexpected(format!("booklet {}: {e}", booklet.id)))?
        .ok_or_else(|| Error::Unexpected(format!("booklet {}: file missing from the storage", booklet.id)))?;
    let day = booklet.finished_at.map(|t| t.date().to_string()).unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"livret-d-expression-{day}.{format}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
