//! The document library: minutes, agendas, productions and rules, as files staff upload
//! (checked by their bytes: PDF, ODT, DOCX, XLSX, PNG, JPEG, WebP), with a title, a date,
//! a category, and links to a dispositif and a meeting. Every function that reads or
//! writes the `document` table takes the tenant's `TenantTx`.

use std::str::FromStr;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::{Error, FieldErrors, Result, TenantTx};

/// Documents per page of the portal's library.
pub const PER_PAGE: i64 = 25;

/// What a file is, known from its bytes (never from its name or the browser's word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Odt,
    Docx,
    Xlsx,
    Png,
    Jpeg,
    Webp,
}

impl FileKind {
    /// Recognises an accepted kind of file from its first bytes.
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        use infer::{archive, doc, image, odf};
        if archive::is_pdf(bytes) {
            Some(FileKind::Pdf)
        } else if odf::is_odt(bytes) {
            Some(FileKind::Odt)
        } else if doc::is_docx(bytes) {
            Some(FileKind::Docx)
        } else if doc::is_xlsx(bytes) {
            Some(FileKind::Xlsx)
        } else if image::is_png(bytes) {
            Some(FileKind::Png)
        } else if image::is_jpeg(bytes) {
            Some(FileKind::Jpeg)
        } else if image::is_webp(bytes) {
            Some(FileKind::Webp)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Odt => "application/vnd.oasis.opendocument.text",
            FileKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Odt => "odt",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Webp => "webp",
        }
    }

    /// How the portal names the format beside the link.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF",
            FileKind::Odt => "OpenDocument (ODT)",
            FileKind::Docx => "Word (DOCX)",
            FileKind::Xlsx => "Excel (XLSX)",
            FileKind::Png => "image PNG",
            FileKind::Jpeg => "image JPEG",
            FileKind::Webp => "image WebP",
        }
    }

    pub fn from_content_type(content_type: &str) -> Option<FileKind> {
        [
            FileKind::Pdf,
            FileKind::Odt,
            FileKind::Docx,
            FileKind::Xlsx,
            FileKind::Png,
            FileKind::Jpeg,
            FileKind::Webp,
        ]
        .into_iter()
        .find(|k| k.content_type() == content_type)
    }
}

/// The name a file is downloaded under: the uploaded name's stem, kept to letters, digits
/// and a few signs, with the extension of what the file really is.
pub fn download_name(uploaded: &str, kind: FileKind) -> String {
    let stem = uploaded.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " -_().,'".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(150)
        .collect();
    let clean = clean.trim();
    let stem = if clean.is_empty() { "document" } else { clean };
    format!("{stem}.{}", kind.extension())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    CompteRendu,
    OrdreDuJour,
    Production,
    Reglement,
    Autre,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::CompteRendu,
        Category::OrdreDuJour,
        Category::Production,
        Category::Reglement,
        Category::Autre,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::CompteRendu => "compte_rendu",
            Category::OrdreDuJour => "ordre_du_jour",
            Category::Production => "production",
            Category::Reglement => "reglement",
            Category::Autre => "autre",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::CompteRendu => "Compte rendu",
            Category::OrdreDuJour => "Ordre du jour",
            Category::Production => "Production",
            Category::Reglement => "Règlement",
            Category::Autre => "Autre document",
        }
    }
}

impl FromStr for Category {
    type Err = ();

    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        Category::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Document {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    #[serde(serialize_with = "iso_date")]
    pub document_date: Date,
    pub dispositif_id: Option<Uuid>,
    pub dispositif_slug: Option<String>,
    pub dispositif_title: Option<String>,
    pub event_id: Option<Uuid>,
    pub event_title: Option<String>,
    pub file_key: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub published: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Document {
    pub fn category_label(&self) -> &'static str {
        self.category.parse::<Category>().map_or("Document", Category::label)
    }

    pub fn format_label(&self) -> &'static str {
        FileKind::from_content_type(&self.content_type).map_or("fichier", FileKind::label)
    }
}

/// A date as `2027-03-15` (time's own serde writes a tuple).
fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(date)
}

/// A document's description as staff write it, checked.
#[derive(Debug, Clone)]
pub struct DocumentWrite {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub document_date: Date,
    pub dispositif_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub published: bool,
}

impl DocumentWrite {
    pub fn check(&self) -> std::result::Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            errors.push("title", "indiquez un titre (200 caractères au plus)");
        }
        if self.description.chars().count() > 1000 {
            errors.push("description", "1 000 caractères au plus");
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A stored file, as recorded with its document.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub key: String,
    pub name: String,
    pub kind: FileKind,
    pub size: i64,
}

macro_rules! document_query {
    ($rest:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Document,
            r#"select doc.id, doc.title, doc.description, doc.category, doc.document_date, doc.dispositif_id,
                      d.slug as "dispositif_slug?", d.title as "dispositif_title?",
                      doc.event_id, e.title as "event_title?",
                      doc.file_key, doc.file_name, doc.content_type, doc.size_bytes, doc.published, doc.updated_at
                 from document doc
                 left join dispositif d on d.id = doc.dispositif_id
                 left join event e on e.id = doc.event_id "# + $rest,
            $($arg),*
        )
    };
}

