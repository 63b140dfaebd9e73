//! A small read-through cache of tenants by slug: every request to a tenant endpoint needs
//! its tenant, and discovery or JWKS should not pay a database round trip for it.
//!
//! What bounds staleness: on PostgreSQL, every write to a tenant row notifies all nodes in its
//! transaction and each daemon's listener drops the entry on arrival (`service::invalidate`),
//! so a change made by another node or the CLI is seen within milliseconds; while that
//! listener is disconnected the cache is bypassed. On SQLite (the CLI may write while the
//! daemon runs) entries live for [`TTL`]. Changes made through this process invalidate at once.
//!
//! The slug comes from the request path, so it is attacker input: it is checked against the
//! [`Slug`] rule before anything else (a malformed one is "no such tenant" without a query and
//! without an entry), and "no such tenant" answers live in a separate, small map so that
//! probing random slugs can neither grow memory nor evict the real tenants.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::domain::ids::TenantId;
use crate::domain::tenant::{Slug, Tenant};
use crate::store::Store;

use super::Result;
use super::invalidate::Gate;

/// How long a cached answer (also "no such tenant") is trusted: the bound on staleness on
/// SQLite, a safety net on PostgreSQL (where notifications invalidate at once).
pub const TTL: Duration = Duration::from_secs(2);
/// Tenants found. Only real tenants land here, so the bound is a safety net: beyond it, the
/// map starts over.
const MAX_FOUND: usize = 10_000;
/// Slugs known not to exist, each at most 63 bytes (the [`Slug`] rule): at most ~100 KiB.
const MAX_MISSING: usize = 1_024;

/// Keyed by slugs that passed [`Slug::is_valid`], so a hit costs no allocation.
type Map<T> = RwLock<HashMap<String, (T, Instant)>>;

#[derive(Default)]
pub struct TenantCache {
    found: Map<Tenant>,
    missing: Map<()>,
    gate: Gate,
}

fn fresh<T: Clone>(map: &Map<T>, slug: &str, now: Instant) -> Option<T> {
    let map = map.read().unwrap_or_else(|p| p.into_inner());
    let (v, at) = map.get(slug)?;
    (now.duration_since(*at) < TTL).then(|| v.clone())
}

fn put<T>(map: &Map<T>, gate: &Gate, ticket: u64, slug: &str, value: T, now: Instant, max: usize) {
    let mut map = map.write().unwrap_or_else(|p| p.into_inner());
    if !gate.admits(ticket) {
        return;
    }
    if map.len() >= max {
        map.retain(|_, (_, at)| now.duration_since(*at) < TTL);
        if map.len() >= max {
            map.clear();
        }
    }
    map.insert(slug.to_owned(), (value, now));
}

impl TenantCache {
    /// The tenant with this slug (any status), from the cache or the database. A string that
    /// is not a valid slug is `None` at once.
    pub async fn get(&self, store: &Store, slug: &str) -> Result<Option<Tenant>> {
        if !Slug::is_valid(slug) {
            return Ok(None);
        }
        let now = Instant::now();
        let ticket = self.gate.ticket();
        if ticket.is_some() {
            if let Some(t) = fresh(&self.found, slug, now) {
                return Ok(Some(t));
            }
            if fresh(&self.missing, slug, now).is_some() {
                return Ok(None);
            }
        }
        let found = store.read().await?.tenant_by_slug(slug).await?;
        if let Some(ticket) = ticket {
            let g = &self.gate;
            match &found {
                Some(t) => put(&self.found, g, ticket, slug, t.clone(), now, MAX_FOUND),
                None => put(&self.missing, g, ticket, slug, (), now, MAX_MISSING),
            }
        }
        Ok(found)
    }

    /// Forgets one slug after a local change.
    pub fn invalidate(&self, slug: &str) {
        self.gate.bump();
        self.found
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slug);
        self.missing
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slug);
    }

    /// Forgets the tenant with this id (a notification names the id, not the slug), and every
    /// "no such tenant" answer: the change may be this tenant's creation, under a slug that
    /// was cached as missing.
    pub fn invalidate_id(&self, id: TenantId) {
        self.gate.bump();
        self.found
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (t, _)| t.id != id);
        self.missing
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Drops every entry; with `off`, keeps the cache bypassed until called with `false`.
    pub fn set_off(&self, off: bool) {
        self.gate.set_off(off);
        self.found
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.missing
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Entries held: (tenants found, slugs known to be missing).
    pub fn sizes(&self) -> (usize, usize) {
        let found = self.found.read().unwrap_or_else(|p| p.into_inner()).len();
        let missing = self.missing.read().unwrap_or_else(|p| p.into_inner()).len();
        (found, missing)
    }
}
