//! Group commit for the token endpoints' writes.
//!
//! Every code, access token and refresh token the daemon issues is written through one
//! [`GroupWriter`]: a task that takes whatever [`WriteSet`]s are waiting, writes all of them in
//! one transaction (one conditional `UPDATE` per claim, then one multi-row `INSERT` per table)
//! and answers each caller after the commit. Nothing is acknowledged before it is committed.
//!
//! Why: SQLite commits one transaction at a time, and each commit writes the changed pages of
//! the table and all its indexes to the WAL. One commit per token capped `client_credentials`
//! at a few thousand per second whatever the CPU; with group commit the cost of a commit (and
//! of every statement's hand-off to sqlx's connection thread) is shared by every request that
//! arrived while the previous batch was being written. PostgreSQL gains the same way (one
//! fsync per batch). Under no load a batch holds one set and costs what a plain transaction did.
//!
//! A set is all-or-nothing: its claim (a code or refresh token marked used, which only one
//! concurrent request can win) decides whether its rows are written. If a batch fails (say one
//! set's client was deleted a moment ago and its foreign key fails), the batch is rolled back
//! and every set in it is retried alone, so one bad set fails only itself.

use std::fmt::Write as _;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::codes::COLUMNS as CODE_COLUMNS;
use super::tokens::{ACCESS, REFRESH};
use super::{AccessRow, CodeRow, Error, RefreshRow, Result, Store, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;

/// At most this many sets share one transaction (bounds the statement size: 32 rows of 13
/// parameters).
const MAX_BATCH: usize = 32;

/// What one request writes, atomically.
#[derive(Debug, Clone)]
pub struct WriteSet {
    tenant_id: TenantId,
    now: UnixTime,
    claim: Option<Claim>,
    code: Option<CodeRow>,
    access: Option<AccessRow>,
    refresh: Option<RefreshRow>,
}

/// A single-use credential spent by this set; only one concurrent set can win it.
#[derive(Debug, Clone)]
pub enum Claim {
    /// An authorization code (by hash), spent at its redemption.
    Code(String),
    /// A refresh token (by hash), spent when it rotates; a revoked one cannot be claimed.
    Refresh(String),
}

/// What became of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Claim won (or none) and every row is committed.
    Done,
    /// Another request spent the claimed credential first; nothing of this set was written.
    ClaimLost,
}

impl WriteSet {
    /// An empty set for `tenant` (a tenant the store returned, like [`super::TenantScope`]).
    pub fn new(tenant: &Tenant, now: UnixTime) -> WriteSet {
        WriteSet {
            tenant_id: tenant.id,
            now,
            claim: None,
            code: None,
            access: None,
            refresh: None,
        }
    }

    pub fn claim(mut self, claim: Claim) -> Self {
        self.claim = Some(claim);
        self
    }

    pub fn code(mut self, row: CodeRow) -> Self {
        self.code = Some(row);
        self
    }

    pub fn access(mut self, row: AccessRow) -> Self {
        self.access = Some(row);
        self
    }

    pub fn refresh(mut self, row: RefreshRow) -> Self {
        self.refresh = Some(row);
        self
    }
}

type Reply = oneshot::Sender<Result<Written>>;

/// The handle requests write through. Cheap to share; the task starts on first use, so building
/// an [`crate::app::App`] needs no runtime.
#[derive(Debug)]
pub struct GroupWriter {
    store: Store,
    queue: OnceLock<mpsc::UnboundedSender<(WriteSet, Reply)>>,
}

impl GroupWriter {
    pub fn new(store: Store) -> GroupWriter {
        GroupWriter {
            store,
            queue: OnceLock::new(),
        }
    }

    /// Writes `set` in the next batch and returns once that batch committed (or failed).
    pub async fn write(&self, set: WriteSet) -> Result<Written> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(self.store.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send((set, reply))
            .map_err(|_| Error::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| Error::Backend(sqlx::Error::PoolClosed))?
    }
}

/// The writer task: one batch at a time, each made of everything that queued meanwhile. Ends
/// when the last [`GroupWriter`] is dropped. The queue is unbounded but cannot outgrow the
/// requests in flight: each waits for its answer.
async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<(WriteSet, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        metrics::counter!("opentrusty_db_group_commit_batches_total").increment(1);
        metrics::counter!("opentrusty_db_group_commit_sets_total").increment(batch.len() as u64);
        let sets: Vec<&WriteSet> = batch.iter().map(|(s, _)| s).collect();
        match write_batch(&store, &sets).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    // A caller that went away (client disconnected) needs no answer.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some((_, reply)) = batch.pop() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (set, reply) in batch.drain(..) {
                    let alone = write_batch(&store, &[&set]).await;
                    let _ = reply.send(alone.map(|mut o| o.remove(0)));
                }
            }
        }
    }
}

/// Writes `sets` in one transaction; one outcome per set, in order.
async fn write_batch(store: &Store, sets: &[&WriteSet]) -> Result<Vec<Written>> {
    let mut tx = store.begin().await?;
    let mut outcomes = Vec::with_capacity(sets.len());
    for set in sets {
        let won = match &set.claim {
            None => true,
            Some(claim) => claim_one(&mut tx, set, claim).await?,
        };
        outcomes.push(if won {
            Written::Done
        } else {
            Written::ClaimLost
        });
    }
    let winners: Vec<&WriteSet> = sets
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == Written::Done)
        .map(|(s, _)| *s)
        .collect();
    insert_codes(&mut tx, &winners).await?;
    insert_access(&mut tx, &winners).await?;
    insert_refresh(&mut tx, &winners).await?;
    tx.commit().await?;
    Ok(outcomes)
}

