//! Components: what a dispositif (a participatory space) hosts — a presentation, calls for
//! contributions, a council's composition, meetings, documents, news, questions… Modelled on
//! Decidim's spaces and components, made typed and checked at start-up.
//!
//! A component is a [`Manifest`] (this crate: what it is, which dispositifs may host it, its
//! typed settings, its phases and the actions open in each, who may do them, its tables, open
//! data, search entries and counts) plus one surface module in the portal and one in the
//! console, each registered by one line in its crate's list. [`REGISTRY`] is the list of
//! manifests; [`validate`] checks it (and the surfaces' lists against it) when `serve`
//! starts, and a failure stops it with one line.
//!
//! A dispositif holds *instances* ([`Instance`], table `dispositif_component`): one per
//! component at most, in the order staff chose, each with its settings, the dates of its
//! phases and the actions that require a verified identity. Removing an instance keeps its
//! data (it is only marked removed), so that it stays in exports and can be added back.

pub mod agenda;
pub mod budget;
pub mod composition;
pub mod contributions;
pub mod documents;
pub mod faq;
pub mod news;
pub mod presentation;
mod settings;
pub mod vote;

use std::collections::HashSet;

use futures::future::BoxFuture;
use time::Date;
use uuid::Uuid;

pub use settings::{Setting, SettingKind, Settings};

use crate::dispositifs::{Dispositif, Kind};
use crate::open_data::Resource;
use crate::{Error, FieldErrors, Result, TenantTx};

/// The setting of a vote (budget or questions) that reserves it to its census list.
pub const CENSUS: &str = "liste";
/// The setting of the minimum age of its voters, checked against the census list.
pub const MIN_AGE: &str = "age_minimal";

/// The settings every vote (budget or questions) declares for its census list.
pub const CENSUS_SETTING: Setting = Setting {
    key: CENSUS,
    label: "Vote réservé aux personnes de la liste de votant·es",
    hint: "La liste (identifiant et date de naissance) se téléverse depuis la page du dispositif ; chaque votant·e y prouve sa présence.",
    kind: SettingKind::Bool { default: false },
};
pub const MIN_AGE_SETTING: Setting = Setting {
    key: MIN_AGE,
    label: "Âge minimal pour voter",
    hint: "Compté au dernier jour du vote : vérifié par la liste de votant·es quand il y en a une, sinon déclaré sur l'honneur par chaque votant·e ; 0 pour aucun.",
    kind: SettingKind::Integer {
        default: 0,
        min: 0,
        max: 120,
    },
};

/// The setting of where voters must live (`core::residence`).
pub const RESIDENCE: &str = "residence";
/// The setting that keeps a vote to French and European Union nationals.
pub const NATIONALS_ONLY: &str = "nationalite_ue";

/// Where a vote's voters must live: anywhere, or on the territory (they declare their
/// postal code, checked against the communes the collectivité lists).
pub const RESIDENCE_SETTING: Setting = Setting {
    key: RESIDENCE,
    label: "Condition de résidence",
    hint: "Chaque votant·e indique le code postal de sa commune, comparé à la liste de la page « Communes du territoire » de la console.",
    kind: SettingKind::Choice {
        default: "aucune",
        options: &[
            ("aucune", "Aucune : le vote est ouvert à toutes et à tous"),
            ("territoire", "Habiter une commune du territoire"),
        ],
    },
};
/// [`RESIDENCE_SETTING`] for budgets, where residence may also choose the envelope.
pub const BUDGET_RESIDENCE_SETTING: Setting = Setting {
    kind: SettingKind::Choice {
        default: "aucune",
        options: &[
            ("aucune", "Aucune : le vote est ouvert à toutes et à tous"),
            ("territoire", "Habiter une commune du territoire"),
            ("enveloppe", "Habiter une commune de l'enveloppe pour laquelle on vote"),
        ],
    },
    ..RESIDENCE_SETTING
};
/// Paris's participatory budget is open to everyone who lives there, whatever their
/// nationality (and age): open is the default. A consultation of the electors is not.
pub const NATIONALS_ONLY_SETTING: Setting = Setting {
    key: NATIONALS_ONLY,
    label: "Vote réservé aux personnes de nationalité française ou d'un État de l'Union européenne",
    hint: "Chaque votant·e le déclare alors sur l'honneur en votant.",
    kind: SettingKind::Bool { default: false },
};

