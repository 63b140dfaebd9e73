//! Forgot password (issue 13): a reset link by mail, and setting a new password through a
//! single-use link (the reset link, and the invitation link of `service::invite`, which is
//! the same act with another purpose).
//!
//! The request never tells whether an address has an account: the same answer, after the same
//! lookups, padded to the same floor. For an active user the link and its mail are written in
//! one transaction, so the mail exists exactly when the link does, and the answer is sent only
//! after that commit (a crash after the answer cannot lose the mail).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::audit::{self, Event, Kind};
use super::links::{self, Link, Purpose};
use super::mail::{self, Letter};
use super::{Context, Error, Result, admin, ratelimit};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Email, NewPassword, User};

/// How long a reset link works (issue 13: 30 minutes).
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);

/// Reset links one address can be sent per hour (a burst of as many, refilled over the hour),
/// whoever asks: enough for a lost mail and a retry, too few to flood a mailbox.
pub const REQUESTS_PER_ADDRESS_PER_HOUR: u32 = 5;

/// Every forgot-password answer takes at least this long, whether a mail was queued or not:
/// the work for a known address (two inserts and a commit) stays well below it, so the time
/// tells nothing about the address.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(300);

/// Asks for a reset link for `email` in `tenant`. `Ok(())` means only "the request was
/// taken": a mail goes out when the address belongs to an active user, and nothing does
/// otherwise, at the same cost. Throttled per client IP (the login throttle's rate, in buckets
/// of its own) and per address ([`REQUESTS_PER_ADDRESS_PER_HOUR`], so that nobody can flood a
/// mailbox with links): a 429 says nothing about the address either.
pub async fn request(app: &App, tenant: &Tenant, email: &str, ip: Option<IpAddr>) -> Result<()> {
    let started = tokio::time::Instant::now();
    let limits = &app.login_limits;
    limits
        .per_ip
        .check(&format!("forgot:{}", ratelimit::ip_key(ip)))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let email = Email::parse(email)
        .map_err(|_| Error::Invalid("email: enter one address like name@example.com".into()))?;
    limits
        .resets
        .check(&format!("{}:{}", tenant.id, email.as_str()))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let outcome = send_if_active(app, tenant, &email).await;
    tokio::time::sleep_until(started + ANSWER_FLOOR).await;
    outcome
}

/// The same transaction either way: look the address up, and for an active user issue the
/// link and queue its mail; commit. Only then is the sender woken.
async fn send_if_active(app: &App, tenant: &Tenant, email: &Email) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = scope.user_by_email(email).await?.filter(User::is_active);
    let queued = match &user {
        Some(user) => {
            let token = links::issue(
                &mut scope,
                user,
                Purpose::Reset,
                &user.email,
                RESET_TTL,
                now,
            )
            .await?;
            let link = link_url(app, tenant, Purpose::Reset, &token);
            let letter = Letter {
                kind: "password_reset",
                to: &user.email,
                subject: format!("Reset your password for {}", tenant.display_name),
                lead: format!(
                    "Someone, hopefully you, asked to reset the password of the account {} at {}.",
                    user.email, tenant.display_name
                ),
                action: "Choose a new password",
                link: &link,
                note: "The link works once, for 30 minutes. If you did not ask for it, ignore \
                       this mail: your password stays as it is."
                    .into(),
            };
            let m = mail::compose(tenant, &letter)?;
            mail::queue(&mut scope, &m, now).await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    if queued {
        mail::wake(app);
    }
    Ok(())
}

/// The page a link of `purpose` opens: `{issuer}/password/reset/{token}` or
/// `{issuer}/invite/{token}`.
pub fn link_url(app: &App, tenant: &Tenant, purpose: Purpose, token: &str) -> String {
    let page = match purpose {
        Purpose::Invite => "invite",
        _ => "password/reset",
    };
    format!("{}/{page}/{token}", tenant.issuer(&app.config.public_url))
}

/// The link behind `raw`, if it still works; consumes nothing (mail scanners open links
/// before people do).
pub async fn check(
    app: &App,
    tenant: &Tenant,
    purpose: Purpose,
    raw: &str,
) -> Result<Option<Link>> {
    let now = app.clock.now();
    let mut tx = app.store.read().await?;
    links::peek(&mut tx.scope(tenant), purpose, raw, now).await
}

/// Sets the password of the link's user and uses the link up, in one transaction: every
/// session, refresh-token family, access token and code of the user ends, the lockout is
/// cleared, the user's other reset and invitation links stop working, and the address is
/// marked verified (the mail reached it, if it is still the user's address). `None`: the link does not work (unknown, used, expired, another
/// tenant's, another purpose's, or its user is disabled) and nothing changed.
pub async fn complete(
    app: &App,
    tenant: &Tenant,
    purpose: Purpose,
    raw: &str,
    password: &NewPassword,
    ctx: &Context,
) -> Result<Option<User>> {
    // A dead link costs no Argon2id: it is checked before hashing, and redeemed after.
    if check(app, tenant, purpose, raw).await?.is_none() {
        return Ok(None);
    }
    let hash = app.hasher.hash(password.expose().to_owned()).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let Some(link) = links::redeem(&mut scope, purpose, raw, now).await? else {
        return Ok(None);
    };
    let Some(user) = scope
        .user_by_id(link.user_id)
        .await?
        .filter(User::is_active)
    else {
        // Dropping the transaction rolls the redemption back: nothing changed.
        return Ok(None);
    };
    scope.user_set_password_hash(user.id, &hash, now).await?;
    scope.user_unlock(user.id, now).await?;
    let verified = link.email == user.email.as_str();
    if verified && !user.email_verified {
        scope
            .user_set_profile(user.id, &user.profile, true, now)
            .await?;
    }
    let mut metadata = admin::end_user_credentials(&mut scope, &user, now).await?;
    // Any other reset or invitation link sent before must not set the password again.
    metadata["links_retired"] = links::retire(&mut scope, user.id, links::SET_PASSWORD, now)
        .await?
        .into();
    metadata["email_verified"] = json!(verified || user.email_verified);
    metadata["lockout_cleared"] = json!(user.failed_attempts > 0 || user.locked_until.is_some());
    let kind = match purpose {
        Purpose::Invite => Kind::InvitationAccepted,
        _ => Kind::PasswordReset,
    };
    let ev = Event {
        kind,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(Some(User {
        email_verified: verified || user.email_verified,
        failed_attempts: 0,
        locked_until: None,
        updated_at: now,
        ..user
    }))
}
