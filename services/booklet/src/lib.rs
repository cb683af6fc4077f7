//! The « livret d'expression » of a call for contributions: every published contribution,
//! grouped by theme, with counts, dates and authors' display names (moderated and hidden
//! ones left out), as a PDF, a CSV and a JSON file in the storage. Made by the `booklet`
//! job: it reads the contributions a batch at a time and records its progress between
//! batches (in transactions of their own, so staff see it move), then stores the three
//! files under `tenants/<id>/booklets/` (so tenant archives carry them) and marks the
//! booklet ready. A failure is recorded on the booklet for staff, and the job retried.
//!
//! A dispositif with a budget participatif adds its projects after the contributions:
//! published projects envelope by envelope, with their authors, place, cost, study and,
//! once the results are public, their votes and result.

pub mod pdf;

use participe_core::booklets::{self, Entry};
use participe_core::csv_sheet::CsvSheet;
use participe_core::domain::local_time;
use participe_core::fleet::registry;
use participe_core::{Tenant, TenantTx, dispositifs};
use participe_storage::Storage;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::pdf::{Style, Writer};

/// A budget's project as the booklet prints it.
#[derive(Debug, serde::Serialize)]
struct Project {
    envelope: String,
    title: String,
    authors: Vec<String>,
    place: String,
    cost: i64,
    stage: &'static str,
    /// Staff's public explanation of their study.
    explanation: String,
    description: String,
    /// Once the results are public.
    votes: Option<i64>,
    selected: Option<bool>,
}

/// The published projects of the dispositif's budget, if it hosts one.
async fn budget_projects(tx: &mut TenantTx, d: &dispositifs::Dispositif) -> Result<Vec<Project>, Failed> {
    use participe_core::budgets::{outcome, proposals};
    use participe_core::components::{self, budget};
    let Some(i) = components::shown_one(tx, d.id, budget::MANIFEST.key).await? else {
        return Ok(Vec::new());
    };
    let today = OffsetDateTime::now_utc().date();
    let results: std::collections::HashMap<Uuid, (i64, bool)> = if budget::results_public(&i, d, today) {
        outcome::explained(tx, d.id, budget::Config::of(&i).rule, &budget::seed(d))
            .await?
            .into_iter()
            .flat_map(|e| e.lines)
            .map(|l| (l.id, (l.votes, l.selected)))
            .collect()
    } else {
        Default::default()
    };
    Ok(proposals::list(tx, d.id, proposals::Shown::Public)
        .await?
        .into_iter()
        .map(|p| {
            let result = results.get(&p.id).copied();
            Project {
                stage: p.stage().label(),
                envelope: p.envelope,
                title: p.title,
                authors: p.authors,
                place: p.place,
                cost: p.cost,
                explanation: p.explanation,
                description: p.description,
                votes: result.map(|r| r.0),
                selected: result.map(|r| r.1),
            }
        })
        .collect())
}

/// Contributions read per batch (and progress step).
const BATCH: i64 = 200;

#[derive(Debug)]
pub struct Failed(pub String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<participe_core::Error> for Failed {
    fn from(e: participe_core::Error) -> Self {
        Failed(e.to_string())
    }
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Failed(e.to_string())
    }
}

/// Runs the `booklet` job. On its last attempt a failure is recorded on the booklet.
pub async fn run(
    pool: &PgPool,
    storage: &Storage,
    tenant_id: Uuid,
    booklet: Uuid,
    last_attempt: bool,
) -> Result<(), Failed> {
    let Some(tenant) = registry::find_by_id(pool, tenant_id).await? else {
        return Ok(());
    };
    match make(pool, storage, &tenant, booklet).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if last_attempt {
                let mut tx = TenantTx::begin(pool, &tenant).await?;
                booklets::fail(&mut tx, booklet, &e.0).await?;
                tx.commit().await?;
            }
            Err(e)
        }
    }
}

/// The contributions of one theme.
struct Section<'a> {
    theme: &'a str,
    entries: Vec<&'a Entry>,
}

fn sections(entries: &[Entry]) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    for e in entries {
        match out.last_mut() {
            Some(s) if s.theme == e.theme => s.entries.push(e),
            _ => out.push(Section {
                theme: &e.theme,
                entries: vec![e],
            }),
        }
    }
    out
}

