//! `POST console.<base>/stripe/webhook`: Stripe's events. No session and no CSRF token:
//! the `Stripe-Signature` header, checked against `PARTICIPE_STRIPE_WEBHOOK_SECRET`, is the
//! proof. Answers 2xx once an event is recorded (or was already), 400 to what Stripe did not
//! sign or signed too long ago, and 5xx when the database fails, so that Stripe tries again.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use participe_core::billing::stripe_events::{self, Outcome};
use participe_web::{AppState, Error};

pub async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = app.config.stripe_webhook_secret.as_ref() else {
        return Error::NotFound.into_response();
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(refused) = stripe_events::verify(&body, signature, secret.expose(), now) {
        tracing::warn!(?refused, "Stripe webhook refused");
        return (StatusCode::BAD_REQUEST, "signature refusée").into_response();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "événement illisible").into_response();
    };
    match stripe_events::receive(&app.pool, &app.config.billing, &event).await {
        Ok(Outcome::Malformed) => (StatusCode::BAD_REQUEST, "événement incomplet").into_response(),
        Ok(outcome) => {
            tracing::info!(?outcome, kind = event["type"].as_str(), "Stripe event");
            (StatusCode::OK, format!("{outcome:?}")).into_response()
        }
        Err(e) => Error::from(e).into_response(),
    }
}
