//! Contributions to a call, their comments and replies, and reports — what a citizen
//! writes on the portal. Everything is published at once (a-posteriori moderation); the
//! rules (who may post, edit window, thresholds) live in `participe_core::participation`.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use participe_core::citizens::Citizen;
use participe_core::components::{self, Instance, Who, contributions};
use participe_core::dispositifs::{self, Dispositif};
use participe_core::participation::{self as p, ContributionInput, Reason, Refusal, Reported, Sort, Target};
use participe_core::{FieldErrors, TenantTx, site};
use participe_web::csrf::{self, CsrfForm};
use participe_web::kit::{Checked, parse_id};
use participe_web::{Error, Result};
use uuid::Uuid;

use crate::Portal;
use crate::kit::{form_page, message};

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// A published or archived dispositif by its address, with its contributions component.
async fn call(tx: &mut TenantTx, slug: &str) -> Result<(Dispositif, Instance)> {
    let d = dispositifs::public_by_slug(tx, slug).await?.ok_or(Error::NotFound)?;
    let instance = components::shown_one(tx, d.id, contributions::MANIFEST.key)
        .await?
        .ok_or(Error::NotFound)?;
    Ok((d, instance))
}

/// Whether `action` of the call is open today (its phase, the dispositif and the component
/// published); comments also need the component's setting.
fn is_open(d: &Dispositif, instance: &Instance, action: &str) -> bool {
    let Some(a) = instance.manifest.action(action) else {
        return false;
    };
    let comments = action != contributions::COMMENT || instance.settings.bool(contributions::COMMENTS);
    comments && instance.is_open(a, d, today())
}

/// The contribution `id` of dispositif `d`: one of another dispositif (or tenant) is a
/// page that does not exist.
async fn contribution_in(tx: &mut TenantTx, d: &Dispositif, id: Uuid) -> Result<p::Contribution> {
    p::contribution(tx, id)
        .await?
        .filter(|c| c.dispositif_id == d.id)
        .ok_or(Error::NotFound)
}

