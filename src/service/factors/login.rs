//! The second step of a sign-in (issue 12): the user, signed in with a password, answers with
//! a code from their authenticator app or a recovery code; the session is then stepped up in
//! place (`sessions::step_up`). A recovery code is a one-time password too (RFC 8176 `otp`);
//! the audit event of the check says which it was. Recovery codes used at an earlier sign-in
//! are reported once, at the next one that passes this step (here, or with a passkey: then
//! the notice page asks [`recovery_news`]).

use super::{recovery, totp};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
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
    // Uses before this second only: a code used by this very step is news at the next one.
    let earlier_recovery_uses = take_news(app, tenant, &uid, now, now).await?;
    let recovery_left = if used_recovery {
        let mut tx = app.store.read().await?;
        Some(tx.scope(tenant).recovery_codes_left(&uid).await?)
    } else {
        None
    };
    Ok(Some(Passed {
        session,
        recovery_left,
        earlier_recovery_uses,
    }))
}

/// Recovery codes used before `before` that the user has not been told about; marks them
/// told at `now`. (Looked up first: most sign-ins have nothing to tell, and write nothing.)
async fn take_news(
    app: &App,
    tenant: &Tenant,
    uid: &str,
    before: UnixTime,
    now: UnixTime,
) -> Result<Vec<UnixTime>> {
    let news = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant)
            .recovery_uses_unnoticed(uid, before)
            .await?
    };
    if !news.is_empty() {
        let mut tx = app.store.begin().await?;
        tx.scope(tenant)
            .recovery_uses_noticed(uid, before, now)
            .await?;
        tx.commit().await?;
    }
    Ok(news)
}

/// Whether the user has recovery codes used at earlier sign-ins to be told about (a sign-in
/// with a passkey then goes on through the notice page). A passkey used no code, so every use
/// up to this second counts, even one a moment ago.
pub async fn has_recovery_news(app: &App, tenant: &Tenant, user: &User) -> Result<bool> {
    let mut tx = app.store.read().await?;
    let news = tx
        .scope(tenant)
        .recovery_uses_unnoticed(&user.id.to_string(), app.clock.now() + 1)
        .await?;
    Ok(!news.is_empty())
}

/// When recovery codes were used at earlier sign-ins the user has not been told about (up to
/// this second, as [`has_recovery_news`]), and the codes left; marks those uses told (the
/// notice page shows them once).
pub async fn recovery_news(
    app: &App,
    tenant: &Tenant,
    user: &User,
) -> Result<(Vec<UnixTime>, i64)> {
    let now = app.clock.now();
    let uid = user.id.to_string();
    let news = take_news(app, tenant, &uid, now + 1, now).await?;
    let mut tx = app.store.read().await?;
    let left = tx.scope(tenant).recovery_codes_left(&uid).await?;
    Ok((news, left))
}
