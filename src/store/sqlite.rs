//! SQLite set-up: WAL, `synchronous=NORMAL`, foreign keys, busy timeout; the file and its
//! directory are created on first use (mode 0700/0600 through the process umask).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Error, Result};

pub(super) async fn connect(path: &Path, max_connections: u32) -> Result<sqlx::SqlitePool> {
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
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections.max(2))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        // An embedded file has no connection to lose: skip the liveness ping on every acquire,
        // which would cost one more thread round trip per request.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(pool)
}
