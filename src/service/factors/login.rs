//! The second step of a sign-in (issue 12): the user, signed in with a password, answers with
//! a code from their authenticator app or a recovery code; the session is then stepped up in
//! place (`sessions::step_up`). A recovery code is a one-time password too (RFC 8176 `otp`);
//! the audit event of the check says which it was. Recovery codes used at an earlier sign-in
//! are reported once, at the next one that passes this step.

use super::{recovery, totp};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::service::sessions::{self, Current};
use crate::service::{Context, Result};
use crate::store::sessions::SessionRecord;

/// What the user typed.
#[derive(Clone, Copy, Debug)]
pub enum Answer<'a> {
    /// A code from the authenticator app.
    Totp(&'a str),
    /// One of the user's recovery codes.
    Recovery(&'a str),
}

/// A passed second step.
#[derive(Debug)]
pub struct Passed {
    /// The stepped-up session.
    pub session: SessionRecord,
    /// Recovery codes left, when this step used one.
    pub recovery_left: Option<i64>,
    /// When recovery codes were used at earlier sign-ins the user has not been told about
    /// (now they are).
    pub earlier_recovery_uses: Vec<UnixTime>,
}

/// Checks `answer` for the signed-in user of `current` (the session behind `session_token`)
/// and steps the session up. `Ok(None)`: the code was wrong or already used; that counted
/// toward the lockout. Throttled and locked accounts get the errors of `service::factors`.
pub async fn verify(
    app: &App,
    tenant: &Tenant,
    current: &Current,
    session_token: &str,
    answer: Answer<'_>,
    ctx: &Context,
) -> Result<Option<Passed>> {
    let user = &current.user;
    let used_recovery = match answer {
        Answer::Totp(code) => {
            if !totp::check(app, tenant, user, code.trim(), ctx).await? {
                return Ok(None);
            }
            false
        }
        Answer::Recovery(code) => {
            if !recovery::redeem(app, tenant, user, code, ctx).await? {
                return Ok(None);
            }
            true
        }
    };
    let session = sessions::step_up(app, tenant, session_token, &["otp"]).await?;
    let now = app.clock.now();
    let uid = user.id.to_string();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    // Uses before this second only: the code used by this very step is news at the next one.
    let earlier_recovery_uses = scope.recovery_uses_unnoticed(&uid, now).await?;
    if !earlier_recovery_uses.is_empty() {
        scope.recovery_uses_noticed(&uid, now, now).await?;
    }
    let recovery_left = if used_recovery {
        Some(scope.recovery_codes_left(&uid).await?)
    } else {
        None
    };
    tx.commit().await?;
    Ok(Some(Passed {
        session,
        recovery_left,
        earlier_recovery_uses,
    }))
}
