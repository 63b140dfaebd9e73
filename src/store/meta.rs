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
