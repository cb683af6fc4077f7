//! Participe's core: the typed domain values, the tenancy machinery and the migrations.
//!
//! It owns the tenant registry (`public.tenant`, `public.tenant_domain`), the only way to
//! reach a tenant's tables (`TenantTx`), the host → tenant resolution with its cache, the
//! provisioning of new tenants, and the fleet migration runner. It never renders HTML and
//! never touches HTTP: the web crates build on it.

pub mod agenda;
pub mod audience;
pub mod ballots;
pub mod billing;
pub mod booklets;
pub mod budgets;
pub mod census;
pub mod citizens;
pub mod components;
pub mod csv_sheet;
pub mod db;
pub mod dispositifs;
pub mod documents;
pub mod domain;
mod error;
pub mod exports;
pub mod fleet;
pub mod identity;
pub mod jobs;
pub mod migrations;
pub mod news;
pub mod open_data;
pub mod operators;
pub mod participation;
pub mod platform_audit;
pub mod residence;
pub mod search;
pub mod site;
pub mod staff;
pub mod tenancy;
pub mod traffic;

pub use error::{Error, FieldError, FieldErrors, Result};
pub use tenancy::{Tenant, TenantStatus, TenantTx};
