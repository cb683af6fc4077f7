//! What every surface's handlers do the same way: read a list's page number, read an id
//! from a path, and tell the field errors a person can fix (shown again beside the form's
//! fields) from every other error (answered by its own page).

use participe_core::FieldErrors;
use uuid::Uuid;

use crate::{Error, Result};

/// The page asked for by a list's `?page=`: 1 when missing or not a number, at most `last`.
pub fn page_number(raw: &str, last: i64) -> i64 {
    raw.trim().parse::<i64>().unwrap_or(1).clamp(1, last)
}

/// An id from a path: anything else is a page that does not exist.
pub fn parse_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound)
}

/// A core result, split: `Ok(Ok(value))`, `Ok(Err(field errors))` for the form to show
/// again, or `Err` for anything else.
pub trait Checked<T> {
    fn checked(self) -> Result<std::result::Result<T, FieldErrors>>;
}

impl<T> Checked<T> for participe_core::Result<T> {
    fn checked(self) -> Result<std::result::Result<T, FieldErrors>> {
        match self {
            Ok(value) => Ok(Ok(value)),
            Err(participe_core::Error::Invalid(errors)) => Ok(Err(errors)),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_number_is_always_a_page() {
        assert_eq!(page_number("", 100), 1);
        assert_eq!(page_number("abc", 100), 1);
        assert_eq!(page_number("-3", 100), 1);
        assert_eq!(page_number(" 7 ", 100), 7);
        assert_eq!(page_number("999999999999999999999", 100), 1);
        assert_eq!(page_number("500", 100), 100);
    }

    #[test]
    fn field_errors_are_told_from_other_errors() {
        let invalid: participe_core::Result<()> = Err(participe_core::Error::invalid("title", "trop long"));
        assert_eq!(invalid.checked().unwrap().unwrap_err().0[0].field, "title");
        let missing: participe_core::Result<()> = Err(participe_core::Error::NotFound("x".into()));
        assert!(missing.checked().is_err());
        assert_eq!(participe_core::Result::Ok(3).checked().unwrap().unwrap(), 3);
    }
}
