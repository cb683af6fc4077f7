//! Open data: what a portal publishes, as rows of public fields only (display names, never
//! addresses or accounts), a page at a time, for the read-only API under `/api/v1/` and
//! its CSV exports. Each query builds its rows as JSON objects in SQL, with the total
//! counted alongside, so that the API, its CSV and its OpenAPI document share one list of
//! fields per resource ([`Resource::fields`]).

use crate::{Result, TenantTx};

/// Rows per page of the API.
pub const PER_PAGE: i64 = 100;
/// Rows in a CSV export at the most.
pub const CSV_MAX: i64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Dispositifs,
    Contributions,
    Comments,
    Events,
    News,
    Documents,
    BudgetProjects,
}

/// A field: its name and JSON type (`string`, `integer`), and whether it may be null.
pub struct Field {
    pub name: &'static str,
    pub kind: &'static str,
    pub format: Option<&'static str>,
    pub nullable: bool,
}

const fn f(name: &'static str, kind: &'static str, format: Option<&'static str>, nullable: bool) -> Field {
    Field {
        name,
        kind,
        format,
        nullable,
    }
}

const UUID: Option<&str> = Some("uuid");
const TIME: Option<&str> = Some("date-time");
const DATE: Option<&str> = Some("date");

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::Dispositifs,
        Resource::Contributions,
        Resource::Comments,
        Resource::Events,
        Resource::News,
        Resource::Documents,
        Resource::BudgetProjects,
    ];

    /// The path segment: `/api/v1/<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Dispositifs => "dispositifs",
            Resource::Contributions => "contributions",
            Resource::Comments => "commentaires",
            Resource::Events => "rencontres",
            Resource::News => "actualites",
            Resource::Documents => "documents",
            Resource::BudgetProjects => "projets-budget",
        }
    }

    pub fn parse(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn title(self) -> &'static str {
        match self {
            Resource::Dispositifs => "Dispositifs de participation publiés",
            Resource::Contributions => "Contributions publiées",
            Resource::Comments => "Commentaires publiés",
            Resource::Events => "Rencontres de l'agenda",
            Resource::News => "Actualités publiées",
            Resource::Documents => "Documents publiés",
            Resource::BudgetProjects => "Projets des budgets participatifs",
        }
    }

    /// The fields of a row, in order (the CSV's columns).
    pub fn fields(self) -> &'static [Field] {
        match self {
            Resource::Dispositifs => DISPOSITIF_FIELDS,
            Resource::Contributions => CONTRIBUTION_FIELDS,
            Resource::Comments => COMMENT_FIELDS,
            Resource::Events => EVENT_FIELDS,
            Resource::News => NEWS_FIELDS,
            Resource::Documents => DOCUMENT_FIELDS,
            Resource::BudgetProjects => BUDGET_PROJECT_FIELDS,
        }
    }
}

const DISPOSITIF_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("slug", "string", None, false),
    f("type", "string", None, false),
    f("titre", "string", None, false),
    f("resume", "string", None, false),
    f("ouverture", "string", DATE, true),
    f("cloture", "string", DATE, true),
    f("statut", "string", None, false),
];

const CONTRIBUTION_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("dispositif", "string", None, false),
    f("theme", "string", None, true),
    f("titre", "string", None, false),
    f("texte", "string", None, false),
    f("auteur", "string", None, true),
    f("publiee_le", "string", TIME, false),
    f("commentaires", "integer", None, false),
];

const COMMENT_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("contribution", "string", UUID, false),
    f("en_reponse_a", "string", UUID, true),
    f("texte", "string", None, false),
    f("auteur", "string", None, true),
    f("publie_le", "string", TIME, false),
];

const EVENT_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("type", "string", None, false),
    f("titre", "string", None, false),
    f("description", "string", None, false),
    f("debut", "string", TIME, false),
    f("fin", "string", TIME, false),
    f("lieu", "string", None, false),
    f("lien", "string", None, true),
    f("dispositif", "string", None, true),
    f("places", "integer", None, true),
    f("annulee", "boolean", None, false),
];

const NEWS_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("titre", "string", None, false),
    f("chapeau", "string", None, false),
    f("texte", "string", None, false),
    f("publiee_le", "string", TIME, false),
    f("dispositif", "string", None, true),
];

const DOCUMENT_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("titre", "string", None, false),
    f("description", "string", None, false),
    f("type", "string", None, false),
    f("date", "string", DATE, false),
    f("format", "string", None, false),
    f("taille", "integer", None, false),
    f("dispositif", "string", None, true),
    f("rencontre", "string", UUID, true),
];

const BUDGET_PROJECT_FIELDS: &[Field] = &[
    f("id", "string", UUID, false),
    f("dispositif", "string", None, false),
    f("enveloppe", "string", None, false),
    f("titre", "string", None, false),
    f("description", "string", None, false),
    f("lieu", "string", None, false),
    f("cout", "integer", None, false),
    f("statut", "string", None, false),
    f("explication", "string", None, false),
];

/// A row as every query below selects it, with the total of the whole list.
struct Row {
    row: serde_json::Value,
    total: i64,
}