/// Every component, in the order a new dispositif lists them.
pub static REGISTRY: &[&Manifest] = &[
    &presentation::MANIFEST,
    &contributions::MANIFEST,
    &composition::MANIFEST,
    &agenda::MANIFEST,
    &news::MANIFEST,
    &documents::MANIFEST,
    &faq::MANIFEST,
    &budget::MANIFEST,
    &vote::MANIFEST,
];

/// A component's pages across the whole tenant (the agenda, the news, the library): an entry
/// of the portal's and the console's navigation, in the registry's order.
#[derive(Debug)]
pub struct Nav {
    /// On the portal, e.g. `/agenda`.
    pub portal: &'static str,
    /// In the console, under `/t/<slug>/`, e.g. `agenda`; for staff who edit content.
    pub console: &'static str,
    pub label: &'static str,
}

/// The navigation entries of every component that has some, in order.
pub fn navigation() -> impl Iterator<Item = &'static Nav> {
    REGISTRY.iter().filter_map(|m| m.nav.as_ref())
}

/// Who may do an action on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Anyone, signed in or not.
    Visitor,
    /// A signed-in citizen whose address is confirmed.
    Citizen,
    /// A citizen whose identity a provider verified (FranceConnect…).
    VerifiedCitizen,
}

impl Who {
    pub fn label(self) -> &'static str {
        match self {
            Who::Visitor => "tout le monde",
            Who::Citizen => "les participant·es connecté·es",
            Who::VerifiedCitizen => "les participant·es à l'identité vérifiée",
        }
    }
}

/// A dated stage of a component (« dépôt des contributions », « vote »…).
#[derive(Debug)]
pub struct PhaseSpec {
    pub key: &'static str,
    pub label: &'static str,
}

/// Something citizens do through a component.
#[derive(Debug)]
pub struct Action {
    pub key: &'static str,
    pub label: &'static str,
    /// The phase during which it is open; `None`: whenever the dispositif is published.
    pub phase: Option<&'static str>,
    /// Who may, unless staff require a verified identity for it.
    pub who: Who,
}

/// A figure for the console's dashboard.
pub type CountFn = for<'a> fn(&'a mut TenantTx) -> BoxFuture<'a, Result<i64>>;

/// Sample content for a new instance (the demo, and the contract tests' real data).
pub type DemoFn =
    for<'a> fn(&'a mut TenantTx, &'a participe_storage::Storage, &'a Dispositif) -> BoxFuture<'a, Result<()>>;

/// What a component is: everything about it that is not HTTP.
#[derive(Debug)]
pub struct Manifest {
    /// Its stable identifier, stored with each instance and its address on the portal
    /// (`/participer/<dispositif>/<key>`): lowercase letters and hyphens.
    pub key: &'static str,
    /// Its name, in French (translatable, like every text here).
    pub name: &'static str,
    pub description: &'static str,
    /// The kinds of dispositif that may host it.
    pub hosts: &'static [Kind],
    /// The kinds of dispositif that get it when they are created.
    pub default_for: &'static [Kind],
    pub settings: &'static [Setting],
    pub phases: &'static [PhaseSpec],
    pub actions: &'static [Action],
    /// Its tables in the tenant's schema (the tenant archive carries every table; start-up
    /// checks that these exist in the tenant migrations).
    pub tables: &'static [&'static str],
    /// Its open data resources (`/api/v1/…`, CSV, OpenAPI).
    pub open_data: &'static [Resource],
    /// The kinds of search hit it publishes (`core::search`).
    pub search: &'static [&'static str],
    /// Whether the livret d'expression has a section from it.
    pub booklet: bool,
    /// Figures for the console's dashboard: (label, counter).
    pub counts: &'static [(&'static str, CountFn)],
    /// The table whose estimated rows the operators' tenants table shows (read from the
    /// catalog, never from the tenant's rows), and the column's label: (table, label).
    pub ops_table: Option<(&'static str, &'static str)>,
    pub demo: Option<DemoFn>,
    /// Its tenant-wide pages, if it has some.
    pub nav: Option<Nav>,
    /// How many rows it holds for one dispositif: removing it from a dispositif that holds
    /// some asks staff to confirm.
    pub holds: Option<HoldsFn>,
}

