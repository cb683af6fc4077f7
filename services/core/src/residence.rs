//! Who lives on the territory: the communes of the collectivité (by INSEE code, with their
//! postal codes), as staff list them in the console, and the conditions a vote sets on its
//! voters beyond the census list — residence on the territory or in the envelope's communes,
//! nationality, age — checked when they cast.
//!
//! Residence, nationality and age are **declared** by the voter (a postal code typed, a box
//! ticked « sur l'honneur »), as CONSUL and Decidim do without a census; only a census list
//! (`core::census`) proves who someone is. Nothing declared is stored: the roll keeps a hash
//! of the voter, the box their choices, and neither says where they live.

use std::collections::HashMap;

use crate::components::{self, Instance};
use crate::{FieldErrors, Result, TenantTx};

/// A commune of the territory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Commune {
    /// Its code in the Code officiel géographique (« 59512 », « 2A004 »).
    pub insee: String,
    pub name: String,
    /// The postal codes its residents write (a big city has several, a postal code may
    /// serve several communes).
    pub postal_codes: Vec<String>,
}

/// Whether `code` has the shape of an INSEE commune code (five digits, or 2A/2B and three
/// digits for Corsica).
pub fn is_insee(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5
        && (b.iter().all(u8::is_ascii_digit)
            || (b[0] == b'2' && (b[1] == b'A' || b[1] == b'B') && b[2..].iter().all(u8::is_ascii_digit)))
}

fn is_postal(code: &str) -> bool {
    code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The list as staff type or paste it, one commune per line:
/// `code INSEE ; nom ; codes postaux` (postal codes separated by spaces or commas; `;`,
/// tabs or `|` separate the columns, so a spreadsheet's copy works). Blank lines and a
/// heading line are skipped. Every faulty line is named in the error.
pub fn parse_list(text: &str) -> std::result::Result<Vec<Commune>, FieldErrors> {
    let mut out: Vec<Commune> = Vec::new();
    let mut faults = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let columns: Vec<&str> = line.split([';', '\t', '|']).map(str::trim).collect();
        let insee = columns[0].to_uppercase();
        if n == 0 && !is_insee(&insee) && insee.to_lowercase().contains("insee") {
            continue;
        }
        let name = columns.get(1).copied().unwrap_or_default();
        let postal: Vec<String> = columns
            .get(2)
            .copied()
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let fault = if !is_insee(&insee) {
            Some(format!(
                "« {} » n'est pas un code INSEE de commune (5 caractères, comme 59512)",
                columns[0]
            ))
        } else if name.is_empty() || name.chars().count() > 200 {
            Some("indiquez le nom de la commune après son code INSEE".to_string())
        } else if let Some(bad) = postal.iter().find(|c| !is_postal(c)) {
            Some(format!("« {bad} » n'est pas un code postal (5 chiffres)"))
        } else if out.iter().any(|c| c.insee == insee) {
            Some(format!("la commune {insee} figure deux fois"))
        } else {
            None
        };
        match fault {
            Some(f) => faults.push(format!("ligne {} : {f}", n + 1)),
            None => out.push(Commune {
                insee,
                name: name.to_string(),
                postal_codes: postal,
            }),
        }
    }
    if faults.is_empty() {
        Ok(out)
    } else {
        Err(FieldErrors::one("communes", faults.join(" ; ")))
    }
}