async fn claim_one(tx: &mut Tx, set: &WriteSet, claim: &Claim) -> Result<bool> {
    const CODE: &str = "UPDATE auth_codes SET used_at = $3 \
                        WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL";
    const REFRESH_TOKEN: &str = "UPDATE refresh_tokens SET used_at = $3 \
                                 WHERE tenant_id = $1 AND token_hash = $2 \
                                 AND used_at IS NULL AND revoked_at IS NULL";
    let (sql, hash) = match claim {
        Claim::Code(h) => (CODE, h),
        Claim::Refresh(h) => (REFRESH_TOKEN, h),
    };
    let tenant = set.tenant_id.to_string();
    let n = on_tx!(tx, |conn| sqlx::query(sql)
        .bind(tenant)
        .bind(hash)
        .bind(set.now)
        .execute(&mut **conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// `INSERT INTO table (tenant_id, columns) VALUES ($1, ..), (..), ..` for `rows` rows.
///
/// SQLite gets anonymous `?` placeholders: sqlx looks up the name of every numbered one, and
/// SQLite finds a name by walking the statement's list of names, which made binding a 400-value
/// statement quadratic (5 % of the writer's time).
fn insert_sql(tx: &Tx, table: &str, columns: &str, rows: usize) -> String {
    let numbered = matches!(tx, Tx::Postgres(_) | Tx::PostgresConn(_));
    let per_row = 1 + columns.split(',').count();
    let mut sql = format!("INSERT INTO {table} (tenant_id, {columns}) VALUES ");
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..per_row {
            n += 1;
            sql.push_str(if c == 0 { "" } else { ", " });
            if numbered {
                let _ = write!(sql, "${n}");
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

async fn insert_codes(tx: &mut Tx, sets: &[&WriteSet]) -> Result<()> {
    let rows: Vec<(String, &CodeRow, UnixTime)> = sets
        .iter()
        .filter_map(|s| s.code.as_ref().map(|c| (s.tenant_id.to_string(), c, s.now)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let columns = format!("{CODE_COLUMNS}, created_at");
    let sql = sqlx::AssertSqlSafe(insert_sql(tx, "auth_codes", &columns, rows.len()));
    on_tx!(tx, |conn| {
        let mut q = sqlx::query(sql);
        for (tenant, c, now) in &rows {
            q = q
                .bind(tenant)
                .bind(&c.code_hash)
                .bind(&c.client_id)
                .bind(&c.user_id)
                .bind(&c.redirect_uri)
                .bind(&c.scope)
                .bind(&c.nonce)
                .bind(&c.code_challenge)
                .bind(&c.code_challenge_method)
                .bind(c.auth_time)
                .bind(&c.sid)
                .bind(c.expires_at)
                .bind(c.used_at)
                .bind(*now);
        }
        q.execute(&mut **conn).await?;
    });
    Ok(())
}

async fn insert_access(tx: &mut Tx, sets: &[&WriteSet]) -> Result<()> {
    let rows: Vec<(String, &AccessRow)> = sets
        .iter()
        .filter_map(|s| s.access.as_ref().map(|a| (s.tenant_id.to_string(), a)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = sqlx::AssertSqlSafe(insert_sql(tx, "access_tokens", ACCESS, rows.len()));
    on_tx!(tx, |conn| {
        let mut q = sqlx::query(sql);
        for (tenant, t) in &rows {
            q = q
                .bind(tenant)
                .bind(&t.token_hash)
                .bind(&t.client_id)
                .bind(&t.user_id)
                .bind(&t.scope)
                .bind(&t.family_id)
                .bind(&t.code_hash)
                .bind(t.auth_time)
                .bind(&t.sid)
                .bind(t.expires_at)
                .bind(t.revoked_at)
                .bind(t.created_at);
        }
        q.execute(&mut **conn).await?;
    });
    Ok(())
}

async fn insert_refresh(tx: &mut Tx, sets: &[&WriteSet]) -> Result<()> {
    let rows: Vec<(String, &RefreshRow)> = sets
        .iter()
        .filter_map(|s| s.refresh.as_ref().map(|r| (s.tenant_id.to_string(), r)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = sqlx::AssertSqlSafe(insert_sql(tx, "refresh_tokens", REFRESH, rows.len()));
    on_tx!(tx, |conn| {
        let mut q = sqlx::query(sql);
        for (tenant, t) in &rows {
            q = q
                .bind(tenant)
                .bind(&t.token_hash)
                .bind(&t.client_id)
                .bind(&t.user_id)
                .bind(&t.family_id)
                .bind(&t.scope)
                .bind(t.auth_time)
                .bind(&t.sid)
                .bind(&t.code_hash)
                .bind(t.expires_at)
                .bind(t.used_at)
                .bind(t.revoked_at)
                .bind(t.created_at);
        }
        q.execute(&mut **conn).await?;
    });
    Ok(())
}