/// See `Manifest::holds`.
pub type HoldsFn = for<'a> fn(&'a mut TenantTx, Uuid) -> BoxFuture<'a, Result<i64>>;

impl Manifest {
    pub fn action(&self, key: &str) -> Option<&'static Action>
    where
        Self: 'static,
    {
        self.actions.iter().find(|a| a.key == key)
    }

    pub fn may_host(&self, kind: Kind) -> bool {
        self.hosts.contains(&kind)
    }

    /// Every French text of the manifest, for the check that each has a translation.
    pub fn texts(&self) -> Vec<&'static str> {
        let mut texts = vec![self.name, self.description];
        texts.extend(
            self.settings
                .iter()
                .flat_map(|s| [s.label, s.hint])
                .filter(|t| !t.is_empty()),
        );
        for s in self.settings {
            if let SettingKind::Choice { options, .. } = s.kind {
                texts.extend(options.iter().map(|(_, label)| *label));
            }
        }
        texts.extend(self.phases.iter().map(|p| p.label));
        texts.extend(self.actions.iter().map(|a| a.label));
        texts.extend(self.counts.iter().map(|(label, _)| *label));
        texts.extend(self.nav.as_ref().map(|n| n.label));
        texts.extend(self.ops_table.map(|(_, label)| label));
        texts
    }
}

/// The operators' columns, in the registry's order: (table, label).
pub fn ops_columns() -> Vec<(&'static str, &'static str)> {
    REGISTRY.iter().filter_map(|m| m.ops_table).collect()
}

/// The tables of [`ops_columns`].
pub fn ops_tables() -> Vec<&'static str> {
    ops_columns().into_iter().map(|(table, _)| table).collect()
}

/// The manifest of `key`.
pub fn find(key: &str) -> Option<&'static Manifest> {
    REGISTRY.iter().copied().find(|m| m.key == key)
}

/// What a surface (the portal's or the console's) registers for a component.
pub trait Surface {
    fn key(&self) -> &'static str;
    /// The paths it routes, as axum writes them, to check that no two surfaces clash.
    fn paths(&self) -> Vec<&'static str>;
}

/// Why the registry cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("component registry: {0}")]
pub struct RegistryError(pub String);

/// Checks the registry and the surfaces' lists: unique keys made of lowercase letters and
/// hyphens, a portal and a console surface for every component and none for an unknown
/// one, no path routed twice, every table present in the tenant migrations, every open data
/// resource published by one component at most, and every text translated in each locale.
pub fn validate(
    portal: &[&dyn Surface],
    console: &[&dyn Surface],
    tenant_migrations: &str,
    locales: &[(&str, &serde_json::Value)],
) -> std::result::Result<(), RegistryError> {
    let fail = |m: String| Err(RegistryError(m));
    let mut keys = HashSet::new();
    for m in REGISTRY {
        let well_formed = !m.key.is_empty()
            && m.key
                .split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
        if !well_formed {
            return fail(format!(
                "« {} » is not a component key (lowercase letters and hyphens)",
                m.key
            ));
        }
        if !keys.insert(m.key) {
            return fail(format!("two components are called « {} »", m.key));
        }
        for kind in m.default_for {
            if !m.may_host(*kind) {
                return fail(format!(
                    "{} is added by default to {kind} but may not be hosted there",
                    m.key
                ));
            }
        }
        let mut setting_keys = HashSet::new();
        for s in m.settings {
            if !setting_keys.insert(s.key) {
                return fail(format!("{} declares the setting {} twice", m.key, s.key));
            }
            s.check_default()
                .map_err(|e| RegistryError(format!("{}: {e}", m.key)))?;
        }
        for a in m.actions {
            if let Some(phase) = a.phase
                && !m.phases.iter().any(|p| p.key == phase)
            {
                return fail(format!(
                    "{}: action {} opens in an undeclared phase {phase}",
                    m.key, a.key
                ));
            }
        }
        for table in m.tables {
            let declared = format!("create table {table} (");
            if !tenant_migrations.contains(&declared) {
                return fail(format!("{}: table {table} is in no tenant migration", m.key));
            }
        }
        for (lang, locale) in locales {
            for text in m.texts() {
                if locale.get(text).is_none() {
                    return fail(format!(
                        "{}: « {text} » has no translation in locales/{lang}.json",
                        m.key
                    ));
                }
            }
        }
    }
    let mut resources = HashSet::new();
    for r in REGISTRY.iter().flat_map(|m| m.open_data) {
        if !resources.insert(r.name()) {
            return fail(format!(
                "the open data resource {} is published by two components",
                r.name()
            ));
        }
    }
    for (surface, list) in [("portal", portal), ("console", console)] {
        let mut seen = HashSet::new();
        let mut paths = HashSet::new();
        for s in list {
            if find(s.key()).is_none() {
                return fail(format!(
                    "the {surface} registers « {} », which is no component",
                    s.key()
                ));
            }
            if !seen.insert(s.key()) {
                return fail(format!("the {surface} registers « {} » twice", s.key()));
            }
            for p in s.paths() {
                if !paths.insert(p) {
                    return fail(format!("the {surface} routes {p} twice ({})", s.key()));
                }
            }
        }
        if let Some(m) = REGISTRY.iter().find(|m| !seen.contains(m.key)) {
            return fail(format!("the {surface} has no surface for « {} »", m.key));
        }
    }
    Ok(())
}

