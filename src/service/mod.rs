//! Use cases: the only place that opens transactions and combines store and protocol rules.
//! Each returns a [`Error`] that the web and CLI layers render for their surface.

pub mod admin;
pub mod audit;
pub mod authorize;
pub mod client_auth;
pub mod client_cache;
pub mod clients;
pub mod end_session;
pub mod housekeeping;
pub mod introspect;
pub mod kek;
pub mod keys;
pub mod login;
pub mod password;
pub mod ratelimit;
pub mod revoke;
pub mod sessions;
pub mod tenants;
pub mod token;
pub mod userinfo;

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
    /// Too many requests from this client or for this account.
    #[error("too many attempts; try again later")]
    RateLimited { retry_after: Duration },
    /// The password hashing pool is saturated.
    #[error("the server is busy; try again shortly")]
    Busy { retry_after: Duration },
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
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Who or what caused an action, for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `user:<id>`, `cli`, `system` ...
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Context {
    pub fn cli() -> Context {
        Context {
            actor: Some(format!("cli:uid={}", nix::unistd::getuid())),
            ..Context::default()
        }
    }
}
