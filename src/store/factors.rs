//! Second factors of users (tenant-scoped): TOTP seeds (stored sealed; the service seals and
//! opens them) and WebAuthn credentials in `mfa_factors`, and the hashed single-use recovery
//! codes in `mfa_recovery_codes`. The single-use rules are conditional updates, so two nodes
//! racing with one code cannot both accept it.

use sqlx::FromRow;

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

/// One factor as stored.
#[derive(FromRow, Clone, Debug, PartialEq, Eq)]
pub struct FactorRow {
    pub id: String,
    pub user_id: String,
    /// `totp` or `webauthn`.
    pub kind: String,
    pub name: String,
    /// TOTP: the sealed seed.
    pub secret: Option<String>,
    pub kek_id: Option<String>,
    /// WebAuthn: the credential id (base64url) and the stored credential (JSON).
    pub credential_id: Option<String>,
    pub credential: Option<String>,
    pub last_step: Option<i64>,
    pub confirmed: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, kind, name, secret, kek_id, credential_id, credential, \
                       last_step, confirmed, created_at, last_used_at";

impl TenantScope<'_> {
    pub async fn factor_insert(&mut self, f: &FactorRow) -> Result<()> {
        const SQL: &str = "INSERT INTO mfa_factors (tenant_id, id, user_id, kind, name, secret, \
                           kek_id, credential_id, credential, last_step, confirmed, created_at, \
                           last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(&f.id)
            .bind(&f.user_id)
            .bind(&f.kind)
            .bind(&f.name)
            .bind(&f.secret)
            .bind(&f.kek_id)
            .bind(&f.credential_id)
            .bind(&f.credential)
            .bind(f.last_step)
            .bind(f.confirmed)
            .bind(f.created_at)
            .bind(f.last_used_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// A user's factors, oldest first (pending enrolments included: callers filter).
    pub async fn factors_of(&mut self, user_id: &str) -> Result<Vec<FactorRow>> {
        // Only constants are spliced in.
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY created_at, id"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(user_id)
            .fetch_all(&mut **c)
            .await?))
    }

    /// The factor holding a WebAuthn credential id, in this tenant only.
    pub async fn factor_by_credential(&mut self, credential_id: &str) -> Result<Option<FactorRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM mfa_factors WHERE tenant_id = $1 AND credential_id = $2"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(credential_id)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Records a use of a TOTP factor at `step`, only if that step is later than every step
    /// accepted before (and confirms a pending enrolment). False: the code was already used,
    /// here or on another node, or the factor is gone.
    pub async fn factor_totp_use(
        &mut self,
        id: &str,
        user_id: &str,
        step: i64,
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE mfa_factors SET last_step = $4, last_used_at = $5, confirmed = TRUE \
                           WHERE tenant_id = $1 AND id = $2 AND user_id = $3 AND kind = 'totp' \
                           AND (last_step IS NULL OR last_step < $4)";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id)
            .bind(user_id)
            .bind(step)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Stores a WebAuthn credential's new state (signature counter, backup flags) after a use.
    pub async fn factor_credential_update(
        &mut self,
        id: &str,
        credential: &str,
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE mfa_factors SET credential = $3, last_used_at = $4 \
                           WHERE tenant_id = $1 AND id = $2 AND kind = 'webauthn'";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id)
            .bind(credential)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Removes one factor of a user; whether there was one.
    pub async fn factor_delete(&mut self, id: &str, user_id: &str) -> Result<bool> {
        const SQL: &str =
            "DELETE FROM mfa_factors WHERE tenant_id = $1 AND id = $2 AND user_id = $3";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id)
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Removes a user's unconfirmed TOTP enrolments (a new enrolment replaces them).
    pub async fn factors_delete_pending(&mut self, user_id: &str) -> Result<u64> {
        const SQL: &str = "DELETE FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2 \
                           AND confirmed = FALSE";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }

    /// Removes every factor and recovery code of a user (an operator's reset); how many
    /// factors there were.
    pub async fn factors_reset(&mut self, user_id: &str) -> Result<u64> {
        const FACTORS: &str = "DELETE FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2";
        const CODES: &str = "DELETE FROM mfa_recovery_codes WHERE tenant_id = $1 AND user_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(FACTORS)
            .bind(&tenant)
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected());
        on_tx!(self.tx, |c| sqlx::query(CODES)
            .bind(&tenant)
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n)
    }

    /// Replaces a user's recovery codes with `hashes`.
    pub async fn recovery_codes_replace(
        &mut self,
        user_id: &str,
        hashes: &[String],
        now: UnixTime,
    ) -> Result<()> {
        const DELETE: &str = "DELETE FROM mfa_recovery_codes WHERE tenant_id = $1 AND user_id = $2";
        const INSERT: &str = "INSERT INTO mfa_recovery_codes (tenant_id, user_id, code_hash, \
                              created_at) VALUES ($1, $2, $3, $4)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(DELETE)
            .bind(&tenant)
            .bind(user_id)
            .execute(&mut **c)
            .await?
            .rows_affected());
        for h in hashes {
            on_tx!(self.tx, |c| sqlx::query(INSERT)
                .bind(&tenant)
                .bind(user_id)
                .bind(h)
                .bind(now)
                .execute(&mut **c)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    /// Uses a recovery code: true once, for an unused code of this user.
    pub async fn recovery_code_use(
        &mut self,
        user_id: &str,
        hash: &str,
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE mfa_recovery_codes SET used_at = $4 WHERE tenant_id = $1 \
                           AND user_id = $2 AND code_hash = $3 AND used_at IS NULL";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// How many of a user's recovery codes are left unused.
    pub async fn recovery_codes_left(&mut self, user_id: &str) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM mfa_recovery_codes WHERE tenant_id = $1 \
                           AND user_id = $2 AND used_at IS NULL";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_scalar(SQL)
            .bind(&tenant)
            .bind(user_id)
            .fetch_one(&mut **c)
            .await?))
    }
}
