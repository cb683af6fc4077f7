use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use participe_core::FieldErrors;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a handler can fail with. It does not render itself into HTML here: it sets the
/// status and an [`ErrorPage`] marker, and the `dispatch` layer, which knows the host and
/// the request id, renders the page. An unexpected error also carries its message in an
/// [`UnexpectedError`] extension, logged once by that layer and never shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// Input refused; forms usually handle this themselves by re-rendering with the errors.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// The database is unreachable or saturated: a 503, not a bug.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Marker: the body of this response is to be replaced by the error page for its status.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage;

/// The cause of a 500, for the log line only.
#[derive(Debug, Clone)]
pub struct UnexpectedError(pub String);

impl From<participe_core::Error> for Error {
    fn from(e: participe_core::Error) -> Self {
        match e {
            participe_core::Error::NotFound(_) => Error::NotFound,
            participe_core::Error::Invalid(f) => Error::Invalid(f),
            participe_core::Error::Database(e) => e.into(),
            other => Error::Unexpected(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Error::Unavailable(e.to_string())
            }
            other => Error::Unexpected(format!("database: {other}")),
        }
    }
}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        Error::Unexpected(format!("template: {e:#}"))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage);
        if let Error::Unexpected(m) | Error::Unavailable(m) = self {
            response.extensions_mut().insert(UnexpectedError(m));
        }
        response
    }
}
