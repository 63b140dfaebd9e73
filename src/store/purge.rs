//! Housekeeping deletes across all tenants (not tenant-scoped: they remove only rows that
//! are expired by time, whoever owns them), in small batches so no statement holds long locks.

use super::{Result, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;

/// Tables with an `expires_at` column and their primary key, purged by [`Tx::purge_expired`].
/// Tokens are kept a little after expiry (`grace`) so a replay can still be recognised.
pub const PURGEABLE: &[(&str, &str)] = &[
    ("auth_codes", "code_hash"),
    ("access_tokens", "token_hash"),
    ("refresh_tokens", "token_hash"),
    ("consents", "tenant_id || user_id || client_id"),
    ("user_links", "token_hash"),
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

impl Tx {
    /// Deletes up to `batch` audit events of one tenant (`None`: the installation-wide events)
    /// created before `before`; returns the count. Per tenant, so each statement is a range of
    /// the `(tenant_id, created_at)` index rather than a scan of the whole table.
    pub async fn purge_audit(
        &mut self,
        tenant: Option<TenantId>,
        before: UnixTime,
        batch: i64,
    ) -> Result<u64> {
        const FOR_TENANT: &str = "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE tenant_id = $1 AND created_at < $2 LIMIT $3)";
        const GLOBAL: &str = "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE tenant_id IS NULL AND created_at < $1 LIMIT $2)";
        Ok(match tenant {
            Some(t) => on_tx!(self, |c| sqlx::query(FOR_TENANT)
                .bind(t.to_string())
                .bind(before)
                .bind(batch)
                .execute(&mut **c)
                .await?
                .rows_affected()),
            None => on_tx!(self, |c| sqlx::query(GLOBAL)
                .bind(before)
                .bind(batch)
                .execute(&mut **c)
                .await?
                .rows_affected()),
        })
    }
}
