//! What content forms offer to link to (the tenant's dispositifs, its meetings), and the
//! check that a value sent back is one of them: a forged id from another tenant, or one
//! deleted meanwhile, is said beside the field.

use participe_core::FieldErrors;
use participe_core::domain::local_time;
use participe_core::{agenda, dispositifs};
use participe_web::Result;
use uuid::Uuid;

use crate::frame::InTenant;

pub struct Choice {
    pub id: Uuid,
    pub label: String,
}

/// The tenant's dispositifs, newest first.
pub async fn dispositifs(t: &InTenant) -> Result<Vec<Choice>> {
    let mut tx = t.begin().await?;
    let all = dispositifs::all(&mut tx).await?;
    tx.commit().await?;
    Ok(all
        .into_iter()
        .map(|d| Choice {
            id: d.id,
            label: d.title,
        })
        .collect())
}

/// The tenant's meetings, coming ones first, each with its day.
pub async fn events(t: &InTenant) -> Result<Vec<Choice>> {
    let mut tx = t.begin().await?;
    let all = agenda::for_console(&mut tx, 500).await?;
    tx.commit().await?;
    Ok(all
        .into_iter()
        .map(|e| Choice {
            label: format!("{} — {}", e.title, local_time::day_fr(e.starts_at)),
            id: e.id,
        })
        .collect())
}

/// The `<option>`s of a select (`value`, `label`).
pub fn options(choices: &[Choice]) -> Vec<minijinja::Value> {
    choices
        .iter()
        .map(|c| minijinja::context! { value => c.id.to_string(), label => c.label.clone() })
        .collect()
}

/// The id chosen, if any; one that is not among `choices` is an error on `field`.
pub fn pick(errors: &mut FieldErrors, field: &'static str, value: &str, choices: &[Choice]) -> Option<Uuid> {
    if value.is_empty() {
        return None;
    }
    let found = Uuid::parse_str(value)
        .ok()
        .filter(|id| choices.iter().any(|c| c.id == *id));
    if found.is_none() {
        errors.push(field, "choisissez dans la liste");
    }
    found
}