/// A component as one dispositif hosts it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    pub id: Uuid,
    pub dispositif_id: Uuid,
    #[serde(serialize_with = "manifest_key")]
    pub manifest: &'static Manifest,
    pub position: i32,
    pub published: bool,
    pub settings: Settings,
    /// The actions for which staff require a verified identity.
    pub verified_for: Vec<String>,
    /// Dates of the phases, by phase key; a phase without dates takes the dispositif's.
    pub phases: serde_json::Map<String, serde_json::Value>,
    pub removed: bool,
}

fn manifest_key<S: serde::Serializer>(m: &&'static Manifest, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(m.key)
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// The dates of one phase of an instance, stored as `{"from": "2027-03-15", "to": null}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PhaseDates {
    #[serde(with = "iso_date::option", default)]
    pub from: Option<Date>,
    #[serde(with = "iso_date::option", default)]
    pub to: Option<Date>,
}

impl PhaseDates {
    pub fn contains(&self, day: Date) -> bool {
        self.from.is_some_and(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }
}

/// Whether an action may be done now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Not in its phase, or the dispositif or the component is not published.
    Closed,
    /// Open, for someone signed in (and confirmed) only.
    SignIn,
    /// Open, for a citizen whose identity a provider verified.
    VerifiedIdentity,
}

/// What the gate knows of who asks.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub signed_in: bool,
    pub verified: bool,
}

