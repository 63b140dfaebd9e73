//! Applies cross-node cache invalidations (PostgreSQL `LISTEN`/`NOTIFY`, see `store::notify`)
//! to this node's caches: tenants, clients with their secret hashes, signing keys.
//!
//! With the listener connected, a change committed by any node or by the CLI reaches every
//! daemon's caches within one notification round trip (milliseconds). While it is not
//! connected — at start-up before the first `LISTEN`, and after a lost connection — changes
//! can be missed unseen, so every cache is dropped and then bypassed (each request reads the
//! database) until `LISTEN` is back in place, when they are dropped once more. On SQLite there
//! is no listener and each cache's TTL bounds staleness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

use crate::app::{App, AppState};
use crate::store::notify::{Event, Invalidation};

/// Guards a cache against keeping what an invalidation meant to remove.
///
/// A read that started before a change commits can finish after the change's notification
/// was applied; storing its (old) answer then would keep a stale entry for a whole TTL. So a
/// reader takes a [`Gate::ticket`] before it queries and stores its answer only if no
/// invalidation happened since ([`Gate::admits`], checked under the cache's write lock, while
/// invalidations bump the epoch before they remove). The gate also switches a cache off while
/// the listener is disconnected.
#[derive(Default)]
pub struct Gate {
    epoch: AtomicU64,
    off: AtomicBool,
}

impl Gate {
    /// `None` while the cache is off: neither read from it nor fill it.
    pub fn ticket(&self) -> Option<u64> {
        if self.off.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.epoch.load(Ordering::SeqCst))
    }

    /// Whether an answer read under `ticket` may be stored now.
    pub fn admits(&self, ticket: u64) -> bool {
        !self.off.load(Ordering::SeqCst) && self.epoch.load(Ordering::SeqCst) == ticket
    }

    /// Call before removing entries: reads in flight will not store their answers.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn set_off(&self, off: bool) {
        self.off.store(off, Ordering::SeqCst);
        self.bump();
    }
}

/// Applies one invalidation to this node's caches.
pub fn apply(app: &App, what: &Invalidation) {
    match what {
        Invalidation::Tenant(id) => app.tenants.invalidate_id(*id),
        Invalidation::Client { tenant, client_id } => app.clients.invalidate(*tenant, client_id),
        Invalidation::Keys(tenant) => app.keys.invalidate(*tenant),
    }
}

/// Drops every cached tenant, client and key set; `off` keeps the caches bypassed until
/// called again with `false`.
pub fn set_caches(app: &App, off: bool) {
    app.tenants.set_off(off);
    app.clients.set_off(off);
    app.keys.set_off(off);
}

/// The listener task: runs until `shutdown` turns true. Returns at once on SQLite.
pub async fn listen(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let Some(mut listener) = app.store.cache_listener() else {
        return;
    };
    // Until the first LISTEN is in place, changes can be missed: bypass the caches.
    set_caches(&app, true);
    let mut connected = false;
    let mut failures: u64 = 0;
    loop {
        let event = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {
                // Requests still drain after this; with nobody listening, they read the
                // database rather than caches nobody invalidates any more.
                set_caches(&app, true);
                break;
            }
            e = listener.next() => e,
        };
        match event {
            Event::Connected => {
                set_caches(&app, false);
                connected = true;
                tracing::info!(
                    after_failures = failures,
                    "listening for cache invalidations from other nodes"
                );
                failures = 0;
            }
            Event::Lost(error) => {
                set_caches(&app, true);
                failures += 1;
                if connected || failures == 1 {
                    metrics::counter!("opentrusty_cache_listener_lost_total").increment(1);
                    tracing::warn!(%error, "cache invalidation listener is not connected; caches are bypassed until it reconnects");
                } else {
                    tracing::debug!(%error, failures, "cache invalidation listener: reconnect failed");
                }
                connected = false;
            }
            Event::Changed(what) => {
                apply(&app, &what);
                let kind = match what {
                    Invalidation::Tenant(_) => "tenant",
                    Invalidation::Client { .. } => "client",
                    Invalidation::Keys(_) => "keys",
                };
                metrics::counter!("opentrusty_cache_invalidations_total", "kind" => kind)
                    .increment(1);
                tracing::debug!(%what, "cache invalidation");
            }
            Event::Unrecognized(payload) => {
                // A newer node's kind of change: what it covers is unknown, so drop it all.
                set_caches(&app, false);
                metrics::counter!("opentrusty_cache_invalidations_total", "kind" => "unknown")
                    .increment(1);
                tracing::warn!(payload = %payload.chars().take(100).collect::<String>(), "unrecognized cache invalidation; dropped every cache");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let gate = Gate::default();
        let ticket = gate.ticket().unwrap();
        assert!(gate.admits(ticket));
        // A change's notification arrives while the read is in flight.
        gate.bump();
        assert!(!gate.admits(ticket));
        assert!(gate.admits(gate.ticket().unwrap()));
    }

    #[test]
    fn an_off_cache_is_neither_read_nor_filled() {
        let gate = Gate::default();
        let before = gate.ticket().unwrap();
        gate.set_off(true);
        assert_eq!(gate.ticket(), None);
        assert!(!gate.admits(before), "a read from before the loss");
        gate.set_off(false);
        assert!(!gate.admits(before), "nor after the reconnect");
        assert!(gate.admits(gate.ticket().unwrap()));
    }
}
