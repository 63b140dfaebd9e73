//! Argon2id hashing on a bounded pool. At most `concurrency` hashes run at once, on as many
//! dedicated threads; a login waits at most `queue_timeout` for a slot and at most
//! `concurrency * QUEUE_FACTOR` logins wait at all. Beyond that the caller gets `Busy`
//! (rendered as 503 + Retry-After) instead of piling up memory and latency (DESIGN §5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use std::cell::RefCell;

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::{Error, Result};
use crate::config::IdentityConfig;

/// How many requests may queue per running slot before new ones are turned away at once.
const QUEUE_FACTOR: usize = 8;

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// A thread without work for this long drops its Argon2 memory.
const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// The hashing threads: exactly `concurrency` named OS threads, each reusing its own Argon2
/// memory, so a burst of logins costs neither thread creation nor 19 MiB of fresh page faults
/// per hash, and the memory held is bounded by the thread count.
///
/// Each thread waits on the shared queue with its own timeout (a multi-consumer channel), so
/// every thread that has been idle for `IDLE_RELEASE` gives its memory back. (With one receiver
/// behind a mutex, an idle thread could hold the lock through its timeouts while the thread
/// that had hashed never got to time out, keeping 19 MiB for good.)
#[derive(Clone)]
struct Workers {
    tx: flume::Sender<Job>,
}

impl Workers {
    fn start(n: usize, idle_release: Duration) -> Result<Workers> {
        let (tx, rx) = flume::unbounded::<Job>();
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("opentrusty-hash-{i}"))
                .spawn(move || {
                    loop {
                        match rx.recv_timeout(idle_release) {
                            Ok(job) => job(),
                            Err(flume::RecvTimeoutError::Timeout) => {
                                BLOCKS.with(|b| *b.borrow_mut() = Vec::new())
                            }
                            // Every Hasher is gone: the thread ends.
                            Err(flume::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Workers { tx })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.tx
            .send(job)
            .map_err(|_| Error::Internal("the hashing threads stopped".into()))?;
        result
            .await
            .map_err(|_| Error::Internal("a hashing job failed".into()))
    }
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    workers: Workers,
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
            workers: Workers::start(concurrency, IDLE_RELEASE)?,
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

    /// Runs `work` on a hashing thread once a slot is free, or fails with `Busy`.
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
        let out = self.workers.run(work).await;
        drop(permit);
        out
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
            let ok = verify_now(&params, &password, &target);
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

thread_local! {
    /// Argon2 working memory, kept per hashing thread: allocating and faulting in 19 MiB per
    /// hash costs about as much as the hash itself. Dropped after [`IDLE_RELEASE`] without work.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs Argon2id with `params` into `out`, on this thread's reusable memory.
fn compute(params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    let argon = Hasher::argon2(params);
    BLOCKS
        .with(|blocks| {
            let mut blocks = blocks.borrow_mut();
            let need = params.block_count();
            if blocks.len() < need {
                blocks.resize(need, Block::new());
            }
            argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..need])
        })
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// A PHC string `$argon2id$v=19$m=..,t=..,p=..$salt$hash` with a fresh 128-bit salt.
fn hash_now(params: &Params, password: &str) -> Result<String> {
    let internal = |e: argon2::password_hash::phc::Error| Error::Internal(format!("argon2: {e}"));
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| Error::Internal("random salt".into()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(params, password.as_bytes(), &salt, &mut out)?;
    let phc = argon2::PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| Error::Internal(format!("argon2: {e}")))?,
        salt: Some(Salt::new(&salt).map_err(internal)?),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string. Argon2id hashes are recomputed on the
/// thread's reusable memory and compared in constant time; anything else goes through the
/// crate's general verifier.
fn verify_now(params: &Params, password: &str, stored: &str) -> bool {
    let Ok(phc) = argon2::PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let stored_params = Params::try_from(&phc);
    match stored_params {
        Ok(p)
            if phc.algorithm == argon2::ARGON2ID_IDENT
                && phc.version == Some(Version::V0x13.into()) =>
        {
            let mut out = vec![0u8; expected.as_bytes().len()];
            let p = Params::new(p.m_cost(), p.t_cost(), p.p_cost(), Some(out.len())).unwrap_or(p);
            compute(&p, password.as_bytes(), salt.as_ref(), &mut out).is_ok()
                && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
        }
        _ => Hasher::argon2(params)
            .verify_password(password.as_bytes(), stored)
            .is_ok(),
    }
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

    /// Reports how many Argon2 blocks the thread running it holds, after every thread of the
    /// pool has picked up one such job (so each thread answers once).
    fn held_blocks(w: &Workers, n: usize) -> Vec<usize> {
        let gate = Arc::new(std::sync::Barrier::new(n));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..n {
            let (gate, tx) = (gate.clone(), tx.clone());
            w.tx.send(Box::new(move || {
                gate.wait();
                let _ = tx.send(BLOCKS.with(|b| b.borrow().len()));
            }))
            .unwrap();
        }
        (0..n).map(|_| rx.recv().unwrap()).collect()
    }

    #[test]
    fn every_idle_thread_gives_its_memory_back() {
        let w = Workers::start(2, Duration::from_millis(100)).unwrap();
        let gate = Arc::new(std::sync::Barrier::new(2));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let (gate, tx) = (gate.clone(), tx.clone());
            w.tx.send(Box::new(move || {
                gate.wait();
                BLOCKS.with(|b| b.borrow_mut().resize(64, Block::default()));
                let _ = tx.send(());
            }))
            .unwrap();
        }
        rx.recv().unwrap();
        rx.recv().unwrap();
        assert_eq!(
            held_blocks(&w, 2),
            vec![64, 64],
            "memory is reused while busy"
        );
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            held_blocks(&w, 2),
            vec![0, 0],
            "both threads released it when idle"
        );
    }

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

    #[test]
    fn reads_hashes_made_elsewhere() {
        use argon2::password_hash::PasswordHasher;
        // A PHC string from the reference implementation with other parameters (p=2, as an
        // imported hash from another system might have) verifies on the reusable-memory path.
        let other = Params::new(8192, 1, 2, None).unwrap();
        let phc = Hasher::argon2(&other)
            .hash_password(b"imported secret")
            .unwrap()
            .to_string();
        let mine = Params::new(19_456, 2, 1, None).unwrap();
        assert!(verify_now(&mine, "imported secret", &phc));
        assert!(!verify_now(&mine, "imported secreT", &phc));
        // And ours verifies with the reference implementation.
        let ours = hash_now(&mine, "round trip").unwrap();
        assert!(
            Hasher::argon2(&mine)
                .verify_password(b"round trip", ours.as_str())
                .is_ok()
        );
        assert!(!verify_now(&mine, "x", "not a phc string"));
    }
}