/// A page of rows (`limit` from `offset`) and the total.
pub async fn rows(tx: &mut TenantTx, r: Resource, limit: i64, offset: i64) -> Result<(Vec<serde_json::Value>, i64)> {
    let out: Vec<Row> =
        match r {
            Resource::Dispositifs => {
                sqlx::query_as!(
                    Row,
                    r#"select json_build_object('id', id, 'slug', slug, 'type', kind, 'titre', title, 'resume', summary,
                      'ouverture', opens_on, 'cloture', closes_on, 'statut', status) as "row!",
                      count(*) over () as "total!"
                 from dispositif where status in ('publie', 'archive')
                order by created_at, id limit $1 offset $2"#,
                    limit,
                    offset
                )
                .fetch_all(tx.conn())
                .await?
            }
            Resource::Contributions => {
                sqlx::query_as!(
                    Row,
                    r#"select json_build_object('id', c.id, 'dispositif', d.slug, 'theme', t.name, 'titre', c.title,
                      'texte', c.body, 'auteur', z.display_name, 'publiee_le', c.created_at,
                      'commentaires', c.comment_count) as "row!",
                      count(*) over () as "total!"
                 from contribution c join dispositif d on d.id = c.dispositif_id
                 left join dispositif_theme t on t.id = c.theme_id
                 left join citizen z on z.id = c.author_id
                where c.state = 'publie' and d.status in ('publie', 'archive')
                order by c.created_at, c.id limit $1 offset $2"#,
                    limit,
                    offset
                )
                .fetch_all(tx.conn())
                .await?
            }
            Resource::Comments => sqlx::query_as!(
                Row,
                r#"select json_build_object('id', m.id, 'contribution', m.contribution_id, 'en_reponse_a', m.parent_id,
                      'texte', m.body, 'auteur', z.display_name, 'publie_le', m.created_at) as "row!",
                      count(*) over () as "total!"
                 from comment m join contribution c on c.id = m.contribution_id
                 join dispositif d on d.id = c.dispositif_id
                 left join citizen z on z.id = m.author_id
                where m.state = 'publie' and c.state = 'publie' and d.status in ('publie', 'archive')
                order by m.created_at, m.id limit $1 offset $2"#,
                limit,
                offset
            )
            .fetch_all(tx.conn())
            .await?,
            Resource::Events => sqlx::query_as!(
                Row,
                r#"select json_build_object('id', e.id, 'type', e.kind, 'titre', e.title, 'description', e.description,
                      'debut', e.starts_at, 'fin', e.ends_at, 'lieu', e.place, 'lien', e.online_url,
                      'dispositif', d.slug, 'places', e.capacity, 'annulee', e.status = 'annule') as "row!",
                      count(*) over () as "total!"
                 from event e left join dispositif d on d.id = e.dispositif_id and d.status in ('publie', 'archive')
                where e.status <> 'brouillon'
                order by e.starts_at, e.id limit $1 offset $2"#,
                limit,
                offset
            )
            .fetch_all(tx.conn())
            .await?,
            Resource::News => {
                sqlx::query_as!(
                    Row,
                    r#"select json_build_object('id', n.id, 'titre', n.title, 'chapeau', n.summary, 'texte', n.body,
                      'publiee_le', n.published_at, 'dispositif', d.slug) as "row!",
                      count(*) over () as "total!"
                 from news n left join dispositif d on d.id = n.dispositif_id and d.status in ('publie', 'archive')
                where n.published_at <= now()
                order by n.published_at, n.id limit $1 offset $2"#,
                    limit,
                    offset
                )
                .fetch_all(tx.conn())
                .await?
            }
            Resource::Documents => {
                sqlx::query_as!(
                    Row,
                    r#"select json_build_object('id', doc.id, 'titre', doc.title, 'description', doc.description,
                      'type', doc.category, 'date', doc.document_date, 'format', doc.content_type,
                      'taille', doc.size_bytes, 'dispositif', d.slug, 'rencontre', e.id) as "row!",
                      count(*) over () as "total!"
                 from document doc
                 left join dispositif d on d.id = doc.dispositif_id and d.status in ('publie', 'archive')
                 left join event e on e.id = doc.event_id and e.status <> 'brouillon'
                where doc.published
                order by doc.document_date, doc.id limit $1 offset $2"#,
                    limit,
                    offset
                )
                .fetch_all(tx.conn())
                .await?
            }
            Resource::BudgetProjects => {
                sqlx::query_as!(
                    Row,
                    r#"select json_build_object('id', p.id, 'dispositif', d.slug, 'enveloppe', e.name, 'titre', p.title,
                      'description', p.description, 'lieu', p.place, 'cout', p.cost,
                      'statut', case when p.feasibility = 'faisable' then 'soumis_au_vote' else 'non_realisable' end,
                      'explication', p.explanation) as "row!",
                      count(*) over () as "total!"
                 from budget_project p join budget_envelope e on e.id = p.envelope_id
                 join dispositif d on d.id = p.dispositif_id and d.status in ('publie', 'archive')
                where p.published and p.merged_into is null and p.feasibility is not null
                  and exists (select 1 from dispositif_component c where c.dispositif_id = d.id
                               and c.component = 'budget' and c.published and c.removed_at is null)
                order by d.slug, e.position, p.title, p.id limit $1 offset $2"#,
                    limit,
                    offset
                )
                .fetch_all(tx.conn())
                .await?
            }
        };
    let total = out.first().map_or(0, |r| r.total);
    Ok((out.into_iter().map(|r| r.row).collect(), total))
}
