//! The installation metadata table (`meta`): small key/value facts such as the schema version
//! the running binary expects. Not tenant-owned.

use super::{Result, Tx, on_tx};

/// Key under which migrations record the schema generation.
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

impl Tx {
    pub async fn meta_get(&mut self, key: &str) -> Result<Option<String>> {
        const SQL: &str = "SELECT value FROM meta WHERE key = $1";
        let v: Option<(String,)> = on_tx!(self, |c| sqlx::query_as(SQL)
            .bind(key)
            .fetch_optional(&mut **c)
            .await?);
        Ok(v.map(|(v,)| v))
    }

    /// Records `value` under `key` unless the key already has one (the first writer wins).
    pub async fn meta_insert_absent(&mut self, key: &str, value: &str, now: i64) -> Result<()> {
        const SQL: &str = "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (key) DO NOTHING";
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The key-encryption key fingerprints that the stored signing keys were sealed with,
    /// across the installation (fingerprints only: no tenant's data is read).
    pub async fn signing_key_kek_ids(&mut self) -> Result<Vec<String>> {
        const SQL: &str = "SELECT DISTINCT kek_id FROM signing_keys ORDER BY kek_id";
        let rows: Vec<(String,)> =
            on_tx!(self, |c| sqlx::query_as(SQL).fetch_all(&mut **c).await?);
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    pub async fn meta_set(&mut self, key: &str, value: &str, now: i64) -> Result<()> {
        const SQL: &str = "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) \
                           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }
}
