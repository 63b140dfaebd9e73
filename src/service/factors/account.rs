//! What the user's own account page needs from the factors: whether a session may see the
//! page or change factors (re-authentication younger than five minutes), and a pending TOTP
//! enrolment reopened for its owner (to show the same QR code again after a mistyped code,
//! and to name the factor as the form says before confirming it).

use super::{FactorInfo, parse_name, totp};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::protocol;
use crate::service::sessions::has_second_factor;
use crate::service::{Context, Error, Result};
use crate::store::sessions::SessionRecord;

/// Adding or removing a factor and creating recovery codes need a sign-in younger than this.
pub const REAUTH_SECS: i64 = 300;
/// A started enrolment not confirmed within this time is gone (start again): the QR code on
/// a forgotten screen should not stay usable forever.
pub const PENDING_SECS: i64 = 30 * 60;
/// The longest factor id worth looking up (ours are 36-character UUIDs).
const ID_MAX: usize = 64;

/// Where a session stands for the account page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Signed in with everything the account has, within [`REAUTH_SECS`]: may change factors.
    Fresh,
    /// Signed in with everything the account has, but longer ago: may look, not change.
    Stale,
    /// Only the password, though the user has a second factor: the factor step comes first.
    NeedsFactor,
}

/// The session's standing: the password (`auth_time`) and, when the user has a factor, the
/// second factor (`mfa_at`) must both be younger than [`REAUTH_SECS`] to change anything.
/// A session is stepped up in place after its password, never before, so a second factor
/// recorded only in `amr` is at least as fresh as `auth_time`.
pub fn standing(session: &SessionRecord, has_factor: bool, now: UnixTime) -> Standing {
    if has_factor && !has_second_factor(session) {
        return Standing::NeedsFactor;
    }
    let fresh = |t: UnixTime| (0..REAUTH_SECS).contains(&(now - t));
    let factor_fresh = !has_factor || session.mfa_at.is_none_or(fresh);
    if fresh(session.auth_time) && factor_fresh {
        Standing::Fresh
    } else {
        Standing::Stale
    }
}

/// A started TOTP enrolment as its owner sees it again.
pub struct Pending {
    pub factor_id: String,
    pub name: String,
    /// The seed in base32, for typing it in by hand.
    pub secret: String,
    /// The key URI the QR code carries.
    pub uri: String,
}

/// The user's unconfirmed TOTP enrolment `factor_id`, if it is theirs and not expired. The
/// id comes from a form: it is looked up only among this user's rows in this tenant.
pub async fn pending(app: &App, tenant: &Tenant, user: &User, factor_id: &str) -> Result<Pending> {
    if factor_id.is_empty() || factor_id.len() > ID_MAX {
        return Err(Error::NotFound("enrolment"));
    }
    let now = app.clock.now();
    let row = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant).factors_of(&user.id.to_string()).await?
    }
    .into_iter()
    .find(|f| f.id == factor_id && f.kind == "totp" && !f.confirmed)
    .filter(|f| now - f.created_at < PENDING_SECS)
    .ok_or(Error::NotFound("enrolment"))?;
    let seed = totp::seed(app, &row).await?;
    Ok(Pending {
        secret: protocol::totp::base32(&seed),
        uri: protocol::totp::otpauth_uri(&tenant.display_name, user.email.as_str(), &seed),
        factor_id: row.id,
        name: row.name,
    })
}

/// Confirms the user's pending enrolment with the first code, under the name the form gives
/// (the enrolment was started with a default name before the user could type one).
pub async fn confirm_named(
    app: &App,
    tenant: &Tenant,
    user: &User,
    factor_id: &str,
    name: &str,
    code: &str,
    ctx: &Context,
) -> Result<FactorInfo> {
    let name = parse_name(name)?;
    if code.len() > protocol::limits::TOKEN {
        return Err(Error::Invalid(
            "code: that is not the current code of the authenticator app".into(),
        ));
    }
    let now = app.clock.now();
    let uid = user.id.to_string();
    if factor_id.is_empty() || factor_id.len() > ID_MAX {
        return Err(Error::NotFound("enrolment"));
    }
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let row = scope
        .factors_of(&uid)
        .await?
        .into_iter()
        .find(|f| f.id == factor_id && f.kind == "totp" && !f.confirmed)
        .filter(|f| now - f.created_at < PENDING_SECS)
        .ok_or(Error::NotFound("enrolment"))?;
    if row.name != name {
        // No rename statement exists: the same row (same id, so its sealed seed still opens)
        // goes back in under the new name, in one transaction.
        scope.factor_delete(&row.id, &uid).await?;
        scope
            .factor_insert(&crate::store::factors::FactorRow { name, ..row })
            .await?;
    }
    tx.commit().await?;
    totp::confirm(app, tenant, user, factor_id, code.trim(), ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;

    fn session(auth_time: UnixTime, amr: &[&str]) -> SessionRecord {
        SessionRecord {
            mfa_at: None,
            id_hash: String::new(),
            sid: String::new(),
            user_id: UserId::new(),
            auth_time,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            last_seen: auth_time,
            expires_at: auth_time + 3600,
        }
    }

    #[test]
    fn standing_follows_age_and_factors() {
        let now = 1_000_000;
        let pwd = session(now - 10, &["pwd"]);
        assert_eq!(standing(&pwd, false, now), Standing::Fresh);
        assert_eq!(standing(&pwd, true, now), Standing::NeedsFactor);
        let old = session(now - REAUTH_SECS, &["pwd"]);
        assert_eq!(standing(&old, false, now), Standing::Stale);
        assert_eq!(standing(&old, true, now), Standing::NeedsFactor);
        let mfa = session(now - REAUTH_SECS + 1, &["pwd", "otp", "mfa"]);
        assert_eq!(standing(&mfa, true, now), Standing::Fresh);
        assert_eq!(standing(&mfa, true, now + 1), Standing::Stale);
        // A second factor older than five minutes is stale even with a fresh password.
        let late = SessionRecord {
            mfa_at: Some(now - REAUTH_SECS),
            ..session(now - 10, &["pwd", "otp", "mfa"])
        };
        assert_eq!(standing(&late, true, now), Standing::Stale);
        assert_eq!(
            standing(
                &SessionRecord {
                    mfa_at: Some(now - 1),
                    ..late
                },
                true,
                now
            ),
            Standing::Fresh
        );
        // A session from the future (a clock step back) is not fresh.
        assert_eq!(
            standing(&session(now + 5, &["pwd"]), false, now),
            Standing::Stale
        );
    }
}
