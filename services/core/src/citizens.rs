//! Citizen accounts of one tenant, in its schema: a person who takes part on two portals has
//! two accounts, and neither portal knows of the other. Sign-up with charter acceptance,
//! one-time tokens (confirmation, reset, change of address), blocking, the JSON export of
//! everything the tenant holds about a citizen, and account deletion. Every function takes
//! the tenant's `TenantTx`.

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{Email, Invalid, NewPassword, Token, hash_token, password};
use crate::{Error, Result, TenantTx};

/// The four audiences of the original portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Citoyen,
    Association,
    Elu,
    Collectivite,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Citoyen,
        Profile::Association,
        Profile::Elu,
        Profile::Collectivite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Citoyen => "citoyen",
            Profile::Association => "association",
            Profile::Elu => "elu",
            Profile::Collectivite => "collectivite",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Profile::Citoyen => "Citoyen·ne",
            Profile::Association => "Association",
            Profile::Elu => "Élu·e",
            Profile::Collectivite => "Collectivité",
        }
    }
}

impl FromStr for Profile {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| Invalid::new("choisissez à quel titre vous participez"))
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A display name as typed: trimmed, 1 to 80 characters, no control characters.
pub fn parse_display_name(input: &str) -> Result<String, Invalid> {
    let name = input.trim();
    if name.is_empty() {
        return Err(Invalid::new("indiquez le nom sous lequel vous participez"));
    }
    if name.chars().count() > 80 {
        return Err(Invalid::new("80 caractères au plus"));
    }
    if name.chars().any(char::is_control) {
        return Err(Invalid::new("le nom contient des caractères invisibles"));
    }
    Ok(name.to_string())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Citizen {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub profile: String,
    pub confirmed: bool,
    pub pending_email: Option<String>,
    pub charter_version: Option<i32>,
    pub blocked: bool,
    pub blocked_reason: String,
    pub session_epoch: i32,
    /// Created or linked through an identity provider that vouched for the person
    /// (FranceConnect, …): « identité vérifiée ».
    pub identity_verified: bool,
    /// Accounts created through a provider have none until their owner chooses one.
    pub has_password: bool,
}

impl Citizen {
    pub fn profile_label(&self) -> &'static str {
        self.profile.parse::<Profile>().map(Profile::label).unwrap_or("")
    }
}

struct CitizenRow {
    id: Uuid,
    email: String,
    display_name: String,
    profile: String,
    email_confirmed_at: Option<OffsetDateTime>,
    pending_email: Option<String>,
    charter_version: Option<i32>,
    blocked_at: Option<OffsetDateTime>,
    blocked_reason: String,
    session_epoch: i32,
    identity_verified_at: Option<OffsetDateTime>,
    has_password: bool,
}

impl From<CitizenRow> for Citizen {
    fn from(r: CitizenRow) -> Self {
        Citizen {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            profile: r.profile,
            confirmed: r.email_confirmed_at.is_some(),
            pending_email: r.pending_email,
            charter_version: r.charter_version,
            blocked: r.blocked_at.is_some(),
            blocked_reason: r.blocked_reason,
            session_epoch: r.session_epoch,
            identity_verified: r.identity_verified_at.is_some(),
            has_password: r.has_password,
        }
    }
}

pub async fn find(tx: &mut TenantTx, id: Uuid) -> Result<Option<Citizen>> {
    Ok(sqlx::query_as!(
        CitizenRow,
        r#"select id, email, display_name, profile, email_confirmed_at, pending_email, charter_version,
                blocked_at, blocked_reason, session_epoch, identity_verified_at, password_hash <> '' as "has_password!"
           from citizen where id = $1"#,
        id
    )
    .fetch_optional(tx.conn())
    .await?
    .map(Citizen::from))
}

/// Channel of the notices of accounts changed or deleted (payload: `<schema> <id>`, sent by
/// the `citizen_account` trigger).
pub const CITIZEN_CHANNEL: &str = "participe_citizen";

