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
    /// A form post without the session's CSRF token, or from another site.
    #[error("csrf token rejected")]
    CsrfRejected,
    /// A request the server cannot read (malformed form body, …).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many requests")]
    TooManyRequests,
    /// A form sent in another format than the one the page's form uses.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Go elsewhere first (e.g. sign in): a 303 to this path.
    #[error("redirect to {0}")]
    Redirect(String),
    /// Input refused; forms usually handle this themselves by re-rendering with the errors.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// The database is unreachable or saturated: a 503, not a bug.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// Marker: the body of this response is to be replaced by the error page for its status,
/// with this message instead of the status's usual one when given.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorPage {
    pub message: Option<&'static str>,
}

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
        if let Error::Redirect(to) = &self {
            return axum::response::Redirect::to(to).into_response();
        }
        let status = match &self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Forbidden | Error::CsrfRejected => StatusCode::FORBIDDEN,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unexpected(_) | Error::Redirect(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            Error::CsrfRejected => Some(
                "Ce formulaire a expiré ou n'a pas été envoyé depuis ce site. Revenez à la page précédente, rechargez-la, puis envoyez le formulaire à nouveau.",
            ),
            Error::TooManyRequests => {
                Some("Trop de tentatives en peu de temps. Patientez quelques minutes avant de réessayer.")
            }
            _ => None,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage { message });
        if let Error::Unexpected(m) | Error::Unavailable(m) = self {
            response.extensions_mut().insert(UnexpectedError(m));
        }
        response
    }
}
