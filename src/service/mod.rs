//! Use cases: the only place that opens transactions and combines store and protocol rules.
//! Each returns a [`Error`] that the web and CLI layers render for their surface.

pub mod account;
pub mod admin;
pub mod api_tokens;
pub mod audit;
pub mod authorize;
pub mod authz;
pub mod client_auth;
pub mod client_cache;
pub mod clients;
pub mod console;
pub mod end_session;
pub mod factors;
pub mod housekeeping;
pub mod introspect;
pub mod invalidate;
pub mod invite;
pub mod kek;
pub mod keys;
pub mod links;
pub mod login;
pub mod mail;
pub mod manage;
pub mod password;
pub mod ratelimit;
pub mod register;
pub mod reset;
pub mod revoke;
pub mod roles;
pub mod sessions;
pub mod tenants;
pub mod token;
pub mod userinfo;
pub mod verify;

use std::time::Duration;

/// Errors of the service layer. Messages of `Invalid` and `Conflict` are meant for the caller;
/// `Internal` details are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The caller is known and inside its scope, but its role lacks the permission (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests from this client or for this account.
    #[error("too many attempts; try again later")]
    RateLimited { retry_after: Duration },
    /// The password hashing pool is saturated.
    #[error("the server is busy; try again shortly")]
    Busy { retry_after: Duration },
    /// The database is unreachable or cannot serve right now (an outage, not a bug): every
    /// surface answers 503 with `Retry-After` [`OUTAGE_RETRY_AFTER`]. The detail is logged.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    /// The key-encryption key does not fit the database (or cannot be read). Meant for the
    /// operator (start-up and CLI), in full; never shown to HTTP clients.
    #[error("{0}")]
    KeyEncryption(String),
}

impl From<crate::store::Error> for Error {
    fn from(e: crate::store::Error) -> Self {
        match e {
            crate::store::Error::NotFound => Error::NotFound("record"),
            crate::store::Error::Conflict(what) => {
                Error::Conflict(format!("{what} already exists"))
            }
            crate::store::Error::Unavailable(detail) => Error::Unavailable(detail),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a client is told to wait during a database outage (`Retry-After`, RFC 9110 §10.2.3):
/// about the pool's acquire timeout, after which a request would find out again.
pub const OUTAGE_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Error {
    /// Whether this is a database outage ([`Error::Unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

/// Whether any error of the layers below (a store or service error, possibly behind the
/// generic `map_err` helpers of the OAuth use cases) is a database outage.
pub fn is_outage(e: &(dyn std::any::Any + 'static)) -> bool {
    if let Some(e) = e.downcast_ref::<crate::store::Error>() {
        return e.is_unavailable();
    }
    if let Some(e) = e.downcast_ref::<Error>() {
        return e.is_unavailable();
    }
    false
}

/// The one mapping from a failure inside an OAuth use case to its RFC error: an outage is
/// `temporarily_unavailable` (RFC 6749 §4.1.2.1; 503 with `Retry-After` on the JSON
/// endpoints), anything else is logged and becomes the opaque `server_error`.
pub fn protocol_failure<E: std::fmt::Display + 'static>(e: E) -> crate::protocol::Error {
    use crate::protocol::{Code, Error as P};
    if is_outage(&e) {
        tracing::warn!(error = %e, "database unavailable");
        P::new(
            Code::TemporarilyUnavailable,
            "the service is temporarily unavailable; retry later",
        )
    } else {
        tracing::error!(error = %e, "internal error in an OAuth endpoint");
        P::server_error()
    }
}

/// Who or what caused an action, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `user:<id>`, `cli`, `system` ...
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The surface the change came through (`api`, `cli`), recorded in the audit metadata.
    pub via: Option<&'static str>,
}

impl Context {
    pub fn cli() -> Context {
        Context {
            actor: Some(format!("cli:uid={}", nix::unistd::getuid())),
            via: Some("cli"),
            ..Context::default()
        }
    }
}