/// The signed-in citizen if they may do `action` now; otherwise the answer that says why
/// (sign in, a verified identity staff require, accept the new charter, confirm the
/// address, blocked).
pub(crate) async fn poster(
    portal: &Portal,
    tx: &mut TenantTx,
    instance: &Instance,
    action: &str,
    back: &str,
) -> Result<std::result::Result<Citizen, Response>> {
    let citizen = portal.citizen(back)?.clone();
    let needs_verified = instance
        .manifest
        .action(action)
        .is_some_and(|a| instance.who(a) == Who::VerifiedCitizen);
    if needs_verified && !citizen.identity_verified {
        let text = "Pour cette action, le portail demande une identité vérifiée : connectez-vous avec FranceConnect (ou le fournisseur d'identité proposé), qui relie votre compte à votre identité.";
        return Ok(Err(message(
            portal,
            StatusCode::FORBIDDEN,
            "Identité vérifiée requise",
            text,
        )
        .await?));
    }
    if portal.tenant.read_only {
        let text = "Ce portail est en consultation seule pour le moment : il n'accepte ni contribution, ni commentaire, ni signalement.";
        return Ok(Err(message(
            portal,
            StatusCode::FORBIDDEN,
            "Publication impossible",
            text,
        )
        .await?));
    }
    let charter = site::current_charter_version(tx).await?;
    match p::may_post(&citizen, charter) {
        Ok(()) => Ok(Ok(citizen)),
        Err(Refusal::Charter(_)) => Ok(Err(Redirect::to(&format!(
            "/charte?{}",
            participe_web::session::next_query(back)
        ))
        .into_response())),
        Err(refusal) => Ok(Err(message(
            portal,
            StatusCode::FORBIDDEN,
            "Publication impossible",
            &refusal.message(),
        )
        .await?)),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    theme: String,
    tri: String,
    page: String,
}

impl ListQuery {
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Self {
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        ListQuery {
            theme: get("theme"),
            tri: get("tri"),
            page: get("page"),
        }
    }
}

/// The page numbers to offer: all when few, else the first, last and those around.
fn pager(page: i64, pages: i64) -> Vec<i64> {
    (1..=pages)
        .filter(|&n| pages <= 9 || n == 1 || n == pages || (n - page).abs() <= 2)
        .collect()
}

/// The contribution list of a call, shown on its dispositif page.
pub async fn call_section(
    portal: &Portal,
    tx: &mut TenantTx,
    d: &Dispositif,
    instance: &Instance,
    q: &ListQuery,
) -> Result<minijinja::Value> {
    let themes = p::themes(tx, d.id).await?;
    let theme = themes.iter().find(|t| t.id.to_string() == q.theme).map(|t| t.id);
    let sort = Sort::parse(&q.tri);
    let page = participe_web::kit::page_number(&q.page, 100_000);
    let (items, total) = p::list(tx, d.id, theme, sort, page).await?;
    let pages = ((total + p::PER_PAGE - 1) / p::PER_PAGE).max(1);
    let open = is_open(d, instance, contributions::CONTRIBUTE);
    let verified_only = contributions::MANIFEST
        .action(contributions::CONTRIBUTE)
        .is_some_and(|a| instance.who(a) == Who::VerifiedCitizen);
    Ok(minijinja::context! {
        themes => Serde(themes), theme => theme.map(|t| t.to_string()).unwrap_or_default(),
        sort => sort.as_str(), page, pages, pager => pager(page, pages), total,
        items => Serde(items), open, signed_in => portal.citizen.is_some(), verified_only,
    })
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ContributionForm {
    title: String,
    body: String,
    theme: String,
}

/// The call a contribution form belongs to: what checking the form needs, and what showing
/// it again with its errors needs (create and edit share both).
struct ContributionFormContext<'a> {
    portal: &'a Portal,
    d: &'a Dispositif,
    instance: &'a Instance,
    themes: Vec<p::Theme>,
    editing: Option<Uuid>,
}

impl ContributionFormContext<'_> {
    async fn page(&self, form: &ContributionForm, errors: FieldErrors, status: StatusCode) -> Result<Response> {
        let themes: Vec<minijinja::Value> = self
            .themes
            .iter()
            .map(|t| minijinja::context! { value => t.id.to_string(), label => t.name.clone() })
            .collect();
        form_page(
            self.portal,
            "portal/contribution_form.html",
            form,
            errors,
            status,
            minijinja::context! { d => Serde(self.d), themes, editing => self.editing.map(|id| id.to_string()),
            title_max => p::TITLE_MAX, body_max => p::BODY_MAX },
        )
        .await
    }

    /// The contribution typed, if the call is open and every field is right; else what is
    /// wrong and the status to answer with.
    fn check(&self, form: &ContributionForm) -> std::result::Result<ContributionInput, (FieldErrors, StatusCode)> {
        if !is_open(self.d, self.instance, contributions::CONTRIBUTE) {
            return Err((
                FieldErrors::one("body", Refusal::Closed.message()),
                StatusCode::CONFLICT,
            ));
        }
        ContributionInput::parse(&form.title, &form.body, &form.theme, &self.themes)
            .map_err(|errors| (errors, StatusCode::UNPROCESSABLE_ENTITY))
    }
}

pub async fn new_form(portal: Portal, Path(slug): Path<String>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, &slug).await?;
    let back = format!("/participer/{slug}/contribuer");
    if !is_open(&d, &instance, contributions::CONTRIBUTE) {
        return message(&portal, StatusCode::CONFLICT, "Appel clos", &Refusal::Closed.message()).await;
    }
    if let Err(answer) = poster(&portal, &mut tx, &instance, contributions::CONTRIBUTE, &back).await? {
        return Ok(answer);
    }
    let ctx = ContributionFormContext {
        portal: &portal,
        d: &d,
        instance: &instance,
        themes: p::themes(&mut tx, d.id).await?,
        editing: None,
    };
    tx.commit().await?;
    ctx.page(&ContributionForm::default(), FieldErrors::default(), StatusCode::OK)
        .await
}

