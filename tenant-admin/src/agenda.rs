//! The agenda (admins and editors): events with their time, place or link, dispositif and
//! registration settings; the registrants, as a list and as CSV; cancelling an event,
//! which tells its registrants by mail.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::FieldErrors;
use participe_core::agenda::{self, EventKind, EventWrite};
use participe_core::csv_sheet::CsvSheet;
use participe_core::domain::local_time;
use participe_core::staff::Role;
use participe_web::csrf::CsrfForm;
use participe_web::kit::Checked;
use participe_web::{Error, Result};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::choices::{self, Choice};
use crate::frame::InTenant;

fn can_edit(role: Role) -> bool {
    role.can_edit_content()
}

pub async fn list(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let events = agenda::for_console(&mut tx, 500).await?;
    tx.commit().await?;
    let now = OffsetDateTime::now_utc();
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            minijinja::context! {
                e => Serde(e), kind => e.kind_label(), past => e.ends_at < now,
            }
        })
        .collect();
    Ok(
        t.render("console/tenant/agenda.html", "agenda", minijinja::context! { rows })
            .await?
            .into_response(),
    )
}

#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct EventForm {
    kind: String,
    title: String,
    description: String,
    starts_at: String,
    ends_at: String,
    place: String,
    online_url: String,
    dispositif: String,
    registration: String,
    capacity: String,
    registration_opens_at: String,
    registration_closes_at: String,
    published: String,
}

fn optional_time(errors: &mut FieldErrors, field: &'static str, value: &str) -> Option<OffsetDateTime> {
    if value.trim().is_empty() {
        None
    } else {
        errors.check(field, local_time::parse_local(value))
    }
}

impl EventForm {
    fn parse(&self, dispositifs: &[Choice]) -> Result<EventWrite, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = self.kind.parse::<EventKind>().ok();
        if kind.is_none() {
            errors.push("kind", "choisissez le type de rencontre");
        }
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            errors.push("title", "indiquez un titre (200 caractères au plus)");
        }
        if self.description.chars().count() > 50_000 {
            errors.push("description", "50 000 caractères au plus");
        }
        let starts_at = errors.check("starts_at", local_time::parse_local(&self.starts_at));
        let ends_at = errors.check("ends_at", local_time::parse_local(&self.ends_at));
        let place = self.place.trim().to_string();
        if place.chars().count() > 300 {
            errors.push("place", "300 caractères au plus");
        }
        let online_url = match self.online_url.trim() {
            "" => None,
            url if (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 500
                && url::Url::parse(url).is_ok() =>
            {
                Some(url.to_string())
            }
            _ => {
                errors.push("online_url", "une adresse web complète, commençant par https://");
                None
            }
        };
        let dispositif_id = choices::pick(&mut errors, "dispositif", &self.dispositif, dispositifs);
        let registration = self.registration == "on";
        let capacity = match self.capacity.trim() {
            "" => None,
            n => match n.parse::<i32>() {
                Ok(n) if (1..=100_000).contains(&n) => Some(n),
                _ => {
                    errors.push(
                        "capacity",
                        "un nombre de places entre 1 et 100 000, ou rien pour ne pas limiter",
                    );
                    None
                }
            },
        };
        let registration_opens_at = optional_time(&mut errors, "registration_opens_at", &self.registration_opens_at);
        let registration_closes_at = optional_time(&mut errors, "registration_closes_at", &self.registration_closes_at);
        let (Some(kind), Some(starts_at), Some(ends_at), true) = (kind, starts_at, ends_at, errors.is_empty()) else {
            return Err(errors);
        };
        let write = EventWrite {
            kind,
            title,
            description: self.description.clone(),
            starts_at,
            ends_at,
            place,
            online_url,
            dispositif_id,
            registration,
            capacity,
            registration_opens_at,
            registration_closes_at,
            published: self.published == "on",
        };
        write.check()?;
        Ok(write)
    }

    fn of(e: &agenda::Event) -> EventForm {
        let input = |t: Option<OffsetDateTime>| t.map(local_time::to_local_input).unwrap_or_default();
        let on = |b: bool| if b { "on".to_string() } else { String::new() };
        EventForm {
            kind: e.kind.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            starts_at: input(Some(e.starts_at)),
            ends_at: input(Some(e.ends_at)),
            place: e.place.clone(),
            online_url: e.online_url.clone().unwrap_or_default(),
            dispositif: e.dispositif_id.map(|d| d.to_string()).unwrap_or_default(),
            registration: on(e.registration),
            capacity: e.capacity.map(|c| c.to_string()).unwrap_or_default(),
            registration_opens_at: input(e.registration_opens_at),
            registration_closes_at: input(e.registration_closes_at),
            published: on(e.status == "publie"),
        }
    }
}