impl Instance {
    pub fn key(&self) -> &'static str {
        self.manifest.key
    }

    /// The dates of `phase`: the instance's own, else the dispositif's.
    pub fn phase_dates(&self, phase: &str, d: &Dispositif) -> PhaseDates {
        self.phases
            .get(phase)
            .and_then(|v| serde_json::from_value::<PhaseDates>(v.clone()).ok())
            .filter(|p| p.from.is_some() || p.to.is_some())
            .unwrap_or(PhaseDates {
                from: d.opens_on,
                to: d.closes_on,
            })
    }

    /// Who may do `action`: the manifest's rule, raised by staff to a verified identity.
    pub fn who(&self, action: &Action) -> Who {
        if self.verified_for.iter().any(|a| a == action.key) {
            Who::VerifiedCitizen
        } else {
            action.who
        }
    }

    /// Whether `action` is open today, in its phase, to the dispositif's audience.
    pub fn is_open(&self, action: &Action, d: &Dispositif, today: Date) -> bool {
        d.status == crate::dispositifs::Status::Publie
            && self.published
            && !self.removed
            && action.phase.is_none_or(|p| self.phase_dates(p, d).contains(today))
    }

    /// The gate of `action` for `asker` today.
    pub fn gate(&self, action_key: &str, d: &Dispositif, today: Date, asker: Asker) -> Gate {
        let Some(action) = self.manifest.action(action_key) else {
            return Gate::Closed;
        };
        if !self.is_open(action, d, today) {
            return Gate::Closed;
        }
        match self.who(action) {
            Who::Visitor => Gate::Open,
            Who::Citizen if asker.signed_in => Gate::Open,
            Who::VerifiedCitizen if asker.verified => Gate::Open,
            Who::Citizen => Gate::SignIn,
            Who::VerifiedCitizen => Gate::VerifiedIdentity,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct InstanceRow {
    id: Uuid,
    dispositif_id: Uuid,
    component: String,
    position: i32,
    published: bool,
    settings: serde_json::Value,
    verified_for: Vec<String>,
    phases: serde_json::Value,
    removed: bool,
}

impl InstanceRow {
    /// `None` for a component this release does not know (a newer release's, during a
    /// rollout): it is left alone.
    fn parse(self) -> Option<Instance> {
        let manifest = find(&self.component)?;
        Some(Instance {
            id: self.id,
            dispositif_id: self.dispositif_id,
            manifest,
            position: self.position,
            published: self.published,
            settings: Settings::read(manifest.settings, &self.settings),
            verified_for: self.verified_for,
            phases: match self.phases {
                serde_json::Value::Object(map) => map,
                _ => Default::default(),
            },
            removed: self.removed,
        })
    }
}

/// The instances of a dispositif, in order, removed ones included (the console shows them).
pub async fn of(tx: &mut TenantTx, dispositif_id: Uuid) -> Result<Vec<Instance>> {
    let mut rows = rows_of(tx, dispositif_id).await?;
    if rows.is_empty() {
        // A dispositif written without components — by the release before them, still
        // running during a rolling deploy, or in SQL — gets its kind's, as migration 0012
        // gave every other one. Removed components keep their rows, so this is only ever a
        // dispositif that never had any.
        if let Some(d) = crate::dispositifs::by_id(tx, dispositif_id).await? {
            add_defaults(tx, &d).await?;
            rows = rows_of(tx, dispositif_id).await?;
        }
    }
    Ok(rows.into_iter().filter_map(InstanceRow::parse).collect())
}

async fn rows_of(tx: &mut TenantTx, dispositif_id: Uuid) -> Result<Vec<InstanceRow>> {
    Ok(sqlx::query_as!(
        InstanceRow,
        r#"select id, dispositif_id, component, position, published, settings, verified_for, phases,
                  removed_at is not null as "removed!"
             from dispositif_component where dispositif_id = $1 order by position, created_at"#,
        dispositif_id
    )
    .fetch_all(tx.conn())
    .await?)
}

/// What citizens see of a dispositif: its published instances, in order.
pub async fn shown(tx: &mut TenantTx, dispositif_id: Uuid) -> Result<Vec<Instance>> {
    Ok(of(tx, dispositif_id)
        .await?
        .into_iter()
        .filter(|i| i.published && !i.removed)
        .collect())
}

/// A published or archived dispositif by its address, with the instances citizens see, in
/// one query: its page is the one signed-in citizens open most, rendered every time.
pub async fn public_space(tx: &mut TenantTx, slug: &str) -> Result<Option<(Dispositif, Vec<Instance>)>> {
    let Some(r) = sqlx::query!(
        r#"select d.id, d.slug, d.kind, d.title, d.summary, d.description, d.opens_on, d.closes_on, d.rules,
                  d.status as "status: crate::dispositifs::Status", d.updated_at,
                  coalesce((select jsonb_agg(jsonb_build_object(
                                'id', c.id, 'dispositif_id', c.dispositif_id, 'component', c.component,
                                'position', c.position, 'published', c.published, 'settings', c.settings,
                                'verified_for', c.verified_for, 'phases', c.phases,
                                'removed', c.removed_at is not null) order by c.position, c.created_at)
                              from dispositif_component c where c.dispositif_id = d.id), '[]') as "instances!: sqlx::types::Json<Vec<InstanceRow>>"
             from dispositif d where d.slug = $1 and d.status in ('publie', 'archive')"#,
        slug
    )
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(None);
    };
    let d = Dispositif {
        id: r.id,
        slug: r.slug,
        kind: r.kind,
        title: r.title,
        summary: r.summary,
        description: r.description,
        opens_on: r.opens_on,
        closes_on: r.closes_on,
        rules: r.rules,
        status: r.status,
        updated_at: r.updated_at,
    };
    let rows = r.instances.0;
    let instances = if rows.is_empty() {
        of(tx, d.id).await?
    } else {
        rows.into_iter().filter_map(InstanceRow::parse).collect()
    };
    let shown = instances.into_iter().filter(|i| i.published && !i.removed).collect();
    Ok(Some((d, shown)))
}

/// The shown instance of `key` in a dispositif, if any.
pub async fn shown_one(tx: &mut TenantTx, dispositif_id: Uuid, key: &str) -> Result<Option<Instance>> {
    Ok(shown(tx, dispositif_id).await?.into_iter().find(|i| i.key() == key))
}

/// Adds `manifest` to a dispositif (or brings a removed instance back, with its data),
/// last in the order, with its default settings.
pub async fn add(tx: &mut TenantTx, d: &Dispositif, manifest: &'static Manifest) -> Result<Uuid> {
    if !manifest.may_host(d.kind()) {
        return Err(Error::invalid(
            "component",
            format!("« {} » ne peut pas s'ajouter à ce type de dispositif", manifest.name),
        ));
    }
    let settings = Settings::defaults(manifest.settings).to_json();
    Ok(sqlx::query_scalar!(
        "insert into dispositif_component (dispositif_id, component, position, settings)
         values ($1, $2, coalesce((select max(position) + 1 from dispositif_component where dispositif_id = $1), 0), $3)
         on conflict (dispositif_id, component) do update
            set removed_at = null, published = true,
                position = coalesce((select max(position) + 1 from dispositif_component where dispositif_id = $1), 0)
         returning id",
        d.id,
        manifest.key,
        settings
    )
    .fetch_one(tx.conn())
    .await?)
}

/// The components a new dispositif of `kind` gets.
pub fn defaults(kind: Kind) -> Vec<&'static Manifest> {
    REGISTRY
        .iter()
        .copied()
        .filter(|m| m.default_for.contains(&kind))
        .collect()
}

