//! The ballot box shared by the participatory budget and the votes: one person, one ballot,
//! and nothing that links a ballot to its voter (CNIL délibération 2019-053, first level).
//!
//! Casting writes two rows in one transaction: the voter in the **roll** (`ballot_roll`, a
//! SHA-256 of their identity, primary key with the dispositif: a second cast, even at the
//! same instant, hits the key and is refused) and the ballot in the **box** (`ballot`,
//! `ballot_choice`) with a random id and a random receipt and no voter, time or sequence.
//! Staff see turnout; nobody sees who voted what. After the close, the box is published
//! sorted by receipt with a SHA-256 of its canonical text ([`Published`]), so that each voter
//! finds their ballot and anyone can recount (`docs/recount.md`).
//!
//! What the rows cannot hide: PostgreSQL stores rows in the order they arrive, so someone
//! reading the tables' files (not their contents through SQL) could pair the n-th voter with
//! the n-th ballot. The platform's database operators are trusted at this level, as CNIL's
//! first level allows; [`reorder_box`], run at the close, rewrites the box in receipt order
//! (`cluster`) to end even that.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Error, Result, TenantTx};

/// How a ballot reached the box (published as stored: `en_ligne`, `papier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Channel {
    #[serde(rename = "en_ligne")]
    Online,
    #[serde(rename = "papier")]
    Paper,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "en_ligne",
            Channel::Paper => "papier",
        }
    }
}

/// Who votes, as the roll knows them: a SHA-256 of a stable identity, never an account id.
/// When a vote asks for a verified identity it is that identity (a person who deletes their
/// account and makes another cannot vote again); otherwise the account.
#[derive(Clone, PartialEq, Eq)]
pub struct Voter([u8; 32]);

impl std::fmt::Debug for Voter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Voter(…)")
    }
}

impl Voter {
    fn of(dispositif: Uuid, identity: &str) -> Voter {
        let mut hash = Sha256::new();
        hash.update(b"participe ballot roll\0");
        hash.update(dispositif.as_bytes());
        hash.update(identity.as_bytes());
        Voter(hash.finalize().into())
    }

    /// A citizen's account.
    pub fn account(dispositif: Uuid, citizen: Uuid) -> Voter {
        Voter::of(dispositif, &format!("account:{citizen}"))
    }

    /// A verified identity: the provider's issuer and subject.
    pub fn identity(dispositif: Uuid, issuer: &str, subject: &str) -> Voter {
        Voter::of(dispositif, &format!("identity:{issuer}\0{subject}"))
    }

    /// Where `item` stands in this voter's own order of the ballot: every voter sees the
    /// projects in an order of their own (against the bias of the first place), the same
    /// each time they come back.
    pub fn order_key(&self, item: Uuid) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"participe ballot order\0");
        hash.update(self.0);
        hash.update(item.as_bytes());
        hash.finalize().into()
    }

    /// A person of the vote's census list, by their entry's keyed hash (`crate::census`):
    /// the same online and at the desk.
    pub fn census(dispositif: Uuid, entry: &[u8; 32]) -> Voter {
        let hex: String = entry.iter().map(|b| format!("{b:02x}")).collect();
        Voter::of(dispositif, &format!("census:{hex}"))
    }

    /// A paper voter, by the identifier on the desk's list (an electoral-roll number).
    pub fn paper(dispositif: Uuid, listed_as: &str) -> Voter {
        Voter::of(dispositif, &format!("paper:{}", listed_as.trim()))
    }
}

/// The code a voter keeps to find their ballot in the published box: 16 characters of an
/// alphabet without 0/O or 1/I, in four groups (80 random bits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Receipt(String);

impl Receipt {
    const ALPHABET: &'static [u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    fn new() -> Receipt {
        let bytes: [u8; 16] = rand::random();
        let mut code = String::with_capacity(19);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                code.push('-');
            }
            code.push(Self::ALPHABET[usize::from(b & 31)] as char);
        }
        Receipt(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a ballot holds: items (a project, an option) with their weight, each item once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices(Vec<(Uuid, i32)>);

impl Choices {
    /// Sorted, each item once; weights of 1 to 1,000. The component has checked the basket
    /// against its rules first; this is the box's own guard.
    pub fn new(mut items: Vec<(Uuid, i32)>) -> Option<Choices> {
        items.sort();
        let unique = items.windows(2).all(|w| w[0].0 != w[1].0);
        (unique && items.iter().all(|(_, w)| (1..=1000).contains(w))).then_some(Choices(items))
    }

    pub fn items(&self) -> &[(Uuid, i32)] {
        &self.0
    }
}

/// Why a ballot was not cast.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// This voter is in the roll already (online or on paper).
    AlreadyVoted,
}