/// Accounts of signed-in citizens kept in memory between their requests, so that a page
/// they read costs no round trip for who they are. A copy leaves when its row changes in
/// any process (`CITIZEN_CHANNEL`, followed by `fleet::notifications`), after a minute at
/// the latest, and when the listener reconnects; one read while a change was announced is
/// not kept (`generation`), so that a block or a new password never hides behind a copy.
#[derive(Clone)]
pub struct CitizenCache {
    inner: std::sync::Arc<CitizenCacheInner>,
}

struct CitizenCacheInner {
    accounts: moka::sync::Cache<(String, Uuid), std::sync::Arc<Citizen>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Default for CitizenCache {
    fn default() -> Self {
        CitizenCache {
            inner: std::sync::Arc::new(CitizenCacheInner {
                accounts: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(std::time::Duration::from_secs(60))
                    .build(),
                generation: Default::default(),
            }),
        }
    }
}

impl CitizenCache {
    /// The account `id` of `schema`, when it is in memory.
    pub fn get(&self, schema: &str, id: Uuid) -> Option<std::sync::Arc<Citizen>> {
        self.inner.accounts.get(&(schema.to_string(), id))
    }

    /// The account `id` of the transaction's tenant, from memory or else read in `tx`.
    pub async fn find(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<std::sync::Arc<Citizen>>> {
        use std::sync::atomic::Ordering;
        let key = (tx.tenant().schema.as_str().to_string(), id);
        if let Some(c) = self.inner.accounts.get(&key) {
            return Ok(Some(c));
        }
        let before = self.inner.generation.load(Ordering::Acquire);
        let Some(found) = find(tx, id).await?.map(std::sync::Arc::new) else {
            return Ok(None);
        };
        if self.inner.generation.load(Ordering::Acquire) == before {
            self.inner.accounts.insert(key, found.clone());
        }
        Ok(Some(found))
    }
}

impl crate::fleet::notifications::Follower for CitizenCache {
    fn channel(&self) -> &'static str {
        CITIZEN_CHANNEL
    }

    fn forget(&self, payload: &str) {
        self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Some((schema, id)) = payload.split_once(' ')
            && let Ok(id) = id.parse::<Uuid>()
        {
            self.inner.accounts.invalidate(&(schema.to_string(), id));
        }
    }

    fn forget_all(&self) {
        self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.inner.accounts.invalidate_all();
    }
}

pub async fn find_by_email(tx: &mut TenantTx, email: &Email) -> Result<Option<Citizen>> {
    Ok(sqlx::query_as!(
        CitizenRow,
        r#"select id, email, display_name, profile, email_confirmed_at, pending_email, charter_version,
                blocked_at, blocked_reason, session_epoch, identity_verified_at, password_hash <> '' as "has_password!"
           from citizen where email = $1"#,
        email.as_str()
    )
    .fetch_optional(tx.conn())
    .await?
    .map(Citizen::from))
}

/// What a sign-up form carries once checked.
pub struct NewCitizen<'a> {
    pub email: &'a Email,
    pub display_name: &'a str,
    pub profile: Profile,
    pub password: &'a NewPassword,
    /// The charter version shown and accepted (none while the tenant has none).
    pub charter_version: Option<i32>,
}

/// A new account (to confirm), or an address that already has one: its owner is told by
/// mail, the person signing up sees the same page either way.
pub enum SignUp {
    Created { citizen: Citizen, confirm: Token },
    AlreadyRegistered { citizen: Citizen },
}