/// How many rows `instance` holds in its dispositif (0 for a component without data).
pub async fn held(tx: &mut TenantTx, instance: &Instance) -> Result<i64> {
    match instance.manifest.holds {
        Some(holds) => holds(tx, instance.dispositif_id).await,
        None => Ok(0),
    }
}

/// The components a dispositif of `kind` starts with.
pub async fn add_defaults(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    for m in REGISTRY.iter().filter(|m| m.default_for.contains(&d.kind())) {
        add(tx, d, m).await?;
    }
    Ok(())
}

async fn by_id(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid) -> Result<Instance> {
    of(tx, dispositif_id)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| Error::NotFound("composant".into()))
}

/// An instance of this dispositif (removed ones included), or not found.
pub async fn get(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid) -> Result<Instance> {
    by_id(tx, dispositif_id, id).await
}

/// Moves an instance one place up (`-1`) or down (`1`).
pub async fn shift(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid, by: i32) -> Result<()> {
    let mut all = of(tx, dispositif_id).await?;
    let Some(at) = all.iter().position(|i| i.id == id) else {
        return Err(Error::NotFound("composant".into()));
    };
    let to = (at as i32 + by).clamp(0, all.len() as i32 - 1) as usize;
    let moved = all.remove(at);
    all.insert(to, moved);
    let ids: Vec<Uuid> = all.iter().map(|i| i.id).collect();
    let positions: Vec<i32> = (0..ids.len() as i32).collect();
    sqlx::query!(
        "update dispositif_component c set position = p.position
           from unnest($1::uuid[], $2::int[]) as p(id, position) where c.id = p.id",
        &ids,
        &positions
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_published(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid, published: bool) -> Result<()> {
    let done = sqlx::query!(
        "update dispositif_component set published = $3 where id = $2 and dispositif_id = $1",
        dispositif_id,
        id,
        published
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("composant".into()));
    }
    Ok(())
}

/// Removes an instance from the portal and the console's list; its data stays (exports
/// carry it) and adding the component again brings it back.
pub async fn remove(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query!(
        "update dispositif_component set removed_at = now() where id = $2 and dispositif_id = $1 and removed_at is null",
        dispositif_id,
        id
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("composant".into()));
    }
    Ok(())
}

