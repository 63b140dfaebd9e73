//! Access and refresh tokens (tenant-scoped), stored by SHA-256 hash. Refresh tokens form
//! families (one per original grant) so a replay can revoke every descendant at once. New rows
//! and rotations go through the group writer (`group.rs`).

use sqlx::FromRow;

use super::users::{COLUMNS as USER_COLUMNS, WithUser};
use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;
use crate::domain::user::User;

#[derive(FromRow, Clone, Debug)]
pub struct AccessRow {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub family_id: Option<String>,
    pub code_hash: Option<String>,
    pub auth_time: Option<i64>,
    pub sid: Option<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

#[derive(FromRow, Clone, Debug)]
pub struct RefreshRow {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub family_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub code_hash: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

pub(super) const ACCESS: &str = "token_hash, client_id, user_id, scope, family_id, code_hash, auth_time, sid, \
    expires_at, revoked_at, created_at";
pub(super) const REFRESH: &str = "token_hash, client_id, user_id, family_id, scope, auth_time, sid, code_hash, \
    expires_at, used_at, revoked_at, created_at";

/// `a, b` as `alias.a, alias.b`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TenantScope<'_> {
    pub async fn access_get(&mut self, token_hash: &str) -> Result<Option<AccessRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ACCESS} FROM access_tokens WHERE tenant_id = $1 AND token_hash = $2"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(token_hash)
            .fetch_optional(&mut **conn)
            .await?))
    }

    pub async fn refresh_get(&mut self, token_hash: &str) -> Result<Option<RefreshRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REFRESH} FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(token_hash)
            .fetch_optional(&mut **conn)
            .await?))
    }

    /// The refresh token with this hash and its user, in one statement (the refresh grant needs
    /// both; a second query was a sixth of its cost).
    pub async fn refresh_with_user(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRow, User)>> {
        let refresh = qualified("r", REFRESH);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {refresh}, {USER_COLUMNS} FROM refresh_tokens r \
             JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id \
             WHERE r.tenant_id = $1 AND r.token_hash = $2"
        ));
        let tenant = self.tenant_id();
        let row: Option<WithUser<RefreshRow>> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(token_hash)
            .fetch_optional(&mut **conn)
            .await?);
        row.map(|r| Ok((r.row, User::try_from(r.user)?)))
            .transpose()
    }

    /// Revokes every refresh and access token of a family. Returns how many rows changed.
    pub async fn family_revoke(&mut self, family_id: &str, now: UnixTime) -> Result<u64> {
        const R: &str = "UPDATE refresh_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL";
        const A: &str = "UPDATE access_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL";
        self.revoke_where(R, family_id, now).await?;
        self.revoke_where(A, family_id, now).await
    }

    /// Revokes every token issued from an authorization code (code replay).
    pub async fn code_tokens_revoke(&mut self, code_hash: &str, now: UnixTime) -> Result<u64> {
        const R: &str = "UPDATE refresh_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND code_hash = $2 AND revoked_at IS NULL";
        const A: &str = "UPDATE access_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND code_hash = $2 AND revoked_at IS NULL";
        let families: Vec<(String,)> = {
            const F: &str = "SELECT DISTINCT family_id FROM refresh_tokens WHERE tenant_id = $1 AND code_hash = $2";
            let tenant = self.tenant_id();
            on_tx!(&mut *self.tx, |conn| sqlx::query_as(F)
                .bind(tenant)
                .bind(code_hash)
                .fetch_all(&mut **conn)
                .await?)
        };
        let mut n = self.revoke_where(R, code_hash, now).await?;
        n += self.revoke_where(A, code_hash, now).await?;
        // Tokens rotated from that code's refresh token belong to the same family.
        for (family,) in families {
            n += self.family_revoke(&family, now).await?;
        }
        Ok(n)
    }

    pub async fn access_revoke(&mut self, token_hash: &str, now: UnixTime) -> Result<u64> {
        const A: &str = "UPDATE access_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL";
        self.revoke_where(A, token_hash, now).await
    }

    async fn revoke_where(&mut self, sql: &'static str, key: &str, now: UnixTime) -> Result<u64> {
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query(sql)
            .bind(tenant)
            .bind(key)
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected()))
    }
}
