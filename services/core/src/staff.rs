//! Collectivité staff: accounts (platform schema, since one person may serve several
//! tenants), one-time tokens for confirmation and password reset, second factor, roles per
//! tenant, invitations. What the console does with them is in `tenant-admin`.

use std::fmt;
use std::str::FromStr;

use sqlx::{PgConnection, PgPool};
use time::{Duration, OffsetDateTime};
use totp_rs::{Algorithm, Secret, TOTP};
use uuid::Uuid;

use crate::domain::{Email, Invalid, NewPassword, Token, hash_token, password};
use crate::tenancy::tenant_row;
use crate::{Error, Result, Tenant};

/// What a staff member may do in one tenant's console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The moderation queue.
    Moderator,
    /// Content: pages, dispositifs, news.
    Editor,
    /// Everything, including the team, domains, settings and billing.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Moderator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Moderator => "moderator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrateur·rice",
            Role::Editor => "Rédacteur·rice",
            Role::Moderator => "Modérateur·rice",
        }
    }

    pub fn can_edit_content(self) -> bool {
        matches!(self, Role::Admin | Role::Editor)
    }

    pub fn can_moderate(self) -> bool {
        matches!(self, Role::Admin | Role::Moderator)
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid::new("choisissez un rôle"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Staff {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub confirmed: bool,
    pub totp_enabled: bool,
    pub session_epoch: i32,
}

struct StaffRow {
    id: Uuid,
    email: String,
    display_name: String,
    email_confirmed_at: Option<OffsetDateTime>,
    totp_enabled_at: Option<OffsetDateTime>,
    session_epoch: i32,
}

impl From<StaffRow> for Staff {
    fn from(r: StaffRow) -> Self {
        Staff {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            confirmed: r.email_confirmed_at.is_some(),
            totp_enabled: r.totp_enabled_at.is_some(),
            session_epoch: r.session_epoch,
        }
    }
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Staff>> {
    Ok(sqlx::query_as!(
        StaffRow,
        "select id, email, display_name, email_confirmed_at, totp_enabled_at, session_epoch from staff where id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .map(Staff::from))
}

pub async fn find_by_email(pool: &PgPool, email: &Email) -> Result<Option<Staff>> {
    Ok(sqlx::query_as!(
        StaffRow,
        "select id, email, display_name, email_confirmed_at, totp_enabled_at, session_epoch from staff where email = $1",
        email.as_str()
    )
    .fetch_optional(pool)
    .await?
    .map(Staff::from))
}

/// The outcome of a sign-up: either a new account (to confirm) or an address that already
/// has one (the owner is told by mail; the person signing up is told nothing different).
pub enum SignUp {
    Created { staff: Staff, confirm: Token },
    AlreadyRegistered { staff: Staff },
}

pub async fn sign_up(pool: &PgPool, email: &Email, display_name: &str, password: &NewPassword) -> Result<SignUp> {
    // The same work whether the address has an account or not — the password hashed, the
    // insert tried — so that the answer's timing tells nothing (`tests/security.rs`).
    let typed = password.clone();
    let hash = tokio::task::spawn_blocking(move || typed.hash())
        .await
        .map_err(|e| Error::Failed(format!("password hashing: {e}")))?;
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query_as!(
        StaffRow,
        "insert into staff (email, display_name, password_hash) values ($1, $2, $3)
         on conflict (email) do nothing
         returning id, email, display_name, email_confirmed_at, totp_enabled_at, session_epoch",
        email.as_str(),
        display_name,
        hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = inserted else {
        drop(tx);
        let staff = find_by_email(pool, email)
            .await?
            .ok_or_else(|| Error::NotFound("compte".into()))?;
        return Ok(SignUp::AlreadyRegistered { staff });
    };
    let staff = Staff::from(row);
    let confirm = issue_token(&mut tx, staff.id, TokenPurpose::Confirm).await?;
    tx.commit().await?;
    Ok(SignUp::Created { staff, confirm })
}

/// The staff account of an address an identity provider verified (ProConnect): found, its
/// address marked confirmed, or created without a password (an empty hash never verifies;
/// its owner can choose one with « mot de passe oublié »). An account that was never
/// confirmed was not proven to belong to this person: whoever signed it up may know its
/// password, so its password, second factor and sessions are dropped, as a reset would.
pub async fn verified_account(pool: &PgPool, email: &Email, display_name: &str) -> Result<Staff> {
    let row = sqlx::query_as!(
        StaffRow,
        "insert into staff (email, display_name, password_hash, email_confirmed_at) values ($1, $2, '', now())
         on conflict (email) do update set
             display_name = case when staff.email_confirmed_at is null then excluded.display_name else staff.display_name end,
             password_hash = case when staff.email_confirmed_at is null then '' else staff.password_hash end,
             totp_secret = case when staff.email_confirmed_at is null then null else staff.totp_secret end,
             totp_enabled_at = case when staff.email_confirmed_at is null then null else staff.totp_enabled_at end,
             session_epoch = staff.session_epoch + case when staff.email_confirmed_at is null then 1 else 0 end,
             email_confirmed_at = coalesce(staff.email_confirmed_at, now())
         returning id, email, display_name, email_confirmed_at, totp_enabled_at, session_epoch",
        email.as_str(),
        display_name
    )
    .fetch_one(pool)
    .await?;
    Ok(Staff::from(row))
}

#[derive(Debug, Clone, Copy)]
pub enum TokenPurpose {
    Confirm,
    Reset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Reset => "reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            TokenPurpose::Confirm => Duration::days(2),
            TokenPurpose::Reset => Duration::hours(1),
        }
    }
}

pub async fn issue_token(conn: &mut PgConnection, staff_id: Uuid, purpose: TokenPurpose) -> Result<Token> {
    let token = Token::generate();
    sqlx::query!(
        "insert into staff_token (token_hash, staff_id, purpose, expires_at) values ($1, $2, $3, now() + $4::interval)",
        token.hash(),
        staff_id,
        purpose.as_str(),
        crate::db::pg_interval(purpose.lifetime())
    )
    .execute(conn)
    .await?;
    Ok(token)
}

/// Uses a one-time token: valid, unused, unexpired, of this purpose. Marks it used.
async fn use_token(conn: &mut PgConnection, token: &str, purpose: TokenPurpose) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "update staff_token set used_at = now()
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
          returning staff_id",
        hash_token(token),
        purpose.as_str()
    )
    .fetch_optional(conn)
    .await?)
}

/// Confirms the address behind a confirmation link; `None` for an invalid or used link.
pub async fn confirm_email(pool: &PgPool, token: &str) -> Result<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    let Some(id) = use_token(&mut tx, token, TokenPurpose::Confirm).await? else {
        return Ok(None);
    };
    sqlx::query!(
        "update staff set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Password check for a login. Always spends the time of one argon2 verification, also
/// without an address (what was typed did not parse as one) or an account.
pub async fn check_password(pool: &PgPool, email: Option<&Email>, password: &str) -> Result<Option<Staff>> {
    let row = match email {
        Some(email) => {
            sqlx::query!("select id, password_hash from staff where email = $1", email.as_str())
                .fetch_optional(pool)
                .await?
        }
        None => None,
    };
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let ok = password::verify_off_thread(password, stored).await;
    match (ok, row) {
        (true, Some(r)) => find(pool, r.id).await,
        _ => Ok(None),
    }
}

pub async fn request_reset(pool: &PgPool, staff_id: Uuid) -> Result<Token> {
    let mut conn = pool.acquire().await?;
    issue_token(&mut conn, staff_id, TokenPurpose::Reset).await
}

/// Sets a new password from a reset link and ends every session of the account.
pub async fn reset_password(pool: &PgPool, token: &str, password: &NewPassword) -> Result<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    let Some(id) = use_token(&mut tx, token, TokenPurpose::Reset).await? else {
        return Ok(None);
    };
    sqlx::query!(
        "update staff set password_hash = $2, session_epoch = session_epoch + 1,
                email_confirmed_at = coalesce(email_confirmed_at, now())
          where id = $1",
        id,
        password.hash()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

// ---- Second factor ----------------------------------------------------------------------

const TOTP_ISSUER: &str = "Participe";

fn totp(secret_base32: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .map_err(|_| Error::invalid("code", "secret invalide"))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(TOTP_ISSUER.to_string()),
        account.to_string(),
    )
    .map_err(|e| Error::invalid("code", e.to_string()))
}

/// A fresh secret (base32) to enrol.
pub fn new_totp_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

/// The `otpauth://` URL authenticator apps read from a QR code.
pub fn totp_url(secret: &str, account: &str) -> Result<String> {
    Ok(totp(secret, account)?.get_url())
}

/// The time step a code belongs to, if it is valid for `secret` now (one step of drift).
pub(crate) fn totp_step(secret: &str, account: &str, code: &str) -> Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret, account)?;
    let now = OffsetDateTime::now_utc().unix_timestamp() as u64;
    // One step of tolerance either way for clock drift.
    for step in [now / 30, now / 30 - 1, now / 30 + 1] {
        if t.generate(step * 30) == code {
            return Ok(Some(step as i64));
        }
    }
    Ok(None)
}