/// Casts a ballot: the voter into the roll and the choices into the box, in the caller's
/// transaction (which also checked that the vote is open and the basket valid). A voter who
/// has voted, including in a transaction that commits while this one waits on the roll's
/// key, is refused, and nothing is written.
pub async fn cast(
    tx: &mut TenantTx,
    dispositif: Uuid,
    voter: &Voter,
    choices: &Choices,
    channel: Channel,
) -> Result<std::result::Result<Receipt, Refused>> {
    let rolled = sqlx::query!(
        "insert into ballot_roll (dispositif_id, voter, channel) values ($1, $2, $3)
         on conflict do nothing",
        dispositif,
        &voter.0[..],
        channel.as_str()
    )
    .execute(tx.conn())
    .await?;
    if rolled.rows_affected() == 0 {
        return Ok(Err(Refused::AlreadyVoted));
    }
    let receipt = Receipt::new();
    // No default id from a sequence or the clock: `gen_random_uuid()` is version 4.
    let ballot = sqlx::query_scalar!(
        "insert into ballot (dispositif_id, receipt, channel) values ($1, $2, $3) returning id",
        dispositif,
        receipt.as_str(),
        channel.as_str()
    )
    .fetch_one(tx.conn())
    .await?;
    let (items, weights): (Vec<Uuid>, Vec<i32>) = choices.0.iter().copied().unzip();
    sqlx::query!(
        "insert into ballot_choice (ballot_id, item, weight)
         select $1, item, weight from unnest($2::uuid[], $3::int[]) as c (item, weight)",
        ballot,
        &items,
        &weights
    )
    .execute(tx.conn())
    .await?;
    Ok(Ok(receipt))
}

/// Who a citizen is in a vote's roll: their verified identity when the vote asks for one
/// (a second account gives no second ballot), else their account. The portal and the
/// paper desk mark people alike, so nobody votes on both.
pub async fn citizen_voter(tx: &mut TenantTx, dispositif: Uuid, citizen: Uuid, verified_only: bool) -> Result<Voter> {
    if verified_only && let Some((provider, subject)) = crate::identity::first_identity(tx, citizen).await? {
        return Ok(Voter::identity(dispositif, &provider.to_string(), &subject));
    }
    Ok(Voter::account(dispositif, citizen))
}

/// Whether this voter is in the roll of this dispositif.
pub async fn has_voted(tx: &mut TenantTx, dispositif: Uuid, voter: &Voter) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from ballot_roll where dispositif_id = $1 and voter = $2) as "voted!""#,
        dispositif,
        &voter.0[..]
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Who took part, by channel: what staff see while the vote runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Turnout {
    pub online: i64,
    pub paper: i64,
}

pub async fn turnout(tx: &mut TenantTx, dispositif: Uuid) -> Result<Turnout> {
    let row = sqlx::query!(
        r#"select count(*) filter (where channel = 'en_ligne') as "online!",
                  count(*) filter (where channel = 'papier') as "paper!"
           from ballot_roll where dispositif_id = $1"#,
        dispositif
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(Turnout {
        online: row.online,
        paper: row.paper,
    })
}

/// Whether any ballot is in the box: from then on, what was on the ballot cannot change.
pub async fn any_cast(tx: &mut TenantTx, dispositif: Uuid) -> Result<bool> {
    let t = turnout(tx, dispositif).await?;
    Ok(t.online + t.paper > 0)
}

/// Rewrites the box in receipt order, so that not even the order rows were stored in says
/// when a ballot arrived (run at the close; see the module's note).
pub async fn reorder_box(tx: &mut TenantTx) -> Result<()> {
    sqlx::query("cluster ballot using ballot_dispositif_idx")
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One ballot as published: its receipt and its choices.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedBallot {
    pub receipt: String,
    pub channel: Channel,
    /// (item, weight), sorted by item.
    pub choices: Vec<(Uuid, i32)>,
}

/// The whole box of a dispositif, sorted by receipt (a blank ballot, without choices, too),
/// with the SHA-256 of its canonical text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    pub ballots: Vec<PublishedBallot>,
    /// Lowercase hex SHA-256 of [`Published::canonical`].
    pub sha256: String,
}

impl Published {
    /// One line per ballot, in receipt order: `receipt channel item:weight item:weight…`,
    /// each line ending with `\n`. What the digest is taken over; `docs/recount.md` rebuilds
    /// it from the JSON.
    pub fn canonical(ballots: &[PublishedBallot]) -> String {
        let mut text = String::new();
        for b in ballots {
            text.push_str(&b.receipt);
            text.push(' ');
            text.push_str(b.channel.as_str());
            for (item, weight) in &b.choices {
                text.push_str(&format!(" {item}:{weight}"));
            }
            text.push('\n');
        }
        text
    }
}

/// The box of `dispositif`, for publication after the close (the caller checks the close).
pub async fn published(tx: &mut TenantTx, dispositif: Uuid) -> Result<Published> {
    let ballots = sorted_box(tx, dispositif).await?;
    let sha256 = format!("{:x}", Sha256::digest(Published::canonical(&ballots).as_bytes()));
    Ok(Published { ballots, sha256 })
}

/// Every ballot of `dispositif`, by receipt.
async fn sorted_box(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<PublishedBallot>> {
    let rows = sqlx::query!(
        r#"select b.receipt, b.channel,
                  coalesce(array_agg(c.item order by c.item) filter (where c.item is not null), '{}') as "items!",
                  coalesce(array_agg(c.weight order by c.item) filter (where c.item is not null), '{}') as "weights!"
           from ballot b left join ballot_choice c on c.ballot_id = b.id
           where b.dispositif_id = $1
           group by b.id
           order by b.receipt"#,
        dispositif
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PublishedBallot {
            receipt: r.receipt,
            channel: if r.channel == "papier" {
                Channel::Paper
            } else {
                Channel::Online
            },
            choices: r.items.into_iter().zip(r.weights).collect(),
        })
        .collect())
}

/// Each item's total weight in the box: votes for a project, points, answers.
pub async fn tally(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"select c.item, sum(c.weight)::bigint as "total!"
           from ballot b join ballot_choice c on c.ballot_id = b.id
           where b.dispositif_id = $1
           group by c.item"#,
        dispositif
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(|r| (r.item, r.total)).collect())
}

