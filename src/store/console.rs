//! The admin console's rows (tenant-scoped): sign-ins in progress (`console_logins`), console
//! sessions (`console_sessions`), the built-in client's URIs, and the dashboard's counts.
//! Secrets are keyed by the SHA-256 of their cookie; tokens are stored sealed (service layer).

use sqlx::FromRow;

use super::{Result, TenantScope, Tx, on_tx};
use crate::clock::UnixTime;

/// A sign-in in progress: what `/authorize` was sent, kept until the callback.
#[derive(FromRow, Clone, Debug)]
pub struct LoginRow {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
    pub expires_at: i64,
}

/// A console session: whose, the sealed tokens and its limits.
#[derive(FromRow, Clone, Debug)]
pub struct ConsoleSessionRow {
    pub user_id: String,
    pub tokens: String,
    pub kek_id: String,
    pub auth_time: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// The dashboard's numbers for one tenant.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub users: i64,
    pub clients: i64,
    pub sessions: i64,
}

impl TenantScope<'_> {
    pub async fn console_login_insert(
        &mut self,
        id_hash: &str,
        row: &LoginRow,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO console_logins (id_hash, tenant_id, state, nonce, verifier, \
                           return_to, created_at, expires_at) VALUES ($2, $1, $3, $4, $5, $6, $7, $8)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .bind(&row.state)
            .bind(&row.nonce)
            .bind(&row.verifier)
            .bind(&row.return_to)
            .bind(now)
            .bind(row.expires_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Takes (reads and deletes) the sign-in behind a pre-login cookie: one use only.
    pub async fn console_login_take(&mut self, id_hash: &str) -> Result<Option<LoginRow>> {
        const SELECT: &str = "SELECT state, nonce, verifier, return_to, expires_at \
                              FROM console_logins WHERE tenant_id = $1 AND id_hash = $2";
        const DELETE: &str = "DELETE FROM console_logins WHERE tenant_id = $1 AND id_hash = $2";
        let tenant = self.tenant_id();
        let row: Option<LoginRow> = on_tx!(self.tx, |c| sqlx::query_as(SELECT)
            .bind(&tenant)
            .bind(id_hash)
            .fetch_optional(&mut **c)
            .await?);
        let n = on_tx!(self.tx, |c| sqlx::query(DELETE)
            .bind(&tenant)
            .bind(id_hash)
            .execute(&mut **c)
            .await?
            .rows_affected());
        // Two callbacks racing for one sign-in: only the one whose delete took the row wins.
        Ok(row.filter(|_| n == 1))
    }

    /// Drops this tenant's expired sign-ins and console sessions (called on each new sign-in;
    /// housekeeping's `Tx::console_purge` sweeps every tenant, idle sessions too).
    pub async fn console_prune(&mut self, now: UnixTime) -> Result<()> {
        const LOGINS: &str = "DELETE FROM console_logins WHERE tenant_id = $1 AND expires_at <= $2";
        const SESSIONS: &str =
            "DELETE FROM console_sessions WHERE tenant_id = $1 AND expires_at <= $2";
        let tenant = self.tenant_id();
        for sql in [LOGINS, SESSIONS] {
            on_tx!(self.tx, |c| sqlx::query(sql)
                .bind(&tenant)
                .bind(now)
                .execute(&mut **c)
                .await?
                .rows_affected());
        }
        Ok(())
    }

    pub async fn console_session_insert(
        &mut self,
        id_hash: &str,
        row: &ConsoleSessionRow,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO console_sessions (id_hash, tenant_id, user_id, tokens, \
                           kek_id, auth_time, created_at, last_seen, expires_at) \
                           VALUES ($2, $1, $3, $4, $5, $6, $7, $7, $8)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .bind(&row.user_id)
            .bind(&row.tokens)
            .bind(&row.kek_id)
            .bind(row.auth_time)
            .bind(now)
            .bind(row.expires_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn console_session_get(
        &mut self,
        id_hash: &str,
    ) -> Result<Option<ConsoleSessionRow>> {
        const SQL: &str = "SELECT user_id, tokens, kek_id, auth_time, last_seen, expires_at \
                           FROM console_sessions WHERE tenant_id = $1 AND id_hash = $2";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .fetch_optional(&mut **c)
            .await?))
    }

    pub async fn console_session_touch(&mut self, id_hash: &str, now: UnixTime) -> Result<()> {
        const SQL: &str =
            "UPDATE console_sessions SET last_seen = $3 WHERE tenant_id = $1 AND id_hash = $2";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Ends a console session; whether there was one.
    pub async fn console_session_delete(&mut self, id_hash: &str) -> Result<bool> {
        const SQL: &str = "DELETE FROM console_sessions WHERE tenant_id = $1 AND id_hash = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// The built-in client's current (redirect, post-logout) URIs, space-separated, if the
    /// tenant has it.
    pub async fn console_client_uris(
        &mut self,
        client_id: &str,
    ) -> Result<Option<(String, String)>> {
        const SQL: &str = "SELECT redirect_uris, post_logout_redirect_uris FROM oauth_clients \
                           WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(client_id)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Writes the built-in client's URIs (computed from the configuration by the caller).
    pub async fn console_client_set_uris(
        &mut self,
        client_id: &str,
        redirect: &str,
        post_logout: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE oauth_clients SET redirect_uris = $3, \
                           post_logout_redirect_uris = $4, updated_at = $5 \
                           WHERE tenant_id = $1 AND client_id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(client_id)
            .bind(redirect)
            .bind(post_logout)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        // Other nodes' client caches drop their copy (store/clients.rs rule).
        self.client_changed(n, client_id).await
    }

    /// Users, clients (the built-in one left out) and live login sessions of the tenant.
    /// Users come from the count the triggers of migration 0014 keep (counting a large
    /// tenant's users per page view was most of the dashboard's time); sessions are a range
    /// of the `(tenant_id, expires_at)` index.
    pub async fn console_counts(&mut self, builtin: &str, now: UnixTime) -> Result<Counts> {
        const USERS: &str = "SELECT COALESCE((SELECT users FROM tenant_user_counts \
                             WHERE tenant_id = $1), 0)";
        const CLIENTS: &str =
            "SELECT COUNT(*) FROM oauth_clients WHERE tenant_id = $1 AND client_id <> $2";
        const SESSIONS: &str =
            "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1 AND expires_at > $2";
        let tenant = self.tenant_id();
        let users: i64 = on_tx!(self.tx, |c| sqlx::query_scalar(USERS)
            .bind(&tenant)
            .fetch_one(&mut **c)
            .await?);
        let clients: i64 = on_tx!(self.tx, |c| sqlx::query_scalar(CLIENTS)
            .bind(&tenant)
            .bind(builtin)
            .fetch_one(&mut **c)
            .await?);
        let sessions: i64 = on_tx!(self.tx, |c| sqlx::query_scalar(SESSIONS)
            .bind(&tenant)
            .bind(now)
            .fetch_one(&mut **c)
            .await?);
        Ok(Counts {
            users,
            clients,
            sessions,
        })
    }
}

impl Tx {
    /// Housekeeping, across tenants (like `purge.rs`, it removes only rows that are dead by
    /// time, whoever owns them): up to `batch` console sign-ins past their expiry, and up to
    /// `batch` console sessions past their lifetime or unused since `idle_before`. Returns
    /// (sign-ins, sessions) deleted. Both tables hold operators' rows only (a few per
    /// administrator), so the scans behind these deletes stay small.
    pub async fn console_purge(
        &mut self,
        now: UnixTime,
        idle_before: UnixTime,
        batch: i64,
    ) -> Result<(u64, u64)> {
        const LOGINS: &str = "DELETE FROM console_logins WHERE id_hash IN \
             (SELECT id_hash FROM console_logins WHERE expires_at <= $1 LIMIT $2)";
        const SESSIONS: &str = "DELETE FROM console_sessions WHERE id_hash IN \
             (SELECT id_hash FROM console_sessions WHERE expires_at <= $1 OR last_seen <= $2 \
             LIMIT $3)";
        let logins = on_tx!(self, |c| sqlx::query(LOGINS)
            .bind(now)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected());
        let sessions = on_tx!(self, |c| sqlx::query(SESSIONS)
            .bind(now)
            .bind(idle_before)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok((logins, sessions))
    }
}
