//! In-memory token buckets keyed by client IP or account, for login throttling.
//! Per node: with several nodes the effective limit is multiplied, which is acceptable for a
//! brute-force brake (the per-account lockout in the database is the cluster-wide rule).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `per_minute` events per key, refilled continuously, with a burst of the same size.
pub struct Limiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Entries kept before idle, full buckets are swept.
const SWEEP_AT: usize = 10_000;

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long to wait for the next one.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate_per_sec = self.per_minute / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            let cap = self.per_minute;
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate_per_sec < cap
            });
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((self.per_minute, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * rate_per_sec).min(self.per_minute);
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
}
