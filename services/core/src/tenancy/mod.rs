//! Tenancy's kernel: what a tenant is ([`Tenant`], [`TenantStatus`]), the one door to its
//! schema ([`TenantTx`]) and host → tenant resolution (`resolver`). Everything that runs
//! the fleet — provisioning, the registry's administration, archives, domains, the
//! notifications that keep caches fresh — is `crate::fleet`, above this.

pub mod lookup;
pub mod resolver;
mod tx;

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::domain::{HostName, Invalid, SchemaName, Slug, TenantKind};

pub use tx::TenantTx;

/// Whether a tenant's portal is open. Billing adds its own states later; the router only
/// needs to know whether to serve the portal or the "portail suspendu" page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            other => Err(Invalid::new(format!("statut inconnu « {other} »"))),
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant as requests see it: identity, schema and status. Cheap to clone behind an `Arc`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: Slug,
    pub name: String,
    pub kind: TenantKind,
    pub schema: SchemaName,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    /// Billing made the portal read-only for citizens: everything readable, nothing new.
    pub read_only: bool,
    /// The verified custom domain staff made primary (`jeparticipe.lenord.fr`), if any: the
    /// portal's own address in every link Participe writes, else `<slug>.<base>`.
    pub primary_domain: Option<HostName>,
}

impl Tenant {
    /// The host links to this portal name: its primary domain, else `<slug>.<base>`. Never
    /// a request's header: see « Absolute URLs » in docs/architecture.md.
    pub fn public_host(&self, base: &HostName) -> HostName {
        match &self.primary_domain {
            Some(host) => host.clone(),
            None => HostName::under(&self.slug, base),
        }
    }
}

/// A `tenant` row as queries select it (`id, slug, name, kind, schema_name, status,
/// status_reason, read_only_since is not null as read_only`, and the verified primary
/// `tenant_domain.host` as `primary_domain`); turning it into a `Tenant` re-checks what SQL
/// will splice in.
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub schema_name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub read_only: bool,
    pub primary_domain: Option<String>,
}

/// A [`TenantRow`] from a query's record that selected its columns alongside others (a
/// domain's, a membership's, the registry's details): the fields are moved out of `$r`.
macro_rules! tenant_row {
    ($r:ident) => {
        $crate::tenancy::TenantRow {
            id: $r.id,
            slug: $r.slug,
            name: $r.name,
            kind: $r.kind,
            schema_name: $r.schema_name,
            status: $r.status,
            status_reason: $r.status_reason,
            read_only: $r.read_only,
            primary_domain: $r.primary_domain,
        }
    };
}
pub(crate) use tenant_row;

impl TryFrom<TenantRow> for Tenant {
    type Error = crate::Error;

    fn try_from(r: TenantRow) -> Result<Self, crate::Error> {
        let id = r.id;
        let corrupt =
            |e: Invalid| crate::Error::Database(sqlx::Error::Decode(format!("tenant registry row {id}: {e}").into()));
        Ok(Tenant {
            id,
            slug: Slug::parse(&r.slug)
                .or_else(|_| Slug::registry_fallback(&r.slug))
                .map_err(corrupt)?,
            name: r.name,
            kind: r.kind.parse().map_err(corrupt)?,
            schema: SchemaName::from_registry(&r.schema_name).map_err(corrupt)?,
            status: r.status.parse().map_err(corrupt)?,
            status_reason: r.status_reason,
            read_only: r.read_only,
            primary_domain: r
                .primary_domain
                .as_deref()
                .map(HostName::parse)
                .transpose()
                .map_err(corrupt)?,
        })
    }
}
