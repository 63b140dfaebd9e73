//! `GET /api/v1/whoami`: the caller as the API sees it — who, in which tenant, which role and
//! permissions. Useful for scripts to check a token before they act.

use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Caller, Json};
use crate::service::authz::Actor;

/// The authenticated caller.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    /// `user`, `api_token` or `local` (an operator on the admin socket).
    #[schema(example = "user")]
    pub kind: &'static str,
    /// The user's or the token's id; the unix user for `local`.
    pub id: String,
    /// The user's email, or the token's name.
    pub name: String,
    /// The tenant the role is held in (`platform`: every tenant).
    #[schema(example = "acme")]
    pub tenant: String,
    #[schema(example = "admin")]
    pub role: String,
    /// Whether the role is held on the whole installation.
    pub platform: bool,
    /// The permissions the role grants, e.g. `users:write`.
    pub permissions: Vec<&'static str>,
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/whoami", tag = "meta",
    responses((status = 200, description = "The caller", body = Whoami)))]
pub async fn whoami(caller: Caller) -> Json<Whoami> {
    let p = &caller.principal;
    let (kind, id, name) = match p.actor() {
        Actor::User { id, email } => ("user", id.to_string(), email.clone()),
        Actor::Token { id, name } => ("api_token", id.clone(), name.clone()),
        Actor::Local { user } => ("local", user.clone(), user.clone()),
    };
    let tenant = p
        .home()
        .map(|t| t.slug.as_str().to_owned())
        .unwrap_or_else(|| crate::domain::tenant::PLATFORM.to_owned());
    Json(Whoami {
        kind,
        id,
        name,
        tenant,
        role: p.role().as_str().to_owned(),
        platform: p.is_platform(),
        permissions: p.permissions().map(|x| x.as_str()).collect(),
    })
}
