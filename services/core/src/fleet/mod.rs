//! Running the fleet of tenants, above the kernel (`crate::tenancy`): provisioning a tenant
//! (registry rows, schema, migrations), the registry's administration and the operators'
//! overview (`registry`), tenant archives (export and import), custom domains, and the
//! notifications that tell every process a tenant changed.

pub mod archive;
pub mod domains;
pub mod notifications;
pub mod provisioning;
pub mod registry;
