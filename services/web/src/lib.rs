//! The web side every Participe host shares: the app state, the minijinja environment and
//! its helpers (translation, Markdown), the error type that renders itself, the dispatch of
//! a request to the portal, console or ops router by its `Host`, the security headers, the
//! embedded static files and the request metrics. It holds no feature of its own.

pub mod audience_page;
pub mod booklet_file;
pub mod client;
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
mod state;
pub mod static_files;
mod templates;
pub mod verify;

pub use error::{Error, ErrorPage, Result, UnexpectedError};
pub use state::{App, AppState, ConsoleOidc, FRANCECONNECT_ISSUER, Secret, StripeSettings, WebConfig};
pub use templates::{CATALOG_SOURCES, LANGUAGES, Templates, add_templates};
