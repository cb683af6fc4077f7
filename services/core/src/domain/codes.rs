use std::fmt;

use super::{Invalid, TenantKind};

/// The INSEE code (Code officiel géographique) of a commune, département or région.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct InseeCode(String);

/// Régions since the 2016 reform, overseas ones included.
const REGIONS: &[&str] = &[
    "01", "02", "03", "04", "06", "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94",
];

impl InseeCode {
    /// Which shape is valid depends on the kind: 5 characters for a commune (`59350`,
    /// `2A004`), 2 or 3 for a département (`59`, `2B`, `974`), 2 for a région (`32`).
    pub fn parse(kind: TenantKind, input: &str) -> Result<Self, Invalid> {
        let s = input.trim().to_ascii_uppercase();
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let departement = |d: &str| match d {
            "2A" | "2B" => true,
            _ if d.len() == 2 && digits(d) => d != "00" && d != "20" && d.parse::<u8>().is_ok_and(|n| n <= 95),
            _ if d.len() == 3 && digits(d) => ("971".."977").contains(&d),
            _ => false,
        };
        let ok = match kind {
            TenantKind::Commune => {
                s.len() == 5
                    && s.is_char_boundary(2)
                    && digits(&s[2..])
                    && (departement(&s[..2]) || (s.starts_with("97") && departement(&s[..3])))
                    && &s[2..] != "000"
            }
            TenantKind::Departement => departement(&s),
            TenantKind::Region => REGIONS.contains(&s.as_str()),
            TenantKind::Epci | TenantKind::Autre => {
                return Err(Invalid::new(
                    "un code INSEE ne s'applique qu'à une commune, un département ou une région (une intercommunalité a un numéro SIREN)",
                ));
            }
        };
        if ok {
            Ok(InseeCode(s))
        } else {
            Err(Invalid::new(format!(
                "« {} » n'est pas un code INSEE de {} valide",
                input.trim(),
                match kind {
                    TenantKind::Commune => "commune (5 caractères, par exemple 59512)",
                    TenantKind::Departement => "département (par exemple 59, 2A ou 974)",
                    _ => "région (par exemple 32)",
                }
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InseeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SIREN number (9 digits, Luhn checksum), the identifier of an EPCI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Siren(String);

impl Siren {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let luhn = || {
            let sum: u32 = s
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, b)| {
                    let d = u32::from(b - b'0');
                    if i % 2 == 1 {
                        if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
                    } else {
                        d
                    }
                })
                .sum();
            sum.is_multiple_of(10)
        };
        if s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()) && luhn() {
            Ok(Siren(s))
        } else {
            Err(Invalid::new(format!(
                "« {} » n'est pas un numéro SIREN valide (9 chiffres, clé de contrôle comprise)",
                input.trim()
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Siren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TenantKind::*;

    #[test]
    fn insee_codes_follow_the_kind() {
        for (k, c) in [
            (Commune, "59512"),
            (Commune, "2A004"),
            (Commune, "97411"),
            (Departement, "59"),
            (Departement, "2b"),
            (Departement, "974"),
            (Region, "32"),
            (Region, "06"),
        ] {
            assert!(InseeCode::parse(k, c).is_ok(), "{k:?} {c}");
        }
        for (k, c) in [
            (Commune, "59"),
            (Commune, "5951"),
            (Commune, "20123"),
            (Commune, "59000"),
            (Departement, "20"),
            (Departement, "96"),
            (Departement, "00"),
            (Departement, "978"),
            (Region, "33"),
            (Epci, "59"),
            (Commune, "5é512"),
        ] {
            assert!(InseeCode::parse(k, c).is_err(), "{k:?} {c}");
        }
        assert_eq!(InseeCode::parse(Departement, " 2a ").unwrap().as_str(), "2A");
    }

    #[test]
    fn siren_numbers_carry_a_luhn_key() {
        // Métropole Européenne de Lille.
        assert_eq!(Siren::parse("200 093 201").unwrap().as_str(), "200093201");
        assert!(Siren::parse("200093202").is_err());
        assert!(Siren::parse("20009320").is_err());
        assert!(Siren::parse("2000932O1").is_err());
    }
}
