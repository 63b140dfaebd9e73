//! The audit trail: a tenant's events for its viewers and up, every tenant's for platform
//! callers; pages in creation order, or an export of the whole filtered range.

use super::{Page, PageRequest};
use crate::app::{App, AppState};
use crate::service::audit::{self, Export, Of};
use crate::service::authz::grant::AuditRead;
use crate::service::authz::{Authorized, PlatformAuthorized};
use crate::service::{Error, Result};
use crate::store::audit::{AuditEvent, AuditFilter};

/// The events of the caller's tenant.
pub fn of_tenant(auth: &Authorized<AuditRead>) -> Of {
    Of::Tenant(auth.tenant().clone())
}

/// Every event of the installation, or one tenant's when `tenant` (a slug) is given (an
/// unknown slug is "not found").
pub async fn of_installation(
    app: &App,
    _auth: &PlatformAuthorized<AuditRead>,
    tenant: Option<&str>,
) -> Result<Of> {
    let Some(slug) = tenant else {
        return Ok(Of::Installation(None));
    };
    let found = if crate::domain::tenant::Slug::is_valid(slug) {
        let mut tx = app.store.read().await?;
        tx.tenant_by_slug(slug).await?
    } else {
        None
    };
    found.map(Of::Tenant).ok_or(Error::NotFound("tenant"))
}

pub async fn page(
    app: &App,
    of: &Of,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEvent>> {
    let (limit, after) = page.checked()?;
    let rows = audit::page(app, of, filter, after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |e| e.id.clone()))
}

/// The whole filtered range after the event id `after`, page by page (see [`Export`]).
pub fn export(app: AppState, of: Of, filter: AuditFilter, after: Option<String>) -> Export {
    Export::new(app, of, filter, after)
}
