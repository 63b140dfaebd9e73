//! A short-lived, per-node cache of tenants by slug: every request under `/t/{tenant}` needs its
//! tenant, and a database round trip for that would dominate the cheap endpoints (discovery,
//! JWKS). A change made elsewhere (another node, the CLI) is seen within [`TTL`] seconds;
//! changes made through this node invalidate at once.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::store;

/// Seconds a cached tenant (or its absence) is trusted.
pub const TTL: i64 = 5;
/// Bounds the memory an attacker can make us spend on unknown slugs.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TenantCache {
    map: RwLock<HashMap<String, (UnixTime, Option<Tenant>)>>,
}

impl TenantCache {
    /// The tenant with this slug, whatever its status, from the cache while fresh.
    pub async fn by_slug(&self, app: &App, slug: &str) -> store::Result<Option<Tenant>> {
        let now = app.clock.now();
        if let Ok(m) = self.map.read()
            && let Some((at, t)) = m.get(slug)
            && now - at < TTL
        {
            return Ok(t.clone());
        }
        let found = {
            let mut tx = app.store.read().await?;
            tx.tenant_by_slug(slug).await?
        };
        if let Ok(mut m) = self.map.write() {
            if m.len() >= MAX_ENTRIES {
                m.retain(|_, (at, _)| now - *at < TTL);
                if m.len() >= MAX_ENTRIES {
                    m.clear();
                }
            }
            m.insert(slug.to_owned(), (now, found.clone()));
        }
        Ok(found)
    }

    pub fn invalidate(&self, slug: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(slug);
        }
    }
}
