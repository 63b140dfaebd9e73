//! Operator use cases behind the CLI and the management API: tenants, users, bootstrap.
//! Every change is audited in its own transaction. User changes exist by id (what the API
//! names) with the rules, and by email (what the CLI names) as a lookup in front of them.

use serde_json::json;

use crate::app::App;
use crate::domain::role::Role;
use crate::domain::tenant::{MfaPolicy, PLATFORM, Registration, Slug, Status, Tenant};
use crate::domain::user::{Email, NewPassword, Profile, User};
use crate::store::{Holder, Revoked};

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result};

mod users;
pub use users::*;

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
    // Every tenant has the admin console's built-in client (issue 11), from its creation on.
    super::console::add_to_new_tenant(app, &mut tx, &tenant, now).await?;
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

/// Sets the tenant's second-factor policy (`required`: a user without a factor enrols one at
/// the next login, before any code is issued). Audited as `tenant.updated` naming the field.
pub async fn tenant_set_mfa(
    app: &App,
    slug: &str,
    policy: MfaPolicy,
    ctx: &Context,
) -> Result<Tenant> {
    let slug = parse_slug(slug)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let tenant = tx
        .tenant_by_slug(slug.as_str())
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    // The policy it already has is no change: nothing written, nothing audited.
    if tenant.mfa == policy {
        return Ok(tenant);
    }
    tx.tenant_set_mfa(&slug, policy, now).await?;
    let meta = json!({ "mfa": { "from": tenant.mfa.as_str(), "to": policy.as_str() } });
    let ev = Event {
        kind: Kind::TenantUpdated,
        tenant: Some(tenant.id),
        target: Some(format!("tenant:{slug}")),
        metadata: meta,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    // Every login of the tenant reads the policy from the cache: drop the old one here (other
    // nodes drop theirs on the notification `tenant_set_mfa` sends).
    app.tenants.invalidate(slug.as_str());
    Ok(Tenant {
        mfa: policy,
        updated_at: now,
        ..tenant
    })
}

/// A policy from an operator's or a request's words (422 naming the field otherwise).
pub fn parse_mfa(s: &str) -> Result<MfaPolicy> {
    MfaPolicy::parse(s).ok_or_else(|| {
        Error::Invalid(format!(
            "mfa must be \"optional\" or \"required\", not {:?}",
            s.chars().take(40).collect::<String>()
        ))
    })
}

/// Opens or closes self-registration at `{issuer}/register` (issue 13). Audited as
/// `tenant.updated` naming the field; the setting it already has is no change.
pub async fn tenant_set_registration(
    app: &App,
    slug: &str,
    registration: Registration,
    ctx: &Context,
) -> Result<Tenant> {
    let slug = parse_slug(slug)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let tenant = tx
        .tenant_by_slug(slug.as_str())
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    if tenant.registration == registration {
        return Ok(tenant);
    }
    tx.tenant_set_registration(&slug, registration, now).await?;
    let meta = json!({ "registration": {
        "from": tenant.registration.as_str(), "to": registration.as_str() } });
    let ev = Event {
        kind: Kind::TenantUpdated,
        tenant: Some(tenant.id),
        target: Some(format!("tenant:{slug}")),
        metadata: meta,
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    // The sign-up page reads the setting from the tenant cache.
    app.tenants.invalidate(slug.as_str());
    Ok(Tenant {
        registration,
        updated_at: now,
        ..tenant
    })
}

/// A registration setting from an operator's or a request's words (422 naming the field).
pub fn parse_registration(s: &str) -> Result<Registration> {
    Registration::parse(s).ok_or_else(|| {
        Error::Invalid(format!(
            "registration must be \"open\" or \"closed\", not {:?}",
            s.chars().take(40).collect::<String>()
        ))
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
