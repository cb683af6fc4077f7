//! Subscribing: online through Checkout (card or SEPA debit, Stripe's page), by invoice
//! (a subscription whose invoices are sent, due in 30 days, paid by bank transfer), and
//! the customer portal where an online payer changes card or bank account.

use std::collections::HashMap;

use participe_core::billing::stripe_events;
use participe_core::billing::{Period, Stratum, standing::Policy};
use sqlx::PgPool;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    BankTransferParam, CreateSubscription, CreateSubscriptionItems, CreateSubscriptionPaymentSettings,
    CreateSubscriptionPaymentSettingsPaymentMethodOptions, CreateSubscriptionPaymentSettingsPaymentMethodTypes,
    EuBankTransferParam, InvoicePaymentMethodOptionsParam,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAllowedPaymentMethodTypes, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionSubscriptionData,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::objects::tenant_metadata;
use crate::{Error, Result, Stripe};

/// Days a collectivité has to pay an invoice (public accounting pays by transfer within 30).
pub const DAYS_UNTIL_DUE: u32 = 30;

/// The tenant paying, as Stripe's customer will know it.
#[derive(Debug, Clone)]
pub struct Payer {
    pub tenant_id: Uuid,
    pub slug: String,
    /// The collectivité's name, on invoices.
    pub name: String,
    /// Where Stripe sends invoices and receipts.
    pub email: String,
}

/// The plan chosen.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    pub stratum: Stratum,
    pub period: Period,
}

impl Choice {
    /// Carried by the subscription, so that its events set the tenant's plan.
    fn metadata(self, payer: &Payer) -> HashMap<String, String> {
        let mut m = tenant_metadata(payer.tenant_id, &payer.slug);
        m.insert("stratum".into(), self.stratum.as_str().into());
        m.insert("period".into(), self.period.as_str().into());
        m
    }
}

#[derive(miniserde::Deserialize)]
struct Session {
    url: Option<String>,
}

/// A subscription as Stripe's answer describes it.
#[derive(miniserde::Deserialize)]
struct Subscription {
    id: String,
    status: String,
    created: i64,
}

/// A subscription by invoice, as recorded.
#[derive(Debug, Clone)]
pub struct InvoiceSubscription {
    pub id: String,
    pub status: String,
}

fn url(session: Session) -> Result<String> {
    session
        .url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| Error::Unavailable("Stripe n'a pas donné l'adresse de sa page".into()))
}

impl Stripe {
    /// A Checkout session for `choice`: the address of Stripe's payment page, which sends
    /// the payer back to `success_url` (with `{CHECKOUT_SESSION_ID}` filled in) or
    /// `cancel_url`.
    pub async fn checkout(
        &self,
        pool: &PgPool,
        payer: &Payer,
        choice: Choice,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String> {
        let customer = self.customer(pool, payer).await?;
        let ids = self.plan(pool, choice.stratum, choice.period).await?;
        let request = CreateCheckoutSession::new()
            .mode(stripe_shared::CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(payer.tenant_id.to_string())
            .line_items(vec![CreateCheckoutSessionLineItems {
                price: Some(ids.plan),
                quantity: Some(1),
                tax_rates: Some(vec![ids.tax_rate]),
                ..CreateCheckoutSessionLineItems::new()
            }])
            .allowed_payment_method_types(vec![
                CreateCheckoutSessionAllowedPaymentMethodTypes::Card,
                CreateCheckoutSessionAllowedPaymentMethodTypes::SepaDebit,
            ])
            .locale(stripe_shared::CheckoutSessionLocale::Fr)
            .subscription_data(CreateCheckoutSessionSubscriptionData {
                metadata: Some(choice.metadata(payer)),
                ..CreateCheckoutSessionSubscriptionData::new()
            })
            .success_url(success_url)
            .cancel_url(cancel_url);
        url(self.send(&request, None).await?)
    }

    /// A customer portal session: the address of Stripe's page where the payer changes
    /// card or bank account and downloads receipts, which links back to `return_url`.
    pub async fn portal(&self, pool: &PgPool, tenant: Uuid, return_url: &str) -> Result<String> {
        let customer = sqlx::query_scalar!("select stripe_customer_id from tenant where id = $1", tenant)
            .fetch_optional(pool)
            .await?
            .flatten()
            .ok_or_else(|| participe_core::Error::NotFound("Stripe ne connaît pas encore ce portail".into()))?;
        let request = CreateBillingPortalSession::new()
            .customer(&customer)
            .return_url(return_url)
            .locale(stripe_billing::BillingPortalSessionLocale::Fr);
        url(self.send(&request, None).await?)
    }

    /// Subscribes by invoice: Stripe sends each invoice to the payer's email, due in
    /// [`DAYS_UNTIL_DUE`] days, payable by bank transfer to the account shown on it. The
    /// subscription is recorded at once (mode `invoice`, its status, the plan) and the
    /// tenant's standing re-evaluated; its events then keep it up to date.
    pub async fn subscribe_by_invoice(
        &self,
        pool: &PgPool,
        policy: &Policy,
        payer: &Payer,
        choice: Choice,
    ) -> Result<InvoiceSubscription> {
        let customer = self.customer(pool, payer).await?;
        let ids = self.plan(pool, choice.stratum, choice.period).await?;
        let transfer = InvoicePaymentMethodOptionsParam {
            funding_type: Some("bank_transfer".into()),
            bank_transfer: Some(BankTransferParam {
                type_: Some("eu_bank_transfer".into()),
                eu_bank_transfer: Some(EuBankTransferParam::new("FR")),
            }),
        };
        let request = CreateSubscription::new()
            .customer(customer)
            .items(vec![CreateSubscriptionItems {
                plan: Some(ids.plan),
                quantity: Some(1),
                ..CreateSubscriptionItems::new()
            }])
            .collection_method(stripe_shared::SubscriptionCollectionMethod::SendInvoice)
            .days_until_due(DAYS_UNTIL_DUE)
            .default_tax_rates(vec![ids.tax_rate])
            .payment_settings(CreateSubscriptionPaymentSettings {
                payment_method_types: Some(vec![
                    CreateSubscriptionPaymentSettingsPaymentMethodTypes::CustomerBalance,
                ]),
                payment_method_options: Some(CreateSubscriptionPaymentSettingsPaymentMethodOptions {
                    customer_balance: Some(transfer),
                    ..CreateSubscriptionPaymentSettingsPaymentMethodOptions::new()
                }),
                ..CreateSubscriptionPaymentSettings::new()
            })
            .metadata(choice.metadata(payer));
        // Keyed on the tenant, the plan and the day: a double click subscribes once.
        let key = format!(
            "participe-invoice-subscription-{}-{}-{}-{}",
            payer.tenant_id,
            choice.stratum.as_str(),
            choice.period.as_str(),
            OffsetDateTime::now_utc().date()
        );
        let sub: Subscription = self.send(&request, Some(key)).await?;
        let created = OffsetDateTime::from_unix_timestamp(sub.created).unwrap_or_else(|_| OffsetDateTime::now_utc());
        stripe_events::record_subscription(
            pool,
            policy,
            stripe_events::NewSubscription {
                tenant: payer.tenant_id,
                id: &sub.id,
                status: &sub.status,
                mode: "invoice",
                created,
                plan: Some((choice.stratum, choice.period)),
            },
        )
        .await?;
        Ok(InvoiceSubscription {
            id: sub.id,
            status: sub.status,
        })
    }
}
