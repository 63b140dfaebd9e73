//! Cross-node cache invalidation over PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! Every store function that changes something a node caches (a tenant, a client with its
//! secret hash, a tenant's signing keys) sends an [`Invalidation`] on [`CHANNEL`] inside its own
//! transaction. PostgreSQL delivers a notification only when that transaction commits, so a
//! node never hears of a change before the change is visible to its next read (PostgreSQL
//! documentation, "NOTIFY"). The writer cannot forget it: the notify sits in the write
//! function, not in its callers.
//!
//! Each daemon holds one dedicated connection that `LISTEN`s ([`CacheListener`]); the service
//! side (`service::invalidate`) applies what arrives. Notifications sent while that connection
//! was down are lost, so the listener reports [`Event::Lost`] and the caches are bypassed
//! until it is back.
//!
//! SQLite has no such channel: the operator CLI may write to the file while the daemon runs,
//! and what bounds the daemon's staleness there is each cache's TTL.

use std::fmt;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::{Result, Store, Tx};
use crate::domain::ids::TenantId;

/// The one channel every node listens on.
pub const CHANNEL: &str = "opentrusty_cache";
/// The listener's `application_name`, so an operator can tell it apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "opentrusty-cache-listener";
/// Reconnection backoff: the first retry comes quickly (a terminated backend, a failover),
/// later ones no faster than this cap while the server stays away.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What changed; the payload of one notification (small: far below PostgreSQL's 8000-byte
/// limit, and free of secrets — ids only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// The tenant row (status, display name), or a new tenant: `tenant:<tenant_id>`.
    Tenant(TenantId),
    /// One client, including its secret hash and status: `client:<tenant_id>:<client_id>`.
    Client { tenant: TenantId, client_id: String },
    /// The tenant's signing keys: `keys:<tenant_id>`.
    Keys(TenantId),
}

impl fmt::Display for Invalidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalidation::Tenant(t) => write!(f, "tenant:{t}"),
            Invalidation::Client { tenant, client_id } => write!(f, "client:{tenant}:{client_id}"),
            Invalidation::Keys(t) => write!(f, "keys:{t}"),
        }
    }
}

impl Invalidation {
    /// Parses a payload; `None` for anything this version does not know (a newer node may
    /// send more kinds: the receiver then drops everything, see `service::invalidate`).
    pub fn parse(payload: &str) -> Option<Invalidation> {
        let (kind, rest) = payload.split_once(':')?;
        match kind {
            "tenant" => rest.parse().ok().map(Invalidation::Tenant),
            "keys" => rest.parse().ok().map(Invalidation::Keys),
            "client" => {
                // The tenant id (a UUID) has no colon; the client id is the rest, verbatim.
                let (tenant, client_id) = rest.split_once(':')?;
                if client_id.is_empty() {
                    return None;
                }
                Some(Invalidation::Client {
                    tenant: tenant.parse().ok()?,
                    client_id: client_id.to_owned(),
                })
            }
            _ => None,
        }
    }
}

impl Tx {
    /// Queues `what` for delivery when this transaction commits (PostgreSQL); nothing on
    /// SQLite, whose bound is the caches' TTL. On a plain connection ([`Store::read`]) each
    /// statement commits on its own, so the preceding write is already visible.
    pub(super) async fn notify(&mut self, what: &Invalidation) -> Result<()> {
        const SQL: &str = "SELECT pg_notify($1, $2)";
        let payload = what.to_string();
        match self {
            Tx::Postgres(c) => {
                sqlx::query(SQL)
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(&mut **c)
                    .await?;
            }
            Tx::PostgresConn(c) => {
                sqlx::query(SQL)
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(&mut **c)
                    .await?;
            }
            Tx::Sqlite(_) | Tx::SqliteConn(_) => {}
        }
        Ok(())
    }
}

/// What the listener saw.
#[derive(Debug)]
pub enum Event {
    /// `LISTEN` is in place (first time or after a loss): from now on no change is missed,
    /// but anything before this moment may have been.
    Connected,
    /// The connection is gone or could not be made; notifications are being missed.
    Lost(String),
    /// One change, committed.
    Changed(Invalidation),
    /// A payload this version does not understand.
    Unrecognized(String),
}

/// The `LISTEN` side: one dedicated connection (outside the request pool, so a busy pool never
/// starves it), re-established with backoff.
pub struct CacheListener {
    pool: PgPool,
    listener: Option<PgListener>,
    backoff: Duration,
    /// The last connection attempt failed: wait `backoff` before the next.
    failed: bool,
}

impl Store {
    /// The cache listener of this store, or `None` on SQLite (no channel between processes).
    pub fn cache_listener(&self) -> Option<CacheListener> {
        let Store::Postgres(pool) = self else {
            return None;
        };
        let options: PgConnectOptions = (*pool.connect_options())
            .clone()
            .application_name(APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options);
        Some(CacheListener {
            pool,
            listener: None,
            backoff: BACKOFF_MIN,
            failed: false,
        })
    }
}

impl CacheListener {
    /// The next event. Connects (after the backoff, if the last attempt failed) when there is
    /// no connection. Dropping the future is safe at any point (shutdown).
    pub async fn next(&mut self) -> Event {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                if self.failed {
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                }
                return match self.connect().await {
                    Ok(l) => {
                        self.listener = Some(l);
                        self.failed = false;
                        self.backoff = BACKOFF_MIN;
                        Event::Connected
                    }
                    Err(e) => {
                        self.failed = true;
                        Event::Lost(e.to_string())
                    }
                };
            };
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == CHANNEL => {
                    return match Invalidation::parse(n.payload()) {
                        Some(inv) => Event::Changed(inv),
                        None => Event::Unrecognized(n.payload().to_owned()),
                    };
                }
                Ok(Some(_)) => continue,
                // `try_recv` reports a dropped connection as `None` (eager reconnection is off,
                // so the reconnect and its `Connected` event happen here), and an error such as
                // "terminating connection due to administrator command" as `Err`.
                Ok(None) => return self.lost("the connection closed".to_owned()),
                Err(e) => return self.lost(e.to_string()),
            }
        }
    }

    fn lost(&mut self, reason: String) -> Event {
        self.listener = None;
        Event::Lost(reason)
    }

    async fn connect(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let t = TenantId::new();
        let all = [
            Invalidation::Tenant(t),
            Invalidation::Keys(t),
            Invalidation::Client {
                tenant: t,
                client_id: "abc_DEF-123".into(),
            },
            // A client id is verbatim after the tenant id, colons included.
            Invalidation::Client {
                tenant: t,
                client_id: "urn:x:y".into(),
            },
        ];
        for inv in all {
            let text = inv.to_string();
            assert!(text.len() < 400, "{text}");
            assert_eq!(Invalidation::parse(&text), Some(inv), "{text}");
        }
        assert_eq!(Invalidation::Tenant(t).to_string(), format!("tenant:{t}"));
        assert_eq!(
            Invalidation::Client {
                tenant: t,
                client_id: "c1".into()
            }
            .to_string(),
            format!("client:{t}:c1")
        );
    }

    #[test]
    fn junk_is_unrecognized() {
        let t = TenantId::new();
        for bad in [
            "".to_owned(),
            "tenant".to_owned(),
            "tenant:".to_owned(),
            "tenant:not-a-uuid".to_owned(),
            format!("keys:{t}x"),
            format!("client:{t}"),
            format!("client:{t}:"),
            "client:nope:c1".to_owned(),
            format!("users:{t}"),
        ] {
            assert_eq!(Invalidation::parse(&bad), None, "{bad}");
        }
    }
}
