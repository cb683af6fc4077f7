//! Billing's first piece: the population strata plans are priced by, and the stratum
//! suggested from what a collectivité said at subscription. Plans, prices, Stripe and the
//! billing state come with the billing issue.

use crate::domain::TenantKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stratum {
    MoinsDe3500,
    De3500A20000,
    De20000A100000,
    PlusDe100000,
    DepartementsEtRegions,
}

impl Stratum {
    pub fn label(self) -> &'static str {
        match self {
            Stratum::MoinsDe3500 => "Moins de 3 500 habitants",
            Stratum::De3500A20000 => "De 3 500 à 20 000 habitants",
            Stratum::De20000A100000 => "De 20 000 à 100 000 habitants",
            Stratum::PlusDe100000 => "Plus de 100 000 habitants",
            Stratum::DepartementsEtRegions => "Départements et régions",
        }
    }

    /// The stratum for a kind of collectivité and its population, if known.
    pub fn suggested(kind: TenantKind, population: Option<i32>) -> Option<Stratum> {
        if matches!(kind, TenantKind::Departement | TenantKind::Region) {
            return Some(Stratum::DepartementsEtRegions);
        }
        Some(match population? {
            ..3_500 => Stratum::MoinsDe3500,
            3_500..20_000 => Stratum::De3500A20000,
            20_000..100_000 => Stratum::De20000A100000,
            _ => Stratum::PlusDe100000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strata_follow_the_population_and_the_kind() {
        assert_eq!(
            Stratum::suggested(TenantKind::Commune, Some(1_200)),
            Some(Stratum::MoinsDe3500)
        );
        assert_eq!(
            Stratum::suggested(TenantKind::Commune, Some(3_500)),
            Some(Stratum::De3500A20000)
        );
        assert_eq!(
            Stratum::suggested(TenantKind::Epci, Some(99_999)),
            Some(Stratum::De20000A100000)
        );
        assert_eq!(
            Stratum::suggested(TenantKind::Commune, Some(230_000)),
            Some(Stratum::PlusDe100000)
        );
        assert_eq!(
            Stratum::suggested(TenantKind::Departement, None),
            Some(Stratum::DepartementsEtRegions)
        );
        assert_eq!(Stratum::suggested(TenantKind::Commune, None), None);
    }
}
