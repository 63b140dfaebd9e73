//! The background task that empties the outbox: woken by `mail::wake` after a commit and by a
//! one-second tick (which also catches mail queued by other processes: the CLI, other nodes),
//! it claims due messages under a lease, sends them, and records the outcome. Sent: `sent_at`
//! and the bodies erased. A failure: retried with exponential back-off and jitter, given up on
//! after a 5xx answer or a day of trying; each failure is journaled with the kind, outbox id
//! and error class, never the body or the link in it.
//!
//! Delivery is at least once: a daemon killed between the server's "250 OK" and the row's
//! update sends that message again after restart (same Message-ID, same `.eml` name). Every
//! other crash point sends it exactly once: an unsent row stays due, a claimed one comes back
//! when its lease ends (PostgreSQL) or at the next start (SQLite).

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::retry::{self, Outcome};
use super::transport::{Outgoing, SendError, SetupError, Transport};
use crate::app::{App, AppState};
use crate::clock::UnixTime;
use crate::config::{Config, MailTransport};
use crate::store::Backend;
use crate::store::mail_delivery::OutboxRow;
use crate::systemd;

/// The longest a queued message waits for the sender when nothing wakes it.
pub const TICK: Duration = Duration::from_secs(1);
/// A claim holds a message this long; other nodes leave it alone meanwhile.
pub const LEASE: i64 = 180;
/// A send still running after this is abandoned and retried later. With [`BATCH_TIME`] it keeps
/// every send of a batch inside the lease, so no other node can claim a message being sent.
const SEND_DEADLINE: Duration = Duration::from_secs(60);
/// Sends start only this long after the claim; later, the batch's remaining rows go back.
const BATCH_TIME: Duration = Duration::from_secs(LEASE as u64 - 2 * SEND_DEADLINE.as_secs());
/// Messages claimed at once.
const BATCH: i64 = 16;

/// Journal `MESSAGE_ID`s (generated once; fixed forever, like the audit ones).
const MSG_RETRY: &str = "e3a7c1d95b2f4c08a1d6f4e2b9c7a351";
const MSG_FAILED: &str = "e3a7c1d95b2f4c08a1d6f4e2b9c7a352";

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
    /// Claimed rows given back untried (a connection failure, the daemon stopping, the batch's
    /// time used up).
    pub released: u32,
    /// A full batch went through: more may be due right away.
    pub more: bool,
}

/// The transport the configuration asks for, or `None` when mail is off; checks what only
/// the transport can (the From address, TLS for the host, the `file:` directory).
pub fn transport(config: &Config) -> Result<Option<Transport>, SetupError> {
    let Some(mail) = &config.mail else {
        return Ok(None);
    };
    Ok(Some(match &mail.transport {
        MailTransport::Smtp {
            url,
            user,
            password,
        } => Transport::smtp(&mail.from, url, user.as_deref(), password.as_deref())?,
        MailTransport::File(dir) => Transport::file(&mail.from, dir)?,
    }))
}

/// Runs until `stop` turns true. On SQLite first gives back the leases a killed process left
/// (one daemon per database file); on PostgreSQL they run out by themselves.
pub async fn run(app: AppState, transport: Transport, mut stop: watch::Receiver<bool>) {
    if app.store.backend() == Backend::Sqlite {
        match app.store.outbox_release_all().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                messages = n,
                "mail: took back messages claimed by a previous run"
            ),
            Err(e) => tracing::warn!(error = %e, "mail: cannot take back earlier claims"),
        }
    }
    // Says early whether the server answers; holds nothing up (readiness, the first round).
    let transport = std::sync::Arc::new(transport);
    tokio::spawn({
        let transport = transport.clone();
        async move {
            if transport.is_file() {
                return;
            }
            match transport.probe().await {
                Ok(()) => {
                    tracing::info!(transport = %transport.describe(), "mail: the SMTP server answers")
                }
                Err(e) => tracing::warn!(
                    transport = %transport.describe(),
                    error = %e,
                    "mail: cannot reach the SMTP server; messages stay queued and are retried"
                ),
            }
        }
    });
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = app.mail_wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        loop {
            match round(&app, &transport, &stop).await {
                Ok(r) if r.more && !*stop.borrow() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "mail: cannot read the outbox; trying again shortly");
                    break;
                }
            }
        }
    }
}

