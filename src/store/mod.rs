//! Persistence: the only module that names sqlx. One API over two backends — SQLite (embedded
//! default, WAL) and PostgreSQL (production, scale-out). Queries are written once in portable SQL
//! (`$1` bind parameters, integer unix timestamps, text ids) and dispatched per method by
//! [`on_tx!`]; backend-specific set-up lives in `sqlite.rs` and `postgres.rs`.

pub mod api_tokens;
pub mod audit;
pub mod ceremonies;
mod clients;
mod codes;
pub mod consents;
pub mod console;
pub mod factor_notices;
pub mod factors;
pub mod group;
pub mod keys;
pub mod links;
pub mod login_stats;
pub mod mail_delivery;
mod meta;
pub mod notify;
pub mod outbox;
mod postgres;
mod purge;
mod registrations;
mod roles;
pub mod scope;
pub mod sessions;
mod sqlite;
mod tenants;
mod tokens;
pub mod users;

use std::time::Duration;

use crate::config::DatabaseUrl;

pub use codes::CodeRow;
pub use group::{Claim, GroupWriter, WriteSet, Written};
pub use keys::KeyRow;
pub use meta::SCHEMA_VERSION_KEY;
pub use purge::PURGEABLE;
pub use scope::TenantScope;
pub use tokens::{AccessRow, Holder, RefreshRow, Revoked};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the name says which (e.g. `tenant slug`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database cannot serve right now: it is unreachable, the connection broke, no
    /// pooled connection came free in time, the server is shutting down or refusing
    /// connections, or SQLite stayed locked or ran out of space. An outage, not a bug: callers
    /// answer 503 with `Retry-After`, and the pool reconnects by itself (see `is_outage`).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database error: a bug (bad SQL, a type mismatch) or a violated constraint.
    #[error("database error: {0}")]
    Backend(sqlx::Error),
    /// A stored value does not parse (a bug or a hand-edited database), named by column.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    /// Maps a unique-constraint violation to [`Error::Conflict`], anything else as `From` does.
    pub fn conflict_as(e: sqlx::Error, what: &'static str) -> Error {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(what),
            _ => Error::from(e),
        }
    }

    /// Whether this is an outage ([`Error::Unavailable`]) rather than a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        if is_outage(&e) {
            Error::Unavailable(e.to_string())
        } else {
            Error::Backend(e)
        }
    }
}

/// True when a sqlx error means "the database cannot serve right now" rather than "this
/// statement is wrong": I/O and TLS failures (connection refused, reset, timed out), pool
/// timeouts and a closed pool, a crashed connection worker, and the server-side codes for the
/// same situations — PostgreSQL SQLSTATE class 08 (connection exception), 53 (insufficient
/// resources: too many connections, disk full, out of memory), 57P01–57P03 (shutdown, crash
/// recovery, "cannot connect now"); SQLite BUSY and LOCKED (still held after the busy
/// timeout), IOERR, FULL and CANTOPEN.
fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // The extended result code in decimal; its low byte is the primary code:
                // SQLITE_BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
                code.parse::<u32>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14))
            } else {
                outage_sqlstate(&code)
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of an outage (PostgreSQL documentation, Appendix A).
fn outage_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to one of the two backends. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(sqlite::Pools),
    Postgres(sqlx::PgPool),
}

/// Pool occupancy for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

impl Store {
    /// Opens the pool. PostgreSQL connections are made lazily, so a database that is down at
    /// start-up surfaces in `migrate`/`ping` rather than here.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Store> {
        match url {
            DatabaseUrl::Sqlite(path) => sqlite::connect(path, max_connections)
                .await
                .map(Store::Sqlite),
            DatabaseUrl::Postgres(url) => {
                postgres::connect(url, max_connections).map(Store::Postgres)
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend (idempotent; PostgreSQL takes an
    /// advisory lock so several nodes can start at once).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(&p.writer).await?,
            Store::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Names of the embedded migrations, `NNNN_name` (a test checks both backends agree).
    pub fn migration_names(backend: Backend) -> Vec<String> {
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .iter()
            .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
            .collect()
    }

    /// Checks that the database answers a trivial query within `deadline`.
    pub async fn ping(&self, deadline: Duration) -> Result<()> {
        let q = async {
            match self {
                Store::Sqlite(p) => sqlx::query("SELECT 1")
                    .execute(&p.readers)
                    .await
                    .map(|_| ()),
                Store::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            }
        };
        match tokio::time::timeout(deadline, q).await {
            Ok(r) => r.map_err(Error::from),
            Err(_) => Err(Error::from(sqlx::Error::PoolTimedOut)),
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Store::Sqlite(p) => PoolStats {
                size: p.writer.size() + p.readers.size(),
                idle: (p.writer.num_idle() + p.readers.num_idle()) as u32,
                max: p.writer.options().get_max_connections()
                    + p.readers.options().get_max_connections(),
            },
            Store::Postgres(p) => PoolStats {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
        }
    }

    /// Starts a transaction that will write. On SQLite it runs on the one writer connection and
    /// is `BEGIN IMMEDIATE`, so the write lock is taken up front (another process holding it is
    /// waited for, busy timeout) instead of failing on upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Store::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Starts a read-only unit of work: a pooled connection, no transaction (see [`Tx`]).
    pub async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p) => Tx::SqliteConn(p.readers.acquire().await?),
            Store::Postgres(p) => Tx::PostgresConn(p.acquire().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p) => {
                p.readers.close().await;
                p.writer.close().await;
            }
            Store::Postgres(p) => p.close().await,
        }
    }
}

/// A unit of work: a transaction (dropped without [`Tx::commit`], it rolls back), or for
/// [`Store::read`] a plain pooled connection on which every statement runs on its own. Reads
/// skip BEGIN/COMMIT because every statement costs a hand-off to sqlx's connection thread
/// (SQLite) or a round trip (PostgreSQL): that overhead tripled the cost of one-query reads
/// such as introspection. Codes and tokens are written by [`group::GroupWriter`].
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    SqliteConn(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    PostgresConn(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
            // Nothing to commit: each statement of a read ran on its own.
            Tx::SqliteConn(_) | Tx::PostgresConn(_) => {}
        }
        Ok(())
    }
}

/// Runs the same expression against whichever backend a [`Tx`] holds: `$conn` is bound to the
/// backend's connection, so `sqlx::query(...).fetch_one(&mut **$conn)` type-checks in both arms.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite($conn) => $body,
            $crate::store::Tx::Postgres($conn) => $body,
            $crate::store::Tx::SqliteConn($conn) => $body,
            $crate::store::Tx::PostgresConn($conn) => $body,
        }
    };
}
pub(crate) use on_tx;
