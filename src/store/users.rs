//! Users of one tenant. Every statement is bound to the scope's tenant id.

use sqlx::FromRow;

use super::scope::TenantScope;
use super::{Error, Result, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::tenant::Status;
use crate::domain::user::{Email, Profile, User};

/// A user as selected by [`COLUMNS`] (also joined onto codes and refresh tokens, which is why
/// every column is qualified `u.` and `created_at` comes back as `user_created_at`).
#[derive(FromRow)]
pub(super) struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    email_verified: bool,
    password_hash: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    locale: Option<String>,
    zoneinfo: Option<String>,
    status: String,
    failed_attempts: i64,
    locked_until: Option<i64>,
    #[sqlx(rename = "user_created_at")]
    created_at: i64,
    updated_at: i64,
}

/// A row of another table joined with its user (`JOIN users u`, selected with [`COLUMNS`]).
#[derive(FromRow)]
pub(super) struct WithUser<T> {
    #[sqlx(flatten)]
    pub(super) row: T,
    #[sqlx(flatten)]
    pub(super) user: UserRow,
}

/// Select list for `users u`.
pub(super) const COLUMNS: &str = "u.id, u.tenant_id, u.email, u.email_verified, u.password_hash, \
    u.given_name, u.family_name, u.name, u.nickname, u.picture, u.locale, u.zoneinfo, u.status, \
    CAST(u.failed_attempts AS BIGINT) AS failed_attempts, u.locked_until, \
    u.created_at AS user_created_at, u.updated_at";

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(r: UserRow) -> Result<User> {
        let corrupt = |what: &str| Error::Corrupt(format!("users.{what}"));
        Ok(User {
            id: r.id.parse().map_err(|_| corrupt("id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant_id"))?,
            email: Email::parse(&r.email).map_err(|_| corrupt("email"))?,
            email_verified: r.email_verified,
            profile: Profile {
                given_name: r.given_name,
                family_name: r.family_name,
                name: r.name,
                nickname: r.nickname,
                picture: r.picture,
                locale: r.locale,
                zoneinfo: r.zoneinfo,
            },
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            failed_attempts: r.failed_attempts,
            locked_until: r.locked_until,
            created_at: r.created_at,
            updated_at: r.updated_at,
            password_hash: r.password_hash,
        })
    }
}

/// A user row with its management role (`users.role`, migration 0009).
#[derive(FromRow)]
struct WithRole {
    #[sqlx(flatten)]
    user: UserRow,
    role: Option<String>,
}

/// What a page of users is narrowed to.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserFilter<'a> {
    /// A prefix of the (case-folded) email.
    pub email_prefix: Option<&'a str>,
    pub status: Option<Status>,
}

/// The least string above every string that starts with `prefix`, in byte (= code point)
/// order: the prefix with its last character incremented (characters that cannot be are
/// dropped first). `None` when there is no such bound (then only `>= prefix` applies).
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// What a new user starts with.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub email_verified: bool,
    pub password_hash: Option<&'a str>,
    pub profile: &'a Profile,
}

/// Outcome of counting a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub failed_attempts: i64,
    pub locked_until: Option<UnixTime>,
}

