//! Typed values parsed at the edge: a handler or a CLI flag turns text into one of these
//! once, and everything behind it trusts the type. Error messages are French because they
//! are shown to collectivité staff beside the field they typed into.

mod codes;
mod colour;
mod email;
mod host;
mod kind;
pub mod local_time;
pub mod password;
pub mod sealed;
mod slug;
mod token;

pub use codes::{InseeCode, Siren};
pub use colour::Colour;
pub use email::Email;
pub use host::{HostName, custom_domain};
pub use kind::TenantKind;
pub use password::NewPassword;
pub use slug::{SchemaName, Slug};
pub use token::{Token, hash_token};

/// Why a piece of text was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}
