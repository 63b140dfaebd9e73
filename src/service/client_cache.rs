//! A short-lived, per-node cache of clients (with their secret hashes), so client
//! authentication at the back-channel endpoints costs no database round trip. A secret
//! rotated or a client deleted through another process is seen within [`TTL`] seconds; changes
//! made through this node invalidate at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::Client;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::store;

pub const TTL: i64 = 5;
/// Bounds the memory spent on unknown client ids.
const MAX_ENTRIES: usize = 10_000;

/// A client and its stored secret hash (`None` for public clients).
pub type Entry = Arc<(Client, Option<String>)>;

/// When an entry was read, and what was found (`None`: no such client).
type Slot = (UnixTime, Option<Entry>);

#[derive(Default)]
pub struct ClientCache {
    map: RwLock<HashMap<(TenantId, String), Slot>>,
}

impl ClientCache {
    pub async fn get(
        &self,
        app: &App,
        tenant: &Tenant,
        client_id: &str,
    ) -> store::Result<Option<Entry>> {
        let now = app.clock.now();
        let key = (tenant.id, client_id.to_owned());
        if let Ok(m) = self.map.read()
            && let Some((at, e)) = m.get(&key)
            && now - at < TTL
        {
            return Ok(e.clone());
        }
        let found = {
            let mut tx = app.store.read().await?;
            tx.scope(tenant).client_get(client_id).await?.map(Arc::new)
        };
        if let Ok(mut m) = self.map.write() {
            if m.len() >= MAX_ENTRIES {
                m.retain(|_, (at, _)| now - *at < TTL);
                if m.len() >= MAX_ENTRIES {
                    m.clear();
                }
            }
            m.insert(key, (now, found.clone()));
        }
        Ok(found)
    }

    pub fn invalidate(&self, tenant: TenantId, client_id: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(&(tenant, client_id.to_owned()));
        }
    }
}
