//! The user's own password change: the current password is the proof (no fresher sign-in is
//! needed), so a wrong one costs what a failed login costs: a token of the per-IP and
//! per-account throttles for every attempt (`service::login`), and a failure toward the
//! lockout with its audit events. The new password follows the tenant's rules
//! (`NewPassword`) and is typed twice. On success everything the old password opened ends in
//! the same transaction (DESIGN §5: credentials die together): the user's other sessions,
//! refresh-token families, access tokens, unredeemed codes and unused reset or invitation
//! links. The browser that changed it keeps its session.

use std::net::IpAddr;

use serde_json::json;

use super::own;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::{NewPassword, PASSWORD_MAX_BYTES, User};
use crate::service::audit::{self, Event, Kind};
use crate::service::password::Verified;
use crate::service::sessions::Current;
use crate::service::{Context, Error, Result, links, ratelimit};
use crate::store::Holder;

/// What the form carries.
pub struct Change<'a> {
    pub current: String,
    pub new: &'a str,
    pub repeat: &'a str,
}

/// What a successful change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub other_sessions: u64,
    pub refresh_tokens: u64,
    pub access_tokens: u64,
    pub codes: u64,
    /// Unused reset and invitation links of the user.
    pub links_retired: u64,
}

/// The message of a wrong current password (the field is named first, for the page).
pub const WRONG_CURRENT: &str = "current_password: that is not your current password";

/// Takes the throttles' tokens and refuses a locked or disabled account, before any hashing:
/// the login's per-IP bucket and its per-account key, so password guesses here and at the
/// login page share one budget.
fn admit(app: &App, tenant: &Tenant, user: &User, ip: Option<IpAddr>, now: UnixTime) -> Result<()> {
    let limits = &app.login_limits;
    let limited = |retry_after| Error::RateLimited { retry_after };
    limits
        .per_ip
        .check(&ratelimit::ip_key(ip))
        .map_err(limited)?;
    let account = format!("{}:{}", tenant.id, user.email.as_str());
    limits.per_account.check(&account).map_err(limited)?;
    if !user.is_active() || user.is_locked(now) {
        return Err(Error::Forbidden("the account is locked or disabled".into()));
    }
    Ok(())
}

/// Changes the password of the user signed in with `signed` (the session of this browser)
/// after checking `change.current` against the stored hash.
pub async fn change(
    app: &App,
    tenant: &Tenant,
    signed: &Current,
    change: Change<'_>,
    ip: Option<IpAddr>,
    ctx: &Context,
) -> Result<Ended> {
    let user = &signed.user;
    let ctx = own(ctx, user);
    admit(app, tenant, user, ip, app.clock.now())?;
    let new =
        NewPassword::parse(change.new).map_err(|e| Error::Invalid(format!("new_password: {e}")))?;
    if change.new != change.repeat {
        return Err(Error::Invalid(
            "new_password_repeat: the two new passwords differ".into(),
        ));
    }
    // Over-long input is not hashed (the length is public anyway); it is a wrong password.
    let verified = if change.current.len() > PASSWORD_MAX_BYTES {
        Verified::No
    } else {
        let stored = user.password_hash.clone();
        app.hasher.verify(change.current, stored).await?
    };
    if !matches!(verified, Verified::Yes { .. }) {
        failed(app, tenant, user, &ctx).await?;
        return Err(Error::Invalid(WRONG_CURRENT.into()));
    }
    let hash = app.hasher.hash(new.expose().to_owned()).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    // The row again inside the transaction: a password changed meanwhile (another browser,
    // an operator) was not the one just verified.
    let fresh = scope
        .user_by_id(user.id)
        .await?
        .ok_or(Error::NotFound("user"))?;
    if fresh.password_hash != user.password_hash || !fresh.is_active() {
        return Err(Error::Conflict(
            "the password was changed meanwhile: sign in again".into(),
        ));
    }
    scope.user_set_password_hash(user.id, &hash, now).await?;
    scope.user_reset_failures(user.id).await?;
    let other_sessions = scope
        .sessions_delete_others(user.id, &signed.session.id_hash)
        .await?;
    let uid = user.id.to_string();
    let r = scope.holder_revoke(Holder::User(&uid), now).await?;
    // Reset and invitation links set a password: the one just chosen retires them, as an
    // operator's does (`service::links`).
    let links_retired = links::retire(&mut scope, user.id, links::SET_PASSWORD, now).await?;
    let ended = Ended {
        other_sessions,
        refresh_tokens: r.refresh_tokens,
        access_tokens: r.access_tokens,
        codes: r.codes,
        links_retired,
    };
    let ev = Event {
        kind: Kind::PasswordChanged,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({
            "sessions_ended": ended.other_sessions,
            "refresh_tokens_revoked": ended.refresh_tokens,
            "access_tokens_revoked": ended.access_tokens,
            "codes_deleted": ended.codes,
            "links_retired": ended.links_retired,
            "current_session_kept": true,
        }),
        ctx: &ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(ended)
}

/// A wrong current password: a failure toward the lockout, audited like a failed login (with
/// `via: account`), and the lockout event when this one locks the account.
async fn failed(app: &App, tenant: &Tenant, user: &User, ctx: &Context) -> Result<()> {
    let id = &app.config.identity;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let failure = tx
        .scope(tenant)
        .user_record_failure(
            user.id,
            now,
            i64::from(id.lockout_threshold),
            id.lockout_duration.as_secs() as i64,
        )
        .await?;
    let target = Some(format!("user:{}", user.id));
    let mut events = vec![(
        Kind::LoginFailed,
        json!({ "reason": "wrong_password", "failed_attempts": failure.failed_attempts }),
    )];
    if let Some(until) = failure.locked_until {
        events.push((
            Kind::AccountLocked,
            json!({ "locked_until": until, "failed_attempts": failure.failed_attempts }),
        ));
    }
    let mut recorded = Vec::with_capacity(events.len());
    for (kind, metadata) in events {
        let ev = Event {
            kind,
            tenant: Some(tenant.id),
            target: target.clone(),
            metadata,
            ctx,
        };
        recorded.push(audit::record(&mut tx, ev, now).await?);
    }
    tx.commit().await?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    Ok(())
}
