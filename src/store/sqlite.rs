//! SQLite set-up: WAL, `synchronous=NORMAL`, foreign keys, busy timeout; the file and its
//! directory are created on first use (mode 0700/0600 through the process umask).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Error, Result};

/// The SQLite side of [`super::Store`]: one connection that writes, a few that only read.
///
/// SQLite lets one connection write at a time. With every pooled connection allowed to write,
/// concurrent transactions collide on the write lock and wait in SQLite's busy handler (sleeps
/// of 1 ms and more), which dominated the latency of every write endpoint under load. A pool of
/// exactly one writer queues writers fairly in memory instead; WAL lets the readers go on
/// alongside it.
#[derive(Clone, Debug)]
pub struct Pools {
    pub(super) writer: sqlx::SqlitePool,
    pub(super) readers: sqlx::SqlitePool,
    /// Write transactions begun so far; the checkpointer sleeps while it does not move.
    pub(super) writes: Arc<AtomicU64>,
}

impl Pools {
    /// `BEGIN IMMEDIATE` on the writer.
    pub(super) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

pub(super) async fn connect(path: &Path, max_connections: u32) -> Result<Pools> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL is durable across process crashes; only a power loss can drop the last
        // commits, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Other processes (the CLI next to a running daemon) still compete for the write lock.
        .busy_timeout(Duration::from_secs(5))
        // Group commit (store::group) prepares one multi-row INSERT per batch size and table.
        .statement_cache_capacity(256)
        // A multi-row statement keeps a statement journal (to undo itself alone on a
        // constraint error); in a file that cost a write() per page, 10 % of the writer's time.
        .pragma("temp_store", "memory");
    // The writer connects first: it creates the file and switches it to WAL.
    // The writer never checkpoints on its own (see `checkpoints`).
    let writer = pool(options.clone().pragma("wal_autocheckpoint", "0"), 1).await?;
    let readers = pool(options, max_connections.saturating_sub(1).max(1)).await?;
    let pools = Pools {
        writer,
        readers,
        writes: Arc::default(),
    };
    tokio::spawn(checkpoints(pools.clone()));
    Ok(pools)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL frames (4 KiB pages, so 4 MiB, SQLite's own default) beyond which the writer finishes
/// the checkpoint so the WAL can restart. A longer WAL did not speed up writes and slowed every
/// read (each page read looks the page up in the WAL index first): userinfo −25 % at 8192.
const RESTART_FRAMES: i64 = 1000;

/// WAL checkpoints off the writer's path. By default SQLite checkpoints inside the commit that
/// grows the WAL past 1000 pages, so the one writer (and every request queued behind it) waits
/// for the copy and two fsyncs. Instead a reader connection copies the WAL in the background
/// every 100 ms after writes (PASSIVE: never blocks the writer), and when the WAL has grown
/// past [`RESTART_FRAMES`] pages the writer runs one more PASSIVE checkpoint between two batches. That one only copies the
/// few pages written since, and it completes with no write in flight, so the next transaction
/// starts the WAL over instead of letting it grow. Ends when the pools are closed.
async fn checkpoints(pools: Pools) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    loop {
        tick.tick().await;
        if pools.readers.is_closed() || pools.writer.is_closed() {
            return;
        }
        // Nothing written since the last round: nothing to copy (an idle daemon stays idle).
        let writes = pools.writes.load(Ordering::Relaxed);
        if writes == seen {
            continue;
        }
        seen = writes;
        match passive(&pools.readers).await {
            Ok(frames) if frames >= RESTART_FRAMES => {
                if let Err(e) = passive(&pools.writer).await {
                    tracing::debug!(error = %e, "WAL checkpoint on the writer failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "background WAL checkpoint failed"),
        }
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)`; returns the number of frames in the WAL.
async fn passive(pool: &sqlx::SqlitePool) -> Result<i64> {
    let (_busy, frames, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(pool)
            .await?;
    Ok(frames)
}

async fn pool(options: SqliteConnectOptions, size: u32) -> Result<sqlx::SqlitePool> {
    Ok(SqlitePoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        // An embedded file has no connection to lose: skip the liveness ping on every acquire,
        // which would cost one more thread round trip per request.
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}
