//! Typed values parsed at the edge: a handler or a CLI flag turns text into one of these
//! once, and everything behind it trusts the type. Error messages are French because they
//! are shown to collectivité staff beside the field they typed into.

mod codes;
mod colour;
mod host;
mod kind;
mod slug;

pub use codes::{InseeCode, Siren};
pub use colour::Colour;
pub use host::{HostName, custom_domain};
pub use kind::TenantKind;
pub use slug::{SchemaName, Slug};

/// Why a piece of text was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }
}
