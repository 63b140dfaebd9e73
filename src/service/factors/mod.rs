//! Second factors of a user (issue 12): TOTP (`totp`), passkeys (`webauthn*`), recovery codes
//! (`recovery`), and what every factor shares: the list a user or an administrator sees,
//! removal, an operator's reset, and what a failed second-factor check costs (it counts
//! toward the account lockout and the per-account throttle exactly like a wrong password, so
//! a stolen password does not buy unlimited guesses at a six-digit code).

pub mod account;
pub mod login;
pub mod policy;
pub mod recovery;
pub mod totp;
pub mod webauthn;
pub mod webauthn_factor;
pub mod webauthn_register;
pub mod webauthn_signin;

use serde_json::json;

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::factors::FactorRow;

/// At most this many factors per user: each row is read on every login of the user.
pub const MAX_FACTORS: usize = 10;
/// A factor's name: what the user calls the device ("Phone", "YubiKey 5C").
pub const NAME_MAX_CHARS: usize = 64;

/// A factor as its owner and administrators see it (never a secret).
#[derive(Clone, Debug, serde::Serialize)]
pub struct FactorInfo {
    pub id: String,
    /// `totp` or `webauthn`.
    pub kind: String,
    pub name: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

impl From<FactorRow> for FactorInfo {
    fn from(r: FactorRow) -> Self {
        FactorInfo {
            id: r.id,
            kind: r.kind,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A factor name from a form: trimmed, 1 to 64 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "name must be 1 to {NAME_MAX_CHARS} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// The user's enrolled (confirmed) factors, oldest first.
pub async fn list(app: &App, tenant: &Tenant, user: UserId) -> Result<Vec<FactorInfo>> {
    let mut tx = app.store.read().await?;
    let rows = tx.scope(tenant).factors_of(&user.to_string()).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.confirmed)
        .map(FactorInfo::from)
        .collect())
}

/// Whether the user has a second factor (then every login asks for it).
pub async fn enrolled(app: &App, tenant: &Tenant, user: UserId) -> Result<bool> {
    Ok(!list(app, tenant, user).await?.is_empty())
}

/// Removes one of the user's factors. With the last one gone, the recovery codes go too:
/// they stand in for a factor the account no longer has.
pub async fn remove(
    app: &App,
    tenant: &Tenant,
    user: UserId,
    factor_id: &str,
    ctx: &Context,
) -> Result<()> {
    if factor_id.len() > 64 {
        return Err(Error::NotFound("factor"));
    }
    let now = app.clock.now();
    let uid = user.to_string();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let found = scope.factors_of(&uid).await?;
    let Some(gone) = found.iter().find(|f| f.id == factor_id && f.confirmed) else {
        return Err(Error::NotFound("factor"));
    };
    scope.factor_delete(factor_id, &uid).await?;
    let left = found
        .iter()
        .filter(|f| f.confirmed && f.id != factor_id)
        .count();
    if left == 0 {
        scope.recovery_codes_replace(&uid, &[], now).await?;
    }
    let ev = Event {
        kind: Kind::MfaRemoved,
        tenant: Some(tenant.id),
        target: Some(format!("user:{user}")),
        metadata: json!({ "factor": gone.id, "kind": gone.kind, "factors_left": left }),
        ctx,
    };
    audit::commit(tx, ev, now).await
}

/// An operator's reset: every factor and recovery code of the user is gone (the user signs
/// in with the password alone, or enrols again where the tenant requires a factor). A reset
/// is a step toward taking the account over, so, like setting a password, it is refused on a
/// user whose role is above `ceiling` (the caller's role; `None`: an operator at the host),
/// checked in the transaction that resets.
pub async fn reset(
    app: &App,
    tenant: &Tenant,
    user: UserId,
    ceiling: Option<crate::domain::role::Role>,
    ctx: &Context,
) -> Result<u64> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let Some(found) = scope.user_by_id(user).await? else {
        return Err(Error::NotFound("user"));
    };
    crate::service::roles::within_reach(&mut scope, &found, ceiling).await?;
    let removed = scope.factors_reset(&user.to_string()).await?;
    let ev = Event {
        kind: Kind::MfaReset,
        tenant: Some(tenant.id),
        target: Some(format!("user:{user}")),
        metadata: json!({ "factors_removed": removed }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(removed)
}

/// The per-account throttle key of the login (`service::login`): one budget for password
/// and second-factor guesses.
fn account_key(tenant: &Tenant, user: &User) -> String {
    format!("{}:{}", tenant.id, user.email.as_str())
}

/// Refuses a check while the account's throttle or lockout says no; the same refusal as a
/// password attempt would meet.
fn admit(app: &App, tenant: &Tenant, user: &User, now: UnixTime) -> Result<()> {
    app.login_limits
        .per_account
        .check(&account_key(tenant, user))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    if !user.is_active() || user.is_locked(now) {
        return Err(Error::Forbidden("the account is locked or disabled".into()));
    }
    Ok(())
}

/// Records a failed second-factor check: the audit event and a failure toward the lockout
/// (and the lockout event when this one locks the account), in one transaction.
async fn failed(
    app: &App,
    tenant: &Tenant,
    user: &User,
    factor: &str,
    ctx: &Context,
    now: UnixTime,
) -> Result<()> {
    let id = &app.config.identity;
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
    let mut recorded = vec![
        audit::record(
            &mut tx,
            Event {
                kind: Kind::MfaFailed,
                tenant: Some(tenant.id),
                target: target.clone(),
                metadata: json!({ "factor": factor, "failed_attempts": failure.failed_attempts }),
                ctx,
            },
            now,
        )
        .await?,
    ];
    if let Some(until) = failure.locked_until {
        recorded.push(
            audit::record(
                &mut tx,
                Event {
                    kind: Kind::AccountLocked,
                    tenant: Some(tenant.id),
                    target,
                    metadata: json!({ "locked_until": until, "failed_attempts": failure.failed_attempts }),
                    ctx,
                },
                now,
            )
            .await?,
        );
    }
    tx.commit().await?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    Ok(())
}

/// Records a successful check: the audit event, the failure count back to zero.
async fn succeeded(
    mut tx: crate::store::Tx,
    tenant: &Tenant,
    user: &User,
    kind: Kind,
    metadata: serde_json::Value,
    ctx: &Context,
    now: UnixTime,
) -> Result<()> {
    tx.scope(tenant).user_reset_failures(user.id).await?;
    let ev = Event {
        kind,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await
}
