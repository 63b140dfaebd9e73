//! `/api/v1/tenants/{slug}/users/{user_id}/factors`: a user's second factors (issue 12).
//! Viewers list them (names, kinds and dates, never a secret); admins reset them (every
//! factor and recovery code gone: the user signs in with the password alone, or enrols again
//! where the tenant or a client requires a factor).

use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Caller, Json};
use super::problem::Problem;
use crate::app::AppState;
use crate::service::authz::{self, grant};
use crate::service::factors::FactorInfo;
use crate::service::manage::factors;
use crate::service::manage::users::parse_id;

/// An enrolled second factor.
#[derive(Serialize, ToSchema)]
pub struct FactorView {
    pub id: String,
    /// `totp` (an authenticator app) or `webauthn` (a security key or passkey).
    #[schema(example = "totp")]
    pub kind: String,
    /// What the user called it.
    #[schema(example = "Phone")]
    pub name: String,
    pub created_at: i64,
    /// When it last passed a login (null: never).
    pub last_used_at: Option<i64>,
}

impl From<FactorInfo> for FactorView {
    fn from(f: FactorInfo) -> FactorView {
        FactorView {
            id: f.id,
            kind: f.kind,
            name: f.name,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FactorList {
    pub items: Vec<FactorView>,
    /// Always null: a user's factors come in one page.
    pub next_cursor: Option<String>,
}

/// What a reset removed.
#[derive(Serialize, ToSchema)]
pub struct FactorsReset {
    /// How many factors the user had (their recovery codes are gone too).
    pub factors_removed: u64,
}

/// List a user's second factors.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/users/{user_id}/factors", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user's enrolled factors, oldest first", body = FactorList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<FactorList>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let all = factors::list(&app, &auth, parse_id(&user_id)?).await?;
    Ok(Json(FactorList {
        items: all.into_iter().map(FactorView::from).collect(),
        next_cursor: None,
    }))
}

/// Reset a user's second factors: every factor and recovery code is removed (audited as
/// `mfa.reset`). Not on a user whose role is above the caller's.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}/factors", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "Reset", body = FactorsReset)))]
pub async fn reset(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<FactorsReset>, Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let factors_removed = factors::reset(&app, &auth, parse_id(&user_id)?).await?;
    Ok(Json(FactorsReset { factors_removed }))
}
