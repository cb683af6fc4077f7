//! The web side every Participe host shares: the app state, the minijinja environment and
//! its helpers (translation, Markdown), the error type that renders itself, the dispatch of
//! a request to the portal, console or ops router by its `Host` (and who asked: `client`),
//! the listener, the security headers, sessions, CSRF and rate limits, the password flows of every host
//! with accounts (`signin`), the page kit every
//! handler uses (`kit`), the embedded static files and the request metrics.
//!
//! Four pieces of features live here because two surfaces run them alike: the audience
//! page's data (`audience_page`, console and portal), serving a livret file
//! (`booklet_file`, console and portal), the HTTP legs of an identity-provider sign-in
//! (`oidc`, console and portal) and custom-domain verification (`verify`, console and the
//! front door). Every other feature is in its surface's crate.

pub mod audience_page;
pub mod booklet_file;
pub mod client;
pub mod conditional;
pub mod csrf;
pub mod dispatch;
mod error;
pub mod kit;
pub mod listener;
pub mod markdown;
pub mod metrics;
pub mod oidc;
pub mod plaintext;
pub mod ratelimit;
pub mod security;
pub mod session;
pub mod signin;
mod state;
pub mod static_files;
mod templates;
pub mod verify;

pub use error::{Error, ErrorPage, Result, UnexpectedError};
pub use state::{App, AppState, ConsoleOidc, FRANCECONNECT_ISSUER, Secret, StripeSettings, WebConfig};
pub use templates::{CATALOG_SOURCES, LANGUAGES, Templates, add_templates};
