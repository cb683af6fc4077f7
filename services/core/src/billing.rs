//! Billing's first pieces: the population strata plans are priced by, the stratum
//! suggested from what a collectivité said at subscription, and manual billing (operators
//! set a tenant's plan and paid-until date from the ops console). Prices, Stripe and what
//! the billing state does to a portal come with the billing issue.

use sqlx::PgPool;
use time::Date;

use crate::domain::{Slug, TenantKind};
use crate::tenancy::registry;
use crate::{Error, Result};

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
    pub const ALL: [Stratum; 5] = [
        Stratum::MoinsDe3500,
        Stratum::De3500A20000,
        Stratum::De20000A100000,
        Stratum::PlusDe100000,
        Stratum::DepartementsEtRegions,
    ];

    /// The code stored in `tenant.plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stratum::MoinsDe3500 => "moins_de3500",
            Stratum::De3500A20000 => "de3500_a20000",
            Stratum::De20000A100000 => "de20000_a100000",
            Stratum::PlusDe100000 => "plus_de100000",
            Stratum::DepartementsEtRegions => "departements_et_regions",
        }
    }

    pub fn parse(code: &str) -> Option<Stratum> {
        Stratum::ALL.into_iter().find(|s| s.as_str() == code)
    }

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

/// The label of a stored plan code (an unknown code is shown as it is).
pub fn plan_label(code: &str) -> String {
    Stratum::parse(code).map_or_else(|| code.to_string(), |s| s.label().to_string())
}

/// Manual billing: sets a tenant's plan and the date up to which it has paid (either may
/// be cleared), written to the platform audit log with the previous values.
pub async fn set_manual(
    pool: &PgPool,
    slug: &Slug,
    plan: Option<Stratum>,
    paid_until: Option<Date>,
    actor: &str,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let before = sqlx::query!(
        "select id, plan, paid_until from tenant where slug = $1 for update",
        slug.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound(format!("aucun portail « {slug} »")))?;
    let plan = plan.map(Stratum::as_str);
    sqlx::query!(
        "update tenant set plan = $2, paid_until = $3 where id = $1",
        before.id,
        plan,
        paid_until
    )
    .execute(&mut *tx)
    .await?;
    registry::audit(
        &mut tx,
        actor,
        "tenant.billing",
        Some(before.id),
        serde_json::json!({
            "plan": plan, "paid_until": paid_until.map(|d| d.to_string()),
            "previous_plan": before.plan, "previous_paid_until": before.paid_until.map(|d| d.to_string()),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
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

    #[test]
    fn plan_codes_read_back() {
        for s in Stratum::ALL {
            assert_eq!(Stratum::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stratum::parse("gratuit"), None);
    }
}
