//! Operator use cases behind the CLI (and later the admin API): tenants, users, bootstrap.
//! Every change is audited in its own transaction.

use serde_json::json;

use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::tenant::{PLATFORM, Slug, Status, Tenant};
use crate::domain::user::{Email, NewPassword, Profile, User};
use crate::store::users::NewUser;
use crate::store::{Holder, Revoked, TenantScope};

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};

pub fn parse_slug(s: &str) -> Result<Slug> {
    Slug::parse(s).map_err(|e| Error::Invalid(e.to_string()))
}

pub fn parse_email(s: &str) -> Result<Email> {
    Email::parse(s).map_err(|e| Error::Invalid(e.to_string()))
}

pub fn parse_password(s: &str) -> Result<NewPassword> {
    NewPassword::parse(s).map_err(|e| Error::Invalid(e.to_string()))
}

/// An active or disabled tenant by slug, or `NotFound`.
pub async fn tenant(app: &App, slug: &str) -> Result<Tenant> {
    let mut tx = app.store.read().await?;
    tx.tenant_by_slug(slug)
        .await?
        .ok_or(Error::NotFound("tenant"))
}

pub async fn tenant_create(
    app: &App,
    slug: &str,
    name: Option<&str>,
    ctx: &Context,
) -> Result<Tenant> {
    let slug = parse_slug(slug)?;
    if slug.is_platform() {
        return Err(Error::Invalid(format!(
            "tenant slug {PLATFORM:?} is reserved; use `opentrusty bootstrap`"
        )));
    }
    create_tenant(app, &slug, name, ctx).await
}

