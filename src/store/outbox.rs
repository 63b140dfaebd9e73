//! The mail outbox (tenant-scoped insert): a message is queued in the transaction of the change
//! that causes it, so a rolled-back change sends nothing and a committed one is never lost.
//! Claiming and sending belong to the sender (service::mail::sender).

use super::{Result, TenantScope, on_tx};
use crate::clock::UnixTime;

/// A message to queue, rendered already.
pub struct NewMail<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

impl TenantScope<'_> {
    /// Queues a message, due at once.
    pub async fn outbox_insert(&mut self, m: &NewMail<'_>, now: UnixTime) -> Result<()> {
        const SQL: &str = "INSERT INTO mail_outbox (tenant_id, id, kind, recipient, subject, \
                           body_text, body_html, created_at, next_attempt_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
        let tenant = self.tenant_id();
        on_tx!(self.tx, |c| sqlx::query(SQL)
            .bind(&tenant)
            .bind(m.id)
            .bind(m.kind)
            .bind(m.recipient)
            .bind(m.subject)
            .bind(m.body_text)
            .bind(m.body_html)
            .bind(now)
            .execute(&mut **c)
            .await?
            .rows_affected());
        Ok(())
    }
}

impl super::Tx {
    /// Messages not yet sent and not given up, across tenants (the queue depth).
    pub async fn outbox_pending_count(&mut self) -> Result<i64> {
        const SQL: &str =
            "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL";
        Ok(on_tx!(self, |c| sqlx::query_scalar(SQL)
            .fetch_one(&mut **c)
            .await?))
    }
}
