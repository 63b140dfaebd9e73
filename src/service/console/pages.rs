//! What the console's pages show, each behind the proof of the permission it reads with
//! (`authz::Authorized`), exactly like the management API's use cases.

use crate::app::App;
use crate::service::Result;
use crate::service::authz::Authorized;
use crate::service::authz::grant::{AuditRead, ClientsRead, SessionsRead, UsersRead};
use crate::store::audit::AuditRow;
use crate::store::console::Counts;

/// How many audit events the dashboard shows.
pub const NEWEST_EVENTS: i64 = 10;

/// The proofs the dashboard needs: it counts users, clients and sessions and lists events.
pub struct DashboardAccess<'a> {
    pub users: &'a Authorized<UsersRead>,
    pub clients: &'a Authorized<ClientsRead>,
    pub sessions: &'a Authorized<SessionsRead>,
    pub audit: &'a Authorized<AuditRead>,
}

pub struct Dashboard {
    pub counts: Counts,
    pub events: Vec<AuditRow>,
}

pub async fn dashboard(app: &App, access: DashboardAccess<'_>) -> Result<Dashboard> {
    // The four proofs are for one tenant (the caller built them from one lookup).
    let tenant = access.users.tenant();
    debug_assert!(
        [
            access.clients.tenant().id,
            access.sessions.tenant().id,
            access.audit.tenant().id
        ]
        .iter()
        .all(|t| *t == tenant.id)
    );
    let now = app.clock.now();
    let mut tx = app.store.read().await?;
    let counts = tx
        .scope(tenant)
        .console_counts(super::CLIENT_ID, now)
        .await?;
    let events = tx
        .scope(access.audit.tenant())
        .audit_list(NEWEST_EVENTS)
        .await?;
    Ok(Dashboard { counts, events })
}
