//! In-memory token buckets keyed by client IP or account, for login throttling.
//! Per node: with several nodes the effective limit is multiplied, which is acceptable for a
//! brute-force brake (the per-account lockout in the database is the cluster-wide rule).
//! Keys are bounded (an IP key, or a tenant and a valid email) and so is their number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The per-IP bucket of a client: an IPv4 address, or the /64 network of an IPv6 address. One
/// subscriber is usually given a whole /64 or more (RFC 6177, RFC 7934 §6), so a key per IPv6
/// address would give one client 2^64 buckets. IPv4-mapped IPv6 addresses count as IPv4.
/// `None` (no address: a unix-socket peer that is not a trusted proxy) is one shared bucket,
/// so such clients are throttled together rather than not at all.
pub fn ip_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "local".to_owned(),
    }
}

/// Allows `burst` events per key at once, refilled continuously at `per_sec`.
pub struct Limiter {
    burst: f64,
    per_sec: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept per limiter. Beyond it, buckets that have refilled are dropped (they hold no
/// information), then, if that is not enough, the least recently used half: an attacker with
/// many addresses or accounts cannot grow memory, only forget the quietest buckets.
const MAX_KEYS: usize = 10_000;

impl Limiter {
    /// `per_minute` events per key and minute, with a burst of as many.
    pub fn new(per_minute: u32) -> Limiter {
        let burst = f64::from(per_minute.max(1));
        Limiter {
            burst,
            per_sec: burst / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `per_hour` events per key and hour, with a burst of as many: for what a person does a
    /// few times a day, such as asking for a mail.
    pub fn per_hour(per_hour: u32) -> Limiter {
        let burst = f64::from(per_hour.max(1));
        Limiter {
            burst,
            per_sec: burst / 3600.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long to wait for the next one.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// Whether `key` has a token left, without taking one: how a limit on failures is
    /// enforced before the attempt (only failures take tokens, through [`Limiter::check`]).
    pub fn exhausted(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let rate_per_sec = self.per_sec;
        let map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = map.get(key)?;
        let refilled = tokens + now.duration_since(*at).as_secs_f64() * rate_per_sec;
        (refilled < 1.0)
            .then(|| Duration::from_secs_f64(((1.0 - refilled) / rate_per_sec).ceil().max(1.0)))
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate_per_sec = self.per_sec;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            let cap = self.burst;
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate_per_sec < cap
            });
            if map.len() >= MAX_KEYS {
                let mut seen: Vec<Instant> = map.values().map(|(_, at)| *at).collect();
                let middle = seen.len() / 2;
                let (_, median, _) = seen.select_nth_unstable(middle);
                let median = *median;
                map.retain(|_, (_, at)| *at > median);
            }
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * rate_per_sec).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64(
                ((1.0 - refilled) / rate_per_sec).ceil().max(1.0),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let l = Limiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("ip", t0).is_ok());
        }
        let wait = l.check_at("ip", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(l.check_at("other", t0).is_ok(), "keys are independent");
        assert!(l.check_at("ip", t0 + Duration::from_secs(21)).is_ok());
    }

    #[test]
    fn hourly_budgets_refill_over_the_hour() {
        let l = Limiter::per_hour(5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(l.check_at("a", t0).is_ok());
        }
        assert_eq!(l.check_at("a", t0).unwrap_err(), Duration::from_secs(720));
        assert!(l.check_at("a", t0 + Duration::from_secs(700)).is_err());
        assert!(l.check_at("a", t0 + Duration::from_secs(721)).is_ok());
        assert!(l.check_at("a", t0 + Duration::from_secs(722)).is_err());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let a = ip_key(ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, ip_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(a, ip_key(ip("2001:db8:1:3::1")), "another /64");
        assert_eq!(ip_key(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_ne!(ip_key(ip("192.0.2.7")), ip_key(ip("192.0.2.8")));
        assert_eq!(
            ip_key(None),
            ip_key(None),
            "address-less peers share one bucket"
        );

        // The same /64 shares one bucket in the limiter; another /64 has its own.
        let l = Limiter::new(2);
        let t0 = Instant::now();
        assert!(l.check_at(&ip_key(ip("2001:db8:1:2::1")), t0).is_ok());
        assert!(l.check_at(&ip_key(ip("2001:db8:1:2::2")), t0).is_ok());
        assert!(
            l.check_at(&ip_key(ip("2001:db8:1:2:dead:beef::3")), t0)
                .is_err()
        );
        assert!(l.check_at(&ip_key(ip("2001:db8:1:3::1")), t0).is_ok());
    }

    #[test]
    fn the_number_of_buckets_is_bounded() {
        let l = Limiter::new(1);
        let t0 = Instant::now();
        // Every key spends its only token, so none of them refills within the test.
        for i in 0..3 * MAX_KEYS {
            let _ = l.check_at(&format!("k{i}"), t0 + Duration::from_micros(i as u64));
        }
        let n = l.buckets.lock().unwrap().len();
        assert!(n <= MAX_KEYS, "{n} buckets");
        // The most recent keys are still throttled.
        let last = format!("k{}", 3 * MAX_KEYS - 1);
        assert!(l.check_at(&last, t0 + Duration::from_millis(40)).is_err());
    }
}
