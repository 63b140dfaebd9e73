//! WebAuthn ceremonies in progress (tenant-scoped, `webauthn_ceremonies`): the state kept on
//! the server between a ceremony's two requests. A row is taken with one `DELETE ...
//! RETURNING`, so it is used at most once even when two nodes race with the same answer, and
//! only by the browser (`binding`) and tenant that started it, before `expires_at`.

use sqlx::FromRow;

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

/// One ceremony as stored.
#[derive(FromRow, Clone, Debug, PartialEq, Eq)]
pub struct CeremonyRow {
    pub id: String,
    /// `register`, `factor` or `signin`.
    pub purpose: String,
    /// A hash of the browser's session or pre-login cookie.
    pub binding: String,
    /// The signed-in user who started it (`register`, `factor`).
    pub user_id: Option<String>,
    /// The name a registration will give the new factor.
    pub name: Option<String>,
    /// webauthn-rs's serialised state (JSON).
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TenantScope<'_> {
    /// Stores a new ceremony; any earlier one of the same browser and purpose is dropped (one
    /// live ceremony per browser and purpose keeps the table bounded by its browsers).
    pub async fn ceremony_insert(&mut self, c: &CeremonyRow) -> Result<()> {
        const DROP: &str = "DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 \
                            AND binding = $2 AND purpose = $3";
        const SQL: &str = "INSERT INTO webauthn_ceremonies (tenant_id, id, purpose, binding, \
                           user_id, name, state, created_at, expires_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c2| sqlx::query(DROP)
            .bind(&tenant)
            .bind(&c.binding)
            .bind(&c.purpose)
            .execute(&mut **c2)
            .await?
            .rows_affected());
        on_tx!(self.tx, |c2| sqlx::query(SQL)
            .bind(&tenant)
            .bind(&c.id)
            .bind(&c.purpose)
            .bind(&c.binding)
            .bind(&c.user_id)
            .bind(&c.name)
            .bind(&c.state)
            .bind(c.created_at)
            .bind(c.expires_at)
            .execute(&mut **c2)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Takes (deletes and returns) the ceremony `id` of this tenant if this browser started it
    /// for `purpose` and it has not expired. `None` otherwise: unknown, another tenant's or
    /// browser's, already used, or expired (an expired row is left to the purge).
    pub async fn ceremony_take(
        &mut self,
        id: &str,
        binding: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<Option<CeremonyRow>> {
        const SQL: &str = "DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND id = $2 \
                           AND binding = $3 AND purpose = $4 AND expires_at > $5 \
                           RETURNING id, purpose, binding, user_id, name, state, created_at, \
                           expires_at";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(id)
            .bind(binding)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// How many ceremonies of this tenant are stored (expired ones included), for tests and
    /// the purge's checks.
    pub async fn ceremonies_count(&mut self) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM webauthn_ceremonies WHERE tenant_id = $1";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .fetch_one(&mut **c)
            .await?))
    }
}
