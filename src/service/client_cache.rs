//! A per-node cache of clients (with their secret hashes), so client authentication at the
//! back-channel endpoints costs no database round trip.
//!
//! What bounds staleness: on PostgreSQL, every write to a client (secret rotated, disabled,
//! updated, deleted, created) notifies all nodes in its transaction and each daemon's listener
//! drops the entry on arrival (`service::invalidate`), so the change is seen within
//! milliseconds; while that listener is disconnected the cache is bypassed. On SQLite (the CLI
//! may write while the daemon runs) entries live for [`TTL`] seconds. Changes made through
//! this node invalidate at once.
//!
//! The client id comes from the request, so it is attacker input: one longer than
//! [`limits::CLIENT_ID`] is unknown without a query and without an entry, and "no such client"
//! answers live in a separate, small map, so random ids can neither grow memory (at most
//! [`MAX_MISSING`] × 255 bytes) nor evict the real clients.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::protocol::limits;
use crate::store;

use super::invalidate::Gate;

/// Seconds an entry is trusted: the bound on staleness on SQLite, a safety net on PostgreSQL.
pub const TTL: i64 = 5;
/// Clients found: only registered clients land here; beyond the bound the map starts over.
const MAX_FOUND: usize = 10_000;
/// Client ids known not to exist (per node, all tenants).
pub const MAX_MISSING: usize = 1_024;

/// A client and its stored secret hash (`None` for public clients).
pub type Entry = Arc<(Client, Option<String>)>;

type Map<T> = RwLock<HashMap<(TenantId, String), (UnixTime, T)>>;

#[derive(Default)]
pub struct ClientCache {
    found: Map<Entry>,
    missing: Map<()>,
    gate: Gate,
}

fn fresh<T: Clone>(map: &Map<T>, key: &(TenantId, String), now: UnixTime) -> Option<T> {
    let map = map.read().ok()?;
    let (at, v) = map.get(key)?;
    (now - at < TTL).then(|| v.clone())
}

struct Put<'a> {
    gate: &'a Gate,
    ticket: u64,
    now: UnixTime,
}

fn put<T>(map: &Map<T>, at: &Put<'_>, key: (TenantId, String), value: T, max: usize) {
    let now = at.now;
    if let Ok(mut m) = map.write() {
        if !at.gate.admits(at.ticket) {
            return;
        }
        if m.len() >= max {
            m.retain(|_, (at, _)| now - *at < TTL);
            if m.len() >= max {
                m.clear();
            }
        }
        m.insert(key, (now, value));
    }
}

impl ClientCache {
    pub async fn get(
        &self,
        app: &App,
        tenant: &Tenant,
        client_id: &str,
    ) -> store::Result<Option<Entry>> {
        // No registered client has such an id (they are 22 characters); the parsers refuse it
        // before this, and this keeps the cache safe whoever calls it.
        if client_id.is_empty() || client_id.len() > limits::CLIENT_ID {
            return Ok(None);
        }
        let now = app.clock.now();
        let key = (tenant.id, client_id.to_owned());
        let ticket = self.gate.ticket();
        if ticket.is_some() {
            if let Some(e) = fresh(&self.found, &key, now) {
                return Ok(Some(e));
            }
            if fresh(&self.missing, &key, now).is_some() {
                return Ok(None);
            }
        }
        let found = {
            let mut tx = app.store.read().await?;
            tx.scope(tenant).client_get(client_id).await?.map(Arc::new)
        };
        if let Some(ticket) = ticket {
            let at = Put {
                gate: &self.gate,
                ticket,
                now,
            };
            match &found {
                Some(e) => put(&self.found, &at, key, e.clone(), MAX_FOUND),
                None => put(&self.missing, &at, key, (), MAX_MISSING),
            }
        }
        Ok(found)
    }

    pub fn invalidate(&self, tenant: TenantId, client_id: &str) {
        self.gate.bump();
        let key = (tenant, client_id.to_owned());
        if let Ok(mut m) = self.found.write() {
            m.remove(&key);
        }
        if let Ok(mut m) = self.missing.write() {
            m.remove(&key);
        }
    }

    /// Drops every entry; with `off`, keeps the cache bypassed until called with `false`.
    pub fn set_off(&self, off: bool) {
        self.gate.set_off(off);
        if let Ok(mut m) = self.found.write() {
            m.clear();
        }
        if let Ok(mut m) = self.missing.write() {
            m.clear();
        }
    }

    /// Entries held: (clients found, ids known to be missing).
    pub fn sizes(&self) -> (usize, usize) {
        let n = |m: &Map<Entry>| m.read().map_or(0, |m| m.len());
        (n(&self.found), self.missing.read().map_or(0, |m| m.len()))
    }
}
