//! The two legs of a sign-in through an identity provider, as every host runs them: the
//! flow started is kept in the browser's (server-side) session, taken out — once — when the
//! provider sends the browser back, and checked there. A second arrival with the same
//! answer (a replayed code, a reloaded page) finds nothing to complete. The session also
//! keeps the ID token of a provider sign-in, so that signing out ends the provider's
//! session too.

use participe_oidc::{Error, Identity, Oidc, Pending, ProviderConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::Result;
use crate::session::{self, session_error};

const FLOW_KEY: &str = "oidc_flow";
const LOGOUT_KEY: &str = "oidc_logout";
/// A sign-in left at the provider for longer than this is not completed.
const FLOW_LIFETIME: time::Duration = time::Duration::minutes(15);

/// The path every host's provider sign-ins come back to.
pub const CALLBACK_PATH: &str = "/connexion/fournisseur/retour";

#[derive(serde::Serialize, serde::Deserialize)]
struct Flow<T> {
    pending: Pending,
    purpose: T,
    started: i64,
}

/// What the provider's redirect carries back.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Keeps the flow begun by [`Oidc::begin`] until the browser comes back; `purpose` says what
/// the sign-in is for (which provider, where to go next, an invitation…).
pub async fn remember<T: Serialize>(session: &Session, host: &str, pending: Pending, purpose: T) -> Result<()> {
    session::bind(session, host).await?;
    let flow = Flow {
        pending,
        purpose,
        started: OffsetDateTime::now_utc().unix_timestamp(),
    };
    session.insert(FLOW_KEY, flow).await.map_err(session_error)
}

/// Takes the flow out of the session (so it completes at most once): its purpose, or
/// `Error::State` when there is none, or it is too old.
pub async fn take<T: DeserializeOwned>(session: &Session) -> Result<Result<(Pending, T), Error>> {
    let flow: Option<Flow<T>> = session.remove(FLOW_KEY).await.map_err(session_error)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    Ok(match flow {
        Some(f) if now - f.started <= FLOW_LIFETIME.whole_seconds() => Ok((f.pending, f.purpose)),
        _ => Err(Error::State),
    })
}

/// Completes a flow taken by [`take`] with what the provider sent back.
pub async fn complete(
    oidc: &Oidc,
    provider: &ProviderConfig,
    redirect: &str,
    pending: &Pending,
    callback: &Callback,
) -> Result<Identity, Error> {
    if let Some(error) = &callback.error {
        // `access_denied` when the person cancelled: the provider's word, not ours.
        return Err(Error::Refused(error.chars().take(100).collect()));
    }
    let (Some(code), Some(state)) = (&callback.code, &callback.state) else {
        return Err(Error::State);
    };
    oidc.finish(provider, redirect, pending, code, state).await
}

/// After a provider sign-in: what signing out needs to end the provider's session too.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogoutHint<T> {
    pub provider: T,
    pub id_token: String,
}

pub async fn remember_logout<T: Serialize>(session: &Session, provider: T, id_token: &str) -> Result<()> {
    let hint = LogoutHint {
        provider,
        id_token: id_token.to_string(),
    };
    session.insert(LOGOUT_KEY, hint).await.map_err(session_error)
}

pub async fn logout_hint<T: DeserializeOwned>(session: &Session) -> Result<Option<LogoutHint<T>>> {
    session.get(LOGOUT_KEY).await.map_err(session_error)
}

/// The status and log line of a failed provider sign-in; the page says [`Error::explain`].
pub fn failure_status(e: &Error) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    tracing::warn!(error = %e, "sign-in through an identity provider failed");
    match e {
        Error::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        Error::Unreachable(_) | Error::Discovery(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}
