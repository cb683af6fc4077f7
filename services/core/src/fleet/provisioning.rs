//! Creating a tenant: registry rows, domains and a schema with every tenant migration, in
//! one transaction, so a failure at any step leaves nothing behind.

use sqlx::{Executor, PgPool};

use super::registry;
use crate::domain::{HostName, InseeCode, Invalid, Siren, Slug, TenantKind, custom_domain};
use crate::migrations::{TenantMigrations, fleet};
use crate::tenancy::{Tenant, TenantRow};
use crate::{Error, FieldErrors, Result};

/// A tenant to create, every field already checked.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: Slug,
    pub name: String,
    pub kind: TenantKind,
    pub insee_code: Option<InseeCode>,
    pub siren: Option<Siren>,
    pub parent: Option<Slug>,
    pub domains: Vec<HostName>,
    pub population: Option<i32>,
    /// Staff account that becomes the tenant's first admin (a collectivité subscribing).
    pub owner: Option<uuid::Uuid>,
    /// Days of free trial (a collectivité subscribing gets 30; operators' tenants none).
    pub trial_days: Option<i64>,
}

/// The same, as typed (CLI flags, the console's "créer notre portail" form).
#[derive(Debug, Clone, Default)]
pub struct NewTenantInput {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub insee_code: Option<String>,
    pub siren: Option<String>,
    pub parent: Option<String>,
    pub domains: Vec<String>,
    pub population: Option<String>,
}

impl NewTenantInput {
    /// Checks every field and reports every problem at once, keyed by field.
    pub fn parse(&self, base: &HostName) -> Result<NewTenant, FieldErrors> {
        let mut errors = FieldErrors::default();
        let slug = errors.check("slug", Slug::parse(&self.slug));
        let name = self.name.trim();
        let name = if name.is_empty() {
            errors.push("name", "indiquez le nom de la collectivité");
            None
        } else if name.chars().count() > 200 {
            errors.push("name", "le nom ne peut dépasser 200 caractères");
            None
        } else if name.chars().any(char::is_control) {
            errors.push("name", "le nom contient des caractères invisibles");
            None
        } else {
            Some(name.to_string())
        };
        let kind = errors.check("kind", self.kind.parse::<TenantKind>());
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let insee_code = match (blank(&self.insee_code), kind) {
            (Some(code), Some(kind)) => errors.check("insee_code", InseeCode::parse(kind, &code)),
            _ => None,
        };
        let siren = match (blank(&self.siren), kind) {
            (Some(s), Some(TenantKind::Epci | TenantKind::Autre)) => errors.check("siren", Siren::parse(&s)),
            (Some(_), Some(_)) => {
                errors.push(
                    "siren",
                    "le numéro SIREN ne s'indique que pour une intercommunalité ou un autre organisme",
                );
                None
            }
            _ => None,
        };
        let parent = blank(&self.parent).and_then(|p| errors.check("parent", Slug::parse(&p)));
        if parent.is_some() && parent == slug {
            errors.push("parent", "un portail ne peut être son propre parent");
        }
        let mut domains = Vec::new();
        for d in &self.domains {
            if let Some(host) = errors.check("domain", custom_domain(d, base))
                && !domains.contains(&host)
            {
                domains.push(host);
            }
        }
        let population = match blank(&self.population) {
            None => None,
            Some(p) => match p.replace([' ', '\u{a0}', '\u{202f}', '.'], "").parse::<i32>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    errors.push(
                        "population",
                        "indiquez la population en nombre d'habitants, par exemple 98 000",
                    );
                    None
                }
            },
        };
        match (slug, name, kind) {
            (Some(slug), Some(name), Some(kind)) if errors.is_empty() => Ok(NewTenant {
                slug,
                name,
                kind,
                insee_code,
                siren,
                parent,
                domains,
                population,
                owner: None,
                trial_days: None,
            }),
            _ => Err(errors),
        }
    }
}

/// Creates the tenant. Duplicates (slug, domain) and unknown parents come back as field
/// errors; any failure rolls everything back, schema included.
#[tracing::instrument(skip_all, fields(tenant = %new.slug))]
pub async fn provision(pool: &PgPool, set: &TenantMigrations, new: &NewTenant, actor: &str) -> Result<Tenant> {
    let mut tx = pool.begin().await?;
    let tenant = provision_in(&mut tx, set, new, actor).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant.slug, schema = %tenant.schema, "tenant provisioned");
    Ok(tenant)
}

