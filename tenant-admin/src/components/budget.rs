//! Budget participatif in the console: the envelopes and the projects on the dispositif's
//! page; a project's review (feasible or not, the public explanation, the costed amount),
//! its publication and the merge of duplicates; the paper ballots entered at a desk; the
//! turnout, and the results — with an override, always with its public reason.
//!
//! Once a ballot is in the box, nothing that changes the ballot (a project's cost, its
//! publication, a merge, an envelope) is accepted: voters would not all have voted on the
//! same ballot.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::FutureExt;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::ballots::{self, Channel};
use participe_core::budgets::proposals::{self, Proposal, Review, Shown};
use participe_core::budgets::{self, Basket};
use participe_core::components::budget::{self as component, Config};
use participe_core::components::{self as core, Instance};
use participe_core::dispositifs::{self, Dispositif};
use participe_core::{FieldErrors, TenantTx};
use participe_web::csrf::CsrfForm;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::{Echo, Surface};
use crate::frame::InTenant;

pub static SURFACE: Surface = Surface {
    key: "budget",
    template: "console/tenant/components/budget.html",
    panel: Some(|_, tx, d, i| panel(tx, d, i).boxed()),
    routes,
    paths: &[
        "/t/{slug}/dispositifs/{id}/budget/enveloppes",
        "/t/{slug}/dispositifs/{id}/budget/projets",
        "/t/{slug}/dispositifs/{id}/budget/projets/{project}",
        "/t/{slug}/dispositifs/{id}/budget/projets/{project}/publication",
        "/t/{slug}/dispositifs/{id}/budget/projets/{project}/fusion",
        "/t/{slug}/dispositifs/{id}/budget/projets/{project}/resultat",
        "/t/{slug}/dispositifs/{id}/budget/papier",
        "/t/{slug}/dispositifs/{id}/budget/resultats",
    ],
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    const BASE: &str = "/t/{slug}/dispositifs/{id}/budget";
    r.route(&format!("{BASE}/enveloppes"), post(add_envelope))
        .route(&format!("{BASE}/projets"), post(add_project))
        .route(&format!("{BASE}/projets/{{project}}"), get(project_page).post(review))
        .route(&format!("{BASE}/projets/{{project}}/publication"), post(publish))
        .route(&format!("{BASE}/projets/{{project}}/fusion"), post(merge))
        .route(&format!("{BASE}/projets/{{project}}/resultat"), post(set_override))
        .route(&format!("{BASE}/papier"), get(paper_page).post(paper))
        .route(&format!("{BASE}/resultats"), get(results_page))
}

