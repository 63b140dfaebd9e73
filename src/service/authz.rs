//! Who calls the management API, and the proof that they may do what they ask.
//!
//! A [`Principal`] is an authenticated caller: a user acting with their role (through an
//! access token of their tenant's OpenID Provider that carries [`ADMIN_SCOPE`]), an API token,
//! or an operator at the host (the admin socket's peer credentials). Every management use case
//! takes an [`Authorized`] (one tenant) or a [`PlatformAuthorized`] (the installation): values
//! that only [`authorize`] and [`authorize_platform`] construct, after checking the caller's
//! scope and permission. A handler that skips the check has nothing to pass, so it does not
//! compile. Outside its scope a caller is told "not found" (DESIGN §3); inside it, a missing
//! permission is `Forbidden`.

use std::marker::PhantomData;
use std::time::Duration;

use super::{Context, Error, Result, api_tokens};
use crate::app::App;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::role::{Permission, Role};
use crate::domain::scope::Scope;
use crate::domain::tenant::Tenant;
use crate::protocol::{limits, secret};

/// The scope a client must be registered for, and granted, for its access tokens to reach
/// the management API.
pub const ADMIN_SCOPE: &str = "opentrusty:admin";

/// What a caller is, for `whoami` and the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user of `home`, through an access token of `home`'s OpenID Provider.
    User { id: UserId, email: String },
    /// An API token (its id and name).
    Token { id: String, name: String },
    /// An operator at the host, by the unix user name of the admin socket's peer.
    Local { user: String },
}

/// An authenticated management caller: who, where their role is held, and which role.
#[derive(Clone, Debug)]
pub struct Principal {
    actor: Actor,
    /// The tenant the role is held in; `None` for a local operator (the platform itself).
    home: Option<Tenant>,
    platform: bool,
    role: Role,
}

