//! Where a tenant stands with billing, and what that does to its portal.
//!
//! [`evaluate`] is a pure function of the facts (mode, trial end, paid-until date, Stripe's
//! subscription status) and the time: trial or paid → open; payment missing → `past_due`
//! during the grace period (portal open, staff warned), then `unpaid` (or `cancelled`) and
//! read-only for citizens, then suspended after the retention period. Nothing is deleted.
//! [`sweep`] applies it to every tenant (hourly, and to one tenant after each change): each
//! transition is written to the platform audit log and queued as a mail to the tenant's
//! admins, in the same transaction.

use sqlx::PgPool;
use time::{Date, Duration, OffsetDateTime, Time};
use uuid::Uuid;

use crate::Result;
use crate::jobs::{self, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Trial,
    Active,
    PastDue,
    Unpaid,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Trial => "trial",
            State::Active => "active",
            State::PastDue => "past_due",
            State::Unpaid => "unpaid",
            State::Cancelled => "cancelled",
        }
    }

    pub const ALL: [State; 5] = [
        State::Trial,
        State::Active,
        State::PastDue,
        State::Unpaid,
        State::Cancelled,
    ];

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Trial => "Essai",
            State::Active => "À jour",
            State::PastDue => "Paiement en retard",
            State::Unpaid => "Impayé",
            State::Cancelled => "Abonnement résilié",
        }
    }
}

/// How long a portal stays open once payment is missing, then how long it stays read-only
/// before it is suspended.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub grace: Duration,
    pub retention: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            grace: Duration::days(30),
            retention: Duration::days(90),
        }
    }
}

/// What billing knows of a tenant.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub trial_ends_at: Option<OffsetDateTime>,
    /// Manual billing: paid up to this day, included.
    pub paid_until: Option<Date>,
    /// Stripe's last word on the subscription, and since when it has not been `active`.
    pub subscription_status: Option<String>,
    pub subscription_problem_since: Option<OffsetDateTime>,
}

/// The verdict for a tenant at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub state: State,
    /// Since when payment is missing (the grace period counts from it).
    pub missing_since: Option<OffsetDateTime>,
    pub read_only: bool,
    pub suspended: bool,
}

impl Standing {
    /// When the portal becomes (or became) read-only, if payment stays missing.
    pub fn read_only_at(&self, policy: &Policy) -> Option<OffsetDateTime> {
        self.missing_since.map(|s| s + policy.grace)
    }

    /// When the portal is (or was) suspended, if payment stays missing.
    pub fn suspended_at(&self, policy: &Policy) -> Option<OffsetDateTime> {
        self.missing_since.map(|s| s + policy.grace + policy.retention)
    }
}

/// Where the facts put a tenant at `now`.
pub fn evaluate(facts: &Facts, policy: &Policy, now: OffsetDateTime) -> Standing {
    let (missing_since, cancelled) = match facts.subscription_status.as_deref() {
        Some("active" | "trialing") => (None, false),
        Some("past_due" | "unpaid" | "paused") => (Some(facts.subscription_problem_since.unwrap_or(now)), false),
        Some("canceled") => (Some(facts.subscription_problem_since.unwrap_or(now)), true),
        // No subscription (or one never paid for): the trial and manual billing decide.
        _ => (manual_missing_since(facts, now), false),
    };
    let Some(since) = missing_since else {
        let state = match (
            facts.subscription_status.as_deref(),
            facts.paid_until,
            facts.trial_ends_at,
        ) {
            (Some("active" | "trialing"), _, _) | (_, Some(_), _) => State::Active,
            (_, None, Some(_)) => State::Trial,
            // Neither a trial nor a payment recorded: a portal operators run without billing.
            (_, None, None) => State::Active,
        };
        return Standing {
            state,
            missing_since: None,
            read_only: false,
            suspended: false,
        };
    };
    let read_only = now >= since + policy.grace;
    let state = match (cancelled, read_only) {
        (true, _) => State::Cancelled,
        (false, false) => State::PastDue,
        (false, true) => State::Unpaid,
    };
    Standing {
        state,
        missing_since: Some(since),
        read_only,
        suspended: now >= since + policy.grace + policy.retention,
    }
}

