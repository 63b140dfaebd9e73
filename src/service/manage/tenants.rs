//! Tenants: platform callers list, create, disable and enable them; a tenant's owners update
//! its settings; anyone with a role in it reads it.

use super::users::Account;
use super::{Page, PageRequest};
use crate::app::App;
use crate::domain::role::Role;
use crate::domain::tenant::Tenant;
use crate::service::authz::grant::{TenantRead, TenantWrite, TenantsManage, TenantsRead};
use crate::service::authz::{Actor, Principal};
use crate::service::authz::{Authorized, PlatformAuthorized};
use crate::service::{Context, Error, Result, admin, sessions};

pub async fn list(
    app: &App,
    _auth: &PlatformAuthorized<TenantsRead>,
    page: &PageRequest,
) -> Result<Page<Tenant>> {
    let (limit, after) = page.checked()?;
    let mut tx = app.store.read().await?;
    let rows = tx.tenants_page(after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |t| t.id.to_string()))
}

pub async fn create(
    app: &App,
    auth: &PlatformAuthorized<TenantsManage>,
    slug: &str,
    display_name: Option<&str>,
) -> Result<Tenant> {
    admin::tenant_create(app, slug, display_name, auth.ctx()).await
}

pub fn get(auth: &Authorized<TenantRead>) -> Tenant {
    auth.tenant().clone()
}

pub async fn update(
    app: &App,
    auth: &Authorized<TenantWrite>,
    display_name: &str,
) -> Result<Tenant> {
    admin::tenant_update(app, auth.tenant().slug.as_str(), display_name, auth.ctx()).await
}

/// Sets the tenant's second-factor policy, `optional` or `required` (its owners, or platform
/// callers; audited as `tenant.updated` with the field).
pub async fn set_mfa(app: &App, auth: &Authorized<TenantWrite>, policy: &str) -> Result<Tenant> {
    let policy = admin::parse_mfa(policy)?;
    admin::tenant_set_mfa(app, auth.tenant().slug.as_str(), policy, auth.ctx()).await
}

/// Opens or closes self-registration, `open` or `closed` (its owners, or platform callers;
/// audited as `tenant.updated` with the field).
pub async fn set_registration(
    app: &App,
    auth: &Authorized<TenantWrite>,
    registration: &str,
) -> Result<Tenant> {
    let registration = admin::parse_registration(registration)?;
    admin::tenant_set_registration(app, auth.tenant().slug.as_str(), registration, auth.ctx()).await
}

/// Disables the tenant (and ends its sessions and tokens). `platform` itself cannot be: its
/// users are the ones who would enable it again.
pub async fn disable(app: &App, auth: &Authorized<TenantsManage>) -> Result<Tenant> {
    if auth.tenant().slug.is_platform() {
        return Err(Error::Conflict(
            "the platform tenant cannot be disabled".into(),
        ));
    }
    admin::tenant_disable(app, auth.tenant().slug.as_str(), auth.ctx()).await
}

pub async fn enable(app: &App, auth: &Authorized<TenantsManage>) -> Result<Tenant> {
    admin::tenant_enable(app, auth.tenant().slug.as_str(), auth.ctx()).await
}

/// The `platform` tenant and its first owner (`opentrusty bootstrap` sent to the daemon):
/// only an operator at the host, on the admin socket, may; and only once (409 after). The
/// password is generated when none is given, and returned for the caller to show once.
pub async fn bootstrap(
    app: &App,
    principal: &Principal,
    email: &str,
    password: Option<&str>,
    ctx: &Context,
) -> Result<(Tenant, Account, Option<String>)> {
    let Actor::Local { user } = principal.actor() else {
        return Err(Error::Forbidden(
            "bootstrap is for operators at the host, through the admin socket".into(),
        ));
    };
    let generated = password.is_none().then(sessions::random_token);
    let password = password.or(generated.as_deref()).unwrap_or_default();
    let ctx = Context {
        actor: Some(format!("local:{user}")),
        via: Some("api"),
        ..ctx.clone()
    };
    let (tenant, user) = admin::bootstrap(app, email, password, &ctx).await?;
    let account = Account {
        user,
        role: Some(Role::Owner),
    };
    Ok((tenant, account, generated))
}