/// Turns the second factor on after the staff member proved their app has the secret.
pub async fn enable_totp(pool: &PgPool, staff: &Staff, secret: &str, code: &str) -> Result<bool> {
    let Some(step) = totp_step(secret, &staff.email, code)? else {
        return Ok(false);
    };
    sqlx::query!(
        "update staff set totp_secret = $2, totp_enabled_at = now(), totp_last_step = $3 where id = $1",
        staff.id,
        secret,
        step
    )
    .execute(pool)
    .await?;
    Ok(true)
}

/// Checks a login code; each code is accepted once (replays are refused).
pub async fn check_totp(pool: &PgPool, staff_id: Uuid, code: &str) -> Result<bool> {
    let row = sqlx::query!("select email, totp_secret from staff where id = $1", staff_id)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let Some(secret) = row.totp_secret else {
        return Ok(false);
    };
    let Some(step) = totp_step(&secret, &row.email, code)? else {
        return Ok(false);
    };
    let accepted = sqlx::query!(
        "update staff set totp_last_step = $2 where id = $1 and (totp_last_step is null or totp_last_step < $2)",
        staff_id,
        step
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(accepted == 1)
}

pub async fn disable_totp(pool: &PgPool, staff_id: Uuid) -> Result<()> {
    sqlx::query!(
        "update staff set totp_secret = null, totp_enabled_at = null where id = $1",
        staff_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether operators require tenant admins to use a second factor.
pub async fn admins_need_totp(pool: &PgPool) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce((select value = 'true'::jsonb from platform_setting where key = 'require_totp_for_admins'), false) as "v!""#
    )
    .fetch_one(pool)
    .await?)
}