/// The list written back as [`parse_list`] reads it.
pub fn format_list(communes: &[Commune]) -> String {
    communes
        .iter()
        .map(|c| format!("{} ; {} ; {}", c.insee, c.name, c.postal_codes.join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The territory's communes, by name.
pub async fn communes(tx: &mut TenantTx) -> Result<Vec<Commune>> {
    Ok(sqlx::query_as!(
        Commune,
        r#"select insee_code as insee, name, postal_codes from territory_commune order by name, insee_code"#
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Replaces the whole list (a département has hundreds of communes: one statement).
pub async fn replace(tx: &mut TenantTx, communes: &[Commune]) -> Result<()> {
    sqlx::query!("delete from territory_commune").execute(tx.conn()).await?;
    let insee: Vec<String> = communes.iter().map(|c| c.insee.clone()).collect();
    let names: Vec<String> = communes.iter().map(|c| c.name.clone()).collect();
    // Arrays of arrays must be rectangular: each commune's postal codes travel as one text.
    let postal: Vec<String> = communes.iter().map(|c| c.postal_codes.join(" ")).collect();
    sqlx::query!(
        "insert into territory_commune (insee_code, name, postal_codes)
         select i, n, coalesce(string_to_array(nullif(p, ''), ' '), '{}')
           from unnest($1::text[], $2::text[], $3::text[]) as c (i, n, p)",
        &insee,
        &names,
        &postal
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The INSEE codes of the territory's communes a typed code names: the commune itself for
/// an INSEE code, every commune it serves for a postal code. Empty when none is on the
/// territory.
pub async fn matching(tx: &mut TenantTx, typed: &str) -> Result<Vec<String>> {
    let code = typed.trim().to_uppercase().replace(' ', "");
    if !is_insee(&code) {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar!(
        "select insee_code from territory_commune where insee_code = $1 or $1 = any (postal_codes)",
        code
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Where a vote asks its voters to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Residence {
    #[serde(rename = "aucune")]
    Anywhere,
    /// In one of the territory's communes.
    #[serde(rename = "territoire")]
    Territory,
    /// In one of the communes of the envelope they vote in (budgets).
    #[serde(rename = "enveloppe")]
    Envelope,
}

/// What a vote's settings ask its voters to declare (its ballot's template reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Conditions {
    pub residence: Residence,
    /// Whether voters declare being French or a citizen of the European Union.
    pub nationals_only: bool,
    /// The age voters declare having reached, when no census list checks it (0: none).
    pub declared_age: i64,
}

impl Conditions {
    pub fn of(i: &Instance) -> Conditions {
        let census = i.settings.bool(components::CENSUS);
        Conditions {
            residence: match i.settings.text(components::RESIDENCE) {
                "territoire" => Residence::Territory,
                "enveloppe" => Residence::Envelope,
                _ => Residence::Anywhere,
            },
            nationals_only: i.settings.bool(components::NATIONALS_ONLY),
            declared_age: if census {
                0
            } else {
                i.settings.integer(components::MIN_AGE)
            },
        }
    }
}

/// The form's fields against the vote's conditions: `residence` (a postal or INSEE code),
/// `declare_nationality` and `declare_age` (ticked boxes). `envelope_communes` are the
/// INSEE codes of the envelope voted in, for [`Residence::Envelope`]. The errors, beside
/// their fields.
pub async fn check(
    tx: &mut TenantTx,
    conditions: Conditions,
    fields: &HashMap<String, String>,
    envelope_communes: &[String],
) -> Result<std::result::Result<(), FieldErrors>> {
    let mut errors = FieldErrors::default();
    if conditions.residence != Residence::Anywhere {
        let typed = fields.get("residence").map(|s| s.trim()).unwrap_or_default();
        let found = matching(tx, typed).await?;
        if typed.is_empty() {
            errors.push("residence", "indiquez le code postal de votre commune");
        } else if found.is_empty() {
            errors.push(
                "residence",
                "ce code postal n'est celui d'aucune commune du territoire : ce vote est réservé à ses habitant·es",
            );
        } else if conditions.residence == Residence::Envelope && !found.iter().any(|c| envelope_communes.contains(c)) {
            errors.push(
                "residence",
                "votre commune n'est pas dans cette enveloppe : votez dans l'enveloppe de votre commune",
            );
        }
    }
    let ticked = |name: &str| fields.get(name).is_some_and(|v| v == "on");
    if conditions.nationals_only && !ticked("declare_nationality") {
        errors.push(
            "declare_nationality",
            "ce vote est réservé aux personnes de nationalité française ou d'un État de l'Union européenne : cochez la déclaration pour voter",
        );
    }
    if conditions.declared_age > 0 && !ticked("declare_age") {
        errors.push(
            "declare_age",
            format!(
                "ce vote est réservé aux personnes de {} ans ou plus : cochez la déclaration pour voter",
                conditions.declared_age
            ),
        );
    }
    Ok(if errors.is_empty() { Ok(()) } else { Err(errors) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_list_reads_line_by_line_and_names_its_faults() {
        let list =
            parse_list("Code INSEE;Nom;Codes postaux\n59512 ; Roubaix ; 59100\n\n2A004;Ajaccio;20000 20090\n").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].insee, "2A004");
        assert_eq!(list[1].postal_codes, ["20000", "20090"]);
        assert_eq!(parse_list(&format_list(&list)).unwrap(), list);
        let e = parse_list("59512;Roubaix;59100\n5951;Lys;59390\n59350;Lille;5900x\n59512;Roubaix;").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("ligne 2 : « 5951 »"), "{text}");
        assert!(text.contains("ligne 3 : « 5900x »"), "{text}");
        assert!(text.contains("ligne 4 : la commune 59512 figure deux fois"), "{text}");
    }

    #[test]
    fn insee_codes_include_corsica() {
        assert!(is_insee("59350") && is_insee("2B033"));
        assert!(!is_insee("2C033") && !is_insee("5935") && !is_insee("593500"));
    }
}
