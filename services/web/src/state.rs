use std::ops::Deref;
use std::sync::Arc;

use participe_core::domain::HostName;
use participe_core::site::{BrandingCache, PageCache};
use participe_core::tenancy::resolver::Resolver;
use sqlx::PgPool;

use crate::Templates;
use crate::ratelimit::RateLimits;
use participe_mail::Mailer;
use participe_storage::Storage;

/// Settings the web side needs to build links between hosts.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub base: HostName,
    /// `http` or `https`, as seen by browsers (behind a TLS-terminating edge: `https`).
    pub scheme: String,
    /// The port browsers use, when it is not the scheme's default (`:8080` in development).
    pub public_port: Option<u16>,
    /// How many proxies in front of Participe add to `X-Forwarded-For` (0: trust none).
    pub trusted_proxies: usize,
    /// Where custom domains' proofs are looked for.
    pub verifier: crate::verify::VerifierConfig,
    /// How long a portal stays open once payment is missing, then read-only.
    pub billing: participe_core::billing::standing::Policy,
    /// The secret Stripe signs webhook events with (`PARTICIPE_STRIPE_WEBHOOK_SECRET`);
    /// without it, the webhook endpoint does not exist.
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe's API (`PARTICIPE_STRIPE_SECRET_KEY`): subscribing online or by invoice from
    /// the console. Without it, billing is manual (operators record payments).
    pub stripe: Option<StripeSettings>,
    /// Seals secrets stored in the database, such as identity providers' client secrets
    /// (`PARTICIPE_SECRET_KEY`). Without it, staff cannot configure sign-in providers.
    pub secret_key: Option<participe_core::domain::sealed::SecretKey>,
    /// FranceConnect's issuer (`PARTICIPE_FRANCECONNECT_ISSUER`): production by default, the
    /// integration platform while a tenant's service is being qualified.
    pub franceconnect_issuer: String,
    /// The provider staff may sign in to the console with (ProConnect, or another), set by
    /// the operator (`PARTICIPE_CONSOLE_OIDC_*`).
    pub console_oidc: Option<ConsoleOidc>,
    /// How long an identity provider has to answer one request.
    pub oidc_timeout: std::time::Duration,
    /// Identity providers on this machine over plain HTTP are accepted (development and
    /// tests, `PARTICIPE_OIDC_ALLOW_LOOPBACK`); otherwise HTTPS to other machines only.
    pub oidc_loopback: bool,
}

/// FranceConnect's production issuer (v2).
pub const FRANCECONNECT_ISSUER: &str = "https://oidc.franceconnect.gouv.fr/api/v2";

/// The console's identity provider, as the operator configured it.
#[derive(Debug, Clone)]
pub struct ConsoleOidc {
    /// The button's name, e.g. « ProConnect ».
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes besides `openid`, separated by spaces.
    pub scopes: String,
    /// The provider only gives verified addresses without saying so (`email_verified` absent):
    /// ProConnect. Otherwise an address counts only with `email_verified: true`.
    pub emails_verified: bool,
}

impl ConsoleOidc {
    pub fn provider(&self) -> participe_oidc::ProviderConfig {
        participe_oidc::ProviderConfig {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.expose().to_string(),
            scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
            acr_values: None,
        }
    }
}

/// How to reach Stripe's API.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Secret,
    /// Another address than `https://api.stripe.com` (a Stripe-compatible test server).
    pub api_base: Option<String>,
}

/// A secret from the environment: its `Debug` never shows it, so no log line can.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl WebConfig {
    /// The origin a browser uses for `host`, e.g. `http://nord.localhost:8080`.
    pub fn origin(&self, host: &str) -> String {
        match self.public_port {
            Some(port) => format!("{}://{host}:{port}", self.scheme),
            None => format!("{}://{host}", self.scheme),
        }
    }

    /// The origin of a tenant's portal in links Participe writes (mails, feeds, the open
    /// data API, the console's « voir le portail »): its primary domain, else
    /// `<slug>.<base>` — never a request's `Host` header.
    pub fn tenant_origin(&self, tenant: &participe_core::Tenant) -> String {
        self.origin(tenant.public_host(&self.base).as_str())
    }

    /// The origin of a portal that does not exist yet (examples on the console's pages).
    pub fn portal_origin(&self, slug: &str) -> String {
        self.origin(&format!("{slug}.{}", self.base))
    }

    pub fn console_origin(&self) -> String {
        self.origin(&format!("console.{}", self.base))
    }
}

/// Everything handlers share, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub pool: PgPool,
    pub templates: Templates,
    pub resolver: Resolver,
    pub branding: BrandingCache,
    /// Portal pages rendered for anonymous visitors (`site::PageCache`).
    pub pages: PageCache,
    /// Sessions read from memory between requests (`session::SessionCache`).
    pub sessions: crate::session::SessionCache,
    /// Signed-in citizens' accounts read from memory between requests.
    pub citizens: participe_core::citizens::CitizenCache,
    pub mailer: Mailer,
    pub storage: Storage,
    pub limits: RateLimits,
    pub config: WebConfig,
    /// Each tenant's requests, errors and latency since the last flush (`core::traffic`).
    pub traffic: participe_core::traffic::Traffic,
    /// Portal page views, counted without cookies (`core::audience`).
    pub audience: participe_core::audience::Audience,
    /// Sign-in through identity providers (discovery and keys cached per issuer).
    pub oidc: participe_oidc::Oidc,
}

impl AppState {
    pub fn new(app: App) -> Self {
        AppState(Arc::new(app))
    }

    /// This service with another page cache and other limits, as a second server on the
    /// same database would be (benchmarks, tests): the same pool, templates and
    /// configuration, its own in-process sessions, accounts and counters.
    pub fn variant(&self, pages: PageCache, limits: RateLimits) -> AppState {
        AppState::new(App {
            pages,
            pool: self.pool.clone(),
            templates: self.templates.clone(),
            resolver: self.resolver.clone(),
            branding: self.branding.clone(),
            sessions: Default::default(),
            citizens: Default::default(),
            mailer: self.mailer.clone(),
            storage: self.storage.clone(),
            limits,
            config: self.config.clone(),
            traffic: Default::default(),
            audience: Default::default(),
            oidc: self.oidc.clone(),
        })
    }

    /// Hands a mail to the job queue (a worker sends it, with retries), without making the
    /// request wait: answers must not take longer when an account exists than when it does
    /// not. Once queued, the mail survives a restart.
    pub fn queue_mail(&self, tenant_id: Option<uuid::Uuid>, mail: participe_mail::Mail) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let payload = match serde_json::to_value(&mail) {
                Ok(p) => p,
                Err(e) => return tracing::error!(error = %e, "mail not queued"),
            };
            let queued = async {
                let mut conn = pool.acquire().await?;
                participe_core::jobs::enqueue(&mut conn, tenant_id, participe_core::jobs::Kind::Mail, payload, 0).await
            };
            if let Err(e) = queued.await {
                tracing::error!(error = %e, "mail not queued");
            }
        });
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
