//! The tenant's dispositifs as citizens see them: the list (en cours, à venir, terminés)
//! and a page for each, with its description, dates and themes, and for a council its
//! composition and internal rules.

use axum::extract::{Path, Query};
use axum::response::Html;
use minijinja::value::Serde;
use participe_core::agenda;
use participe_core::dispositifs::{self, Kind, Phase};
use participe_web::{Error, Result};

use crate::Portal;
use crate::participation::{ListQuery, call_section};

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

pub async fn show(portal: Portal, Path(slug): Path<String>, Query(q): Query<ListQuery>) -> Result<Html<String>> {
    portal.cache_through(|| show_page(&portal, &slug, &q)).await
}

async fn show_page(portal: &Portal, slug: &str, q: &ListQuery) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let d = dispositifs::public_by_slug(&mut tx, slug)
        .await?
        .ok_or(Error::NotFound)?;
    let themes = dispositifs::themes(&mut tx, d.id).await?;
    let members = if d.kind() == Kind::Conseil {
        dispositifs::members(&mut tx, d.id).await?
    } else {
        vec![]
    };
    let coming_events = crate::agenda::rows(&mut tx, agenda::When::Coming, d.id).await?;
    let past_events = if d.kind() == Kind::Conseil {
        crate::agenda::rows(&mut tx, agenda::When::Past, d.id).await?
    } else {
        vec![]
    };
    let booklet = if d.kind() == Kind::Appel {
        participe_core::booklets::latest_ready(&mut tx, d.id).await?
    } else {
        None
    };
    let call = if d.kind() == Kind::Appel {
        Some(call_section(portal, &mut tx, &d, q).await?)
    } else {
        None
    };
    tx.commit().await?;
    let today = time::OffsetDateTime::now_utc().date();
    portal
        .render(
            "portal/dispositif.html",
            "/participer",
            minijinja::context! {
                d => Serde(&d), kind => d.kind().label(), is_council => d.kind() == Kind::Conseil,
                is_call => d.kind() == Kind::Appel, phase => d.phase(today).label(), open => d.is_open(today),
                opens_on => d.opens_on.map(|x| x.to_string()), closes_on => d.closes_on.map(|x| x.to_string()),
                themes, members => Serde(members), call, coming_events, past_events,
                booklet => booklet.map(Serde),
            },
        )
        .await
}

/// The latest ready « livret d'expression » of a call: `pdf`, `csv` or `json`.
pub async fn booklet(portal: Portal, Path((slug, format)): Path<(String, String)>) -> Result<axum::response::Response> {
    let mut tx = portal.begin().await?;
    let d = dispositifs::public_by_slug(&mut tx, &slug)
        .await?
        .ok_or(Error::NotFound)?;
    let b = participe_core::booklets::latest_ready(&mut tx, d.id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    participe_web::booklet_file::serve(&portal.app.storage, &b, &format).await
}
