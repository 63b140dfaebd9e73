//! Server-side login sessions of one tenant, keyed by the SHA-256 of the cookie value.

use sqlx::FromRow;

use super::scope::TenantScope;
use super::users::{COLUMNS as USER_COLUMNS, WithUser};
use super::{Error, Result, Store, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::user::User;

/// A live session as stored (the cookie value is not part of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub sid: String,
    pub user_id: UserId,
    pub auth_time: UnixTime,
    pub amr: Vec<String>,
    /// When a second factor was last verified in this session; `None`: password only.
    pub mfa_at: Option<UnixTime>,
    pub last_seen: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(FromRow)]
struct SessionRow {
    id_hash: String,
    sid: String,
    user_id: String,
    auth_time: i64,
    amr: String,
    mfa_at: Option<i64>,
    last_seen: i64,
    expires_at: i64,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = Error;
    fn try_from(r: SessionRow) -> Result<SessionRecord> {
        Ok(SessionRecord {
            user_id: r
                .user_id
                .parse()
                .map_err(|_| Error::Corrupt("sessions.user_id".into()))?,
            id_hash: r.id_hash,
            sid: r.sid,
            auth_time: r.auth_time,
            amr: r.amr.split_whitespace().map(str::to_owned).collect(),
            mfa_at: r.mfa_at,
            last_seen: r.last_seen,
            expires_at: r.expires_at,
        })
    }
}

/// A session as the management API lists it (no secret, not even its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The public session id (the `sid` claim of ID tokens).
    pub sid: String,
    pub auth_time: UnixTime,
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixTime,
    pub last_seen: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(FromRow)]
struct SessionInfoRow {
    sid: String,
    auth_time: i64,
    amr: String,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_seen: i64,
    expires_at: i64,
}

impl From<SessionInfoRow> for SessionInfo {
    fn from(r: SessionInfoRow) -> SessionInfo {
        SessionInfo {
            sid: r.sid,
            auth_time: r.auth_time,
            amr: r.amr.split_whitespace().map(str::to_owned).collect(),
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
            last_seen: r.last_seen,
            expires_at: r.expires_at,
        }
    }
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub sid: &'a str,
    pub user_id: UserId,
    pub auth_time: UnixTime,
    pub amr: &'a [&'a str],
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: UnixTime,
}

impl TenantScope<'_> {
    pub async fn session_insert(&mut self, s: &NewSession<'_>) -> Result<()> {
        const SQL: &str = "INSERT INTO sessions (id_hash, sid, tenant_id, user_id, auth_time, amr, ip, user_agent, \
                           created_at, last_seen, expires_at) VALUES ($2, $3, $1, $4, $5, $6, $7, $8, $5, $5, $9)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(s.id_hash)
            .bind(s.sid)
            .bind(s.user_id.to_string())
            .bind(s.auth_time)
            .bind(s.amr.join(" "))
            .bind(s.ip)
            .bind(s.user_agent)
            .bind(s.expires_at)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The session if it belongs to this tenant, has not reached its absolute expiry and has
    /// been seen since `idle_since`, together with its user, in one statement (every request
    /// with a session cookie needs both).
    pub async fn session_live(
        &mut self,
        id_hash: &str,
        now: UnixTime,
        idle_since: UnixTime,
    ) -> Result<Option<(SessionRecord, User)>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT s.id_hash, s.sid, s.user_id, s.auth_time, s.amr, s.mfa_at, s.last_seen, s.expires_at, \
             {USER_COLUMNS} FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
             WHERE s.tenant_id = $1 AND s.id_hash = $2 AND s.expires_at > $3 AND s.last_seen > $4"
        ));
        let tenant = self.tenant_id();
        let row: Option<WithUser<SessionRow>> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(id_hash)
            .bind(now)
            .bind(idle_since)
            .fetch_optional(&mut **c)
            .await?);
        row.map(|r| Ok((SessionRecord::try_from(r.row)?, User::try_from(r.user)?)))
            .transpose()
    }

    pub async fn session_touch(&mut self, id_hash: &str, now: UnixTime) -> Result<()> {
        const SQL: &str =
            "UPDATE sessions SET last_seen = $3 WHERE tenant_id = $1 AND id_hash = $2";
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

    /// Steps a session up in place (same cookie, same `sid`, same `auth_time`): its `amr`
    /// becomes `amr` and the second factor's time `now`. Returns whether the session exists
    /// in this tenant and has not reached its absolute expiry.
    pub async fn session_step_up(
        &mut self,
        id_hash: &str,
        amr: &[&str],
        now: UnixTime,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE sessions SET amr = $3, mfa_at = $4, last_seen = $4 \
                           WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $4";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .bind(amr.join(" "))
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Deletes one session; returns whether it existed in this tenant.
    pub async fn session_delete(&mut self, id_hash: &str) -> Result<bool> {
        const SQL: &str = "DELETE FROM sessions WHERE tenant_id = $1 AND id_hash = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id_hash)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// The live sessions of a user, oldest first, as an administrator sees them: the public
    /// `sid` (the cookie value and its hash are never shown), times, and the client's address.
    pub async fn sessions_of_user(
        &mut self,
        user: UserId,
        now: UnixTime,
        idle_since: UnixTime,
    ) -> Result<Vec<SessionInfo>> {
        const SQL: &str = "SELECT sid, auth_time, amr, ip, user_agent, created_at, last_seen, expires_at \
                           FROM sessions WHERE tenant_id = $1 AND user_id = $2 \
                           AND expires_at > $3 AND last_seen > $4 ORDER BY created_at, sid LIMIT 1000";
        let tenant = self.tenant_id();
        let rows: Vec<SessionInfoRow> = on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(now)
            .bind(idle_since)
            .fetch_all(&mut **c)
            .await?);
        Ok(rows.into_iter().map(SessionInfo::from).collect())
    }

    /// Ends one session of a user, named by its public `sid`; whether it existed.
    pub async fn session_delete_by_sid(&mut self, user: UserId, sid: &str) -> Result<bool> {
        const SQL: &str = "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND sid = $3";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(sid)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Ends every session of a user but the one `keep_id_hash` names (the browser that changed
    /// the password, or asked to end all others, stays signed in); how many ended.
    pub async fn sessions_delete_others(
        &mut self,
        user: UserId,
        keep_id_hash: &str,
    ) -> Result<u64> {
        const SQL: &str =
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND id_hash <> $3";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .bind(keep_id_hash)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }

    /// Ends every session of the tenant (tenant disabled).
    pub async fn sessions_delete_all(&mut self) -> Result<u64> {
        const SQL: &str = "DELETE FROM sessions WHERE tenant_id = $1";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }

    /// Ends every session of a user (password change, disable).
    pub async fn sessions_delete_for_user(&mut self, user: UserId) -> Result<u64> {
        const SQL: &str = "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(user.to_string())
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}

impl Store {
    /// Housekeeping: deletes up to `batch` expired sessions (absolute or idle), installation-wide.
    /// Small batches keep write locks short.
    pub async fn sessions_purge(
        &self,
        now: UnixTime,
        idle_since: UnixTime,
        batch: i64,
    ) -> Result<u64> {
        const SQL: &str = "DELETE FROM sessions WHERE id_hash IN \
                           (SELECT id_hash FROM sessions WHERE expires_at <= $1 OR last_seen <= $2 LIMIT $3)";
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |c| sqlx::query(SQL)
            .bind(now)
            .bind(idle_since)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(n)
    }
}