/// What [`provision`] does, inside a transaction the caller owns and commits: an archive's
/// import (`fleet::archive`) loads the new schema in the same transaction, so that a
/// failure or a crash at any point leaves no tenant at all.
pub(crate) async fn provision_in(
    tx: &mut sqlx::PgConnection,
    set: &TenantMigrations,
    new: &NewTenant,
    actor: &str,
) -> Result<Tenant> {
    let schema = new.slug.schema_name();

    let parent_id = match &new.parent {
        None => None,
        Some(parent) => Some(
            sqlx::query_scalar!("select id from tenant where slug = $1", parent.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::invalid("parent", format!("aucun portail « {parent} » pour parent")))?,
        ),
    };

    let inserted = sqlx::query_as!(
        TenantRow,
        r#"insert into tenant (slug, name, kind, insee_code, siren, parent_id, schema_name, schema_version,
                              population, trial_ends_at, billing_state)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(days => $10::int),
                   case when $10::int is null then 'active' else 'trial' end)
           returning id, slug, name, kind, schema_name, status, status_reason, read_only_since is not null as "read_only!",
                     null::text as primary_domain"#,
        new.slug.as_str(),
        new.name,
        new.kind.as_str(),
        new.insee_code.as_ref().map(InseeCode::as_str),
        new.siren.as_ref().map(Siren::as_str),
        parent_id,
        schema.as_str(),
        set.latest(),
        new.population,
        new.trial_days.map(|d| d as i32)
    )
    .fetch_one(&mut *tx)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) => {
            let e = Error::from(e);
            if e.is_constraint("tenant_slug_key") || e.is_constraint("tenant_schema_name_key") {
                return Err(Error::invalid(
                    "slug",
                    format!("le nom court « {} » est déjà utilisé", new.slug),
                ));
            }
            return Err(e);
        }
    };
    let tenant = Tenant::try_from(row)?;

    registry::insert_domains(tx, tenant.id, &new.domains, false).await?;
    if let Some(owner) = new.owner {
        crate::staff::add_member(tx, owner, tenant.id, crate::staff::Role::Admin).await?;
    }

    let create_schema = format!("create schema {}", schema.quoted());
    match tx.execute(create_schema.as_str()).await {
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42P06") => {
            return Err(Error::invalid(
                "slug",
                format!(
                    "un schéma {schema} existe déjà sans portail : un opérateur doit le retirer avant de réutiliser « {} »",
                    new.slug
                ),
            ));
        }
        other => {
            other?;
        }
    }
    fleet::install(tx, set, &schema).await?;

    crate::platform_audit::record(
        tx,
        actor,
        "tenant.create",
        Some(tenant.id),
        serde_json::json!({ "slug": new.slug, "kind": new.kind, "domains": new.domains }),
    )
    .await?;
    Ok(tenant)
}

/// Removes a tenant and its schema for good. Only tests, the benchmark and, later, an
/// operator's explicit act call this; billing never does.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn destroy(pool: &PgPool, slug: &Slug, actor: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    let Some(row) = sqlx::query!(
        "select id, schema_name from tenant where slug = $1 for update",
        slug.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(Error::NotFound(format!("aucun portail « {slug} »")));
    };
    let schema = crate::domain::SchemaName::from_registry(&row.schema_name)
        .map_err(|e: Invalid| Error::invalid("schema", e.0))?;
    let drop_schema = format!("drop schema if exists {} cascade", schema.quoted());
    tx.execute(drop_schema.as_str()).await?;
    let children = sqlx::query_scalar!(r#"select count(*) as "n!" from tenant where parent_id = $1"#, row.id)
        .fetch_one(&mut *tx)
        .await?;
    if children > 0 {
        return Err(Error::invalid(
            "slug",
            format!("« {slug} » est le parent d'autres portails"),
        ));
    }
    sqlx::query!("delete from tenant where id = $1", row.id)
        .execute(&mut *tx)
        .await?;
    crate::platform_audit::record(
        &mut tx,
        actor,
        "tenant.destroy",
        None,
        serde_json::json!({ "slug": slug }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Console handlers run provisioning on a multi-threaded runtime: its future must be Send.
#[allow(dead_code)]
fn provisioning_is_send(pool: &PgPool, set: &TenantMigrations, new: &NewTenant) {
    fn send<T: Send>(_: T) {}
    send(provision(pool, set, new, "check"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HostName {
        HostName::parse("localhost").unwrap()
    }

    #[test]
    fn a_complete_input_parses() {
        let input = NewTenantInput {
            slug: "nord".into(),
            name: " Département du Nord ".into(),
            kind: "departement".into(),
            insee_code: Some("59".into()),
            domains: vec!["JeParticipe.LeNord.fr".into(), "jeparticipe.lenord.fr".into()],
            ..Default::default()
        };
        let t = input.parse(&base()).unwrap();
        assert_eq!(t.name, "Département du Nord");
        assert_eq!(t.domains.len(), 1, "duplicates collapse");
        assert_eq!(t.insee_code.unwrap().as_str(), "59");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let input = NewTenantInput {
            slug: "Console".into(),
            name: "   ".into(),
            kind: "mairie".into(),
            domains: vec!["nord.localhost".into()],
            ..Default::default()
        };
        let errors = input.parse(&base()).unwrap_err();
        for field in ["slug", "name", "kind", "domain"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn codes_must_fit_the_kind() {
        let input = NewTenantInput {
            slug: "mel".into(),
            name: "MEL".into(),
            kind: "epci".into(),
            insee_code: Some("59".into()),
            ..Default::default()
        };
        assert!(input.parse(&base()).unwrap_err().get("insee_code").is_some());
        let input = NewTenantInput {
            insee_code: None,
            siren: Some("200093201".into()),
            ..input
        };
        assert!(input.parse(&base()).is_ok());
    }
}
