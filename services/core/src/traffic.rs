//! Each tenant's traffic: requests, server errors and latency, counted in memory by every
//! process ([`Traffic::record`], a few nanoseconds under a mutex) and added to the platform
//! table `tenant_traffic`, per tenant and hour, about once a minute ([`Traffic::flush`]).
//!
//! Memory stays bounded whatever the number of tenants: a flush empties the counters, and
//! at most [`MAX_TRACKED`] tenants are counted between two flushes (requests of others
//! are left out and counted in `participe_traffic_untracked_total`). Latency is counted
//! per bucket ([`BUCKETS_MS`]), so percentiles add up across processes and hours; a
//! percentile is reported as the upper bound of its bucket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// Upper bounds of the latency buckets, in milliseconds; the last one catches the rest.
pub const BUCKETS_MS: [u32; 16] = [
    5,
    10,
    25,
    50,
    75,
    100,
    150,
    250,
    400,
    600,
    1000,
    1500,
    2500,
    5000,
    10_000,
    u32::MAX,
];

/// Tenants counted between two flushes, at most (about 100 bytes each).
pub const MAX_TRACKED: usize = 20_000;

#[derive(Debug, Clone, Default)]
struct Tally {
    requests: u64,
    errors: u64,
    latency: [u32; BUCKETS_MS.len()],
    last: Option<OffsetDateTime>,
}

/// This process's counters since the last flush.
#[derive(Debug, Default)]
pub struct Traffic {
    tallies: Mutex<HashMap<Uuid, Tally>>,
}

fn bucket(elapsed: Duration) -> usize {
    let ms = elapsed.as_millis().min(u128::from(u32::MAX - 1)) as u32;
    BUCKETS_MS
        .iter()
        .position(|&bound| ms <= bound)
        .unwrap_or(BUCKETS_MS.len() - 1)
}

impl Traffic {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request served for `tenant`; `server_error` for a 5xx answer.
    pub fn record(&self, tenant: Uuid, server_error: bool, elapsed: Duration) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let full = tallies.len() >= MAX_TRACKED;
        let tally = match tallies.get_mut(&tenant) {
            Some(t) => t,
            None if full => {
                metrics::counter!("participe_traffic_untracked_total").increment(1);
                return;
            }
            None => tallies.entry(tenant).or_default(),
        };
        tally.requests += 1;
        tally.errors += u64::from(server_error);
        tally.latency[bucket(elapsed)] += 1;
        tally.last = Some(OffsetDateTime::now_utc());
    }

    /// Adds the counters to `tenant_traffic` and empties them. On failure they are put
    /// back, to be added at the next flush.
    pub async fn flush(&self, pool: &PgPool) -> Result<usize> {
        let taken = std::mem::take(&mut *self.tallies.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let rows: Vec<serde_json::Value> = taken
            .iter()
            .map(|(id, t)| {
                serde_json::json!({
                    "tenant_id": id,
                    "requests": t.requests,
                    "errors": t.errors,
                    "latency": t.latency,
                    "last_request_at": t.last.unwrap_or_else(OffsetDateTime::now_utc)
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                })
            })
            .collect();
        // A tenant deleted meanwhile has no row to refer to: its counts are dropped.
        let added = sqlx::query!(
            r#"insert into tenant_traffic as t (tenant_id, hour, requests, errors, latency, last_request_at)
               select r.tenant_id, date_trunc('hour', r.last_request_at), r.requests, r.errors, r.latency,
                      r.last_request_at
                 from jsonb_to_recordset($1::jsonb)
                      as r(tenant_id uuid, requests bigint, errors bigint, latency bigint[], last_request_at timestamptz)
                where exists (select 1 from tenant where id = r.tenant_id)
               on conflict (tenant_id, hour) do update set
                   requests = t.requests + excluded.requests,
                   errors = t.errors + excluded.errors,
                   latency = (select array_agg(coalesce(a, 0) + coalesce(b, 0) order by i)
                                from unnest(t.latency, excluded.latency) with ordinality as u(a, b, i)),
                   last_request_at = greatest(t.last_request_at, excluded.last_request_at)"#,
            serde_json::Value::Array(rows)
        )
        .execute(pool)
        .await;
        match added {
            Ok(done) => Ok(done.rows_affected() as usize),
            Err(e) => {
                self.put_back(taken);
                Err(e.into())
            }
        }
    }

    fn put_back(&self, taken: HashMap<Uuid, Tally>) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        for (id, old) in taken {
            if tallies.len() >= MAX_TRACKED && !tallies.contains_key(&id) {
                continue;
            }
            let t = tallies.entry(id).or_default();
            t.requests += old.requests;
            t.errors += old.errors;
            for (n, o) in t.latency.iter_mut().zip(old.latency) {
                *n += o;
            }
            t.last = t.last.max(old.last);
        }
    }
}

