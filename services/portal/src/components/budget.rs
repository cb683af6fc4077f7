//! Budget participatif on the portal: the projects (section), a project's page, the form to
//! propose one, the vote — a basket filled without JavaScript (« Mettre à jour » shows
//! what is left, « Voter » casts it, once and for good) — its receipt, and the results with
//! why each project won or lost, the published box and its digest.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures::FutureExt;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::ballots::{self, Channel, Voter};
use participe_core::budgets::proposals::{self, ProjectInput, Shown};
use participe_core::budgets::{self, Basket, Envelope, Method, Project};
use participe_core::components::budget::{self as component, Config};
use participe_core::components::{self, Instance};
use participe_core::dispositifs::Dispositif;
use participe_core::{FieldErrors, TenantTx};
use participe_web::csrf::CsrfForm;
use participe_web::kit::parse_id;
use participe_web::{AppState, Error, Result};
use uuid::Uuid;

use super::{Surface, open, verified_only};
use crate::Portal;
use crate::kit::{form_page, message};

pub static SURFACE: Surface = Surface {
    key: "budget",
    template: "portal/components/budget.html",
    section: |portal, tx, space| section(portal, tx, space.d, space.instance, space.query).boxed(),
    routes,
    paths: &[
        "/participer/{slug}/budget/proposer",
        "/participer/{slug}/budget/projets/{id}",
        "/participer/{slug}/budget/vote",
        "/participer/{slug}/budget/resultats",
        "/participer/{slug}/budget/bulletins.json",
        "/participer/{slug}/budget/pabulib/{n}",
    ],
    shared: true,
};

fn routes(r: Router<AppState>) -> Router<AppState> {
    r.route("/participer/{slug}/budget/proposer", get(submit_form).post(submit))
        .route("/participer/{slug}/budget/projets/{id}", get(project))
        .route("/participer/{slug}/budget/vote", get(vote_page).post(vote))
        .route("/participer/{slug}/budget/resultats", get(results_page))
        .route("/participer/{slug}/budget/bulletins.json", get(box_json))
        .route("/participer/{slug}/budget/pabulib/{n}", get(pabulib))
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// A published or archived budget by its address, with its component.
async fn budget(tx: &mut TenantTx, slug: &str) -> Result<(Dispositif, Instance)> {
    super::hosting(tx, slug, component::MANIFEST.key).await
}

/// What voters read of the method before they vote.
fn method_text(m: Method) -> String {
    match m {
        Method::Knapsack { min_percent: 0 } => {
            "Choisissez les projets que vous souhaitez voir réalisés, dans la limite du montant de l'enveloppe.".into()
        }
        Method::Knapsack { min_percent } => format!(
            "Choisissez les projets que vous souhaitez voir réalisés, dans la limite du montant de l'enveloppe et pour au moins {min_percent} % de celle-ci."
        ),
        Method::Approval { min, max } if min == max => format!("Choisissez {}.", projects_fr(max)),
        Method::Approval { min, max } => format!("Choisissez de {min} à {}.", projects_fr(max)),
        Method::Points { total, max_per_project } => {
            format!("Répartissez {total} points entre les projets, {max_per_project} au plus sur un même projet.")
        }
    }
}

fn projects_fr(n: u32) -> String {
    if n > 1 {
        format!("{n} projets")
    } else {
        format!("{n} projet")
    }
}

fn rule_text(c: &Config) -> &'static str {
    match c.rule {
        budgets::Rule::Greedy => {
            "Les projets sont retenus par nombre de voix, du plus voté au moins voté, tant que leur coût tient dans ce qui reste de l'enveloppe."
        }
        budgets::Rule::EqualShares => {
            "Les résultats suivent la méthode des parts égales : chaque votant·e dispose d'une part égale de l'enveloppe, et un projet est retenu quand ses soutiens peuvent le financer ensemble. Un groupe de votant·es obtient ainsi une part des projets à proportion de sa taille."
        }
    }
}