/// What staff change of an instance: settings, phase dates, actions requiring a verified
/// identity. Parsed from the console's form by [`Configuration::parse`].
#[derive(Debug, Clone)]
pub struct Configuration {
    pub settings: Settings,
    pub phases: Vec<(&'static str, PhaseDates)>,
    pub verified_for: Vec<&'static str>,
}

impl Configuration {
    /// Reads a form's fields (`setting_<key>`, `phase_<key>_from`/`_to`, `verified_<action>`)
    /// against the manifest; each bad value is a field error.
    pub fn parse(
        manifest: &'static Manifest,
        field: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Configuration, FieldErrors> {
        let mut errors = FieldErrors::default();
        let settings = Settings::parse(manifest.settings, &field, &mut errors);
        let mut phases = Vec::new();
        for p in manifest.phases {
            let from = format!("phase_{}_from", p.key);
            let to = format!("phase_{}_to", p.key);
            let dates = PhaseDates {
                from: errors
                    .check_owned(&from, parse_date(&field(&from).unwrap_or_default()))
                    .flatten(),
                to: errors
                    .check_owned(&to, parse_date(&field(&to).unwrap_or_default()))
                    .flatten(),
            };
            if let (Some(f), Some(t)) = (dates.from, dates.to)
                && t < f
            {
                errors.push_owned(to, "la fin doit suivre le début");
            }
            phases.push((p.key, dates));
        }
        let verified_for = manifest
            .actions
            .iter()
            .filter(|a| field(&format!("verified_{}", a.key)).is_some_and(|v| v == "on"))
            .map(|a| a.key)
            .collect();
        if errors.is_empty() {
            Ok(Configuration {
                settings,
                phases,
                verified_for,
            })
        } else {
            Err(errors)
        }
    }
}

/// A date as staff type it: `2027-03-15` or `15/03/2027`; empty is none.
pub fn parse_date(input: &str) -> std::result::Result<Option<Date>, crate::domain::Invalid> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let french = time::macros::format_description!("[day]/[month]/[year]");
    Date::parse(s, iso)
        .or_else(|_| Date::parse(s, french))
        .map(Some)
        .map_err(|_| {
            crate::domain::Invalid::new(format!(
                "« {s} » n'est pas une date : écrivez-la jj/mm/aaaa, par exemple 15/03/2027"
            ))
        })
}

pub async fn configure(tx: &mut TenantTx, dispositif_id: Uuid, id: Uuid, c: &Configuration) -> Result<()> {
    let phases: serde_json::Map<String, serde_json::Value> = c
        .phases
        .iter()
        .map(|(k, d)| (k.to_string(), serde_json::to_value(d).unwrap_or_default()))
        .collect();
    let verified: Vec<String> = c.verified_for.iter().map(|s| s.to_string()).collect();
    let done = sqlx::query!(
        "update dispositif_component set settings = $3, phases = $4, verified_for = $5
          where id = $2 and dispositif_id = $1",
        dispositif_id,
        id,
        c.settings.to_json(),
        serde_json::Value::Object(phases),
        &verified
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("composant".into()));
    }
    Ok(())
}

/// The account the demo content of components is signed with (made once per tenant).
/// The demo's citizen, who writes the sample content (the `participe demo` command too).
pub async fn demo_author(tx: &mut TenantTx) -> Result<Uuid> {
    demo_citizen(tx).await
}

pub(crate) async fn demo_citizen(tx: &mut TenantTx) -> Result<Uuid> {
    let email = crate::domain::Email::parse("demonstration@participe.example").map_err(|e| Error::Failed(e.0))?;
    if let Some(c) = crate::citizens::find_by_email(tx, &email).await? {
        return Ok(c.id);
    }
    // Nobody signs in with it: a random password, forgotten at once.
    let random = Uuid::new_v4().to_string();
    let password = crate::domain::NewPassword::parse(&random, &random).map_err(|e| Error::Failed(e.0))?;
    let created = crate::citizens::sign_up(
        tx,
        &crate::citizens::NewCitizen {
            email: &email,
            display_name: "Participante de démonstration",
            profile: crate::citizens::Profile::Citoyen,
            password: &password,
            charter_version: None,
        },
    )
    .await?;
    Ok(match created {
        crate::citizens::SignUp::Created { citizen, .. } | crate::citizens::SignUp::AlreadyRegistered { citizen } => {
            citizen.id
        }
    })
}

