//! Self-registration (issue 13): where a tenant opened it and mail is on, anyone may sign up
//! with an address and a password. The account can sign in only once the address is proven:
//! the user row is created without a password, and the chosen one waits in `registrations`
//! until the mailed verification link is used (`service::verify::confirm`), so until then a
//! sign-in fails like a wrong password. No enumeration: a taken address gets the same answer
//! (and the same work: the password is hashed either way), while its owner gets a mail saying
//! someone tried. Throttled per client IP and per address.

use std::net::IpAddr;

use serde_json::json;

use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::tenant::{Registration, Tenant};
use crate::domain::user::{Email, Profile};
use crate::store::users::NewUser;

use super::admin::{self, check_claim, parse_email, parse_password};
use super::audit::{self, Event, Kind};
use super::mail::{self, Letter};
use super::{Context, Error, Result, ratelimit, verify};

/// Sign-ups per client IP and minute (a burst of as many).
pub const SIGNUPS_PER_MINUTE: u32 = 5;

/// Seconds after which a sign-up whose address was never proven is erased, freeing the
/// address (someone else's, perhaps, typed by mistake or to squat it). The link lives a day
/// (`verify::TTL`); the week leaves time to ask for a new one or to reset the password.
pub const ABANDONED_AFTER: i64 = 7 * 24 * 3600;

/// Whether `{issuer}/register` takes sign-ups: the tenant opened it and mail is on (the
/// account is usable only through the mailed link). Otherwise the page says it is closed
/// and the login page offers no link.
pub fn open(app: &App, tenant: &Tenant) -> bool {
    tenant.registration == Registration::Open && mail::enabled(app)
}

/// A sign-up form as typed.
pub struct SignUp<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub password_again: &'a str,
    pub name: &'a str,
    pub ip: Option<IpAddr>,
}

/// Takes a sign-up. `Ok(())` whether the address was new or taken (the caller shows the same
/// page); `NotFound` when registration is closed; `Invalid` naming the field; `RateLimited`.
pub async fn sign_up(app: &App, tenant: &Tenant, form: SignUp<'_>, ctx: &Context) -> Result<()> {
    if !open(app, tenant) {
        return Err(Error::NotFound("registration"));
    }
    app.login_limits
        .signups
        .check(&ratelimit::ip_key(form.ip))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    let email = parse_email(form.email)?;
    let password = parse_password(form.password)?;
    if form.password != form.password_again {
        return Err(Error::Invalid(
            "password_again: the two passwords do not match".into(),
        ));
    }
    let name = form.name.trim();
    check_claim("name", name)?;
    // Per address whether or not it is taken (the same answer either way).
    app.login_limits
        .mails
        .check(&verify::address_key(tenant, &email))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    // Hashed before looking: a taken address costs the same Argon2id work as a new one.
    let hash = app.hasher.hash(password.expose().to_owned()).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    if let Some(owner) = scope.user_by_email(&email).await? {
        notice_owner(app, &mut scope, tenant, &owner.email, now).await?;
        tx.commit().await?;
        mail::wake(app);
        return Ok(());
    }
    let profile = Profile {
        name: (!name.is_empty()).then(|| name.to_owned()),
        ..Profile::default()
    };
    let new = NewUser {
        email: &email,
        email_verified: false,
        password_hash: None,
        profile: &profile,
    };
    let user = match scope.user_insert(&new, now).await {
        Ok(u) => u,
        // Taken by a sign-up that committed since the lookup: that one mails the address.
        Err(crate::store::Error::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    scope.registration_insert(user.id, &hash, now).await?;
    verify::queue_mail(app, &mut scope, tenant, &user, &email, true, now).await?;
    let ev = Event {
        kind: Kind::UserRegistered,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "email": email.as_str() }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    mail::wake(app);
    Ok(())
}

/// "Someone tried to sign up with your address": to the owner of a taken address, in place of
/// a verification mail, with the way back in (sign in, or reset the password from there).
async fn notice_owner(
    app: &App,
    scope: &mut crate::store::TenantScope<'_>,
    tenant: &Tenant,
    to: &Email,
    now: crate::clock::UnixTime,
) -> Result<()> {
    let login = format!("{}/login", tenant.issuer(&app.config.public_url));
    let letter = Letter {
        kind: "signup_taken",
        to,
        subject: format!("Someone tried to sign up at {} with your address", tenant.display_name),
        lead: format!(
            "Someone, perhaps you, tried to create an account at {} with this email address. You already have one.",
            tenant.display_name
        ),
        action: "Sign in",
        link: &login,
        note: "If you forgot your password, reset it from the sign-in page. If it was not you, you can ignore this mail: nothing was changed.".to_owned(),
    };
    let m = mail::compose(tenant, &letter)?;
    mail::queue(scope, &m, now).await
}

/// Erases up to `limit` of the tenant's sign-ups left unfinished for [`ABANDONED_AFTER`] (the
/// address never proven, no password set since), as a deletion by `system`: the user row
/// and the address with it, a `user.deleted` event with `"reason": "sign_up_abandoned"`, the
/// address taken out of the earlier events. Each is re-checked in its own transaction, so a
/// sign-up completed meanwhile stays. Housekeeping runs this; returns how many went.
pub async fn purge_abandoned(app: &App, tenant: &Tenant, now: UnixTime, limit: i64) -> Result<u64> {
    let before = now - ABANDONED_AFTER;
    let ids = {
        let mut tx = app.store.read().await?;
        tx.scope(tenant)
            .registrations_abandoned(before, limit)
            .await?
    };
    let ctx = Context {
        actor: Some("system".into()),
        ..Context::default()
    };
    let mut erased = 0;
    for id in ids {
        let mut tx = app.store.begin().await?;
        let mut scope = tx.scope(tenant);
        // Dropping `tx` without a commit leaves everything as it was.
        if !scope.registration_take_abandoned(id, before).await? {
            continue;
        }
        let Some(user) = scope.user_by_id(id).await? else {
            continue;
        };
        // The tenant's last owner (made one before proving the address) stays; any other
        // failure, such as a database gone, ends the round with its error.
        match super::roles::keep_an_owner(&mut scope, &user).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        let mut metadata = admin::erase(&mut tx, tenant, &user, now).await?;
        metadata["reason"] = json!("sign_up_abandoned");
        let ev = Event {
            kind: Kind::UserDeleted,
            tenant: Some(tenant.id),
            target: Some(format!("user:{}", user.id)),
            metadata,
            ctx: &ctx,
        };
        audit::commit(tx, ev, now).await?;
        erased += 1;
    }
    Ok(erased)
}