fn theme_name(theme: &str) -> &str {
    if theme.is_empty() { "Sans thème" } else { theme }
}

async fn make(pool: &PgPool, storage: &Storage, tenant: &Tenant, id: Uuid) -> Result<(), Failed> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let Some(booklet) = booklets::by_id(&mut tx, id).await? else {
        return Ok(());
    };
    if booklet.status == "pret" {
        return Ok(());
    }
    let d = dispositifs::by_id(&mut tx, booklet.dispositif_id)
        .await?
        .ok_or_else(|| Failed("the call no longer exists".into()))?;
    let total = booklets::count(&mut tx, d.id).await?;
    booklets::start(&mut tx, id, i32::try_from(total).unwrap_or(i32::MAX)).await?;
    tx.commit().await?;

    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let after = entries.last().map(|e| (e.theme_position, e.created_at, e.id));
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let batch = booklets::entries(&mut tx, d.id, after, BATCH).await?;
        let last = (batch.len() as i64) < BATCH;
        entries.extend(batch);
        booklets::progress(&mut tx, id, i32::try_from(entries.len()).unwrap_or(i32::MAX)).await?;
        tx.commit().await?;
        if last {
            break;
        }
    }

    let (site, projects) = {
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let settings = participe_core::site::branding(&mut tx).await?;
        let projects = budget_projects(&mut tx, &d).await?;
        tx.commit().await?;
        (settings.display_name.unwrap_or_else(|| tenant.name.clone()), projects)
    };
    let made_at = OffsetDateTime::now_utc();
    let groups = sections(&entries);
    let pdf = render_pdf(&site, &d.title, &groups, entries.len(), &projects, made_at).map_err(Failed)?;
    let csv = render_csv(&entries, &projects);
    let json = render_json(&site, &d.title, &groups, entries.len(), &projects, made_at);

    let folder = format!("tenants/{}/booklets/{id}", tenant.id);
    let keys = [
        format!("{folder}.pdf"),
        format!("{folder}.csv"),
        format!("{folder}.json"),
    ];
    for (key, bytes) in keys.iter().zip([&pdf, &csv, &json]) {
        storage
            .put(key, bytes)
            .await
            .map_err(|e| Failed(format!("storing {key}: {e}")))?;
    }
    let mut tx = TenantTx::begin(pool, tenant).await?;
    booklets::finish(
        &mut tx,
        id,
        [&keys[0], &keys[1], &keys[2]],
        i32::try_from(entries.len()).unwrap_or(i32::MAX),
        i32::try_from(groups.len()).unwrap_or(i32::MAX),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant.slug, booklet = %id, contributions = entries.len(), "booklet ready");
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n <= 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn render_pdf(
    site: &str,
    call: &str,
    groups: &[Section<'_>],
    count: usize,
    projects: &[Project],
    made_at: OffsetDateTime,
) -> Result<Vec<u8>, String> {
    let title = format!("Livret d'expression — {call}");
    let mut w = Writer::new(&title);
    w.space(120.0);
    w.paragraph("Livret d'expression", Style::Title);
    w.space(10.0);
    w.paragraph(call, Style::Heading);
    w.space(6.0);
    w.paragraph(site, Style::Body);
    w.space(24.0);
    if count > 0 || projects.is_empty() {
        w.paragraph(
            &format!(
                "{} en {}, compilées le {}. Chaque contribution publiée figure ici, avec le nom affiché \
                 de son auteur ou autrice et sa date ; les contributions modérées ou masquées n'y figurent pas.",
                plural(count, "contribution", "contributions"),
                plural(groups.len(), "thème", "thèmes"),
                local_time::day_fr(made_at)
            ),
            Style::Body,
        );
    }
    if let (Some(first), Some(last)) = (
        groups.iter().flat_map(|g| &g.entries).map(|e| e.created_at).min(),
        groups.iter().flat_map(|g| &g.entries).map(|e| e.created_at).max(),
    ) {
        w.paragraph(
            &format!(
                "Contributions déposées du {} au {}.",
                local_time::day_fr(first),
                local_time::day_fr(last)
            ),
            Style::Body,
        );
    }
    if !projects.is_empty() {
        w.paragraph(
            &format!(
                "Le budget participatif y ajoute ses {}, enveloppe par enveloppe.",
                plural(projects.len(), "projet publié", "projets publiés")
            ),
            Style::Body,
        );
    }
    w.space(12.0);
    w.paragraph("Sommaire", Style::Strong);
    for g in groups {
        w.paragraph(
            &format!(
                "{} : {}",
                theme_name(g.theme),
                plural(g.entries.len(), "contribution", "contributions")
            ),
            Style::Body,
        );
    }
    if !projects.is_empty() {
        w.paragraph(
            &format!("Budget participatif : {}", plural(projects.len(), "projet", "projets")),
            Style::Body,
        );
    }
    for g in groups {
        w.new_page();
        w.paragraph(
            &format!(
                "{} ({})",
                theme_name(g.theme),
                plural(g.entries.len(), "contribution", "contributions")
            ),
            Style::Heading,
        );
        w.space(8.0);
        for e in &g.entries {
            w.keep(4, Style::Body);
            w.paragraph(&e.title, Style::Strong);
            w.paragraph(
                &format!(
                    "{}, le {} · {}",
                    e.author,
                    local_time::day_fr(e.created_at),
                    plural(e.comments.max(0) as usize, "commentaire", "commentaires")
                ),
                Style::Small,
            );
            w.space(3.0);
            for para in e.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                w.paragraph(para, Style::Body);
                w.space(3.0);
            }
            w.space(10.0);
        }
    }
    budget_pages(&mut w, projects);
    w.finish()
}