pub async fn create(
    portal: Portal,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<ContributionForm>,
) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, &slug).await?;
    let back = format!("/participer/{slug}/contribuer");
    let citizen = match poster(&portal, &mut tx, &instance, contributions::CONTRIBUTE, &back).await? {
        Ok(c) => c,
        Err(answer) => return Ok(answer),
    };
    let ctx = ContributionFormContext {
        portal: &portal,
        d: &d,
        instance: &instance,
        themes: p::themes(&mut tx, d.id).await?,
        editing: None,
    };
    let input = match ctx.check(&form) {
        Ok(i) => i,
        Err((errors, status)) => return ctx.page(&form, errors, status).await,
    };
    let id = p::create_contribution(&mut tx, d.id, citizen.id, &input).await?;
    tx.commit().await?;
    portal
        .flash("Votre contribution est publiée. Merci de votre participation !")
        .await?;
    Ok(Redirect::to(&format!("/participer/{slug}/contributions/{id}")).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: String,
}

pub async fn show(
    portal: Portal,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    Ok(portal
        .cache_shared(|| contribution_page(&portal, &slug, id, &q))
        .await?
        .into_response())
}

async fn contribution_page(portal: &Portal, slug: &str, id: Uuid, q: &PageQuery) -> Result<Html<String>> {
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, slug).await?;
    let c = contribution_in(&mut tx, &d, id).await?;
    let page = participe_web::kit::page_number(&q.page, 100_000);
    let (comments, top_level) = p::comments(&mut tx, id, page).await?;
    tx.commit().await?;
    let pages = ((top_level + p::COMMENTS_PER_PAGE - 1) / p::COMMENTS_PER_PAGE).max(1);
    // Their authors see their own buttons: the page is theirs alone.
    portal.shows_authors(
        std::iter::once(c.author_id).chain(
            comments
                .iter()
                .flat_map(|m| std::iter::once(m.author_id).chain(m.replies.iter().map(|r| r.author_id))),
        ),
    );
    let me = portal.me();
    let now = time::OffsetDateTime::now_utc();
    portal
        .render(
            "portal/contribution.html",
            "/participer",
            minijinja::context! {
                d => Serde(&d), c => Serde(&c), comments => Serde(comments), page, pages,
                pager => pager(page, pages),
                open => is_open(&d, &instance, contributions::COMMENT) && c.is_visible(),
                mine => me.is_some() && c.author_id == me,
                editable => me.is_some_and(|m| c.editable_by(m, now)),
                me => me.map(|m| m.to_string()),
                comment_max => p::COMMENT_MAX,
                share_title => c.is_visible().then(|| c.title.clone()),
                page_description => c.is_visible().then(|| crate::kit::description_of(&c.body)),
            },
        )
        .await
}

pub async fn edit_form(portal: Portal, Path((slug, id)): Path<(String, String)>) -> Result<Response> {
    let id = parse_id(&id)?;
    let back = format!("/participer/{slug}/contributions/{id}/modifier");
    let me = portal.citizen(&back)?.id;
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, &slug).await?;
    let c = contribution_in(&mut tx, &d, id).await?;
    if c.author_id != Some(me) {
        return Err(Error::NotFound);
    }
    if !c.editable_by(me, time::OffsetDateTime::now_utc()) {
        return message(&portal, StatusCode::CONFLICT, "Modification impossible", "Une contribution peut être modifiée pendant 15 minutes après sa publication. Vous pouvez toujours la supprimer.").await;
    }
    let (title, body, theme) = p::own_contribution_text(&mut tx, id, me)
        .await?
        .ok_or(Error::NotFound)?;
    let ctx = ContributionFormContext {
        portal: &portal,
        d: &d,
        instance: &instance,
        themes: p::themes(&mut tx, d.id).await?,
        editing: Some(id),
    };
    tx.commit().await?;
    let form = ContributionForm {
        title,
        body,
        theme: theme.map(|t| t.to_string()).unwrap_or_default(),
    };
    ctx.page(&form, FieldErrors::default(), StatusCode::OK).await
}

