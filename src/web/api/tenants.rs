//! `/api/v1/tenants`: platform callers list, create, disable and enable tenants; a tenant's
//! owners update its settings; anyone with a role in it reads it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Caller, Json, Query};
use super::problem::Problem;
use crate::app::AppState;
use crate::domain::tenant::Tenant;
use crate::service::authz::{self, grant};
use crate::service::manage::{PageRequest, tenants};

/// A tenant: its own OpenID Provider.
#[derive(Serialize, ToSchema)]
pub struct TenantView {
    #[schema(example = "acme")]
    pub slug: String,
    pub display_name: String,
    /// `active` or `disabled`.
    #[schema(example = "active")]
    pub status: String,
    /// The second-factor policy: `optional` (users who enrolled a factor are asked for it) or
    /// `required` (a user without one enrols at the next login, before any code is issued).
    #[schema(example = "optional")]
    pub mfa: String,
    /// Self-registration at `{issuer}/register`: `closed` (the default) or `open` (anyone may
    /// sign up while mail is configured; the account works once its address is verified).
    #[schema(example = "closed")]
    pub registration: String,
    /// The issuer identifier of the tenant's OpenID Provider.
    pub issuer: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TenantView {
    pub fn new(app: &AppState, t: Tenant) -> TenantView {
        TenantView {
            issuer: t.issuer(&app.config.public_url),
            slug: t.slug.as_str().to_owned(),
            display_name: t.display_name,
            status: t.status.as_str().to_owned(),
            mfa: t.mfa.as_str().to_owned(),
            registration: t.registration.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A page of a list: `limit` items (1–500, default 50) after `cursor`.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<PageParams> for PageRequest {
    fn from(p: PageParams) -> PageRequest {
        PageRequest {
            limit: p.limit,
            cursor: p.cursor,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    pub next_cursor: Option<String>,
}

/// A new tenant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// 2–63 characters: lowercase letters, digits and single hyphens.
    #[schema(example = "acme")]
    pub slug: String,
    /// Shown on the login page (defaults to the slug).
    pub display_name: Option<String>,
}

/// Changes to a tenant's settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    /// The second-factor policy: `optional` or `required`.
    #[schema(example = "required")]
    pub mfa: Option<String>,
    /// Self-registration: `open` or `closed`.
    #[schema(example = "open")]
    pub registration: Option<String>,
}

/// List tenants (platform callers).
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(PageParams),
    responses((status = 200, description = "A page of tenants", body = TenantPage)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<TenantPage>, Problem> {
    let auth = authz::authorize_platform::<grant::TenantsRead>(&caller.principal, &caller.ctx)?;
    let page = tenants::list(&app, &auth, &page.into()).await?;
    let page = page.map(|t| TenantView::new(&app, t));
    Ok(Json(TenantPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a tenant (platform callers).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants",
    responses((status = 201, description = "The tenant", body = TenantView)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(new): Json<NewTenant>,
) -> Result<(StatusCode, Json<TenantView>), Problem> {
    let auth = authz::authorize_platform::<grant::TenantsManage>(&caller.principal, &caller.ctx)?;
    let t = tenants::create(&app, &auth, &new.slug, new.display_name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(TenantView::new(&app, t))))
}

/// Read a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant", body = TenantView)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::TenantRead>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    Ok(Json(TenantView::new(&app, tenants::get(&auth))))
}

/// Update a tenant's settings (its owners, or platform callers).
#[utoipa::path(patch, path = "/api/v1/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant", body = TenantView)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(patch): Json<TenantPatch>,
) -> Result<Json<TenantView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::TenantWrite>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    // The policy is checked before anything changes: a bad value leaves the name as it was.
    if let Some(p) = &patch.mfa {
        crate::service::admin::parse_mfa(p)?;
    }
    if let Some(r) = &patch.registration {
        crate::service::admin::parse_registration(r)?;
    }
    let mut t = match patch.display_name {
        Some(name) => tenants::update(&app, &auth, &name).await?,
        None => auth.tenant().clone(),
    };
    if let Some(p) = patch.mfa.filter(|p| p.as_str() != t.mfa.as_str()) {
        t = tenants::set_mfa(&app, &auth, &p).await?;
    }
    if let Some(r) = patch.registration {
        t = tenants::set_registration(&app, &auth, &r).await?;
    }
    Ok(Json(TenantView::new(&app, t)))
}

/// Disable a tenant: its endpoints answer 404 and its sessions and tokens end (platform).
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/disable", tag = "tenants",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant", body = TenantView)))]
pub async fn disable(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::TenantsManage>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    Ok(Json(TenantView::new(
        &app,
        tenants::disable(&app, &auth).await?,
    )))
}

/// Enable a disabled tenant (platform).
#[utoipa::path(post, path = "/api/v1/tenants/{slug}/enable", tag = "tenants",
    params(("slug" = String, Path, description = "The tenant's slug")),
    responses((status = 200, description = "The tenant", body = TenantView)))]
pub async fn enable(
    State(app): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, Problem> {
    let auth =
        authz::authorize_slug::<grant::TenantsManage>(&app, &caller.principal, &slug, &caller.ctx)
            .await?;
    Ok(Json(TenantView::new(
        &app,
        tenants::enable(&app, &auth).await?,
    )))
}

/// The first platform owner, for `opentrusty bootstrap` sent to the daemon.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    pub email: String,
    /// Generated (and returned once) when absent.
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Bootstrapped {
    pub tenant: TenantView,
    pub user: super::users::UserView,
    /// The generated password, shown once; absent when the request gave one.
    pub password: Option<String>,
}

/// Create the `platform` tenant and its first owner (operators on the admin socket only, once).
#[utoipa::path(post, path = "/api/v1/bootstrap", tag = "tenants",
    responses((status = 201, description = "The platform tenant and its first owner", body = Bootstrapped)))]
pub async fn bootstrap(
    State(app): State<AppState>,
    caller: Caller,
    Json(req): Json<BootstrapRequest>,
) -> Result<(StatusCode, Json<Bootstrapped>), Problem> {
    let (t, account, password) = tenants::bootstrap(
        &app,
        &caller.principal,
        &req.email,
        req.password.as_deref(),
        &caller.ctx,
    )
    .await?;
    let body = Bootstrapped {
        tenant: TenantView::new(&app, t),
        user: super::users::UserView::new(&app, account),
        password,
    };
    Ok((StatusCode::CREATED, Json(body)))
}
