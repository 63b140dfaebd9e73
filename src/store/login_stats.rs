//! Sign-in counters per tenant and UTC hour (`login_stats`), the console dashboard's chart.
//!
//! Why a counter table and not a count over `audit_events`: the chart needs 168 hourly
//! buckets of three event types. Even an index-only range count (an index on
//! `(tenant_id, event_type, created_at)`) visits one index entry per event, so a tenant with a
//! few hundred thousand sign-ins a week pays for each of them on every page view, and it
//! grows with the traffic: `make bench-console` (1,000,000 events, ~190,000 sign-in events of
//! one tenant in the window) measured on SQLite 118 ms for the grouped count over the audit
//! events with the existing `(tenant_id, created_at)` index, about 80 ms of CPU with that
//! covering index (the query plan then reads the index only), and 0.4 ms for the counters:
//! one primary-key range of at most 168 rows whatever the traffic. They are written by
//! `service::audit::record` in the transaction of the event itself, so they agree with the
//! audit trail, and the extra statement is one upsert of a row the same transaction's event
//! already made hot.

use sqlx::FromRow;

use super::{Result, TenantScope, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;

/// Seconds per bucket.
pub const HOUR: i64 = 3600;

/// Which counter an event adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Logins,
    Failures,
    Lockouts,
}

/// One hour's counters (`hour` is Unix seconds / 3600).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromRow)]
pub struct HourRow {
    pub hour: i64,
    pub logins: i64,
    pub failures: i64,
    pub lockouts: i64,
}

impl Tx {
    /// Adds one to `series` of the hour of `at` for `tenant`. Like `audit_insert`, it takes
    /// the tenant id of the event being recorded (written in the same transaction as it).
    pub async fn login_stats_bump(
        &mut self,
        tenant: TenantId,
        at: UnixTime,
        series: Series,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO login_stats (tenant_id, hour, logins, failures, lockouts) \
                           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, hour) DO UPDATE SET \
                           logins = login_stats.logins + excluded.logins, \
                           failures = login_stats.failures + excluded.failures, \
                           lockouts = login_stats.lockouts + excluded.lockouts";
        let one = |s: Series| i64::from(series == s);
        on_tx!(self, |c| sqlx::query(SQL)
            .bind(tenant.to_string())
            .bind(at.div_euclid(HOUR))
            .bind(one(Series::Logins))
            .bind(one(Series::Failures))
            .bind(one(Series::Lockouts))
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes up to `batch` counter rows (of any tenant) of hours before `before_hour`.
    pub async fn login_stats_purge(&mut self, before_hour: i64, batch: i64) -> Result<u64> {
        const SQL: &str = "DELETE FROM login_stats WHERE (tenant_id, hour) IN \
                           (SELECT tenant_id, hour FROM login_stats WHERE hour < $1 LIMIT $2)";
        Ok(on_tx!(self, |c| sqlx::query(SQL)
            .bind(before_hour)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}

impl TenantScope<'_> {
    /// This tenant's counters of the hours in `[from, to)` that had any, oldest first.
    pub async fn login_stats(&mut self, from: i64, to: i64) -> Result<Vec<HourRow>> {
        const SQL: &str = "SELECT hour, logins, failures, lockouts FROM login_stats \
                           WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour";
        let tenant = self.tenant_id();
        Ok(on_tx!(self.tx, |c| sqlx::query_as(SQL)
            .bind(&tenant)
            .bind(from)
            .bind(to)
            .fetch_all(&mut **c)
            .await?))
    }
}
