//! Calls for contributions: citizens post contributions on the call's themes while its
//! « dépôt » phase is open, comment on them and report them; moderation comes afterwards
//! (`core::participation`). The livret d'expression compiles them.

use futures::FutureExt;

use super::{Action, Manifest, PhaseSpec, Setting, SettingKind, Who};
use crate::dispositifs::{Dispositif, Kind};
use crate::open_data::Resource;
use crate::{Result, TenantTx};

pub const CONTRIBUTE: &str = "contribuer";
pub const COMMENT: &str = "commenter";
/// The setting that opens comments.
pub const COMMENTS: &str = "commentaires";

pub static MANIFEST: Manifest = Manifest {
    key: "contributions",
    name: "Contributions",
    description: "Les participant·es déposent des contributions sur les thèmes de l'appel, les commentent et les signalent ; la modération a lieu après publication.",
    hosts: &[Kind::Appel],
    default_for: &[Kind::Appel],
    settings: &[Setting {
        key: COMMENTS,
        label: "Commentaires ouverts",
        hint: "Les participant·es peuvent commenter les contributions pendant le dépôt.",
        kind: SettingKind::Bool { default: true },
    }],
    phases: &[PhaseSpec {
        key: "depot",
        label: "Dépôt des contributions",
    }],
    actions: &[
        Action {
            key: CONTRIBUTE,
            label: "Déposer une contribution",
            phase: Some("depot"),
            who: Who::Citizen,
        },
        Action {
            key: COMMENT,
            label: "Commenter",
            phase: Some("depot"),
            who: Who::Citizen,
        },
    ],
    tables: &["contribution", "comment", "report", "dispositif_theme", "booklet"],
    open_data: &[Resource::Contributions, Resource::Comments],
    search: &["contribution", "comment"],
    booklet: true,
    counts: &[
        ("contributions publiées", |tx| contributions(tx).boxed()),
        ("commentaires publiés", |tx| comments(tx).boxed()),
    ],
    ops_table: Some(("contribution", "Contributions")),
    nav: None,
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

async fn contributions(tx: &mut TenantTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from contribution where state = 'publie'"#)
            .fetch_one(tx.conn())
            .await?,
    )
}

async fn comments(tx: &mut TenantTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from comment where state = 'publie'"#)
            .fetch_one(tx.conn())
            .await?,
    )
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    let author = super::demo_citizen(tx).await?;
    let theme = crate::participation::themes(tx, d.id).await?.first().map(|t| t.id);
    let id = crate::participation::create_contribution(
        tx,
        d.id,
        author,
        &crate::participation::ContributionInput {
            title: "Des jardins partagés au pied des immeubles".into(),
            body: "Chaque quartier aurait son jardin, entretenu par ses habitants.".into(),
            theme_id: theme,
        },
    )
    .await?;
    crate::participation::add_comment(tx, id, None, author, "Bonne idée : le quartier Nord en manque.").await?;
    Ok(())
}

async fn held(tx: &mut TenantTx, d: uuid::Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from contribution where dispositif_id = $1"#,
        d
    )
    .fetch_one(tx.conn())
    .await?)
}