/// The `p`-th percentile (0–1) of bucket counts, as the upper bound of its bucket in
/// milliseconds; `None` without requests or when it falls in the last, open bucket.
pub fn percentile_ms(latency: &[i64], p: f64) -> Option<u32> {
    let total: i64 = latency.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (p * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (i, n) in latency.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return BUCKETS_MS.get(i).copied().filter(|&b| b != u32::MAX);
        }
    }
    None
}

fn add_into(sum: &mut Vec<i64>, more: &[i64]) {
    if sum.len() < more.len() {
        sum.resize(more.len(), 0);
    }
    for (s, m) in sum.iter_mut().zip(more) {
        *s += m;
    }
}

/// A tenant's traffic over a period.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub requests: i64,
    pub errors: i64,
    /// Share of 5xx answers, in percent.
    pub error_rate: Option<f64>,
    /// 95th percentile of latency, in milliseconds (bucket bound); `None` above 10 s.
    pub p95_ms: Option<u32>,
    #[serde(skip)]
    latency: Vec<i64>,
}

impl Summary {
    fn add(&mut self, requests: i64, errors: i64, latency: &[i64]) {
        self.requests += requests;
        self.errors += errors;
        add_into(&mut self.latency, latency);
    }

    fn finish(mut self) -> Self {
        self.error_rate = (self.requests > 0).then(|| 100.0 * self.errors as f64 / self.requests as f64);
        self.p95_ms = percentile_ms(&self.latency, 0.95);
        self
    }
}

/// For the tenants table: each tenant's last 24 hours, and when it last served a request
/// (however long ago). One query each, for a whole page of tenants.
pub async fn last_day(pool: &PgPool, tenants: &[Uuid]) -> Result<HashMap<Uuid, (Summary, Option<OffsetDateTime>)>> {
    let rows = sqlx::query!(
        r#"select tenant_id, requests, errors, latency from tenant_traffic
            where tenant_id = any($1) and hour > now() - interval '24 hours'"#,
        tenants
    )
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<Uuid, (Summary, Option<OffsetDateTime>)> = HashMap::new();
    for r in rows {
        out.entry(r.tenant_id)
            .or_default()
            .0
            .add(r.requests, r.errors, &r.latency);
    }
    let last = sqlx::query!(
        r#"select distinct on (tenant_id) tenant_id, last_request_at from tenant_traffic
            where tenant_id = any($1) order by tenant_id, hour desc"#,
        tenants
    )
    .fetch_all(pool)
    .await?;
    for r in last {
        out.entry(r.tenant_id).or_default().1 = Some(r.last_request_at);
    }
    Ok(out
        .into_iter()
        .map(|(id, (summary, last))| (id, (summary.finish(), last)))
        .collect())
}

/// One day of a tenant's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// A tenant's traffic per day (UTC) over the last `days` days, newest first; days without
/// requests are left out.
pub async fn history(pool: &PgPool, tenant: Uuid, days: i32) -> Result<Vec<Day>> {
    let rows = sqlx::query!(
        r#"select to_char(hour at time zone 'UTC', 'YYYY-MM-DD') as "day!", requests, errors, latency from tenant_traffic
            where tenant_id = $1 and hour > now() - make_interval(days => $2)
            order by hour desc"#,
        tenant,
        days
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<Day> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some(d) if d.day == r.day => d.summary.add(r.requests, r.errors, &r.latency),
            _ => {
                let mut summary = Summary::default();
                summary.add(r.requests, r.errors, &r.latency);
                out.push(Day { day: r.day, summary });
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|d| Day {
            day: d.day,
            summary: d.summary.finish(),
        })
        .collect())
}