pub async fn set_admins_need_totp(pool: &PgPool, on: bool) -> Result<()> {
    sqlx::query!(
        "insert into platform_setting (key, value) values ('require_totp_for_admins', $1)
         on conflict (key) do update set value = excluded.value, updated_at = now()",
        serde_json::json!(on)
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ---- Memberships -------------------------------------------------------------------------

/// A tenant a staff member belongs to, with their role there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Membership {
    pub tenant: Tenant,
    pub role: Role,
}

struct MembershipRow {
    id: Uuid,
    slug: String,
    name: String,
    kind: String,
    schema_name: String,
    status: String,
    status_reason: Option<String>,
    read_only: bool,
    primary_domain: Option<String>,
    role: String,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = Error;
    fn try_from(r: MembershipRow) -> Result<Self> {
        Ok(Membership {
            role: r.role.parse().map_err(|e: Invalid| Error::invalid("role", e.0))?,
            tenant: Tenant::try_from(tenant_row!(r))?,
        })
    }
}

/// The tenants a staff member works for, by name.
pub async fn memberships(pool: &PgPool, staff_id: Uuid) -> Result<Vec<Membership>> {
    sqlx::query_as!(
        MembershipRow,
        r#"select t.id, t.slug, t.name, t.kind, t.schema_name, t.status, t.status_reason,
                  t.read_only_since is not null as "read_only!", m.role,
                  (select d.host from tenant_domain d
                    where d.tenant_id = t.id and d.is_primary and d.verified_at is not null) as primary_domain
           from membership m join tenant t on t.id = m.tenant_id
          where m.staff_id = $1
          order by t.name"#,
        staff_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Membership::try_from)
    .collect()
}

/// This staff member's role in the tenant with this slug, if any: the one check every
/// tenant-scoped console page makes before anything else.
pub async fn membership(pool: &PgPool, staff_id: Uuid, slug: &str) -> Result<Option<Membership>> {
    sqlx::query_as!(
        MembershipRow,
        r#"select t.id, t.slug, t.name, t.kind, t.schema_name, t.status, t.status_reason,
                  t.read_only_since is not null as "read_only!", m.role,
                  (select d.host from tenant_domain d
                    where d.tenant_id = t.id and d.is_primary and d.verified_at is not null) as primary_domain
           from membership m join tenant t on t.id = m.tenant_id
          where m.staff_id = $1 and t.slug = $2"#,
        staff_id,
        slug
    )
    .fetch_optional(pool)
    .await?
    .map(Membership::try_from)
    .transpose()
}

pub async fn add_member(conn: &mut PgConnection, staff_id: Uuid, tenant_id: Uuid, role: Role) -> Result<()> {
    sqlx::query!(
        "insert into membership (staff_id, tenant_id, role) values ($1, $2, $3)
         on conflict (staff_id, tenant_id) do update set role = excluded.role",
        staff_id,
        tenant_id,
        role.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

// ---- A tenant's team ---------------------------------------------------------------------
//
// These run inside the tenant's `TenantTx`, so that each change and its audit line commit
// together; they name the platform tables with their schema (`public.`), and every one of
// them is scoped to the transaction's tenant, whatever ids a form sends.

/// A member of a tenant's team, as the team page lists them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub staff_id: Uuid,
    pub display_name: String,
    pub email: String,
    pub role: String,
}

pub async fn members(tx: &mut crate::TenantTx) -> Result<Vec<Member>> {
    let tenant_id = tx.tenant().id;
    Ok(sqlx::query_as!(
        Member,
        "select s.id as staff_id, s.display_name, s.email, m.role
           from public.membership m join public.staff s on s.id = m.staff_id
          where m.tenant_id = $1
          order by s.display_name, s.email",
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// A moderator the reports mail goes to, with the capability of its unsubscribe link.
pub struct ReportsRecipient {
    pub display_name: String,
    pub email: String,
    pub unsubscribe_token: Uuid,
}

/// The tenant's staff who moderate and have not stopped the reports mail.
pub async fn reports_recipients(tx: &mut crate::TenantTx) -> Result<Vec<ReportsRecipient>> {
    let tenant_id = tx.tenant().id;
    let rows = sqlx::query!(
        "select s.display_name, s.email, m.role, m.unsubscribe_token
           from public.membership m join public.staff s on s.id = m.staff_id
          where m.tenant_id = $1 and m.reports_mail
          order by s.display_name, s.email",
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.role.parse::<Role>().is_ok_and(Role::can_moderate))
        .map(|r| ReportsRecipient {
            display_name: r.display_name,
            email: r.email,
            unsubscribe_token: r.unsubscribe_token,
        })
        .collect())
}

/// The tenant's name and whether the reports mail is on, for the membership whose
/// unsubscribe link carries `token`.
pub async fn reports_mail(pool: &PgPool, token: Uuid) -> Result<Option<(String, bool)>> {
    Ok(sqlx::query!(
        "select t.name, m.reports_mail from membership m join tenant t on t.id = m.tenant_id
          where m.unsubscribe_token = $1",
        token
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.name, r.reports_mail)))
}

/// Stops (`on` false) or restarts the reports mail of the membership whose link carries
/// `token`; the tenant's name, or `None` for a token nobody holds.
pub async fn set_reports_mail(pool: &PgPool, token: Uuid, on: bool) -> Result<Option<String>> {
    Ok(sqlx::query_scalar!(
        "update membership m set reports_mail = $2 from tenant t
          where m.unsubscribe_token = $1 and t.id = m.tenant_id
          returning t.name",
        token,
        on
    )
    .fetch_optional(pool)
    .await?)
}

/// Locks the tenant's memberships and counts its admins: the guard against a tenant left
/// without one, also when two admins act at once.
async fn lock_admins(tx: &mut crate::TenantTx) -> Result<i64> {
    let tenant_id = tx.tenant().id;
    sqlx::query!(
        "select staff_id from public.membership where tenant_id = $1 for update",
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from public.membership where tenant_id = $1 and role = 'admin'"#,
        tenant_id
    )
    .fetch_one(tx.conn())
    .await?)
}

async fn role_of(tx: &mut crate::TenantTx, staff_id: Uuid) -> Result<Option<Role>> {
    let tenant_id = tx.tenant().id;
    let role = sqlx::query_scalar!(
        "select role from public.membership where tenant_id = $1 and staff_id = $2",
        tenant_id,
        staff_id
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(role.and_then(|r| r.parse().ok()))
}

const LAST_ADMIN: &str = "le portail doit garder au moins un·e administrateur·rice : nommez-en un·e autre d'abord";

pub async fn change_role(tx: &mut crate::TenantTx, staff_id: Uuid, role: Role) -> Result<()> {
    let admins = lock_admins(tx).await?;
    match role_of(tx, staff_id).await? {
        None => return Err(Error::NotFound("membre".into())),
        Some(Role::Admin) if role != Role::Admin && admins <= 1 => return Err(Error::invalid("role", LAST_ADMIN)),
        Some(_) => {}
    }
    let tenant_id = tx.tenant().id;
    sqlx::query!(
        "update public.membership set role = $3 where tenant_id = $1 and staff_id = $2",
        tenant_id,
        staff_id,
        role.as_str()
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn remove_member(tx: &mut crate::TenantTx, staff_id: Uuid) -> Result<()> {
    let admins = lock_admins(tx).await?;
    match role_of(tx, staff_id).await? {
        None => return Err(Error::NotFound("membre".into())),
        Some(Role::Admin) if admins <= 1 => return Err(Error::invalid("member", LAST_ADMIN)),
        Some(_) => {}
    }
    let tenant_id = tx.tenant().id;
    sqlx::query!(
        "delete from public.membership where tenant_id = $1 and staff_id = $2",
        tenant_id,
        staff_id
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

#[derive(Debug, Clone, serde::Serialize)]
pub struct PendingInvitation {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

pub async fn pending_invitations(tx: &mut crate::TenantTx) -> Result<Vec<PendingInvitation>> {
    let tenant_id = tx.tenant().id;
    Ok(sqlx::query_as!(
        PendingInvitation,
        "select id, email, role, expires_at from public.invitation
          where tenant_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()
          order by created_at desc",
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Invites `email` with `role`; a pending invitation for the same address is replaced.
pub async fn invite(tx: &mut crate::TenantTx, email: &Email, role: Role, invited_by: Uuid) -> Result<Token> {
    let tenant_id = tx.tenant().id;
    let member = sqlx::query_scalar!(
        r#"select exists (select 1 from public.membership m join public.staff s on s.id = m.staff_id
                           where m.tenant_id = $1 and s.email = $2) as "e!""#,
        tenant_id,
        email.as_str()
    )
    .fetch_one(tx.conn())
    .await?;
    if member {
        return Err(Error::invalid("email", format!("{email} fait déjà partie de l'équipe")));
    }
    sqlx::query!(
        "update public.invitation set revoked_at = now()
          where tenant_id = $1 and email = $2 and accepted_at is null and revoked_at is null",
        tenant_id,
        email.as_str()
    )
    .execute(tx.conn())
    .await?;
    let token = Token::generate();
    sqlx::query!(
        "insert into public.invitation (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(days => $6::int))",
        tenant_id,
        email.as_str(),
        role.as_str(),
        token.hash(),
        invited_by,
        INVITATION_DAYS as i32
    )
    .execute(tx.conn())
    .await?;
    Ok(token)
}

pub async fn revoke_invitation(tx: &mut crate::TenantTx, id: Uuid) -> Result<()> {
    let tenant_id = tx.tenant().id;
    let done = sqlx::query!(
        "update public.invitation set revoked_at = now()
          where id = $1 and tenant_id = $2 and accepted_at is null and revoked_at is null",
        id,
        tenant_id
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        Err(Error::NotFound("invitation".into()))
    } else {
        Ok(())
    }
}

/// An invitation as its link shows it, before it is accepted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub email: String,
    pub role: Role,
}

/// The valid (unused, unrevoked, unexpired) invitation behind a link.
pub async fn invitation_by_token(pool: &PgPool, token: &str) -> Result<Option<Invitation>> {
    let row = sqlx::query!(
        "select i.id, i.tenant_id, t.name as tenant_name, i.email, i.role
           from invitation i join tenant t on t.id = i.tenant_id
          where i.token_hash = $1 and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()",
        hash_token(token)
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Invitation {
            id: r.id,
            tenant_id: r.tenant_id,
            tenant_name: r.tenant_name,
            email: r.email,
            role: r.role.parse().map_err(|e: Invalid| Error::invalid("role", e.0))?,
        })
    })
    .transpose()
}

/// Accepts an invitation for `staff` (whose address must be the invited one), once.
pub async fn accept_invitation(tx: &mut crate::TenantTx, invitation_id: Uuid, staff: &Staff) -> Result<Role> {
    let tenant_id = tx.tenant().id;
    let row = sqlx::query!(
        "update public.invitation set accepted_at = now()
          where id = $1 and tenant_id = $2 and email = $3
            and accepted_at is null and revoked_at is null and expires_at > now()
          returning role",
        invitation_id,
        tenant_id,
        staff.email
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::NotFound("invitation".into()))?;
    let role: Role = row.role.parse().map_err(|e: Invalid| Error::invalid("role", e.0))?;
    sqlx::query!(
        "insert into public.membership (staff_id, tenant_id, role) values ($1, $2, $3)
         on conflict (staff_id, tenant_id) do update set role = excluded.role",
        staff.id,
        tenant_id,
        role.as_str()
    )
    .execute(tx.conn())
    .await?;
    Ok(role)
}
