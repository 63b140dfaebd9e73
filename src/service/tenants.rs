//! A small read-through cache of tenants by slug: every request to a tenant endpoint needs
//! its tenant, and discovery or JWKS should not pay a database round trip for it. Entries live
//! for [`TTL`], so a change made by another process or node (CLI, a second daemon) is seen
//! within that time; changes made through this process invalidate at once.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::domain::tenant::Tenant;
use crate::store::Store;

use super::Result;

/// How long a cached answer (also "no such tenant") is trusted.
pub const TTL: Duration = Duration::from_secs(2);
/// Beyond this many entries the cache starts over (random slugs cannot grow it without bound).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TenantCache {
    entries: RwLock<HashMap<String, (Option<Tenant>, Instant)>>,
}

impl TenantCache {
    /// The tenant with this slug (any status), from the cache or the database.
    pub async fn get(&self, store: &Store, slug: &str) -> Result<Option<Tenant>> {
        let now = Instant::now();
        if let Some((t, at)) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(slug)
            && now.duration_since(*at) < TTL
        {
            return Ok(t.clone());
        }
        let found = store.read().await?.tenant_by_slug(slug).await?;
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(slug.to_owned(), (found.clone(), now));
        Ok(found)
    }

    /// Forgets one slug after a local change.
    pub fn invalidate(&self, slug: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slug);
    }
}
