//! The document library through the real HTTP service: staff upload files checked by
//! their bytes (not their names), describe and link them; citizens filter the library and
//! download each file with its real type and a safe name; meetings show their documents;
//! another tenant sees and reaches none of it.

mod common;

use std::io::Write;

use common::*;
use participe_core::agenda::{self, EventKind, EventWrite};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use uuid::Uuid;

const CONSOLE: &str = "console.localhost";

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

fn id_of(location: &str) -> Uuid {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// A real zip archive of `files`, stored (the first one first, as OpenDocument wants its
/// `mimetype`).
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in files {
        out.start_file(*name, stored).unwrap();
        out.write_all(content.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn odt() -> Vec<u8> {
    zip_of(&[
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        ("content.xml", "<office:document-content/>"),
    ])
}

fn docx() -> Vec<u8> {
    // As Word writes them: the content types, the package's relationships, the document.
    zip_of(&[
        ("[Content_Types].xml", "<Types/>"),
        ("_rels/.rels", "<Relationships/>"),
        ("word/document.xml", "<w:document/>"),
        ("word/_rels/document.xml.rels", "<Relationships/>"),
    ])
}

async fn upload(b: &Browser, tenant: &Tenant, fields: &[(&str, &str)], file: Option<(&str, Vec<u8>)>) -> Page {
    let new = format!("/t/{}/documents/nouveau", tenant.slug);
    b.submit_multipart(
        CONSOLE,
        &new,
        &new,
        fields,
        file.map(|(name, bytes)| ("file", name, bytes)),
    )
    .await
}

#[tokio::test]
async fn staff_upload_checked_files_that_citizens_filter_and_download() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("archives", "Commune des Archives").await;
    let other = app.create_tenant("ailleurs", "Commune d'Ailleurs").await;
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let council = {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let starts = time::macros::datetime!(2027-03-15 17:00 UTC);
        let id = agenda::create(
            &mut tx,
            &EventWrite {
                kind: EventKind::Seance,
                title: "Séance plénière du conseil des sages".into(),
                description: String::new(),
                starts_at: starts,
                ends_at: starts + time::Duration::hours(2),
                place: "Mairie".into(),
                online_url: None,
                dispositif_id: None,
                registration: false,
                capacity: None,
                registration_opens_at: None,
                registration_closes_at: None,
                published: true,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    };

    // What is not an accepted file is refused beside the field, whatever its name; what
    // was typed stays. So is a file too large, and no file at all.
    let base = [
        ("title", "Compte rendu de la séance"),
        ("category", "compte_rendu"),
        ("document_date", "2027-03-15"),
        ("published", "on"),
    ];
    let refused = upload(
        &editor,
        &tenant,
        &base,
        Some(("compte-rendu.pdf", b"<html><script>alert(1)</script>".to_vec())),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("file").unwrap().contains("ni un PDF"));
    assert!(refused.body.contains(r#"value="Compte rendu de la séance""#));
    let refused = upload(&editor, &tenant, &base, None).await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("file").is_some());
    let mut huge = PDF.to_vec();
    huge.resize(16 * 1024 * 1024, b' ');
    let refused = upload(&editor, &tenant, &base, Some(("enorme.pdf", huge))).await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("file").unwrap().contains("15 Mo"));
    let refused = upload(
        &editor,
        &tenant,
        &[
            ("title", ""),
            ("category", "compte_rendu"),
            ("document_date", "15 mars"),
        ],
        Some(("cr.pdf", PDF.to_vec())),
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("title").is_some() && refused.field_error("document_date").is_some());

    // A PDF linked to the sitting, an agenda in ODT, a production in DOCX, an unpublished one.
    let mut with_event = base.to_vec();
    let council_id = council.to_string();
    with_event.push(("event", &council_id));
    let done = upload(
        &editor,
        &tenant,
        &with_event,
        Some(("CR séance 15-03.pdf", PDF.to_vec())),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let minutes = id_of(done.header("location"));
    let done = upload(
        &editor,
        &tenant,
        &[
            ("title", "Ordre du jour"),
            ("category", "ordre_du_jour"),
            ("document_date", "01/03/2027"),
            ("event", &council_id),
            ("published", "on"),
        ],
        Some(("odj.odt", odt())),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let agenda_doc = id_of(done.header("location"));
    let done = upload(
        &editor,
        &tenant,
        &[
            ("title", "Synthèse des ateliers"),
            ("category", "production"),
            ("document_date", "2026-11-02"),
            ("published", "on"),
        ],
        Some(("synthese.docx", docx())),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let draft = upload(
        &editor,
        &tenant,
        &[
            ("title", "Note interne"),
            ("category", "autre"),
            ("document_date", "2027-01-01"),
        ],
        Some(("note.pdf", PDF.to_vec())),
    )
    .await;
    assert_eq!(draft.status, 303);
    let hidden = id_of(draft.header("location"));

    // The library: published documents, latest first, with their format; filters narrow it.
    let h = host(&tenant);
    let visitor = app.browser();
    let page = visitor.get(&h, "/documents").await;
    assert_eq!(page.status, 200);
    let text = page.plain();
    assert!(
        text.find("Compte rendu de la séance") < text.find("Synthèse des ateliers"),
        "{text}"
    );
    assert!(text.contains("Word (DOCX)") && text.contains("OpenDocument (ODT)") && text.contains("PDF"));
    assert!(!text.contains("Note interne"));
    let only = visitor.get(&h, "/documents?categorie=ordre_du_jour").await.plain();
    assert!(only.contains("Ordre du jour") && !only.contains("Synthèse des ateliers"));
    let year = visitor.get(&h, "/documents?annee=2026").await.plain();
    assert!(year.contains("Synthèse des ateliers") && !year.contains("Compte rendu de la séance"));
    assert_eq!(visitor.get(&h, "/documents?categorie=inconnue").await.status, 404);

    // Downloads: the bytes as uploaded, their real type, an attachment with a safe name.
    let (status, content_type, bytes) = visitor.get_bytes(&h, &format!("/documents/{minutes}")).await;
    assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
    assert_eq!(bytes, PDF);
    let response = app
        .client
        .get(format!("http://{}/documents/{agenda_doc}", app.addr))
        .header("host", &h)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.oasis.opendocument.text"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''odj.odt"),
        "{disposition}"
    );
    let response = app
        .client
        .get(format!("http://{}/documents/{minutes}", app.addr))
        .header("host", &h)
        .send()
        .await
        .unwrap();
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("CR%20s%C3%A9ance%2015-03.pdf"), "{disposition}");
    assert_eq!(visitor.get_bytes(&h, &format!("/documents/{hidden}")).await.0, 404);

    // The sitting's page lists its agenda and its minutes.
    let sitting = visitor.get(&h, &format!("/agenda/{council}")).await.plain();
    assert!(
        sitting.contains("Ordre du jour") && sitting.contains("Compte rendu de la séance"),
        "{sitting}"
    );

    // Replacing the file keeps the document and serves the new bytes.
    let edit = format!("/t/{}/documents/{minutes}", tenant.slug);
    let mut v2 = PDF.to_vec();
    v2.extend_from_slice(b"% version 2\n");
    let replaced = editor
        .submit_multipart(CONSOLE, &edit, &edit, &base, Some(("file", "cr-v2.pdf", v2.clone())))
        .await;
    assert_eq!(replaced.status, 303, "{}", replaced.body);
    assert_eq!(visitor.get_bytes(&h, &format!("/documents/{minutes}")).await.2, v2);

    // Another tenant: nothing listed, nothing downloaded, nothing editable.
    let oh = host(&other);
    assert!(
        !visitor
            .get(&oh, "/documents")
            .await
            .plain()
            .contains("Compte rendu de la séance")
    );
    assert_eq!(visitor.get_bytes(&oh, &format!("/documents/{minutes}")).await.0, 404);
    let stranger = app.staff_member(&other, Role::Admin).await;
    let theirs = format!("/t/{}/documents", other.slug);
    assert_eq!(stranger.get(CONSOLE, &format!("{theirs}/{minutes}")).await.status, 404);
    let token = stranger.get(CONSOLE, &theirs).await.csrf();
    assert_eq!(
        stranger
            .post_raw(CONSOLE, &format!("{theirs}/{minutes}/suppression"), &[("csrf", &token)])
            .await
            .status,
        404
    );
    let moderator = app.staff_member(&tenant, Role::Moderator).await;
    assert_eq!(
        moderator
            .get(CONSOLE, &format!("/t/{}/documents", tenant.slug))
            .await
            .status,
        403
    );

    // Deleted: gone from the library and from downloads.
    let deleted = editor.submit(CONSOLE, &edit, &format!("{edit}/suppression"), &[]).await;
    assert_eq!(deleted.status, 303);
    app.eventually(|| async { visitor.get_bytes(&h, &format!("/documents/{minutes}")).await.0 == 404 })
        .await;
}
