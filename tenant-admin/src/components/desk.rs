//! The paper desk of a vote (a budget's or a vote's questions): who the person at the desk
//! is in the roll. Marked as the portal would mark them — by the census list when the vote
//! has one, else by their account (their verified identity when the vote asks for one) when
//! they give its address, else by their number on the desk's list — so that nobody votes
//! both online and on paper.

use std::collections::HashMap;

use participe_core::ballots::Voter;
use participe_core::components::{self as core, Instance};
use participe_core::dispositifs::Dispositif;
use participe_core::{FieldErrors, TenantTx};
use participe_web::Result;

use crate::frame::InTenant;

/// The voter the desk's form names (`listed_as`, `census_birth`, `email`), or `None` with
/// the reason pushed on `errors`. `action` is the vote's action, for its open phase and its
/// identity requirement.
pub async fn voter(
    t: &InTenant,
    tx: &mut TenantTx,
    d: &Dispositif,
    i: &Instance,
    action: &str,
    fields: &HashMap<String, String>,
    errors: &mut FieldErrors,
) -> Result<Option<Voter>> {
    let today = time::OffsetDateTime::now_utc().date();
    let listed_as = fields.get("listed_as").map(|s| s.trim()).unwrap_or_default();
    let email = fields.get("email").map(|s| s.trim()).unwrap_or_default();
    let declared = i.manifest.action(action);
    if !declared.is_some_and(|a| i.is_open(a, d, today)) {
        errors.push(
            "listed_as",
            "le vote n'est pas ouvert : aucun bulletin ne peut être ajouté",
        );
    }
    if i.settings.bool(core::CENSUS) {
        // With a census list the desk marks the person as the list knows them: the portal
        // does the same.
        let birth = fields
            .get("census_birth")
            .and_then(|b| participe_core::census::parse_birth(b));
        return Ok(match (t.console.app.config.secret_key.as_ref(), birth) {
            (None, _) => {
                errors.push(
                    "listed_as",
                    "la liste des votant·es demande la clé secrète de la plateforme",
                );
                None
            }
            (_, None) => {
                errors.push(
                    "census_birth",
                    "la date de naissance de la personne, au format jj/mm/aaaa",
                );
                None
            }
            (Some(key), Some(birth)) => {
                let entry = participe_core::census::entry(key, d.id, listed_as, birth);
                if participe_core::census::is_listed(tx, d.id, &entry).await? {
                    Some(participe_core::census::voter(d.id, &entry))
                } else {
                    errors.push(
                        "listed_as",
                        "cette personne ne figure pas sur la liste des votant·es (identifiant et date de naissance)",
                    );
                    None
                }
            }
        });
    }
    if !email.is_empty() {
        let verified_only = declared.is_some_and(|a| i.who(a) == core::Who::VerifiedCitizen);
        return Ok(match participe_core::domain::Email::parse(email) {
            Ok(address) => match participe_core::citizens::find_by_email(tx, &address).await? {
                Some(c) => Some(participe_core::ballots::citizen_voter(tx, d.id, c.id, verified_only).await?),
                None => {
                    errors.push("email", "aucun compte n'a cette adresse : laissez le champ vide");
                    None
                }
            },
            Err(_) => {
                errors.push("email", "une adresse e-mail, ou rien");
                None
            }
        });
    }
    if !listed_as.is_empty() && listed_as.chars().count() <= 64 {
        return Ok(Some(Voter::paper(d.id, listed_as)));
    }
    errors.push(
        "listed_as",
        "indiquez le numéro de la personne sur la liste d'émargement (64 caractères au plus)",
    );
    Ok(None)
}

/// What the desk's form shows again: its identity fields, as typed.
pub fn typed(fields: &HashMap<String, String>) -> minijinja::Value {
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    minijinja::context! { listed_as => get("listed_as"), census_birth => get("census_birth"), email => get("email") }
}
