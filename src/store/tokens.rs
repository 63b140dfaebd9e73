//! Access and refresh tokens (tenant-scoped), stored by SHA-256 hash. Refresh tokens form
//! families (one per original grant) so a replay can revoke every descendant at once. New rows
//! and rotations go through the group writer (`group.rs`).

use sqlx::FromRow;

use super::users::{COLUMNS as USER_COLUMNS, WithUser};
use super::{Result, TenantScope, Tx, on_tx};
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
    /// The generation of the refresh token issued with it (None without a family).
    pub generation: Option<i64>,
    /// How the user signed in (RFC 8176 methods, space-separated); `None` without a user
    /// and on older rows.
    pub amr: Option<String>,
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
    /// Place in the family: 0 for the code's own token, one more per rotation.
    pub generation: i64,
    /// When its one grace retry was answered (RFC 9700 §4.14.2; see `service::token::refresh`).
    pub retried_at: Option<i64>,
    /// How the user signed in, as on the code the family started from.
    pub amr: Option<String>,
}

pub(super) const ACCESS: &str = "token_hash, client_id, user_id, scope, family_id, code_hash, auth_time, sid, \
    expires_at, revoked_at, created_at, generation, amr";
pub(super) const REFRESH: &str = "token_hash, client_id, user_id, family_id, scope, auth_time, sid, code_hash, \
    expires_at, used_at, revoked_at, created_at, generation, retried_at, amr";

/// At most this many passes of a revocation on `tx` (see [`TenantScope::family_revoke`]): on
/// PostgreSQL a pass after the first finds only tokens committed while the one before it ran,
/// so two are the norm and four more than enough; SQLite has one writer, so one pass sees all.
pub(super) fn passes(tx: &Tx) -> usize {
    match tx {
        Tx::Postgres(_) | Tx::PostgresConn(_) => 4,
        Tx::Sqlite(_) | Tx::SqliteConn(_) => 1,
    }
}

/// A token with the standing of whoever it was issued to, read in the same statement.
#[derive(FromRow)]
struct WithHolders<T> {
    #[sqlx(flatten)]
    row: T,
    user_status: Option<String>,
    client_status: Option<String>,
}

impl<T> WithHolders<T> {
    /// Whether the token's client, and its user if it has one, still exist and are active.
    /// Their tokens were revoked when they were disabled; this also catches a token written
    /// by a request that was in flight at that moment, or minted through a node whose client
    /// cache had not yet seen the change.
    fn split(self, has_user: bool) -> (T, bool) {
        let active = |s: &Option<String>| s.as_deref() == Some("active");
        let ok = active(&self.client_status) && (!has_user || active(&self.user_status));
        (self.row, ok)
    }
}

/// Whose credentials a revocation ends.
#[derive(Clone, Copy, Debug)]
pub enum Holder<'a> {
    User(&'a str),
    Client(&'a str),
    /// Every credential of the tenant.
    Tenant,
}

/// What a holder revocation changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    pub refresh_tokens: u64,
    pub access_tokens: u64,
    pub codes: u64,
}

