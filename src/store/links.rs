//! Single-use links sent by mail (tenant-scoped): password reset, address verification,
//! invitation. Only the SHA-256 of a link's token is stored. Redeeming is one conditional
//! update, so two requests racing with one link cannot both succeed.

use sqlx::FromRow;

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

/// A live link as stored.
#[derive(FromRow, Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub user_id: String,
    pub email: String,
    pub expires_at: i64,
}

impl TenantScope<'_> {
    /// Stores a new link; the user's earlier unused links of the same purpose stop working.
    pub async fn link_insert(
        &mut self,
        token_hash: &str,
        user_id: &str,
        purpose: &str,
        email: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        const RETIRE: &str = "UPDATE user_links SET used_at = $4 WHERE tenant_id = $1 \
                              AND user_id = $2 AND purpose = $3 AND used_at IS NULL";
        const SQL: &str = "INSERT INTO user_links (tenant_id, token_hash, user_id, purpose, \
                           email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(RETIRE)
            .bind(&tenant)
            .bind(user_id)
            .bind(purpose)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(token_hash)
            .bind(user_id)
            .bind(purpose)
            .bind(email)
            .bind(now)
            .bind(expires_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The live (unused, unexpired) link with this hash and purpose, in this tenant only.
    pub async fn link_live(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<Option<LinkRow>> {
        const SQL: &str = "SELECT user_id, email, expires_at FROM user_links WHERE tenant_id = $1 \
                           AND token_hash = $2 AND purpose = $3 AND used_at IS NULL \
                           AND expires_at > $4";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(token_hash)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Uses the live link with this hash and purpose: `Some` once, `None` ever after.
    pub async fn link_redeem(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<Option<LinkRow>> {
        const SQL: &str = "UPDATE user_links SET used_at = $4 WHERE tenant_id = $1 \
                           AND token_hash = $2 AND purpose = $3 AND used_at IS NULL \
                           AND expires_at > $4 RETURNING user_id, email, expires_at";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(token_hash)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Ends the user's unused links of `purpose`; returns how many.
    pub async fn links_retire(
        &mut self,
        user_id: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<u64> {
        const SQL: &str = "UPDATE user_links SET used_at = $4 WHERE tenant_id = $1 \
                           AND user_id = $2 AND purpose = $3 AND used_at IS NULL";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user_id)
            .bind(purpose)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}
