//! Authorization codes (tenant-scoped): stored by hash, taken atomically exactly once.

use sqlx::FromRow;

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

#[derive(FromRow, Clone, Debug)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum Take {
    /// First redemption: the code is now spent.
    Fresh(CodeRow),
    /// Already spent: a replay (RFC 6749 §4.1.2: revoke what it issued).
    Replayed(CodeRow),
    Unknown,
}

const COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
    code_challenge_method, auth_time, sid, expires_at, used_at";

impl TenantScope<'_> {
    pub async fn code_insert(&mut self, c: &CodeRow, now: UnixTime) -> Result<()> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO auth_codes (tenant_id, {COLUMNS}, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13)"
        ));
        let tenant = self.tenant_id();
        on_tx!(&mut *self.tx, |conn| sqlx::query(sql)
            .bind(tenant)
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(&c.nonce)
            .bind(&c.code_challenge)
            .bind(&c.code_challenge_method)
            .bind(c.auth_time)
            .bind(&c.sid)
            .bind(c.expires_at)
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Marks the code used in one statement (`UPDATE ... WHERE used_at IS NULL RETURNING`), so
    /// of two concurrent redemptions exactly one sees it fresh, on either backend.
    pub async fn code_take(&mut self, code_hash: &str, now: UnixTime) -> Result<Take> {
        let take = sqlx::AssertSqlSafe(format!(
            "UPDATE auth_codes SET used_at = $3 \
             WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING {COLUMNS}"
        ));
        let tenant = self.tenant_id();
        let fresh: Option<CodeRow> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(take)
            .bind(&tenant)
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&mut **conn)
            .await?);
        if let Some(row) = fresh {
            return Ok(Take::Fresh(row));
        }
        let get = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM auth_codes WHERE tenant_id = $1 AND code_hash = $2"
        ));
        let spent: Option<CodeRow> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(get)
            .bind(&tenant)
            .bind(code_hash)
            .fetch_optional(&mut **conn)
            .await?);
        Ok(spent.map_or(Take::Unknown, Take::Replayed))
    }
}
