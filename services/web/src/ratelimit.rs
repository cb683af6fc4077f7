//! Rate limits on authentication (governor's keyed GCRA limiters, in memory, per process):
//! per client IP and per account, so that neither a single address nor a botnet aimed at
//! one account gets many tries. Keys are forgotten once idle.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// What a form says beside its field when a limit is reached.
pub const TOO_MANY: &str = "trop de tentatives en peu de temps : patientez quelques minutes avant de réessayer";

/// One family of limits (e.g. login), by IP and by account.
#[derive(Clone)]
pub struct Limit {
    by_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    by_account: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Limit {
    /// `per_ip` and `per_account` attempts per `period`, with that many in a burst.
    pub fn new(per_ip: u32, per_account: u32, period: Duration) -> Self {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).expect("non-zero");
            Quota::with_period(period / n.get())
                .expect("non-zero period")
                .allow_burst(n)
        };
        Limit {
            by_ip: Arc::new(RateLimiter::keyed(quota(per_ip))),
            by_account: Arc::new(RateLimiter::keyed(quota(per_account))),
        }
    }

    /// Whether one more attempt is allowed (and counts it).
    pub fn check(&self, ip: IpAddr, account: Option<&str>) -> bool {
        let ip_ok = self.by_ip.check_key(&ip).is_ok();
        let account_ok = account.is_none_or(|a| self.by_account.check_key(&a.to_lowercase()).is_ok());
        ip_ok && account_ok
    }

    fn forget_idle(&self) {
        self.by_ip.retain_recent();
        self.by_account.retain_recent();
    }
}

/// The limits of the authentication forms of every host.
#[derive(Clone)]
pub struct RateLimits {
    pub login: Limit,
    pub sign_up: Limit,
    pub reset: Limit,
    /// Visitors registering to events by email (each sends a mail to the address given).
    pub events: Limit,
}

impl RateLimits {
    pub fn new() -> Self {
        let quarter = Duration::from_secs(15 * 60);
        RateLimits {
            login: Limit::new(30, 10, quarter),
            sign_up: Limit::new(10, 3, quarter),
            reset: Limit::new(10, 3, quarter),
            events: Limit::new(60, 5, quarter),
        }
    }

    /// Drops the state of keys that have been quiet; call now and then.
    pub fn forget_idle(&self) {
        self.login.forget_idle();
        self.sign_up.forget_idle();
        self.reset.forget_idle();
        self.events.forget_idle();
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_whatever_the_address() {
        let limit = Limit::new(100, 3, Duration::from_secs(900));
        let ips: Vec<IpAddr> = (1..=5).map(|i| IpAddr::from([10, 0, 0, i])).collect();
        let allowed = ips
            .iter()
            .filter(|ip| limit.check(**ip, Some("Marie@lenord.fr")))
            .count();
        assert_eq!(allowed, 3);
        assert!(
            limit.check(ips[0], Some("autre@lenord.fr")),
            "another account is not affected"
        );
    }

    #[test]
    fn an_address_is_limited_whatever_the_account() {
        let limit = Limit::new(2, 100, Duration::from_secs(900));
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!(limit.check(ip, Some("a@x.fr")));
        assert!(limit.check(ip, Some("b@x.fr")));
        assert!(!limit.check(ip, Some("c@x.fr")));
    }
}
