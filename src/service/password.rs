//! Argon2id hashing on a bounded pool. At most `concurrency` hashes run at once on tokio's
//! blocking threads; a login waits at most `queue_timeout` for a slot and at most
//! `concurrency * QUEUE_FACTOR` logins wait at all. Beyond that the caller gets `Busy`
//! (rendered as 503 + Retry-After) instead of piling up memory and latency (DESIGN §5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::{Error, Result};
use crate::config::IdentityConfig;

/// How many requests may queue per running slot before new ones are turned away at once.
const QUEUE_FACTOR: usize = 8;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    queue_timeout: Duration,
    /// A hash of a random password with the current parameters, verified against when the user
    /// is unknown so that the response costs the same time (no enumeration).
    dummy: Arc<OnceLock<String>>,
    /// Verifications performed (real or dummy), so tests can prove every path paid for one.
    verifications: Arc<AtomicU64>,
}

/// The result of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Correct; `Some(new_hash)` when the stored hash used weaker parameters and was redone.
    Yes {
        rehash: Option<String>,
    },
    No,
}

impl Hasher {
    pub fn new(cfg: &IdentityConfig) -> Result<Hasher> {
        let params = params(cfg)?;
        let concurrency = cfg.hash_concurrency as usize;
        Ok(Hasher {
            params,
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency * (1 + QUEUE_FACTOR))),
            queue_timeout: cfg.hash_queue_timeout,
            dummy: Arc::new(OnceLock::new()),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    fn argon2(params: &Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
    }

    /// Runs `work` on a blocking thread once a slot is free, or fails with `Busy`.
    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let busy = || Error::Busy {
            retry_after: Duration::from_secs(1),
        };
        let _admitted = self.admitted.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("opentrusty_hash_rejected_total", "reason" => "queue_full")
                .increment(1);
            busy()
        })?;
        let permit =
            match tokio::time::timeout(self.queue_timeout, self.running.clone().acquire_owned())
                .await
            {
                Ok(Ok(p)) => p,
                _ => {
                    metrics::counter!("opentrusty_hash_rejected_total", "reason" => "deadline")
                        .increment(1);
                    return Err(busy());
                }
            };
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))
    }

    /// How many password verifications ran so far.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// A fresh PHC string for `password` with the configured parameters.
    pub async fn hash(&self, password: String) -> Result<String> {
        let params = self.params.clone();
        self.on_pool(move || hash_now(&params, &password)).await?
    }

    /// Checks `password` against `stored`; with `None` (unknown user, no password set) it
    /// still spends one verification on a dummy hash and answers `No`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verified> {
        let params = self.params.clone();
        let dummy = self.dummy.clone();
        let counter = self.verifications.clone();
        self.on_pool(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            let (target, real) = match stored {
                Some(h) => (h, true),
                None => (
                    dummy
                        .get_or_init(|| {
                            hash_now(&params, "opentrusty-dummy-password").unwrap_or_default()
                        })
                        .clone(),
                    false,
                ),
            };
            let ok = Self::argon2(&params)
                .verify_password(password.as_bytes(), target.as_str())
                .is_ok();
            if !(ok && real) {
                return Ok(Verified::No);
            }
            let rehash = if weaker_than(&target, &params) {
                Some(hash_now(&params, &password)?)
            } else {
                None
            };
            Ok(Verified::Yes { rehash })
        })
        .await?
    }
}

/// Hashes per second on `threads` OS threads for `duration`, with the configured parameters:
/// the physical limit any login rate is compared against.
pub fn raw_rate(cfg: &IdentityConfig, threads: u32, duration: Duration) -> Result<f64> {
    let params = params(cfg)?;
    let done = Arc::new(AtomicU64::new(0));
    let start = std::time::Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, params) = (done.clone(), params.clone());
            std::thread::spawn(move || {
                while start.elapsed() < duration {
                    if hash_now(&params, "correct horse battery staple").is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| Error::Internal("hash thread panicked".into()))?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// The configured Argon2id parameters (validated by the crate: memory ≥ 8 × parallelism ...).
fn params(cfg: &IdentityConfig) -> Result<Params> {
    Params::new(
        cfg.argon2_memory_kib,
        cfg.argon2_iterations,
        cfg.argon2_parallelism,
        None,
    )
    .map_err(|e| Error::Invalid(format!("Argon2 parameters: {e}")))
}

fn hash_now(params: &Params, password: &str) -> Result<String> {
    Hasher::argon2(params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// True when the stored PHC string is not Argon2id or uses less memory or fewer passes than
/// configured (the hash is then upgraded on the next successful login).
fn weaker_than(stored: &str, want: &Params) -> bool {
    let Ok(hash) = argon2::PasswordHash::new(stored) else {
        return true;
    };
    if hash.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&hash) {
        Ok(p) => {
            p.m_cost() < want.m_cost() || p.t_cost() < want.t_cost() || p.p_cost() < want.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(m: u32, t: u32) -> IdentityConfig {
        let mut c = crate::config::Config::from_vars(&Default::default())
            .unwrap()
            .identity;
        c.argon2_memory_kib = m;
        c.argon2_iterations = t;
        c
    }

    #[tokio::test]
    async fn hashes_verify_and_weak_ones_are_upgraded() {
        let weak = Hasher::new(&cfg(8192, 1)).unwrap();
        let strong = Hasher::new(&cfg(9216, 2)).unwrap();
        let h = weak.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{h}");
        assert_eq!(
            weak.verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(
            strong
                .verify("wrong".into(), Some(h.clone()))
                .await
                .unwrap(),
            Verified::No
        );
        let Verified::Yes { rehash: Some(new) } = strong
            .verify("correct horse".into(), Some(h))
            .await
            .unwrap()
        else {
            panic!("expected an upgrade")
        };
        assert!(new.starts_with("$argon2id$v=19$m=9216,t=2,p=1$"), "{new}");
        assert_eq!(
            strong.verify("anything".into(), None).await.unwrap(),
            Verified::No
        );
    }
}