fn manual_missing_since(facts: &Facts, now: OffsetDateTime) -> Option<OffsetDateTime> {
    match (facts.paid_until, facts.trial_ends_at) {
        // Paid up to that day included: missing from the next midnight (UTC).
        (Some(day), _) => {
            let next = day.next_day()?.with_time(Time::MIDNIGHT).assume_utc();
            (next <= now).then_some(next)
        }
        (None, Some(end)) => (end <= now).then_some(end),
        (None, None) => None,
    }
}

/// What the console's subscription page and banner show of a tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub state: State,
    pub state_label: &'static str,
    pub mode: String,
    pub plan: Option<String>,
    pub period: String,
    /// `YYYY-MM-DD` dates, for display.
    pub trial_ends_at: Option<String>,
    pub paid_until: Option<String>,
    pub read_only: bool,
    pub read_only_at: Option<String>,
    pub suspended_at: Option<String>,
    /// A Stripe subscription runs (neither cancelled nor abandoned at payment).
    pub subscribed: bool,
    /// Stripe knows the tenant as a customer (its portal can be offered).
    pub stripe_customer: bool,
}

/// Where a tenant stands now (as the next sweep will record it).
pub async fn summary(pool: &PgPool, tenant_id: Uuid, policy: &Policy) -> Result<Option<Summary>> {
    let Some(r) = sqlx::query!(
        "select trial_ends_at, paid_until, subscription_status, subscription_problem_since, billing_mode,
                plan, billing_period, stripe_subscription_id, stripe_customer_id
           from tenant where id = $1",
        tenant_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let facts = Facts {
        trial_ends_at: r.trial_ends_at,
        paid_until: r.paid_until,
        subscription_status: r.subscription_status,
        subscription_problem_since: r.subscription_problem_since,
    };
    let standing = evaluate(&facts, policy, OffsetDateTime::now_utc());
    let day = |t: OffsetDateTime| t.date().to_string();
    Ok(Some(Summary {
        state: standing.state,
        state_label: standing.state.label(),
        mode: r.billing_mode,
        plan: r.plan,
        period: r.billing_period,
        trial_ends_at: facts.trial_ends_at.map(day),
        paid_until: facts.paid_until.map(|d| d.to_string()),
        read_only: standing.read_only,
        read_only_at: standing.read_only_at(policy).map(day),
        suspended_at: standing.suspended_at(policy).map(day),
        subscribed: r.stripe_subscription_id.is_some()
            && !matches!(
                facts.subscription_status.as_deref(),
                None | Some("canceled" | "incomplete_expired")
            ),
        stripe_customer: r.stripe_customer_id.is_some(),
    }))
}

/// A change of a tenant's standing, as written to the audit log and mailed to its admins.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    pub tenant_id: Uuid,
    pub from: String,
    pub to: String,
    pub read_only: bool,
    pub suspended: bool,
    /// What changed for citizens: `read_only`, `reopened`, `suspended`, `resumed` or none.
    pub effect: Option<String>,
}

/// Re-evaluates every tenant (or one) and applies what changed. Returns the transitions.
/// Each change applies only if the tenant's row still is as read, so two sweeps at once
/// (two workers, or a payment arriving during the hourly sweep) never apply one twice.
pub async fn sweep(pool: &PgPool, policy: &Policy, only: Option<Uuid>) -> Result<Vec<Transition>> {
    let now = OffsetDateTime::now_utc();
    let rows = sqlx::query!(
        r#"select id, status, trial_ends_at, paid_until, subscription_status, subscription_problem_since,
                  billing_state, read_only_since, suspended_by_billing
             from tenant where $1::uuid is null or id = $1"#,
        only
    )
    .fetch_all(pool)
    .await?;
    let mut done = Vec::new();
    for r in rows {
        let facts = Facts {
            trial_ends_at: r.trial_ends_at,
            paid_until: r.paid_until,
            subscription_status: r.subscription_status,
            subscription_problem_since: r.subscription_problem_since,
        };
        let standing = evaluate(&facts, policy, now);
        let was_read_only = r.read_only_since.is_some();
        let suspended_by_billing = r.suspended_by_billing;
        // An operator's suspension is theirs: billing neither adds to it nor lifts it.
        let operator_suspended = r.status == "suspended" && !suspended_by_billing;
        let suspend = standing.suspended && !operator_suspended;
        if standing.state.as_str() == r.billing_state
            && standing.read_only == was_read_only
            && suspend == suspended_by_billing
        {
            continue;
        }
        let effect = match (was_read_only, standing.read_only, suspended_by_billing, suspend) {
            (_, _, false, true) => Some("suspended"),
            (_, _, true, false) => Some("resumed"),
            (false, true, _, _) => Some("read_only"),
            (true, false, _, _) => Some("reopened"),
            _ => None,
        };
        let transition = Transition {
            tenant_id: r.id,
            from: r.billing_state.clone(),
            to: standing.state.as_str().to_string(),
            read_only: standing.read_only,
            suspended: suspend,
            effect: effect.map(str::to_string),
        };
        if apply(pool, &transition, was_read_only, suspended_by_billing).await? {
            done.push(transition);
        }
    }
    Ok(done)
}

