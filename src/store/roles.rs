//! Management roles of a tenant's users (tenant-scoped): read, set, and the count of active
//! owners that keeps a tenant from losing its last one.

use super::{Error, Result, TenantScope, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;

impl TenantScope<'_> {
    /// The user's role, if any (`None` also for a user that does not exist).
    pub async fn role_get(&mut self, id: UserId) -> Result<Option<String>> {
        const SQL: &str = "SELECT role FROM users WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let row: Option<(Option<String>,)> = on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .fetch_optional(&mut **c)
            .await?);
        Ok(row.and_then(|(r,)| r))
    }

    /// Sets (or with `None` removes) the user's role.
    pub async fn role_set(&mut self, id: UserId, role: Option<&str>, now: UnixTime) -> Result<()> {
        const SQL: &str =
            "UPDATE users SET role = $4, updated_at = $3 WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .bind(now)
            .bind(role)
            .execute(&mut **c)
            .await?
            .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Active users holding `owner`, other than `except`. On PostgreSQL the tenant's owner rows
    /// are locked first (`FOR UPDATE`), so of two concurrent demotions of the last two owners
    /// the second waits for the first and then counts what it left: it cannot pass as well.
    /// SQLite needs no lock: its write transactions begin `IMMEDIATE`, one at a time.
    pub async fn owners_other_than(&mut self, except: UserId) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'owner' \
                           AND status = 'active' AND id <> $2";
        const LOCK: &str =
            "SELECT id FROM users WHERE tenant_id = $1 AND role = 'owner' FOR UPDATE";
        let tenant = self.tenant_id();
        if let Tx::Postgres(c) = &mut *self.tx {
            sqlx::query(LOCK).bind(&tenant).fetch_all(&mut **c).await?;
        }
        let (n,): (i64,) = on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(except.to_string())
            .fetch_one(&mut **c)
            .await?);
        Ok(n)
    }
}
