//! The tenant's dispositifs as citizens see them: the list (en cours, à venir, terminés)
//! and a page for each, made of the sections of the components it hosts
//! (`crate::components`), each of which also has a page of its own.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Html;
use minijinja::value::Serde;
use participe_core::components;
use participe_core::dispositifs::{self, Phase};
use participe_web::{Error, Result};

use crate::Portal;

pub async fn list(portal: Portal) -> Result<Html<String>> {
    portal.cache_through(|| list_page(&portal)).await
}

async fn list_page(portal: &Portal) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let all = dispositifs::public(&mut tx).await?;
    tx.commit().await?;
    let today = time::OffsetDateTime::now_utc().date();
    let group = |phase: Phase| -> Vec<minijinja::Value> {
        all.iter()
            .filter(|d| d.phase(today) == phase)
            .map(|d| {
                minijinja::context! {
                    slug => d.slug.clone(), title => d.title.clone(), summary => d.summary.clone(),
                    kind => d.kind().label(), opens_on => d.opens_on.map(|x| x.to_string()),
                    closes_on => d.closes_on.map(|x| x.to_string()),
                }
            })
            .collect()
    };
    let (current, coming, past) = (group(Phase::EnCours), group(Phase::AVenir), group(Phase::Termine));
    portal
        .render(
            "portal/dispositifs.html",
            "/participer",
            minijinja::context! { current, coming, past },
        )
        .await
}

pub async fn show(
    portal: Portal,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Html<String>> {
    portal.cache_shared(|| show_page(&portal, &slug, None, &q)).await
}

/// One component of a dispositif, on a page of its own: `/participer/<slug>/<component>`.
pub async fn component(
    portal: Portal,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Html<String>> {
    portal.cache_shared(|| show_page(&portal, &slug, Some(&key), &q)).await
}

/// The dispositif's page: its header, then the section of each component it shows, in the
/// order staff chose; with `only`, that component's section alone.
async fn show_page(
    portal: &Portal,
    slug: &str,
    only: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let (d, mut instances) = components::public_space(&mut tx, slug).await?.ok_or(Error::NotFound)?;
    let all: Vec<minijinja::Value> = instances
        .iter()
        .map(|i| minijinja::context! { key => i.key(), name => i.manifest.name })
        .collect();
    if let Some(key) = only {
        instances.retain(|i| i.key() == key);
        if instances.is_empty() {
            return Err(Error::NotFound);
        }
    }
    let sections = crate::components::sections(portal, &mut tx, &d, &instances, q).await?;
    tx.commit().await?;
    let today = time::OffsetDateTime::now_utc().date();
    portal
        .render(
            "portal/dispositif.html",
            "/participer",
            minijinja::context! {
                share_title => d.title.clone(),
                page_description => crate::kit::description_of(if d.summary.trim().is_empty() { &d.description } else { &d.summary }),
                d => Serde(&d), kind => d.kind().label(), phase => d.phase(today).label(),
                opens_on => d.opens_on.map(|x| x.to_string()), closes_on => d.closes_on.map(|x| x.to_string()),
                sections, components => all,
                only => only.and_then(components::find).map(|m| m.name),
            },
        )
        .await
}
