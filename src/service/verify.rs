//! Email verification (issue 13): a single-use link mailed to the user's address, queued in
//! the transaction that makes the address unverified (a new user, a changed address) or on
//! the user's request; using it sets `email_verified`, which id_tokens and userinfo read from
//! the user row. A link is bound to the address it was sent to: once the user has another
//! one, it proves nothing. Using it also finishes a self-registration (`service::register`):
//! the password chosen at sign-up becomes the user's, so the account can sign in.

use std::time::Duration;

use serde_json::json;

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::ids::UserId;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Email, User};
use crate::store::TenantScope;

use super::audit::{self, Event, Kind};
use super::links::{self, Purpose};
use super::mail::{self, Letter};
use super::{Context, Error, Result};

/// How long a verification link works: a day, for mail that is read late.
pub const TTL: Duration = Duration::from_secs(24 * 3600);

/// Mails a visitor or a user can cause per address and minute (a burst of as many): enough
/// for "send it again", too few to flood a mailbox.
pub const MAILS_PER_MINUTE: u32 = 1;

/// The page a verification link opens (`{issuer}/email/verify/{token}`).
pub fn link(app: &App, tenant: &Tenant, raw: &str) -> String {
    format!(
        "{}/email/verify/{raw}",
        tenant.issuer(&app.config.public_url)
    )
}

/// Issues a verification link for `user` at `email` and queues its mail, inside the caller's
/// transaction (the mail exists iff the change that needs it committed). The caller calls
/// [`mail::wake`] after the commit. `signup`: the mail finishes a self-registration.
pub async fn queue_mail(
    app: &App,
    scope: &mut TenantScope<'_>,
    tenant: &Tenant,
    user: &User,
    email: &Email,
    signup: bool,
    now: UnixTime,
) -> Result<()> {
    let raw = links::issue(scope, user, Purpose::Verify, email, TTL, now).await?;
    let url = link(app, tenant, &raw);
    let (subject, lead, note) = if signup {
        (
            format!("Confirm your email address to finish signing up at {}", tenant.display_name),
            format!(
                "Someone, hopefully you, signed up at {} with this email address. Confirm it to finish: the account can sign in once the address is confirmed.",
                tenant.display_name
            ),
            "The link works once, for 24 hours. If you did not sign up, ignore this mail: nobody can sign in with this address until it is confirmed.".to_owned(),
        )
    } else {
        (
            format!("Confirm your email address at {}", tenant.display_name),
            format!(
                "Please confirm that this email address belongs to your account at {}.",
                tenant.display_name
            ),
            "The link works once, for 24 hours. If you did not expect this mail, you can ignore it.".to_owned(),
        )
    };
    let letter = Letter {
        kind: "verify_email",
        to: email,
        subject,
        lead,
        action: "Confirm my address",
        link: &url,
        note,
    };
    let m = mail::compose(tenant, &letter)?;
    mail::queue(scope, &m, now).await
}

/// For a new user created by an operator (CLI, API, console): whether `user_create` queues a
/// verification mail. Only when mail is on, the address is not marked verified and the user
/// has a password to sign in with (a user created without one is an invitation, whose own
/// link proves the address).
pub fn wanted_on_create(app: &App, email_verified: bool, has_password: bool) -> bool {
    mail::enabled(app) && !email_verified && has_password
}

/// What happened to a verification mail the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// Queued for the user's current address.
    Sent,
    /// The address is verified already: nothing to send.
    AlreadyVerified,
}

/// "Send a verification mail" on the account page: to the user's current address, while it
/// is unverified; throttled per user ([`MAILS_PER_MINUTE`]).
pub async fn request(app: &App, tenant: &Tenant, user: UserId) -> Result<Requested> {
    if !mail::enabled(app) {
        return Err(Error::NotFound("mail"));
    }
    app.login_limits
        .mails
        .check(&format!("verify:{}:{user}", tenant.id))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = scope
        .user_by_id(user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    if user.email_verified {
        return Ok(Requested::AlreadyVerified);
    }
    let email = user.email.clone();
    queue_mail(app, &mut scope, tenant, &user, &email, false, now).await?;
    tx.commit().await?;
    mail::wake(app);
    Ok(Requested::Sent)
}

/// What a verification link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The address is verified now; `signed_up`: this also finished a self-registration.
    Verified { email: Email, signed_up: bool },
    /// The link was mailed to an address the user no longer has: it proves nothing.
    Stale,
}

/// Whether `raw` is a live verification link of this tenant (the GET page: consumes nothing).
pub async fn peek(app: &App, tenant: &Tenant, raw: &str) -> Result<bool> {
    let now = app.clock.now();
    let mut tx = app.store.read().await?;
    Ok(
        links::peek(&mut tx.scope(tenant), Purpose::Verify, raw, now)
            .await?
            .is_some(),
    )
}

/// Uses a verification link (single use, atomically): `NotFound` for an unknown, used,
/// expired or other tenant's link. Audited as `email.verified`.
pub async fn confirm(app: &App, tenant: &Tenant, raw: &str, ctx: &Context) -> Result<Confirmed> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let link = links::redeem(&mut scope, Purpose::Verify, raw, now)
        .await?
        .ok_or(Error::NotFound("link"))?;
    // Bound to the address it was sent to: the row must still carry it (checked in the
    // statement itself, so a concurrent change of address cannot slip between).
    if !scope
        .user_mark_verified(link.user_id, &link.email, now)
        .await?
    {
        // Used up all the same: a stale link is no good later either.
        tx.commit().await?;
        return Ok(Confirmed::Stale);
    }
    let signed_up = match scope.registration_take(link.user_id).await? {
        Some(hash) => {
            scope
                .user_set_password_if_none(link.user_id, &hash, now)
                .await?;
            true
        }
        None => false,
    };
    let email = Email::parse(&link.email).map_err(|e| Error::Internal(e.to_string()))?;
    let ev = Event {
        kind: Kind::EmailVerified,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", link.user_id)),
        metadata: json!({ "email": email.as_str(), "registration_completed": signed_up }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(Confirmed::Verified { email, signed_up })
}

/// Gives a user a new address: unverified until proven, and (with mail on) a verification
/// mail to the new address in the same transaction. Every surface that changes an address
/// goes through here; links sent to the old address stop proving anything.
pub async fn change_email(
    app: &App,
    tenant: &Tenant,
    user: UserId,
    email: &str,
    ctx: &Context,
) -> Result<User> {
    let email = super::admin::parse_email(email)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let old = scope
        .user_by_id(user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    if old.email == email {
        return Ok(old);
    }
    scope
        .user_set_email(old.id, &email, now)
        .await
        .map_err(|e| match e {
            crate::store::Error::Conflict(_) => Error::Conflict(format!(
                "a user with email {email} already exists in tenant {}",
                tenant.slug
            )),
            other => other.into(),
        })?;
    let user = User {
        email: email.clone(),
        email_verified: false,
        updated_at: now,
        ..old
    };
    let mailed = mail::enabled(app);
    if mailed {
        queue_mail(app, &mut scope, tenant, &user, &email, false, now).await?;
    }
    let ev = Event {
        kind: Kind::UserUpdated,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "fields": ["email", "email_verified"], "verification_mail": mailed }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    if mailed {
        mail::wake(app);
    }
    Ok(user)
}

/// The per-address key of [`MAILS_PER_MINUTE`] for a typed address (a valid one only, so
/// keys stay bounded).
pub(super) fn address_key(tenant: &Tenant, email: &Email) -> String {
    format!("addr:{}:{}", tenant.id, email.as_str())
}
