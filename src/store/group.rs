//! Group commit for the token endpoints' writes.
//!
//! Every code, access token and refresh token the daemon issues is written through one
//! [`GroupWriter`]: a task that takes whatever [`WriteSet`]s are waiting, writes all of them in
//! one transaction (one conditional `UPDATE` per kind of claim, one multi-row `INSERT` per table)
//! and answers each caller after the commit. Nothing is acknowledged before it is committed.
//!
//! Why: SQLite commits one transaction at a time, and each commit writes the changed pages of
//! the table and all its indexes to the WAL. One commit per token capped `client_credentials`
//! at a few thousand per second whatever the CPU; with group commit the cost of a commit (and
//! of every statement's hand-off to sqlx's connection thread) is shared by every request that
//! arrived while the previous batch was being written. PostgreSQL gains the same way (one
//! fsync per batch). Under no load a batch holds one set and costs what a plain transaction did.
//!
//! A set is all-or-nothing: its claim (a code or refresh token marked used, or a used refresh
//! token's one grace retry, which only one concurrent request can win) decides whether its
//! rows are written. If a batch fails (say one set's client was deleted a moment ago and its
//! foreign key fails), the batch is rolled back and every set in it is retried alone, so one
//! bad set fails only itself. A database outage is different: the batch and everything queued
//! behind it fail at once with [`Error::Unavailable`] (503 to the callers), instead of each
//! waiting for the pool again.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::codes::COLUMNS as CODE_COLUMNS;
use super::tokens::{ACCESS, REFRESH, passes};
use super::{AccessRow, CodeRow, Error, RefreshRow, Result, Store, Tx, on_tx};
use crate::clock::UnixTime;
use crate::domain::ids::TenantId;
use crate::domain::tenant::Tenant;

