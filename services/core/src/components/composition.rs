//! A council's composition (its members, their function and quality) and its internal
//! rules (the dispositif's `rules`, Markdown). Members are edited in the console.

use futures::FutureExt;

use super::Manifest;
use crate::dispositifs::{self, Dispositif, Kind};
use crate::{Result, TenantTx};

pub static MANIFEST: Manifest = Manifest {
    key: "composition",
    name: "Composition et règlement",
    description: "Les membres du conseil, leur fonction et leur qualité, et son règlement intérieur.",
    hosts: &[Kind::Conseil],
    default_for: &[Kind::Conseil],
    settings: &[],
    phases: &[],
    actions: &[],
    tables: &["council_member"],
    open_data: &[],
    search: &[],
    booklet: false,
    counts: &[("membres de conseils", |tx| count(tx).boxed())],
    ops_table: None,
    nav: None,
    holds: Some(|tx, d| members_of(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

async fn count(tx: &mut TenantTx) -> Result<i64> {
    Ok(sqlx::query_scalar!(r#"select count(*) as "n!" from council_member"#)
        .fetch_one(tx.conn())
        .await?)
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    dispositifs::add_member(tx, d.id, "Claire Martin", "Présidente", "Élue").await?;
    dispositifs::add_member(tx, d.id, "Youssef Benali", "Membre", "Habitant").await?;
    Ok(())
}

async fn members_of(tx: &mut TenantTx, d: uuid::Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from council_member where dispositif_id = $1"#,
        d
    )
    .fetch_one(tx.conn())
    .await?)
}
