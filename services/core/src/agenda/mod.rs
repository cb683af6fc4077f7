//! The agenda: events staff publish (réunions, ateliers, restitutions, council sittings)
//! and online registration with a capacity and a waiting list.
//!
//! Seats are given under the event's row lock (`select … for update`): however many people
//! register at once, no more than `capacity` hold a seat, and the others queue in order.
//! Cancelling a seat gives it to the first person waiting, in the same transaction. Every
//! mail a registrant gets (seat confirmed, waiting list, seat freed, event cancelled) is a
//! job queued in the transaction that decided it (`agenda_mail`), so it is sent exactly
//! when the decision is kept. Every function takes the tenant's `TenantTx`.

pub mod ics;

use std::str::FromStr;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{Email, Token, hash_token};
use crate::jobs::{self, Kind};
use crate::{Error, FieldErrors, Result, TenantTx};

/// Events per page of the portal's agenda.
pub const PER_PAGE: i64 = 20;
/// How long a visitor has to confirm their address before the registration lapses.
pub const CONFIRM_WITHIN: Duration = Duration::days(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Reunion,
    Atelier,
    Restitution,
    /// A sitting of a council (conseil).
    Seance,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::Reunion,
        EventKind::Atelier,
        EventKind::Restitution,
        EventKind::Seance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Reunion => "reunion",
            EventKind::Atelier => "atelier",
            EventKind::Restitution => "restitution",
            EventKind::Seance => "seance",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventKind::Reunion => "Réunion publique",
            EventKind::Atelier => "Atelier",
            EventKind::Restitution => "Restitution",
            EventKind::Seance => "Séance du conseil",
        }
    }
}

impl FromStr for EventKind {
    type Err = ();

    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// An event as pages show it, with its seats taken and people waiting.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub place: String,
    pub online_url: Option<String>,
    pub dispositif_id: Option<Uuid>,
    pub dispositif_slug: Option<String>,
    pub dispositif_title: Option<String>,
    pub registration: bool,
    pub capacity: Option<i32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub registration_opens_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub registration_closes_at: Option<OffsetDateTime>,
    pub status: String,
    pub cancel_reason: String,
    pub registered: i64,
    pub waiting: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Whether, and how, someone can register now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// No registration for this event.
    None,
    NotYet,
    Open,
    /// Every seat taken: registering joins the waiting list.
    Full,
    Closed,
    Cancelled,
}

impl Event {
    pub fn kind_label(&self) -> &'static str {
        self.kind.parse::<EventKind>().map_or("Rencontre", EventKind::label)
    }

    /// The event as a mail names it, « Réunion publique : Budget 2027 », without the kind
    /// twice when the title already starts with it.
    pub fn heading(&self) -> String {
        let kind = self.kind_label();
        if self.title.to_lowercase().starts_with(&kind.to_lowercase()) {
            self.title.clone()
        } else {
            format!("{kind} : {}", self.title)
        }
    }

    /// When registration closes: as set, else when the event starts.
    pub fn closes_at(&self) -> OffsetDateTime {
        self.registration_closes_at.unwrap_or(self.starts_at)
    }

    pub fn availability(&self, now: OffsetDateTime) -> Availability {
        if self.status == "annule" {
            Availability::Cancelled
        } else if !self.registration {
            Availability::None
        } else if self.registration_opens_at.is_some_and(|o| now < o) {
            Availability::NotYet
        } else if now >= self.closes_at() {
            Availability::Closed
        } else if self.capacity.is_some_and(|c| self.registered >= i64::from(c)) {
            Availability::Full
        } else {
            Availability::Open
        }
    }

    pub fn seats_left(&self) -> Option<i64> {
        self.capacity.map(|c| (i64::from(c) - self.registered).max(0))
    }
}

/// An event as staff write it, every field checked.
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub kind: EventKind,
    pub title: String,
    pub description: String,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub place: String,
    pub online_url: Option<String>,
    pub dispositif_id: Option<Uuid>,
    pub registration: bool,
    pub capacity: Option<i32>,
    pub registration_opens_at: Option<OffsetDateTime>,
    pub registration_closes_at: Option<OffsetDateTime>,
    /// `brouillon` or `publie`.
    pub published: bool,
}

