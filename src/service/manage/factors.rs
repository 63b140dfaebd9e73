//! A user's second factors through the management API, the CLI and the console: list them
//! (names, kinds and dates, never a secret) with `users:read`, and reset them (every factor
//! and recovery code gone, audited as `mfa.reset`) with `users:write`. A reset is a step
//! toward taking the account over (with the password, the account opens again with one
//! factor), so it follows the rule of setting a password: never on a user whose role is
//! above the caller's.

use crate::app::App;
use crate::domain::ids::UserId;
use crate::service::authz::Authorized;
use crate::service::authz::grant::{UsersRead, UsersWrite};
use crate::service::factors::{self, FactorInfo};
use crate::service::{Error, Result};

/// The user's enrolled factors, oldest first (`NotFound` for a user not in the tenant).
pub async fn list(app: &App, auth: &Authorized<UsersRead>, id: UserId) -> Result<Vec<FactorInfo>> {
    {
        let mut tx = app.store.read().await?;
        if tx.scope(auth.tenant()).user_by_id(id).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
    }
    factors::list(app, auth.tenant(), id).await
}

/// Removes every factor and recovery code of the user; how many factors there were.
pub async fn reset(app: &App, auth: &Authorized<UsersWrite>, id: UserId) -> Result<u64> {
    factors::reset(app, auth.tenant(), id, Some(auth.role()), auth.ctx()).await
}
