//! A dispositif's news: the published posts linked to it (`core::news`), latest first.

use futures::FutureExt;

use super::Manifest;
use crate::dispositifs::{Dispositif, Kind};
use crate::news::{self, PostWrite};
use crate::open_data::Resource;
use crate::{Result, TenantTx};

pub static MANIFEST: Manifest = Manifest {
    key: "actualites",
    name: "Actualités",
    description: "Les actualités publiées au sujet du dispositif.",
    hosts: &Kind::ALL,
    default_for: &Kind::ALL,
    settings: &[],
    phases: &[],
    actions: &[],
    tables: &["news"],
    open_data: &[Resource::News],
    search: &["news"],
    booklet: false,
    counts: &[("actualités publiées", |tx| count(tx).boxed())],
    ops_table: None,
    nav: Some(super::Nav {
        portal: "/actualites",
        console: "actualites",
        label: "Actualités",
    }),
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

async fn count(tx: &mut TenantTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from news where published_at <= now()"#)
            .fetch_one(tx.conn())
            .await?,
    )
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    news::create(
        tx,
        &PostWrite {
            title: format!("Lancement : {}", d.title),
            summary: "Le dispositif est ouvert : voici comment y prendre part.".into(),
            body: "Toutes les informations sont sur la page du dispositif.".into(),
            cover_alt: String::new(),
            dispositif_id: Some(d.id),
            published_at: Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(1)),
        },
        None,
    )
    .await?;
    Ok(())
}

async fn held(tx: &mut TenantTx, d: uuid::Uuid) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from news where dispositif_id = $1"#, d)
            .fetch_one(tx.conn())
            .await?,
    )
}