impl EventWrite {
    /// The checks that span fields; each message sits beside the field to change.
    pub fn check(&self) -> std::result::Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.ends_at < self.starts_at {
            errors.push("ends_at", "la fin doit suivre le début");
        }
        if self.place.trim().is_empty() && self.online_url.is_none() {
            errors.push(
                "place",
                "indiquez un lieu, un lien pour participer en ligne, ou les deux",
            );
        }
        if let (Some(o), Some(c)) = (self.registration_opens_at, self.registration_closes_at)
            && o >= c
        {
            errors.push(
                "registration_closes_at",
                "la clôture des inscriptions doit suivre leur ouverture",
            );
        }
        // Places, or registration dates, only mean something with online registration:
        // accepted without it, they would show nothing and surprise whoever typed them.
        if !self.registration {
            if self.capacity.is_some() {
                errors.push(
                    "capacity",
                    "cochez « Inscription en ligne » pour limiter les places, ou laissez ce champ vide",
                );
            }
            if self.registration_opens_at.is_some() || self.registration_closes_at.is_some() {
                let field = if self.registration_opens_at.is_some() {
                    "registration_opens_at"
                } else {
                    "registration_closes_at"
                };
                errors.push(
                    field,
                    "cochez « Inscription en ligne » pour donner des dates d'inscription, ou laissez-les vides",
                );
            }
        }
        if self.registration_closes_at.is_some_and(|c| c > self.ends_at) {
            errors.push(
                "registration_closes_at",
                "les inscriptions doivent fermer avant la fin de la rencontre",
            );
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// The columns every event query selects, with its dispositif and seat counts.
macro_rules! event_query {
    ($where_and_order:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Event,
            r#"select e.id, e.kind, e.title, e.description, e.starts_at, e.ends_at, e.place, e.online_url,
                      e.dispositif_id, d.slug as "dispositif_slug?", d.title as "dispositif_title?",
                      e.registration, e.capacity, e.registration_opens_at, e.registration_closes_at,
                      e.status, e.cancel_reason, e.updated_at,
                      (select count(*) from event_registration r where r.event_id = e.id and r.status = 'inscrit') as "registered!",
                      (select count(*) from event_registration r where r.event_id = e.id and r.status = 'liste') as "waiting!"
                 from event e left join dispositif d on d.id = e.dispositif_id "# + $where_and_order,
            $($arg),*
        )
    };
}

fn conflict(e: sqlx::Error) -> Error {
    match crate::error::violated_constraint(&e) {
        Some("event_dates") => Error::invalid("ends_at", "la fin doit suivre le début"),
        Some("event_place") => Error::invalid("place", "indiquez un lieu ou un lien pour participer en ligne"),
        Some("event_registration_window") => Error::invalid(
            "registration_closes_at",
            "la clôture des inscriptions doit suivre leur ouverture",
        ),
        _ => e.into(),
    }
}

pub async fn create(tx: &mut TenantTx, e: &EventWrite) -> Result<Uuid> {
    e.check().map_err(Error::Invalid)?;
    sqlx::query_scalar!(
        "insert into event (kind, title, description, starts_at, ends_at, place, online_url, dispositif_id,
                            registration, capacity, registration_opens_at, registration_closes_at, status)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id",
        e.kind.as_str(),
        e.title,
        e.description,
        e.starts_at,
        e.ends_at,
        e.place,
        e.online_url,
        e.dispositif_id,
        e.registration,
        e.capacity,
        e.registration_opens_at,
        e.registration_closes_at,
        if e.published { "publie" } else { "brouillon" }
    )
    .fetch_one(tx.conn())
    .await
    .map_err(conflict)
}

