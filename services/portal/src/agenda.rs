//! The agenda on the portal: coming and past events (by dispositif if asked), a page per
//! event with its registration, the links mailed to registrants (confirm an address,
//! cancel), and the iCalendar feeds of the tenant and of each dispositif.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::agenda::{self, Availability, Registered, Registrant, When};
use participe_core::domain::Email;
use participe_core::{FieldErrors, dispositifs};
use participe_web::csrf::{CsrfForm, Empty};
use participe_web::kit::{Checked, parse_id};
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::Portal;
use crate::kit::message;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    dispositif: String,
    periode: String,
    page: String,
}

pub async fn list(portal: Portal, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    portal.cache_through(|| list_page(&portal, &q)).await
}

async fn list_page(portal: &Portal, q: &ListQuery) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let all = dispositifs::public(&mut tx).await?;
    let chosen = match q.dispositif.as_str() {
        "" => None,
        slug => Some(all.iter().find(|d| d.slug == slug).ok_or(Error::NotFound)?),
    };
    let when = if q.periode == "passees" {
        When::Past
    } else {
        When::Coming
    };
    let page = participe_web::kit::page_number(&q.page, 10_000);
    let (events, more) = agenda::list(&mut tx, when, chosen.map(|d| d.id), page).await?;
    tx.commit().await?;
    let options: Vec<_> = all
        .iter()
        .map(|d| minijinja::context! { value => d.slug.clone(), label => d.title.clone() })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let rows: Vec<_> = events.iter().map(|e| row(e, now)).collect();
    portal
        .render(
            "portal/agenda.html",
            "/agenda",
            minijinja::context! {
                events => rows, options, past => when == When::Past, page, more,
                dispositif => chosen.map(|d| d.slug.clone()).unwrap_or_default(),
                dispositif_title => chosen.map(|d| d.title.clone()),
            },
        )
        .await
}

/// An event as lists show it.
fn row(e: &agenda::Event, now: time::OffsetDateTime) -> minijinja::Value {
    minijinja::context! {
        e => Serde(e), kind => e.kind_label(),
        same_day => participe_core::domain::local_time::same_day(e.starts_at, e.ends_at),
        availability => Serde(e.availability(now)), seats_left => e.seats_left(),
    }
}

/// The first page of a dispositif's coming or past events, as cards.
pub async fn rows(tx: &mut participe_core::TenantTx, when: When, dispositif: Uuid) -> Result<Vec<minijinja::Value>> {
    let now = time::OffsetDateTime::now_utc();
    let (events, _) = agenda::list(tx, when, Some(dispositif), 1).await?;
    Ok(events.iter().map(|e| row(e, now)).collect())
}

