//! Connection and access-log settings: how long a client may take to send its request head,
//! how long an idle keep-alive connection stays open, how many connections one listener holds,
//! and which requests are written to the log.

use std::time::Duration;

use super::{ConfigError, parse_seconds, parse_u32};

/// Which requests get an access-log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLog {
    /// Every request (a line each; heavy under load, see README).
    All,
    /// Server errors, client errors on the admin plane, and slow requests (the default).
    Errors,
    /// None (audit events and internal errors are still logged).
    Off,
}

impl AccessLog {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLog::All => "all",
            AccessLog::Errors => "errors",
            AccessLog::Off => "off",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Longest time from accepting a connection (or from the first byte of a next request on a
    /// kept-alive one) to the end of the request head.
    pub header_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this long.
    pub idle_timeout: Duration,
    /// Open connections per listener; beyond it a new connection is accepted and closed.
    pub max_connections: u32,
    pub access_log: AccessLog,
    /// A request slower than this is logged even with `ACCESS_LOG=errors`.
    pub slow_request: Duration,
}

pub(super) struct Raw<'a> {
    pub header_timeout: Option<&'a str>,
    pub idle_timeout: Option<&'a str>,
    pub max_connections: Option<&'a str>,
    pub access_log: Option<&'a str>,
    pub slow_ms: Option<&'a str>,
}

pub(super) fn parse(raw: Raw<'_>) -> Result<HttpConfig, ConfigError> {
    let access_log = match raw.access_log {
        None | Some("errors") => AccessLog::Errors,
        Some("all") => AccessLog::All,
        Some("off") => AccessLog::Off,
        Some(other) => {
            return Err(ConfigError::new(
                "ACCESS_LOG",
                Some(other),
                "`all`, `errors` or `off`",
            ));
        }
    };
    Ok(HttpConfig {
        header_read_timeout: parse_seconds("HTTP_HEADER_TIMEOUT", raw.header_timeout, 10, 1..=300)?,
        idle_timeout: parse_seconds("HTTP_IDLE_TIMEOUT", raw.idle_timeout, 60, 1..=3600)?,
        max_connections: parse_u32(
            "HTTP_MAX_CONNECTIONS",
            raw.max_connections,
            1024,
            1..=1_000_000,
        )?,
        access_log,
        slow_request: Duration::from_millis(u64::from(parse_u32(
            "ACCESS_LOG_SLOW_MS",
            raw.slow_ms,
            1000,
            1..=3_600_000,
        )?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>() -> Raw<'a> {
        Raw {
            header_timeout: None,
            idle_timeout: None,
            max_connections: None,
            access_log: None,
            slow_ms: None,
        }
    }

    #[test]
    fn defaults_and_errors() {
        let c = parse(raw()).unwrap();
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.max_connections, 1024);
        assert_eq!(c.access_log, AccessLog::Errors);
        assert_eq!(c.slow_request, Duration::from_secs(1));
        let e = parse(Raw {
            access_log: Some("verbose"),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(e.var, "OPENTRUSTY_ACCESS_LOG");
        let e = parse(Raw {
            max_connections: Some("0"),
            ..raw()
        })
        .unwrap_err();
        assert_eq!(e.var, "OPENTRUSTY_HTTP_MAX_CONNECTIONS");
    }
}
