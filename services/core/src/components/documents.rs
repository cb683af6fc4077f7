//! A dispositif's documents: the library's published documents linked to it
//! (`core::documents`), latest first.

use futures::FutureExt;
use participe_storage::Storage;

use super::Manifest;
use crate::dispositifs::{Dispositif, Kind};
use crate::documents::{self, Category, DocumentWrite, FileKind, StoredFile};
use crate::open_data::Resource;
use crate::{Result, TenantTx};

pub static MANIFEST: Manifest = Manifest {
    key: "documents",
    name: "Documents",
    description: "Les documents de la bibliothèque liés au dispositif : comptes rendus, productions, règlements.",
    hosts: &Kind::ALL,
    default_for: &Kind::ALL,
    settings: &[],
    phases: &[],
    actions: &[],
    tables: &["document"],
    open_data: &[Resource::Documents],
    search: &["document"],
    booklet: false,
    counts: &[("documents publiés", |tx| count(tx).boxed())],
    ops_table: None,
    nav: Some(super::Nav {
        portal: "/documents",
        console: "documents",
        label: "Documents",
    }),
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, storage, d| demo(tx, storage, d).boxed()),
};

async fn count(tx: &mut TenantTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from document where published"#)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// The smallest PDF readers open: one empty page.
const DEMO_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn demo(tx: &mut TenantTx, storage: &Storage, d: &Dispositif) -> Result<()> {
    let key = format!("tenants/{}/documents/{}", tx.tenant().id, uuid::Uuid::new_v4());
    storage
        .put(&key, DEMO_PDF)
        .await
        .map_err(|e| crate::Error::Failed(format!("demo document: {e}")))?;
    documents::create(
        tx,
        &DocumentWrite {
            title: format!("Compte rendu : {}", d.title),
            description: "Le compte rendu de la première réunion.".into(),
            category: Category::CompteRendu,
            document_date: time::OffsetDateTime::now_utc().date(),
            dispositif_id: Some(d.id),
            event_id: None,
            published: true,
        },
        &StoredFile {
            key,
            name: "compte-rendu.pdf".into(),
            kind: FileKind::Pdf,
            size: DEMO_PDF.len() as i64,
        },
    )
    .await?;
    Ok(())
}

async fn held(tx: &mut TenantTx, d: uuid::Uuid) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(r#"select count(*) as "n!" from document where dispositif_id = $1"#, d)
            .fetch_one(tx.conn())
            .await?,
    )
}
