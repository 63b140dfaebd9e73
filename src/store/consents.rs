//! Remembered consents (tenant-scoped): which scopes a user granted to a client, until when.

use sqlx::FromRow;

use super::tokens::passes;
use super::{Result, Revoked, TenantScope, on_tx};
use crate::clock::UnixTime;

/// A remembered consent as the management API lists it.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    /// Space-separated.
    pub scope: String,
    pub granted_at: i64,
    pub expires_at: i64,
}

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

    /// The user's unexpired consents, by client id.
    pub async fn consents_of_user(
        &mut self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<ConsentRow>> {
        const SQL: &str = "SELECT client_id, scope, granted_at, expires_at FROM consents \
                           WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY client_id";
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query_as(SQL)
            .bind(tenant)
            .bind(user_id)
            .bind(now)
            .fetch_all(&mut **conn)
            .await?))
    }

    /// Forgets the user's consent to a client; whether there was one (expired ones count: the
    /// row is gone either way).
    pub async fn consent_delete(&mut self, user_id: &str, client_id: &str) -> Result<bool> {
        const SQL: &str =
            "DELETE FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3";
        let tenant = self.tenant_id();
        let n = on_tx!(&mut *self.tx, |conn| sqlx::query(SQL)
            .bind(tenant)
            .bind(user_id)
            .bind(client_id)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Ends what a consent let the client get for the user: its refresh and access tokens
    /// (marked revoked, as `holder_revoke` does) and unredeemed codes (deleted).
    pub async fn consent_tokens_revoke(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Revoked> {
        let mut r = Revoked::default();
        // Again until a pass changes nothing (see `TenantScope::family_revoke`).
        for _ in 0..passes(self.tx) {
            let refresh = self
                .consent_run(REVOKE_REFRESH, user_id, client_id, now)
                .await?;
            let access = self
                .consent_run(REVOKE_ACCESS, user_id, client_id, now)
                .await?;
            r.refresh_tokens += refresh;
            r.access_tokens += access;
            if refresh + access == 0 {
                break;
            }
        }
        r.codes = self
            .consent_run(DELETE_CODES, user_id, client_id, now)
            .await?;
        Ok(r)
    }

    async fn consent_run(
        &mut self,
        sql: &'static str,
        user_id: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<u64> {
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query(sql)
            .bind(tenant)
            .bind(now)
            .bind(user_id)
            .bind(client_id)
            .execute(&mut **conn)
            .await?
            .rows_affected()))
    }
}

const REVOKE_REFRESH: &str = "UPDATE refresh_tokens SET revoked_at = $2 WHERE tenant_id = $1 \
    AND revoked_at IS NULL AND user_id = $3 AND client_id = $4";
const REVOKE_ACCESS: &str = "UPDATE access_tokens SET revoked_at = $2 WHERE tenant_id = $1 \
    AND revoked_at IS NULL AND user_id = $3 AND client_id = $4";
const DELETE_CODES: &str = "DELETE FROM auth_codes WHERE tenant_id = $1 AND used_at IS NULL \
    AND expires_at > $2 AND user_id = $3 AND client_id = $4";
