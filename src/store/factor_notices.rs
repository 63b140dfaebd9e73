//! What a user is told at their next sign-in about their second factors: recovery codes used
//! since they were last told (issue 12: using one is shown to the user at the next login).

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

impl TenantScope<'_> {
    /// When the user's recovery codes that were used before `before` and not yet shown to
    /// them were used, oldest first.
    pub async fn recovery_uses_unnoticed(
        &mut self,
        user_id: &str,
        before: UnixTime,
    ) -> Result<Vec<UnixTime>> {
        const SQL: &str = "SELECT used_at FROM mfa_recovery_codes WHERE tenant_id = $1 \
                           AND user_id = $2 AND used_at IS NOT NULL AND used_at < $3 \
                           AND noticed_at IS NULL ORDER BY used_at LIMIT 20";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .bind(user_id)
            .bind(before)
            .fetch_all(&mut **c)
            .await?))
    }

    /// Records that the user was shown the uses before `before`.
    pub async fn recovery_uses_noticed(
        &mut self,
        user_id: &str,
        before: UnixTime,
        now: UnixTime,
    ) -> Result<u64> {
        const SQL: &str = "UPDATE mfa_recovery_codes SET noticed_at = $4 WHERE tenant_id = $1 \
                           AND user_id = $2 AND used_at IS NOT NULL AND used_at < $3 \
                           AND noticed_at IS NULL";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user_id)
            .bind(before)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}
