//! The Stripe objects billing stands on, created on first use: a customer per tenant
//! (remembered in `tenant.stripe_customer_id`), a plan per stratum, period and price (found
//! by the id we give it), a tax rate per VAT rate (found by its metadata). Plans and tax
//! rates are looked up in Stripe rather than remembered here, so that a test key and a live
//! key, or two deployments, never share ids that only one account knows.

use std::collections::{BTreeMap, HashMap};

use participe_core::Error as CoreError;
use participe_core::billing::{Period, Stratum};
use sqlx::PgPool;
use stripe_billing::plan::{CreatePlan, CreatePlanInlineProductParams, CreatePlanProduct, RetrievePlan};
use stripe_core::customer::CreateCustomer;
use stripe_product::tax_rate::{CreateTaxRate, ListTaxRate};
use uuid::Uuid;

use crate::{Error, Payer, Result, Stripe};

#[derive(miniserde::Deserialize)]
struct Created {
    id: String,
}

impl Stripe {
    /// The tenant's Stripe customer, created with its name, billing email and, in its
    /// metadata, the tenant's id (which is how the webhook recognises its first events).
    pub(crate) async fn customer(&self, pool: &PgPool, payer: &Payer) -> Result<String> {
        let known = sqlx::query_scalar!("select stripe_customer_id from tenant where id = $1", payer.tenant_id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CoreError::NotFound("aucun portail".into()))?;
        if let Some(id) = known {
            return Ok(id);
        }
        let request = CreateCustomer::new()
            .name(payer.name.clone())
            .email(payer.email.clone())
            .preferred_locales(vec!["fr".to_string()])
            .metadata(tenant_metadata(payer.tenant_id, &payer.slug));
        let created: Created = self
            .send(&request, Some(format!("participe-customer-{}", payer.tenant_id)))
            .await?;
        let stored = sqlx::query_scalar!(
            r#"update tenant set stripe_customer_id = coalesce(stripe_customer_id, $2) where id = $1
               returning stripe_customer_id as "id!""#,
            payer.tenant_id,
            created.id
        )
        .fetch_one(pool)
        .await?;
        Ok(stored)
    }

    /// The Stripe plan of a stratum and period at its current price (excluding VAT), and
    /// the tax rate of its VAT. The plan's id is ours (`participe-<stratum>-<period>-<cents>`):
    /// found again in whichever Stripe account the key opens, created there the first time;
    /// a new price is a new plan, and subscriptions already running keep theirs.
    pub(crate) async fn plan(&self, pool: &PgPool, stratum: Stratum, period: Period) -> Result<PlanIds> {
        let row = sqlx::query!(
            "select price_ht_cents, vat_rate_bp from plan where stratum = $1 and period = $2",
            stratum.as_str(),
            period.as_str()
        )
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("aucun tarif pour « {} »", stratum.label())))?;
        let tax_rate = self.tax_rate(row.vat_rate_bp).await?;
        let id = format!(
            "participe-{}-{}-{}",
            stratum.as_str(),
            period.as_str(),
            row.price_ht_cents
        );
        match self.send::<Created>(&RetrievePlan::new(id.as_str()), None).await {
            Ok(found) => {
                return Ok(PlanIds {
                    plan: found.id,
                    tax_rate,
                });
            }
            Err(Error::Missing) => {}
            Err(e) => return Err(e),
        }
        let interval = match period {
            Period::Month => stripe_shared::PlanInterval::Month,
            Period::Year => stripe_shared::PlanInterval::Year,
        };
        let request = CreatePlan::new(stripe_types::Currency::EUR, interval)
            .id(id.as_str())
            .amount(i64::from(row.price_ht_cents))
            .nickname(format!("{} ({}), HT", stratum.label(), period_label(period)))
            .product(CreatePlanProduct::InlineProductParams(
                CreatePlanInlineProductParams::new(format!("Participe — {}", stratum.label())),
            ))
            .metadata(HashMap::from([
                ("stratum".to_string(), stratum.as_str().to_string()),
                ("period".to_string(), period.as_str().to_string()),
            ]));
        let created = match self.send::<Created>(&request, None).await {
            Ok(created) => created,
            // Made meanwhile by another request: it is the same plan.
            Err(Error::Refused(_)) => self.send::<Created>(&RetrievePlan::new(id.as_str()), None).await?,
            Err(e) => return Err(e),
        };
        Ok(PlanIds {
            plan: created.id,
            tax_rate,
        })
    }

    /// The Stripe tax rate for French VAT at `rate_bp` basis points, added to the price:
    /// the one marked with that rate in its metadata, else a new one.
    async fn tax_rate(&self, rate_bp: i32) -> Result<String> {
        let existing: TaxRates = self.send(&ListTaxRate::new().limit(100), None).await?;
        let mark = rate_bp.to_string();
        if let Some(found) = existing
            .data
            .into_iter()
            .find(|r| r.active && r.metadata.as_ref().and_then(|m| m.get(VAT_MARK)) == Some(&mark))
        {
            return Ok(found.id);
        }
        let percent = f64::from(rate_bp) / 100.0;
        let request = CreateTaxRate::new("TVA", false, percent)
            .jurisdiction("FR")
            .description(format!("TVA française à {percent} %"))
            .metadata(HashMap::from([(VAT_MARK.to_string(), mark)]));
        let created: Created = self
            .send(&request, Some(format!("participe-tax-rate-{rate_bp}")))
            .await?;
        Ok(created.id)
    }
}

/// The metadata key marking the tax rates Participe made, with their rate in basis points.
const VAT_MARK: &str = "participe_vat_bp";

#[derive(miniserde::Deserialize)]
struct TaxRates {
    data: Vec<TaxRate>,
}

#[derive(miniserde::Deserialize)]
struct TaxRate {
    id: String,
    active: bool,
    metadata: Option<BTreeMap<String, String>>,
}

/// A plan and the tax rate its invoices carry.
pub(crate) struct PlanIds {
    pub plan: String,
    pub tax_rate: String,
}

pub(crate) fn period_label(period: Period) -> &'static str {
    match period {
        Period::Month => "mensuel",
        Period::Year => "annuel",
    }
}

/// What every object made for a tenant carries: the webhook finds the tenant by it.
pub(crate) fn tenant_metadata(tenant: Uuid, slug: &str) -> HashMap<String, String> {
    HashMap::from([
        ("tenant_id".to_string(), tenant.to_string()),
        ("tenant_slug".to_string(), slug.to_string()),
    ])
}
