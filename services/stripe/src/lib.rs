//! Paying through Stripe, from the tenant console: the Stripe objects billing needs (a
//! customer per tenant, a plan per stratum, period and price, a tax rate per VAT rate),
//! created on first use and remembered in the platform schema; Checkout sessions (card or
//! SEPA debit); the customer portal; subscriptions paid by invoice (`send_invoice`, due in
//! 30 days, by bank transfer), which is how most collectivités pay.
//!
//! What Stripe then does (payments, invoices, cancellations) comes back through the
//! webhook (`participe_core::billing::stripe_events`); the one exception is a subscription
//! by invoice, recorded at once from the API's answer so that the console shows it without
//! waiting for the event.
//!
//! Requests are async-stripe's typed builders; answers are read into the small structs
//! below (`customize::<T>()`) with only the fields used, so that a field Stripe adds, or a
//! Stripe-compatible test server leaves out, breaks nothing.

mod objects;
mod subscribe;

use std::time::Duration;

use stripe_client_core::{RequestStrategy, StripeRequest};

pub use subscribe::{Choice, DAYS_UNTIL_DUE, InvoiceSubscription, Payer};

/// Errors talking to Stripe. Their text never holds the secret key: the SDK's errors carry
/// Stripe's message or the transport's, and the key is only in a header.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stripe has no such object (a 404).
    #[error("Stripe ne connaît pas cet objet")]
    Missing,
    /// Stripe answered and refused (a 4xx): its message, for the person who asked.
    #[error("Stripe a refusé la demande : {0}")]
    Refused(String),
    /// Stripe could not be reached, took too long, or answered something unreadable.
    #[error("Stripe ne répond pas pour l'instant ({0}) ; réessayez dans quelques minutes")]
    Unavailable(String),
    #[error(transparent)]
    Core(#[from] participe_core::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Core(e.into())
    }
}

impl From<stripe::StripeError> for Error {
    fn from(e: stripe::StripeError) -> Self {
        match e {
            stripe::StripeError::Stripe(_, 404) => Error::Missing,
            stripe::StripeError::Stripe(api, status) if (400..500).contains(&status) => {
                Error::Refused(api.message.unwrap_or_else(|| format!("erreur {status}")))
            }
            stripe::StripeError::Stripe(_, status) => Error::Unavailable(format!("erreur {status}")),
            stripe::StripeError::Timeout => Error::Unavailable("délai dépassé".into()),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long one request to Stripe may take before the console says so.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A Stripe API client.
#[derive(Clone)]
pub struct Stripe {
    client: stripe::Client,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stripe(…)")
    }
}

impl Stripe {
    /// A client for the secret key; `api_base` points it elsewhere than
    /// `https://api.stripe.com` (a Stripe-compatible server, in tests).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<Stripe> {
        let mut builder = stripe::ClientBuilder::new(secret_key)
            .request_strategy(RequestStrategy::Once)
            .timeout(TIMEOUT);
        if let Some(base) = api_base {
            builder = builder.url(base.trim_end_matches('/'));
        }
        Ok(Stripe {
            client: builder.build()?,
        })
    }

    /// Sends `request` and reads the answer's fields into `T`. With a key, Stripe answers a
    /// repeated request (a double click, a retry after a timeout) with the first answer
    /// instead of doing it twice.
    async fn send<T: miniserde::Deserialize>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<String>,
    ) -> Result<T> {
        let mut customized = request.build().customize::<T>();
        if let Some(key) = idempotency_key {
            let key = stripe_client_core::IdempotencyKey::new(key)
                .map_err(|e| Error::Unavailable(format!("clé d'idempotence : {e}")))?;
            customized = customized.request_strategy(RequestStrategy::Idempotent(key));
        }
        Ok(customized.send(&self.client).await?)
    }
}
