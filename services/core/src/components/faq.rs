//! Questions fréquentes: staff write questions and their answers (Markdown) for a
//! dispositif; the portal lists them, each answer unfolding under its question (HTML
//! `<details>`, no JavaScript). The example of `docs/architecture.md`, « Writing a component ».

use futures::FutureExt;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::Manifest;
use crate::dispositifs::{Dispositif, Kind};
use crate::{Error, FieldErrors, Result, TenantTx};

pub static MANIFEST: Manifest = Manifest {
    key: "questions",
    name: "Questions fréquentes",
    description: "Les questions que les participant·es se posent, avec leurs réponses.",
    hosts: &Kind::ALL,
    default_for: &[],
    settings: &[],
    phases: &[],
    actions: &[],
    tables: &["faq_question"],
    open_data: &[],
    search: &[],
    booklet: false,
    counts: &[("questions fréquentes", count)],
    ops_table: None,
    nav: None,
    holds: Some(|tx, d| held(tx, d).boxed()),
    demo: Some(|tx, _, d| demo(tx, d).boxed()),
};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Question {
    pub id: Uuid,
    pub question: String,
    /// Markdown, sanitised when shown.
    pub answer: String,
}

/// A question as staff typed it, checked.
pub struct QuestionWrite {
    pub question: String,
    pub answer: String,
}

impl QuestionWrite {
    pub fn parse(question: &str, answer: &str) -> std::result::Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let (question, answer) = (question.trim(), answer.trim());
        if question.is_empty() || question.chars().count() > 300 {
            errors.push("question", "écrivez la question (300 caractères au plus)");
        }
        if answer.is_empty() || answer.chars().count() > 10_000 {
            errors.push("answer", "écrivez la réponse (10 000 caractères au plus)");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(QuestionWrite {
            question: question.into(),
            answer: answer.into(),
        })
    }
}

pub async fn list(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Question>> {
    Ok(sqlx::query_as!(
        Question,
        "select id, question, answer from faq_question where dispositif_id = $1 order by position, created_at limit 200",
        dispositif
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn add(tx: &mut TenantTx, dispositif: Uuid, q: &QuestionWrite) -> Result<Uuid> {
    Ok(sqlx::query_scalar!(
        "insert into faq_question (dispositif_id, question, answer, position)
         values ($1, $2, $3, coalesce((select max(position) + 1 from faq_question where dispositif_id = $1), 0))
         returning id",
        dispositif,
        q.question,
        q.answer
    )
    .fetch_one(tx.conn())
    .await?)
}

pub async fn delete(tx: &mut TenantTx, dispositif: Uuid, id: Uuid) -> Result<()> {
    let done = sqlx::query!(
        "delete from faq_question where id = $1 and dispositif_id = $2",
        id,
        dispositif
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound("question".into()));
    }
    Ok(())
}

fn count(tx: &mut TenantTx) -> BoxFuture<'_, Result<i64>> {
    Box::pin(async move {
        Ok(sqlx::query_scalar!(r#"select count(*) as "n!" from faq_question"#)
            .fetch_one(tx.conn())
            .await?)
    })
}

async fn demo(tx: &mut TenantTx, d: &Dispositif) -> Result<()> {
    let q = QuestionWrite::parse(
        "Qui peut participer ?",
        "Toute personne qui vit, travaille ou étudie sur le territoire, **sans condition d'âge**.",
    )
    .map_err(Error::Invalid)?;
    add(tx, d.id, &q).await?;
    Ok(())
}

async fn held(tx: &mut TenantTx, d: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from faq_question where dispositif_id = $1"#,
        d
    )
    .fetch_one(tx.conn())
    .await?)
}