async fn apply(pool: &PgPool, t: &Transition, was_read_only: bool, was_suspended: bool) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query!(
        r#"update tenant set
               billing_state = $2,
               billing_state_since = case when billing_state = $2 then billing_state_since else now() end,
               read_only_since = case when $3 then coalesce(read_only_since, now()) end,
               suspended_by_billing = $4,
               status = case when $4 then 'suspended' when $5 then 'active' else status end,
               status_reason = case
                   when $4 then 'Abonnement impayé : le portail est suspendu jusqu''au paiement.'
                   when $5 then null else status_reason end
             where id = $1 and billing_state = $6 and (read_only_since is not null) = $7
               and suspended_by_billing = $8"#,
        t.tenant_id,
        t.to,
        t.read_only,
        t.suspended,
        was_suspended && !t.suspended,
        t.from,
        was_read_only,
        was_suspended
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    let detail = serde_json::to_value(t).unwrap_or_default();
    crate::platform_audit::record(
        &mut tx,
        "billing",
        "tenant.billing_state",
        Some(t.tenant_id),
        detail.clone(),
    )
    .await?;
    jobs::enqueue(&mut tx, Some(t.tenant_id), Kind::BillingNotice, detail, 0).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2027-06-15 12:00 UTC);

    fn at(facts: Facts) -> Standing {
        evaluate(&facts, &Policy::default(), NOW)
    }

    #[test]
    fn a_running_trial_or_a_paid_period_keeps_the_portal_open() {
        let trial = at(Facts {
            trial_ends_at: Some(NOW + Duration::days(3)),
            ..Default::default()
        });
        assert_eq!((trial.state, trial.read_only), (State::Trial, false));
        let paid = at(Facts {
            paid_until: Some(date!(2027 - 06 - 15)),
            trial_ends_at: Some(NOW - Duration::days(300)),
            ..Default::default()
        });
        assert_eq!(
            (paid.state, paid.read_only, paid.suspended),
            (State::Active, false, false)
        );
    }

    #[test]
    fn missing_payment_goes_past_due_then_read_only_then_suspended() {
        let due = |days: i64| {
            at(Facts {
                paid_until: Some((NOW - Duration::days(days)).date()),
                ..Default::default()
            })
        };
        // Paid until yesterday: missing since this midnight.
        let s = due(1);
        assert_eq!((s.state, s.read_only), (State::PastDue, false));
        assert_eq!(s.missing_since, Some(datetime!(2027-06-15 0:00 UTC)));
        let s = due(31);
        assert_eq!((s.state, s.read_only, s.suspended), (State::Unpaid, true, false));
        let s = due(121);
        assert_eq!((s.state, s.read_only, s.suspended), (State::Unpaid, true, true));
    }

    #[test]
    fn an_expired_trial_counts_as_missing_payment_from_its_end() {
        let s = at(Facts {
            trial_ends_at: Some(NOW - Duration::days(40)),
            ..Default::default()
        });
        assert_eq!((s.state, s.read_only), (State::Unpaid, true));
    }

    #[test]
    fn stripe_s_status_decides_when_there_is_a_subscription() {
        let s = at(Facts {
            subscription_status: Some("active".into()),
            trial_ends_at: Some(NOW - Duration::days(400)),
            ..Default::default()
        });
        assert_eq!(s.state, State::Active);
        let s = at(Facts {
            subscription_status: Some("past_due".into()),
            subscription_problem_since: Some(NOW - Duration::days(2)),
            ..Default::default()
        });
        assert_eq!((s.state, s.read_only), (State::PastDue, false));
        let s = at(Facts {
            subscription_status: Some("canceled".into()),
            subscription_problem_since: Some(NOW - Duration::days(45)),
            ..Default::default()
        });
        assert_eq!((s.state, s.read_only, s.suspended), (State::Cancelled, true, false));
    }
}
