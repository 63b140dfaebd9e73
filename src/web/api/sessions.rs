//! `/api/v1/tenants/{slug}/users/{user_id}/sessions` and `.../consents`: a user's login
//! sessions (listed by their public id, ended one by one or all) and remembered consents
//! (listed, revoked with the tokens they let the client obtain).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{Caller, Json};
use super::problem::Problem;
use crate::app::AppState;
use crate::service::authz::{self, grant};
use crate::service::manage::users::parse_id;
use crate::service::manage::{consents, sessions};
use crate::store::consents::ConsentRow;
use crate::store::sessions::SessionInfo;

/// A live login session. Its `id` is the public session id (the `sid` claim of ID tokens),
/// not the cookie value: it names the session and opens nothing.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    /// When the user authenticated.
    pub auth_time: i64,
    /// How (RFC 8176 values, e.g. `pwd`).
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen: i64,
    /// The absolute expiry; the idle timeout may end it sooner.
    pub expires_at: i64,
}

impl From<SessionInfo> for SessionView {
    fn from(s: SessionInfo) -> SessionView {
        SessionView {
            id: s.sid,
            auth_time: s.auth_time,
            amr: s.amr,
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_seen: s.last_seen,
            expires_at: s.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    /// Always null: a user's sessions come in one page.
    pub next_cursor: Option<String>,
}

/// A remembered consent: the scopes the user granted a client, until `expires_at`.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub client_id: String,
    /// Space-separated.
    pub scope: String,
    pub granted_at: i64,
    pub expires_at: i64,
}

impl From<ConsentRow> for ConsentView {
    fn from(c: ConsentRow) -> ConsentView {
        ConsentView {
            client_id: c.client_id,
            scope: c.scope,
            granted_at: c.granted_at,
            expires_at: c.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentList {
    pub items: Vec<ConsentView>,
    /// Always null: a user's consents come in one page.
    pub next_cursor: Option<String>,
}

/// List a user's live sessions.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/users/{user_id}/sessions", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user's sessions", body = SessionList)))]
pub async fn list_sessions(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<SessionList>, Problem> {
    let auth =
        authz::authorize_slug::<grant::SessionsRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let all = sessions::list(&app, &auth, parse_id(&user_id)?).await?;
    Ok(Json(SessionList {
        items: all.into_iter().map(SessionView::from).collect(),
        next_cursor: None,
    }))
}

/// End every session of a user.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}/sessions", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Ended")))]
pub async fn end_sessions(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::SessionsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    sessions::end_all(&app, &auth, parse_id(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of a user.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}/sessions/{session_id}",
    tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id"),
        ("session_id" = String, Path, description = "The session's public id")),
    responses((status = 204, description = "Ended")))]
pub async fn end_session(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id, sid)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::SessionsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    sessions::end_one(&app, &auth, parse_id(&user_id)?, &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a user's consents.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/users/{user_id}/consents", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user's consents", body = ConsentList)))]
pub async fn list_consents(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<Json<ConsentList>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ConsentsRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let all = consents::list(&app, &auth, parse_id(&user_id)?).await?;
    Ok(Json(ConsentList {
        items: all.into_iter().map(ConsentView::from).collect(),
        next_cursor: None,
    }))
}

/// Revoke a user's consent to a client, and the client's tokens for the user.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/users/{user_id}/consents/{client_id}",
    tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug"),
        ("user_id" = String, Path, description = "The user's id"),
        ("client_id" = String, Path, description = "The client's id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke_consent(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, user_id, client_id)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::ConsentsWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    consents::revoke(&app, &auth, parse_id(&user_id)?, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
