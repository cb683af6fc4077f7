//! The portal's side of each component (`participe_core::components`): the section it adds
//! to a dispositif's page, the same section alone on `/participer/<dispositif>/<key>`, and
//! the routes of its own pages. One module per component, one line in [`SURFACES`];
//! `validate` (at start-up) checks this list against the registry.

mod agenda;
mod budget;
mod composition;
mod contributions;
mod documents;
mod faq;
mod news;
mod presentation;
mod vote;

use axum::Router;
use futures::future::BoxFuture;
use minijinja::Value;
use participe_core::TenantTx;
use participe_core::components::{Instance, Surface as SurfaceInfo};
use participe_core::dispositifs::Dispositif;
use participe_web::{AppState, Result};

use crate::Portal;

pub static SURFACES: &[&Surface] = &[
    &presentation::SURFACE,
    &contributions::SURFACE,
    &composition::SURFACE,
    &agenda::SURFACE,
    &documents::SURFACE,
    &news::SURFACE,
    &faq::SURFACE,
    &budget::SURFACE,
    &vote::SURFACE,
];

/// What a section is drawn from: the dispositif, the component's instance in it, and the
/// page's query string (a list's filters and page).
pub struct Space<'a> {
    pub d: &'a Dispositif,
    pub instance: &'a Instance,
    pub query: &'a std::collections::HashMap<String, String>,
}

/// A section's data for its template, or `None` when it has nothing to show.
pub type SectionFn = for<'a> fn(&'a Portal, &'a mut TenantTx, &'a Space<'a>) -> BoxFuture<'a, Result<Option<Value>>>;

pub struct Surface {
    pub key: &'static str,
    /// Its section's template: it reads `d` (the dispositif) and `s.data`.
    pub template: &'static str,
    pub section: SectionFn,
    /// Its own pages, added to the portal's router.
    pub routes: fn(Router<AppState>) -> Router<AppState>,
    /// The paths `routes` adds, for the start-up check that none is routed twice.
    pub paths: &'static [&'static str],
    /// Whether its section is the same for every signed-in citizen of a kind, so that the
    /// dispositif's page can be shared by them (`Portal::cache_shared`): true when the
    /// section reads the citizen only through `Portal::me` and says whose items it shows.
    pub shared: bool,
}

impl SurfaceInfo for Surface {
    fn key(&self) -> &'static str {
        self.key
    }

    fn paths(&self) -> Vec<&'static str> {
        self.paths.to_vec()
    }
}

pub fn surface(key: &str) -> Option<&'static Surface> {
    SURFACES.iter().copied().find(|s| s.key == key)
}

/// Every surface's routes.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    SURFACES.iter().fold(router, |r, s| (s.routes)(r))
}

/// For a surface without pages of its own.
pub fn no_routes(router: Router<AppState>) -> Router<AppState> {
    router
}

/// The sections of `instances`, in order, for the dispositif's page: each with its
/// template, its name and its data; those with nothing to show are left out.
pub async fn sections(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    instances: &[Instance],
    query: &std::collections::HashMap<String, String>,
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for instance in instances {
        let Some(surface) = surface(instance.key()) else {
            continue;
        };
        if !surface.shared {
            portal.personal();
        }
        let space = Space { d, instance, query };
        if let Some(data) = (surface.section)(portal, tx, &space).await? {
            out.push(minijinja::context! {
                key => instance.key(), name => instance.manifest.name, template => surface.template, data,
            });
        }
    }
    Ok(out)
}

/// Whether `action` of the instance is open today.
pub(crate) fn open(d: &Dispositif, i: &Instance, action: &str) -> bool {
    let today = time::OffsetDateTime::now_utc().date();
    i.manifest.action(action).is_some_and(|a| i.is_open(a, d, today))
}

/// Whether staff require a verified identity for `action`.
pub(crate) fn verified_only(i: &Instance, action: &str) -> bool {
    i.manifest
        .action(action)
        .is_some_and(|a| i.who(a) == participe_core::components::Who::VerifiedCitizen)
}

/// Who votes, for the roll: their verified identity when the vote asks for one (a second
/// account does not give a second ballot), else their account.
pub(crate) async fn voter(
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    action: &str,
    citizen: uuid::Uuid,
) -> Result<participe_core::ballots::Voter> {
    Ok(participe_core::ballots::citizen_voter(tx, d.id, citizen, verified_only(i, action)).await?)
}

/// The published dispositif at `slug` with its component `key` shown, or not found.
pub(crate) async fn hosting(tx: &mut TenantTx, slug: &str, key: &str) -> Result<(Dispositif, Instance)> {
    use participe_web::Error;
    let d = participe_core::dispositifs::public_by_slug(tx, slug)
        .await?
        .ok_or(Error::NotFound)?;
    let i = participe_core::components::shown_one(tx, d.id, key)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((d, i))
}

