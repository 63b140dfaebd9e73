//! When to try a failed message again: exponential back-off with jitter, capped at 15 minutes,
//! and when to stop — a permanent (5xx) answer (RFC 5321 §4.2.1: "the same request ... will
//! not succeed"), or a message still undelivered a day after it was queued. Pure functions of
//! the attempt count, the times and a jitter value, so they are tested without a clock.

use super::transport::SendError;
use crate::clock::UnixTime;

/// The first retry comes after 2.5–5 s; each further one waits twice as long.
const BASE: f64 = 5.0;
/// No wait is longer than this (before jitter takes up to half of it off).
const CAP: f64 = 900.0;
/// A message not delivered this long after it was queued is given up on.
pub const GIVE_UP_AFTER: i64 = 24 * 3600;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Retry { at: UnixTime },
    GiveUp,
}

/// Decides after the `attempt`-th failed attempt (1 for the first) of a message queued at
/// `created_at`; `jitter` in [0, 1).
pub fn decide(
    e: &SendError,
    attempt: i32,
    created_at: UnixTime,
    now: UnixTime,
    jitter: f64,
) -> Outcome {
    if e.permanent || now.saturating_sub(created_at) >= GIVE_UP_AFTER {
        return Outcome::GiveUp;
    }
    Outcome::Retry {
        at: now + delay(attempt, jitter),
    }
}

/// Seconds to wait after the `attempt`-th failure: `BASE · 2^(attempt-1)`, capped at `CAP`,
/// of which a random half is kept ("equal jitter"), so that messages failed together by one
/// outage do not all come back in the same second.
pub fn delay(attempt: i32, jitter: f64) -> i64 {
    let exp = attempt.clamp(1, 30) - 1;
    let full = (BASE * 2f64.powi(exp)).min(CAP);
    let jitter = jitter.clamp(0.0, 1.0);
    (full / 2.0 + full / 2.0 * jitter).ceil().max(1.0) as i64
}

/// A jitter value in [0, 1) from the system's random source (0.5 if it fails: the jitter only
/// spreads load, it protects nothing).
pub fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(permanent: bool) -> SendError {
        SendError {
            class: "smtp",
            code: Some(if permanent { 550 } else { 451 }),
            permanent,
            connection: false,
            detail: String::new(),
        }
    }

    #[test]
    fn delays_double_within_jitter_and_cap() {
        assert_eq!(delay(1, 0.0), 3);
        assert_eq!(delay(1, 0.999), 5);
        assert_eq!(delay(2, 0.0), 5);
        assert_eq!(delay(3, 0.999), 20);
        for attempt in 1..60 {
            for j in [0.0, 0.3, 0.999] {
                let d = delay(attempt, j);
                assert!((1..=900).contains(&d), "{attempt} {j} {d}");
                assert!(d >= delay(attempt - 1, j), "monotonic in attempts");
            }
        }
        assert_eq!(delay(40, 0.999), 900);
        assert_eq!(delay(40, 0.0), 450);
    }

    #[test]
    fn permanent_answers_and_old_messages_give_up() {
        let t0 = 1_800_000_000;
        assert_eq!(decide(&err(true), 1, t0, t0, 0.5), Outcome::GiveUp);
        assert!(matches!(decide(&err(false), 1, t0, t0, 0.5), Outcome::Retry { at } if at > t0));
        assert_eq!(
            decide(&err(false), 50, t0, t0 + GIVE_UP_AFTER, 0.5),
            Outcome::GiveUp
        );
        assert!(matches!(
            decide(&err(false), 50, t0, t0 + GIVE_UP_AFTER - 1, 0.5),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn jitter_is_a_fraction() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
