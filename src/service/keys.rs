//! Signing keys per tenant: creation (sealed under the KEK), rotation on a schedule or on
//! demand, the JWKS, and an in-memory cache of parsed keys so signing never re-parses DER.
//! Several nodes over one database agree because every decision is made from the rows and
//! the clock (`protocol::keyring`), and a generation number is unique per tenant and alg.
//!
//! What bounds the staleness of the cache: on PostgreSQL, every write to a tenant's keys
//! notifies all nodes in its transaction and each daemon's listener drops that tenant's entry
//! on arrival (`service::invalidate`), so a key rotated by another node or the CLI is published
//! within milliseconds; while that listener is disconnected the cache is bypassed. On SQLite
//! an entry is re-read after at most [`CACHE_TTL`] (or SIGHUP). Changes made through this
//! process invalidate at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::json;
use tokio::sync::OnceCell;

use super::invalidate::Gate;
use super::kek::Kek;
use super::{Context, Error, Result};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::SigningAlg;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;
use crate::protocol::jose::{self, SigningKey};
use crate::protocol::keyring::{self, KeyMeta};
use crate::store::KeyRow;

/// A node re-reads a tenant's keys at least this often (well below `keyring::PUBLISH_LEAD`):
/// the bound on staleness on SQLite, a safety net on PostgreSQL.
const CACHE_TTL: i64 = 60;

/// The parsed, published keys of one tenant.
pub struct TenantKeys {
    pub metas: Vec<KeyMeta>,
    keys: HashMap<String, Arc<SigningKey>>,
    /// The JWKS document, rendered once per load; served by reference count, not copied.
    pub jwks: Arc<str>,
    fresh_until: UnixTime,
}

impl TenantKeys {
    pub fn signer(&self, alg: SigningAlg, now: UnixTime) -> Option<&Arc<SigningKey>> {
        keyring::active(&self.metas, alg, now).and_then(|m| self.keys.get(&m.kid))
    }

    /// A published key by `kid` (to verify our own tokens, e.g. `id_token_hint`).
    pub fn by_kid(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.get(kid)
    }
}

#[derive(Default)]
pub struct Keys {
    kek: OnceCell<Kek>,
    cache: RwLock<HashMap<TenantId, Arc<TenantKeys>>>,
    gate: Gate,
}

fn aad(tenant: TenantId, alg: SigningAlg, generation: i64) -> String {
    format!("{tenant}:{alg}:{generation}")
}

impl Keys {
    pub async fn kek(&self, app: &App) -> Result<&Kek> {
        self.kek
            .get_or_try_init(|| async {
                Kek::load(&app.config.oauth, &app.store, app.clock.now()).await
            })
            .await
    }