/// Updates an event that is not cancelled. A capacity raised gives the new seats to the
/// people waiting, in order.
pub async fn update(tx: &mut TenantTx, id: Uuid, e: &EventWrite) -> Result<()> {
    e.check().map_err(Error::Invalid)?;
    let done = sqlx::query!(
        "update event set kind = $2, title = $3, description = $4, starts_at = $5, ends_at = $6, place = $7,
                online_url = $8, dispositif_id = $9, registration = $10, capacity = $11,
                registration_opens_at = $12, registration_closes_at = $13, status = $14
          where id = $1 and status <> 'annule'",
        id,
        e.kind.as_str(),
        e.title,
        e.description,
        e.starts_at,
        e.ends_at,
        e.place,
        e.online_url,
        e.dispositif_id,
        e.registration,
        e.capacity,
        e.registration_opens_at,
        e.registration_closes_at,
        if e.published { "publie" } else { "brouillon" }
    )
    .execute(tx.conn())
    .await
    .map_err(conflict)?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("rencontre".into()));
    }
    fill_seats(tx, id).await
}

/// Cancels an event: its registrants are told by mail, with the reason. Returns how many.
pub async fn cancel(tx: &mut TenantTx, id: Uuid, reason: &str) -> Result<usize> {
    let done = sqlx::query!(
        "update event set status = 'annule', cancel_reason = $2 where id = $1 and status <> 'annule'",
        id,
        reason
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("rencontre".into()));
    }
    let told = sqlx::query_scalar!(
        "select id from event_registration where event_id = $1 and status in ('inscrit', 'liste')",
        id
    )
    .fetch_all(tx.conn())
    .await?;
    for registration in &told {
        notify(tx, *registration, Notice::EventCancelled, None).await?;
    }
    Ok(told.len())
}

/// Any event (drafts and cancelled ones included), for the console.
pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Event>> {
    Ok(event_query!("where e.id = $1", id).fetch_optional(tx.conn()).await?)
}

/// A published or cancelled event, for the portal.
pub async fn public_by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Event>> {
    Ok(event_query!("where e.id = $1 and e.status <> 'brouillon'", id)
        .fetch_optional(tx.conn())
        .await?)
}

