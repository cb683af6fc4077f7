//! The console's side of each component (`participe_core::components`): its panel on the
//! dispositif's page (a council's members, a call's livret, the questions…) and the routes
//! of its forms; and, for every component alike, adding one to a dispositif, configuring it
//! (typed settings, phase dates, actions requiring a verified identity), reordering,
//! hiding and removing it. One module per component, one line in [`SURFACES`].

mod budget;
mod composition;
mod contributions;
mod desk;
mod faq;
mod vote;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::future::BoxFuture;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::components::{self as core, Configuration, Instance, Surface as SurfaceInfo};
use participe_core::dispositifs::{self, Dispositif};
use participe_core::{FieldErrors, TenantTx};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use crate::frame::InTenant;

pub static SURFACES: &[&Surface] = &[
    &Surface::plain("presentation"),
    &contributions::SURFACE,
    &composition::SURFACE,
    &Surface::plain("agenda"),
    &Surface::plain("actualites"),
    &Surface::plain("documents"),
    &faq::SURFACE,
    &budget::SURFACE,
    &vote::SURFACE,
];

/// A panel's data for its template, or `None` when the component has none.
pub type PanelFn =
    for<'a> fn(&'a InTenant, &'a mut TenantTx, &'a Dispositif, &'a Instance) -> BoxFuture<'a, Result<Option<Value>>>;

pub struct Surface {
    pub key: &'static str,
    /// The panel's template: it reads `existing` (the dispositif) and `p.data`.
    pub template: &'static str,
    pub panel: Option<PanelFn>,
    pub routes: fn(Router<AppState>) -> Router<AppState>,
    pub paths: &'static [&'static str],
}

impl Surface {
    /// A component whose console is only its configuration.
    pub const fn plain(key: &'static str) -> Surface {
        Surface {
            key,
            template: "",
            panel: None,
            routes: |r| r,
            paths: &[],
        }
    }
}

impl SurfaceInfo for Surface {
    fn key(&self) -> &'static str {
        self.key
    }

    fn paths(&self) -> Vec<&'static str> {
        self.paths.to_vec()
    }
}

fn surface(key: &str) -> Option<&'static Surface> {
    SURFACES.iter().copied().find(|s| s.key == key)
}

/// Every surface's routes, and the pages every component shares.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let shared = router
        .route("/t/{slug}/dispositifs/{id}/composants", post(add))
        .route(
            "/t/{slug}/dispositifs/{id}/composants/{component}",
            get(configure_form).post(configure),
        )
        .route("/t/{slug}/dispositifs/{id}/composants/{component}/ordre", post(shift))
        .route(
            "/t/{slug}/dispositifs/{id}/composants/{component}/publication",
            post(publish),
        )
        .route(
            "/t/{slug}/dispositifs/{id}/composants/{component}/retrait",
            get(remove_form).post(remove),
        )
        .route(
            "/t/{slug}/dispositifs/{id}/liste-electorale",
            get(crate::census::page).post(crate::census::upload),
        );
    SURFACES.iter().fold(shared, |r, s| (s.routes)(r))
}

fn can_edit(role: participe_core::staff::Role) -> bool {
    role.can_edit_content()
}

/// A panel's form as it was sent, shown again with its errors beside the fields.
pub struct Echo {
    pub key: &'static str,
    pub form: Value,
    pub errors: FieldErrors,
}

impl Echo {
    pub fn new(key: &'static str, form: &impl serde::Serialize, errors: FieldErrors) -> Echo {
        Echo {
            key,
            form: Value::from(Serde(form)),
            errors,
        }
    }

    /// The dispositif's page again (422), this panel's form filled with what was typed.
    pub async fn page(self, t: &InTenant, dispositif_id: Uuid) -> Result<Response> {
        crate::dispositifs::page_again(t, dispositif_id, self).await
    }
}

/// What the dispositif's page shows of its components: the list staff manage, the panels of
/// those that have one (the one `echo` names with its form and errors), and the components
/// that can still be added.
pub async fn page_parts(t: &InTenant, tx: &mut TenantTx, d: &Dispositif, echo: Option<&Echo>) -> Result<Value> {
    let instances = core::of(tx, d.id).await?;
    let mut panels = Vec::new();
    for i in instances.iter().filter(|i| !i.removed) {
        if let Some(s) = surface(i.key())
            && let Some(panel) = s.panel
            && let Some(data) = panel(t, tx, d, i).await?
        {
            let echo = echo.filter(|e| e.key == i.key());
            panels.push(minijinja::context! {
                key => i.key(), name => i.manifest.name, template => s.template, data,
                form => echo.map(|e| e.form.clone()), errors => echo.map(|e| Serde(&e.errors)),
            });
        }
    }
    let listed: Vec<Value> = instances
        .iter()
        .filter(|i| !i.removed)
        .map(|i| {
            minijinja::context! {
                id => i.id.to_string(), key => i.key(), name => i.manifest.name, published => i.published,
                configurable => !i.manifest.settings.is_empty() || !i.manifest.phases.is_empty() || !i.manifest.actions.is_empty(),
            }
        })
        .collect();
    let addable: Vec<Value> = core::REGISTRY
        .iter()
        .filter(|m| m.may_host(d.kind()) && !instances.iter().any(|i| i.key() == m.key && !i.removed))
        .map(|m| minijinja::context! { value => m.key, label => m.name, description => m.description })
        .collect();
    Ok(minijinja::context! { listed, panels, addable })
}