    /// Forgets every tenant's parsed keys (SIGHUP: the next request re-reads the database, so
    /// a key rotated by the CLI is picked up at once instead of within `CACHE_TTL`).
    pub fn invalidate_all(&self) {
        self.gate.bump();
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// Drops every tenant's keys; with `off`, keeps the cache bypassed until called with
    /// `false` (the invalidation listener is disconnected).
    pub fn set_off(&self, off: bool) {
        self.gate.set_off(off);
        self.invalidate_all();
    }

    pub fn invalidate(&self, tenant: TenantId) {
        self.gate.bump();
        if let Ok(mut c) = self.cache.write() {
            c.remove(&tenant);
        }
    }

    /// The tenant's keys, from the cache while fresh, else from the database. Creates the
    /// first RS256 key of a tenant that has none.
    pub async fn for_tenant(&self, app: &App, tenant: &Tenant) -> Result<Arc<TenantKeys>> {
        let now = app.clock.now();
        let ticket = self.gate.ticket();
        if ticket.is_some()
            && let Ok(c) = self.cache.read()
            && let Some(k) = c.get(&tenant.id)
            && now < k.fresh_until
        {
            return Ok(k.clone());
        }
        let mut loaded = self.load(app, tenant, now).await?;
        if keyring::active(&loaded.metas, SigningAlg::RS256, now).is_none() {
            ensure(app, tenant, SigningAlg::RS256).await?;
            loaded = self.load(app, tenant, now).await?;
        }
        let loaded = Arc::new(loaded);
        if let Some(ticket) = ticket
            && let Ok(mut c) = self.cache.write()
            && self.gate.admits(ticket)
        {
            c.insert(tenant.id, loaded.clone());
        }
        Ok(loaded)
    }

    async fn load(&self, app: &App, tenant: &Tenant, now: UnixTime) -> Result<TenantKeys> {
        let rows = {
            let mut tx = app.store.read().await?;
            tx.scope(tenant).keys_list().await?
        };
        let kek = self.kek(app).await?;
        let mut metas = Vec::new();
        let mut keys = HashMap::new();
        for r in rows {
            let alg = SigningAlg::parse(&r.alg).ok_or_else(|| {
                Error::Internal(format!("signing key {} has alg {}", r.kid, r.alg))
            })?;
            metas.push(KeyMeta {
                kid: r.kid.clone(),
                alg,
                generation: r.generation,
                activates_at: r.activates_at,
            });
            if r.kek_id != kek.id {
                return Err(Error::KeyEncryption(format!(
                    "signing key {} of tenant {} was sealed with key-encryption key {}, but OPENTRUSTY_KEY_ENCRYPTION_KEY has key id {}",
                    r.kid, tenant.slug, r.kek_id, kek.id
                )));
            }
            let der = kek
                .open(&r.private_key, &aad(tenant.id, alg, r.generation))
                .map_err(|_| {
                    Error::KeyEncryption(format!(
                        "signing key {} of tenant {} does not decrypt with key-encryption key {} (OPENTRUSTY_KEY_ENCRYPTION_KEY)",
                        r.kid, tenant.slug, kek.id
                    ))
                })?;
            let key = SigningKey::from_pkcs8(alg, &der)
                .map_err(|e| Error::Internal(format!("signing key {}: {e}", r.kid)))?;
            keys.insert(r.kid, Arc::new(key));
        }
        let published: Vec<&KeyMeta> = metas
            .iter()
            .filter(|m| keyring::is_published(&metas, m, now))
            .collect();
        let jwks = json!({
            "keys": published.iter().filter_map(|m| keys.get(&m.kid)).map(|k| &k.jwk).collect::<Vec<_>>()
        })
        .to_string()
        .into();
        keys.retain(|kid, _| published.iter().any(|m| &m.kid == kid));
        let fresh_until =
            keyring::next_change(&metas, now).map_or(now + CACHE_TTL, |t| t.min(now + CACHE_TTL));
        Ok(TenantKeys {
            metas,
            keys,
            jwks,
            fresh_until,
        })
    }
}

/// The key that signs for `alg` now, creating the tenant's first key of that alg if needed.
pub async fn signer(app: &App, tenant: &Tenant, alg: SigningAlg) -> Result<Arc<SigningKey>> {
    let now = app.clock.now();
    let keys = app.keys.for_tenant(app, tenant).await?;
    if let Some(k) = keys.signer(alg, now) {
        return Ok(k.clone());
    }
    ensure(app, tenant, alg).await?;
    app.keys.invalidate(tenant.id);
    let keys = app.keys.for_tenant(app, tenant).await?;
    keys.signer(alg, now)
        .cloned()
        .ok_or_else(|| Error::Internal(format!("no active {alg} key after creating one")))
}

/// Creates generation 1 of `alg`, active at once, unless the tenant has any key of that alg.
/// Nothing can have cached a JWKS with a key of this alg yet, so no publication lead is needed.
pub async fn ensure(app: &App, tenant: &Tenant, alg: SigningAlg) -> Result<()> {
    let now = app.clock.now();
    let existing = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).keys_list().await?
    };
    if existing.iter().any(|r| r.alg == alg.as_str()) {
        return Ok(());
    }
    insert_generation(app, tenant, alg, 1, now, None)
        .await
        .map(|_| ())
}

/// Adds the next generation of `alg`, published now and signing from `now + activate_in`.
pub async fn rotate(
    app: &App,
    tenant: &Tenant,
    alg: SigningAlg,
    activate_in: i64,
) -> Result<KeyMeta> {
    rotate_inner(app, tenant, alg, activate_in, None).await
}

/// An operator's rotation (`keys rotate`, `POST .../keys/rotate`): the first key of `alg` if
/// the tenant has none, then the next generation, published now and signing from
/// `now + activate_in`; the new key is audited (`key.rotated`) in its own transaction.
pub async fn rotate_audited(
    app: &App,
    tenant: &Tenant,
    alg: SigningAlg,
    activate_in: i64,
    ctx: &Context,
) -> Result<KeyMeta> {
    // A rotation needs a key to rotate from; the first one is created active.
    ensure(app, tenant, alg).await?;
    rotate_inner(app, tenant, alg, activate_in, Some(ctx)).await
}

async fn rotate_inner(
    app: &App,
    tenant: &Tenant,
    alg: SigningAlg,
    activate_in: i64,
    audit: Option<&Context>,
) -> Result<KeyMeta> {
    let now = app.clock.now();
    let metas = metas(app, tenant).await?;
    let generation = keyring::next_generation(&metas, alg);
    let at = now + activate_in.max(0);
    let meta = insert_generation(app, tenant, alg, generation, at, audit)
        .await?
        .ok_or_else(|| {
            Error::Conflict("another rotation of this key happened at the same time; retry".into())
        })?;
    app.keys.invalidate(tenant.id);
    Ok(meta)
}

/// A signing key as the management API shows it: never its private part.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub meta: KeyMeta,
    pub created_at: UnixTime,
    /// `next` (published, not signing yet), `active`, `retired` (published, no longer
    /// signing) or `expired` (unpublished, deleted by the next maintenance).
    pub state: &'static str,
    /// The public JWK as published in the JWKS (`None` once the key is unpublished).
    pub jwk: Option<serde_json::Value>,
}