pub async fn sign_up(tx: &mut TenantTx, new: &NewCitizen<'_>) -> Result<SignUp> {
    let inserted = sqlx::query_as!(
        CitizenRow,
        r#"insert into citizen (email, display_name, profile, password_hash, charter_version, charter_accepted_at)
         values ($1, $2, $3, $4, $5, case when $5::int is null then null else now() end)
         on conflict (email) do nothing
         returning id, email, display_name, profile, email_confirmed_at, pending_email, charter_version,
                   blocked_at, blocked_reason, session_epoch, identity_verified_at, password_hash <> '' as "has_password!""#,
        new.email.as_str(),
        new.display_name,
        new.profile.as_str(),
        new.password.hash(),
        new.charter_version
    )
    .fetch_optional(tx.conn())
    .await
    .map_err(charter_conflict)?;
    match inserted {
        Some(row) => {
            let citizen = Citizen::from(row);
            let confirm = issue_token(tx, citizen.id, TokenPurpose::Confirm).await?;
            Ok(SignUp::Created { citizen, confirm })
        }
        None => {
            let citizen = find_by_email(tx, new.email)
                .await?
                .ok_or_else(|| Error::NotFound("compte".into()))?;
            Ok(SignUp::AlreadyRegistered { citizen })
        }
    }
}

fn charter_conflict(e: sqlx::Error) -> Error {
    match crate::error::violated_constraint(&e) {
        Some("citizen_charter_version_fkey") => Error::invalid("charter", "cette version de la charte n'existe pas"),
        _ => e.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Confirm,
    Reset,
    /// Confirms a new address before it replaces the old one.
    Email,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Reset => "reset",
            TokenPurpose::Email => "email",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            TokenPurpose::Confirm | TokenPurpose::Email => Duration::days(2),
            TokenPurpose::Reset => Duration::hours(1),
        }
    }
}

pub async fn issue_token(tx: &mut TenantTx, citizen_id: Uuid, purpose: TokenPurpose) -> Result<Token> {
    let token = Token::generate();
    let expires_at = OffsetDateTime::now_utc() + purpose.lifetime();
    sqlx::query!(
        "insert into citizen_token (token_hash, citizen_id, purpose, expires_at) values ($1, $2, $3, $4)",
        token.hash(),
        citizen_id,
        purpose.as_str(),
        expires_at
    )
    .execute(tx.conn())
    .await?;
    Ok(token)
}

/// Uses a one-time token: valid, unused, unexpired, of this purpose. Marks it used.
async fn use_token(tx: &mut TenantTx, token: &str, purpose: TokenPurpose) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "update citizen_token set used_at = now()
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
          returning citizen_id",
        hash_token(token),
        purpose.as_str()
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// Confirms the address behind a confirmation link; `None` for an invalid or used link.
/// A link made by a sign-up through an identity provider waits for this confirmation.
pub async fn confirm_email(tx: &mut TenantTx, token: &str) -> Result<Option<Uuid>> {
    let Some(used) = sqlx::query!(
        "update citizen_token set used_at = now()
          where token_hash = $1 and purpose = 'confirm' and used_at is null and expires_at > now()
          returning citizen_id, provider_id, subject",
        hash_token(token)
    )
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(None);
    };
    let id = used.citizen_id;
    if let (Some(provider), Some(subject)) = (used.provider_id, used.subject) {
        crate::identity::link(tx, provider, &subject, id).await?;
    }
    sqlx::query!(
        "update citizen set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1",
        id
    )
    .execute(tx.conn())
    .await?;
    Ok(Some(id))
}

/// Password check for a sign-in. Always spends the time of one argon2 verification, also
/// without an address (what was typed did not parse as one) or an account.
pub async fn check_password(tx: &mut TenantTx, email: Option<&Email>, password: &str) -> Result<Option<Citizen>> {
    let stored = match email {
        Some(email) => {
            sqlx::query!("select id, password_hash from citizen where email = $1", email.as_str())
                .fetch_optional(tx.conn())
                .await?
        }
        None => None,
    };
    let hash = stored.as_ref().map(|r| r.password_hash.clone());
    let ok = password::verify_off_thread(password, hash).await;
    match (ok, stored) {
        (true, Some(r)) => find(tx, r.id).await,
        _ => Ok(None),
    }
}

/// Sets a new password from a reset link and ends every session of the account.
pub async fn reset_password(tx: &mut TenantTx, token: &str, password: &NewPassword) -> Result<Option<Uuid>> {
    let Some(id) = use_token(tx, token, TokenPurpose::Reset).await? else {
        return Ok(None);
    };
    sqlx::query!(
        "update citizen set password_hash = $2, session_epoch = session_epoch + 1,
                email_confirmed_at = coalesce(email_confirmed_at, now())
          where id = $1",
        id,
        password.hash()
    )
    .execute(tx.conn())
    .await?;
    Ok(Some(id))
}

