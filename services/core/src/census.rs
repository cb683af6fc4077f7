//! Census lists: when a vote or a budget is reserved to a list of people (an electoral
//! roll, the pupils of a school…), staff upload it as CSV — an identifier and a birth date
//! per line — and a voter proves they are on it by typing both. Only keyed hashes
//! (HMAC-SHA256 under a key derived from `PARTICIPE_SECRET_KEY`, which never reaches the
//! database) are stored: a copy of the database does not give the list back.
//!
//! The voter's place in the roll is then their census entry, whatever account or desk they
//! vote from: a person who voted online cannot vote again on paper, nor the reverse.
//! People under the vote's minimum age on the day it closes are left out at the upload.

use time::Date;
use uuid::Uuid;

use crate::ballots::Voter;
use crate::domain::sealed::SecretKey;
use crate::{Result, TenantTx};

/// At most this many people on one list.
pub const MAX_ENTRIES: usize = 500_000;

/// An identifier as typed, compared without case, spaces or dashes (`AB 12-34` is `ab1234`).
fn normalize(identifier: &str) -> String {
    identifier
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A birth date as people write it: `14/07/1989` or `1989-07-14`.
pub fn parse_birth(typed: &str) -> Option<Date> {
    let t = typed.trim();
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let fr = time::macros::format_description!("[day]/[month]/[year]");
    Date::parse(t, iso).or_else(|_| Date::parse(t, fr)).ok()
}

/// The keyed hash of one person of the list of `dispositif`.
pub fn entry(key: &SecretKey, dispositif: Uuid, identifier: &str, birth: Date) -> [u8; 32] {
    key.keyed_hash(&[
        b"participe census",
        dispositif.as_bytes(),
        normalize(identifier).as_bytes(),
        birth.to_string().as_bytes(),
    ])
}

/// The voter a census entry is, in the roll.
pub fn voter(dispositif: Uuid, entry: &[u8; 32]) -> Voter {
    Voter::census(dispositif, entry)
}

/// What an upload gave.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upload {
    /// People on the list.
    pub listed: usize,
    /// Lines left out: under the minimum age on the closing day.
    pub under_age: usize,
}

fn age_on(birth: Date, day: Date) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month() as u8, day.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// Reads a list: `identifiant;date_de_naissance` per line (`,` works too), a header line
/// allowed. Every bad line is reported with its number; the list is taken whole or not at
/// all.
pub fn parse(
    key: &SecretKey,
    dispositif: Uuid,
    csv: &[u8],
    min_age: i32,
    closes_on: Date,
) -> std::result::Result<(Vec<[u8; 32]>, Upload), Vec<String>> {
    let text = String::from_utf8_lossy(csv);
    let text = text.trim_start_matches('\u{feff}');
    let separator = if text.lines().next().is_some_and(|l| l.contains(';')) {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let (mut entries, mut problems, mut under_age) = (Vec::new(), Vec::new(), 0);
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let Ok(record) = record else {
            problems.push(format!("ligne {line} : illisible"));
            continue;
        };
        let (identifier, birth) = (record.get(0).unwrap_or("").trim(), record.get(1).unwrap_or("").trim());
        if identifier.is_empty() && birth.is_empty() {
            continue;
        }
        let birth_date = parse_birth(birth);
        if line == 1 && birth_date.is_none() {
            continue; // the header
        }
        match birth_date {
            _ if normalize(identifier).is_empty() => problems.push(format!("ligne {line} : identifiant manquant")),
            None => problems.push(format!(
                "ligne {line} : date de naissance « {birth} » illisible (jj/mm/aaaa)"
            )),
            Some(b) if age_on(b, closes_on) < min_age => under_age += 1,
            Some(b) => entries.push(entry(key, dispositif, identifier, b)),
        }
        if problems.len() >= 20 {
            problems.push("… et peut-être d'autres lignes : corrigez celles-ci d'abord".into());
            break;
        }
    }
    if entries.len() > MAX_ENTRIES {
        problems.push(format!("{MAX_ENTRIES} personnes au plus sur une liste"));
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push("la liste ne contient personne".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    entries.sort();
    entries.dedup();
    let listed = entries.len();
    Ok((entries, Upload { listed, under_age }))
}

/// Replaces the list of `dispositif` with `entries`.
pub async fn replace(tx: &mut TenantTx, dispositif: Uuid, entries: &[[u8; 32]]) -> Result<()> {
    sqlx::query!("delete from census_entry where dispositif_id = $1", dispositif)
        .execute(tx.conn())
        .await?;
    for chunk in entries.chunks(10_000) {
        let bytes: Vec<Vec<u8>> = chunk.iter().map(|e| e.to_vec()).collect();
        sqlx::query!(
            "insert into census_entry (dispositif_id, entry) select $1, unnest($2::bytea[])",
            dispositif,
            &bytes
        )
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// How many people the list of `dispositif` holds (0: no list).
pub async fn size(tx: &mut TenantTx, dispositif: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from census_entry where dispositif_id = $1"#,
        dispositif
    )
    .fetch_one(tx.conn())
    .await?)
}

pub async fn is_listed(tx: &mut TenantTx, dispositif: Uuid, entry: &[u8; 32]) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from census_entry where dispositif_id = $1 and entry = $2) as "listed!""#,
        dispositif,
        &entry[..]
    )
    .fetch_one(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_env_value("une clé de test assez longue pour HKDF, 32+").unwrap()
    }

    #[test]
    fn a_list_is_read_whole_or_refused_line_by_line() {
        let (k, d) = (key(), Uuid::new_v4());
        let closes = time::macros::date!(2027 - 06 - 30);
        let csv = "identifiant;naissance\nAB-12;14/07/1989\nCD 34;2012-01-01\nab12;14/07/1989\n";
        let (entries, upload) = parse(&k, d, csv.as_bytes(), 16, closes).unwrap();
        assert_eq!(
            upload,
            Upload {
                listed: 1,
                under_age: 1
            },
            "the minor is left out, the duplicate once"
        );
        assert_eq!(entries[0], entry(&k, d, "ab 12", time::macros::date!(1989 - 07 - 14)));
        assert_ne!(
            entry(&k, d, "AB-12", time::macros::date!(1989 - 07 - 14)),
            entry(&k, Uuid::new_v4(), "AB-12", time::macros::date!(1989 - 07 - 14)),
            "another vote's list does not match"
        );
        let bad = parse(&k, d, b"AB;14/07/1989\n;01/01/1990\nEF;hier\n", 0, closes).unwrap_err();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[1].starts_with("ligne 3"));
    }

    #[test]
    fn age_is_counted_on_the_closing_day() {
        let birth = time::macros::date!(2011 - 07 - 01);
        assert_eq!(age_on(birth, time::macros::date!(2027 - 06 - 30)), 15);
        assert_eq!(age_on(birth, time::macros::date!(2027 - 07 - 01)), 16);
    }
}