/// The home page's « dates à retenir ».
pub async fn coming_up(tx: &mut participe_core::TenantTx) -> Result<Vec<minijinja::Value>> {
    let now = time::OffsetDateTime::now_utc();
    Ok(agenda::next(tx, 3).await?.iter().map(|e| row(e, now)).collect())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct RegisterForm {
    name: String,
    email: String,
}

pub async fn show(portal: Portal, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id)?;
    page(
        &portal,
        id,
        RegisterForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// The event's page; its registration form keeps what was typed, with the errors.
async fn page(
    portal: &Portal,
    id: Uuid,
    form: RegisterForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let e = agenda::public_by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let mine = match &portal.citizen {
        Some(c) => agenda::of_citizen(&mut tx, id, c.id).await?,
        None => None,
    };
    let documents: Vec<_> = participe_core::documents::of_event(&mut tx, id)
        .await?
        .iter()
        .map(crate::documents::row)
        .collect();
    tx.commit().await?;
    let now = time::OffsetDateTime::now_utc();
    let availability = e.availability(now);
    let ctx = minijinja::context! {
        e => Serde(&e), kind => e.kind_label(), availability => Serde(availability),
        seats_left => e.seats_left(), mine => Serde(mine),
        same_day => participe_core::domain::local_time::same_day(e.starts_at, e.ends_at),
        form => Serde(form), errors => Serde(errors),
        read_only => portal.tenant.read_only, documents,
    };
    // A form (and so a session) only where one can register.
    let page = if matches!(availability, Availability::Open | Availability::Full) {
        portal.render_form("portal/event.html", "/agenda", ctx).await?
    } else {
        portal.render("portal/event.html", "/agenda", ctx).await?
    };
    Ok((status, page).into_response())
}

pub async fn register(
    portal: Portal,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    if portal.tenant.read_only {
        let text = "Ce portail est en consultation seule pour le moment : les inscriptions en ligne sont suspendues.";
        return message(&portal, StatusCode::FORBIDDEN, "Inscription impossible", text).await;
    }
    let who = match &portal.citizen {
        Some(c) if !c.confirmed => {
            let text = "Confirmez d'abord votre adresse avec le lien reçu par courriel, puis revenez vous inscrire.";
            return message(&portal, StatusCode::FORBIDDEN, "Inscription impossible", text).await;
        }
        Some(c) => Registrant::Citizen {
            id: c.id,
            name: c.display_name.clone(),
            email: Email::parse(&c.email).map_err(|_| Error::NotFound)?,
        },
        None => {
            let mut errors = FieldErrors::default();
            let name = form.name.trim().to_string();
            if name.is_empty() || name.chars().count() > 120 {
                errors.push("name", "indiquez votre nom (120 caractères au plus)");
            }
            let email = errors.check("email", Email::parse(&form.email));
            let (Some(email), true) = (email, errors.is_empty()) else {
                return page(&portal, id, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
            };
            let key = format!("{}:{}", portal.tenant.slug, email.as_str());
            if !portal.app.limits.events.check(portal.ip.0, Some(&key)) {
                return Err(Error::TooManyRequests);
            }
            Registrant::Visitor { name, email }
        }
    };
    let mut tx = portal.begin().await?;
    let outcome = match agenda::register(&mut tx, id, &who).await.checked()? {
        Ok(o) => o,
        Err(errors) => {
            drop(tx);
            return page(&portal, id, form, errors, StatusCode::CONFLICT).await;
        }
    };
    tx.commit().await?;
    let said = match (outcome, &portal.citizen) {
        (Registered::Seat, _) => {
            "Vous êtes inscrit·e. Un courriel de confirmation vous est envoyé, avec la rencontre à ajouter à votre agenda."
        }
        (Registered::WaitingList, _) => {
            "La rencontre est complète : vous êtes sur la liste d'attente. Si une place se libère, elle vous est attribuée et vous êtes prévenu·e par courriel."
        }
        // A signed-in citizen's own address: nothing to hide from them.
        (Registered::Already(_), Some(_)) => "Vous êtes déjà inscrit·e à cette rencontre.",
        // A visitor is answered the same whether the address was registered or not; the
        // mail says which.
        (Registered::ToConfirm | Registered::Already(_), None) => {
            "Presque fini : confirmez votre inscription en suivant le courriel envoyé à l'adresse indiquée (le lien est valable deux jours)."
        }
        (Registered::ToConfirm, Some(_)) => {
            "Presque fini : confirmez votre inscription avec le lien envoyé à votre adresse (valable deux jours)."
        }
    };
    portal.flash(said).await?;
    Ok(Redirect::to(&format!("/agenda/{id}")).into_response())
}

/// The link mailed to a visitor: confirms the address, and gives a seat or a place in the
/// waiting list.
pub async fn confirm(portal: Portal, Path(token): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let outcome = match agenda::confirm(&mut tx, &token).await.checked()? {
        Ok(o) => o,
        Err(errors) => {
            let why = errors.0.first().map(|e| e.message.clone()).unwrap_or_default();
            return message(&portal, StatusCode::CONFLICT, "Inscription impossible", &why).await;
        }
    };
    tx.commit().await?;
    match outcome {
        Some((_, Registered::Seat)) => {
            let text = "Votre inscription est confirmée. Un courriel vous est envoyé, avec la rencontre à ajouter à votre agenda et un lien pour vous désinscrire.";
            message(&portal, StatusCode::OK, "Inscription confirmée", text).await
        }
        Some(_) => {
            let text = "La rencontre est complète : vous êtes sur la liste d'attente. Si une place se libère, elle vous est attribuée et vous êtes prévenu·e par courriel.";
            message(&portal, StatusCode::OK, "Liste d'attente", text).await
        }
        None => {
            let text = "Ce lien n'est plus valable : il a déjà servi ou a expiré. Vous pouvez vous inscrire à nouveau depuis la page de la rencontre.";
            message(&portal, StatusCode::NOT_FOUND, "Lien expiré", text).await
        }
    }
}

async fn expired(portal: &Portal) -> Result<Response> {
    let text =
        "Ce lien n'est plus valable : l'inscription a déjà été annulée, ou un lien plus récent vous a été envoyé.";
    message(portal, StatusCode::NOT_FOUND, "Lien expiré", text).await
}

/// The cancellation link: a page asking to confirm (a link opened by a mail scanner
/// cancels nothing).
pub async fn cancel_form(portal: Portal, Path(token): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let found = agenda::by_token(&mut tx, &token).await?;
    tx.commit().await?;
    let Some(r) = found else {
        return expired(&portal).await;
    };
    let page = portal
        .render_form(
            "portal/registration_cancel.html",
            "/agenda",
            minijinja::context! { r => Serde(r) },
        )
        .await?;
    Ok(page.into_response())
}

pub async fn cancel(portal: Portal, Path(token): Path<String>, CsrfForm(_): CsrfForm<Empty>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let Some(r) = agenda::by_token(&mut tx, &token).await? else {
        return expired(&portal).await;
    };
    agenda::cancel_registration(&mut tx, r.id).await?;
    tx.commit().await?;
    let text =
        "Votre inscription est annulée. Merci de nous avoir prévenus : la place est proposée à la personne suivante.";
    message(&portal, StatusCode::OK, "Inscription annulée", text).await
}

/// A signed-in citizen cancels their own registration from the event's page.
pub async fn cancel_mine(portal: Portal, Path(id): Path<String>, CsrfForm(_): CsrfForm<Empty>) -> Result<Response> {
    let id = parse_id(&id)?;
    let citizen = portal.citizen(&format!("/agenda/{id}"))?.id;
    let mut tx = portal.begin().await?;
    if let Some(r) = agenda::of_citizen(&mut tx, id, citizen).await? {
        agenda::cancel_registration(&mut tx, r.id).await?;
    }
    tx.commit().await?;
    portal.flash("Votre inscription est annulée.").await?;
    Ok(Redirect::to(&format!("/agenda/{id}")).into_response())
}

/// The tenant's calendar feed (RFC 5545), for calendar apps.
pub async fn feed(portal: Portal) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let events = agenda::for_feed(&mut tx, None).await?;
    tx.commit().await?;
    Ok(calendar(&portal, portal.site_name(), &events))
}

/// A dispositif's calendar feed.
pub async fn dispositif_feed(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let d = dispositifs::public_by_slug(&mut tx, &slug)
        .await?
        .ok_or(Error::NotFound)?;
    let events = agenda::for_feed(&mut tx, Some(d.id)).await?;
    tx.commit().await?;
    Ok(calendar(
        &portal,
        &format!("{} — {}", d.title, portal.site_name()),
        &events,
    ))
}

/// One event as a calendar file, to add that meeting alone to one's calendar.
pub async fn event_file(portal: Portal, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id)?;
    let mut tx = portal.begin().await?;
    let event = agenda::public_by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(ics_response(
        agenda::ics::calendar(portal.site_name(), &portal.origin(), std::slice::from_ref(&event)),
        "attachment; filename=\"rencontre.ics\"",
    ))
}

fn calendar(portal: &Portal, name: &str, events: &[agenda::Event]) -> Response {
    ics_response(
        agenda::ics::calendar(name, &portal.origin(), events),
        "inline; filename=\"agenda.ics\"",
    )
}

fn ics_response(text: String, disposition: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}