/// A line of the fleet health page's slowest tenants.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Slow {
    pub slug: String,
    pub name: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The `limit` tenants with the highest p95 latency over the last 24 hours, among those
/// that served at least `min_requests` (a handful of slow requests says little). Bucket
/// counts are summed by PostgreSQL: one row per tenant and bucket.
pub async fn slowest(pool: &PgPool, min_requests: i64, limit: usize) -> Result<Vec<Slow>> {
    let rows = sqlx::query!(
        r#"with recent as (
             select tenant_id, sum(requests)::bigint as requests, sum(errors)::bigint as errors
               from tenant_traffic where hour > now() - interval '24 hours'
              group by tenant_id having sum(requests) >= $1::bigint),
           buckets as (
             select tt.tenant_id, u.i, sum(u.n)::bigint as n
               from tenant_traffic tt join recent using (tenant_id),
                    unnest(tt.latency) with ordinality as u(n, i)
              where tt.hour > now() - interval '24 hours'
              group by tt.tenant_id, u.i)
           select t.id, t.slug, t.name, r.requests as "requests!", r.errors as "errors!",
                  array_agg(b.n order by b.i) as "latency!"
             from recent r join tenant t on t.id = r.tenant_id join buckets b on b.tenant_id = r.tenant_id
            group by t.id, t.slug, t.name, r.requests, r.errors"#,
        min_requests
    )
    .fetch_all(pool)
    .await?;
    let mut slow: Vec<Slow> = rows
        .into_iter()
        .map(|r| {
            let mut summary = Summary::default();
            summary.add(r.requests, r.errors, &r.latency);
            Slow {
                slug: r.slug,
                name: r.name,
                summary: summary.finish(),
            }
        })
        .collect();
    // No p95 means above the last bound: the slowest of all.
    slow.sort_by_key(|s| std::cmp::Reverse(s.summary.p95_ms.unwrap_or(u32::MAX)));
    slow.truncate(limit);
    Ok(slow)
}

/// Drops hours older than `days` days.
pub async fn prune(pool: &PgPool, days: i32) -> Result<u64> {
    let done = sqlx::query!(
        "delete from tenant_traffic where hour < now() - make_interval(days => $1)",
        days
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_in_the_bucket_of_their_duration() {
        assert_eq!(bucket(Duration::from_millis(0)), 0);
        assert_eq!(bucket(Duration::from_millis(5)), 0);
        assert_eq!(bucket(Duration::from_millis(6)), 1);
        assert_eq!(bucket(Duration::from_millis(120)), 6);
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS_MS.len() - 1);
    }

    #[test]
    fn the_95th_percentile_is_the_bound_of_the_bucket_it_falls_in() {
        let mut latency = vec![0i64; BUCKETS_MS.len()];
        latency[1] = 94; // ≤ 10 ms
        latency[7] = 6; // ≤ 250 ms
        assert_eq!(percentile_ms(&latency, 0.95), Some(250));
        latency[1] = 95;
        latency[7] = 5;
        assert_eq!(percentile_ms(&latency, 0.95), Some(10));
        assert_eq!(percentile_ms(&[0; 16], 0.95), None);
        let mut slow = vec![0i64; BUCKETS_MS.len()];
        slow[15] = 1;
        assert_eq!(percentile_ms(&slow, 0.95), None, "beyond the last bound");
    }

    #[test]
    fn counters_stop_growing_at_the_bound() {
        let traffic = Traffic::new();
        for _ in 0..MAX_TRACKED + 10 {
            traffic.record(Uuid::new_v4(), false, Duration::from_millis(3));
        }
        assert_eq!(traffic.tallies.lock().unwrap().len(), MAX_TRACKED);
    }
}
