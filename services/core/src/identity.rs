//! Identity providers a tenant's citizens may sign in with (FranceConnect, or any OpenID
//! Connect provider its staff configure), and which provider identity belongs to which
//! citizen. Client secrets are stored sealed with the platform key ([`SecretKey`]), for the
//! place `tenant/<tenant id>/identity_provider/<provider id>`: a sealed secret moved to
//! another tenant's schema, or to another row, does not open. Every function takes the
//! tenant's `TenantTx`.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::citizens::{self, Citizen, Profile};
use crate::domain::sealed::{SecretKey, Unsealable};
use crate::domain::{Email, Invalid};
use crate::{Error, FieldErrors, Result, TenantTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    FranceConnect,
    Oidc,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FranceConnect => "franceconnect",
            Kind::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Result<Kind, Invalid> {
        match s {
            "franceconnect" => Ok(Kind::FranceConnect),
            "oidc" => Ok(Kind::Oidc),
            _ => Err(Invalid::new(
                "choisissez FranceConnect ou un autre fournisseur OpenID Connect",
            )),
        }
    }

    /// The scopes FranceConnect serves: identity and address, as its documentation lists.
    pub const FRANCECONNECT_SCOPES: &'static str = "openid given_name family_name email";
}

/// A configured provider. The sealed secret never leaves this module unopened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Provider {
    pub id: Uuid,
    pub kind: String,
    pub label: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub scopes: String,
    pub enabled: bool,
    #[serde(skip)]
    sealed_secret: Vec<u8>,
}

impl Provider {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Oidc)
    }

    /// The client secret, opened for the tenant it was sealed for.
    pub fn secret(&self, key: &SecretKey, tenant_id: Uuid) -> Result<String, Unsealable> {
        key.open(&place(tenant_id, self.id), &self.sealed_secret)
    }

    pub fn scope_list(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(str::to_string).collect()
    }
}

fn place(tenant_id: Uuid, provider_id: Uuid) -> String {
    format!("tenant/{tenant_id}/identity_provider/{provider_id}")
}

/// A provider's form as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderFields<'a> {
    pub kind: &'a str,
    pub label: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub secret: &'a str,
    pub scopes: &'a str,
    pub enabled: bool,
}

/// A provider's form, checked. `secret` is `None` when editing keeps the stored one.
#[derive(Debug)]
pub struct ProviderInput {
    pub kind: Kind,
    pub label: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub secret: Option<String>,
    pub scopes: String,
    pub enabled: bool,
}

impl ProviderInput {
    /// Checks a form; a new provider needs its secret, an edited one keeps it when left empty.
    /// `loopback`: the platform allows issuers on this machine (`http://127.0.0.1…`), for
    /// development and tests only.
    pub fn parse(form: &ProviderFields<'_>, new: bool, loopback: bool) -> Result<ProviderInput, FieldErrors> {
        let ProviderFields {
            kind,
            label,
            issuer,
            client_id,
            secret,
            scopes,
            enabled,
        } = *form;
        let mut errors = FieldErrors::default();
        let kind = errors.check("kind", Kind::parse(kind));
        let label = label.trim();
        let label = match (kind, label) {
            (Some(Kind::FranceConnect), "") => "FranceConnect".to_string(),
            (_, "") => {
                errors.push(
                    "label",
                    "indiquez le nom affiché sur le bouton, par exemple « Mon compte Région »",
                );
                String::new()
            }
            (_, l) if l.chars().count() > 60 => {
                errors.push("label", "60 caractères au plus");
                String::new()
            }
            (_, l) => l.to_string(),
        };
        let issuer = match kind {
            Some(Kind::Oidc) => errors.check("issuer", parse_issuer(issuer, loopback)),
            _ => None,
        };
        let client_id = client_id.trim();
        if client_id.is_empty() || client_id.len() > 500 || client_id.chars().any(char::is_control) {
            errors.push("client_id", "indiquez l'identifiant client fourni par le fournisseur");
        }
        let secret = secret.trim();
        if new && secret.is_empty() {
            errors.push("secret", "indiquez le secret client fourni par le fournisseur");
        } else if secret.len() > 500 || secret.chars().any(char::is_control) {
            errors.push("secret", "ce secret n'a pas la forme attendue");
        }
        let scopes = match kind {
            Some(Kind::FranceConnect) => Kind::FRANCECONNECT_SCOPES.to_string(),
            _ => errors.check("scopes", parse_scopes(scopes)).unwrap_or_default(),
        };
        match (kind, errors.is_empty()) {
            (Some(kind), true) => Ok(ProviderInput {
                kind,
                label,
                issuer,
                client_id: client_id.to_string(),
                secret: (!secret.is_empty()).then(|| secret.to_string()),
                scopes,
                enabled,
            }),
            _ => Err(errors),
        }
    }
}