pub async fn edit(
    portal: Portal,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ContributionForm>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let back = format!("/participer/{slug}/contributions/{id}/modifier");
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, &slug).await?;
    let citizen = match poster(&portal, &mut tx, &instance, contributions::CONTRIBUTE, &back).await? {
        Ok(c) => c,
        Err(answer) => return Ok(answer),
    };
    let c = contribution_in(&mut tx, &d, id).await?;
    if c.author_id != Some(citizen.id) {
        return Err(Error::NotFound);
    }
    let ctx = ContributionFormContext {
        portal: &portal,
        d: &d,
        instance: &instance,
        themes: p::themes(&mut tx, d.id).await?,
        editing: Some(id),
    };
    let input = match ctx.check(&form) {
        Ok(i) => i,
        Err((errors, status)) => return ctx.page(&form, errors, status).await,
    };
    match p::edit_contribution(&mut tx, id, citizen.id, &input).await.checked()? {
        Ok(()) => {}
        Err(errors) => {
            drop(tx);
            return ctx.page(&form, errors, StatusCode::CONFLICT).await;
        }
    }
    tx.commit().await?;
    portal.flash("Votre contribution est modifiée.").await?;
    Ok(Redirect::to(&format!("/participer/{slug}/contributions/{id}")).into_response())
}