impl Principal {
    /// An operator at the host: root or a member of the `opentrusty` group, as the admin
    /// socket's `SO_PEERCRED` proved. Acts as an owner of `platform`.
    pub fn local_operator(user: &str) -> Principal {
        Principal {
            actor: Actor::Local {
                user: user.chars().take(64).collect(),
            },
            home: None,
            platform: true,
            role: Role::Owner,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the role is held on the whole installation (a `platform` user or token).
    pub fn is_platform(&self) -> bool {
        self.platform
    }

    /// The tenant the role is held in (`None` for a local operator).
    pub fn home(&self) -> Option<&Tenant> {
        self.home.as_ref()
    }

    /// The permissions this caller holds, in its own scope.
    pub fn permissions(&self) -> impl Iterator<Item = Permission> {
        self.role.permissions_in(self.platform)
    }

    /// How the audit trail names this caller. A platform caller acting in another tenant is
    /// named with its platform identity (`platform/user:<id>`), so the tenant sees who it was.
    fn audit_name(&self, acting_in: Option<TenantId>) -> String {
        let own = match &self.actor {
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Token { id, .. } => format!("api_token:{id}"),
            Actor::Local { user } => return format!("local:{user}"),
        };
        match (&self.home, acting_in) {
            (Some(home), Some(t)) if self.platform && home.id != t => format!("platform/{own}"),
            _ => own,
        }
    }
}

/// A permission as a type, so a use case's signature says which one it needs
/// (`&Authorized<UsersWrite>`): passing a proof of another permission does not compile.
pub trait Grant {
    const PERMISSION: Permission;
}

macro_rules! grants {
    ($($name:ident),* $(,)?) => {
        /// The permissions as types (see [`Grant`]).
        pub mod grant {
            use crate::domain::role::Permission;
            $(
                #[derive(Debug)]
                pub struct $name;
                impl super::Grant for $name {
                    const PERMISSION: Permission = Permission::$name;
                }
            )*
        }
    };
}

grants!(
    UsersRead,
    UsersWrite,
    ClientsRead,
    ClientsWrite,
    KeysRead,
    KeysWrite,
    SessionsRead,
    SessionsWrite,
    ConsentsRead,
    ConsentsWrite,
    AuditRead,
    RolesWrite,
    ApiTokensWrite,
    TenantRead,
    TenantWrite,
    TenantsRead,
    TenantsManage,
);

/// Proof that the caller may use permission `G` on `tenant`. Only [`authorize`] makes one.
#[derive(Debug)]
pub struct Authorized<G: Grant> {
    principal: Principal,
    tenant: Tenant,
    ctx: Context,
    grant: PhantomData<G>,
}

impl<G: Grant> Authorized<G> {
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn permission(&self) -> Permission {
        G::PERMISSION
    }

    /// The audit context of the change: the request's, with the caller as actor.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The role the caller holds here (the ceiling for roles and tokens it grants).
    pub fn role(&self) -> Role {
        self.principal.role
    }
}

/// Proof that a platform caller may use permission `G` on the installation (tenants, the
/// audit trail of every tenant). Only [`authorize_platform`] makes one.
#[derive(Debug)]
pub struct PlatformAuthorized<G: Grant> {
    principal: Principal,
    ctx: Context,
    grant: PhantomData<G>,
}

impl<G: Grant> PlatformAuthorized<G> {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn permission(&self) -> Permission {
        G::PERMISSION
    }

    pub fn ctx(&self) -> &Context {
        &self.ctx
    }
}

/// Checks that `principal` may use permission `G` on the tenant `slug`, any status (a
/// platform caller may manage a disabled tenant). An unknown slug and another tenant's are
/// both "not found"; so is everything inside another tenant, since this is the only door.
pub async fn authorize_slug<G: Grant>(
    app: &App,
    principal: &Principal,
    slug: &str,
    ctx: &Context,
) -> Result<Authorized<G>> {
    // Through the tenant cache, which bounds the slug before any lookup (a malformed one is as
    // unknown as a missing one) and is kept fresh across nodes (`service::invalidate`).
    let tenant = app.tenants.get(&app.store, slug).await?;
    authorize(principal, tenant, ctx)
}

/// Checks that `principal` may use permission `G` on `tenant` (`None`: no tenant by the name
/// asked for). Another tenant's objects are "not found", exactly like missing ones.
pub fn authorize<G: Grant>(
    principal: &Principal,
    tenant: Option<Tenant>,
    ctx: &Context,
) -> Result<Authorized<G>> {
    let permission = G::PERMISSION;
    let Some(tenant) = tenant else {
        return Err(Error::NotFound("tenant"));
    };
    let in_scope = principal.platform || principal.home.as_ref().is_some_and(|h| h.id == tenant.id);
    if !in_scope {
        return Err(Error::NotFound("tenant"));
    }
    if !principal.role.has_in(permission, principal.platform) {
        return Err(denied(principal, permission));
    }
    let ctx = Context {
        actor: Some(principal.audit_name(Some(tenant.id))),
        // The API's requests say nothing; the offline CLI says `cli`.
        via: ctx.via.or(Some("api")),
        ..ctx.clone()
    };
    Ok(Authorized {
        principal: principal.clone(),
        tenant,
        ctx,
        grant: PhantomData,
    })
}

/// Checks that `principal` holds `permission` on the whole installation. A tenant's caller
/// gets `Forbidden`: the tenant endpoints exist for it, and it may not use them.
pub fn authorize_platform<G: Grant>(
    principal: &Principal,
    ctx: &Context,
) -> Result<PlatformAuthorized<G>> {
    let permission = G::PERMISSION;
    if !principal.platform || !principal.role.has_in(permission, true) {
        return Err(denied(principal, permission));
    }
    let ctx = Context {
        actor: Some(principal.audit_name(None)),
        // The API's requests say nothing; the offline CLI says `cli`.
        via: ctx.via.or(Some("api")),
        ..ctx.clone()
    };
    Ok(PlatformAuthorized {
        principal: principal.clone(),
        ctx,
        grant: PhantomData,
    })
}

fn denied(principal: &Principal, p: Permission) -> Error {
    Error::Forbidden(format!(
        "the {} role{} does not grant {}",
        principal.role,
        if principal.platform {
            " on the platform"
        } else {
            ""
        },
        p.as_str()
    ))
}

/// The caller behind a bearer credential, or `None` when it is not a live credential that
/// may manage anything (unknown, expired, revoked, of a disabled tenant, client or user,
/// without [`ADMIN_SCOPE`], or of a user who holds no role). The API answers all alike (401).
pub async fn authenticate(app: &App, bearer: &str) -> Result<Option<Principal>> {
    if bearer.starts_with(api_tokens::PREFIX) {
        return by_api_token(app, bearer).await;
    }
    by_access_token(app, bearer).await
}

async fn by_api_token(app: &App, bearer: &str) -> Result<Option<Principal>> {
    // The tenant comes with the token, in one statement (no second read per request).
    let Some((caller, home)) = api_tokens::authenticate_with_tenant(app, bearer).await? else {
        return Ok(None);
    };
    // A token of a disabled tenant is dead while the tenant is (its rows remain).
    if !home.is_active() {
        return Ok(None);
    }
    Ok(Some(Principal {
        actor: Actor::Token {
            id: caller.token_id,
            name: caller.name,
        },
        platform: home.slug.is_platform(),
        home: Some(home),
        role: caller.role,
    }))
}

async fn by_access_token(app: &App, bearer: &str) -> Result<Option<Principal>> {
    if bearer.len() > limits::TOKEN {
        return Ok(None);
    }
    let now = app.clock.now();
    let hash = secret::hash(bearer);
    let mut tx = app.store.read().await?;
    let Some(tenant_id) = tx.access_token_tenant(&hash).await? else {
        return Ok(None);
    };
    let Some(home) = tx.tenant_by_id(&tenant_id).await?.filter(Tenant::is_active) else {
        return Ok(None);
    };
    let mut scope = tx.scope(&home);
    let Some((at, holders_active)) = scope.access_with_holders(&hash).await? else {
        return Ok(None);
    };
    if !holders_active || at.revoked_at.is_some() || at.expires_at <= now {
        return Ok(None);
    }
    // Granted only to clients registered for it: the authorization and token endpoints grant
    // no scope outside a client's registration.
    if !Scope::parse(&at.scope).is_ok_and(|s| s.contains(ADMIN_SCOPE)) {
        return Ok(None);
    }
    let Some(user_id) = at.user_id.and_then(|u| u.parse::<UserId>().ok()) else {
        return Ok(None); // client_credentials: no user, no role
    };
    let Some(user) = scope.user_by_id(user_id).await?.filter(|u| u.is_active()) else {
        return Ok(None);
    };
    // Read now, not at issuance: a removed role ends access on the next request.
    let role = scope.role_get(user_id).await?;
    let Some(role) = role.as_deref().and_then(Role::parse) else {
        return Ok(None);
    };
    Ok(Some(Principal {
        actor: Actor::User {
            id: user_id,
            email: user.email.as_str().to_owned(),
        },
        platform: home.slug.is_platform(),
        home: Some(home),
        role,
    }))
}

/// How long a client IP must wait before it may try again, when it failed too often.
pub fn throttled(app: &App, ip_key: &str) -> Option<Duration> {
    app.login_limits.api_failures.exhausted(ip_key)
}

/// Counts a failed authentication of `ip_key`.
pub fn failed(app: &App, ip_key: &str) {
    let _ = app.login_limits.api_failures.check(ip_key);
}