async fn section(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    query: &HashMap<String, String>,
) -> Result<Option<Value>> {
    let envelopes = budgets::envelopes(tx, d.id).await?;
    let all = proposals::list(tx, d.id, Shown::Public).await?;
    let envelope = query.get("enveloppe").cloned().unwrap_or_default();
    let shown: Vec<Value> = all
        .iter()
        .filter(|p| envelope.is_empty() || p.envelope_id.to_string() == envelope)
        .map(|p| minijinja::context! { p => Serde(p), stage => p.stage().label() })
        .collect();
    let config = Config::of(i);
    let day = today();
    let phases: Vec<Value> = i
        .manifest
        .phases
        .iter()
        .map(|p| {
            let dates = i.phase_dates(p.key, d);
            let state = if dates.contains(day) {
                "En cours"
            } else if dates.from.is_some_and(|f| day < f) {
                "À venir"
            } else if dates.to.is_some_and(|t| t < day) {
                "Terminé"
            } else {
                ""
            };
            let iso = |x: Option<time::Date>| x.map(|x| x.to_string());
            minijinja::context! { label => p.label, from => iso(dates.from), to => iso(dates.to), state, current => dates.contains(day) }
        })
        .collect();
    Ok(Some(minijinja::context! {
        envelopes => Serde(&envelopes), envelope, projects => shown, total => all.len(), phases,
        submit_open => open(d, i, component::SUBMIT), vote_open => open(d, i, component::VOTE),
        results => component::results_public(i, d, today()),
        signed_in => portal.citizen.is_some(),
        submit_verified => verified_only(i, component::SUBMIT), vote_verified => verified_only(i, component::VOTE),
        method => method_text(config.method), rule => rule_text(&config),
        booklet => participe_core::booklets::latest_ready(tx, d.id).await?.map(Serde),
    }))
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ProjectForm {
    envelope: String,
    title: String,
    description: String,
    place: String,
    cost: String,
}

async fn project_form(
    portal: &Portal,
    d: &Dispositif,
    envelopes: &[Envelope],
    form: &ProjectForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let choices: Vec<Value> = envelopes
        .iter()
        .map(|e| minijinja::context! { value => e.id.to_string(), label => format!("{} ({})", e.name, budgets::euros(e.amount)) })
        .collect();
    form_page(
        portal,
        "portal/budget/submit.html",
        form,
        errors,
        status,
        minijinja::context! { d => Serde(d), envelopes => choices, title_max => proposals::TITLE_MAX },
    )
    .await
}

const SUBMIT_CLOSED: &str =
    "Le dépôt des projets n'est pas ouvert en ce moment : les projets déjà proposés restent lisibles.";

async fn submit_form(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    if !open(&d, &i, component::SUBMIT) {
        return message(&portal, StatusCode::CONFLICT, "Dépôt clos", SUBMIT_CLOSED).await;
    }
    let back = format!("/participer/{slug}/budget/proposer");
    if let Err(answer) = crate::participation::poster(&portal, &mut tx, &i, component::SUBMIT, &back).await? {
        return Ok(answer);
    }
    let envelopes = budgets::envelopes(&mut tx, d.id).await?;
    tx.commit().await?;
    project_form(
        &portal,
        &d,
        &envelopes,
        &ProjectForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn submit(portal: Portal, Path(slug): Path<String>, CsrfForm(form): CsrfForm<ProjectForm>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    let back = format!("/participer/{slug}/budget/proposer");
    let citizen = match crate::participation::poster(&portal, &mut tx, &i, component::SUBMIT, &back).await? {
        Ok(c) => c,
        Err(answer) => return Ok(answer),
    };
    let envelopes = budgets::envelopes(&mut tx, d.id).await?;
    if !open(&d, &i, component::SUBMIT) {
        let errors = FieldErrors::one("title", SUBMIT_CLOSED);
        return project_form(&portal, &d, &envelopes, &form, errors, StatusCode::CONFLICT).await;
    }
    let input = match ProjectInput::parse(
        &form.envelope,
        &form.title,
        &form.description,
        &form.place,
        &form.cost,
        &envelopes,
    ) {
        Ok(input) => input,
        Err(errors) => {
            return project_form(&portal, &d, &envelopes, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let id = proposals::submit(&mut tx, d.id, citizen.id, &input).await?;
    tx.commit().await?;
    portal
        .flash("Votre projet est déposé. L'équipe de la collectivité va l'étudier et le chiffrer avant de le publier.")
        .await?;
    Ok(Redirect::to(&format!("/participer/{slug}/budget/projets/{id}")).into_response())
}

/// A project's page: published, merged (pointing to the one that stays), or still under
/// review for its own authors only.
async fn project(portal: Portal, Path((slug, id)): Path<(String, String)>) -> Result<Response> {
    let id = parse_id(&id)?;
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    let p = proposals::get(&mut tx, d.id, id).await?.ok_or(Error::NotFound)?;
    let me = portal.citizen.as_ref().map(|c| c.id);
    let mine = me.is_some_and(|m| p.author_ids.contains(&m));
    if !p.published && p.merged_into.is_none() && !mine {
        return Err(Error::NotFound);
    }
    let into = match p.merged_into {
        Some(into) => proposals::get(&mut tx, d.id, into).await?,
        None => None,
    };
    let decision = if component::results_public(&i, &d, today()) && p.stage() == proposals::Stage::Retenu {
        budgets::outcome::explained(&mut tx, d.id, Config::of(&i).rule, &component::seed(&d))
            .await?
            .into_iter()
            .flat_map(|e| e.lines)
            .find(|l| l.id == p.id)
    } else {
        None
    };
    tx.commit().await?;
    let page = portal
        .render(
            "portal/budget/project.html",
            "/participer",
            minijinja::context! {
                d => Serde(&d), p => Serde(&p), stage => p.stage().label(), stage_key => Serde(p.stage()),
                into => into.map(Serde), decision => decision.map(Serde),
                vote_open => open(&d, &i, component::VOTE) && p.stage() == proposals::Stage::Retenu,
            },
        )
        .await?;
    Ok(page.into_response())
}

/// The vote page's filters (`mots`: words of a project's title or description,
/// accents and case aside; `cout_max`: a cost in euros), from the page's query or its form.
struct Filter {
    words: Vec<String>,
    max_cost: Option<i64>,
}

impl Filter {
    fn of(form: &HashMap<String, String>) -> Filter {
        let typed = form.get("mots").map(String::as_str).unwrap_or_default();
        Filter {
            words: fold(typed).split_whitespace().map(str::to_string).collect(),
            max_cost: form.get("cout_max").and_then(|c| proposals::parse_euros(c)),
        }
    }

    fn active(&self) -> bool {
        !self.words.is_empty() || self.max_cost.is_some()
    }

    fn keeps(&self, p: &Project) -> bool {
        let text = fold(&format!("{} {}", p.title, p.description));
        self.words.iter().all(|w| text.contains(w.as_str())) && self.max_cost.is_none_or(|m| p.cost <= m)
    }
}

/// Lower case without French accents: « Ecole » finds « école », « coeur » « cœur ».
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        match c {
            'à' | 'â' | 'ä' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' => out.push('i'),
            'ô' | 'ö' => out.push('o'),
            'ù' | 'û' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            c => out.push(c),
        }
    }
    out
}

struct VotePage<'a> {
    portal: &'a Portal,
    d: &'a Dispositif,
    i: &'a Instance,
    envelopes: Vec<Envelope>,
    projects: Vec<Project>,
    voter: Voter,
}

impl VotePage<'_> {
    /// The vote page: the chosen envelope's projects in this voter's own order, what is in
    /// the basket and what it leaves.
    async fn render(
        &self,
        envelope: Option<Uuid>,
        basket: &Basket,
        form: &HashMap<String, String>,
        mut errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response> {
        let config = Config::of(self.i);
        let typed_cost = form.get("cout_max").map(|c| c.trim()).unwrap_or_default();
        if !typed_cost.is_empty() && proposals::parse_euros(typed_cost).is_none() {
            errors.push("cout_max", "indiquez un montant en euros, par exemple 50 000");
        }
        let envelope = envelope
            .or_else(|| {
                basket
                    .0
                    .first()
                    .and_then(|(id, _)| self.projects.iter().find(|p| p.id == *id).map(|p| p.envelope_id))
            })
            .or_else(|| (self.envelopes.len() == 1).then(|| self.envelopes[0].id));
        let chosen: HashMap<Uuid, i32> = basket.0.iter().copied().collect();
        let filter = Filter::of(form);
        let current = self.envelopes.iter().find(|e| Some(e.id) == envelope);
        let mut here: Vec<&Project> = self
            .projects
            .iter()
            .filter(|p| Some(p.envelope_id) == envelope)
            .collect();
        // One SHA-256 per project, not one per comparison.
        here.sort_by_cached_key(|p| self.voter.order_key(p.id));
        let spent: i64 = here.iter().filter(|p| chosen.contains_key(&p.id)).map(|p| p.cost).sum();
        let points: i32 = chosen.values().sum();
        // Projects the filter hides stay in the basket, as hidden fields.
        let (shown, hidden): (Vec<&&Project>, Vec<&&Project>) = here.iter().partition(|p| filter.keeps(p));
        let card = |p: &Project| {
            minijinja::context! {
                id => p.id.to_string(), title => p.title.clone(), description => p.description.clone(), cost => p.cost,
                chosen => chosen.contains_key(&p.id), weight => chosen.get(&p.id).copied().unwrap_or(0),
            }
        };
        let projects: Vec<Value> = shown.iter().map(|p| card(p)).collect();
        let kept: Vec<Value> = hidden
            .iter()
            .filter(|p| chosen.contains_key(&p.id))
            .map(|p| card(p))
            .collect();
        let total_here = here.len();
        let (kind, total_points, max_per) = match config.method {
            Method::Knapsack { .. } => ("panier", 0, 0),
            Method::Approval { max, .. } => ("approbation", max, 0),
            Method::Points { total, max_per_project } => ("points", total, max_per_project),
        };
        let envelopes: Vec<Value> = self
            .envelopes
            .iter()
            .map(|e| minijinja::context! { id => e.id.to_string(), name => e.name.clone(), amount => e.amount })
            .collect();
        let page = self
            .portal
            .render_form(
                "portal/budget/vote.html",
                "/participer",
                minijinja::context! {
                    d => Serde(self.d), envelopes, projects, kind, total_points, max_per,
                    envelope => current.map(|e| minijinja::context! { id => e.id.to_string(), name => e.name.clone(), amount => e.amount }),
                    spent, left => current.map(|e| e.amount - spent), points, chosen_count => chosen.len(),
                    method => method_text(config.method), rule => rule_text(&config), seed => component::seed(self.d),
                    kept, total_here, filtered => filter.active(),
                    errors => Serde(errors), form => Serde(form), census => self.i.settings.bool(components::CENSUS),
                    conditions => Serde(participe_core::residence::Conditions::of(self.i)),
                },
            )
            .await?;
        Ok((status, page).into_response())
    }
}

/// The vote's gate for the signed-in citizen: the page that says why they cannot vote, or
/// what the page needs.
async fn vote_context<'a>(
    portal: &'a Portal,
    tx: &mut TenantTx,
    d: &'a Dispositif,
    i: &'a Instance,
) -> Result<std::result::Result<VotePage<'a>, Response>> {
    let back = format!("/participer/{}/budget/vote", d.slug);
    let voted = "Vous avez déjà voté pour ce budget : un bulletin déposé est définitif. Votre code de vérification vous permettra de retrouver votre bulletin dans l'urne publiée à la clôture.";
    let voter = match super::ballot_gate(portal, tx, d, i, component::VOTE, &back, voted).await? {
        Ok(v) => v,
        Err(answer) => return Ok(Err(answer)),
    };
    Ok(Ok(VotePage {
        portal,
        d,
        i,
        envelopes: budgets::envelopes(tx, d.id).await?,
        projects: budgets::projects(tx, d.id).await?,
        voter,
    }))
}

async fn vote_page(
    portal: Portal,
    Path(slug): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    let page = match vote_context(&portal, &mut tx, &d, &i).await? {
        Ok(page) => page,
        Err(answer) => return Ok(answer),
    };
    tx.commit().await?;
    let envelope = q
        .get("enveloppe")
        .and_then(|e| page.envelopes.iter().find(|x| x.id.to_string() == *e).map(|x| x.id));
    page.render(envelope, &Basket::default(), &q, FieldErrors::default(), StatusCode::OK)
        .await
}

/// « Mettre à jour » shows the basket again with what it costs and leaves; « Voter »
/// casts it.
async fn vote(
    portal: Portal,
    Path(slug): Path<String>,
    CsrfForm(fields): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    let page = match vote_context(&portal, &mut tx, &d, &i).await? {
        Ok(page) => page,
        Err(answer) => return Ok(answer),
    };
    let config = Config::of(&i);
    let envelope = fields
        .get("enveloppe")
        .and_then(|e| page.envelopes.iter().find(|x| x.id.to_string() == *e).map(|x| x.id));
    let basket = match Basket::from_form(&fields, config.method) {
        Ok(b) => b,
        Err(errors) => {
            return page
                .render(
                    envelope,
                    &Basket::default(),
                    &fields,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
        }
    };
    if fields.get("action").map(String::as_str) != Some("voter") {
        let errors = match budgets::check(config.method, &page.envelopes, &page.projects, &basket) {
            Err(errors) if !basket.0.is_empty() => errors,
            _ => FieldErrors::default(),
        };
        return page.render(envelope, &basket, &fields, errors, StatusCode::OK).await;
    }
    // The envelope voted in is the basket's (all its projects are in one, `budgets::check`).
    let voted_in = basket
        .0
        .first()
        .and_then(|(id, _)| page.projects.iter().find(|p| p.id == *id).map(|p| p.envelope_id))
        .or(envelope);
    let by_envelope =
        participe_core::residence::Conditions::of(&i).residence == participe_core::residence::Residence::Envelope;
    let communes = match voted_in {
        Some(e) if by_envelope => budgets::envelope_communes(&mut tx, d.id, e).await?,
        _ => Vec::new(),
    };
    let voter = match super::eligible_voter(&portal, &mut tx, &d, &i, &fields, &communes, page.voter.clone()).await? {
        Ok(v) => v,
        Err(errors) => {
            drop(tx);
            return page
                .render(envelope, &basket, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
    };
    let box_of = (page.envelopes.as_slice(), page.projects.as_slice());
    match budgets::cast_among(&mut tx, d.id, config.method, &voter, &basket, box_of, Channel::Online).await? {
        Ok(receipt) => {
            tx.commit().await?;
            super::receipt_page(&portal, &d, &receipt).await
        }
        Err(errors) => {
            drop(tx);
            page.render(envelope, &basket, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
    }
}

/// Whether the box may be published: the vote is over (never during it, even with live
/// results: a published box would show who is winning ballot by ballot).
fn box_public(i: &Instance, d: &Dispositif) -> bool {
    let vote = i.phase_dates(component::VOTE_PHASE, d);
    vote.to.is_some_and(|to| to < today())
}

async fn results_page(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    if !component::results_public(&i, &d, today()) {
        return message(
            &portal,
            StatusCode::OK,
            "Résultats à venir",
            "Les résultats seront publiés à la clôture du vote.",
        )
        .await;
    }
    let envelopes = budgets::outcome::explained(&mut tx, d.id, Config::of(&i).rule, &component::seed(&d)).await?;
    let turnout = ballots::turnout(&mut tx, d.id).await?;
    let digest = if box_public(&i, &d) {
        Some(ballots::published(&mut tx, d.id).await?.sha256)
    } else {
        None
    };
    tx.commit().await?;
    let config = Config::of(&i);
    // One Pabulib file per envelope, in the order shown, once the box is public.
    let pabulib: Vec<Value> = if digest.is_some() {
        envelopes
            .iter()
            .enumerate()
            .map(|(n, e)| minijinja::context! { n => n + 1, name => e.name.clone() })
            .collect()
    } else {
        Vec::new()
    };
    let page = portal
        .render(
            "portal/budget/results.html",
            "/participer",
            minijinja::context! {
                d => Serde(&d), envelopes => Serde(envelopes), turnout => Serde(turnout), digest, pabulib,
                rule => rule_text(&config), method => method_text(config.method), seed => component::seed(&d),
            },
        )
        .await?;
    Ok(page.into_response())
}

/// The box after the close: every ballot with its receipt, and the digest, to recount
/// (`docs/recount.md`).
async fn box_json(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    if !box_public(&i, &d) {
        return Err(Error::NotFound);
    }
    let answer = super::published_box(&mut tx, &d).await?;
    tx.commit().await?;
    Ok(answer)
}

/// The budget in the Pabulib format (pabulib.org, the research standard), envelope `n`
/// (from 1) as one `.pb` file, once the box is public: `pabutools` recomputes its winners.
async fn pabulib(portal: Portal, Path((slug, n)): Path<(String, String)>) -> Result<Response> {
    let n: usize = n
        .strip_suffix(".pb")
        .unwrap_or(&n)
        .parse()
        .map_err(|_| Error::NotFound)?;
    let mut tx = portal.begin().await?;
    let (d, i) = budget(&mut tx, &slug).await?;
    if !box_public(&i, &d) {
        return Err(Error::NotFound);
    }
    let config = Config::of(&i);
    let files = budgets::pabulib::export(
        &mut tx,
        d.id,
        config.method,
        config.rule,
        &component::seed(&d),
        &d.title,
    )
    .await?;
    tx.commit().await?;
    let (_, text) = n
        .checked_sub(1)
        .and_then(|k| files.into_iter().nth(k))
        .ok_or(Error::NotFound)?;
    let disposition = format!("attachment; filename=\"{}-{n}.pb\"", d.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}
