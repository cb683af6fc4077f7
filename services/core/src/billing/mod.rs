//! Billing's first pieces: the population strata plans are priced by, the stratum
//! suggested from what a collectivité said at subscription, and manual billing (operators
//! set a tenant's plan and paid-until date from the ops console). Prices, Stripe and what
//! the billing state does to a portal come with the billing issue.

use sqlx::PgPool;
use time::Date;

pub mod standing;
pub mod stripe_events;

use crate::domain::{Slug, TenantKind};
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

/// How often a plan is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Year,
}

impl Period {
    /// The code stored in `plan.period` and `tenant.billing_period` (Stripe's intervals).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    pub fn parse(code: &str) -> Option<Period> {
        match code {
            "month" => Some(Period::Month),
            "year" => Some(Period::Year),
            _ => None,
        }
    }
}

/// A plan's price for one period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub stratum: String,
    pub label: &'static str,
    /// `month` or `year`.
    pub period: String,
    pub price_ht_cents: i32,
    pub price_ttc_cents: i64,
    /// VAT rate in basis points (2000 = 20 %).
    pub vat_rate_bp: i32,
    /// `1 490,00 €`, as French invoices write amounts.
    pub price_ht: String,
    pub price_ttc: String,
}

/// An amount in cents as French writes it: `17 880,00 €` (no-break spaces).
pub fn euros(cents: i64) -> String {
    let units = (cents / 100).abs().to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{grouped},{:02}\u{a0}€", (cents % 100).abs())
}

/// Every plan, by stratum (smallest first), monthly then yearly.
pub async fn plans(pool: &PgPool) -> Result<Vec<Plan>> {
    let rows = sqlx::query!("select stratum, period, price_ht_cents, vat_rate_bp from plan")
        .fetch_all(pool)
        .await?;
    let mut plans: Vec<Plan> = rows
        .into_iter()
        .filter_map(|r| {
            let stratum = Stratum::parse(&r.stratum)?;
            // Rounded to the cent, half up, as an invoice line is.
            let ttc = (i64::from(r.price_ht_cents) * (10_000 + i64::from(r.vat_rate_bp)) + 5_000) / 10_000;
            Some(Plan {
                label: stratum.label(),
                stratum: r.stratum,
                period: r.period,
                price_ht_cents: r.price_ht_cents,
                price_ttc_cents: ttc,
                price_ht: euros(r.price_ht_cents.into()),
                price_ttc: euros(ttc),
                vat_rate_bp: r.vat_rate_bp,
            })
        })
        .collect();
    let rank = |p: &Plan| Stratum::ALL.iter().position(|s| s.as_str() == p.stratum);
    plans.sort_by_key(|p| (rank(p), p.period != "month"));
    Ok(plans)
}

/// An invoice as Stripe last described it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invoice {
    pub number: Option<String>,
    pub status: String,
    pub amount_due: String,
    pub hosted_url: Option<String>,
    pub pdf_url: Option<String>,
    /// `YYYY-MM-DD`.
    pub created: String,
    pub due_date: Option<String>,
}

/// A tenant's latest invoices, newest first.
pub async fn invoices(pool: &PgPool, tenant_id: uuid::Uuid, limit: i64) -> Result<Vec<Invoice>> {
    let rows = sqlx::query!(
        "select number, status, amount_due, hosted_url, pdf_url, created, due_date
           from invoice where tenant_id = $1 order by created desc limit $2",
        tenant_id,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Invoice {
            number: r.number,
            status: r.status,
            amount_due: euros(r.amount_due),
            // Links from Stripe's events: only `https://` ones become links on the page.
            hosted_url: r.hosted_url.filter(|u| u.starts_with("https://")),
            pdf_url: r.pdf_url.filter(|u| u.starts_with("https://")),
            created: r.created.date().to_string(),
            due_date: r.due_date.map(|d| d.to_string()),
        })
        .collect())
}

/// The label of a stored plan code (an unknown code is shown as it is).
pub fn plan_label(code: &str) -> String {
    Stratum::parse(code).map_or_else(|| code.to_string(), |s| s.label().to_string())
}

/// Manual billing: sets a tenant's plan and the date up to which it has paid (either may
/// be cleared), written to the platform audit log with the previous values. Returns the
/// tenant's id (for the re-evaluation of its standing).
pub async fn set_manual(
    pool: &PgPool,
    slug: &Slug,
    plan: Option<Stratum>,
    paid_until: Option<Date>,
    actor: &str,
) -> Result<uuid::Uuid> {
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
    crate::platform_audit::record(
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
    Ok(before.id)
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
    fn amounts_are_written_the_french_way() {
        assert_eq!(euros(3900), "39,00\u{a0}€");
        assert_eq!(euros(1_788_000), "17\u{a0}880,00\u{a0}€");
        assert_eq!(euros(4680), "46,80\u{a0}€");
        assert_eq!(euros(105), "1,05\u{a0}€");
    }

    #[test]
    fn plan_codes_read_back() {
        for s in Stratum::ALL {
            assert_eq!(Stratum::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stratum::parse("gratuit"), None);
    }
}
