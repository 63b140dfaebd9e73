//! Management roles: granting and removing them, and the rule that a tenant always keeps at
//! least one active owner (removing, disabling or deleting the last one is a conflict).
//! Operators grant through the CLI, by email; the management API by id, with its callers
//! limited to roles no higher than their own (`Role::may_grant`).

use serde_json::json;

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result, admin};
use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::scope::TenantScope;

/// Gives `email` the role `role` in `tenant` (`None` removes any role). Audited.
pub async fn set_role(
    app: &App,
    tenant: &Tenant,
    email: &str,
    role: Option<Role>,
    ctx: &Context,
) -> Result<(User, Option<Role>)> {
    let user = admin::find_user(app, tenant, email).await?;
    set_role_id(app, tenant, user.id, role, None, ctx).await
}

/// Gives the user `id` the role `role` (`None` removes any role), in one audited
/// transaction. With a `ceiling` (the management API's caller), neither the new role nor the
/// user's present one may be above it: nobody grants, or takes away, more than they hold.
pub async fn set_role_id(
    app: &App,
    tenant: &Tenant,
    id: UserId,
    role: Option<Role>,
    ceiling: Option<Role>,
    ctx: &Context,
) -> Result<(User, Option<Role>)> {
    if let (Some(c), Some(r)) = (ceiling, role)
        && !c.may_grant(r)
    {
        return Err(Error::Forbidden(format!(
            "the {c} role may not grant the {r} role: nobody grants a role above their own"
        )));
    }
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let user = scope.user_by_id(id).await?.ok_or(Error::NotFound("user"))?;
    within_reach(&mut scope, &user, ceiling).await?;
    let before = if role == Some(Role::Owner) {
        scope.role_get(user.id).await?
    } else {
        keep_an_owner(&mut scope, &user).await?
    };
    scope.role_set(user.id, role.map(Role::as_str), now).await?;
    let revoked = super::api_tokens::revoke_minted(&mut tx, tenant, user.id, role, now).await?;
    let ev = Event {
        kind: Kind::UserRoleChanged,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({
            "from": before,
            "to": role.map(Role::as_str),
            "api_tokens_revoked": revoked,
        }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok((user, role))
}

/// Refuses (403) a change that could take over or remove `user` (a password, disabling,
/// deleting, its role) when the user's role is above `ceiling`, the caller's own: an admin
/// who could set an owner's password could act as that owner. `None`: an operator at the
/// host, not limited.
pub(crate) async fn within_reach(
    scope: &mut TenantScope<'_>,
    user: &User,
    ceiling: Option<Role>,
) -> Result<()> {
    let Some(ceiling) = ceiling else {
        return Ok(());
    };
    let held = scope.role_get(user.id).await?;
    match held.as_deref().and_then(Role::parse) {
        Some(r) if r > ceiling => Err(Error::Forbidden(format!(
            "the user holds the {r} role, above the caller's {ceiling} role"
        ))),
        _ => Ok(()),
    }
}

/// The user's role in `tenant`.
pub async fn role_of(app: &App, tenant: &Tenant, user: &User) -> Result<Option<Role>> {
    let mut tx = app.store.read().await?;
    let stored = tx.scope(tenant).role_get(user.id).await?;
    Ok(stored.as_deref().and_then(Role::parse))
}

/// Refuses (409) when `user` is an active owner and no other active owner would remain: a
/// tenant is never left without someone who may grant roles. Returns the user's stored role. Runs inside the change's own
/// transaction, so two concurrent demotions cannot both pass: SQLite has a single writer, and
/// on PostgreSQL the count first locks the tenant's owner rows (`owners_other_than`).
pub(crate) async fn keep_an_owner(
    scope: &mut TenantScope<'_>,
    user: &User,
) -> Result<Option<String>> {
    let role = scope.role_get(user.id).await?;
    if role.as_deref() == Some(Role::Owner.as_str())
        && user.is_active()
        && scope.owners_other_than(user.id).await? == 0
    {
        return Err(Error::Conflict(
            "this is the tenant's last owner: give another user the owner role first".into(),
        ));
    }
    Ok(role)
}
