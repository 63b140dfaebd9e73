//! Signing keys of a tenant (tenant-scoped). The private key column holds ciphertext only;
//! encryption and decryption happen in the service layer with the key-encryption key.
//! Every write tells the other nodes' key caches (`notify.rs`) inside its transaction.

use sqlx::FromRow;

use super::notify::Invalidation;
use super::{Error, Result, TenantScope, on_tx};
use crate::clock::UnixTime;

#[derive(FromRow, Clone, Debug)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub generation: i64,
    pub activates_at: i64,
    /// base64(nonce || AES-256-GCM ciphertext) of the PKCS#8 DER.
    pub private_key: String,
    /// Which key-encryption key sealed it (a fingerprint), to report a wrong KEK clearly.
    pub kek_id: String,
    pub created_at: i64,
}

impl TenantScope<'_> {
    pub async fn keys_list(&mut self) -> Result<Vec<KeyRow>> {
        const SQL: &str = "SELECT kid, alg, generation, activates_at, private_key, kek_id, created_at \
                           FROM signing_keys WHERE tenant_id = $1 ORDER BY alg, generation";
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query_as(SQL)
            .bind(tenant)
            .fetch_all(&mut **conn)
            .await?))
    }

    /// Inserts a key; `Conflict` when another node already inserted this generation.
    pub async fn key_insert(&mut self, k: &KeyRow) -> Result<()> {
        const SQL: &str = "INSERT INTO signing_keys \
            (tenant_id, kid, alg, generation, activates_at, private_key, kek_id, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(&k.kid)
            .bind(&k.alg)
            .bind(k.generation)
            .bind(k.activates_at)
            .bind(&k.private_key)
            .bind(&k.kek_id)
            .bind(k.created_at)
            .execute(&mut **conn)
            .await
            .map_err(|e| Error::conflict_as(e, "signing key generation"))?
            .rows_affected());
        self.keys_changed().await
    }

    pub async fn key_delete(&mut self, kid: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM signing_keys WHERE tenant_id = $1 AND kid = $2";
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(kid)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.keys_changed().await
    }

    /// Moves a pending key's activation (used by `keys rotate --activate-in`).
    pub async fn key_set_activation(&mut self, kid: &str, at: UnixTime) -> Result<()> {
        const SQL: &str =
            "UPDATE signing_keys SET activates_at = $3 WHERE tenant_id = $1 AND kid = $2";
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(kid)
            .bind(at)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        self.keys_changed().await
    }

    async fn keys_changed(&mut self) -> Result<()> {
        let tenant = self.tenant();
        self.tx.notify(&Invalidation::Keys(tenant)).await
    }
}
