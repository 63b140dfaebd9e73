//! PostgreSQL set-up: a lazily connecting pool, so the daemon starts (and reports not-ready)
//! while the database is away, and reconnects by itself when it returns.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::Result;

/// A pooled connection idle this long is pinged before a request gets it.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub(super) fn connect(url: &url::Url, max_connections: u32) -> Result<sqlx::PgPool> {
    let options: PgConnectOptions = url.as_str().parse()?;
    let options = options.application_name("opentrusty");
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        // Short: while the server is down a request learns it within this time and answers
        // 503 (`Error::Unavailable`) instead of hanging; it covers connecting too.
        .acquire_timeout(Duration::from_secs(3))
        // Validate connections that sat idle: after a database restart the pool discards dead
        // ones instead of handing them to a request. Only those: sqlx's `test_before_acquire`
        // pings on every acquire, one more round trip per request, which halved the rate of
        // one-query reads (introspection, userinfo). A connection in steady use is known to
        // work; if the server went away meanwhile, its next statement fails as an outage (503)
        // and the broken connection is discarded.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options);
    Ok(pool)
}