/// The console's list: coming events first (soonest first), then past ones (latest first).
pub async fn for_console(tx: &mut TenantTx, limit: i64) -> Result<Vec<Event>> {
    Ok(event_query!(
        "order by e.ends_at < now(), case when e.ends_at >= now() then e.starts_at end,
                  e.starts_at desc limit $1",
        limit
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Which events a portal list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Not over yet, soonest first.
    Coming,
    /// Over, latest first.
    Past,
}

/// A page of published events (cancelled ones too, marked so), optionally of one
/// dispositif, and whether there is a next page.
pub async fn list(tx: &mut TenantTx, when: When, dispositif: Option<Uuid>, page: i64) -> Result<(Vec<Event>, bool)> {
    let offset = (page.max(1) - 1) * PER_PAGE;
    let mut events = match when {
        When::Coming => {
            event_query!(
                "where e.status <> 'brouillon' and e.ends_at >= now()
               and ($1::uuid is null or e.dispositif_id = $1)
             order by e.starts_at, e.id limit $2 offset $3",
                dispositif,
                PER_PAGE + 1,
                offset
            )
            .fetch_all(tx.conn())
            .await?
        }
        When::Past => {
            event_query!(
                "where e.status <> 'brouillon' and e.ends_at < now()
               and ($1::uuid is null or e.dispositif_id = $1)
             order by e.starts_at desc, e.id limit $2 offset $3",
                dispositif,
                PER_PAGE + 1,
                offset
            )
            .fetch_all(tx.conn())
            .await?
        }
    };
    let more = events.len() as i64 > PER_PAGE;
    events.truncate(PER_PAGE as usize);
    Ok((events, more))
}

/// The next `n` events that are not cancelled: the home page's « dates à retenir ».
pub async fn next(tx: &mut TenantTx, n: i64) -> Result<Vec<Event>> {
    Ok(event_query!(
        "where e.status = 'publie' and e.ends_at >= now() order by e.starts_at, e.id limit $1",
        n
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Events for a calendar feed: from 90 days ago on, the tenant's or one dispositif's.
pub async fn for_feed(tx: &mut TenantTx, dispositif: Option<Uuid>) -> Result<Vec<Event>> {
    Ok(event_query!(
        "where e.status <> 'brouillon' and e.ends_at >= now() - interval '90 days'
           and ($1::uuid is null or e.dispositif_id = $1)
         order by e.starts_at, e.id limit 1000",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Who registers: a signed-in citizen (address already confirmed) or a visitor, whose
/// address is confirmed by the link mailed to it.
#[derive(Debug, Clone)]
pub enum Registrant {
    Citizen { id: Uuid, name: String, email: Email },
    Visitor { name: String, email: Email },
}

/// What a registration came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Seat,
    WaitingList,
    /// A visitor: a link was mailed to confirm the address.
    ToConfirm,
    /// This address already holds a seat, a place in the queue, or a link to confirm.
    Already(String),
}

/// Why registration is refused.
fn refusal(availability: Availability) -> Option<&'static str> {
    match availability {
        Availability::None => Some("Cette rencontre ne prend pas d'inscription : venez librement."),
        Availability::NotYet => Some("Les inscriptions ne sont pas encore ouvertes."),
        Availability::Closed => Some("Les inscriptions sont closes."),
        Availability::Cancelled => Some("Cette rencontre est annulée."),
        Availability::Open | Availability::Full => None,
    }
}

/// Locks the event for seat counting and tells whether it takes registrations now.
async fn lock_open_event(tx: &mut TenantTx, event_id: Uuid) -> Result<Event> {
    sqlx::query!(
        "select id from event where id = $1 and status <> 'brouillon' for update",
        event_id
    )
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::NotFound("rencontre".into()))?;
    let event = by_id(tx, event_id)
        .await?
        .ok_or_else(|| Error::NotFound("rencontre".into()))?;
    if let Some(why) = refusal(event.availability(OffsetDateTime::now_utc())) {
        return Err(Error::invalid("registration", why));
    }
    Ok(event)
}

pub async fn register(tx: &mut TenantTx, event_id: Uuid, who: &Registrant) -> Result<Registered> {
    let event = lock_open_event(tx, event_id).await?;
    let (citizen_id, name, email) = match who {
        Registrant::Citizen { id, name, email } => (Some(*id), name, email),
        Registrant::Visitor { name, email } => (None, name, email),
    };
    // A visitor's unconfirmed registration that lapsed frees the address.
    sqlx::query!(
        "update event_registration set status = 'annule', cancelled_at = now()
          where event_id = $1 and lower(email) = lower($2) and status = 'attente' and created_at < $3",
        event_id,
        email.as_str(),
        OffsetDateTime::now_utc() - CONFIRM_WITHIN
    )
    .execute(tx.conn())
    .await?;
    let already = sqlx::query!(
        "select id, status from event_registration
          where event_id = $1 and lower(email) = lower($2) and status <> 'annule'",
        event_id,
        email.as_str()
    )
    .fetch_optional(tx.conn())
    .await?;
    if let Some(r) = already {
        // A visitor is answered as if the address were new (the page must not tell whether
        // it is registered); what stands is said in a mail to the address, with a fresh link.
        if citizen_id.is_none() {
            let notice = match r.status.as_str() {
                "attente" => Notice::ConfirmAddress,
                _ => Notice::AlreadyRegistered,
            };
            notify(tx, r.id, notice, None).await?;
        }
        return Ok(Registered::Already(r.status));
    }
    let token = Token::generate();
    let status = match citizen_id {
        None => "attente",
        Some(_) if has_seat(&event) => "inscrit",
        Some(_) => "liste",
    };
    let id = sqlx::query_scalar!(
        "insert into event_registration (event_id, citizen_id, name, email, status, token_hash, queued_at, confirmed_at)
         values ($1, $2, $3, $4, $5, $6, case when $5 = 'attente' then null else now() end,
                 case when $5 = 'attente' then null else now() end)
         returning id",
        event_id,
        citizen_id,
        name,
        email.as_str(),
        status,
        token.hash()
    )
    .fetch_one(tx.conn())
    .await?;
    let (notice, outcome) = match status {
        "attente" => (Notice::ConfirmAddress, Registered::ToConfirm),
        "inscrit" => (Notice::Seat, Registered::Seat),
        _ => (Notice::WaitingList, Registered::WaitingList),
    };
    notify(tx, id, notice, Some(&token)).await?;
    Ok(outcome)
}

fn has_seat(event: &Event) -> bool {
    event.capacity.is_none_or(|c| event.registered < i64::from(c))
}

/// A visitor follows the link mailed to them: a seat, or the waiting list, if the event
/// still takes registrations. `None` for an unknown, lapsed or already used link.
pub async fn confirm(tx: &mut TenantTx, token: &str) -> Result<Option<(Uuid, Registered)>> {
    let Some(r) = sqlx::query!(
        "select id, event_id from event_registration
          where token_hash = $1 and status = 'attente' and created_at > $2",
        hash_token(token),
        OffsetDateTime::now_utc() - CONFIRM_WITHIN
    )
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(None);
    };
    let event = lock_open_event(tx, r.event_id).await?;
    let (status, notice, outcome) = if has_seat(&event) {
        ("inscrit", Notice::Seat, Registered::Seat)
    } else {
        ("liste", Notice::WaitingList, Registered::WaitingList)
    };
    sqlx::query!(
        "update event_registration set status = $2, confirmed_at = now(), queued_at = now() where id = $1",
        r.id,
        status
    )
    .execute(tx.conn())
    .await?;
    notify(tx, r.id, notice, Some(&Token::from_link(token))).await?;
    Ok(Some((r.event_id, outcome)))
}

/// A registration as the cancellation page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistrationView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_title: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    pub name: String,
    pub status: String,
}

/// The live registration behind a mailed link.
pub async fn by_token(tx: &mut TenantTx, token: &str) -> Result<Option<RegistrationView>> {
    Ok(sqlx::query_as!(
        RegistrationView,
        "select r.id, r.event_id, e.title as event_title, e.starts_at, r.name, r.status
           from event_registration r join event e on e.id = r.event_id
          where r.token_hash = $1 and r.status <> 'annule'",
        hash_token(token)
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// A signed-in citizen's live registration to an event, if any.
pub async fn of_citizen(tx: &mut TenantTx, event_id: Uuid, citizen: Uuid) -> Result<Option<RegistrationView>> {
    Ok(sqlx::query_as!(
        RegistrationView,
        "select r.id, r.event_id, e.title as event_title, e.starts_at, r.name, r.status
           from event_registration r join event e on e.id = r.event_id
          where r.event_id = $1 and r.citizen_id = $2 and r.status <> 'annule'",
        event_id,
        citizen
    )
    .fetch_optional(tx.conn())
    .await?)
}

/// Cancels a registration. A seat freed goes to the first person waiting, who is told by
/// mail. Returns whether it was live.
pub async fn cancel_registration(tx: &mut TenantTx, registration: Uuid) -> Result<bool> {
    let Some(event_id) = sqlx::query_scalar!("select event_id from event_registration where id = $1", registration)
        .fetch_optional(tx.conn())
        .await?
    else {
        return Ok(false);
    };
    // The event's lock first, as everywhere seats are counted.
    sqlx::query!("select id from event where id = $1 for update", event_id)
        .fetch_optional(tx.conn())
        .await?;
    let was = sqlx::query_scalar!(
        "update event_registration r set status = 'annule', cancelled_at = now()
           from event_registration old
          where r.id = $1 and old.id = r.id and r.status <> 'annule'
          returning old.status",
        registration
    )
    .fetch_optional(tx.conn())
    .await?;
    if was.as_deref() == Some("inscrit") {
        fill_seats(tx, event_id).await?;
    }
    Ok(was.is_some())
}

/// Gives the seats free to the people waiting, in order, and tells them.
async fn fill_seats(tx: &mut TenantTx, event_id: Uuid) -> Result<()> {
    let promoted = sqlx::query_scalar!(
        r#"with e as (select capacity from event where id = $1 and status = 'publie' and starts_at > now()),
                taken as (select count(*) as n from event_registration where event_id = $1 and status = 'inscrit'),
                next as (select r.id from event_registration r, e, taken
                          where r.event_id = $1 and r.status = 'liste'
                          order by r.queued_at, r.id
                          -- No row in `e` (cancelled, draft or started): nobody moves.
                          limit coalesce((select case when e.capacity is null then 100000
                                                      else greatest(e.capacity - taken.n, 0) end
                                            from e, taken), 0))
           update event_registration set status = 'inscrit'
            where id in (select id from next) returning id"#,
        event_id
    )
    .fetch_all(tx.conn())
    .await?;
    for id in promoted {
        notify(tx, id, Notice::SeatFreed, None).await?;
    }
    Ok(())
}

/// An account deleted: its registrations are cancelled (seats go to the people waiting)
/// and its name and address erased from them.
pub async fn forget_citizen(tx: &mut TenantTx, citizen: Uuid) -> Result<()> {
    let live = sqlx::query_scalar!(
        "select id from event_registration where citizen_id = $1 and status <> 'annule'",
        citizen
    )
    .fetch_all(tx.conn())
    .await?;
    for id in live {
        cancel_registration(tx, id).await?;
    }
    sqlx::query!(
        "update event_registration set name = 'Participant·e supprimé·e', email = id::text || '@supprime.invalid',
                citizen_id = null
          where citizen_id = $1",
        citizen
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A registrant, for the staff's list and its CSV.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistrantRow {
    pub name: String,
    pub email: String,
    pub status: String,
    pub account: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Everyone registered or waiting (and who cancelled), seats first, in order.
pub async fn registrants(tx: &mut TenantTx, event_id: Uuid) -> Result<Vec<RegistrantRow>> {
    Ok(sqlx::query_as!(
        RegistrantRow,
        r#"select name, email, status, citizen_id is not null as "account!", created_at
             from event_registration where event_id = $1
            order by case status when 'inscrit' then 0 when 'liste' then 1 when 'attente' then 2 else 3 end,
                     queued_at nulls last, created_at
            limit 100000"#,
        event_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// What a registrant is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A visitor: follow the link to confirm the address.
    ConfirmAddress,
    Seat,
    WaitingList,
    /// A seat freed up and is now theirs.
    SeatFreed,
    EventCancelled,
    /// Someone registered again with an address that holds a seat or a place in the queue:
    /// told by mail only, so the page answers the same whether the address was registered.
    AlreadyRegistered,
}

/// The payload of an `agenda_mail` job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MailJob {
    pub registration: Uuid,
    pub notice: Notice,
    /// The link's token, when the mail carries a link (the database keeps only its hash).
    pub token: Option<String>,
}

/// Queues the mail telling a registrant `notice`, in the transaction that decided it. A
/// registration's token is only known when it is made; a later mail (seat freed, event
/// cancelled) gets a new one, replacing the old link.
async fn notify(tx: &mut TenantTx, registration: Uuid, notice: Notice, token: Option<&Token>) -> Result<()> {
    let token = match token {
        Some(t) => t.clone(),
        None => {
            let fresh = Token::generate();
            sqlx::query!(
                "update event_registration set token_hash = $2 where id = $1",
                registration,
                fresh.hash()
            )
            .execute(tx.conn())
            .await?;
            fresh
        }
    };
    let payload = serde_json::to_value(MailJob {
        registration,
        notice,
        token: Some(token.as_str().to_string()),
    })
    .map_err(|e| Error::Failed(e.to_string()))?;
    let tenant = tx.tenant().id;
    jobs::enqueue(tx.conn(), Some(tenant), Kind::AgendaMail, payload, 0).await
}

/// What an `agenda_mail` job needs to write its mail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailFacts {
    pub name: String,
    pub email: String,
    pub status: String,
    pub event: Event,
}

pub async fn mail_facts(tx: &mut TenantTx, registration: Uuid) -> Result<Option<MailFacts>> {
    let Some(r) = sqlx::query!(
        "select name, email, status, event_id from event_registration where id = $1",
        registration
    )
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(None);
    };
    let Some(event) = by_id(tx, r.event_id).await? else {
        return Ok(None);
    };
    Ok(Some(MailFacts {
        name: r.name,
        email: r.email,
        status: r.status,
        event,
    }))
}
