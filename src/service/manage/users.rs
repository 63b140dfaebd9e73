//! Users of one tenant through the management API: list (email prefix and status filters,
//! keyset pages), read, create, update (claims, `email_verified`, `status`), delete, unlock,
//! set a password. The rules live in `service::admin` (the CLI's functions by email call the
//! same cores by id); here each use case takes the proof of its permission and passes the
//! caller's role as the ceiling of what it may take over.

use super::{Page, PageRequest};
use crate::app::App;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::tenant::Status;
use crate::domain::user::{Profile, User};
use crate::service::admin::{self, ProfilePatch, UserInput};
use crate::service::authz::grant::{UsersRead, UsersWrite};
use crate::service::authz::{Authorized, Grant};
use crate::service::{Error, Result};
use crate::store::users::UserFilter;

/// A user with the management role it holds in its tenant.
#[derive(Clone, Debug)]
pub struct Account {
    pub user: User,
    pub role: Option<Role>,
}

/// A user id from a request path. Anything that is not one of ours is as unknown as a
/// missing user (404), never a 500 or a 400 that would tell the two apart.
pub fn parse_id(s: &str) -> Result<UserId> {
    if s.len() > 64 {
        return Err(Error::NotFound("user"));
    }
    s.parse().map_err(|_| Error::NotFound("user"))
}

/// A `status` value from a request (422 naming the field otherwise).
pub fn parse_status(s: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| {
        Error::Invalid(format!(
            "status must be \"active\" or \"disabled\", not {s:?}"
        ))
    })
}

/// What a list is narrowed to, as asked.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// A prefix of the email (case-folded here, as emails are stored).
    pub email: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

pub async fn list(
    app: &App,
    auth: &Authorized<UsersRead>,
    page: &PageRequest,
    filter: &ListFilter,
) -> Result<Page<Account>> {
    let (limit, after) = page.checked()?;
    let prefix = filter
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    if let Some(p) = &prefix
        && (p.len() > 254 || p.chars().any(char::is_control))
    {
        return Err(Error::Invalid(
            "email must be the start of an address: at most 254 bytes, no control characters"
                .into(),
        ));
    }
    let status = filter.status.as_deref().map(parse_status).transpose()?;
    let filter = UserFilter {
        email_prefix: prefix.as_deref(),
        status,
    };
    let mut tx = app.store.read().await?;
    let rows = tx
        .scope(auth.tenant())
        .users_page(after, limit + 1, &filter)
        .await?;
    let rows = rows.into_iter().map(account).collect();
    Ok(Page::from_rows(rows, limit, |a: &Account| {
        a.user.id.to_string()
    }))
}

fn account((user, role): (User, Option<String>)) -> Account {
    Account {
        user,
        role: role.as_deref().and_then(Role::parse),
    }
}

/// The user `id` of the proof's tenant with its role (`NotFound` otherwise: another
/// tenant's user is as unknown as a missing one). Any permission reads it back after a change.
pub async fn get<G: Grant>(app: &App, auth: &Authorized<G>, id: UserId) -> Result<Account> {
    let mut tx = app.store.read().await?;
    let found = tx.scope(auth.tenant()).user_with_role(id).await?;
    found.map(account).ok_or(Error::NotFound("user"))
}

/// A new user (no role: roles are granted through their own endpoint).
pub struct NewAccount {
    pub email: String,
    pub password: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub email_verified: bool,
}

pub async fn create(app: &App, auth: &Authorized<UsersWrite>, new: NewAccount) -> Result<Account> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let profile = Profile {
        given_name: clean(new.given_name),
        family_name: clean(new.family_name),
        name: clean(new.name),
        ..Profile::default()
    };
    let input = UserInput {
        email: &new.email,
        password: new.password.as_deref(),
        profile,
        email_verified: new.email_verified,
    };
    let user = admin::user_create(app, auth.tenant(), input, auth.ctx()).await?;
    Ok(Account { user, role: None })
}

/// Changes to a user: claims and `email_verified`, and `status` (disabling ends the user's
/// sessions and tokens; never the last active owner).
#[derive(Default)]
pub struct AccountPatch {
    pub profile: ProfilePatch,
    pub status: Option<String>,
}

/// Applies a patch. Every field is checked before anything changes; the status change (the
/// one that may conflict) goes first, so a refused patch leaves the user as it was.
pub async fn update(
    app: &App,
    auth: &Authorized<UsersWrite>,
    id: UserId,
    patch: AccountPatch,
) -> Result<Account> {
    let status = patch.status.as_deref().map(parse_status).transpose()?;
    let has_profile = !patch.profile.is_empty();
    if has_profile {
        patch.profile.check()?;
    } else if status.is_none() {
        return Err(Error::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    let current = get(app, auth, id).await?;
    let tenant = auth.tenant();
    if let Some(s) = status.filter(|s| *s != current.user.status) {
        let ceiling = Some(auth.role());
        admin::user_set_status_id(app, tenant, id, s, ceiling, auth.ctx()).await?;
    }
    if has_profile {
        admin::user_update_id(app, tenant, id, patch.profile, auth.ctx()).await?;
    }
    get(app, auth, id).await
}

/// Erases the user (personal data, sessions, tokens, consents); the audit trail keeps the id.
pub async fn delete(app: &App, auth: &Authorized<UsersWrite>, id: UserId) -> Result<()> {
    let ceiling = Some(auth.role());
    admin::user_delete_id(app, auth.tenant(), id, ceiling, auth.ctx()).await?;
    Ok(())
}

pub async fn unlock(app: &App, auth: &Authorized<UsersWrite>, id: UserId) -> Result<Account> {
    admin::user_unlock_id(app, auth.tenant(), id, auth.ctx()).await?;
    get(app, auth, id).await
}

/// Sets a new password; the user's sessions and tokens end with the old one.
pub async fn set_password(
    app: &App,
    auth: &Authorized<UsersWrite>,
    id: UserId,
    password: &str,
) -> Result<Account> {
    let password = admin::parse_password(password)?;
    let ceiling = Some(auth.role());
    admin::user_set_password_id(app, auth.tenant(), id, &password, ceiling, auth.ctx()).await?;
    get(app, auth, id).await
}
