//! API tokens (tenant-scoped, except the lookup by hash that authenticates a request: the
//! token itself names its tenant, so that lookup is installation-wide and returns the tenant
//! id for the caller to check).

use sqlx::FromRow;

use super::{Error, Result, TenantScope, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::tenant::{MfaPolicy, Registration, Slug, Status, Tenant};

#[derive(FromRow, Clone, Debug, serde::Serialize)]
pub struct ApiTokenRow {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "id, tenant_id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at";

/// A token not seen for this long gets its `last_used_at` written again (at most one write a
/// minute per token, however busy it is).
pub const TOUCH_EVERY: i64 = 60;

impl TenantScope<'_> {
    pub async fn api_token_insert(&mut self, t: &ApiTokenRow, token_hash: &str) -> Result<()> {
        const SQL: &str = "INSERT INTO api_tokens (id, tenant_id, token_hash, name, role, \
                           created_by, created_at, expires_at) VALUES ($2, $1, $3, $4, $5, $6, $7, $8)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(&t.id)
            .bind(token_hash)
            .bind(&t.name)
            .bind(&t.role)
            .bind(&t.created_by)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The tenant's tokens, newest first (revoked and expired ones included).
    pub async fn api_tokens_list(&mut self) -> Result<Vec<ApiTokenRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .fetch_all(&mut **c)
            .await?))
    }

    /// Up to `limit` of the tenant's tokens after the token id `after`, in creation order
    /// (ids are UUIDv7).
    pub async fn api_tokens_page(
        &mut self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApiTokenRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&mut **c)
            .await?))
    }

    /// Revokes the token `id` of this tenant; false when there is no such live token here.
    pub async fn api_token_revoke(&mut self, id: &str, now: UnixTime) -> Result<bool> {
        const SQL: &str = "UPDATE api_tokens SET revoked_at = $3 \
                           WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Revokes this tenant's live tokens created by `creator` (an audit name, `user:<id>`)
    /// whose role ranks above `keep` (every one with `None`); returns their ids.
    pub async fn api_tokens_revoke_created_by(
        &mut self,
        creator: &str,
        keep: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<String>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND created_by = $2 \
             AND revoked_at IS NULL AND {RANK} > {KEEP_RANK} RETURNING id"
        ));
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_scalar(sql)
            .bind(&tenant)
            .bind(creator)
            .bind(now)
            .bind(keep)
            .fetch_all(&mut **c)
            .await?))
    }
}

/// A token's role as a rank, and the rank of the role kept (`$4`, NULL: none), for the
/// statements that revoke what a creator could no longer grant.
const RANK: &str = "CASE role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 ELSE 1 END";
const KEEP_RANK: &str = "CASE CAST($4 AS TEXT) WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 \
                         WHEN 'viewer' THEN 1 ELSE 0 END";

impl Tx {
    /// Revokes live tokens in every tenant created by any of `creators` (audit names that
    /// carry a globally unique id: `platform/user:<id>`, `api_token:<id>`,
    /// `platform/api_token:<id>`) whose role ranks above `keep`; returns their ids. A
    /// platform caller mints tokens in every tenant, and a token's own tokens die with it,
    /// wherever they are.
    pub async fn api_tokens_revoke_created_by_any(
        &mut self,
        creators: &[String],
        keep: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<String>> {
        let mut revoked = Vec::new();
        for creator in creators {
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE api_tokens SET revoked_at = $2 WHERE created_by = $1 \
                 AND revoked_at IS NULL AND {RANK} > {} RETURNING id",
                KEEP_RANK.replace("$4", "$3")
            ));
            let ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(sql)
                .bind(creator)
                .bind(now)
                .bind(keep)
                .fetch_all(&mut **c)
                .await?);
            revoked.extend(ids);
        }
        Ok(revoked)
    }
}

impl Tx {
    /// The token with this hash, in whichever tenant (authentication; see the module doc).
    pub async fn api_token_by_hash(&mut self, token_hash: &str) -> Result<Option<ApiTokenRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"
        ));
        Ok(on_tx!(self, |c| sqlx::query_as(sql)
            .bind(token_hash)
            .fetch_optional(&mut **c)
            .await?))
    }

    /// Records a use of the token `id` of tenant `tenant_id` (from the row
    /// [`Self::api_token_by_hash`] returned), unless one was recorded within [`TOUCH_EVERY`]
    /// seconds.
    pub async fn api_token_touch(
        &mut self,
        tenant_id: &str,
        id: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE api_tokens SET last_used_at = $3 WHERE tenant_id = $1 \
                           AND id = $2 AND (last_used_at IS NULL OR last_used_at <= $4)";
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(tenant_id)
            .bind(id)
            .bind(now)
            .bind(now - TOUCH_EVERY)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }
}

/// What authenticating a token needs, with its tenant, read in one statement: every
/// statement on SQLite costs a hand-off to the connection's thread, and every column a copy,
/// so the tenant is joined rather than read a second time, and revoked or expired tokens are
/// filtered by the query.
#[derive(FromRow, Clone, Debug)]
pub struct LiveToken {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: String,
    pub last_used_at: Option<i64>,
}

#[derive(FromRow)]
struct LiveWithTenant {
    #[sqlx(flatten)]
    token: LiveToken,
    t_slug: String,
    t_display_name: String,
    t_status: String,
    t_mfa: String,
    t_registration: String,
    t_created_at: i64,
    t_updated_at: i64,
}

impl Tx {
    /// The live (not revoked, not expired at `now`) token with this hash and its tenant, of
    /// any status (see [`Tx::api_token_by_hash`]).
    pub async fn api_token_live(
        &mut self,
        token_hash: &str,
        now: UnixTime,
    ) -> Result<Option<(LiveToken, Tenant)>> {
        const SQL: &str = "SELECT k.id, k.tenant_id, k.name, k.role, k.last_used_at, \
            t.slug AS t_slug, t.display_name AS t_display_name, t.status AS t_status, \
            t.mfa AS t_mfa, t.registration AS t_registration, t.created_at AS t_created_at, t.updated_at AS t_updated_at \
            FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id \
            WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND k.expires_at > $2";
        let row: Option<LiveWithTenant> = on_tx!(self, |c| sqlx::query_as(SQL)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut **c)
            .await?);
        let Some(r) = row else { return Ok(None) };
        let corrupt = |what: &str| Error::Corrupt(format!("tenants.{what}"));
        let tenant = Tenant {
            id: r.token.tenant_id.parse().map_err(|_| corrupt("id"))?,
            slug: Slug::parse(&r.t_slug).map_err(|_| corrupt("slug"))?,
            display_name: r.t_display_name,
            status: Status::parse(&r.t_status).ok_or_else(|| corrupt("status"))?,
            mfa: MfaPolicy::parse(&r.t_mfa).ok_or_else(|| corrupt("mfa"))?,
            registration: Registration::parse(&r.t_registration)
                .ok_or_else(|| corrupt("registration"))?,
            created_at: r.t_created_at,
            updated_at: r.t_updated_at,
        };
        Ok(Some((r.token, tenant)))
    }
}
