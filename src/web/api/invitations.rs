//! `POST /api/v1/tenants/{slug}/invitations`: invite a person (issue 13). The user is created
//! without a password (or an existing one who has none is invited again) and a link to choose
//! it is mailed, valid for seven days. Same permission as creating a user (`users:write`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Caller, Json};
use super::problem::Problem;
use super::users::UserView;
use crate::app::AppState;
use crate::service::authz::{self, grant};
use crate::service::invite::{self, Invitation};
use crate::service::manage::users;

/// Who to invite.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationBody {
    /// Where the invitation goes; the user's login name.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The full name claim (optional).
    pub name: Option<String>,
}

/// An invitation on its way.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    /// The invited user (no password yet).
    pub user: UserView,
    /// Whether the user was created by this invitation (false: invited again).
    pub created: bool,
    /// When the link stops working (Unix seconds).
    pub expires_at: i64,
}

/// Invite a person: the user without a password, and a mail with a link to choose one (7 days).
/// 409 when the user already has a password or is disabled, and when this server sends no
/// mail (`OPENTRUSTY_SMTP_URL` unset).
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/invitations", tag = "users",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 201, description = "The invitation was queued for sending", body = InvitationView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(b): Json<InvitationBody>,
) -> Result<(StatusCode, Json<InvitationView>), Problem> {
    let auth =
        authz::authorize_slug::<grant::UsersWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let invitation = Invitation {
        email: &b.email,
        name: b.name.as_deref(),
    };
    let done = invite::invite(&app, &auth, invitation).await?;
    let account = users::get(&app, &auth, done.user.id).await?;
    let view = InvitationView {
        user: UserView::new(&app, account),
        created: done.created,
        expires_at: done.expires_at,
    };
    Ok((StatusCode::CREATED, Json(view)))
}