/// Claims up to a batch of due messages and sends them one after the other. A failure of the
/// connection (server down, TLS refused) ends the round: the next message would fail the same
/// way, so it goes back untried rather than collecting an attempt.
pub async fn round(
    app: &App,
    transport: &Transport,
    stop: &watch::Receiver<bool>,
) -> crate::service::Result<Round> {
    let now = app.clock.now();
    let claimed = app.store.outbox_claim(now, now + LEASE, BATCH).await?;
    let started = Instant::now();
    let mut r = Round {
        more: claimed.len() as i64 == BATCH,
        ..Round::default()
    };
    let mut rows = claimed.into_iter();
    while let Some(row) = rows.next() {
        if *stop.borrow() || started.elapsed() > BATCH_TIME {
            r.more = false;
            r.released += release(app, std::iter::once(row).chain(rows.by_ref())).await;
            break;
        }
        let result =
            match tokio::time::timeout(SEND_DEADLINE, transport.send(&outgoing(&row))).await {
                Ok(result) => result,
                Err(_) => Err(SendError {
                    class: "timeout",
                    code: None,
                    permanent: false,
                    connection: true,
                    detail: format!("no answer within {} s", SEND_DEADLINE.as_secs()),
                }),
            };
        let at = app.clock.now();
        match result {
            Ok(()) => {
                app.store.outbox_sent(&row.id, at).await?;
                metrics::counter!("opentrusty_mail_sent_total", "kind" => row.kind.clone())
                    .increment(1);
                tracing::debug!(outbox_id = %row.id, kind = %row.kind, "mail sent");
                r.sent += 1;
            }
            Err(e) => {
                let connection = e.connection;
                match retry::decide(&e, row.attempts + 1, row.created_at, at, retry::jitter()) {
                    Outcome::Retry { at: next } => {
                        app.store
                            .outbox_retry(&row.id, next, &e.to_string())
                            .await?;
                        metrics::counter!("opentrusty_mail_retries_total", "kind" => row.kind.clone(), "class" => e.class).increment(1);
                        journal(&row, &e, Some(next - at));
                        r.retried += 1;
                    }
                    Outcome::GiveUp => {
                        app.store.outbox_failed(&row.id, at, &e.to_string()).await?;
                        metrics::counter!("opentrusty_mail_failed_total", "kind" => row.kind.clone(), "class" => e.class).increment(1);
                        journal(&row, &e, None);
                        r.failed += 1;
                    }
                }
                if connection {
                    r.more = false;
                    r.released += release(app, rows.by_ref()).await;
                    break;
                }
            }
        }
    }
    Ok(r)
}

/// Gives claimed rows back; returns how many. A row that cannot be given back (the database
/// is gone) comes back when its lease ends.
async fn release(app: &App, rows: impl Iterator<Item = OutboxRow>) -> u32 {
    let mut n = 0;
    for row in rows {
        if app.store.outbox_release(&row.id).await.is_ok() {
            n += 1;
        }
    }
    n
}

fn outgoing(row: &OutboxRow) -> Outgoing {
    Outgoing {
        id: row.id.clone(),
        to: row.recipient.clone(),
        subject: row.subject.clone(),
        text: row.body_text.clone(),
        html: row.body_html.clone(),
        created_at: row.created_at,
    }
}

/// One journal entry per failed attempt: kind, outbox id, tenant, error class, SMTP code and
/// attempt count; never the recipient, the body or the link. Under systemd it goes over the
/// native protocol with a fixed `MESSAGE_ID` (`journalctl MESSAGE_ID=...`), else to tracing.
fn journal(row: &OutboxRow, e: &SendError, retry_in: Option<UnixTime>) {
    let code = e.code.map(|c| c.to_string()).unwrap_or_default();
    let attempts = (row.attempts + 1).to_string();
    let (message_id, message) = match retry_in {
        Some(s) => (
            MSG_RETRY,
            format!("mail: {} not delivered ({e}); retrying in {s} s", row.kind),
        ),
        None => (
            MSG_FAILED,
            format!("mail: {} not delivered ({e}); giving up", row.kind),
        ),
    };
    let fields = [
        ("MESSAGE_ID", message_id.to_owned()),
        ("OPENTRUSTY_MAIL_KIND", row.kind.clone()),
        ("OPENTRUSTY_OUTBOX_ID", row.id.clone()),
        ("OPENTRUSTY_TENANT_ID", row.tenant_id.clone()),
        ("OPENTRUSTY_MAIL_ERROR", e.class.to_owned()),
        ("OPENTRUSTY_SMTP_CODE", code.clone()),
        ("OPENTRUSTY_MAIL_ATTEMPTS", attempts.clone()),
    ];
    // Priority 4 (warning) for a retry, 3 (error) when the message is lost.
    let priority = if retry_in.is_some() { 4 } else { 3 };
    if systemd::journal_send(priority, &message, &fields) {
        return;
    }
    tracing::warn!(
        message_id,
        mail_kind = %row.kind,
        outbox_id = %row.id,
        tenant_id = %row.tenant_id,
        mail_error = e.class,
        smtp_code = %code,
        attempts = %attempts,
        "{message}"
    );
}

/// Sets the `opentrusty_mail_queue_depth` gauge (messages neither sent nor given up on); called
/// when `/metrics` is scraped, so an idle daemon does not count every second.
pub async fn gauge_queue_depth(app: &App) {
    let count = async {
        let mut tx = app.store.read().await?;
        tx.outbox_pending_count().await
    };
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), count).await {
        metrics::gauge!("opentrusty_mail_queue_depth").set(n as f64);
    }
}