fn can_edit(role: participe_core::staff::Role) -> bool {
    role.can_edit_content()
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

async fn panel(tx: &mut TenantTx, d: &Dispositif, i: &Instance) -> Result<Option<Value>> {
    let envelopes = budgets::envelopes(tx, d.id).await?;
    let communes: HashMap<String, Vec<String>> = budgets::communes_by_envelope(tx, d.id)
        .await?
        .into_iter()
        .map(|(id, c)| (id.to_string(), c))
        .collect();
    let projects: Vec<Value> = proposals::list(tx, d.id, Shown::All)
        .await?
        .iter()
        .map(|p| minijinja::context! { p => Serde(p), stage => p.stage().label() })
        .collect();
    let turnout = ballots::turnout(tx, d.id).await?;
    let envelope_choices: Vec<Value> = envelopes
        .iter()
        .map(|e| minijinja::context! { value => e.id.to_string(), label => e.name.clone() })
        .collect();
    // A vote kept to residents that nobody could pass: say so before the vote opens.
    use participe_core::residence::{self, Residence};
    let residence_gap = match residence::Conditions::of(i).residence {
        Residence::Anywhere => None,
        Residence::Territory if residence::communes(tx).await?.is_empty() => Some(
            "Le vote est réservé aux habitant·es, mais la liste des communes du territoire est vide : personne ne pourrait voter.",
        ),
        Residence::Envelope
            if envelopes
                .iter()
                .any(|e| communes.get(&e.id.to_string()).is_none_or(Vec::is_empty)) =>
        {
            Some(
                "Le vote se fait dans l'enveloppe de sa commune, mais une enveloppe n'a pas de communes : personne ne pourrait y voter.",
            )
        }
        _ => None,
    };
    // The livret d'expression, unless the dispositif's contributions already offer it.
    let booklet_here = !super::hosted(tx, d).await?.contains(&"contributions");
    let booklet = participe_core::booklets::latest(tx, d.id).await?;
    Ok(Some(minijinja::context! {
        booklet_here, booklet => booklet.map(Serde), budget => true, residence_gap,
        envelopes => Serde(&envelopes), communes, envelope_choices, projects, turnout => Serde(turnout),
        voted => turnout.online + turnout.paper > 0,
    }))
}

fn page_of(t: &InTenant, id: Uuid) -> String {
    format!("/t/{}/dispositifs/{id}#budget", t.tenant().slug)
}

/// The budget's dispositif and component, in this tenant.
async fn budget(tx: &mut TenantTx, id: Uuid) -> Result<(Dispositif, Instance)> {
    let d = dispositifs::by_id(tx, id).await?.ok_or(Error::NotFound)?;
    let i = core::of(tx, id)
        .await?
        .into_iter()
        .find(|i| i.key() == component::MANIFEST.key && !i.removed)
        .ok_or(Error::NotFound)?;
    Ok((d, i))
}

const FROZEN: &str =
    "Des bulletins sont déjà dans l'urne : le bulletin de vote (projets, coûts, enveloppes) ne peut plus changer.";

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PanelForm {
    /// Which of the panel's forms: `enveloppe` or `projet`. Their fields are prefixed: the
    /// dispositif's own form is on the same page.
    which: String,
    envelope_name: String,
    envelope_amount: String,
    envelope_communes: String,
    project_envelope: String,
    project_title: String,
    project_description: String,
    project_cost: String,
}

async fn add_envelope(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(mut form): CsrfForm<PanelForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    form.which = "enveloppe".into();
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    if ballots::any_cast(&mut tx, d.id).await? {
        return refuse_back(&t, tx, FROZEN, &page_of(&t, id)).await;
    }
    let amount = proposals::parse_euros(&form.envelope_amount);
    let added = match amount {
        Some(amount) => match budgets::add_envelope(&mut tx, d.id, &form.envelope_name, amount).await {
            Ok(e) => budgets::set_envelope_communes(&mut tx, d.id, e, &form.envelope_communes).await,
            Err(e) => Err(e),
        },
        None => Err(participe_core::Error::invalid(
            "amount",
            "indiquez un montant en euros, par exemple 150 000",
        )),
    };
    match added {
        Ok(_) => {}
        Err(participe_core::Error::Invalid(errors)) => {
            drop(tx);
            return Echo::new(SURFACE.key, &form, errors.prefixed("envelope_"))
                .page(&t, id)
                .await;
        }
        Err(e) => return Err(e.into()),
    }
    t.audit(
        &mut tx,
        "budget.enveloppe",
        &form.envelope_name,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("L'enveloppe est ajoutée.").await?;
    Ok(Redirect::to(&page_of(&t, id)).into_response())
}

/// A project staff add themselves, costed and feasible: on the ballot at once.
async fn add_project(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(mut form): CsrfForm<PanelForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    form.which = "projet".into();
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    if ballots::any_cast(&mut tx, d.id).await? {
        return refuse_back(&t, tx, FROZEN, &page_of(&t, id)).await;
    }
    let envelopes = budgets::envelopes(&mut tx, d.id).await?;
    let envelope = match envelopes.as_slice() {
        [only] => Some(only.id),
        _ => envelopes
            .iter()
            .find(|e| e.id.to_string() == form.project_envelope)
            .map(|e| e.id),
    };
    let added = match (envelope, proposals::parse_euros(&form.project_cost)) {
        (Some(envelope), Some(cost)) => {
            budgets::add_project(
                &mut tx,
                d.id,
                envelope,
                &form.project_title,
                &form.project_description,
                cost,
            )
            .await
        }
        (None, _) => Err(participe_core::Error::invalid(
            "envelope",
            "choisissez l'enveloppe (ajoutez-en une d'abord)",
        )),
        (_, None) => Err(participe_core::Error::invalid(
            "cost",
            "indiquez le coût en euros, par exemple 12 500",
        )),
    };
    match added {
        Ok(_) => {}
        Err(participe_core::Error::Invalid(errors)) => {
            drop(tx);
            let errors = FieldErrors(
                errors
                    .0
                    .into_iter()
                    .map(|mut e| {
                        if e.field == "envelope_id" {
                            e.field = "envelope".into();
                        }
                        e
                    })
                    .collect(),
            );
            return Echo::new(SURFACE.key, &form, errors.prefixed("project_"))
                .page(&t, id)
                .await;
        }
        Err(e) => return Err(e.into()),
    }
    t.audit(
        &mut tx,
        "budget.projet.ajout",
        &form.project_title,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console.flash("Le projet est ajouté au vote.").await?;
    Ok(Redirect::to(&page_of(&t, id)).into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ReviewForm {
    feasibility: String,
    explanation: String,
    cost: String,
}

async fn render_project(
    t: &InTenant,
    d: &Dispositif,
    p: &Proposal,
    others: &[Proposal],
    form: &ReviewForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let merge_choices: Vec<Value> = others
        .iter()
        .filter(|o| o.id != p.id && o.merged_into.is_none())
        .map(|o| minijinja::context! { value => o.id.to_string(), label => o.title.clone() })
        .collect();
    let feasibility = [
        ("faisable", "Réalisable : il pourra être soumis au vote"),
        ("non_faisable", "Non réalisable"),
    ]
    .iter()
    .map(|&(value, label)| minijinja::context! { value, label })
    .collect::<Vec<_>>();
    let page = t
        .render(
            "console/tenant/budget/project.html",
            "dispositifs",
            minijinja::context! {
                d => Serde(d), p => Serde(p), stage => p.stage().label(), merge_choices, feasibility,
                form => Serde(form), errors => Serde(errors),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

async fn project_in(tx: &mut TenantTx, d: &Dispositif, project: &str) -> Result<Proposal> {
    let project: Uuid = project.parse().map_err(|_| Error::NotFound)?;
    proposals::get(tx, d.id, project).await?.ok_or(Error::NotFound)
}

async fn project_page(t: InTenant, Path((_, id, project)): Path<(String, Uuid, String)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    let p = project_in(&mut tx, &d, &project).await?;
    let others = proposals::list(&mut tx, d.id, Shown::All).await?;
    tx.commit().await?;
    let form = ReviewForm {
        feasibility: p.feasibility.clone().unwrap_or_default(),
        explanation: p.explanation.clone(),
        cost: p.cost.to_string(),
    };
    render_project(&t, &d, &p, &others, &form, FieldErrors::default(), StatusCode::OK).await
}

async fn review(
    t: InTenant,
    Path((_, id, project)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    let p = project_in(&mut tx, &d, &project).await?;
    let parsed = Review::parse(&form.feasibility, &form.explanation, &form.cost);
    let frozen = ballots::any_cast(&mut tx, d.id).await?;
    let r = match parsed {
        Ok(r) if !frozen => r,
        other => {
            let errors = match other {
                Err(errors) => errors,
                Ok(_) => FieldErrors::one("feasibility", FROZEN),
            };
            let others = proposals::list(&mut tx, d.id, Shown::All).await?;
            drop(tx);
            return render_project(&t, &d, &p, &others, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match proposals::review(&mut tx, d.id, p.id, &r).await {
        Ok(()) => {}
        Err(participe_core::Error::Invalid(errors)) => {
            let others = proposals::list(&mut tx, d.id, Shown::All).await?;
            drop(tx);
            return render_project(&t, &d, &p, &others, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return Err(e.into()),
    }
    t.audit(
        &mut tx,
        "budget.projet.etude",
        &p.title,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("L'étude du projet est enregistrée. Publiez-le pour qu'il apparaisse sur le portail.")
        .await?;
    Ok(Redirect::to(&format!(
        "/t/{}/dispositifs/{id}/budget/projets/{}",
        t.tenant().slug,
        p.id
    ))
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PublishForm {
    publie: String,
}

async fn publish(
    t: InTenant,
    Path((_, id, project)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<PublishForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    let p = project_in(&mut tx, &d, &project).await?;
    let back = format!("/t/{}/dispositifs/{id}/budget/projets/{}", t.tenant().slug, p.id);
    if ballots::any_cast(&mut tx, d.id).await? {
        return refuse_back(&t, tx, FROZEN, &back).await;
    }
    let published = form.publie == "oui";
    if let Err(e) = proposals::set_published(&mut tx, d.id, p.id, published).await {
        return refused(&t, tx, e, &back).await;
    }
    let action = if published {
        "budget.projet.publication"
    } else {
        "budget.projet.retrait"
    };
    t.audit(&mut tx, action, &p.title, serde_json::json!({ "dispositif": id }))
        .await?;
    tx.commit().await?;
    t.console
        .flash(if published {
            "Le projet est publié sur le portail."
        } else {
            "Le projet n'est plus publié."
        })
        .await?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct MergeForm {
    into: String,
}

async fn merge(
    t: InTenant,
    Path((_, id, project)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    let p = project_in(&mut tx, &d, &project).await?;
    let back = format!("/t/{}/dispositifs/{id}/budget/projets/{}", t.tenant().slug, p.id);
    if ballots::any_cast(&mut tx, d.id).await? {
        return refuse_back(&t, tx, FROZEN, &back).await;
    }
    let Ok(into) = form.into.parse::<Uuid>() else {
        return refuse_back(&t, tx, "Choisissez le projet avec lequel fusionner.", &back).await;
    };
    if let Err(e) = proposals::merge(&mut tx, d.id, p.id, into).await {
        return refused(&t, tx, e, &back).await;
    }
    t.audit(
        &mut tx,
        "budget.projet.fusion",
        &p.title,
        serde_json::json!({ "dispositif": id, "dans": into }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("Les projets sont fusionnés : les auteur·es des deux figurent sur celui qui reste.")
        .await?;
    Ok(Redirect::to(&format!(
        "/t/{}/dispositifs/{id}/budget/projets/{into}",
        t.tenant().slug
    ))
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct OverrideForm {
    /// `retenu`, `non_retenu`, or `calcul` (back to what the rule computed).
    decision: String,
    reason: String,
}

async fn set_override(
    t: InTenant,
    Path((_, id, project)): Path<(String, Uuid, String)>,
    CsrfForm(form): CsrfForm<OverrideForm>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, _) = budget(&mut tx, id).await?;
    let p = project_in(&mut tx, &d, &project).await?;
    let back = format!("/t/{}/dispositifs/{id}/budget/resultats", t.tenant().slug);
    let o = match form.decision.as_str() {
        "retenu" => Some((true, form.reason.as_str())),
        "non_retenu" => Some((false, form.reason.as_str())),
        _ => None,
    };
    if let Err(e) = proposals::set_override(&mut tx, d.id, p.id, o).await {
        return refused(&t, tx, e, &back).await;
    }
    t.audit(
        &mut tx,
        "budget.resultat.modification",
        &p.title,
        serde_json::json!({ "dispositif": id, "decision": form.decision, "raison": form.reason }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("Le résultat du projet est modifié ; la raison est publiée avec les résultats.")
        .await?;
    Ok(Redirect::to(&back).into_response())
}

/// The results for staff: the turnout at any time; the results themselves only when the
/// portal shows them (nobody sees who is winning while the vote runs).
async fn results_page(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = budget(&mut tx, id).await?;
    let turnout = ballots::turnout(&mut tx, d.id).await?;
    let public = component::results_public(&i, &d, today());
    let envelopes = if public {
        budgets::outcome::explained(&mut tx, d.id, Config::of(&i).rule, &component::seed(&d)).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let page = t
        .render(
            "console/tenant/budget/results.html",
            "dispositifs",
            minijinja::context! { d => Serde(&d), turnout => Serde(turnout), public, envelopes => Serde(envelopes) },
        )
        .await?;
    Ok(page.into_response())
}

async fn render_paper(
    t: &InTenant,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    fields: &HashMap<String, String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let projects = budgets::projects(tx, d.id).await?;
    let envelopes = budgets::envelopes(tx, d.id).await?;
    let config = Config::of(i);
    let points = matches!(config.method, budgets::Method::Points { .. });
    let names: HashMap<Uuid, String> = envelopes.iter().map(|e| (e.id, e.name.clone())).collect();
    let rows: Vec<Value> = projects
        .iter()
        .map(|p| {
            let field = format!("p_{}", p.id);
            minijinja::context! {
                field => field.clone(), title => p.title.clone(), cost => p.cost,
                envelope => names.get(&p.envelope_id).cloned().unwrap_or_default(),
                value => fields.get(&field).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let page = t
        .render(
            "console/tenant/budget/paper.html",
            "dispositifs",
            minijinja::context! {
                d => Serde(d), rows, points, errors => Serde(errors), census => i.settings.bool(core::CENSUS),
                desk => super::desk::typed(fields),
            },
        )
        .await?;
    Ok((status, page).into_response())
}

async fn paper_page(t: InTenant, Path((_, id)): Path<(String, Uuid)>) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = budget(&mut tx, id).await?;
    let answer = render_paper(
        &t,
        &mut tx,
        &d,
        &i,
        &HashMap::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await;
    tx.commit().await?;
    answer
}

/// A paper ballot from the desk. The voter is marked in the roll as the portal would mark
/// them when they have an account (their address, given at the desk), else by their
/// number on the desk's list: a person who voted online cannot vote on paper, nor the
/// reverse.
async fn paper(
    t: InTenant,
    Path((_, id)): Path<(String, Uuid)>,
    CsrfForm(fields): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    t.require(can_edit)?;
    let mut tx = t.begin().await?;
    let (d, i) = budget(&mut tx, id).await?;
    let mut errors = FieldErrors::default();
    let voter = super::desk::voter(&t, &mut tx, &d, &i, component::VOTE, &fields, &mut errors).await?;
    let config = Config::of(&i);
    let basket = match Basket::from_form(&fields, config.method) {
        Ok(b) => b,
        Err(e) => return render_paper(&t, &mut tx, &d, &i, &fields, e, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let Some(voter) = voter.filter(|_| errors.is_empty()) else {
        return render_paper(&t, &mut tx, &d, &i, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match budgets::cast_on(&mut tx, d.id, config.method, &voter, &basket, Channel::Paper).await? {
        Ok(_) => {}
        Err(errors) => {
            return render_paper(&t, &mut tx, &d, &i, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    }
    // The audit names the desk's action, never the voter or the ballot.
    t.audit(
        &mut tx,
        "budget.bulletin_papier",
        &d.title,
        serde_json::json!({ "dispositif": id }),
    )
    .await?;
    tx.commit().await?;
    t.console
        .flash("Le bulletin papier est dans l'urne, et la personne est inscrite sur la liste des votant·es.")
        .await?;
    Ok(Redirect::to(&format!("/t/{}/dispositifs/{id}/budget/papier", t.tenant().slug)).into_response())
}

/// Says `why` on the page at `back` and goes there; the transaction is dropped, so nothing
/// of it is written.
async fn refuse_back(t: &InTenant, tx: TenantTx, why: impl Into<String>, back: &str) -> Result<Response> {
    drop(tx);
    t.console.flash(why).await?;
    Ok(Redirect::to(back).into_response())
}

/// [`refuse_back`] with the words of a refused change; other errors stay errors.
async fn refused(t: &InTenant, tx: TenantTx, e: participe_core::Error, back: &str) -> Result<Response> {
    match e {
        participe_core::Error::Invalid(errors) => refuse_back(t, tx, errors.to_string(), back).await,
        e => Err(e.into()),
    }
}
