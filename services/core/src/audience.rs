//! Audience statistics without cookies or stored addresses: each page a portal serves is
//! counted for a visitor known only by a hash of a salt of the day, the tenant, the
//! address and the browser's name. The salt is random, shared by every process through
//! the platform table `audience_salt`, and deleted when its day is over, so that yesterday's
//! hashes can be tied to nobody — no consent banner is needed. A visit is a visitor's
//! views with no more than 30 minutes between two. Counts are kept in memory and added
//! to the tenant's tables about once a minute ([`Audience::flush`]), like traffic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::fleet::registry;
use crate::{Result, TenantTx};

/// Gap after which a visitor's next view starts a new visit.
pub const VISIT_GAP_SECS: i64 = 30 * 60;
/// Tenants and visitors counted between two flushes, at most.
const MAX_VISITORS: usize = 200_000;

#[derive(Default)]
struct TenantTally {
    /// Per visitor of the day: (views, new visits) since the last flush.
    visitors: HashMap<[u8; 16], (i32, i32)>,
    pages: HashMap<String, i32>,
}

#[derive(Default)]
struct State {
    day: Option<Date>,
    salt: [u8; 32],
    /// When each visitor was last seen today (kept across flushes, to tell visits apart).
    last_seen: HashMap<(Uuid, [u8; 16]), i64>,
    tallies: HashMap<Uuid, TenantTally>,
}

#[derive(Default)]
pub struct Audience {
    state: Mutex<State>,
}

/// The visitor's hash: what is counted instead of who.
fn visitor(salt: &[u8; 32], tenant: Uuid, ip: IpAddr, user_agent: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(tenant.as_bytes());
    h.update(ip.to_string().as_bytes());
    h.update(user_agent.as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

impl Audience {
    /// Makes sure the salt of `today` is known: shared through the platform table, the
    /// older ones deleted.
    pub async fn prepare(&self, pool: &PgPool, today: Date) -> Result<()> {
        if self.state.lock().unwrap_or_else(|e| e.into_inner()).day == Some(today) {
            return Ok(());
        }
        let fresh: [u8; 32] = rand::random();
        sqlx::query!(
            "insert into audience_salt (day, salt) values ($1, $2) on conflict (day) do nothing",
            today,
            &fresh[..]
        )
        .execute(pool)
        .await?;
        let salt = sqlx::query_scalar!("select salt from audience_salt where day = $1", today)
            .fetch_one(pool)
            .await?;
        sqlx::query!("delete from audience_salt where day < $1", today)
            .execute(pool)
            .await?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.day != Some(today) {
            state.day = Some(today);
            state.salt.copy_from_slice(&salt[..32.min(salt.len())]);
            state.last_seen.clear();
        }
        Ok(())
    }

    /// Counts a page view (a call that `prepare` made ready for today; views before that
    /// are not counted).
    pub fn record(&self, tenant: Uuid, ip: IpAddr, user_agent: &str, path: &str, now: OffsetDateTime) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.day != Some(now.date()) || state.last_seen.len() >= MAX_VISITORS {
            return;
        }
        let who = visitor(&state.salt, tenant, ip, user_agent);
        let t = now.unix_timestamp();
        let new_visit = match state.last_seen.insert((tenant, who), t) {
            Some(last) => t - last > VISIT_GAP_SECS,
            None => true,
        };
        let tally = state.tallies.entry(tenant).or_default();
        let entry = tally.visitors.entry(who).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += i32::from(new_visit);
        let path: String = path.chars().take(200).collect();
        *tally.pages.entry(path).or_insert(0) += 1;
    }

    /// Adds the counts to each tenant's tables; returns how many tenants were written.
    pub async fn flush(&self, pool: &PgPool) -> Result<usize> {
        let (day, taken) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (state.day, std::mem::take(&mut state.tallies))
        };
        let Some(day) = day else { return Ok(0) };
        let mut written = 0;
        for (tenant_id, tally) in taken {
            let Some(tenant) = registry::find_by_id(pool, tenant_id).await? else {
                continue;
            };
            let mut tx = TenantTx::begin(pool, &tenant).await?;
            for (who, (views, visits)) in &tally.visitors {
                sqlx::query!(
                    "insert into audience_visitor as a (day, visitor, views, visits) values ($1, $2, $3, $4)
                     on conflict (day, visitor) do update set views = a.views + excluded.views,
                                                               visits = a.visits + excluded.visits",
                    day,
                    &who[..],
                    views,
                    visits
                )
                .execute(tx.conn())
                .await?;
            }
            for (path, views) in &tally.pages {
                sqlx::query!(
                    "insert into audience_page as a (day, path, views) values ($1, $2, $3)
                     on conflict (day, path) do update set views = a.views + excluded.views",
                    day,
                    path,
                    views
                )
                .execute(tx.conn())
                .await?;
            }
            tx.commit().await?;
            written += 1;
        }
        Ok(written)
    }
}

/// One day of a tenant's audience and participation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Day {
    #[serde(serialize_with = "iso_date")]
    pub day: Date,
    pub visitors: i64,
    pub visits: i64,
    pub views: i64,
    pub registrations: i64,
    pub contributions: i64,
}

fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(date)
}

/// The last `days` days (today included), oldest first, days without anything included.
pub async fn days(tx: &mut TenantTx, days: i32) -> Result<Vec<Day>> {
    Ok(sqlx::query_as!(
        Day,
        r#"with span as (select d::date as day
                           from generate_series(current_date - ($1::int - 1), current_date, interval '1 day') as d),
                seen as (select day, count(*) as visitors, sum(visits)::bigint as visits, sum(views)::bigint as views
                           from audience_visitor where day >= current_date - ($1::int - 1) group by day),
                joined as (select created_at::date as day, count(*) as n from citizen
                            where created_at >= current_date - ($1::int - 1) group by 1),
                posted as (select created_at::date as day, count(*) as n from contribution
                            where created_at >= current_date - ($1::int - 1) group by 1)
           select span.day as "day!", coalesce(seen.visitors, 0) as "visitors!", coalesce(seen.visits, 0) as "visits!",
                  coalesce(seen.views, 0) as "views!", coalesce(joined.n, 0) as "registrations!",
                  coalesce(posted.n, 0) as "contributions!"
             from span left join seen using (day) left join joined using (day) left join posted using (day)
            order by span.day"#,
        days
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The most viewed pages over the last `days` days.
pub async fn top_pages(tx: &mut TenantTx, days: i32, n: i64) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query!(
        r#"select path, sum(views)::bigint as "views!" from audience_page
            where day > current_date - $1::int group by path order by 2 desc, path limit $2"#,
        days,
        n
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.path, r.views))
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitors_are_hashes_that_change_with_the_salt() {
        let tenant = Uuid::new_v4();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a = visitor(&[1; 32], tenant, ip, "Firefox");
        assert_eq!(a, visitor(&[1; 32], tenant, ip, "Firefox"));
        assert_ne!(
            a,
            visitor(&[2; 32], tenant, ip, "Firefox"),
            "another day, another visitor"
        );
        assert_ne!(a, visitor(&[1; 32], Uuid::new_v4(), ip, "Firefox"), "another portal");
        assert_ne!(a, visitor(&[1; 32], tenant, ip, "Chromium"));
    }
}
