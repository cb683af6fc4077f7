use std::fmt;

use super::Invalid;

/// An email address as typed by a person, trimmed and lowercased. The check is deliberately
/// plain (one `@`, a dotted domain, no spaces or control characters): the confirmation
/// mail is the real test.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim().to_lowercase();
        let bad = || Invalid::new("indiquez une adresse électronique valide, par exemple prenom.nom@mairie.fr");
        if s.is_empty() {
            return Err(Invalid::new("indiquez votre adresse électronique"));
        }
        if s.len() > 254
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
        {
            return Err(bad());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(bad());
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(bad());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Marie.Dupont@LeNord.fr ").unwrap().as_str(),
            "marie.dupont@lenord.fr"
        );
        assert!(Email::parse("élu@mairie-roubaix.fr").is_ok());
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "marie",
            "marie@",
            "@lenord.fr",
            "marie@lenord",
            "ma rie@lenord.fr",
            "a@b@c.fr",
            "marie@.fr",
            "marie@lenord.fr.",
            "<script>@x.fr",
            "marie@le..nord.fr",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