async fn render_form(
    t: &InTenant,
    form: &EventForm,
    existing: Option<&agenda::Event>,
    registrants: Vec<agenda::RegistrantRow>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let options = choices::options(&choices::dispositifs(t).await?);
    let kinds: Vec<_> = EventKind::ALL
        .iter()
        .map(|k| minijinja::context! { value => k.as_str(), label => k.label() })
        .collect();
    let page = t
        .render(
            "console/tenant/event_form.html",
            "agenda",
            minijinja::context! {
                form => Serde(form), errors => Serde(errors), kinds, options,
                existing => existing.map(Serde), registrants => Serde(registrants),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

pub async fn new_form(t: InTenant) -> Result<Response> {
    t.require(can_edit)?;
    let form = EventForm {
        kind: "reunion".into(),
        published: "on".into(),
        ..Default::default()
    };
    render_form(&t, &form, None, vec![], FieldErrors::default(), StatusCode::OK).await
}

fn back(t: &InTenant, id: Uuid) -> Response {
    Redirect::to(&format!("/t/{}/agenda/{id}", t.tenant().slug)).into_response()
}

pub async fn create(t: InTenant, CsrfForm(form): CsrfForm<EventForm>) -> Result<Response> {
    t.require(can_edit)?;
    let write = match form.parse(&choices::dispositifs(&t).await?) {
        Ok(w) => w,
        Err(errors) => return render_form(&t, &form, None, vec![], errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let mut tx = t.begin().await?;
    let id = match agenda::create(&mut tx, &write).await.checked()? {
        Ok(id) => id,
        Err(errors) => {
            drop(tx);
            return render_form(&t, &form, None, vec![], errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    t.audit(
        &mut tx,
        "agenda.creation",
        &write.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(if write.published {
            format!("La rencontre « {} » est publiée dans l'agenda du portail.", write.title)
        } else {
            format!("La rencontre « {} » est enregistrée en brouillon.", write.title)
        })
        .await?;
    Ok(back(&t, id))
}

pub async fn edit_form(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let e = agenda::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let registrants = agenda::registrants(&mut tx, id).await?;
    tx.commit().await?;
    render_form(
        &t,
        &EventForm::of(&e),
        Some(&e),
        registrants,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<EventForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let ids = choices::dispositifs(&t).await?;
    let mut tx = t.begin().await?;
    let existing = agenda::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let registrants = agenda::registrants(&mut tx, id).await?;
    let write = match form.parse(&ids) {
        Ok(w) => w,
        Err(errors) => {
            drop(tx);
            return render_form(
                &t,
                &form,
                Some(&existing),
                registrants,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if let Err(e) = agenda::update(&mut tx, id, &write).await {
        drop(tx);
        return match e {
            participe_core::Error::Invalid(errors) => {
                render_form(
                    &t,
                    &form,
                    Some(&existing),
                    registrants,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            participe_core::Error::NotFound(_) => {
                t.console
                    .flash("Cette rencontre est annulée : elle ne se modifie plus.")
                    .await?;
                Ok(back(&t, id))
            }
            e => Err(e.into()),
        };
    }
    t.audit(
        &mut tx,
        "agenda.modification",
        &write.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("La rencontre est enregistrée.").await?;
    Ok(back(&t, id))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CancelForm {
    reason: String,
}

pub async fn cancel(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(form): CsrfForm<CancelForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let reason: String = form.reason.trim().chars().take(500).collect();
    let mut tx = t.begin().await?;
    let e = agenda::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let told = match agenda::cancel(&mut tx, id, &reason).await {
        Ok(n) => n,
        Err(participe_core::Error::NotFound(_)) => {
            drop(tx);
            t.console.flash("Cette rencontre était déjà annulée.").await?;
            return Ok(back(&t, id));
        }
        Err(e) => return Err(e.into()),
    };
    t.audit(
        &mut tx,
        "agenda.annulation",
        &e.title,
        serde_json::json!({ "id": id, "reason": reason, "told": told }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!(
            "La rencontre est annulée ; {told} personne(s) inscrite(s) ou en liste d'attente sont prévenues par courriel."
        ))
        .await?;
    Ok(back(&t, id))
}

/// The registrants as CSV (UTF-8 with a byte order mark, `;`-separated: what a
/// spreadsheet in French opens as columns).
pub async fn registrants_csv(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let e = agenda::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    let rows = agenda::registrants(&mut tx, id).await?;
    t.audit(
        &mut tx,
        "agenda.export_inscrits",
        &e.title,
        serde_json::json!({ "id": id }),
    )
    .await?;
    tx.commit().await?;
    let mut sheet = CsvSheet::new(["nom", "adresse", "etat", "compte", "inscrit_le"]);
    for r in &rows {
        let status = match r.status.as_str() {
            "inscrit" => "inscrit",
            "liste" => "liste d'attente",
            "attente" => "adresse à confirmer",
            _ => "annulé",
        };
        let when = local_time::to_local_input(r.created_at).replace('T', " ");
        sheet.row([
            r.name.as_str(),
            r.email.as_str(),
            status,
            if r.account { "oui" } else { "non" },
            when.as_str(),
        ]);
    }
    let bytes = sheet.finish();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"inscrits-{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