/// Changes the password of a signed-in citizen who gave the current one. Other sessions
/// end (the epoch moves); the caller re-signs this one in.
pub async fn change_password(tx: &mut TenantTx, id: Uuid, current: &str, new: &NewPassword) -> Result<bool> {
    let Some(c) = find(tx, id).await? else {
        return Ok(false);
    };
    let email = Email::parse(&c.email).map_err(|e| Error::invalid("current_password", e.0))?;
    if check_password(tx, Some(&email), current).await?.is_none() {
        return Ok(false);
    }
    sqlx::query!(
        "update citizen set password_hash = $2, session_epoch = session_epoch + 1 where id = $1",
        id,
        new.hash()
    )
    .execute(tx.conn())
    .await?;
    Ok(true)
}

pub async fn rename(tx: &mut TenantTx, id: Uuid, display_name: &str) -> Result<()> {
    sqlx::query!("update citizen set display_name = $2 where id = $1", id, display_name)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Starts a change of address: the new one is kept aside and a link is sent to it. `None`
/// when the address already belongs to another account (the caller says nothing of it).
pub async fn request_email_change(tx: &mut TenantTx, id: Uuid, new: &Email) -> Result<EmailChange> {
    // Recorded as pending either way, so that the account page reads the same whether the
    // address belongs to someone else; only a free address gets a link that can complete it.
    sqlx::query!("update citizen set pending_email = $2 where id = $1", id, new.as_str())
        .execute(tx.conn())
        .await?;
    match find_by_email(tx, new).await? {
        Some(owner) if owner.id != id => Ok(EmailChange::Taken { owner }),
        _ => Ok(EmailChange::Requested(issue_token(tx, id, TokenPurpose::Email).await?)),
    }
}

/// What asking for a new address came to.
pub enum EmailChange {
    /// The link to mail to the new address.
    Requested(Token),
    /// The address is another account's: its owner is told, nothing else happens.
    Taken { owner: Citizen },
}

/// Follows the link sent to a new address: it replaces the old one, if still free.
pub async fn confirm_email_change(tx: &mut TenantTx, token: &str) -> Result<Option<Uuid>> {
    let Some(id) = use_token(tx, token, TokenPurpose::Email).await? else {
        return Ok(None);
    };
    let changed = sqlx::query!(
        "update citizen set email = pending_email, pending_email = null, email_confirmed_at = now()
          where id = $1 and pending_email is not null
            and not exists (select 1 from citizen o where o.email = citizen.pending_email)",
        id
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok((changed == 1).then_some(id))
}

pub async fn accept_charter(tx: &mut TenantTx, id: Uuid, version: i32) -> Result<()> {
    sqlx::query!(
        "update citizen set charter_version = $2, charter_accepted_at = now() where id = $1",
        id,
        version
    )
    .execute(tx.conn())
    .await
    .map_err(charter_conflict)?;
    Ok(())
}

/// Blocks (with the reason shown to the citizen) or unblocks an account.
pub async fn set_blocked(tx: &mut TenantTx, id: Uuid, reason: Option<&str>) -> Result<()> {
    let done = sqlx::query!(
        "update citizen set blocked_at = case when $2::text is null then null else now() end,
                blocked_reason = coalesce($2, '')
          where id = $1",
        id,
        reason
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("compte".into()));
    }
    Ok(())
}

/// Deletes an account: the person's data goes; their contributions and comments stay,
/// signed « Participant·e supprimé·e », unless `with_content` asks to remove them too.
pub async fn delete(tx: &mut TenantTx, id: Uuid, with_content: bool) -> Result<()> {
    if with_content {
        sqlx::query!("delete from contribution where author_id = $1", id)
            .execute(tx.conn())
            .await?;
        // Comments answered by others stay as placeholders, so that replies keep their place.
        sqlx::query!(
            "update comment set state = 'supprime', body = '' where author_id = $1",
            id
        )
        .execute(tx.conn())
        .await?;
        crate::participation::recount_for_author(tx, id).await?;
    }
    crate::agenda::forget_citizen(tx, id).await?;
    sqlx::query!("delete from citizen where id = $1", id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Everything the tenant holds about a citizen, as they download it.
pub async fn export(tx: &mut TenantTx, id: Uuid) -> Result<Option<serde_json::Value>> {
    let data = sqlx::query_scalar!(
        r#"select json_build_object(
             'compte', (select json_build_object(
                 'adresse', email, 'nom', display_name, 'profil', profile,
                 'adresse_confirmee_le', email_confirmed_at, 'nouvelle_adresse_en_attente', pending_email,
                 'charte_version_acceptee', charter_version, 'charte_acceptee_le', charter_accepted_at,
                 'bloque_le', blocked_at, 'motif_blocage', nullif(blocked_reason, ''),
                 'identite_verifiee_le', identity_verified_at, 'cree_le', created_at)
               from citizen where id = $1),
             'identites', coalesce((select json_agg(json_build_object(
                 'fournisseur', p.label, 'identifiant', i.subject, 'reliee_le', i.created_at) order by i.created_at)
               from citizen_identity i join identity_provider p on p.id = i.provider_id where i.citizen_id = $1), '[]'),
             'contributions', coalesce((select json_agg(json_build_object(
                 'id', c.id, 'dispositif', d.title, 'theme', t.name, 'titre', c.title, 'texte', c.body,
                 'etat', c.state, 'creee_le', c.created_at, 'modifiee_le', c.edited_at) order by c.created_at)
               from contribution c join dispositif d on d.id = c.dispositif_id
               left join dispositif_theme t on t.id = c.theme_id where c.author_id = $1), '[]'),
             'commentaires', coalesce((select json_agg(json_build_object(
                 'id', m.id, 'contribution', m.contribution_id, 'en_reponse_a', m.parent_id, 'texte', m.body,
                 'etat', m.state, 'cree_le', m.created_at) order by m.created_at)
               from comment m where m.author_id = $1), '[]'),
             'signalements', coalesce((select json_agg(json_build_object(
                 'contribution', r.contribution_id, 'commentaire', r.comment_id, 'motif', r.reason,
                 'precision', r.detail, 'le', r.created_at) order by r.created_at)
               from report r where r.reporter_id = $1), '[]'),
             'inscriptions', coalesce((select json_agg(json_build_object(
                 'rencontre', e.title, 'debut', e.starts_at, 'nom', g.name, 'adresse', g.email,
                 'etat', g.status, 'le', g.created_at) order by g.created_at)
               from event_registration g join event e on e.id = g.event_id where g.citizen_id = $1), '[]')
           ) as "data!"
          where exists (select 1 from citizen where id = $1)"#,
        id
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(data)
}

/// A page of the tenant's citizens, for moderators: newest first, optionally filtered by
/// a piece of name or address.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CitizenSummary {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub profile: String,
    pub confirmed: bool,
    pub blocked: bool,
    pub blocked_reason: String,
    pub contributions: i64,
}

pub async fn search(tx: &mut TenantTx, query: &str, limit: i64, offset: i64) -> Result<Vec<CitizenSummary>> {
    let pattern = format!(
        "%{}%",
        query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    );
    Ok(sqlx::query_as!(
        CitizenSummary,
        r#"select c.id, c.email, c.display_name, c.profile,
                  c.email_confirmed_at is not null as "confirmed!", c.blocked_at is not null as "blocked!",
                  c.blocked_reason,
                  (select count(*) from contribution k where k.author_id = c.id) as "contributions!"
             from citizen c
            where $1 = '%%' or c.display_name ilike $1 or c.email ilike $1
            order by c.created_at desc, c.id
            limit $2 offset $3"#,
        pattern,
        limit,
        offset
    )
    .fetch_all(tx.conn())
    .await?)
}
