//! The daemon's own housekeeping: purge expired codes, tokens, consents, sessions (login and
//! console ones, and console sign-ins in progress), the dashboard's old sign-in counters, mail
//! sent or given up on a week ago, sign-ups whose address was not proven within a week,
//! and audit events older than
//! `OPENTRUSTY_AUDIT_RETENTION_DAYS`, in small batches (short write locks), and keep every
//! tenant's signing keys on schedule. Runs on every node; all of it is idempotent, so nodes
//! need no coordination.

use std::time::Duration;

use tokio::sync::watch;

use super::{Result, keys, register};
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::client::SigningAlg;
use crate::domain::ids::TenantId;
use crate::store::PURGEABLE;

/// Rows per delete statement.
const BATCH: i64 = 500;
/// Expired tokens are kept this long, so a late replay is still recognised as one.
const KEEP_EXPIRED: i64 = 3600;
const EVERY: Duration = Duration::from_secs(60);
/// Sent and failed mail is kept this long (seconds), then deleted.
const KEEP_MAIL: i64 = 7 * 24 * 3600;

/// Start-up: load the key-encryption key and make sure every active tenant has a signing key,
/// so the first token request does not pay for RSA key generation.
pub async fn prepare(app: &App) -> Result<usize> {
    app.keys.kek(app).await?;
    let tenants = {
        let mut tx = app.store.read().await?;
        tx.tenants_list().await?
    };
    let mut n = 0;
    for t in tenants.iter().filter(|t| t.is_active()) {
        keys::ensure(app, t, SigningAlg::RS256).await?;
        app.keys.for_tenant(app, t).await?;
        n += 1;
    }
    Ok(n)
}

/// One round: returns rows deleted per table.
pub async fn round(app: &App) -> Result<Vec<(&'static str, u64)>> {
    let now = app.clock.now();
    let mut out = Vec::new();
    for (table, _) in PURGEABLE {
        // Nothing recognises a finished consent or WebAuthn ceremony later: gone at expiry.
        let before = if matches!(*table, "consents" | "webauthn_ceremonies") {
            now
        } else {
            now - KEEP_EXPIRED
        };
        let mut total = 0;
        loop {
            let mut tx = app.store.begin().await?;
            let n = tx.purge_expired(table, before, BATCH).await?;
            tx.commit().await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        out.push((*table, total));
    }
    let idle = app.config.identity.session_idle_timeout.as_secs() as i64;
    let mut sessions = 0;
    loop {
        let n = app.store.sessions_purge(now, now - idle, BATCH).await?;
        sessions += n;
        if n < BATCH as u64 {
            break;
        }
    }
    out.push(("sessions", sessions));
    let (logins, consoles) = purge_console(app, now).await?;
    out.push(("console_logins", logins));
    out.push(("console_sessions", consoles));
    out.push(("login_stats", purge_login_stats(app, now).await?));
    out.push(("mail_outbox", purge_mail(app, now).await?));
    let tenants = {
        let mut tx = app.store.read().await?;
        tx.tenants_list().await?
    };
    let mut abandoned = 0;
    for t in &tenants {
        loop {
            let n = register::purge_abandoned(app, t, now, BATCH).await?;
            abandoned += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    out.push(("sign_ups_abandoned", abandoned));
    let owners: Vec<Option<TenantId>> = tenants.iter().map(|t| Some(t.id)).chain([None]).collect();
    out.push(("audit_events", purge_audit(app, &owners, now).await?));
    let (mut created, mut dropped) = (0, 0);
    for t in tenants.iter().filter(|t| t.is_active()) {
        let (c, d) = keys::maintain(app, t).await?;
        created += c as u64;
        dropped += d as u64;
    }
    out.push(("signing_keys_created", created));
    out.push(("signing_keys", dropped));
    Ok(out)
}

/// Deletes the audit events of `owners` (tenants, and `None` for installation-wide events)
/// that are older than the retention, in batches.
pub async fn purge_audit(app: &App, owners: &[Option<TenantId>], now: UnixTime) -> Result<u64> {
    let before = now.saturating_sub(app.config.audit_retention.as_secs() as i64);
    let mut total = 0;
    for owner in owners {
        loop {
            let mut tx = app.store.begin().await?;
            let n = tx.purge_audit(*owner, before, BATCH).await?;
            tx.commit().await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(total)
}

/// Deletes expired console sign-ins and console sessions (past their lifetime or idle), in
/// batches; each sign-in prunes its own tenant's too, this catches tenants nobody signs in to.
async fn purge_console(app: &App, now: UnixTime) -> Result<(u64, u64)> {
    let idle_before = now - crate::service::console::session::IDLE_TIMEOUT;
    let (mut logins, mut sessions) = (0, 0);
    loop {
        let mut tx = app.store.begin().await?;
        let (l, s) = tx.console_purge(now, idle_before, BATCH).await?;
        tx.commit().await?;
        logins += l;
        sessions += s;
        if l < BATCH as u64 && s < BATCH as u64 {
            return Ok((logins, sessions));
        }
        tokio::task::yield_now().await;
    }
}

/// Deletes the dashboard's sign-in counters of hours before its chart's window (a day of
/// slack), in batches.
async fn purge_login_stats(app: &App, now: UnixTime) -> Result<u64> {
    use crate::service::console::pages::CHART_DAYS;
    use crate::store::login_stats::HOUR;
    let before_hour = now.div_euclid(HOUR) - (CHART_DAYS + 1) * 24;
    let mut total = 0;
    loop {
        let mut tx = app.store.begin().await?;
        let n = tx.login_stats_purge(before_hour, BATCH).await?;
        tx.commit().await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Deletes outbox rows sent or given up on more than [`KEEP_MAIL`] ago, in batches (their
/// bodies are already gone; what is left says who got which mail when, for a week).
async fn purge_mail(app: &App, now: UnixTime) -> Result<u64> {
    let before = now - KEEP_MAIL;
    let mut total = 0;
    loop {
        let mut tx = app.store.begin().await?;
        let n = tx.outbox_purge(before, BATCH).await?;
        tx.commit().await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs [`round`] every minute until `stop` turns true.
pub async fn run(app: std::sync::Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match round(&app).await {
            Ok(counts) => {
                for (what, n) in &counts {
                    if *n > 0 {
                        metrics::counter!("opentrusty_housekeeping_rows_total", "table" => *what)
                            .increment(*n);
                    }
                }
                tracing::debug!(?counts, "housekeeping round done");
            }
            Err(e) => tracing::warn!(error = %e, "housekeeping round failed; retrying next minute"),
        }
    }
}