/// An issuer address: `https://`; `http://` on this machine only when `loopback` is allowed
/// (a provider run locally, in development and tests). Addresses on private networks are
/// the transport's to refuse, after name resolution.
pub fn parse_issuer(input: &str, loopback: bool) -> Result<String, Invalid> {
    let input = input.trim().trim_end_matches('/');
    let url = url::Url::parse(input).map_err(|_| {
        Invalid::new("indiquez l'adresse de l'émetteur, par exemple https://connexion.exemple.fr/realms/citoyens")
    })?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
        || url.host_str().is_some_and(|h| h.ends_with(".localhost"));
    let secure = (url.scheme() == "https" && !local) || (loopback && local && matches!(url.scheme(), "http" | "https"));
    if !secure || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Invalid::new(
            "l'adresse de l'émetteur doit commencer par https:// et ne contenir ni paramètre ni fragment",
        ));
    }
    if input.len() > 500 {
        return Err(Invalid::new("500 caractères au plus"));
    }
    Ok(input.to_string())
}

/// Scopes besides `openid`: words of letters, digits and `_:.-`, twenty at most.
pub fn parse_scopes(input: &str) -> Result<String, Invalid> {
    let words: Vec<&str> = input.split_whitespace().filter(|w| *w != "openid").collect();
    if words.len() > 20
        || words
            .iter()
            .any(|w| w.len() > 100 || !w.chars().all(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c)))
    {
        return Err(Invalid::new(
            "séparez les portées par des espaces ; lettres, chiffres et _ : . - seulement",
        ));
    }
    let mut scopes = vec!["openid"];
    scopes.extend(words);
    Ok(scopes.join(" "))
}

struct ProviderRow {
    id: Uuid,
    kind: String,
    label: String,
    issuer: Option<String>,
    client_id: String,
    client_secret: Vec<u8>,
    scopes: String,
    enabled: bool,
}

impl From<ProviderRow> for Provider {
    fn from(r: ProviderRow) -> Self {
        Provider {
            id: r.id,
            kind: r.kind,
            label: r.label,
            issuer: r.issuer,
            client_id: r.client_id,
            scopes: r.scopes,
            enabled: r.enabled,
            sealed_secret: r.client_secret,
        }
    }
}

/// Every provider, FranceConnect first.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Provider>> {
    Ok(sqlx::query_as!(
        ProviderRow,
        "select id, kind, label, issuer, client_id, client_secret, scopes, enabled
           from identity_provider order by kind = 'oidc', label, created_at"
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(Provider::from)
    .collect())
}

/// The providers offered on the sign-in pages.
pub async fn enabled(tx: &mut TenantTx) -> Result<Vec<Provider>> {
    Ok(list(tx).await?.into_iter().filter(|p| p.enabled).collect())
}

pub async fn find(tx: &mut TenantTx, id: Uuid) -> Result<Option<Provider>> {
    Ok(sqlx::query_as!(
        ProviderRow,
        "select id, kind, label, issuer, client_id, client_secret, scopes, enabled
           from identity_provider where id = $1",
        id
    )
    .fetch_optional(tx.conn())
    .await?
    .map(Provider::from))
}

fn duplicate_franceconnect(e: sqlx::Error) -> Error {
    match crate::error::violated_constraint(&e) {
        Some("identity_provider_franceconnect_idx") => {
            Error::invalid("kind", "FranceConnect est déjà configuré pour ce portail : modifiez-le")
        }
        _ => e.into(),
    }
}