/// At most this many sets share one transaction (bounds the statement size: 32 rows of 15
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
    /// The one grace retry of a used refresh token (RFC 9700 §4.14.2): won only if the token
    /// has not been retried yet and is not revoked (a revoked family revokes every token of
    /// it). The winner's new tokens replace everything minted in the family after
    /// `generation`: those rows are revoked in the same transaction, so the family keeps at
    /// most one live refresh token.
    Retry {
        hash: String,
        family: String,
        generation: i64,
    },
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
            // An outage fails the batch at once, and everything that queued while this batch
            // waited for the database: retrying each set alone would make every caller wait
            // out the pool's acquire timeout once more, one after another.
            Err(Error::Unavailable(why)) => {
                let waiting = std::iter::from_fn(|| rx.try_recv().ok());
                for (_, reply) in batch.drain(..).chain(waiting) {
                    let _ = reply.send(Err(Error::Unavailable(why.clone())));
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

/// Bind placeholders in order: `$1`, `$2` and so on for PostgreSQL, `?` for SQLite (see
/// [`insert_sql`]).
struct Placeholders {
    numbered: bool,
    n: usize,
}

impl Placeholders {
    fn for_tx(tx: &Tx) -> Placeholders {
        Placeholders {
            numbered: matches!(tx, Tx::Postgres(_) | Tx::PostgresConn(_)),
            n: 0,
        }
    }

    /// Appends `count` placeholders to `sql`: `?, ?, ?`.
    fn list(&mut self, sql: &mut String, count: usize) {
        for i in 0..count {
            sql.push_str(if i == 0 { "" } else { ", " });
            self.n += 1;
            if self.numbered {
                let _ = write!(sql, "${}", self.n);
            } else {
                sql.push('?');
            }
        }
    }

    /// Appends `count` parenthesised groups of `width` placeholders: `(?, ?), (?, ?)`.
    fn tuples(&mut self, sql: &mut String, count: usize, width: usize) {
        for i in 0..count {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            self.list(sql, width);
            sql.push(')');
        }
    }
}

/// The rows of one kind that `sets` carry, each with its set's tenant id and time.
fn rows<'a, T>(
    sets: &[&'a WriteSet],
    pick: impl Fn(&'a WriteSet) -> Option<&'a T>,
) -> Vec<(String, UnixTime, &'a T)> {
    sets.iter()
        .filter_map(|s| pick(s).map(|r| (s.tenant_id.to_string(), s.now, r)))
        .collect()
}

/// One multi-row `INSERT` of `$rows` (from [`rows`]) into `$table`, binding each row with
/// `$bind`; nothing when there are none.
macro_rules! insert_rows {
    ($tx:expr, $table:expr, $columns:expr, $rows:expr, |$q:ident, $row:pat_param| $bind:expr) => {{
        let rows = $rows;
        if !rows.is_empty() {
            let tx: &mut Tx = $tx;
            let sql = sqlx::AssertSqlSafe(insert_sql(tx, $table, $columns, rows.len()));
            on_tx!(tx, |conn| {
                let mut $q = sqlx::query(sql);
                for $row in &rows {
                    $q = $bind;
                }
                $q.execute(&mut **conn).await?;
            });
        }
    }};
}

/// Writes `sets` in one transaction; one outcome per set, in order.
async fn write_batch(store: &Store, sets: &[&WriteSet]) -> Result<Vec<Written>> {
    let mut tx = store.begin().await?;
    let mut won = HashSet::new();
    for kind in [ClaimKind::Code, ClaimKind::Refresh, ClaimKind::Retry] {
        won.extend(claim_all(&mut tx, sets, kind).await?);
    }
    // A credential claimed twice in one batch goes to the first set that asked for it.
    let outcomes: Vec<Written> = sets
        .iter()
        .map(|set| match &set.claim {
            None => Written::Done,
            Some(c) if won.remove(&(c.kind(), set.tenant_id.to_string(), c.hash().to_owned())) => {
                Written::Done
            }
            Some(_) => Written::ClaimLost,
        })
        .collect();
    let winners: Vec<&WriteSet> = sets
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == Written::Done)
        .map(|(s, _)| *s)
        .collect();
    let codes = rows(&winners, |s| s.code.as_ref());
    let code_columns = format!("{CODE_COLUMNS}, created_at");
    insert_rows!(&mut tx, "auth_codes", &code_columns, codes, |q,
                                                               (
        tenant,
        now,
        c,
    )| q
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
        .bind(&c.amr)
        .bind(*now));
    let access = rows(&winners, |s| s.access.as_ref());
    insert_rows!(&mut tx, "access_tokens", ACCESS, access, |q,
                                                            (
        tenant,
        _,
        t,
    )| q
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
        .bind(t.created_at)
        .bind(t.generation)
        .bind(&t.amr));
    let refresh = rows(&winners, |s| s.refresh.as_ref());
    insert_rows!(&mut tx, "refresh_tokens", REFRESH, refresh, |q,
                                                               (
        tenant,
        _,
        t,
    )| q
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
        .bind(t.created_at)
        .bind(t.generation)
        .bind(t.retried_at)
        .bind(&t.amr));
    // After the inserts, so a rotation of a later token of the same family that won in this
    // very batch is revoked too.
    for set in &winners {
        if let Some(Claim::Retry {
            family, generation, ..
        }) = &set.claim
        {
            supersede(&mut tx, set, family, *generation).await?;
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Revokes what was minted in `family` after `generation`, except the retry's own new tokens
/// (again until a pass changes nothing, as `TenantScope::family_revoke` does: on PostgreSQL
/// another node may commit a rotation in this family while the first pass runs).
async fn supersede(tx: &mut Tx, set: &WriteSet, family: &str, generation: i64) -> Result<()> {
    const R: &str = "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 \
                     AND generation > $4 AND revoked_at IS NULL AND token_hash <> $5";
    const A: &str = "UPDATE access_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 \
                     AND generation > $4 AND revoked_at IS NULL AND token_hash <> $5";
    let tenant = set.tenant_id.to_string();
    let own = |h: Option<&String>| h.cloned().unwrap_or_default();
    let statements = [
        (R, own(set.refresh.as_ref().map(|r| &r.token_hash))),
        (A, own(set.access.as_ref().map(|a| &a.token_hash))),
    ];
    for _ in 0..passes(tx) {
        let mut changed = 0;
        for (sql, keep) in &statements {
            changed += on_tx!(&mut *tx, |conn| sqlx::query(*sql)
                .bind(&tenant)
                .bind(family)
                .bind(set.now)
                .bind(generation)
                .bind(keep)
                .execute(&mut **conn)
                .await?
                .rows_affected());
        }
        if changed == 0 {
            break;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ClaimKind {
    Code,
    Refresh,
    Retry,
}

impl Claim {
    fn kind(&self) -> ClaimKind {
        match self {
            Claim::Code(_) => ClaimKind::Code,
            Claim::Refresh(_) => ClaimKind::Refresh,
            Claim::Retry { .. } => ClaimKind::Retry,
        }
    }

    fn hash(&self) -> &str {
        match self {
            Claim::Code(h) | Claim::Refresh(h) | Claim::Retry { hash: h, .. } => h,
        }
    }
}

/// Spends every credential of one kind claimed in this batch, in one conditional `UPDATE`
/// (only unspent, and for refresh tokens unrevoked, rows change; a retry needs a used token
/// not retried before). Returns the (kind, tenant, hash) triples that were won.
async fn claim_all(
    tx: &mut Tx,
    sets: &[&WriteSet],
    kind: ClaimKind,
) -> Result<HashSet<(ClaimKind, String, String)>> {
    let claims: Vec<(String, &str, UnixTime)> = sets
        .iter()
        .filter_map(|s| {
            let c = s.claim.as_ref().filter(|c| c.kind() == kind)?;
            Some((s.tenant_id.to_string(), c.hash(), s.now))
        })
        .collect();
    let Some(now) = claims.iter().map(|c| c.2).max() else {
        return Ok(HashSet::new());
    };
    let (table, key, set, condition) = match kind {
        ClaimKind::Code => ("auth_codes", "code_hash", "used_at", "used_at IS NULL"),
        ClaimKind::Refresh => (
            "refresh_tokens",
            "token_hash",
            "used_at",
            "used_at IS NULL AND revoked_at IS NULL",
        ),
        ClaimKind::Retry => (
            "refresh_tokens",
            "token_hash",
            "retried_at",
            "used_at IS NOT NULL AND retried_at IS NULL AND revoked_at IS NULL",
        ),
    };
    // `key IN (..)` finds the rows by primary key; the row-value test then binds each hash to
    // its tenant (on its own it would not use the index: SQLite scans the table for it).
    let mut p = Placeholders::for_tx(tx);
    let mut sql = format!("UPDATE {table} SET {set} = ");
    p.list(&mut sql, 1);
    let _ = write!(sql, " WHERE {condition} AND {key} IN (");
    p.list(&mut sql, claims.len());
    let _ = write!(sql, ") AND (tenant_id, {key}) IN (VALUES ");
    p.tuples(&mut sql, claims.len(), 2);
    let _ = write!(sql, ") RETURNING tenant_id, {key}");
    let sql = sqlx::AssertSqlSafe(sql);
    let won: Vec<(String, String)> = on_tx!(tx, |conn| {
        let mut q = sqlx::query_as(sql).bind(now);
        for (_, hash, _) in &claims {
            q = q.bind(*hash);
        }
        for (tenant, hash, _) in &claims {
            q = q.bind(tenant).bind(*hash);
        }
        q.fetch_all(&mut **conn).await?
    });
    Ok(won.into_iter().map(|(t, h)| (kind, t, h)).collect())
}

/// `INSERT INTO table (tenant_id, columns) VALUES ($1, ..), (..), ..` for `rows` rows.
///
/// SQLite gets anonymous `?` placeholders: sqlx looks up the name of every numbered one, and
/// SQLite finds a name by walking the statement's list of names, which made binding a 400-value
/// statement quadratic (5 % of the writer's time).
fn insert_sql(tx: &Tx, table: &str, columns: &str, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} (tenant_id, {columns}) VALUES ");
    Placeholders::for_tx(tx).tuples(&mut sql, rows, 1 + columns.split(',').count());
    sql
}
