//! Housekeeping deletes across all tenants (not tenant-scoped: they remove only rows that
//! are expired by time, whoever owns them), in small batches so no statement holds long locks.

use super::{Result, Tx, on_tx};
use crate::clock::UnixTime;

/// Tables with an `expires_at` column and their primary key, purged by [`Tx::purge_expired`].
/// Tokens are kept a little after expiry (`grace`) so a replay can still be recognised.
pub const PURGEABLE: &[(&str, &str)] = &[
    ("auth_codes", "code_hash"),
    ("access_tokens", "token_hash"),
    ("refresh_tokens", "token_hash"),
    ("consents", "tenant_id || user_id || client_id"),
];

impl Tx {
    /// Deletes up to `batch` rows of `table` that expired before `before`; returns the count.
    pub async fn purge_expired(
        &mut self,
        table: &str,
        before: UnixTime,
        batch: i64,
    ) -> Result<u64> {
        let Some((table, key)) = PURGEABLE.iter().find(|(t, _)| *t == table) else {
            return Ok(0);
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {key} IN \
             (SELECT {key} FROM {table} WHERE expires_at < $1 LIMIT $2)"
        ));
        Ok(on_tx!(self, |c| sqlx::query(sql)
            .bind(before)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}
