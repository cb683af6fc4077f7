use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// What sort of collectivité a tenant is; it decides which official code applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantKind {
    Commune,
    Epci,
    Departement,
    Region,
    Autre,
}

impl TenantKind {
    pub const ALL: [TenantKind; 5] = [Self::Commune, Self::Epci, Self::Departement, Self::Region, Self::Autre];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commune => "commune",
            Self::Epci => "epci",
            Self::Departement => "departement",
            Self::Region => "region",
            Self::Autre => "autre",
        }
    }

    /// The label a French reader expects.
    pub fn label(self) -> &'static str {
        match self {
            Self::Commune => "Commune",
            Self::Epci => "Intercommunalité (EPCI)",
            Self::Departement => "Département",
            Self::Region => "Région",
            Self::Autre => "Autre collectivité ou organisme",
        }
    }
}

impl FromStr for TenantKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let s = s.trim().to_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| {
                k.as_str() == s
                    || (s == "département" && *k == Self::Departement)
                    || (s == "région" && *k == Self::Region)
            })
            .ok_or_else(|| {
                Invalid::new(format!(
                    "type de collectivité inconnu « {s} » : choisissez commune, epci, departement, region ou autre"
                ))
            })
    }
}

impl fmt::Display for TenantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_accept_accents() {
        for k in TenantKind::ALL {
            assert_eq!(k.as_str().parse::<TenantKind>().unwrap(), k);
        }
        assert_eq!("Département".parse::<TenantKind>().unwrap(), TenantKind::Departement);
        assert!("mairie".parse::<TenantKind>().is_err());
    }
}
