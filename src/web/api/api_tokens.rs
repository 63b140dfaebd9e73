//! `/api/v1/tenants/{slug}/api-tokens`: API tokens for automation, managed by the tenant's
//! owners. A token's secret is in the create answer only; nobody creates a token with a role
//! above their own (403).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Caller, Json, Query};
use super::problem::Problem;
use super::tenants::PageParams;
use crate::app::AppState;
use crate::domain::role::Role;
use crate::service::authz::{self, grant};
use crate::service::manage::api_tokens;
use crate::store::api_tokens::ApiTokenRow;

/// An API token (never its secret, except `token` in the create answer).
#[derive(Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    /// `owner`, `admin` or `viewer`.
    #[schema(example = "admin")]
    pub role: String,
    pub expires_at: i64,
    /// Recorded at most once a minute.
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    /// Who created it (`user:<id>`, `api_token:<id>`, `local:<user>`, `cli:…`).
    pub created_by: String,
    /// Set once revoked.
    pub revoked_at: Option<i64>,
    /// The secret bearer token (`otk_…`): only in the create answer, store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<ApiTokenRow> for ApiTokenView {
    fn from(r: ApiTokenRow) -> ApiTokenView {
        ApiTokenView {
            id: r.id,
            name: r.name,
            role: r.role,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
            created_by: r.created_by,
            revoked_at: r.revoked_at,
            token: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiTokenPage {
    pub items: Vec<ApiTokenView>,
    pub next_cursor: Option<String>,
}

/// A lifetime: seconds as a number, or a string of seconds or a number with `s`, `m`, `h`
/// or `d` (`"30d"`); from 10 s to 366 days.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes `expires_in` in the document; the handler reads it itself
pub enum Lifetime {
    Seconds(u64),
    Text(String),
}

/// A token to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// 1–100 characters, e.g. `ci`.
    pub name: String,
    /// `owner`, `admin` or `viewer`: no higher than the caller's own role.
    #[schema(example = "admin")]
    pub role: String,
    /// Required: e.g. `"30d"` or `2592000`.
    #[schema(value_type = Lifetime)]
    pub expires_in: serde_json::Value,
}

/// List the tenant's API tokens (owners), oldest first; revoked and expired ones included.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}/api-tokens", tag = "api-tokens",
    params(("slug" = String, Path, description = "The tenant's slug"), PageParams),
    responses((status = 200, description = "A page of API tokens", body = ApiTokenPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<ApiTokenPage>, Problem> {
    let auth =
        authz::authorize_slug::<grant::ApiTokensWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let page = api_tokens::list(&app, &auth, &page.into()).await?;
    Ok(Json(ApiTokenPage {
        items: page.items.into_iter().map(ApiTokenView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Create an API token; its `token` is in this answer only.
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/api-tokens", tag = "api-tokens",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 201, description = "The token, with its secret (shown once)", body = ApiTokenView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<NewApiToken>,
) -> Result<(StatusCode, Json<ApiTokenView>), Problem> {
    let auth =
        authz::authorize_slug::<grant::ApiTokensWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| Problem::invalid("role must be owner, admin or viewer"))?;
    let expires_in = match body.expires_in {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s,
        _ => {
            return Err(Problem::invalid(
                "expires_in must be seconds (a number) or a string such as \"30d\"",
            ));
        }
    };
    let created = api_tokens::create(&app, &auth, &body.name, role, &expires_in).await?;
    let mut view = ApiTokenView::from(created.row);
    view.token = Some(created.token);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Revoke an API token: it is refused from its next request on, on every node.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}/api-tokens/{id}", tag = "api-tokens",
    params(("slug" = String, Path, description = "The tenant's slug"),
           ("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let auth =
        authz::authorize_slug::<grant::ApiTokensWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    api_tokens::revoke(&app, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