pub async fn create(tx: &mut TenantTx, key: &SecretKey, input: &ProviderInput) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let secret = input
        .secret
        .as_deref()
        .ok_or_else(|| Error::invalid("secret", "indiquez le secret client fourni par le fournisseur"))?;
    let sealed = key.seal(&place(tx.tenant().id, id), secret);
    sqlx::query!(
        "insert into identity_provider (id, kind, label, issuer, client_id, client_secret, scopes, enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        input.kind.as_str(),
        input.label,
        input.issuer,
        input.client_id,
        sealed,
        input.scopes,
        input.enabled
    )
    .execute(tx.conn())
    .await
    .map_err(duplicate_franceconnect)?;
    Ok(id)
}

/// Changes a provider (its kind stays); `false` when there is no such provider here.
///
/// Another issuer is another provider whose identifiers (`sub`) mean other people: the links
/// to the old one are dropped (their citizens link again), and its secret must be given anew.
pub async fn update(tx: &mut TenantTx, key: &SecretKey, id: Uuid, input: &ProviderInput) -> Result<bool> {
    let sealed = input.secret.as_deref().map(|s| key.seal(&place(tx.tenant().id, id), s));
    let moved = sqlx::query_scalar!(
        "select (issuer is distinct from $2 or client_id <> $3) as \"moved!\" from identity_provider where id = $1",
        id,
        input.issuer,
        input.client_id
    )
    .fetch_optional(tx.conn())
    .await?;
    match moved {
        None => return Ok(false),
        Some(true) if sealed.is_none() => {
            return Err(Error::invalid(
                "secret",
                "l'émetteur ou l'identifiant client change : indiquez le secret client qui va avec",
            ));
        }
        Some(true) => {
            sqlx::query!("delete from citizen_identity where provider_id = $1", id)
                .execute(tx.conn())
                .await?;
        }
        Some(false) => {}
    }
    let done = sqlx::query!(
        "update identity_provider
            set label = $2, issuer = case when kind = 'oidc' then $3 else null end, client_id = $4,
                client_secret = coalesce($5, client_secret), scopes = $6, enabled = $7, updated_at = now()
          where id = $1",
        id,
        input.label,
        input.issuer,
        input.client_id,
        sealed,
        input.scopes,
        input.enabled
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a provider and the links to it (accounts stay; they sign in by password or
/// another provider).
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let done = sqlx::query!("delete from identity_provider where id = $1", id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The citizen a provider identity belongs to.
pub async fn citizen_for(tx: &mut TenantTx, provider_id: Uuid, subject: &str) -> Result<Option<Citizen>> {
    let id = sqlx::query_scalar!(
        "select citizen_id from citizen_identity where provider_id = $1 and subject = $2",
        provider_id,
        subject
    )
    .fetch_optional(tx.conn())
    .await?;
    match id {
        Some(id) => citizens::find(tx, id).await,
        None => Ok(None),
    }
}

/// Links a provider identity to a citizen who proved they own the account, and marks the
/// account's identity as verified. A citizen already linked to another identity of the same
/// provider keeps the first link (`false`).
pub async fn link(tx: &mut TenantTx, provider_id: Uuid, subject: &str, citizen_id: Uuid) -> Result<bool> {
    let inserted = sqlx::query!(
        "insert into citizen_identity (provider_id, subject, citizen_id) values ($1, $2, $3)
         on conflict do nothing",
        provider_id,
        subject,
        citizen_id
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "update citizen set identity_verified_at = coalesce(identity_verified_at, now()) where id = $1",
        citizen_id
    )
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// An account from a provider's identity, once the citizen gave what was missing.
pub struct NewProviderCitizen<'a> {
    pub email: &'a Email,
    pub display_name: &'a str,
    pub profile: Profile,
    pub charter_version: Option<i32>,
}

/// Inserts the account, without a password; `None` when the address has one already.
async fn insert_citizen(tx: &mut TenantTx, new: &NewProviderCitizen<'_>, confirmed: bool) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "insert into citizen (email, display_name, profile, password_hash, charter_version, charter_accepted_at,
                              email_confirmed_at)
         values ($1, $2, $3, '', $4, case when $4::int is null then null else now() end, case when $5 then now() end)
         on conflict (email) do nothing
         returning id",
        new.email.as_str(),
        new.display_name,
        new.profile.as_str(),
        new.charter_version,
        confirmed
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// The provider vouched for the address: the account is created confirmed and linked to the
/// identity. `None` when the address has an account already (it is linked only after its
/// owner proves it is theirs).
pub async fn create_citizen(
    tx: &mut TenantTx,
    new: &NewProviderCitizen<'_>,
    provider_id: Uuid,
    subject: &str,
) -> Result<Option<Citizen>> {
    let Some(id) = insert_citizen(tx, new, true).await? else {
        return Ok(None);
    };
    link(tx, provider_id, subject, id).await?;
    citizens::find(tx, id).await
}

/// The provider did not vouch for the address (none given, or not verified): the account is
/// created unconfirmed and *not* linked; the confirmation link returned, once followed by
/// the address's owner, links it (`citizens::confirm_email`). `None` when the address has
/// an account already.
pub async fn create_unconfirmed(
    tx: &mut TenantTx,
    new: &NewProviderCitizen<'_>,
    provider_id: Uuid,
    subject: &str,
) -> Result<Option<(Citizen, crate::domain::Token)>> {
    let Some(id) = insert_citizen(tx, new, false).await? else {
        return Ok(None);
    };
    let token = citizens::issue_token(tx, id, citizens::TokenPurpose::Confirm).await?;
    sqlx::query!(
        "update citizen_token set provider_id = $2, subject = $3 where token_hash = $1",
        token.hash(),
        provider_id,
        subject
    )
    .execute(tx.conn())
    .await?;
    let citizen = citizens::find(tx, id)
        .await?
        .ok_or_else(|| Error::NotFound("compte".into()))?;
    Ok(Some((citizen, token)))
}

/// The providers a citizen's account is linked to, for their account page and data export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Linked {
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

pub async fn linked(tx: &mut TenantTx, citizen_id: Uuid) -> Result<Vec<Linked>> {
    Ok(sqlx::query_as!(
        Linked,
        "select p.label, i.created_at as linked_at
           from citizen_identity i join identity_provider p on p.id = i.provider_id
          where i.citizen_id = $1 order by i.created_at",
        citizen_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The first provider identity linked to a citizen (provider, subject): who they are for a
/// vote that asks for a verified identity, whatever account they use.
pub async fn first_identity(tx: &mut TenantTx, citizen_id: Uuid) -> Result<Option<(Uuid, String)>> {
    Ok(sqlx::query!(
        "select provider_id, subject from citizen_identity where citizen_id = $1 order by created_at, provider_id limit 1",
        citizen_id
    )
    .fetch_optional(tx.conn())
    .await?
    .map(|r| (r.provider_id, r.subject)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_https_unless_local() {
        assert_eq!(
            parse_issuer("https://idp.example.fr/realms/x/", false).unwrap(),
            "https://idp.example.fr/realms/x"
        );
        assert!(parse_issuer("http://127.0.0.1:4000", true).is_ok());
        assert!(
            parse_issuer("http://127.0.0.1:4000", false).is_err(),
            "not in production"
        );
        assert!(parse_issuer("https://localhost", false).is_err());
        for bad in [
            "http://idp.example.fr",
            "ftp://x",
            "https://x/?a=b",
            "pas une adresse",
            "https://u@x.fr",
        ] {
            assert!(parse_issuer(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_always_start_with_openid() {
        assert_eq!(parse_scopes("email profile").unwrap(), "openid email profile");
        assert_eq!(parse_scopes("openid  email").unwrap(), "openid email");
        assert!(parse_scopes("email <script>").is_err());
    }

    #[test]
    fn a_new_provider_needs_its_secret_an_edited_one_keeps_it() {
        let region = ProviderFields {
            kind: "oidc",
            label: "Région",
            issuer: "https://idp.fr",
            client_id: "id",
            scopes: "email",
            enabled: true,
            ..Default::default()
        };
        let errors = ProviderInput::parse(&region, true, false).unwrap_err();
        assert!(errors.get("secret").is_some());
        let kept = ProviderInput::parse(&region, false, false).unwrap();
        assert!(kept.secret.is_none());
        let fc = ProviderFields {
            kind: "franceconnect",
            client_id: "id",
            secret: "s",
            ..Default::default()
        };
        let fc = ProviderInput::parse(&fc, true, false).unwrap();
        assert_eq!(fc.label, "FranceConnect");
        assert_eq!(fc.issuer, None);
        assert_eq!(fc.scopes, Kind::FRANCECONNECT_SCOPES);
    }
}
