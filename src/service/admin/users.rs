//! User use cases of operators and the management API: create, list, unlock, update, set
//! a password, disable or enable, delete. Each change exists by id (what the API names) with
//! its rules, and by email (what the CLI names) as a lookup in front of it, so no rule lives
//! twice. Every change is audited in its own transaction.

use serde_json::json;

use super::{ended, parse_email, parse_password};
use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::tenant::{Status, Tenant};
use crate::domain::user::{NewPassword, Profile, User};
use crate::service::audit::{self, Event, Kind};
use crate::service::verify;
use crate::service::{Context, Error, Result};
use crate::service::{api_tokens, links};
use crate::store::users::NewUser;
use crate::store::{Holder, TenantScope};

/// Input for a new user.
pub struct UserInput<'a> {
    pub email: &'a str,
    pub password: Option<&'a str>,
    pub profile: Profile,
    pub email_verified: bool,
}

pub async fn user_create(
    app: &App,
    tenant: &Tenant,
    input: UserInput<'_>,
    ctx: &Context,
) -> Result<User> {
    let email = parse_email(input.email)?;
    let password = input.password.map(parse_password).transpose()?;
    let p = &input.profile;
    for (field, value) in [
        ("given_name", &p.given_name),
        ("family_name", &p.family_name),
        ("name", &p.name),
        ("nickname", &p.nickname),
        ("picture", &p.picture),
        ("locale", &p.locale),
        ("zoneinfo", &p.zoneinfo),
    ] {
        if let Some(v) = value {
            check_claim(field, v)?;
        }
    }
    let hash = match password {
        Some(p) => Some(app.hasher.hash(p.expose().to_owned()).await?),
        None => None,
    };
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let new = NewUser {
        email: &email,
        email_verified: input.email_verified,
        password_hash: hash.as_deref(),
        profile: &input.profile,
    };
    let user = tx
        .scope(tenant)
        .user_insert(&new, now)
        .await
        .map_err(|e| match e {
            crate::store::Error::Conflict(_) => Error::Conflict(format!(
                "a user with email {email} already exists in tenant {}",
                tenant.slug
            )),
            other => other.into(),
        })?;
    // An unverified address gets its verification mail in the same transaction (issue 13).
    let mailed = verify::wanted_on_create(app, input.email_verified, hash.is_some());
    if mailed {
        let mut scope = tx.scope(tenant);
        verify::queue_mail(app, &mut scope, tenant, &user, &email, false, now).await?;
    }
    let meta = json!({ "email": email.as_str(), "has_password": hash.is_some(),
        "verification_mail": mailed });
    let ev = Event {
        kind: Kind::UserCreated,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: meta,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    if mailed {
        crate::service::mail::wake(app);
    }
    Ok(user)
}

pub async fn users_list(app: &App, tenant: &Tenant) -> Result<Vec<User>> {
    let mut tx = app.store.read().await?;
    Ok(tx.scope(tenant).users_list().await?)
}

pub(crate) async fn find_user(app: &App, tenant: &Tenant, email: &str) -> Result<User> {
    let email = parse_email(email)?;
    let mut tx = app.store.read().await?;
    tx.scope(tenant)
        .user_by_email(&email)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// Who a change is made for, for the rule that nobody takes over or removes a user whose
/// role is above their own: the management API passes its caller's role; `None` is an
/// operator at the host (the CLI), who is not limited.
pub type Ceiling = Option<Role>;

/// The user `id` inside the change's transaction (`NotFound` in this tenant), checked
/// against `ceiling` when the change could take over or remove the account.
async fn load(scope: &mut TenantScope<'_>, id: UserId, ceiling: Ceiling) -> Result<User> {
    let user = scope.user_by_id(id).await?.ok_or(Error::NotFound("user"))?;
    crate::service::roles::within_reach(scope, &user, ceiling).await?;
    Ok(user)
}

pub async fn user_unlock(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    user_unlock_id(app, tenant, user.id, ctx).await
}

/// Clears the failure count and any lock (unlocking takes nothing over: no ceiling).
pub async fn user_unlock_id(app: &App, tenant: &Tenant, id: UserId, ctx: &Context) -> Result<User> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = load(&mut scope, id, None).await?;
    scope.user_unlock(user.id, now).await?;
    let meta =
        json!({ "failed_attempts": user.failed_attempts, "was_locked": user.is_locked(now) });
    let ev = Event {
        kind: Kind::AccountUnlocked,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: meta,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(User {
        failed_attempts: 0,
        locked_until: None,
        updated_at: now,
        ..user
    })
}

/// Changes to a user's claims; `None` leaves a field as it is, `Some("")` clears it.
#[derive(Default)]
pub struct ProfilePatch {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
    pub email_verified: Option<bool>,
}

/// The rules of a profile claim (422 naming the field): at most 500 characters, no control
/// characters (PostgreSQL cannot store NUL; none belongs in a name), `picture` an https URL.
pub fn check_claim(field: &str, value: &str) -> Result<()> {
    let value = value.trim();
    if value.chars().count() > 500 {
        return Err(Error::Invalid(format!(
            "{field} is too long: at most 500 characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    if field == "picture" && !value.is_empty() && !value.starts_with("https://") {
        return Err(Error::Invalid("picture must be an https:// URL".into()));
    }
    Ok(())
}

impl ProfilePatch {
    pub fn is_empty(&self) -> bool {
        self.email_verified.is_none() && self.claims().iter().all(|(_, v)| v.is_none())
    }

    fn claims(&self) -> [(&'static str, &Option<String>); 7] {
        [
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("name", &self.name),
            ("nickname", &self.nickname),
            ("picture", &self.picture),
            ("locale", &self.locale),
            ("zoneinfo", &self.zoneinfo),
        ]
    }

    /// The field rules (422 naming the field), checked before anything changes.
    pub fn check(&self) -> Result<()> {
        for (field, value) in self.claims() {
            if let Some(v) = value {
                check_claim(field, v)?;
            }
        }
        if self.is_empty() {
            return Err(Error::Invalid(
                "nothing to change: give at least one field".into(),
            ));
        }
        Ok(())
    }
}

pub async fn user_update(
    app: &App,
    tenant: &Tenant,
    email: &str,
    patch: ProfilePatch,
    ctx: &Context,
) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    user_update_id(app, tenant, user.id, patch, ctx).await
}

pub async fn user_update_id(
    app: &App,
    tenant: &Tenant,
    id: UserId,
    patch: ProfilePatch,
    ctx: &Context,
) -> Result<User> {
    patch.check()?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = load(&mut scope, id, None).await?;
    let mut profile = user.profile.clone();
    let mut changed = Vec::new();
    let fields: [(&str, Option<String>, &mut Option<String>); 7] = [
        ("given_name", patch.given_name, &mut profile.given_name),
        ("family_name", patch.family_name, &mut profile.family_name),
        ("name", patch.name, &mut profile.name),
        ("nickname", patch.nickname, &mut profile.nickname),
        ("picture", patch.picture, &mut profile.picture),
        ("locale", patch.locale, &mut profile.locale),
        ("zoneinfo", patch.zoneinfo, &mut profile.zoneinfo),
    ];
    for (field, new, slot) in fields {
        let Some(value) = new else { continue };
        let value = value.trim().to_owned();
        *slot = (!value.is_empty()).then_some(value);
        changed.push(field);
    }
    let email_verified = patch.email_verified.unwrap_or(user.email_verified);
    if patch.email_verified.is_some() {
        changed.push("email_verified");
    }
    scope
        .user_set_profile(user.id, &profile, email_verified, now)
        .await?;
    let ev = Event {
        kind: Kind::UserUpdated,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "fields": changed }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(User {
        profile,
        email_verified,
        updated_at: now,
        ..user
    })
}

pub async fn user_set_password(
    app: &App,
    tenant: &Tenant,
    email: &str,
    password: &str,
    ctx: &Context,
) -> Result<User> {
    let password = parse_password(password)?;
    let user = find_user(app, tenant, email).await?;
    user_set_password_id(app, tenant, user.id, &password, None, ctx).await
}

/// Sets a new password. Everything the old one opened ends in the same transaction: the
/// user's sessions, refresh-token families, access tokens and unredeemed codes.
pub async fn user_set_password_id(
    app: &App,
    tenant: &Tenant,
    id: UserId,
    password: &NewPassword,
    ceiling: Ceiling,
    ctx: &Context,
) -> Result<User> {
    // Cheap checks before the Argon2 cost; they are repeated inside the transaction.
    {
        let mut tx = app.store.read().await?;
        load(&mut tx.scope(tenant), id, ceiling).await?;
    }
    let hash = app.hasher.hash(password.expose().to_owned()).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = load(&mut scope, id, ceiling).await?;
    scope.user_set_password_hash(user.id, &hash, now).await?;
    let mut metadata = end_user_credentials(&mut scope, &user, now).await?;
    let retired = links::retire(&mut scope, user.id, links::SET_PASSWORD, now).await?;
    metadata["links_retired"] = json!(retired);
    let ev = Event {
        kind: Kind::PasswordChanged,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(User {
        updated_at: now,
        ..user
    })
}

/// Disables the user and, in the same transaction, ends every session, token and code.
pub async fn user_disable(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    user_set_status_id(app, tenant, user.id, Status::Disabled, None, ctx).await
}

/// Enables a disabled user again (its ended sessions and tokens stay ended).
pub async fn user_enable(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    user_set_status_id(app, tenant, user.id, Status::Active, None, ctx).await
}

/// Disables (ending every session, token and code in the same transaction; never the last
/// active owner) or enables the user.
pub async fn user_set_status_id(
    app: &App,
    tenant: &Tenant,
    id: UserId,
    status: Status,
    ceiling: Ceiling,
    ctx: &Context,
) -> Result<User> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = load(&mut scope, id, ceiling).await?;
    let (kind, metadata) = match status {
        Status::Disabled => {
            crate::service::roles::keep_an_owner(&mut scope, &user).await?;
            scope.user_set_status(user.id, status, now).await?;
            let mut ended = end_user_credentials(&mut scope, &user, now).await?;
            let revoked = api_tokens::revoke_minted(&mut tx, tenant, user.id, None, now).await?;
            ended["api_tokens_revoked"] = json!(revoked);
            (Kind::UserDisabled, ended)
        }
        Status::Active => {
            scope.user_set_status(user.id, status, now).await?;
            (Kind::UserEnabled, json!({}))
        }
    };
    let ev = Event {
        kind,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(User {
        status,
        updated_at: now,
        ..user
    })
}

pub async fn user_delete(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<UserId> {
    let user = find_user(app, tenant, email).await?;
    user_delete_id(app, tenant, user.id, None, ctx).await
}

/// Erases the user: the row with its personal data, and with it (foreign keys) its sessions,
/// codes, tokens and consents, in one transaction. The audit event names the user by id
/// only, and earlier events about the user lose the email they recorded.
pub async fn user_delete_id(
    app: &App,
    tenant: &Tenant,
    id: UserId,
    ceiling: Ceiling,
    ctx: &Context,
) -> Result<UserId> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = load(&mut scope, id, ceiling).await?;
    crate::service::roles::keep_an_owner(&mut scope, &user).await?;
    let metadata = erase(&mut tx, tenant, &user, now).await?;
    let ev = Event {
        kind: Kind::UserDeleted,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(user.id)
}

/// The erasure itself, in the caller's transaction (which records the `user.deleted` event
/// with the returned counts): credentials ended, the row deleted (its sessions, codes, tokens
/// and consents with it), the email taken out of earlier events, the API tokens it minted
/// revoked.
pub(crate) async fn erase(
    tx: &mut crate::store::Tx,
    tenant: &Tenant,
    user: &User,
    now: crate::clock::UnixTime,
) -> Result<serde_json::Value> {
    let mut scope = tx.scope(tenant);
    // Counted first for the audit trail; the delete then takes the rows away.
    let mut metadata = end_user_credentials(&mut scope, user, now).await?;
    scope.user_delete(user.id).await?;
    metadata["audit_events_redacted"] = json!(scope.user_audit_redact(user.id).await?);
    metadata["api_tokens_revoked"] =
        json!(api_tokens::revoke_minted(tx, tenant, user.id, None, now).await?);
    Ok(metadata)
}

/// Ends everything a user's password opened: sessions, refresh-token families, access tokens
/// and unredeemed codes (also the reset and invitation links' last step, `service::reset`).
pub(crate) async fn end_user_credentials(
    scope: &mut TenantScope<'_>,
    user: &User,
    now: crate::clock::UnixTime,
) -> Result<serde_json::Value> {
    let sessions = scope.sessions_delete_for_user(user.id).await?;
    let id = user.id.to_string();
    let revoked = scope.holder_revoke(Holder::User(&id), now).await?;
    Ok(ended(Some(sessions), revoked))
}
