//! The portal's side of each component (`participe_core::components`): the section it adds
//! to a dispositif's page, the same section alone on `/participer/<dispositif>/<key>`, and
//! the routes of its own pages. One module per component, one line in [`SURFACES`];
//! `validate` (at start-up) checks this list against the registry.

mod agenda;
mod composition;
mod contributions;
mod documents;
mod faq;
mod news;
mod presentation;

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
        let space = Space { d, instance, query };
        if let Some(data) = (surface.section)(portal, tx, &space).await? {
            out.push(minijinja::context! {
                key => instance.key(), name => instance.manifest.name, template => surface.template, data,
            });
        }
    }
    Ok(out)
}