pub async fn delete(
    portal: Portal,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let me = portal.citizen(&format!("/participer/{slug}/contributions/{id}"))?.id;
    let mut tx = portal.begin().await?;
    let (d, _) = call(&mut tx, &slug).await?;
    contribution_in(&mut tx, &d, id).await?;
    p::delete_contribution(&mut tx, id, me).await?;
    tx.commit().await?;
    portal.flash("Votre contribution est supprimée.").await?;
    Ok(Redirect::to(&format!("/participer/{slug}")).into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CommentForm {
    body: String,
    parent: String,
}

pub async fn comment(
    portal: Portal,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let page = format!("/participer/{slug}/contributions/{id}");
    let mut tx = portal.begin().await?;
    let (d, instance) = call(&mut tx, &slug).await?;
    let citizen = match poster(&portal, &mut tx, &instance, contributions::COMMENT, &page).await? {
        Ok(c) => c,
        Err(answer) => return Ok(answer),
    };
    contribution_in(&mut tx, &d, id).await?;
    let parent = match form.parent.as_str() {
        "" => None,
        s => Some(parse_id(s)?),
    };
    let refuse = |errors: FieldErrors, status| {
        let form = &form;
        let d = &d;
        let portal = &portal;
        async move {
            form_page(
                portal,
                "portal/comment_form.html",
                form,
                errors,
                status,
                minijinja::context! { d => Serde(d), contribution_id => id.to_string(), comment_max => p::COMMENT_MAX },
            )
            .await
        }
    };
    if !is_open(&d, &instance, contributions::COMMENT) {
        return refuse(
            FieldErrors::one("body", Refusal::Closed.message()),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let body = match p::parse_text(&form.body, p::COMMENT_MAX, "le commentaire") {
        Ok(b) => b,
        Err(e) => return refuse(FieldErrors::one("body", e.0), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let comment = match p::add_comment(&mut tx, id, parent, citizen.id, &body).await.checked()? {
        Ok(cid) => cid,
        Err(errors) => {
            drop(tx);
            return refuse(errors, StatusCode::CONFLICT).await;
        }
    };
    tx.commit().await?;
    portal.flash("Votre commentaire est publié.").await?;
    Ok(Redirect::to(&format!("{page}#commentaire-{comment}")).into_response())
}

pub async fn delete_comment(
    portal: Portal,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<csrf::Empty>,
) -> Result<Response> {
    let id = parse_id(&id)?;
    let me = portal.citizen(&format!("/participer/{slug}"))?.id;
    let mut tx = portal.begin().await?;
    let (d, _) = call(&mut tx, &slug).await?;
    let contribution = p::contribution_of(&mut tx, Target::Comment(id))
        .await?
        .ok_or(Error::NotFound)?;
    let c = p::contribution(&mut tx, contribution).await?.ok_or(Error::NotFound)?;
    if c.dispositif_id != d.id {
        return Err(Error::NotFound);
    }
    p::delete_comment(&mut tx, id, me).await?;
    tx.commit().await?;
    portal.flash("Votre commentaire est supprimé.").await?;
    Ok(Redirect::to(&format!("/participer/{slug}/contributions/{contribution}")).into_response())
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ReportForm {
    reason: String,
    detail: String,
}

fn reasons() -> Vec<minijinja::Value> {
    Reason::ALL
        .iter()
        .map(|r| minijinja::context! { value => r.as_str(), label => r.label() })
        .collect()
}

/// The report form's page, with the place to go back to (the contribution).
async fn report_page(
    portal: &Portal,
    target: Target,
    back: &str,
    form: ReportForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    form_page(
        portal,
        "portal/report.html",
        form,
        errors,
        status,
        minijinja::context! { kind => target.kind(), id => target.id().to_string(), back, reasons => reasons() },
    )
    .await
}

/// Where a target lives on the portal, if it belongs to a public call of this tenant.
async fn target_page(tx: &mut TenantTx, target: Target) -> Result<String> {
    let contribution = p::contribution_of(tx, target).await?.ok_or(Error::NotFound)?;
    let c = p::contribution(tx, contribution).await?.ok_or(Error::NotFound)?;
    let d = dispositifs::by_id(tx, c.dispositif_id).await?.ok_or(Error::NotFound)?;
    if d.status == participe_core::dispositifs::Status::Brouillon {
        return Err(Error::NotFound);
    }
    Ok(format!("/participer/{}/contributions/{contribution}", d.slug))
}

pub async fn report_form(portal: Portal, Path((kind, id)): Path<(String, String)>) -> Result<Response> {
    let target = Target::parse(&kind, &id).ok_or(Error::NotFound)?;
    portal.citizen(&format!("/signaler/{kind}/{id}"))?;
    let mut tx = portal.begin().await?;
    let back = target_page(&mut tx, target).await?;
    tx.commit().await?;
    report_page(
        &portal,
        target,
        &back,
        ReportForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn report(
    portal: Portal,
    Path((kind, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ReportForm>,
) -> Result<Response> {
    let target = Target::parse(&kind, &id).ok_or(Error::NotFound)?;
    let me = portal.citizen(&format!("/signaler/{kind}/{id}"))?.clone();
    let mut tx = portal.begin().await?;
    let back = target_page(&mut tx, target).await?;
    let reason = match form.reason.parse::<Reason>() {
        Ok(r) => r,
        Err(e) => {
            return report_page(
                &portal,
                target,
                &back,
                form,
                FieldErrors::one("reason", e.0),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let threshold = site::settings(&mut tx).await?.autohide_threshold;
    let outcome = match p::report(&mut tx, target, me.id, reason, &form.detail, threshold)
        .await
        .checked()?
    {
        Ok(o) => o,
        Err(errors) => {
            drop(tx);
            return report_page(&portal, target, &back, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    tx.commit().await?;
    portal
        .flash(match outcome {
            Reported::Recorded { .. } => "Merci : votre signalement est transmis à l'équipe de modération.",
            Reported::AlreadyReported => "Vous avez déjà signalé ce contenu : l'équipe de modération en est informée.",
        })
        .await?;
    Ok(Redirect::to(&back).into_response())
}

/// The latest ready « livret d'expression » of a call: `pdf`, `csv` or `json`.
pub async fn booklet(portal: Portal, Path((slug, format)): Path<(String, String)>) -> Result<Response> {
    let mut tx = portal.begin().await?;
    // A call's booklet, or a budget's.
    let d = match call(&mut tx, &slug).await {
        Ok((d, _)) => d,
        Err(Error::NotFound) => {
            let key = participe_core::components::budget::MANIFEST.key;
            crate::components::hosting(&mut tx, &slug, key).await?.0
        }
        Err(e) => return Err(e),
    };
    let b = participe_core::booklets::latest_ready(&mut tx, d.id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    participe_web::booklet_file::serve(&portal.app.storage, &b, &format).await
}

#[cfg(test)]
mod tests {
    use super::pager;

    #[test]
    fn the_pager_keeps_the_ends_and_the_neighbourhood() {
        assert_eq!(pager(1, 3), vec![1, 2, 3]);
        assert_eq!(pager(10, 50), vec![1, 8, 9, 10, 11, 12, 50]);
    }
}
