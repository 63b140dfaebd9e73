//! Remembered consents (tenant-scoped): which scopes a user granted to a client, until when.

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

impl TenantScope<'_> {
    /// The remembered scope (space-separated) if the consent has not expired.
    pub async fn consent_get(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<String>> {
        const SQL: &str = "SELECT scope FROM consents WHERE tenant_id = $1 AND user_id = $2 \
                           AND client_id = $3 AND expires_at > $4";
        let tenant = self.tenant_id();
        let row: Option<(String,)> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(SQL)
            .bind(tenant)
            .bind(user_id)
            .bind(client_id)
            .bind(now)
            .fetch_optional(&mut **conn)
            .await?);
        Ok(row.map(|(s,)| s))
    }

    pub async fn consent_put(
        &mut self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO consents (tenant_id, user_id, client_id, scope, granted_at, expires_at) \
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, user_id, client_id) \
            DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at, expires_at = excluded.expires_at";
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(user_id)
            .bind(client_id)
            .bind(scope)
            .bind(now)
            .bind(expires_at)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        Ok(())
    }
}