pub async fn create(tx: &mut TenantTx, w: &DocumentWrite, file: &StoredFile) -> Result<Uuid> {
    w.check().map_err(Error::Invalid)?;
    Ok(sqlx::query_scalar!(
        "insert into document (title, description, category, document_date, dispositif_id, event_id, file_key,
                               file_name, content_type, size_bytes, published)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        w.title.trim(),
        w.description.trim(),
        w.category.as_str(),
        w.document_date,
        w.dispositif_id,
        w.event_id,
        file.key,
        file.name,
        file.kind.content_type(),
        file.size,
        w.published
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Updates a document's description, and its file when a new one is given; returns the
/// storage key of a file no longer used, for deletion.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    w: &DocumentWrite,
    file: Option<&StoredFile>,
) -> Result<Option<String>> {
    w.check().map_err(Error::Invalid)?;
    let old = sqlx::query_scalar!("select file_key from document where id = $1 for update", id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::NotFound("document".into()))?;
    sqlx::query!(
        "update document set title = $2, description = $3, category = $4, document_date = $5, dispositif_id = $6,
                event_id = $7, published = $8
          where id = $1",
        id,
        w.title.trim(),
        w.description.trim(),
        w.category.as_str(),
        w.document_date,
        w.dispositif_id,
        w.event_id,
        w.published
    )
    .execute(tx.conn())
    .await?;
    let Some(file) = file else { return Ok(None) };
    sqlx::query!(
        "update document set file_key = $2, file_name = $3, content_type = $4, size_bytes = $5 where id = $1",
        id,
        file.key,
        file.name,
        file.kind.content_type(),
        file.size
    )
    .execute(tx.conn())
    .await?;
    Ok(Some(old).filter(|o| *o != file.key))
}

/// Deletes a document; returns its file's storage key, for deletion.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<String> {
    sqlx::query_scalar!("delete from document where id = $1 returning file_key", id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::NotFound("document".into()))
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Document>> {
    Ok(document_query!("where doc.id = $1", id)
        .fetch_optional(tx.conn())
        .await?)
}

pub async fn public_by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Document>> {
    Ok(document_query!("where doc.id = $1 and doc.published", id)
        .fetch_optional(tx.conn())
        .await?)
}

pub async fn for_console(tx: &mut TenantTx, limit: i64) -> Result<Vec<Document>> {
    Ok(
        document_query!("order by doc.document_date desc, doc.created_at desc limit $1", limit)
            .fetch_all(tx.conn())
            .await?,
    )
}

/// The portal's filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub dispositif: Option<Uuid>,
    pub category: Option<Category>,
    pub year: Option<i32>,
}

/// A page of published documents, latest first, and whether there is a next page.
pub async fn list(tx: &mut TenantTx, f: &Filter, page: i64) -> Result<(Vec<Document>, bool)> {
    let offset = (page.max(1) - 1) * PER_PAGE;
    let mut docs = document_query!(
        "where doc.published
           and ($1::uuid is null or doc.dispositif_id = $1)
           and ($2::text is null or doc.category = $2)
           and ($3::int is null or extract(year from doc.document_date) = $3)
         order by doc.document_date desc, doc.id limit $4 offset $5",
        f.dispositif,
        f.category.map(Category::as_str),
        f.year,
        PER_PAGE + 1,
        offset
    )
    .fetch_all(tx.conn())
    .await?;
    let more = docs.len() as i64 > PER_PAGE;
    docs.truncate(PER_PAGE as usize);
    Ok((docs, more))
}

/// A dispositif's latest `n` published documents, for its page.
pub async fn latest(tx: &mut TenantTx, dispositif: Uuid, n: i64) -> Result<Vec<Document>> {
    Ok(document_query!(
        "where doc.published and doc.dispositif_id = $1 order by doc.document_date desc, doc.id limit $2",
        dispositif,
        n
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The years documents are dated in, latest first, for the filter.
pub async fn years(tx: &mut TenantTx) -> Result<Vec<i32>> {
    Ok(sqlx::query_scalar!(
        r#"select distinct extract(year from document_date)::int as "year!" from document
            where published order by 1 desc limit 100"#
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The published documents of a meeting (its agenda, its minutes).
pub async fn of_event(tx: &mut TenantTx, event: Uuid) -> Result<Vec<Document>> {
    Ok(document_query!(
        "where doc.published and doc.event_id = $1 order by doc.category, doc.document_date limit 100",
        event
    )
    .fetch_all(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_bytes_and_named_by_them() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(FileKind::Pdf));
        assert_eq!(FileKind::sniff(b"<html><script>"), None);
        assert_eq!(FileKind::sniff(b"PK\x03\x04not really a zip"), None);
        assert_eq!(
            download_name("../../Compte rendu <séance>.exe", FileKind::Pdf),
            "Compte rendu _séance_.pdf"
        );
        assert_eq!(download_name("", FileKind::Docx), "document.docx");
        assert_eq!(
            download_name("C:\\Users\\a\\ordre.du.jour.pdf", FileKind::Pdf),
            "ordre.du.jour.pdf"
        );
    }
}