/// The budget's chapter: a heading per envelope, then each project.
fn budget_pages(w: &mut Writer, projects: &[Project]) {
    let mut envelope: Option<&str> = None;
    for p in projects {
        if envelope != Some(p.envelope.as_str()) {
            if envelope.is_none() {
                w.new_page();
                w.paragraph("Budget participatif : les projets", Style::Heading);
                w.space(8.0);
            }
            let here = projects.iter().filter(|q| q.envelope == p.envelope).count();
            w.paragraph(
                &format!("Enveloppe « {} » ({})", p.envelope, plural(here, "projet", "projets")),
                Style::Strong,
            );
            w.space(6.0);
            envelope = Some(&p.envelope);
        }
        w.keep(4, Style::Body);
        w.paragraph(&p.title, Style::Strong);
        let mut line = vec![p.stage.to_string(), participe_core::budgets::euros(p.cost)];
        if !p.authors.is_empty() {
            line.push(format!("proposé par {}", p.authors.join(", ")));
        }
        if !p.place.is_empty() {
            line.push(p.place.clone());
        }
        w.paragraph(&line.join(" · "), Style::Small);
        if let (Some(votes), Some(selected)) = (p.votes, p.selected) {
            w.paragraph(
                &format!(
                    "{} : {}.",
                    if selected { "Retenu" } else { "Non retenu" },
                    plural(votes.max(0) as usize, "voix", "voix")
                ),
                Style::Body,
            );
        }
        if !p.explanation.is_empty() {
            w.paragraph(&format!("Étude des services : {}", p.explanation), Style::Body);
        }
        w.space(3.0);
        for para in p.description.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            w.paragraph(para, Style::Body);
            w.space(3.0);
        }
        w.space(10.0);
    }
}

fn render_csv(entries: &[Entry], projects: &[Project]) -> Vec<u8> {
    let mut sheet = CsvSheet::new(["theme", "titre", "texte", "auteur", "date", "commentaires"]);
    for e in entries {
        let date = e
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        sheet.row([
            theme_name(&e.theme),
            &e.title,
            &e.body,
            &e.author,
            &date,
            &e.comments.to_string(),
        ]);
    }
    // The budget's projects after the contributions, their envelope as their theme.
    for p in projects {
        sheet.row([
            &format!("Budget participatif — {}", p.envelope),
            &p.title,
            &p.description,
            &p.authors.join(", "),
            "",
            "0",
        ]);
    }
    sheet.finish()
}

fn render_json(
    site: &str,
    call: &str,
    groups: &[Section<'_>],
    count: usize,
    projects: &[Project],
    made_at: OffsetDateTime,
) -> Vec<u8> {
    let themes: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "theme": theme_name(g.theme),
                "contributions": g.entries,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "collectivite": site,
        "dispositif": call,
        "genere_le": made_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "contributions": count,
        "licence": "Licence Ouverte 2.0",
        "themes": themes,
        "projets_budget": projects,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}
