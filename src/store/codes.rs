//! Authorization codes (tenant-scoped): stored by hash, spent exactly once. Codes are written
//! and spent through the group writer (`group.rs`); this file reads them.

use sqlx::FromRow;

use super::users::{COLUMNS as USER_COLUMNS, WithUser};
use super::{Result, TenantScope, on_tx};
use crate::domain::user::User;

#[derive(FromRow, Clone, Debug)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// How the user signed in (RFC 8176 methods, space-separated); `None` on older rows.
    pub amr: Option<String>,
}

pub(super) const COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
    code_challenge_method, auth_time, sid, expires_at, used_at, amr";

impl TenantScope<'_> {
    /// The code with this hash, spent or not, and its user, in one statement (the token
    /// endpoint needs both). Spending it is a [`super::Claim::Code`] in the group writer, which
    /// only one redemption can win.
    pub async fn code_with_user(&mut self, code_hash: &str) -> Result<Option<(CodeRow, User)>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, {USER_COLUMNS} FROM auth_codes c \
             JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.user_id \
             WHERE c.tenant_id = $1 AND c.code_hash = $2"
        ));
        let tenant = self.tenant_id();
        let row: Option<WithUser<CodeRow>> = on_tx!(&mut *self.tx, |conn| sqlx::query_as(sql)
            .bind(tenant)
            .bind(code_hash)
            .fetch_optional(&mut **conn)
            .await?);
        row.map(|r| Ok((r.row, User::try_from(r.user)?)))
            .transpose()
    }
}