/// The gate of a ballot (a budget's or a vote's): the page that says why this citizen may
/// not vote — closed, signed out, identity or charter missing, already voted — or who they
/// are in the roll. `back` is where signing in returns; `voted` what a second visit reads.
pub(crate) async fn ballot_gate(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    action: &str,
    back: &str,
    voted: &str,
) -> Result<std::result::Result<participe_core::ballots::Voter, axum::response::Response>> {
    use crate::kit::message;
    use axum::http::StatusCode;
    if !open(d, i, action) {
        let text = "Le vote n'est pas ouvert en ce moment.";
        return Ok(Err(message(portal, StatusCode::CONFLICT, "Vote clos", text).await?));
    }
    let citizen = match crate::participation::poster(portal, tx, i, action, back).await? {
        Ok(c) => c,
        Err(answer) => return Ok(Err(answer)),
    };
    let voter = voter(tx, d, i, action, citizen.id).await?;
    // With a census list the voter is known only once they typed their entry.
    if !i.settings.bool(participe_core::components::CENSUS)
        && participe_core::ballots::has_voted(tx, d.id, &voter).await?
    {
        return Ok(Err(message(portal, StatusCode::OK, "Vous avez voté", voted).await?));
    }
    Ok(Ok(voter))
}

/// With a census list (`components::CENSUS`): the voter as the list knows them, from the
/// form's `census_id` and `census_birth`, or the error beside those fields. `None` when the
/// vote has no list.
async fn census_voter(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    fields: &std::collections::HashMap<String, String>,
) -> Result<Option<std::result::Result<participe_core::ballots::Voter, participe_core::FieldErrors>>> {
    use participe_core::{FieldErrors, census};
    if !i.settings.bool(participe_core::components::CENSUS) {
        return Ok(None);
    }
    let refuse = |field: &'static str, message: &str| Ok(Some(Err(FieldErrors::one(field, message))));
    let Some(key) = portal.app.config.secret_key.as_ref() else {
        return refuse(
            "census_id",
            "la liste des votant·es n'est pas disponible : la plateforme n'a pas de clé secrète configurée",
        );
    };
    let identifier = fields.get("census_id").map(|s| s.trim()).unwrap_or_default();
    if identifier.is_empty() {
        return refuse("census_id", "indiquez votre identifiant sur la liste des votant·es");
    }
    let Some(birth) = fields.get("census_birth").and_then(|b| census::parse_birth(b)) else {
        return refuse("census_birth", "indiquez votre date de naissance, au format jj/mm/aaaa");
    };
    let entry = census::entry(key, d.id, identifier, birth);
    if !census::is_listed(tx, d.id, &entry).await? {
        return refuse(
            "census_id",
            "cet identifiant et cette date de naissance ne figurent pas ensemble sur la liste des votant·es",
        );
    }
    Ok(Some(Ok(census::voter(d.id, &entry))))
}

/// Who casts this ballot, once the form meets what the vote asks — residence and
/// declarations (`core::residence`, against `envelope_communes` for a budget's envelope),
/// then the census list when there is one — else the errors beside their fields.
pub(crate) async fn eligible_voter(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    fields: &std::collections::HashMap<String, String>,
    envelope_communes: &[String],
    voter: participe_core::ballots::Voter,
) -> Result<std::result::Result<participe_core::ballots::Voter, participe_core::FieldErrors>> {
    let conditions = participe_core::residence::Conditions::of(i);
    if let Err(errors) = participe_core::residence::check(tx, conditions, fields, envelope_communes).await? {
        return Ok(Err(errors));
    }
    Ok(census_voter(portal, tx, d, i, fields).await?.unwrap_or(Ok(voter)))
}

/// The box of a vote as published after its close (every ballot by receipt, and the
/// digest), for anyone to recount (`docs/recount.md`).
pub(crate) async fn published_box(tx: &mut TenantTx, d: &Dispositif) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let published = participe_core::ballots::published(tx, d.id).await?;
    let body = serde_json::to_string(&published).map_err(|e| participe_web::Error::Unexpected(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The page after a cast: the receipt code, shown this once.
pub(crate) async fn receipt_page(
    portal: &Portal,
    d: &Dispositif,
    receipt: &participe_core::ballots::Receipt,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let page = portal
        .render(
            "portal/receipt.html",
            "/participer",
            minijinja::context! { d => minijinja::value::Serde(d), receipt => receipt.as_str() },
        )
        .await?;
    Ok(page.into_response())
}
