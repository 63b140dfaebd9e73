//! `/api/v1/tenants/{slug}/users`: a tenant's users (list with filters, create, read, update,
//! delete, unlock, set a password) and their management role. Thin handlers: authorize, one
//! `service::manage` call, JSON. Sessions and consents are in `sessions.rs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Caller, Json, Query};
use super::problem::Problem;
use super::tenants::PageParams;
use crate::app::AppState;
use crate::service::admin::ProfilePatch;
use crate::service::authz::{self, grant};
use crate::service::manage::roles::{self, parse_role};
use crate::service::manage::users::{self, Account, AccountPatch, ListFilter, NewAccount};

/// A user of the tenant.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// The user id (a UUID), also the `sub` of its tokens.
    pub id: String,
    /// Trimmed and lowercased: the login name, unique in the tenant.
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The full name claim.
    pub name: Option<String>,
    /// `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    /// The management role in this tenant: `owner`, `admin`, `viewer`, or null.
    #[schema(example = "admin")]
    pub role: Option<String>,
    /// Whether failed logins have locked the account right now (`POST .../unlock` clears it).
    pub locked: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserView {
    pub fn new(app: &AppState, a: Account) -> UserView {
        let u = a.user;
        UserView {
            id: u.id.to_string(),
            locked: u.is_locked(app.clock.now()),
            email: u.email.as_str().to_owned(),
            email_verified: u.email_verified,
            given_name: u.profile.given_name,
            family_name: u.profile.family_name,
            name: u.profile.name,
            status: u.status.as_str().to_owned(),
            role: a.role.map(|r| r.as_str().to_owned()),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub next_cursor: Option<String>,
}

/// Filters of the user list.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct UserFilterParams {
    /// Only users whose email starts with this (compared lowercased).
    pub email: Option<String>,
    /// Only `active` or only `disabled` users.
    pub status: Option<String>,
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters; without one the user cannot log in with a password.
    pub password: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

/// Changes to a user; absent fields stay as they are, `""` clears a name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    pub email_verified: Option<bool>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    /// `disabled` disables the user and ends its sessions and tokens; `active` enables it.
    pub status: Option<String>,
}

/// A new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// At least 8 characters, at most 1024 bytes.
    pub password: String,
}

/// A role to give.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `owner`, `admin` or `viewer` (no higher than the caller's own).
    #[schema(example = "viewer")]
    pub role: String,
}

/// List users, in creation order.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/users", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"), PageParams, UserFilterParams),
    responses((status = 200, description = "A page of users", body = UserPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
    Query(f): Query<UserFilterParams>,
) -> Result<Json<UserPage>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let filter = ListFilter {
        email: f.email,
        status: f.status,
    };
    let page = users::list(&app, &auth, &page.into(), &filter).await?;
    let page = page.map(|a| UserView::new(&app, a));
    Ok(Json(UserPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/users", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 201, description = "The user", body = UserView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(b): Json<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let new = NewAccount {
        email: b.email,
        password: b.password,
        given_name: b.given_name,
        family_name: b.family_name,
        name: b.name,
        email_verified: b.email_verified,
    };
    let a = users::create(&app, &auth, new).await?;
    Ok((StatusCode::CREATED, Json(UserView::new(&app, a))))
}

/// Read a user.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/users/{user_id}", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<UserView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let a = users::get(&app, &auth, users::parse_id(&user_id)?).await?;
    Ok(Json(UserView::new(&app, a)))
}

/// Update a user: names, `email_verified`, `status` (`disabled` ends its sessions and tokens).
#[utoipa::path(patch, path = "/api/v1/tenants/{slug}/users/{user_id}", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
    Json(b): Json<UserPatchBody>,
) -> Result<Json<UserView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let patch = AccountPatch {
        profile: ProfilePatch {
            given_name: b.given_name,
            family_name: b.family_name,
            name: b.name,
            email_verified: b.email_verified,
            ..ProfilePatch::default()
        },
        status: b.status,
    };
    let a = users::update(&app, &auth, users::parse_id(&user_id)?, patch).await?;
    Ok(Json(UserView::new(&app, a)))
}

/// Delete a user: its personal data, sessions, tokens and consents; the audit trail keeps the id.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    users::delete(&app, &auth, users::parse_id(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlock a user locked by failed logins.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/users/{user_id}/unlock", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn unlock(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<UserView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let a = users::unlock(&app, &auth, users::parse_id(&user_id)?).await?;
    Ok(Json(UserView::new(&app, a)))
}

/// Set a user's password; its sessions and tokens end.
#[utoipa::path(put, path = "/api/v1/tenants/{slug}/users/{user_id}/password", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn password(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
    Json(b): Json<PasswordBody>,
) -> Result<Json<UserView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let id = users::parse_id(&user_id)?;
    let a = users::set_password(&app, &auth, id, &b.password).await?;
    Ok(Json(UserView::new(&app, a)))
}

/// Give a user a management role (no higher than the caller's).
#[utoipa::path(put, path = "/api/v1/tenants/{slug}/users/{user_id}/role", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn put_role(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
    Json(b): Json<RoleBody>,
) -> Result<Json<UserView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::RolesWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let role = parse_role(&b.role)?;
    let a = roles::set(&app, &auth, users::parse_id(&user_id)?, Some(role)).await?;
    Ok(Json(UserView::new(&app, a)))
}

/// Remove a user's management role (never the tenant's last active owner's).
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}/role", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_role(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::RolesWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    roles::set(&app, &auth, users::parse_id(&user_id)?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
