//! Password login for one tenant: throttling, constant-cost verification (unknown, disabled
//! and locked accounts cost one Argon2id verification too and get the same answer), atomic
//! failure counting with lockout, hash upgrade, session creation and the audit trail.

use std::net::IpAddr;

use serde_json::json;

use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::{Email, PASSWORD_MAX_BYTES, User};

use super::audit::{self, Event, Kind};
use super::password::Verified;
use super::{Context, Error};
use super::{ratelimit, sessions};

/// The one message every failed credential check gets.
pub const BAD_CREDENTIALS: &str = "The email address or password is incorrect.";

pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: String,
    pub ip: Option<IpAddr>,
}

/// A successful login: the new session's cookie value and public id.
pub struct LoggedIn {
    pub token: String,
    pub sid: String,
    pub user: User,
    /// The user has a confirmed second factor: this sign-in asks for it next (a passkey
    /// sign-in has already used one).
    pub factor_due: bool,
}

#[derive(Debug)]
pub enum Failed {
    BadCredentials,
    Service(Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::Service(e)
    }
}

/// Why a credential check failed, for the audit trail only (never shown to the client).
#[derive(Clone, Copy)]
enum Reason {
    UnknownUser,
    WrongPassword,
    Disabled,
    Locked,
    NoPassword,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown_user",
            Reason::WrongPassword => "wrong_password",
            Reason::Disabled => "disabled",
            Reason::Locked => "locked",
            Reason::NoPassword => "no_password",
        }
    }
}

pub async fn login(
    app: &App,
    tenant: &Tenant,
    attempt: Attempt<'_>,
    ctx: &Context,
) -> std::result::Result<LoggedIn, Failed> {
    let id = &app.config.identity;
    app.login_limits
        .per_ip
        .check(&ratelimit::ip_key(attempt.ip))
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    // The account key is bounded: a valid email (at most 254 bytes), or one shared bucket for
    // everything that is not an email (no account can match it anyway).
    let email = Email::parse(attempt.email).ok();
    let account_key = format!(
        "{}:{}",
        tenant.id,
        email.as_ref().map_or("(invalid)", |e| e.as_str())
    );
    app.login_limits
        .per_account
        .check(&account_key)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;

    let now = app.clock.now();
    let user = match &email {
        Some(e) => {
            let mut tx = app.store.read().await.map_err(Error::from)?;
            tx.scope(tenant)
                .user_by_email(e)
                .await
                .map_err(Error::from)?
        }
        None => None,
    };
    // Decide what to verify against before hashing; the answer to the client never differs.
    let (stored, reason_if_wrong) = match &user {
        None => (None, Reason::UnknownUser),
        Some(u) if !u.is_active() => (None, Reason::Disabled),
        Some(u) if u.is_locked(now) => (None, Reason::Locked),
        Some(u) if u.password_hash.is_none() => (None, Reason::NoPassword),
        Some(u) => (u.password_hash.clone(), Reason::WrongPassword),
    };
    // Over-long input is refused without hashing 1 MB; the length is public anyway.
    let verified = if attempt.password.len() > PASSWORD_MAX_BYTES {
        Verified::No
    } else {
        app.hasher.verify(attempt.password, stored).await?
    };

    let mut tx = app.store.begin().await.map_err(Error::from)?;
    let mut events = Vec::new();
    let result = match (verified, user) {
        (Verified::Yes { rehash }, Some(user)) => {
            let mut scope = tx.scope(tenant);
            scope
                .user_reset_failures(user.id)
                .await
                .map_err(Error::from)?;
            if let Some(hash) = &rehash {
                scope
                    .user_set_password_hash(user.id, hash, now)
                    .await
                    .map_err(Error::from)?;
            }
            let factor_due = scope
                .factors_of(&user.id.to_string())
                .await
                .map_err(Error::from)?
                .iter()
                .any(|f| f.confirmed);
            let lifetime = id.session_lifetime.as_secs() as i64;
            let (token, session) =
                sessions::create(&mut scope, &user, &["pwd"], ctx, now, lifetime).await?;
            let meta =
                json!({ "sid": session.sid, "amr": ["pwd"], "hash_upgraded": rehash.is_some() });
            events.push(event(Kind::LoginSucceeded, &user, meta));
            Ok(LoggedIn {
                token,
                sid: session.sid,
                user,
                factor_due,
            })
        }
        (_, user) => {
            let reason = reason_if_wrong;
            let mut meta = json!({ "reason": reason.as_str() });
            let target = match &user {
                Some(u) => format!("user:{}", u.id),
                None => format!(
                    "email:{}",
                    email.as_ref().map_or("(invalid)", |e| e.as_str())
                ),
            };
            if let (Some(u), Reason::WrongPassword) = (&user, reason) {
                let failure = tx
                    .scope(tenant)
                    .user_record_failure(
                        u.id,
                        now,
                        i64::from(id.lockout_threshold),
                        id.lockout_duration.as_secs() as i64,
                    )
                    .await
                    .map_err(Error::from)?;
                meta["failed_attempts"] = json!(failure.failed_attempts);
                if let Some(until) = failure.locked_until {
                    let meta = json!({ "locked_until": until, "failed_attempts": failure.failed_attempts });
                    events.push(event(Kind::AccountLocked, u, meta));
                }
            }
            events.insert(0, (Kind::LoginFailed, Some(target), meta));
            Err(Failed::BadCredentials)
        }
    };
    let mut recorded = Vec::with_capacity(events.len());
    for (kind, target, metadata) in events {
        recorded.push(
            audit::record(
                &mut tx,
                Event {
                    kind,
                    tenant: Some(tenant.id),
                    target,
                    metadata,
                    ctx,
                },
                now,
            )
            .await?,
        );
    }
    tx.commit().await.map_err(Error::from)?;
    recorded.into_iter().for_each(audit::Recorded::emit);
    result
}

fn event(
    kind: Kind,
    user: &User,
    meta: serde_json::Value,
) -> (Kind, Option<String>, serde_json::Value) {
    (kind, Some(format!("user:{}", user.id)), meta)
}
