//! The mail sender's side of the outbox (`mail_outbox`, migration 0018; rows are queued by
//! `service::mail::queue` in the transaction of the change that causes them). Claims due rows
//! with a lease so that nodes never send the same message at once: on PostgreSQL the claiming
//! subquery locks with `FOR UPDATE SKIP LOCKED`, so two nodes claiming together take different
//! rows instead of waiting for each other; on SQLite the single writer serialises the claim.
//! Like the purges, these statements span tenants: they touch only the delivery columns of
//! rows a tenant-scoped `queue` wrote.

use sqlx::FromRow;

use super::{Result, Store, Tx, on_tx};
use crate::clock::UnixTime;

/// A claimed message.
#[derive(Clone, Debug, FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: i64,
    pub attempts: i32,
}

/// Due, unsent, not permanently failed, and not claimed by a live lease.
const DUE: &str = "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                   AND (claimed_until IS NULL OR claimed_until <= $1)";
const RETURNING: &str =
    "RETURNING id, tenant_id, kind, recipient, subject, body_text, body_html, created_at, attempts";

impl Store {
    /// Claims up to `limit` due messages until `lease_until`, oldest due first, in one
    /// statement (and so one transaction) of its own.
    pub async fn outbox_claim(
        &self,
        now: UnixTime,
        lease_until: UnixTime,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let mut tx = self.begin().await?;
        let lock = match tx {
            Tx::Postgres(_) | Tx::PostgresConn(_) => " FOR UPDATE SKIP LOCKED",
            Tx::Sqlite(_) | Tx::SqliteConn(_) => "",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE mail_outbox SET claimed_until = $2 WHERE id IN \
             (SELECT id FROM mail_outbox WHERE {DUE} ORDER BY next_attempt_at, id LIMIT $3{lock}) \
             {RETURNING}"
        ));
        let rows = on_tx!(&mut tx, |c| sqlx::query_as::<_, OutboxRow>(sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut **c)
            .await?);
        tx.commit().await?;
        Ok(rows)
    }

    /// Drops every lease (SQLite at start-up: one daemon per database file, so a lease still
    /// running belonged to a process that died before it could send or give the row back).
    pub async fn outbox_release_all(&self) -> Result<u64> {
        const SQL: &str = "UPDATE mail_outbox SET claimed_until = NULL \
                           WHERE claimed_until IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL";
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |c| sqlx::query(SQL)
            .execute(&mut **c)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(n)
    }

    /// Marks a message sent and erases its bodies: they hold single-use links, and nothing
    /// secret stays at rest once the message is out.
    pub async fn outbox_sent(&self, id: &str, now: UnixTime) -> Result<()> {
        const SQL: &str = "UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL, \
                           body_text = '', body_html = '', last_error = NULL WHERE id = $1";
        self.outbox_exec(SQL, id, now, None).await
    }

    /// Records a failed attempt and when to try again; gives the claim back.
    pub async fn outbox_retry(
        &self,
        id: &str,
        next_attempt_at: UnixTime,
        error: &str,
    ) -> Result<()> {
        const SQL: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2, \
                           claimed_until = NULL, last_error = $3 WHERE id = $1";
        self.outbox_exec(SQL, id, next_attempt_at, Some(error))
            .await
    }

    /// Gives up on a message for good (a 5xx answer, or retried for too long); erases its
    /// bodies like a sent one.
    pub async fn outbox_failed(&self, id: &str, now: UnixTime, error: &str) -> Result<()> {
        const SQL: &str = "UPDATE mail_outbox SET attempts = attempts + 1, failed_at = $2, \
                           claimed_until = NULL, body_text = '', body_html = '', last_error = $3 \
                           WHERE id = $1";
        self.outbox_exec(SQL, id, now, Some(error)).await
    }

    /// Gives a claim back untouched (the daemon is stopping before it got to the message).
    pub async fn outbox_release(&self, id: &str) -> Result<()> {
        const SQL: &str = "UPDATE mail_outbox SET claimed_until = NULL WHERE id = $1";
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |c| sqlx::query(SQL)
            .bind(id)
            .execute(&mut **c)
            .await
            .map(|_| ())?);
        tx.commit().await
    }

    async fn outbox_exec(
        &self,
        sql: &'static str,
        id: &str,
        at: UnixTime,
        error: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |c| {
            let q = sqlx::query(sql).bind(id).bind(at);
            match error {
                Some(e) => q.bind(e).execute(&mut **c).await.map(|_| ())?,
                None => q.execute(&mut **c).await.map(|_| ())?,
            }
        });
        tx.commit().await
    }
}

impl Tx {
    /// Deletes up to `batch` messages queued before `before` and since sent or given up on;
    /// returns the count. (A message is given up on a day after it was queued at the latest,
    /// so "queued a week ago" is "done for six days at least"; and it is the partial index
    /// `mail_outbox_done`.)
    pub async fn outbox_purge(&mut self, before: UnixTime, batch: i64) -> Result<u64> {
        const SQL: &str = "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
                           WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
                           AND created_at < $1 LIMIT $2)";
        Ok(on_tx!(self, |c| sqlx::query(SQL)
            .bind(before)
            .bind(batch)
            .execute(&mut **c)
            .await?
            .rows_affected()))
    }
}