async fn create_tenant(
    app: &App,
    slug: &Slug,
    name: Option<&str>,
    ctx: &Context,
) -> Result<Tenant> {
    let display = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(slug.as_str());
    if display.chars().count() > 200 {
        return Err(Error::Invalid(
            "tenant name is too long: at most 200 characters".into(),
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let tenant = tx
        .tenant_insert(slug, display, now)
        .await
        .map_err(|e| match e {
            crate::store::Error::Conflict(_) => {
                Error::Conflict(format!("tenant \"{slug}\" already exists"))
            }
            other => other.into(),
        })?;
    let ev = Event {
        kind: Kind::TenantCreated,
        tenant: Some(tenant.id),
        target: Some(format!("tenant:{slug}")),
        metadata: json!({ "name": display }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    app.tenants.invalidate(slug.as_str());
    Ok(tenant)
}

pub async fn tenant_update(app: &App, slug: &str, name: &str, ctx: &Context) -> Result<Tenant> {
    let slug = parse_slug(slug)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::Invalid(
            "tenant name must be 1 to 200 characters".into(),
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let tenant = tx
        .tenant_by_slug(slug.as_str())
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    tx.tenant_set_name(&slug, name, now).await?;
    let meta = json!({ "name": { "from": tenant.display_name, "to": name } });
    let ev = Event {
        kind: Kind::TenantUpdated,
        tenant: Some(tenant.id),
        target: Some(format!("tenant:{slug}")),
        metadata: meta,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    // The login page shows the name: no node should serve the old one longer than its TTL.
    app.tenants.invalidate(slug.as_str());
    Ok(Tenant {
        display_name: name.to_owned(),
        updated_at: now,
        ..tenant
    })
}

pub async fn tenants_list(app: &App) -> Result<Vec<Tenant>> {
    let mut tx = app.store.read().await?;
    Ok(tx.tenants_list().await?)
}

/// Disables the tenant: its endpoints answer 404, and every session and token of it ends in
/// the same transaction, so enabling it again revives none of them.
pub async fn tenant_disable(app: &App, slug: &str, ctx: &Context) -> Result<Tenant> {
    set_tenant_status(app, slug, Status::Disabled, ctx).await
}

/// Enables a disabled tenant again. Its users and clients are as they were; their sessions
/// and tokens are not (they ended when it was disabled).
pub async fn tenant_enable(app: &App, slug: &str, ctx: &Context) -> Result<Tenant> {
    set_tenant_status(app, slug, Status::Active, ctx).await
}

async fn set_tenant_status(app: &App, slug: &str, status: Status, ctx: &Context) -> Result<Tenant> {
    let slug = parse_slug(slug)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let tenant = tx
        .tenant_by_slug(slug.as_str())
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    tx.tenant_set_status(&slug, status, now).await?;
    let kind = match status {
        Status::Disabled => Kind::TenantDisabled,
        Status::Active => Kind::TenantEnabled,
    };
    // Disabling ends everything. Enabling a disabled tenant ends it again: the only live
    // credentials then are ones a node minted while its tenant cache still saw the tenant
    // active (up to the cache's TTL after the disable), and they must not come back either.
    let metadata = if status == Status::Disabled || tenant.status == Status::Disabled {
        let mut scope = tx.scope(&tenant);
        let sessions = scope.sessions_delete_all().await?;
        let revoked = scope.holder_revoke(Holder::Tenant, now).await?;
        ended(Some(sessions), revoked)
    } else {
        json!({})
    };
    let ev = Event {
        kind,
        tenant: Some(tenant.id),
        target: Some(format!("tenant:{slug}")),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    app.tenants.invalidate(slug.as_str());
    Ok(Tenant {
        status,
        updated_at: now,
        ..tenant
    })
}

/// Audit metadata for ended credentials (`sessions`: None where there are none, a client).
pub(super) fn ended(sessions: Option<u64>, r: Revoked) -> serde_json::Value {
    let mut v = json!({
        "refresh_tokens_revoked": r.refresh_tokens,
        "access_tokens_revoked": r.access_tokens,
        "codes_deleted": r.codes,
    });
    if let Some(n) = sessions {
        v["sessions_ended"] = json!(n);
    }
    v
}

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
    let ev = Event {
        kind: Kind::UserCreated,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "email": email.as_str(), "has_password": hash.is_some() }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(user)
}

pub async fn users_list(app: &App, tenant: &Tenant) -> Result<Vec<User>> {
    let mut tx = app.store.read().await?;
    Ok(tx.scope(tenant).users_list().await?)
}

pub(super) async fn find_user(app: &App, tenant: &Tenant, email: &str) -> Result<User> {
    let email = parse_email(email)?;
    let mut tx = app.store.read().await?;
    tx.scope(tenant)
        .user_by_email(&email)
        .await?
        .ok_or(Error::NotFound("user"))
}

pub async fn user_unlock(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    tx.scope(tenant).user_unlock(user.id, now).await?;
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
    Ok(user)
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

pub async fn user_update(
    app: &App,
    tenant: &Tenant,
    email: &str,
    patch: ProfilePatch,
    ctx: &Context,
) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
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
        if value.chars().count() > 500 {
            return Err(Error::Invalid(format!(
                "{field} is too long: at most 500 characters"
            )));
        }
        if field == "picture" && !value.is_empty() && !value.starts_with("https://") {
            return Err(Error::Invalid("picture must be an https:// URL".into()));
        }
        *slot = (!value.is_empty()).then_some(value);
        changed.push(field);
    }
    let email_verified = patch.email_verified.unwrap_or(user.email_verified);
    if patch.email_verified.is_some() {
        changed.push("email_verified");
    }
    if changed.is_empty() {
        return Err(Error::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    tx.scope(tenant)
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

/// Sets a new password. Everything the old one opened ends in the same transaction: the
/// user's sessions, refresh-token families, access tokens and unredeemed codes.
pub async fn user_set_password(
    app: &App,
    tenant: &Tenant,
    email: &str,
    password: &str,
    ctx: &Context,
) -> Result<User> {
    let password = parse_password(password)?;
    let user = find_user(app, tenant, email).await?;
    let hash = app.hasher.hash(password.expose().to_owned()).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    scope.user_set_password_hash(user.id, &hash, now).await?;
    let metadata = end_user_credentials(&mut scope, &user, now).await?;
    let ev = Event {
        kind: Kind::PasswordChanged,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(user)
}

/// Disables the user and, in the same transaction, ends every session, token and code.
pub async fn user_disable(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<User> {
    let user = find_user(app, tenant, email).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    super::roles::keep_an_owner(&mut scope, &user).await?;
    scope
        .user_set_status(user.id, Status::Disabled, now)
        .await?;
    let metadata = end_user_credentials(&mut scope, &user, now).await?;
    let ev = Event {
        kind: Kind::UserDisabled,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok(User {
        status: Status::Disabled,
        ..user
    })
}

/// Erases the user: the row with its personal data, and with it (foreign keys) its sessions,
/// codes, tokens and consents, in one transaction. The audit event names the user by id
/// only. The management API calls this too.
pub async fn user_delete(app: &App, tenant: &Tenant, email: &str, ctx: &Context) -> Result<UserId> {
    let user = find_user(app, tenant, email).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    super::roles::keep_an_owner(&mut scope, &user).await?;
    // Counted first for the audit trail; the delete then takes the rows away.
    let mut metadata = end_user_credentials(&mut scope, &user, now).await?;
    scope.user_delete(user.id).await?;
    metadata["audit_events_redacted"] = json!(scope.user_audit_redact(user.id).await?);
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

async fn end_user_credentials(
    scope: &mut TenantScope<'_>,
    user: &User,
    now: crate::clock::UnixTime,
) -> Result<serde_json::Value> {
    let sessions = scope.sessions_delete_for_user(user.id).await?;
    let id = user.id.to_string();
    let revoked = scope.holder_revoke(Holder::User(&id), now).await?;
    Ok(ended(Some(sessions), revoked))
}

/// Creates the `platform` tenant (if missing) and its first administrator. Refuses when the
/// platform tenant already has a user.
pub async fn bootstrap(
    app: &App,
    email: &str,
    password: &str,
    ctx: &Context,
) -> Result<(Tenant, User)> {
    let slug = Slug::parse(PLATFORM).map_err(|e| Error::Internal(e.to_string()))?;
    let tenant = match tenant(app, PLATFORM).await {
        Ok(t) => t,
        Err(Error::NotFound(_)) => create_tenant(app, &slug, Some("Platform"), ctx).await?,
        Err(e) => return Err(e),
    };
    if !users_list(app, &tenant).await?.is_empty() {
        return Err(Error::Conflict(
            "a platform administrator already exists; bootstrap runs only once".into(),
        ));
    }
    let profile = Profile {
        name: Some("Platform administrator".into()),
        ..Profile::default()
    };
    let user = user_create(
        app,
        &tenant,
        UserInput {
            email,
            password: Some(password),
            profile,
            email_verified: true,
        },
        ctx,
    )
    .await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    // The first platform user owns the installation (issue 10: platform roles).
    tx.scope(&tenant)
        .role_set(user.id, Some(Role::Owner.as_str()), now)
        .await?;
    let ev = Event {
        kind: Kind::Bootstrap,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "email": user.email.as_str(), "role": Role::Owner.as_str() }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok((tenant, user))
}
