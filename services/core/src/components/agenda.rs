//! A dispositif's meetings: the events of the agenda linked to it (`core::agenda`), coming
//! and, when staff choose it (a council's sittings), past ones. Registration happens on the
//! event's own page.

use futures::FutureExt;

use super::{Manifest, Setting, SettingKind};
use crate::agenda::{self, EventKind, EventWrite};
use crate::dispositifs::{Dispositif, Kind};
use crate::open_data::Resource;
use crate::{Result, TenantTx};

pub const TITLE: &str = "titre";
pub const PAST: &str = "passees";

pub static MANIFEST: Manifest = Manifest {
    key: "agenda",
    name: "Rencontres",
    description: "Les rencontres de l'agenda liées au dispositif : réunions, ateliers, restitutions, séances.",
    hosts: &Kind::ALL,
    default_for: &Kind::ALL,
    settings: &[
        Setting {
            key: TITLE,
            label: "Titre de la rubrique",
            hint: "Par exemple « Prochaines rencontres », ou « Séances » pour un conseil.",
            kind: SettingKind::Text {
                default: "Prochaines rencontres",
                max: 80,
            },
        },
        Setting {
            key: PAST,
            label: "Montrer aussi les rencontres passées",
            hint: "Avec leurs documents (ordres du jour, comptes rendus) ; la rubrique s'affiche alors même vide.",
            kind: SettingKind::Bool { default: false },
        },
    ],
    phases: &[],
    actions: &[],
    tables: &["event", "event_registration"],
    open_data: &[Resource::Events],
    search: &["event"],
    booklet: false,
    counts: &[("rencontres à venir", |tx| coming(tx).boxed())],
    ops_table: Some(("event", "Rencontres")),
    nav: Some(super::Nav {
        portal: "/agenda",
        console: "agenda",
        label: "Agenda",
    }),
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

async fn coming(tx: &mut TenantTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from event where status = 'publie' and ends_at > now()"#)
            .fetch_one(tx.conn())
            .await?,
    )
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    let starts = time::OffsetDateTime::now_utc() + time::Duration::days(14);
    agenda::create(
        tx,
        &EventWrite {
            kind: EventKind::Reunion,
            title: format!("Réunion publique : {}", d.title),
            description: "Présentation du dispositif et échanges avec les habitants.".into(),
            starts_at: starts,
            ends_at: starts + time::Duration::hours(2),
            place: "Salle des fêtes".into(),
            online_url: None,
            dispositif_id: Some(d.id),
            registration: true,
            capacity: Some(80),
            registration_opens_at: None,
            registration_closes_at: None,
            published: true,
        },
    )
    .await?;
    Ok(())
}

async fn held(tx: &mut TenantTx, d: uuid::Uuid) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from event where dispositif_id = $1"#, d)
            .fetch_one(tx.conn())
            .await?,
    )
}
