//! A user's management role through the API: grant (`owner`, `admin`, `viewer`) and remove.
//! The rules are `service::roles`': nobody grants a role above their own or touches a user
//! whose role is above theirs, and a tenant keeps at least one active owner.

use super::users::{Account, get};
use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::service::authz::Authorized;
use crate::service::authz::grant::RolesWrite;
use crate::service::{Error, Result, roles};

/// A role name from a request (422 naming the field otherwise).
pub fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| {
        Error::Invalid(format!(
            "role must be \"owner\", \"admin\" or \"viewer\", not {s:?}"
        ))
    })
}

/// Gives the user `role` (`None` removes it).
pub async fn set(
    app: &App,
    auth: &Authorized<RolesWrite>,
    id: UserId,
    role: Option<Role>,
) -> Result<Account> {
    let ceiling = Some(auth.role());
    roles::set_role_id(app, auth.tenant(), id, role, ceiling, auth.ctx()).await?;
    get(app, auth, id).await
}
