//! What the console's pages show, each behind the proof of the permission it reads with
//! (`authz::Authorized`), exactly like the management API's use cases.

use crate::app::App;
use crate::service::Result;
use crate::service::authz::Authorized;
use crate::service::authz::grant::{AuditRead, ClientsRead, SessionsRead, UsersRead};
use crate::store::audit::AuditRow;
use crate::store::console::Counts;
use crate::store::login_stats::{HOUR, HourRow};

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
    pub sign_ins: SignIns,
}

/// Days the sign-in chart covers: today (UTC) and the six days before it.
pub const CHART_DAYS: i64 = 7;
const DAY: i64 = 24 * HOUR;

/// The sign-in counters of every hour of the chart's days, from midnight (UTC) six days ago
/// to the end of today; hours after `now_hour` are still to come (zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIns {
    /// The first hour (Unix seconds / 3600) of `hours`.
    pub first_hour: i64,
    /// The current hour.
    pub now_hour: i64,
    /// `CHART_DAYS * 24` hours, oldest first, hours without events included.
    pub hours: Vec<HourRow>,
}

impl SignIns {
    /// Spreads the stored rows (hours that had events) over the window of `now`.
    pub fn of(rows: &[HourRow], now: i64) -> SignIns {
        let (first_hour, _) = SignIns::window(now);
        let mut hours: Vec<HourRow> = (0..CHART_DAYS * 24)
            .map(|i| HourRow {
                hour: first_hour + i,
                ..HourRow::default()
            })
            .collect();
        for r in rows {
            if let Some(slot) = usize::try_from(r.hour - first_hour)
                .ok()
                .and_then(|i| hours.get_mut(i))
            {
                *slot = *r;
            }
        }
        SignIns {
            first_hour,
            now_hour: now.div_euclid(HOUR),
            hours,
        }
    }

    /// The window as `[from, to)` hours.
    pub fn window(now: i64) -> (i64, i64) {
        let from = (now.div_euclid(DAY) - (CHART_DAYS - 1)) * 24;
        (from, from + CHART_DAYS * 24)
    }
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
    // The counters are derived from the audit trail: read with the audit proof.
    let (from, to) = SignIns::window(now);
    let rows = tx
        .scope(access.audit.tenant())
        .login_stats(from, to)
        .await?;
    Ok(Dashboard {
        counts,
        events,
        sign_ins: SignIns::of(&rows, now),
    })
}