/// The component keys a dispositif hosts (or, being created, will host): which of the
/// dispositif form's fields apply.
pub async fn hosted(tx: &mut TenantTx, d: &Dispositif) -> Result<Vec<&'static str>> {
    Ok(core::of(tx, d.id)
        .await?
        .iter()
        .filter(|i| !i.removed)
        .map(|i| i.key())
        .collect())
}

async fn dispositif(tx: &mut TenantTx, id: Uuid) -> Result<Dispositif> {
    dispositifs::by_id(tx, id).await?.ok_or(Error::NotFound)
}

fn back(t: &InTenant, id: Uuid) -> String {
    format!("/t/{}/dispositifs/{id}#composants", t.tenant().slug)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AddForm {
    component: String,
}

async fn add(t: InTenant, Path((_, id)): Path<(String, Uuid)>, CsrfForm(form): CsrfForm<AddForm>) -> Result<Response> {
    t.require(can_edit)?;
    let manifest = core::find(&form.component).ok_or_else(|| Error::BadRequest("composant inconnu".into()))?;
    let mut tx = t.begin().await?;
    let d = dispositif(&mut tx, id).await?;
    match core::add(&mut tx, &d, manifest).await {
        Ok(_) => {}
        Err(participe_core::Error::Invalid(e)) => {
            drop(tx);
            t.console.flash(e.to_string()).await?;
            return Ok(Redirect::to(&back(&t, id)).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    t.audit(
        &mut tx,
        "composant.ajout",
        manifest.key,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!("Le composant « {} » est ajouté au dispositif.", manifest.name))
        .await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

async fn instance(tx: &mut TenantTx, id: Uuid, component: &str) -> Result<(Dispositif, Instance)> {
    let d = dispositif(tx, id).await?;
    let cid: Uuid = component.parse().map_err(|_| Error::NotFound)?;
    let i = core::get(tx, id, cid).await?;
    Ok((d, i))
}

/// The configuration form: every setting, phase and action of the component, from its
/// manifest.
async fn render_configure(
    t: &InTenant,
    d: &Dispositif,
    i: &Instance,
    typed: Option<&std::collections::HashMap<String, String>>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let value = |field: &str, stored: String| {
        typed
            .map(|f| f.get(field).cloned().unwrap_or_default())
            .unwrap_or(stored)
    };
    let settings: Vec<Value> = i
        .manifest
        .settings
        .iter()
        .map(|s| {
            let stored = match s.kind {
                core::SettingKind::Bool { .. } => if i.settings.bool(s.key) { "on".into() } else { String::new() },
                core::SettingKind::Integer { .. } => i.settings.integer(s.key).to_string(),
                core::SettingKind::Text { .. } | core::SettingKind::Choice { .. } => i.settings.text(s.key).to_string(),
            };
            let options: Vec<Value> = match s.kind {
                core::SettingKind::Choice { options, .. } => options
                    .iter()
                    .map(|&(value, label)| minijinja::context! { value, label })
                    .collect(),
                _ => Vec::new(),
            };
            let kind = match s.kind {
                core::SettingKind::Bool { .. } => "bool",
                core::SettingKind::Integer { .. } => "integer",
                core::SettingKind::Text { .. } => "text",
                core::SettingKind::Choice { .. } => "choice",
            };
            minijinja::context! { field => s.field(), label => s.label, hint => s.hint, kind, options, value => value(&s.field(), stored) }
        })
        .collect();
    let iso = |day: Option<time::Date>| day.map(|x| x.to_string()).unwrap_or_default();
    let phases: Vec<Value> = i
        .manifest
        .phases
        .iter()
        .map(|p| {
            let own = i
                .phases
                .get(p.key)
                .and_then(|v| serde_json::from_value::<core::PhaseDates>(v.clone()).ok())
                .unwrap_or_default();
            let from = format!("phase_{}_from", p.key);
            let to = format!("phase_{}_to", p.key);
            minijinja::context! {
                label => p.label, from_value => value(&from, iso(own.from)), to_value => value(&to, iso(own.to)),
                from, to,
            }
        })
        .collect();
    let actions: Vec<Value> = i
        .manifest
        .actions
        .iter()
        .map(|a| {
            let field = format!("verified_{}", a.key);
            let on = match typed {
                Some(f) => f.get(&field).is_some_and(|v| v == "on"),
                None => i.verified_for.iter().any(|k| k == a.key),
            };
            minijinja::context! { field, label => a.label, who => a.who.label(), on }
        })
        .collect();
    let page = t
        .render(
            "console/tenant/components/configure.html",
            "dispositifs",
            minijinja::context! {
                d => Serde(d), id => i.id.to_string(), name => i.manifest.name, description => i.manifest.description,
                settings, phases, actions, errors => Serde(errors),
                dates => minijinja::context! { from => iso(d.opens_on), to => iso(d.closes_on) },
            },
        )
        .await?;
    Ok((status, page).into_response())
}

async fn configure_form(t: InTenant, Path((_, id, component)): Path<(String, Uuid, String)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = instance(&mut tx, id, &component).await?;
    tx.commit().await?;
    render_configure(&t, &d, &i, None, FieldErrors::default(), StatusCode::OK).await
}

async fn configure(
    t: InTenant,
    Path((_, id, component)): Path<(String, Uuid, String)>,
    CsrfForm(fields): CsrfForm<std::collections::HashMap<String, String>>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = instance(&mut tx, id, &component).await?;
    let parsed = Configuration::parse(i.manifest, |name| fields.get(name).cloned());
    let config = match parsed {
        Ok(c) => c,
        Err(errors) => {
            drop(tx);
            return render_configure(&t, &d, &i, Some(&fields), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    core::configure(&mut tx, id, i.id, &config).await?;
    t.audit(
        &mut tx,
        "composant.configuration",
        i.key(),
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!("Le composant « {} » est enregistré.", i.manifest.name))
        .await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ShiftForm {
    sens: String,
}

async fn shift(
    t: InTenant,
    Path((_, id, component)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<ShiftForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let by = match form.sens.as_str() {
        "haut" => -1,
        "bas" => 1,
        _ => return Err(Error::BadRequest("sens inconnu".into())),
    };
    let mut tx = t.begin().await?;
    let (_, i) = instance(&mut tx, id, &component).await?;
    core::shift(&mut tx, id, i.id, by).await?;
    tx.commit().await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PublishForm {
    publie: String,
}

async fn publish(
    t: InTenant,
    Path((_, id, component)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<PublishForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let published = form.publie == "oui";
    let mut tx = t.begin().await?;
    let (_, i) = instance(&mut tx, id, &component).await?;
    core::set_published(&mut tx, id, i.id, published).await?;
    let action = if published {
        "composant.publication"
    } else {
        "composant.masquage"
    };
    t.audit(&mut tx, action, i.key(), serde_json::json!({ "dispositif": id }))
        .await?;
    tx.commit().await?;
    let said = if published {
        format!("« {} » est de nouveau sur le portail.", i.manifest.name)
    } else {
        format!(
            "« {} » n'est plus affiché sur le portail ; il reste configuré ici.",
            i.manifest.name
        )
    };
    t.console.flash(said).await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}

async fn remove_form(t: InTenant, Path((_, id, component)): Path<(String, Uuid, String)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = instance(&mut tx, id, &component).await?;
    let held = core::held(&mut tx, &i).await?;
    tx.commit().await?;
    Ok(t.render(
        "console/tenant/components/remove.html",
        "dispositifs",
        minijinja::context! { d => Serde(&d), id => i.id.to_string(), name => i.manifest.name, held },
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RemoveForm {
    confirmation: String,
}

/// Removes a component; one that holds data is only removed once staff confirmed it.
async fn remove(
    t: InTenant,
    Path((slug, id, component)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<RemoveForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (_, i) = instance(&mut tx, id, &component).await?;
    if core::held(&mut tx, &i).await? > 0 && form.confirmation != "oui" {
        drop(tx);
        return Ok(Redirect::to(&format!("/t/{slug}/dispositifs/{id}/composants/{}/retrait", i.id)).into_response());
    }
    core::remove(&mut tx, id, i.id).await?;
    t.audit(
        &mut tx,
        "composant.retrait",
        i.key(),
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash(format!(
            "« {} » est retiré du dispositif. Ses données restent dans les exports ; l'ajouter à nouveau les fait revenir.",
            i.manifest.name
        ))
        .await?;
    Ok(Redirect::to(&back(&t, id)).into_response())
}
