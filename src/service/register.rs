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
use crate::domain::tenant::{Registration, Tenant};
use crate::domain::user::{Email, Profile};
use crate::store::users::NewUser;

use super::admin::{check_claim, parse_email, parse_password};
use super::audit::{self, Event, Kind};
use super::mail::{self, Letter};
use super::{Context, Error, Result, ratelimit, verify};

/// Sign-ups per client IP and minute (a burst of as many).
pub const SIGNUPS_PER_MINUTE: u32 = 5;

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
