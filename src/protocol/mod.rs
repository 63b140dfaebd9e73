//! OAuth 2.0 / OpenID Connect rules as pure functions: they take `now` and data, and return
//! data or a [`Error`] carrying an RFC error code. No I/O here.

pub mod authorize;
pub mod basic;
pub mod claims;
pub mod discovery;
pub mod endpoints;
pub mod error;
pub mod jose;
pub mod keyring;
pub mod limits;
pub mod pkce;
pub mod refresh;
pub mod secret;
pub mod token;
pub mod totp;

pub use error::{Code, Error};
