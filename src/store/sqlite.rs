//! SQLite set-up: WAL, `synchronous=NORMAL`, foreign keys, busy timeout; the file and its
//! directory are created on first use (mode 0700/0600 through the process umask).

use std::path::Path;
use std::str::FromStr;
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
        .statement_cache_capacity(256);
    // The writer connects first: it creates the file and switches it to WAL.
    let writer = pool(options.clone(), 1).await?;
    let readers = pool(options, max_connections.saturating_sub(1).max(1)).await?;
    Ok(Pools { writer, readers })
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
