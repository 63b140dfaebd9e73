//! Outgoing mail (issue 13). A message is rendered ([`compose`]), then queued in the outbox
//! inside the transaction of the change that causes it ([`queue`]): it exists exactly when the
//! change committed, and a daemon killed after the commit still sends it after a restart.
//! After the commit the caller nudges the sender ([`wake`]), which delivers queued messages
//! in the background with retries.
//!
//! Mail is off without `OPENTRUSTY_SMTP_URL` ([`enabled`]); the features that need it are
//! then not offered.

mod compose;
pub mod retry;
pub mod sender;
pub mod transport;

pub use compose::{Letter, compose};

use crate::app::App;
use crate::clock::UnixTime;
use crate::store::TenantScope;
use crate::store::outbox::NewMail;

use super::Result;

/// A rendered message, ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// What the message is (`password_reset`, `verify_email`, ...): for logs and metrics,
    /// which never carry a body.
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Whether this installation sends mail.
pub fn enabled(app: &App) -> bool {
    app.config.mail.is_some()
}

/// Queues `mail` in the caller's transaction (the tenant of `scope`).
pub async fn queue(scope: &mut TenantScope<'_>, mail: &Mail, now: UnixTime) -> Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    scope
        .outbox_insert(
            &NewMail {
                id: &id,
                kind: mail.kind,
                recipient: &mail.to,
                subject: &mail.subject,
                body_text: &mail.text,
                body_html: &mail.html,
            },
            now,
        )
        .await?;
    Ok(())
}

/// Tells the sender that a message was committed, so it leaves now rather than at the next
/// tick. Call it after the commit (before, the sender might not see the row yet).
pub fn wake(app: &App) {
    app.mail_wake.notify_one();
}