/// The state of `m` among the tenant's `metas` at `now` (see [`KeyInfo::state`]).
pub fn state(metas: &[KeyMeta], m: &KeyMeta, now: UnixTime) -> &'static str {
    if m.activates_at > now {
        "next"
    } else if keyring::active(metas, m.alg, now).is_some_and(|a| a.kid == m.kid) {
        "active"
    } else if keyring::is_published(metas, m, now) {
        "retired"
    } else {
        "expired"
    }
}

/// The tenant's signing keys, oldest first, with their public parts.
pub async fn list(app: &App, tenant: &Tenant) -> Result<Vec<KeyInfo>> {
    let now = app.clock.now();
    // First, as the JWKS does: it creates the tenant's first key if it has none yet.
    let published = app.keys.for_tenant(app, tenant).await?;
    let rows = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).keys_list().await?
    };
    let metas: Vec<(KeyMeta, UnixTime)> = rows
        .into_iter()
        .filter_map(|r| {
            let meta = KeyMeta {
                alg: SigningAlg::parse(&r.alg)?,
                kid: r.kid,
                generation: r.generation,
                activates_at: r.activates_at,
            };
            Some((meta, r.created_at))
        })
        .collect();
    let only: Vec<KeyMeta> = metas.iter().map(|(m, _)| m.clone()).collect();
    let mut out: Vec<KeyInfo> = metas
        .into_iter()
        .map(|(meta, created_at)| KeyInfo {
            state: state(&only, &meta, now),
            jwk: published.by_kid(&meta.kid).map(|k| k.jwk.clone()),
            meta,
            created_at,
        })
        .collect();
    out.sort_by_key(|a| (a.created_at, a.meta.generation));
    Ok(out)
}

pub async fn metas(app: &App, tenant: &Tenant) -> Result<Vec<KeyMeta>> {
    let mut tx = app.store.read().await?;
    let rows = tx.scope(tenant).keys_list().await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(KeyMeta {
                alg: SigningAlg::parse(&r.alg)?,
                kid: r.kid,
                generation: r.generation,
                activates_at: r.activates_at,
            })
        })
        .collect())
}

/// The scheduled part: rotate every alg whose active key is due, delete keys no longer
/// published. Returns how many keys were created and deleted.
pub async fn maintain(app: &App, tenant: &Tenant) -> Result<(usize, usize)> {
    let now = app.clock.now();
    let period = app.config.oauth.key_rotation.as_secs() as i64;
    let metas = metas(app, tenant).await?;
    let mut created = 0;
    for alg in SigningAlg::ALL {
        if keyring::rotation_due(&metas, alg, now, period) {
            let g = keyring::next_generation(&metas, alg);
            match insert_generation(app, tenant, alg, g, now + keyring::PUBLISH_LEAD, None).await {
                Ok(Some(_)) => created += 1,
                Ok(None) => {} // another node rotated first
                Err(e) => return Err(e),
            }
        }
    }
    let expired: Vec<String> = keyring::expired(&metas, now)
        .iter()
        .map(|m| m.kid.clone())
        .collect();
    if !expired.is_empty() {
        let mut tx = app.store.begin().await?;
        for kid in &expired {
            tx.scope(tenant).key_delete(kid).await?;
        }
        tx.commit().await?;
    }
    if created > 0 || !expired.is_empty() {
        app.keys.invalidate(tenant.id);
    }
    Ok((created, expired.len()))
}

async fn insert_generation(
    app: &App,
    tenant: &Tenant,
    alg: SigningAlg,
    generation: i64,
    activates_at: UnixTime,
    audit: Option<&Context>,
) -> Result<Option<KeyMeta>> {
    let now = app.clock.now();
    // RSA key generation takes tens to hundreds of milliseconds: keep it off the async workers.
    let der = tokio::task::spawn_blocking(move || jose::generate(alg))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    let key = SigningKey::from_pkcs8(alg, &der).map_err(|e| Error::Internal(e.to_string()))?;
    let kek = app.keys.kek(app).await?;
    let row = KeyRow {
        kid: key.kid.clone(),
        alg: alg.as_str().to_owned(),
        generation,
        activates_at,
        private_key: kek.seal(&der, &aad(tenant.id, alg, generation))?,
        kek_id: kek.id.clone(),
        created_at: now,
    };
    let mut tx = app.store.begin().await?;
    match tx.scope(tenant).key_insert(&row).await {
        Ok(()) => match audit {
            Some(ctx) => {
                let ev = super::audit::Event {
                    kind: super::audit::Kind::KeyRotated,
                    tenant: Some(tenant.id),
                    target: Some(format!("key:{}", row.kid)),
                    metadata: json!({ "alg": alg.as_str(), "generation": generation, "activates_at": activates_at }),
                    ctx,
                };
                super::audit::commit(tx, ev, now).await?
            }
            None => tx.commit().await?,
        },
        // Another node created this generation first: theirs is the key, ours is dropped.
        Err(crate::store::Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %tenant.slug, kid = %row.kid, alg = %alg, generation, activates_at, "signing key created");
    Ok(Some(KeyMeta {
        kid: row.kid,
        alg,
        generation,
        activates_at,
    }))
}