/// The dashboard's figures: every component's counts.
pub async fn counts(tx: &mut TenantTx) -> Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for m in REGISTRY {
        for (label, count) in m.counts {
            out.push((*label, count(tx).await?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn call(status: &str, opens: Option<Date>, closes: Option<Date>) -> Dispositif {
        Dispositif {
            id: Uuid::nil(),
            slug: "x".into(),
            kind: "appel".into(),
            title: "x".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: opens,
            closes_on: closes,
            rules: String::new(),
            status: status.parse().unwrap(),
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn instance(phases: serde_json::Value, verified: &[&str]) -> Instance {
        Instance {
            id: Uuid::nil(),
            dispositif_id: Uuid::nil(),
            manifest: &contributions::MANIFEST,
            position: 0,
            published: true,
            settings: Settings::defaults(contributions::MANIFEST.settings),
            verified_for: verified.iter().map(|s| s.to_string()).collect(),
            phases: phases.as_object().cloned().unwrap_or_default(),
            removed: false,
        }
    }

    const ASKER: Asker = Asker {
        signed_in: true,
        verified: false,
    };

    #[test]
    fn an_action_is_open_in_its_phase_which_defaults_to_the_dispositif_s_dates() {
        let today = date!(2026 - 11 - 25);
        let d = call("publie", Some(date!(2026 - 11 - 01)), Some(date!(2026 - 11 - 30)));
        let i = instance(serde_json::json!({}), &[]);
        assert_eq!(i.gate(contributions::CONTRIBUTE, &d, today, ASKER), Gate::Open);
        // Its own dates win over the dispositif's.
        let later = instance(
            serde_json::json!({ "depot": { "from": "2026-12-01", "to": null } }),
            &[],
        );
        assert_eq!(later.gate(contributions::CONTRIBUTE, &d, today, ASKER), Gate::Closed);
        assert_eq!(
            later.gate(contributions::CONTRIBUTE, &d, date!(2027 - 01 - 10), ASKER),
            Gate::Open
        );
        // Not before the opening, not after the closing, never in a draft.
        assert_eq!(
            i.gate(contributions::CONTRIBUTE, &d, date!(2026 - 12 - 01), ASKER),
            Gate::Closed
        );
        assert_eq!(
            i.gate(
                contributions::CONTRIBUTE,
                &call("brouillon", d.opens_on, None),
                today,
                ASKER
            ),
            Gate::Closed
        );
        assert_eq!(i.gate("inconnue", &d, today, ASKER), Gate::Closed);
    }

    #[test]
    fn staff_can_require_a_verified_identity_per_action() {
        let today = date!(2026 - 11 - 25);
        let d = call("publie", Some(date!(2026 - 11 - 01)), None);
        let i = instance(serde_json::json!({}), &[contributions::CONTRIBUTE]);
        assert_eq!(
            i.gate(contributions::CONTRIBUTE, &d, today, ASKER),
            Gate::VerifiedIdentity
        );
        assert_eq!(i.gate(contributions::COMMENT, &d, today, ASKER), Gate::Open);
        let visitor = Asker {
            signed_in: false,
            verified: false,
        };
        assert_eq!(i.gate(contributions::COMMENT, &d, today, visitor), Gate::SignIn);
        let verified = Asker {
            signed_in: true,
            verified: true,
        };
        assert_eq!(i.gate(contributions::CONTRIBUTE, &d, today, verified), Gate::Open);
    }

    #[test]
    fn the_registry_s_own_rules_hold() {
        let texts: serde_json::Value = serde_json::Value::Object(
            REGISTRY
                .iter()
                .flat_map(|m| m.texts())
                .map(|t| (t.to_string(), serde_json::Value::from(t)))
                .collect(),
        );
        struct S(&'static str);
        impl Surface for S {
            fn key(&self) -> &'static str {
                self.0
            }
            fn paths(&self) -> Vec<&'static str> {
                vec![]
            }
        }
        let all: Vec<S> = REGISTRY.iter().map(|m| S(m.key)).collect();
        let surfaces: Vec<&dyn Surface> = all.iter().map(|s| s as &dyn Surface).collect();
        let sql = crate::migrations::TenantMigrations::embedded().sql();
        validate(&surfaces, &surfaces, &sql, &[("en", &texts)]).unwrap();
        // A surface for an unknown component, or a missing one, stops it.
        let missing = &surfaces[1..];
        assert!(validate(missing, &surfaces, &sql, &[]).is_err());
        assert!(
            validate(&surfaces, &surfaces, "", &[]).is_err(),
            "tables unknown to the migrations"
        );
        let untranslated = serde_json::json!({});
        assert!(validate(&surfaces, &surfaces, &sql, &[("en", &untranslated)]).is_err());
    }
}
