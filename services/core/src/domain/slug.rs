use std::fmt;

use super::Invalid;

/// Sub-domains the platform keeps for itself, or that would mislead a visitor.
const RESERVED: &[&str] = &[
    "console",
    "ops",
    "www",
    "api",
    "admin",
    "static",
    "mail",
    "public",
    "app",
    "assets",
    "auth",
    "billing",
    "blog",
    "cdn",
    "dev",
    "docs",
    "ftp",
    "help",
    "imap",
    "login",
    "metrics",
    "mx",
    "ns1",
    "ns2",
    "pop",
    "portail",
    "postmaster",
    "root",
    "smtp",
    "sso",
    "staging",
    "status",
    "support",
    "test",
    "webmail",
    "participe",
    "localhost",
    "healthz",
    "readyz",
];

/// A tenant's short name: its platform sub-domain (`nord` in `nord.participe.fr`) and the
/// root of its schema name. Lowercase ASCII letters, digits and single hyphens, 2–40 chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim();
        if s.is_empty() {
            return Err(Invalid::new("indiquez un nom court (par exemple « nord »)"));
        }
        let len = s.chars().count();
        if !(2..=40).contains(&len) {
            return Err(Invalid::new(format!(
                "le nom court « {} » doit faire entre 2 et 40 caractères",
                shorten(s)
            )));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Invalid::new(format!(
                "le nom court « {} » ne peut contenir que des lettres minuscules sans accent, des chiffres et des tirets",
                shorten(s)
            )));
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(Invalid::new(format!(
                "le nom court « {s} » ne peut ni commencer ni finir par un tiret, ni en contenir deux de suite"
            )));
        }
        if RESERVED.contains(&s) {
            return Err(Invalid::new(format!(
                "le nom court « {s} » est réservé par la plateforme"
            )));
        }
        Ok(Slug(s.to_string()))
    }

    /// A slug read back from the registry. The database's check constraint already holds
    /// it to the format; a word reserved after the tenant was created must not make the
    /// tenant unreachable.
    pub(crate) fn registry_fallback(s: &str) -> Result<Self, Invalid> {
        let ok = (2..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Slug(s.to_string()))
        } else {
            Err(Invalid::new(format!("nom court invalide : {s:?}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant's schema: generated here, never taken from a request.
    pub fn schema_name(&self) -> SchemaName {
        SchemaName(format!("t_{}", self.0.replace('-', "_")))
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant schema's name, `t_<slug>` with hyphens as underscores. Only `Slug` makes new
/// ones; `from_registry` re-checks what the database hands back, because the name is spliced
/// into SQL (`create schema`, `set_config`) where a bind parameter cannot go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn from_registry(name: &str) -> Result<Self, Invalid> {
        let ok = name.len() <= 63
            && name.starts_with("t_")
            && name.len() > 2
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(SchemaName(name.to_string()))
        } else {
            Err(Invalid::new(format!("nom de schéma invalide : {name:?}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted identifier; the alphabet above makes quoting a formality, kept anyway.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 50 {
        format!("{}…", s.chars().take(50).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_slugs_are_accepted_and_give_their_schema() {
        for s in ["nord", "mel", "roubaix", "saint-omer", "59", "a1-b2"] {
            assert_eq!(Slug::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(
            Slug::parse("saint-omer").unwrap().schema_name().as_str(),
            "t_saint_omer"
        );
        assert_eq!(Slug::parse(" nord ").unwrap().as_str(), "nord");
    }

    #[test]
    fn bad_slugs_are_refused_with_a_reason() {
        for s in [
            "",
            "n",
            "Nord",
            "nörd",
            "saint_omer",
            "-nord",
            "nord-",
            "xn--nrd",
            "a b",
            "nord.fr",
            "console",
            "ops",
            "www",
            "api",
            "admin",
            "static",
            "mail",
            "public",
            "'; drop table tenant; --",
        ] {
            let err = Slug::parse(s).unwrap_err();
            assert!(!err.0.is_empty(), "{s:?}");
        }
        assert!(Slug::parse(&"a".repeat(41)).is_err());
        assert!(Slug::parse(&"a".repeat(40)).is_ok());
        assert!(Slug::parse("console").unwrap_err().0.contains("réservé"));
    }

    #[test]
    fn schema_names_from_the_registry_are_rechecked() {
        assert!(SchemaName::from_registry("t_nord").is_ok());
        for bad in [
            "public",
            "t_",
            "t_Nord",
            "t_a\"; drop",
            "pg_catalog",
            &format!("t_{}", "a".repeat(62)),
        ] {
            assert!(SchemaName::from_registry(bad).is_err(), "{bad}");
        }
    }
}