/// Every ballot's items, for the rules that need whole ballots (equal shares).
pub async fn ballots(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<Vec<(Uuid, i32)>>> {
    Ok(sorted_box(tx, dispositif)
        .await?
        .into_iter()
        .map(|b| b.choices)
        .collect())
}

/// The box's distinct approval sets (each ballot's items, sorted) with how many ballots
/// hold each: what equal shares needs. Each ballot comes as its items' 16 bytes end to
/// end, and is grouped here: decoding 100,000 `uuid[]` cost more than PostgreSQL's whole
/// query, and sorting arrays to group them there more still (`docs/benchmarks.md`).
pub async fn approval_groups(tx: &mut TenantTx, dispositif: Uuid) -> Result<Vec<(Vec<Uuid>, u64)>> {
    let sets = sqlx::query_scalar!(
        r#"select string_agg(uuid_send(c.item), ''::bytea order by c.item) as "items!"
             from ballot b join ballot_choice c on c.ballot_id = b.id
            where b.dispositif_id = $1
            group by b.id"#,
        dispositif
    )
    .fetch_all(tx.conn())
    .await?;
    let mut groups: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::with_capacity(sets.len());
    for set in sets {
        *groups.entry(set).or_default() += 1;
    }
    let mut out: Vec<(Vec<Uuid>, u64)> = groups
        .into_iter()
        .map(|(bytes, n)| {
            let items = bytes
                .chunks_exact(16)
                .map(|b| Uuid::from_bytes(b.try_into().expect("16 bytes")))
                .collect();
            (items, n)
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

impl From<Refused> for Error {
    fn from(_: Refused) -> Self {
        Error::Invalid(crate::FieldErrors::one(
            "ballot",
            "vous avez déjà voté : un bulletin déposé est définitif",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_random_codes_of_the_published_shape() {
        let a = Receipt::new();
        let b = Receipt::new();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.as_str().split('-').collect();
        assert_eq!(parts.len(), 4);
        assert!(
            parts
                .iter()
                .all(|p| p.len() == 4 && p.bytes().all(|c| Receipt::ALPHABET.contains(&c)))
        );
    }

    #[test]
    fn a_voter_is_a_hash_that_depends_on_the_vote_and_the_person() {
        let (d, e, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(Voter::account(d, c), Voter::account(d, c));
        assert_ne!(Voter::account(d, c), Voter::account(e, c), "another vote");
        assert_ne!(Voter::identity(d, "fc", "a"), Voter::identity(d, "f", "ca"));
        assert!(!format!("{:?}", Voter::account(d, c)).contains(&c.to_string()));
    }

    #[test]
    fn choices_hold_each_item_once_with_a_weight() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(Choices::new(vec![(a, 1), (b, 3)]).is_some());
        assert!(Choices::new(vec![(a, 1), (a, 1)]).is_none());
        assert!(Choices::new(vec![(a, 0)]).is_none());
        let line = Published::canonical(&[PublishedBallot {
            receipt: "AAAA-BBBB-CCCC-DDDD".into(),
            channel: Channel::Online,
            choices: vec![(a, 1)],
        }]);
        assert_eq!(line, format!("AAAA-BBBB-CCCC-DDDD en_ligne {a}:1\n"));
    }
}