/// `a, b` as `alias.a, alias.b`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    /// The tenant (its id) of the access token with this hash. Installation-wide on purpose:
    /// the management API accepts a tenant's access token before it knows the tenant; the
    /// token itself is then read through that tenant's scope.
    pub async fn access_token_tenant(&mut self, token_hash: &str) -> Result<Option<String>> {
        const SQL: &str = "SELECT tenant_id FROM access_tokens WHERE token_hash = $1";
        Ok(on_tx!(self, |c| sqlx::query_scalar(SQL)
            .bind(token_hash)
            .fetch_optional(&mut **c)
            .await?))
    }
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

    /// The access token with this hash and whether its client and user are still active.
    pub async fn access_with_holders(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(AccessRow, bool)>> {
        let row: Option<WithHolders<AccessRow>> = self
            .with_holders("access_tokens", ACCESS, token_hash)
            .await?;
        Ok(row.map(|r| {
            let has_user = r.row.user_id.is_some();
            r.split(has_user)
        }))
    }

    /// The refresh token with this hash and whether its client and user are still active.
    pub async fn refresh_with_holders(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRow, bool)>> {
        let row: Option<WithHolders<RefreshRow>> = self
            .with_holders("refresh_tokens", REFRESH, token_hash)
            .await?;
        Ok(row.map(|r| r.split(true)))
    }

    async fn with_holders<T>(
        &mut self,
        table: &str,
        columns: &str,
        token_hash: &str,
    ) -> Result<Option<WithHolders<T>>>
    where
        T: Send
            + Unpin
            + for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        let cols = qualified("t", columns);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {cols}, u.status AS user_status, c.status AS client_status FROM {table} t \
             LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id \
             LEFT JOIN oauth_clients c ON c.tenant_id = t.tenant_id AND c.client_id = t.client_id \
             WHERE t.tenant_id = $1 AND t.token_hash = $2"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(token_hash)
            .fetch_optional(&mut **conn)
            .await?))
    }

    /// Ends every credential of a user, a client or the whole tenant (DESIGN §5: credentials
    /// die together): refresh and access tokens are marked revoked (the rows stay, so a
    /// revoked refresh token is still recognised), unused authorization codes are deleted.
    /// Sessions are the caller's (a client has none).
    pub async fn holder_revoke(&mut self, holder: Holder<'_>, now: UnixTime) -> Result<Revoked> {
        let (filter, key) = match holder {
            Holder::User(id) => (" AND user_id = $3", Some(id)),
            Holder::Client(id) => (" AND client_id = $3", Some(id)),
            Holder::Tenant => ("", None),
        };
        let revoke = |table: &str| {
            format!(
                "UPDATE {table} SET revoked_at = $2 WHERE tenant_id = $1 AND revoked_at IS NULL{filter}"
            )
        };
        let mut r = Revoked::default();
        // Again until a pass changes nothing, for the reason given at [`Self::family_revoke`].
        for _ in 0..passes(self.tx) {
            let refresh = self.run_holder(revoke("refresh_tokens"), now, key).await?;
            let access = self.run_holder(revoke("access_tokens"), now, key).await?;
            r.refresh_tokens += refresh;
            r.access_tokens += access;
            if refresh + access == 0 {
                break;
            }
        }
        // Codes that could still be redeemed (expired ones are housekeeping's).
        r.codes = self
            .run_holder(
                format!("DELETE FROM auth_codes WHERE tenant_id = $1 AND used_at IS NULL AND expires_at > $2{filter}"),
                now,
                key,
            )
            .await?;
        Ok(r)
    }

    async fn run_holder(&mut self, sql: String, now: UnixTime, key: Option<&str>) -> Result<u64> {
        let sql = sqlx::AssertSqlSafe(sql);
        let tenant = self.tenant_id();
        Ok(on_tx!(&mut *self.tx, |conn| {
            let q = sqlx::query(sql).bind(tenant).bind(now);
            let q = match key {
                Some(k) => q.bind(k),
                None => q,
            };
            q.execute(&mut **conn).await?.rows_affected()
        }))
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
    ///
    /// On PostgreSQL the two statements run again until a pass changes nothing: under READ
    /// COMMITTED a statement does not see rows committed after it started, so a rotation that
    /// held a row of the family while the first pass waited for it has its new tokens
    /// committed by then, and the next pass revokes them. A rotation that comes later cannot
    /// win its claim: the token it presents is already revoked. SQLite writes one transaction
    /// at a time, so one pass is enough there.
    pub async fn family_revoke(&mut self, family_id: &str, now: UnixTime) -> Result<u64> {
        const R: &str = "UPDATE refresh_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL";
        const A: &str = "UPDATE access_tokens SET revoked_at = $3 \
                         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL";
        let mut total = 0;
        for _ in 0..passes(self.tx) {
            let n = self.revoke_where(R, family_id, now).await?
                + self.revoke_where(A, family_id, now).await?;
            total += n;
            if n == 0 {
                break;
            }
        }
        Ok(total)
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
