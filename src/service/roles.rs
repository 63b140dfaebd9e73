//! Management roles: granting and removing them, and the rule that a tenant always keeps at
//! least one active owner (removing, disabling or deleting the last one is a conflict).
//! Operators grant through the CLI; the management API will call the same functions, with
//! its callers limited to roles no higher than their own (`Role::may_grant`).

use serde_json::json;

use super::audit::{self, Event, Kind};
use super::{Context, Error, Result, admin};
use crate::app::App;
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
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut scope = tx.scope(tenant);
    let before = if role == Some(Role::Owner) {
        scope.role_get(user.id).await?
    } else {
        keep_an_owner(&mut scope, &user).await?
    };
    scope.role_set(user.id, role.map(Role::as_str), now).await?;
    let ev = Event {
        kind: Kind::UserRoleChanged,
        tenant: Some(tenant.id),
        target: Some(format!("user:{}", user.id)),
        metadata: json!({ "from": before, "to": role.map(Role::as_str) }),
        ctx,
    };
    audit::commit(tx, ev, now).await?;
    Ok((user, role))
}

/// The user's role in `tenant`.
pub async fn role_of(app: &App, tenant: &Tenant, user: &User) -> Result<Option<Role>> {
    let mut tx = app.store.read().await?;
    let stored = tx.scope(tenant).role_get(user.id).await?;
    Ok(stored.as_deref().and_then(Role::parse))
}

/// Refuses (409) when `user` is an active owner and no other active owner would remain: a
/// tenant is never left without someone who may grant roles. Returns the user's stored role. Runs inside the change's own
/// transaction, so two concurrent demotions cannot both pass on SQLite's single writer; on
/// PostgreSQL the later of two concurrent demotions of the last two owners can still pass
/// (no predicate lock), which leaves the operator's CLI as the way back.
pub(super) async fn keep_an_owner(
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