impl TenantScope<'_> {
    pub async fn user_insert(&mut self, new: &NewUser<'_>, now: UnixTime) -> Result<User> {
        const SQL: &str = "INSERT INTO users (id, tenant_id, email, email_verified, password_hash, given_name, \
                           family_name, name, nickname, picture, locale, zoneinfo, status, failed_attempts, \
                           locked_until, created_at, updated_at) \
                           VALUES ($2, $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', 0, NULL, $13, $13)";
        let id = UserId::new();
        let tenant = self.tenant_id();
        let p = new.profile;
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .bind(new.email.as_str())
            .bind(new.email_verified)
            .bind(new.password_hash)
            .bind(&p.given_name)
            .bind(&p.family_name)
            .bind(&p.name)
            .bind(&p.nickname)
            .bind(&p.picture)
            .bind(&p.locale)
            .bind(&p.zoneinfo)
            .bind(now)
            .execute(&mut **c)
            .await
            .map_err(|e| Error::conflict_as(e, "user with this email"))?
            .rows_affected());
        Ok(User {
            id,
            tenant_id: self.tenant(),
            email: new.email.clone(),
            email_verified: new.email_verified,
            profile: p.clone(),
            status: Status::Active,
            failed_attempts: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
            password_hash: new.password_hash.map(str::to_owned),
        })
    }

    pub async fn user_by_email(&mut self, email: &Email) -> Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users u WHERE tenant_id = $1 AND email = $2"
        ));
        let tenant = self.tenant_id();
        let row: Option<UserRow> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(email.as_str())
            .fetch_optional(&mut **c)
            .await?);
        row.map(User::try_from).transpose()
    }

    pub async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users u WHERE tenant_id = $1 AND id = $2"
        ));
        let tenant = self.tenant_id();
        let row: Option<UserRow> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(id.to_string())
            .fetch_optional(&mut **c)
            .await?);
        row.map(User::try_from).transpose()
    }

    /// One page of users in creation order (ids are UUIDv7) after the user `after` (a keyset
    /// cursor, stable under inserts), each with its management role. `email_prefix` (already
    /// case-folded) and `status` narrow the page. The statement carries only the conditions in
    /// use, so each shape gets a plan that walks the `(tenant_id, id)` index (or
    /// `(tenant_id, status, id)`, migration 0011) from the cursor on, not a generic plan.
    pub async fn users_page(
        &mut self,
        after: Option<&str>,
        limit: i64,
        filter: &UserFilter<'_>,
    ) -> Result<Vec<(User, Option<String>)>> {
        let prefix = filter.email_prefix;
        let upper = prefix.and_then(prefix_end);
        let status = filter.status.map(Status::as_str);
        let mut sql = format!("SELECT {COLUMNS}, u.role FROM users u WHERE u.tenant_id = $1");
        let mut n = 1;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if after.is_some() {
            sql += &format!(" AND u.id > {}", param());
        }
        // A prefix is the range [prefix, prefix_end) in byte order (`users.email` compares
        // bytes: SQLite's BINARY collation, "C" on PostgreSQL since 0011), which the
        // (tenant_id, email) index serves.
        if prefix.is_some() {
            sql += &format!(" AND u.email >= {}", param());
        }
        if upper.is_some() {
            sql += &format!(" AND u.email < {}", param());
        }
        if status.is_some() {
            sql += &format!(" AND u.status = {}", param());
        }
        sql += &format!(" ORDER BY u.id LIMIT {}", param());
        let sql = sqlx::AssertSqlSafe(sql);
        let tenant = self.tenant_id();
        // Bound in the order the conditions were written above.
        let rows: Vec<WithRole> = on_tx!(self.tx, |c| {
            let mut q = sqlx::query_as(sql).bind(&tenant);
            if let Some(a) = after {
                q = q.bind(a);
            }
            if let Some(p) = prefix {
                q = q.bind(p);
            }
            if let Some(u) = &upper {
                q = q.bind(u);
            }
            if let Some(s) = status {
                q = q.bind(s);
            }
            q.bind(limit).fetch_all(&mut **c).await?
        });
        rows.into_iter()
            .map(|r| Ok((User::try_from(r.user)?, r.role)))
            .collect()
    }

    /// The user and its management role.
    pub async fn user_with_role(&mut self, id: UserId) -> Result<Option<(User, Option<String>)>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, u.role FROM users u WHERE u.tenant_id = $1 AND u.id = $2"
        ));
        let tenant = self.tenant_id();
        let row: Option<WithRole> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .bind(id.to_string())
            .fetch_optional(&mut **c)
            .await?);
        row.map(|r| Ok((User::try_from(r.user)?, r.role)))
            .transpose()
    }

    pub async fn users_list(&mut self) -> Result<Vec<User>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users u WHERE tenant_id = $1 ORDER BY email"
        ));
        let tenant = self.tenant_id();
        let rows: Vec<UserRow> = on_tx!(self.tx, |c| sqlx::query_as(sql)
            .bind(&tenant)
            .fetch_all(&mut **c)
            .await?);
        rows.into_iter().map(User::try_from).collect()
    }

    /// Counts one failed login atomically (two parallel failures count twice) and locks the
    /// account for `lock_for` seconds when the count reaches `threshold`. An expired lock
    /// starts a fresh count; failures during a lock neither count nor extend it.
    pub async fn user_record_failure(
        &mut self,
        id: UserId,
        now: UnixTime,
        threshold: i64,
        lock_for: i64,
    ) -> Result<Failure> {
        const SQL: &str = "UPDATE users SET \
             failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $3 THEN 1 \
                                    ELSE failed_attempts + 1 END, \
             locked_until = CASE \
                 WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $3 THEN 1 \
                            ELSE failed_attempts + 1 END) >= $4 THEN $5 \
                 ELSE NULL END \
           WHERE tenant_id = $1 AND id = $2 AND (locked_until IS NULL OR locked_until <= $3) \
           RETURNING CAST(failed_attempts AS BIGINT), locked_until";
        let tenant = self.tenant_id();
        let row: Option<(i64, Option<i64>)> = on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .bind(now)
            .bind(threshold)
            .bind(now + lock_for)
            .fetch_optional(&mut **c)
            .await?);
        match row {
            Some((failed_attempts, locked_until)) => Ok(Failure {
                failed_attempts,
                locked_until,
            }),
            // Already locked: nothing counted.
            None => Ok(Failure {
                failed_attempts: threshold,
                locked_until: None,
            }),
        }
    }

    /// A successful login: the failure counter starts over.
    pub async fn user_reset_failures(&mut self, id: UserId) -> Result<()> {
        const SQL: &str = "UPDATE users SET failed_attempts = 0, locked_until = NULL \
                           WHERE tenant_id = $1 AND id = $2 AND (failed_attempts <> 0 OR locked_until IS NOT NULL)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Operator unlock; `NotFound` for an unknown user.
    pub async fn user_unlock(&mut self, id: UserId, now: UnixTime) -> Result<()> {
        const SQL: &str = "UPDATE users SET failed_attempts = 0, locked_until = NULL, updated_at = $3 \
                           WHERE tenant_id = $1 AND id = $2";
        self.update_one(SQL, id, now, None).await
    }

    pub async fn user_set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE users SET password_hash = $4, updated_at = $3 WHERE tenant_id = $1 AND id = $2";
        self.update_one(SQL, id, now, Some(hash)).await
    }

    pub async fn user_set_status(
        &mut self,
        id: UserId,
        status: Status,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE users SET status = $4, updated_at = $3 WHERE tenant_id = $1 AND id = $2";
        self.update_one(SQL, id, now, Some(status.as_str())).await
    }

    /// Erases the user. Sessions, codes, tokens and consents go with it (foreign keys
    /// cascade, through the user indexes of the token tables); audit events keep only the id.
    pub async fn user_delete(&mut self, id: UserId) -> Result<()> {
        const SQL: &str = "DELETE FROM users WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .execute(&mut **c)
            .await?
            .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Takes the email address out of the audit events about a user (`user.created` and
    /// `bootstrap` record it), so that after an erasure the trail names the user by id only.
    /// Returns how many events changed.
    pub async fn user_audit_redact(&mut self, id: UserId) -> Result<u64> {
        const SELECT: &str = "SELECT id, metadata FROM audit_events \
                              WHERE tenant_id = $1 AND target = $2 AND metadata LIKE '%\"email\"%'";
        const UPDATE: &str =
            "UPDATE audit_events SET metadata = $3 WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let target = format!("user:{id}");
        let rows: Vec<(String, String)> = on_tx!(self.tx, |c| sqlx::query_as(SELECT)
            .bind(&tenant)
            .bind(&target)
            .fetch_all(&mut **c)
            .await?);
        let mut n = 0;
        for (event, metadata) in rows {
            let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str(&metadata) else {
                continue;
            };
            if m.remove("email").is_none() {
                continue;
            }
            let redacted = serde_json::Value::Object(m).to_string();
            n += on_tx!(self.tx, |c| sqlx::query(UPDATE)
                .bind(&tenant)
                .bind(&event)
                .bind(&redacted)
                .execute(&mut **c)
                .await?
                .rows_affected());
        }
        Ok(n)
    }

    /// Replaces the profile claims and the email-verified flag.
    pub async fn user_set_profile(
        &mut self,
        id: UserId,
        profile: &Profile,
        email_verified: bool,
        now: UnixTime,
    ) -> Result<()> {
        const SQL: &str = "UPDATE users SET given_name = $4, family_name = $5, name = $6, nickname = $7, picture = $8, \
                           locale = $9, zoneinfo = $10, email_verified = $11, updated_at = $3 \
                           WHERE tenant_id = $1 AND id = $2";
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(id.to_string())
            .bind(now)
            .bind(&profile.given_name)
            .bind(&profile.family_name)
            .bind(&profile.name)
            .bind(&profile.nickname)
            .bind(&profile.picture)
            .bind(&profile.locale)
            .bind(&profile.zoneinfo)
            .bind(email_verified)
            .execute(&mut **c)
            .await?
            .rows_affected());
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    async fn update_one(
        &mut self,
        sql: &'static str,
        id: UserId,
        now: UnixTime,
        value: Option<&str>,
    ) -> Result<()> {
        let tenant = self.tenant_id();
        let n = on_tx!(self.tx, |c| {
            let q = sqlx::query(sql)
                .bind(&tenant)
                .bind(id.to_string())
                .bind(now);
            let q = match value {
                Some(v) => q.bind(v),
                None => q,
            };
            q.execute(&mut **c).await?.rows_affected()
        });
        if n == 0 { Err(Error::NotFound) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ranges_cover_exactly_the_prefixed() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        for (p, s) in [
            ("bob", "bob@x.io"),
            ("bo", "bo\u{10FFFF}z"),
            ("é", "é\u{10FFFF}"),
        ] {
            assert!(p <= s && s < prefix_end(p).unwrap().as_str(), "{p} {s}");
        }
        assert!("boc" >= prefix_end("bob").unwrap().as_str());
    }
}
