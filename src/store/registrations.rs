//! Self-registration and address proof (issue 13, migration 0021): pending sign-ups (the
//! password waits here until the address is proven), marking an address verified only while
//! the user still has it, and changing an address (which makes it unverified). Every
//! statement is bound to the scope's tenant id.

use super::scope::TenantScope;
use super::{Error, Result, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::user::Email;

impl TenantScope<'_> {
    /// Records a sign-up's password hash, to be moved onto the user when the address is proven.
    pub async fn registration_insert(
        &mut self,
        user: UserId,
        password_hash: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO registrations (tenant_id, user_id, password_hash, created_at) \
                           VALUES ($1, $2, $3, $4)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(password_hash)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Removes the user's pending sign-up and returns its password hash, if there was one.
    pub async fn registration_take(&mut self, user: UserId) -> Result<Option<String>> {
        const SQL: &str = "DELETE FROM registrations WHERE tenant_id = $1 AND user_id = $2 \
                           RETURNING password_hash";
        let tenant = self.tenant_id();
        let hash: Option<String> = on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .fetch_optional(&mut **c)
            .await?);
        Ok(hash)
    }

    /// Up to `limit` users of this tenant whose sign-up was left unfinished: pending since
    /// before `before`, still without a password and with the address unproven. Oldest first.
    pub async fn registrations_abandoned(
        &mut self,
        before: UnixTime,
        limit: i64,
    ) -> Result<Vec<UserId>> {
        const SQL: &str = "SELECT r.user_id FROM registrations r \
                           JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id \
                           WHERE r.tenant_id = $1 AND r.created_at < $2 \
                           AND u.password_hash IS NULL AND u.email_verified = $3 \
                           ORDER BY r.created_at LIMIT $4";
        let tenant = self.tenant_id();
        let ids: Vec<String> = on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .bind(before)
            .bind(false)
            .bind(limit)
            .fetch_all(&mut **c)
            .await?);
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| Error::Corrupt("registrations.user_id".into()))
            })
            .collect()
    }

    /// Takes the pending sign-up of `user` if it is still abandoned (as in
    /// [`Self::registrations_abandoned`]), in the caller's transaction; true if it was.
    pub async fn registration_take_abandoned(
        &mut self,
        user: UserId,
        before: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "DELETE FROM registrations WHERE tenant_id = $1 AND user_id = $2 \
                           AND created_at < $3 AND EXISTS (SELECT 1 FROM users u \
                           WHERE u.tenant_id = $1 AND u.id = $2 \
                           AND u.password_hash IS NULL AND u.email_verified = $4)";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(before)
            .bind(false)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Whether the user has a pending sign-up (the account page and the tests ask).
    pub async fn registration_pending(&mut self, user: UserId) -> Result<bool> {
        const SQL: &str =
            "SELECT COUNT(*) FROM registrations WHERE tenant_id = $1 AND user_id = $2";
        let tenant = self.tenant_id();
        let n: i64 = on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .fetch_one(&mut **c)
            .await?);
        Ok(n > 0)
    }

    /// Sets the password only where the user has none (a password set in the meantime, for
    /// example through a reset link, is newer than the sign-up's). True if it was set.
    pub async fn user_set_password_if_none(
        &mut self,
        user: UserId,
        hash: &str,
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE users SET password_hash = $3, updated_at = $4 \
                           WHERE tenant_id = $1 AND id = $2 AND password_hash IS NULL";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(hash)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Marks the address verified, only while the user still has exactly `email` (a link
    /// mailed to an address the user has left proves nothing). True if the row matched.
    pub async fn user_mark_verified(
        &mut self,
        user: UserId,
        email: &str,
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE users SET email_verified = $4, updated_at = $5 \
                           WHERE tenant_id = $1 AND id = $2 AND email = $3";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(email)
            .bind(true)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Gives the user a new address, unverified until proven. `NotFound` if no such user,
    /// `Conflict` if another user of the tenant has it.
    pub async fn user_set_email(
        &mut self,
        user: UserId,
        email: &Email,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE users SET email = $3, email_verified = $4, updated_at = $5 \
                           WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(email.as_str())
            .bind(false)
            .bind(now)
            .execute(&mut **c)
            .await
            .map_err(|e| Error::conflict_as(e, "user with this email"))?
            .rows_affected());
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
