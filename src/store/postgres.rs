//! PostgreSQL set-up: a lazily connecting pool, so the daemon starts (and reports not-ready)
//! while the database is away, and reconnects by itself when it returns.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::Result;

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
        // ones instead of handing them to a request.
        .test_before_acquire(true)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options);
    Ok(pool)
}
